"""calibration_node: the calibration wizard through a running servo node.

The servo node owns the hardware and the calibration file; this client switches it to
calibration mode (parameter `calibration_mode`), moves the wheels by publishing
`servo/raw` (re-sent at 10 Hz so the servo node's watchdog stays quiet), reads the
calibration with the `~/get_calibration` service and saves with one atomic set of the
`calibration.*` parameters (the servo node validates, writes the file atomically, applies).

`ros2 run deepracer calibration_node [--servo-node /servo_node]` = `deepracer calibrate`.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from typing import Any

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient
from rclpy.signals import SignalHandlerOptions
from std_msgs.msg import String
from std_srvs.srv import Trigger

from deepracer.control.calibration import Calibration, flat_values
from deepracer.errors import CalibrationError, HardwareError

RESEND_PERIOD_S = 0.1


class CalibrationClient:
    def __init__(self, servo_node: str = "/servo_node", context: Any = None, timeout: float = 10.0) -> None:
        servo_node = "/" + servo_node.strip("/")
        self.servo_node = servo_node
        self.timeout = timeout
        namespace = servo_node.rsplit("/", 1)[0]
        self.node = rclpy.create_node("calibration_client", context=context, namespace=namespace or "/")
        self.raw_pub = self.node.create_publisher(String, "servo/raw", 10)
        self.get_client = self.node.create_client(Trigger, f"{servo_node}/get_calibration")
        self.params = AsyncParameterClient(self.node, servo_node)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self._stop = threading.Event()
        self._pulses: tuple[float, float] | None = None
        self._lock = threading.Lock()
        self._spin_thread = threading.Thread(target=self._spin, daemon=True)
        self._spin_thread.start()
        if not self.get_client.wait_for_service(timeout_sec=timeout):
            self.close()
            raise HardwareError(f"no servo node at {servo_node} (is the car's graph running?)")

    def _spin(self) -> None:
        last = 0.0
        while not self._stop.is_set():
            self.executor.spin_once(timeout_sec=0.02)
            now = time.monotonic()
            if now - last >= RESEND_PERIOD_S:
                last = now
                self._send()

    def _send(self) -> None:
        with self._lock:
            pulses = self._pulses
        if pulses is not None:
            self.raw_pub.publish(String(data=json.dumps({"throttle_us": pulses[0], "steering_us": pulses[1]})))

    def _wait(self, future, what: str):
        deadline = time.monotonic() + self.timeout
        while not future.done():
            if time.monotonic() > deadline:
                raise HardwareError(f"{self.servo_node}: no answer to {what}")
            time.sleep(0.005)
        return future.result()

    def get(self) -> dict:
        """The servo node's calibration report (file, calibration, throttle_locked, problem)."""
        response = self._wait(self.get_client.call_async(Trigger.Request()), "get_calibration")
        return json.loads(response.message)

    def set_mode(self, on: bool) -> None:
        if not on:
            with self._lock:
                self._pulses = None
        result = self._wait(self.params.set_parameters([Parameter("calibration_mode", value=on)]), "calibration_mode")
        if not result.results[0].successful:
            raise HardwareError(f"{self.servo_node}: calibration mode refused: {result.results[0].reason}")

    def show(self, throttle_us: float, steering_us: float) -> None:
        """PulseSink: move the wheels now (and keep re-sending)."""
        with self._lock:
            self._pulses = (throttle_us, steering_us)
        self._send()

    def save(self, cal: Calibration) -> None:
        params = [Parameter(f"calibration.{k}", value=float(v)) for k, v in flat_values(cal).items()]
        result = self._wait(self.params.set_parameters_atomically(params), "set calibration")
        if not result.result.successful:
            raise CalibrationError(f"{self.servo_node} refused the calibration: {result.result.reason}")

    def close(self) -> None:
        self._stop.set()
        self._spin_thread.join(timeout=2)
        self.executor.shutdown()
        self.node.destroy_node()


def run_wizard(client: CalibrationClient, keys, out=sys.stdout) -> Calibration | None:
    """The wizard against the servo node; returns the saved calibration, None if the user quit."""
    from deepracer.control.calibration_wizard import CalibrationWizard, Quit

    report = client.get()
    out.write(f"calibrating through {client.servo_node} (file {report['file']})\n")
    start = Calibration.from_dict(report["calibration"])
    client.set_mode(True)
    try:
        cal = CalibrationWizard(start, client, keys, out).run()
        client.save(cal)
        out.write(f"saved to {report['file']}\n")
        return cal
    except Quit:
        out.write("quit: nothing saved\n")
        return None
    finally:
        client.set_mode(False)


def main(args: list[str] | None = None) -> None:
    from deepracer.control.calibration_wizard import read_keys

    ros_args = rclpy.utilities.remove_ros_args(args if args is not None else sys.argv)[1:]
    parser = argparse.ArgumentParser(prog="calibration_node", description=__doc__.splitlines()[0])
    parser.add_argument("--servo-node", default="/servo_node", help="full name of the servo node")
    opts = parser.parse_args(ros_args)
    # Ctrl-C must stay a KeyboardInterrupt with ROS still up, so calibration mode is switched off.
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    client = None
    try:
        client = CalibrationClient(opts.servo_node)
        saved = run_wizard(client, read_keys(sys.stdin))
        code = 0 if saved else 1
    except (CalibrationError, HardwareError) as err:
        print(f"calibration_node: error: {err}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        code = 130
    finally:
        if client is not None:
            client.close()
        rclpy.try_shutdown()
    raise SystemExit(code)


if __name__ == "__main__":
    main()

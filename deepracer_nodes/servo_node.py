"""servo_node: `cmd_vel` -> steering and throttle pulses on a PWM backend, fail-safe.

Subscribes `cmd_vel` (geometry_msgs/Twist) and `servo/raw` (std_msgs/String JSON
`{"throttle_us", "steering_us"}`, honoured only while parameter `calibration_mode` is true);
publishes what it wrote on `servo/pulses` (std_msgs/String JSON `{"throttle_us",
"steering_us", "reason", "written_at"}` = deepracer.messages.ServoPulses, reason a PulseReason).

Safety: neutral throttle and centred steering at start (held `arm_seconds` when `arm_esc`),
when the input goes stale (own watchdog on the steady clock, `command_timeout`), on
SIGINT/SIGTERM, at exit and in destroy_node(). An I2C/serial/sysfs fault that survives the
backend's retries is logged, published (reason fault) and stops the node (main exits 1, so
systemd restarts it). Calibration: services `~/get_calibration` and `~/reload_calibration`
(std_srvs/Trigger, JSON in the message) and parameters `calibration.<section>.<key>` that,
when set, are validated as a whole, saved atomically to `calibration_file` and applied.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from geometry_msgs.msg import Twist
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.task import Future
from std_msgs.msg import String
from std_srvs.srv import Trigger

from deepracer.control import calibration as calib
from deepracer.control.kinematics import WHEELBASE_M
from deepracer.control.servo_mapping import Pulses, ServoMapping
from deepracer.errors import CalibrationError, DeepRacerError, HardwareError
from deepracer.hardware.pwm import open_backend
from deepracer.hardware.pwm.output import ServoOutput
from deepracer.messages import PulseReason, ServoPulses
from deepracer.node_params import ServoNodeParams
from deepracer_nodes.executors import spin_node
from deepracer_nodes.params import declare

CAL_PREFIX = "calibration."


class ServoNode(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("servo_node", **kwargs)
        loose = ParameterDescriptor(dynamic_typing=True)
        params = declare(self, ServoNodeParams)  # names and defaults: deepracer.node_params
        cal_file = params.calibration_file or str(calib.default_path())
        self.command_timeout = params.command_timeout
        throttle_channel, steering_channel = params.throttle_channel, params.steering_channel
        options = params.backend_options()
        arm_esc, arm_seconds = params.arm_esc, params.arm_seconds
        self.calibration_mode = params.calibration_mode

        self.calibration_file = cal_file
        self.loaded = calib.load_for_driving(cal_file)
        if self.loaded.problem:
            self.get_logger().error(self.loaded.problem)
        for key, value in calib.flat_values(self.loaded.calibration).items():
            # The file is the source of truth: launch-file overrides of these are ignored.
            self.declare_parameter(CAL_PREFIX + key, float(value), loose, ignore_override=True)

        self._lock = threading.RLock()
        self.failed: Future = Future()  # done (with the error) after a hardware fault
        self.closed = False
        self.options = options
        self.pulses_pub = self.create_publisher(String, "servo/pulses", 10)
        # the wheelbase that decodes cmd_vel is the one every encoder used (one source: kinematics)
        mapping = ServoMapping(self.loaded.calibration, WHEELBASE_M, self.loaded.throttle_locked)
        channels = [throttle_channel, steering_channel]
        self.output = ServoOutput(open_backend(options, self.loaded.calibration.frequency_hz, channels), mapping,
                                  throttle_channel, steering_channel)
        atexit.register(self._stop_outputs)
        self._steady = Clock(clock_type=ClockType.STEADY_TIME)
        self._armed_at = time.monotonic() + (arm_seconds if arm_esc else 0.0)
        self._last_input: float | None = None  # monotonic time of the last honoured cmd_vel/raw
        self._raw = Pulses(mapping.calibration.throttle.neutral_us, mapping.calibration.steering.center_us)
        self._write(mapping.neutral(), PulseReason.START)

        # validate in on-set (may refuse), act in post-set (the change is accepted by then)
        self.add_on_set_parameters_callback(self._validate_parameters)
        self.add_post_set_parameters_callback(self._apply_parameters)
        self.create_subscription(Twist, "cmd_vel", self._on_cmd_vel, 10)
        self.create_subscription(String, "servo/raw", self._on_raw, 10)
        self.create_service(Trigger, "~/get_calibration", self._on_get_calibration)
        self.create_service(Trigger, "~/reload_calibration", self._on_reload_calibration)
        period = max(0.01, min(0.05, self.command_timeout / 4))
        self._watchdog = self.create_timer(period, self._on_watchdog, clock=self._steady)
        self.get_logger().info(
            f"backend {self.output.backend.name}, calibration {self.loaded.source or 'safe default (throttle locked)'}, "
            f"command_timeout {self.command_timeout} s" + (f", arming ESC for {arm_seconds} s" if arm_esc else "")
        )

    # ------------------------------------------------------------ writing

    def _write(self, pulses: Pulses, reason: PulseReason, raw: bool = False, received_at: float = 0.0) -> Pulses | None:
        with self._lock:
            if self.closed or self.failed.done():
                return None
            try:
                written = self.output.write(pulses, raw=raw)
            except HardwareError as err:
                self._fault(err)
                return None
            self._publish(written, reason, received_at=received_at)
            return written

    def _publish(self, written: Pulses, reason: PulseReason, error: str = "", received_at: float = 0.0) -> None:
        msg = String(data=ServoPulses(throttle_us=written.throttle_us, steering_us=written.steering_us, reason=reason,
                                      written_at=time.time(), error=error, received_at=received_at).to_json())
        try:
            self.pulses_pub.publish(msg)
        except Exception:  # context already shut down (exit path): the hardware write is what counts
            pass

    def _fault(self, err: HardwareError) -> None:
        self.get_logger().fatal(f"PWM output failed, stopping: {err}")
        self._publish(self.output.last or self.output.mapping.neutral(), PulseReason.FAULT, str(err))
        try:
            self.output.neutral()  # may well fail too; worth one try
        except DeepRacerError:
            pass
        self._watchdog.cancel()
        self.failed.set_result(err)

    def _stop_outputs(self) -> None:
        """Neutral and centred, then release the device. Idempotent; also runs at interpreter exit."""
        with self._lock:
            if self.closed:
                return
            if not self.failed.done():
                try:
                    self._publish(self.output.neutral(), PulseReason.EXIT)
                except DeepRacerError as err:
                    self.get_logger().error(f"could not write neutral at exit: {err}")
            self.closed = True
            self.output.close()

    def destroy_node(self) -> None:
        self._stop_outputs()
        atexit.unregister(self._stop_outputs)
        super().destroy_node()

    # ------------------------------------------------------------ inputs

    def _arming(self) -> bool:
        return time.monotonic() < self._armed_at

    def _on_cmd_vel(self, msg: Twist) -> None:
        received_at = time.time()
        if self.calibration_mode or self._arming():
            return
        with self._lock:
            self._last_input = time.monotonic()
            self._write(self.output.mapping.for_twist(msg.linear.x, msg.angular.z), PulseReason.COMMAND,
                        received_at=received_at)

    def _on_raw(self, msg: String) -> None:
        if not self.calibration_mode:
            self.get_logger().warning("servo/raw ignored: not in calibration mode", throttle_duration_sec=5.0)
            return
        try:
            data = json.loads(msg.data)
            throttle = float(data.get("throttle_us", self._raw.throttle_us))
            steering = float(data.get("steering_us", self._raw.steering_us))
        except (ValueError, TypeError, AttributeError) as err:
            self.get_logger().warning(f"servo/raw: bad message {msg.data!r}: {err}")
            return
        with self._lock:
            self._last_input = time.monotonic()
            written = self._write(Pulses(throttle, steering), PulseReason.CALIBRATION, raw=True)
            if written:
                self._raw = written

    def _on_watchdog(self) -> None:
        with self._lock:
            if self._last_input is None or time.monotonic() - self._last_input <= self.command_timeout:
                return
            self._last_input = None  # one neutral per stale episode
            if self.calibration_mode:  # keep the wheels where the wizard left them, stop the motor
                neutral = self.output.mapping.calibration.throttle.neutral_us
                self._raw = Pulses(neutral, self._raw.steering_us)
                self._write(self._raw, PulseReason.STALE, raw=True)
            else:
                self._write(self.output.mapping.neutral(), PulseReason.STALE)
            self.get_logger().warning(f"no input for {self.command_timeout} s: neutral")

    # ------------------------------------------------------------ calibration

    def calibration_report(self) -> dict[str, Any]:
        return {
            "file": self.calibration_file,
            "source": str(self.loaded.source) if self.loaded.source else None,
            "throttle_locked": self.output.mapping.throttle_locked,
            "problem": self.loaded.problem,
            "calibration_mode": self.calibration_mode,
            "calibration": self.output.mapping.calibration.to_dict(),
        }

    def _on_get_calibration(self, request, response: Trigger.Response) -> Trigger.Response:
        response.success = True
        response.message = json.dumps(self.calibration_report())
        return response

    def _on_reload_calibration(self, request, response: Trigger.Response) -> Trigger.Response:
        loaded = calib.load_for_driving(self.calibration_file)
        with self._lock:
            self._apply(loaded)
        response.success = loaded.problem is None
        response.message = loaded.problem or f"loaded {loaded.source}"
        self._sync_parameters()
        return response

    def _sync_parameters(self) -> None:
        """Show the calibration in use as parameters (the post-set callback sees no change to save)."""
        self.set_parameters([Parameter(CAL_PREFIX + k, value=float(v))
                             for k, v in calib.flat_values(self.output.mapping.calibration).items()])

    def _apply(self, loaded: calib.LoadedCalibration) -> None:
        old = self.output.mapping.calibration
        self.loaded = loaded
        mapping = self.output.mapping
        mapping.calibration, mapping.throttle_locked = loaded.calibration, loaded.throttle_locked
        if loaded.calibration.frequency_hz != old.frequency_hz:
            channels = list(self.output.channels.values())
            self.output.backend.close()
            try:
                self.output.backend = open_backend(self.options, loaded.calibration.frequency_hz, channels)
            except HardwareError as err:  # the old backend is closed: stop as on any PWM fault
                self._fault(err)
                return
        self._last_input = None
        self._write(mapping.neutral(), PulseReason.CALIBRATION)

    @staticmethod
    def _calibration_changes(params: list[Parameter]) -> dict[str, Any]:
        return {p.name[len(CAL_PREFIX):]: p.value for p in params if p.name.startswith(CAL_PREFIX)}

    def _validate_parameters(self, params: list[Parameter]) -> SetParametersResult:
        """On-set: refuse what cannot be applied; changes nothing."""
        names = [p.name for p in params if p.name != "calibration_mode" and not p.name.startswith(CAL_PREFIX)]
        if names:
            return SetParametersResult(successful=False, reason=f"{', '.join(names)}: set at start only")
        changes = self._calibration_changes(params)
        if not changes:
            return SetParametersResult(successful=True)
        with self._lock:
            current = self.output.mapping.calibration
            try:
                trial = current.with_values(changes, self.calibration_file)
            except CalibrationError as err:
                return SetParametersResult(successful=False, reason=str(err))
            if trial == current:  # showing the calibration in use (_sync_parameters): nothing to save
                return SetParametersResult(successful=True)
            if self.output.mapping.throttle_locked and set(calib.flat_keys(current)) - set(changes):
                # Never turn the safe default into a saved calibration by a partial change.
                return SetParametersResult(successful=False, reason=(
                    f"{self.calibration_file} is not calibrated: set all calibration.* parameters "
                    "at once (atomically) or run `deepracer calibrate`"))
        folder = Path(self.calibration_file).parent
        if not (folder.is_dir() and os.access(folder, os.W_OK)):
            return SetParametersResult(successful=False, reason=f"{folder}: cannot write the calibration there")
        return SetParametersResult(successful=True)

    def _apply_parameters(self, params: list[Parameter]) -> None:
        """Post-set: the change was accepted; save and apply it."""
        changes = self._calibration_changes(params)
        mode = next((p.value for p in params if p.name == "calibration_mode"), None)
        with self._lock:
            current = self.output.mapping.calibration
            trial = current.with_values(changes, self.calibration_file) if changes else current
            if trial != current:
                try:
                    calib.save(trial, self.calibration_file)
                except (CalibrationError, OSError) as err:  # validated as writable, but the disk may still say no
                    self.get_logger().error(f"calibration not saved, keeping the one in use: {err}")
                else:
                    self.get_logger().info(f"calibration saved to {self.calibration_file}")
                    self._apply(calib.LoadedCalibration(trial, Path(self.calibration_file), False, None))
            if mode is not None and bool(mode) != self.calibration_mode:
                self.calibration_mode = bool(mode)
                self._last_input = None
                self._write(self.output.mapping.neutral(), PulseReason.CALIBRATION)
                self.get_logger().info(f"calibration mode {'on' if mode else 'off'}")


def main(args: list[str] | None = None) -> None:
    """SIGINT and SIGTERM (any number of them) end in destroy_node(), which writes neutral once."""
    spin_node(ServoNode, args)


if __name__ == "__main__":
    main()

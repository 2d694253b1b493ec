"""The wizard through ROS: a CalibrationClient drives a running ServoNode (emulated PCA9685)."""

from __future__ import annotations

import io
import itertools
import os
import threading
import time

import pytest

rclpy = pytest.importorskip("rclpy")
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

from deepracer.control.calibration import Calibration, load, save  # noqa: E402
from deepracer.control.calibration_wizard import read_keys  # noqa: E402
from deepracer.errors import HardwareError  # noqa: E402
from deepracer.hardware.emulated.pca9685 import emulated_pca9685  # noqa: E402
from deepracer_nodes.calibration_node import CalibrationClient, run_wizard  # noqa: E402
from deepracer_nodes.servo_node import ServoNode  # noqa: E402

pytestmark = pytest.mark.ros
_n = itertools.count()
SCRIPT = "++\n-----\n+\n25\n[[\nn--\n\x1b[C\n2.5\ny"


def paced(keys, seconds: float = 0.03):
    """Keys at a (fast) human pace: servo/raw keeps the latest pulses, a burst may be coalesced."""
    for key in keys:
        time.sleep(seconds)
        yield key


@pytest.fixture
def servo(ros_context, tmp_path):
    n = next(_n)
    bus = 5000 + n
    cal_file = save(Calibration(), tmp_path / "calibration.yaml")
    ns = f"/t_calib_{os.getpid()}_{n}"
    node = ServoNode(context=ros_context, namespace=ns, parameter_overrides=[
        Parameter("backend", value="emulated"), Parameter("i2c_bus", value=bus),
        Parameter("calibration_file", value=str(cal_file)), Parameter("command_timeout", value=0.5)])
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    stop = threading.Event()
    thread = threading.Thread(target=lambda: [executor.spin_once(timeout_sec=0.02) for _ in iter(stop.is_set, True)])
    thread.start()
    yield node, emulated_pca9685(bus), cal_file, ns
    stop.set()
    thread.join(timeout=5)
    executor.shutdown()
    node.destroy_node()


def test_wizard_through_the_servo_node(servo, ros_context):
    node, chip, cal_file, ns = servo
    client = CalibrationClient(f"{ns}/servo_node", context=ros_context)
    try:
        out = io.StringIO()
        cal = run_wizard(client, paced(read_keys(io.StringIO(SCRIPT))), out)
    finally:
        client.close()
    saved = load(cal_file)
    assert saved == cal
    assert (saved.steering.left_us, saved.throttle.forward_us, saved.throttle.top_speed_mps) == (1850, 1378, 2.5)
    assert not node.calibration_mode
    # the wheels moved live through servo/raw: the servo node wrote the direction probe to the chip
    assert any(w.channel == 0 and abs(w.pulse_us - 1578) < 5 for w in chip.writes)
    assert any(w.channel == 1 and abs(w.pulse_us - 1850) < 5 for w in chip.writes)
    # and it now drives with the new calibration, at its neutral
    assert abs(chip.pulse_us(0) - 1498) < 5 and abs(chip.pulse_us(1) - 1520) < 5
    assert node.output.mapping.calibration == saved
    assert str(cal_file) in out.getvalue()


def test_quitting_leaves_file_and_mode(servo, ros_context):
    node, chip, cal_file, ns = servo
    before = cal_file.read_bytes()
    client = CalibrationClient(f"{ns}/servo_node", context=ros_context)
    try:
        assert run_wizard(client, read_keys(io.StringIO("+++\nq")), io.StringIO()) is None
    finally:
        client.close()
    assert cal_file.read_bytes() == before
    assert not node.calibration_mode
    assert abs(chip.pulse_us(0) - 1500) < 5


def test_no_servo_node_is_a_clear_error(ros_context):
    with pytest.raises(HardwareError, match="no servo node at /nowhere/servo_node"):
        CalibrationClient("/nowhere/servo_node", context=ros_context, timeout=0.5)


def test_ctrl_c_switches_calibration_mode_off(servo, ros_context):
    node, chip, cal_file, ns = servo

    def interrupted():
        yield from "+++"
        raise KeyboardInterrupt

    client = CalibrationClient(f"{ns}/servo_node", context=ros_context)
    try:
        with pytest.raises(KeyboardInterrupt):
            run_wizard(client, paced(interrupted()), io.StringIO())
    finally:
        client.close()
    assert not node.calibration_mode
    assert abs(chip.pulse_us(0) - 1500) < 5 and abs(chip.pulse_us(1) - 1500) < 5

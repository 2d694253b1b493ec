"""A real servo_node process on an emulated sysfs PWM tree: SIGINT/SIGTERM leave neutral; after
SIGKILL, systemd's ExecStopPost command (`deepracer servo neutral`) does."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time

import pytest

rclpy = pytest.importorskip("rclpy")
from geometry_msgs.msg import Twist  # noqa: E402

from deepracer.control.calibration import Calibration, Steering, Throttle, save  # noqa: E402
from deepracer.hardware.emulated.sysfs import EmulatedSysfsPwm  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.integration]  # real node graphs or processes
_n = itertools.count()
CAL = Calibration(50, Steering(1900, 1500, 1100, 30), Throttle(1300, 1500, 1700, 2.0))


@pytest.fixture
def car(tmp_path, ros_context):
    """An emulated sysfs tree, a calibration file, a servo_node process and a cmd_vel publisher."""
    tree = EmulatedSysfsPwm(tmp_path / "sys" / "class" / "pwm", {0: 2}).start()
    cal = tmp_path / "calibration.yaml"
    save(CAL, cal)
    ns = f"/t_servo_proc_{os.getpid()}_{next(_n)}"
    cmd = [sys.executable, "-m", "deepracer_nodes.servo_node", "--ros-args", "-r", f"__ns:={ns}",
           "-p", "backend:=sysfs", "-p", f"sysfs_root:={tree.root}", "-p", f"calibration_file:={cal}",
           "-p", "command_timeout:=10.0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    node = rclpy.create_node("driver", context=ros_context, namespace=ns)
    pub = node.create_publisher(Twist, "cmd_vel", 10)
    yield tree, cal, proc, node, pub
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)
    node.destroy_node()
    tree.stop()


def drive_forward(tree, proc, node, pub):
    assert tree.wait_for(lambda t: t.pulse_us(0) == 1500 and t.pulse_us(1) == 1500, timeout=20), _output(proc)
    msg = Twist()
    msg.linear.x = 1.0
    deadline = time.monotonic() + 20
    while tree.pulse_us(0) != 1600 and time.monotonic() < deadline:
        pub.publish(msg)
        time.sleep(0.05)
    assert tree.pulse_us(0) == 1600, _output(proc)


def _output(proc) -> str:
    if proc.poll() is None:
        return "(servo_node still running)"
    return proc.stdout.read()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_leaves_neutral(car, sig):
    tree, _, proc, node, pub = car
    drive_forward(tree, proc, node, pub)
    proc.send_signal(sig)
    assert proc.wait(timeout=10) == 0, _output(proc)
    assert tree.pulse_us(0) == 1500 and tree.pulse_us(1) == 1500
    assert tree.errors == []


def test_sigkill_then_exec_stop_post_leaves_neutral(car):
    tree, cal, proc, node, pub = car
    drive_forward(tree, proc, node, pub)
    proc.kill()
    proc.wait(timeout=10)
    assert tree.pulse_us(0) == 1600  # a killed node cannot clean up...
    result = subprocess.run(
        [sys.executable, "-m", "deepracer.cli", "servo", "neutral", "--backend", "sysfs",
         "--sysfs-root", str(tree.root), "--calibration", str(cal)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert tree.pulse_us(0) == 1500 and tree.pulse_us(1) == 1500  # ...ExecStopPost does
    assert tree.state(0).period_ns == 20_000_000
    assert tree.errors == []

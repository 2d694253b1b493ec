"""servo_node with real rclpy against the emulated PCA9685: mapping, safety paths, calibration."""

from __future__ import annotations

import itertools
import json
import math
import time

import pytest

rclpy = pytest.importorskip("rclpy")
import ros_rig  # noqa: E402
from geometry_msgs.msg import Twist  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from std_msgs.msg import String  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from deepracer.control.calibration import Calibration, Steering, Throttle, load, save  # noqa: E402
from deepracer.hardware.emulated.pca9685 import emulated_pca9685  # noqa: E402
from deepracer_nodes.servo_node import ServoNode  # noqa: E402

pytestmark = pytest.mark.ros
_n = itertools.count()
CAL = Calibration(50, Steering(1900, 1500, 1100, 30), Throttle(1700, 1500, 1300, 2.0))  # reversed ESC
COUNT_US = 5.0  # one PCA9685 count at 50 Hz is 4.9 µs


def twist(x: float, z: float) -> Twist:
    msg = Twist()
    msg.linear.x, msg.angular.z = x, z
    return msg


class Rig(ros_rig.Rig):
    def __init__(self, ctx, tmp_path, calibration: Calibration | str | None = CAL, **params):
        n = next(_n)
        self.bus = 1000 + n  # a fresh emulated chip per test
        self.chip = emulated_pca9685(self.bus)
        self.cal_file = tmp_path / "calibration.yaml"
        if isinstance(calibration, Calibration):
            save(calibration, self.cal_file)
        elif isinstance(calibration, str):
            self.cal_file.write_text(calibration)
        overrides = {"backend": "emulated", "i2c_bus": self.bus, "calibration_file": str(self.cal_file),
                     "command_timeout": 0.3} | params
        super().__init__(ctx, ServoNode, f"/t_servo_{n}", overrides)
        self.pulses: list[dict] = []
        self.probe.create_subscription(String, "servo/pulses", lambda m: self.pulses.append(json.loads(m.data)), 50)
        self.cmd = self.probe.create_publisher(Twist, "cmd_vel", 10)
        self.raw = self.probe.create_publisher(String, "servo/raw", 10)
        assert self.spin_until(lambda: self.cmd.get_subscription_count() > 0 and self.node.pulses_pub.get_subscription_count() > 0)

    def device(self) -> tuple[float | None, float | None]:
        return self.chip.pulse_us(0), self.chip.pulse_us(1)  # throttle, steering

    def send(self, x: float, z: float) -> dict:
        n = len(self.pulses)
        self.cmd.publish(twist(x, z))
        assert self.spin_until(lambda: any(p["reason"] == "command" for p in self.pulses[n:]))
        return [p for p in self.pulses[n:] if p["reason"] == "command"][-1]

    def close(self):  # the probe first; a test may have destroyed the node already
        self.executor.shutdown()
        self.probe.destroy_node()
        if not self.node.closed:
            self.node.destroy_node()


@pytest.fixture
def rig_factory(ros_context, tmp_path):
    yield from ros_rig.make_rigs(Rig, ros_context, tmp_path)


def test_neutral_at_start_then_commands_map_through_the_calibration(rig_factory):
    rig = rig_factory()
    assert rig.chip.prescale == 121
    assert rig.device() == pytest.approx((1500, 1500), abs=COUNT_US)
    # 1 m/s, 15° left: half of top speed on a reversed ESC, half of full left
    out = rig.send(1.0, 1.0 * math.tan(math.radians(15)) / 0.164)
    assert out["throttle_us"] == pytest.approx(1400) and out["steering_us"] == pytest.approx(1700)
    assert rig.device() == pytest.approx((1400, 1700), abs=COUNT_US)
    assert out["written_at"] == pytest.approx(time.time(), abs=5)
    # beyond the calibration: clamped, nothing outside the range reaches the chip
    out = rig.send(9.0, -9.0 * math.tan(math.radians(60)) / 0.164)
    assert (out["throttle_us"], out["steering_us"]) == (1300, 1100)
    assert all(1300 - COUNT_US <= w.pulse_us <= 1700 + COUNT_US for w in rig.chip.writes if w.channel == 0)
    assert all(1100 - COUNT_US <= w.pulse_us <= 1900 + COUNT_US for w in rig.chip.writes if w.channel == 1)


def test_zero_speed_keeps_the_steering_and_writes_neutral_throttle(rig_factory):
    rig = rig_factory()
    rig.send(1.0, 1.0 * math.tan(math.radians(-30)) / 0.164)
    out = rig.send(0.0, 0.0)
    assert (out["throttle_us"], out["steering_us"]) == (1500, pytest.approx(1100))


def test_stale_cmd_vel_gives_neutral(rig_factory):
    rig = rig_factory(command_timeout=0.2)
    rig.send(2.0, 0.5)
    assert rig.spin_until(lambda: any(p["reason"] == "stale" for p in rig.pulses), timeout=3)
    stale = [p for p in rig.pulses if p["reason"] == "stale"][0]
    assert (stale["throttle_us"], stale["steering_us"]) == (1500, 1500)
    assert rig.device() == pytest.approx((1500, 1500), abs=COUNT_US)


def test_destroying_the_node_writes_neutral(rig_factory):
    rig = rig_factory()
    rig.send(1.5, 2.0)
    assert rig.device()[0] == pytest.approx(1350, abs=COUNT_US)
    rig.node.destroy_node()
    assert rig.device() == pytest.approx((1500, 1500), abs=COUNT_US)


@pytest.mark.parametrize("content", ["throttle: [1500", None])
def test_corrupt_or_missing_calibration_locks_the_throttle(rig_factory, content):
    rig = rig_factory(calibration=content)
    out = rig.send(2.0, 2.0 * math.tan(math.radians(30)) / 0.164)
    assert out["throttle_us"] == 1500  # locked at neutral
    assert out["steering_us"] > 1500  # steering uses the safe default (left)
    assert rig.device()[0] == pytest.approx(1500, abs=COUNT_US)
    report = rig.node.calibration_report()
    assert report["throttle_locked"] and str(rig.cal_file) in report["problem"]


def test_raw_pulses_only_in_calibration_mode(rig_factory):
    rig = rig_factory(command_timeout=5.0)
    rig.raw.publish(String(data=json.dumps({"throttle_us": 1800, "steering_us": 1000})))
    rig.spin_until(lambda: False, timeout=0.3)
    assert rig.device() == pytest.approx((1500, 1500), abs=COUNT_US)  # ignored
    assert rig.node.set_parameters([Parameter("calibration_mode", value=True)])[0].successful
    n = len(rig.pulses)
    rig.raw.publish(String(data=json.dumps({"throttle_us": 1800, "steering_us": 3000})))
    assert rig.spin_until(lambda: any(p["reason"] == "calibration" and p["throttle_us"] == 1800 for p in rig.pulses[n:]))
    # outside the (unknown yet) calibration is allowed, outside 500-2500 µs is not
    assert rig.device() == pytest.approx((1800, 2500), abs=COUNT_US)
    rig.cmd.publish(twist(1.0, 0.0))  # cmd_vel is ignored while calibrating
    rig.spin_until(lambda: False, timeout=0.2)
    assert rig.device()[0] == pytest.approx(1800, abs=COUNT_US)
    assert rig.node.set_parameters([Parameter("calibration_mode", value=False)])[0].successful
    assert rig.device() == pytest.approx((1500, 1500), abs=COUNT_US)


def test_nan_commands_never_reach_the_chip_as_full_pulses(rig_factory):
    rig = rig_factory(command_timeout=5.0)
    out = rig.send(float("nan"), 0.0)
    assert (out["throttle_us"], out["steering_us"]) == (1500, 1500)
    assert rig.device() == pytest.approx((1500, 1500), abs=COUNT_US)
    assert rig.node.set_parameters([Parameter("calibration_mode", value=True)])[0].successful
    n = len(rig.pulses)
    rig.raw.publish(String(data='{"throttle_us": NaN, "steering_us": NaN}'))  # json.loads accepts NaN
    assert rig.spin_until(lambda: any(p["reason"] == "calibration" for p in rig.pulses[n:]))
    assert rig.device() == pytest.approx((1500, 1500), abs=COUNT_US)


def test_raw_pulses_go_stale_to_neutral_throttle(rig_factory):
    rig = rig_factory(command_timeout=0.2, calibration_mode=True)
    rig.raw.publish(String(data=json.dumps({"throttle_us": 1650, "steering_us": 1250})))
    assert rig.spin_until(lambda: any(p["reason"] == "stale" for p in rig.pulses), timeout=3)
    assert rig.device() == pytest.approx((1500, 1250), abs=COUNT_US)


def test_calibration_parameters_are_validated_saved_and_applied(rig_factory):
    rig = rig_factory()
    before = rig.cal_file.read_bytes()
    bad = rig.node.set_parameters([Parameter("calibration.throttle.forward_us", value=1800.0)])[0]
    assert not bad.successful and "opposite sides" in bad.reason
    assert rig.cal_file.read_bytes() == before
    ok = rig.node.set_parameters([Parameter("calibration.throttle.neutral_us", value=1460)])[0]
    assert ok.successful
    assert load(rig.cal_file).throttle.neutral_us == 1460
    assert rig.device()[0] == pytest.approx(1460, abs=COUNT_US)
    client = rig.probe.create_client(Trigger, f"{rig.ns}/servo_node/get_calibration")
    assert client.wait_for_service(timeout_sec=5)
    future = client.call_async(Trigger.Request())
    assert rig.spin_until(future.done)
    report = json.loads(future.result().message)
    assert report["calibration"]["throttle"]["neutral_us"] == 1460 and not report["throttle_locked"]


def test_uncalibrated_car_refuses_a_partial_calibration(rig_factory):
    rig = rig_factory(calibration=None)
    result = rig.node.set_parameters([Parameter("calibration.steering.center_us", value=1510.0)])[0]
    assert not result.successful and "not calibrated" in result.reason
    assert not rig.cal_file.exists()


def test_i2c_fault_is_reported_and_stops_the_node(rig_factory):
    rig = rig_factory()
    rig.chip.fail_next = 1000
    rig.cmd.publish(twist(1.0, 0.0))
    assert rig.spin_until(lambda: any(p["reason"] == "fault" for p in rig.pulses))
    assert rig.node.failed.done()
    assert "failed 3 times" in [p for p in rig.pulses if p["reason"] == "fault"][0]["error"]
    rig.chip.fail_next = 0
    writes = len(rig.chip.writes)
    rig.cmd.publish(twist(1.0, 0.0))
    rig.spin_until(lambda: False, timeout=0.2)
    assert len(rig.chip.writes) == writes  # stopped: no further writes


def test_esc_arming_holds_neutral(rig_factory):
    rig = rig_factory(arm_esc=True, arm_seconds=0.5)
    rig.cmd.publish(twist(1.0, 0.0))
    rig.spin_until(lambda: False, timeout=0.1)
    assert rig.device()[0] == pytest.approx(1500, abs=COUNT_US)
    rig.spin_until(lambda: False, timeout=0.5)
    assert rig.send(1.0, 0.0)["throttle_us"] == pytest.approx(1400)


def test_a_failed_reopen_after_a_frequency_change_is_a_fault(rig_factory):
    rig = rig_factory()
    rig.chip.fail_next = 1000  # the chip stops answering while the PWM frequency changes
    rig.node.set_parameters([Parameter("calibration.frequency_hz", value=60.0)])
    assert rig.spin_until(lambda: any(p["reason"] == "fault" for p in rig.pulses))
    assert rig.node.failed.done()

"""The drive-mode / watchdog state machine: every safety path, with exact (passed-in) time."""

from __future__ import annotations

import math

import pytest

from deepracer.control.drive_modes import DriveModes, Mode, Reason, parse_mode
from deepracer.control.kinematics import action_to_twist, twist_to_action


def test_boots_stopped_and_ignores_every_source():
    dm = DriveModes()
    assert dm.mode is Mode.STOPPED
    assert dm.command("teleop", 1.0, 0.5, now=0.0) is None
    assert dm.command("policy", 1.0, 0.5, now=0.0) is None
    out = dm.output(0.01)
    assert (out.linear_x, out.angular_z, out.reason) == (0.0, 0.0, Reason.STOPPED)
    assert out.forced_zero


def test_manual_follows_teleop_only():
    dm = DriveModes(mode="manual")
    out = dm.command("teleop", 0.5, 1.0, now=10.0)
    assert (out.linear_x, out.angular_z, out.reason) == (0.5, 1.0, Reason.COMMAND)
    assert dm.command("policy", 2.0, 0.0, now=10.05) is None
    assert dm.output(10.1).linear_x == 0.5


def test_autonomous_follows_policy_only():
    dm = DriveModes(mode="autonomous")
    assert dm.command("teleop", 0.5, 1.0, now=1.0) is None
    out = dm.command("policy", 1.5, -2.0, now=1.0)
    assert (out.linear_x, out.angular_z) == (1.5, -2.0)


def test_stale_command_becomes_zero_exactly_at_timeout():
    dm = DriveModes(mode="manual", command_timeout=0.25)
    dm.command("teleop", 1.0, 0.0, now=5.0)
    assert dm.output(5.249).reason is Reason.COMMAND
    out = dm.output(5.25)
    assert (out.linear_x, out.reason) == (0.0, Reason.STALE)
    dm.command("teleop", 0.7, 0.0, now=6.0)  # a fresh command drives again
    assert dm.output(6.1).linear_x == 0.7


def test_active_mode_without_any_command_is_zero():
    assert DriveModes(mode="autonomous").output(0.0).reason is Reason.STALE


def test_command_from_the_future_counts_as_stale():
    dm = DriveModes(mode="manual")
    dm.command("teleop", 1.0, 0.0, now=100.0)  # e.g. sim time reset below the last stamp
    assert dm.output(1.0).reason is Reason.STALE


def test_estop_latches_until_released_and_mode_set_again():
    dm = DriveModes(mode="autonomous")
    dm.command("policy", 1.0, 0.0, now=0.0)
    assert dm.set_estop(True, now=0.01).reason is Reason.ESTOP
    assert dm.command("policy", 1.0, 0.0, now=0.02).reason is Reason.ESTOP
    dm.set_mode("autonomous", now=0.03)  # mode set while still pressed: stays latched
    assert dm.command("policy", 1.0, 0.0, now=0.04).reason is Reason.ESTOP
    dm.set_estop(False, now=0.05)  # released, but not re-armed
    assert dm.command("policy", 1.0, 0.0, now=0.06).reason is Reason.ESTOP
    dm.set_mode("autonomous", now=0.07)
    assert dm.output(0.08).reason is Reason.STALE  # commands before the re-arm are forgotten
    assert dm.command("policy", 1.0, 0.0, now=0.09).linear_x == 1.0


def test_mode_change_forgets_commands_received_before():
    dm = DriveModes(mode="manual")
    dm.command("policy", 2.0, 0.0, now=0.0)
    dm.set_mode("autonomous", now=0.01)
    assert dm.output(0.02).reason is Reason.STALE


def test_speed_scale_scales_speed_and_keeps_the_steering_angle():
    dm = DriveModes(mode="autonomous", max_speed_scale=0.5)
    lx, az = action_to_twist(20.0, 2.0)
    out = dm.command("policy", lx, az, now=0.0)
    assert out.linear_x == pytest.approx(1.0)
    steering, speed = twist_to_action(out.linear_x, out.angular_z)
    assert steering == pytest.approx(20.0)
    assert speed == pytest.approx(1.0)
    dm.set_speed_scale(0.0)
    assert dm.output(0.01).linear_x == 0.0


@pytest.mark.parametrize("scale", [-0.1, 1.01, math.nan])
def test_speed_scale_outside_0_1_is_refused(scale):
    dm = DriveModes(max_speed_scale=0.3)
    with pytest.raises(ValueError, match="max_speed_scale"):
        dm.set_speed_scale(scale)
    assert dm.max_speed_scale == 0.3


@pytest.mark.parametrize(
    "lx, az",
    [(math.nan, 0.0), (0.0, math.inf), (-math.inf, 0.0), (1e6, 0.0), (1.0, 1e4), ("fast", 0.0)],
)
def test_non_finite_or_absurd_commands_are_rejected_as_zero(lx, az):
    dm = DriveModes(mode="manual")
    dm.command("teleop", 1.0, 0.0, now=0.0)
    out = dm.command("teleop", lx, az, now=0.01)
    assert (out.linear_x, out.angular_z, out.reason) == (0.0, 0.0, Reason.REJECTED)
    assert dm.output(0.02).forced_zero  # the bad command replaces the good one


def test_bad_mode_is_refused_and_the_mode_kept():
    dm = DriveModes(mode="manual")
    with pytest.raises(ValueError, match="stopped, manual, autonomous"):
        dm.set_mode("turbo", now=0.0)
    assert dm.mode is Mode.MANUAL
    assert parse_mode(" Autonomous ") is Mode.AUTONOMOUS


@pytest.mark.parametrize("timeout", [0.0, -1.0, math.inf])
def test_bad_timeout_is_refused(timeout):
    with pytest.raises(ValueError, match="command_timeout"):
        DriveModes(command_timeout=timeout)


def test_negative_zero_is_published_as_zero():
    dm = DriveModes(mode="manual", max_speed_scale=0.0)
    out = dm.command("teleop", 1.0, -1.0, now=0.0)
    assert math.copysign(1.0, out.angular_z) == 1.0

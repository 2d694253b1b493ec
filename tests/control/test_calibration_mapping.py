"""cmd_vel -> pulses: absolute angle/speed through the calibration, clamped, direction-aware."""

from __future__ import annotations

import math

import pytest

from deepracer.control.calibration import Calibration, Steering, Throttle
from deepracer.control.kinematics import action_to_twist
from deepracer.control.servo_mapping import ServoMapping

CAL = Calibration(50, Steering(1900, 1500, 1100, 30), Throttle(1400, 1500, 1700, 2.0))
REVERSED = Calibration(50, Steering(1100, 1520, 1900, 20), Throttle(1650, 1500, 1300, 1.5))


def test_absolute_angle_and_speed_map_linearly():
    m = ServoMapping(CAL)
    assert m.for_action(15, 1.0).steering_us == pytest.approx(1700)
    assert m.for_action(-30, 1.0).steering_us == pytest.approx(1100)
    assert m.for_action(0, 1.0).throttle_us == pytest.approx(1600)
    assert m.for_action(0, -1.0).throttle_us == pytest.approx(1450)


def test_beyond_the_calibrated_limits_is_clamped():
    m = ServoMapping(CAL)
    assert m.for_action(45, 5.0) == m.for_action(30, 2.0)
    assert m.for_action(-80, -9.0).steering_us == 1100
    assert m.for_action(-80, -9.0).throttle_us == 1400


def test_reversed_servo_and_esc():
    m = ServoMapping(REVERSED)
    assert m.for_action(20, 1.5).steering_us == 1100  # full left
    assert m.for_action(20, 1.5).throttle_us == 1300  # full forward on a reversed ESC
    assert m.for_action(-10, -0.75).steering_us == pytest.approx(1710)
    assert m.for_action(-10, -0.75).throttle_us == pytest.approx(1575)


def test_twist_inverse_bicycle_model_and_zero_speed_keeps_steering():
    m = ServoMapping(CAL, wheelbase_m=0.164)
    lin, ang = action_to_twist(-15, 1.2, 0.164)
    p = m.for_twist(lin, ang)
    assert p.steering_us == pytest.approx(1300)
    assert p.throttle_us == pytest.approx(1620)
    stopped = m.for_twist(0.0, 0.0)
    assert stopped.steering_us == pytest.approx(1300)
    assert stopped.throttle_us == 1500
    assert m.neutral().steering_us == 1500


def test_wheelbase_matters():
    lin, ang = 1.0, math.tan(math.radians(10)) / 0.30
    assert ServoMapping(CAL, wheelbase_m=0.30).for_twist(lin, ang).steering_us == pytest.approx(1500 + 400 / 3)


def test_locked_throttle_only_ever_gives_neutral():
    m = ServoMapping(CAL, throttle_locked=True)
    assert m.for_action(0, 2.0).throttle_us == 1500
    assert m.clamp_throttle(1800) == 1500
    assert m.for_action(30, 2.0).steering_us == 1900


@pytest.mark.parametrize("cal", [CAL, REVERSED], ids=["normal", "reversed"])
def test_non_finite_twist_gives_neutral_throttle_not_full_lock(cal):
    """NaN clamps to the upper bound in Python's min/max: it must never become full throttle."""
    m = ServoMapping(cal)
    m.for_twist(1.0, 1.0 * math.tan(math.radians(10)) / 0.164)
    kept = m.steering_us(10)
    for lx, az in ((math.nan, 0.0), (0.5, math.nan), (math.inf, 0.0), (-math.inf, 1.0), (1.0, math.inf)):
        out = m.for_twist(lx, az)
        assert out.throttle_us == cal.throttle.neutral_us, (lx, az)
        assert out.steering_us == pytest.approx(kept), (lx, az)
    assert m.for_action(math.nan, math.nan) == m.neutral()
    assert m.clamp_throttle(math.nan) == cal.throttle.neutral_us
    assert m.clamp_steering(math.nan) == cal.steering.center_us

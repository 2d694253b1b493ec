"""Vehicle dynamics: bicycle geometry, speed lag, steering rate, slip."""

from __future__ import annotations

import math

import numpy as np
import pytest

from deepracer.sim.vehicle import Vehicle, VehicleParams


def drive(vehicle: Vehicle, seconds: float, steer: float, speed: float, dt: float = 1 / 60) -> np.ndarray:
    pts = []
    for _ in range(int(round(seconds / dt))):
        vehicle.step(dt, steer, speed)
        pts.append((vehicle.state.x, vehicle.state.y))
    return np.array(pts)


def test_turning_radius_is_wheelbase_over_tan_delta_at_low_speed():
    v = Vehicle()
    v.reset(0.0, 0.0, 0.0)
    drive(v, 1.0, 20.0, 0.3)  # settle speed and steering
    expected = v.p.wheelbase_m / math.tan(math.radians(20.0))
    period = 2 * math.pi * expected / 0.3
    pts = drive(v, period, 20.0, 0.3)
    centre = pts.mean(axis=0)
    radii = np.hypot(*(pts - centre).T)
    assert radii.mean() == pytest.approx(expected, rel=0.01)
    assert radii.std() < 0.005
    assert centre[1] > 0  # positive steering turns left


def test_speed_follows_a_first_order_lag():
    v = Vehicle()
    v.reset(0.0, 0.0, 0.0)
    tau = v.p.speed_time_constant_s
    drive(v, tau, 0.0, 2.0)
    assert v.state.speed == pytest.approx(2.0 * (1 - math.exp(-1)), rel=0.03)
    drive(v, 10 * tau, 0.0, 2.0)
    assert v.state.speed == pytest.approx(2.0, rel=1e-3)


def test_commands_are_clipped_to_the_car_limits():
    v = Vehicle()
    v.reset(0.0, 0.0, 0.0)
    drive(v, 3.0, 90.0, 10.0)
    assert v.state.steering_deg == pytest.approx(30.0)
    assert v.state.speed == pytest.approx(4.0, rel=1e-3)


def test_steering_is_rate_limited():
    v = Vehicle()
    v.reset(0.0, 0.0, 0.0)
    v.step(1 / 60, 30.0, 1.0)
    assert v.state.steering_deg == pytest.approx(v.p.steering_rate_deg_s / 60)
    assert v.state.steering_deg < 30.0


def test_lateral_slip_widens_fast_turns_and_can_be_disabled():
    fast = Vehicle()
    fast.reset(0.0, 0.0, 0.0)
    drive(fast, 1.0, 30.0, 3.0)
    assert fast.slipping
    kinematic = Vehicle(VehicleParams(max_lateral_accel=0.0))
    kinematic.reset(0.0, 0.0, 0.0)
    drive(kinematic, 1.0, 30.0, 3.0)
    assert not kinematic.slipping
    # the sliding car's path curves less: it ends farther from its start
    assert math.hypot(fast.state.x, fast.state.y) > math.hypot(kinematic.state.x, kinematic.state.y)


def test_wheels_sit_at_the_deepracer_geometry():
    v = Vehicle()
    v.reset(1.0, 2.0, math.pi / 2)
    rl, rr, fl, fr = v.wheels()
    assert rl == pytest.approx((1.0 - 0.081, 2.0))
    assert rr == pytest.approx((1.0 + 0.081, 2.0))
    assert fl == pytest.approx((1.0 - 0.081, 2.164))
    assert fr == pytest.approx((1.0 + 0.081, 2.164))

"""Vehicle dynamics as DeepRacer's simulated car: bicycle geometry, friction-limited speed and grip,
DeepRacer's action clip, steering rate."""

from __future__ import annotations

import math

import numpy as np
import pytest

from deepracer.sim import SimConfig, Simulator
from deepracer.sim.vehicle import (
    GRIP_MPS2,
    WHEEL_TIME_CONSTANT_S,
    Vehicle,
    VehicleParams,
    approach_speed,
    clip_action,
)


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


def test_grip_is_the_wheels_friction_times_gravity():
    # DeepRacer's wheels: mu 0.5 (racecar.gazebo); Gazebo's gravity 9.8 m/s²
    assert GRIP_MPS2 == pytest.approx(4.9)
    p = VehicleParams()
    assert p.max_lateral_accel == GRIP_MPS2 and p.max_longitudinal_accel == GRIP_MPS2


def test_speed_rises_at_the_grip_limit_no_faster():
    v = Vehicle()
    v.reset(0.0, 0.0, 0.0)
    drive(v, 0.5, 0.0, 4.0)
    assert v.state.speed == pytest.approx(GRIP_MPS2 * 0.5, rel=1e-6)  # 2.45 m/s after 0.5 s
    assert v.state.x == pytest.approx(0.5 * GRIP_MPS2 * 0.5 ** 2, rel=1e-3)
    drive(v, 0.4, 0.0, 4.0)  # 0 -> 4 m/s takes 0.82 s: then it holds the command
    assert v.state.speed == pytest.approx(4.0, rel=1e-3)
    drive(v, 0.5, 0.0, 0.1)  # braking: the same limit
    assert v.state.speed == pytest.approx(4.0 - GRIP_MPS2 * 0.5, rel=1e-3)


def test_inside_the_grip_the_speed_follows_the_wheels_time_constant():
    # the wheel controllers' P gains on the car's mass and wheel radius: 2.6 ms
    assert WHEEL_TIME_CONSTANT_S == pytest.approx(6.3622 * 0.035 ** 2 / 3.0, rel=1e-3)
    tau = WHEEL_TIME_CONSTANT_S
    small = 0.5 * GRIP_MPS2 * tau  # an error the tyres can follow without sliding
    assert approach_speed(1.0, 1.0 + small, tau, GRIP_MPS2, tau) == pytest.approx(1.0 + small * (1 - math.exp(-1)))
    # no limiter: with unlimited grip the speed is a pure lag, with none it is immediate
    assert approach_speed(0.0, 2.0, tau, 0.0, tau) == pytest.approx(2.0 * (1 - math.exp(-1)))
    assert approach_speed(0.0, 2.0, 0.01, 0.0, 0.0) == 2.0


def test_deepracers_action_clip():
    assert clip_action(0.0, 0.0) == (0.0, 0.1)  # an action of 0 m/s still creeps
    assert clip_action(-45.0, 9.0) == (-30.0, 4.0)
    assert clip_action(12.5, 2.2) == (12.5, 2.2)


def test_the_simulator_clips_actions_and_sim_node_can_stop_the_car():
    sim = Simulator(SimConfig(track="oval"))
    sim.reset(5)
    for _ in range(30):
        sim.step(0.0, 0.0)
    assert sim.state.speed == pytest.approx(0.1, rel=1e-3) and sim.race.status == "in_progress"  # creeping
    stop = Simulator(SimConfig(track="oval", action_clip=False))  # sim_node's: 0 from control_node stops
    stop.reset(5)
    for _ in range(30):
        stop.step(0.0, 0.0)
    assert stop.state.speed == 0.0


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
    fast.reset(0.0, 0.0, 0.0, speed=3.0)
    drive(fast, 1.0, 30.0, 3.0)
    assert fast.slipping
    kinematic = Vehicle(VehicleParams(max_lateral_accel=0.0))
    kinematic.reset(0.0, 0.0, 0.0, speed=3.0)
    drive(kinematic, 1.0, 30.0, 3.0)
    assert not kinematic.slipping
    # the sliding car's path curves less: it ends farther from its start
    assert math.hypot(fast.state.x, fast.state.y) > math.hypot(kinematic.state.x, kinematic.state.y)


def test_a_car_at_the_grip_limit_runs_wide_on_a_circle_of_v2_over_mu_g():
    """Full lock (radius 0.28 m) at 2 m/s needs 14 m/s²: the car slides on the circle the
    grip allows, v²/a = 0.82 m, instead of turning tighter."""
    v = Vehicle()
    v.reset(0.0, 0.0, 0.0, speed=2.0)
    drive(v, 0.3, 30.0, 2.0)  # settle the steering
    radius = 2.0 ** 2 / GRIP_MPS2
    pts = drive(v, 2 * math.pi * radius / 2.0, 30.0, 2.0)
    centre = pts.mean(axis=0)
    assert np.hypot(*(pts - centre).T).mean() == pytest.approx(radius, rel=0.02)
    assert v.slipping
    # its nose points into the bend: (30° - the 11.4° the grip carries) x 0.3 = 5.6°
    assert math.degrees(v.state.sideslip) == pytest.approx(0.3 * (30.0 - math.degrees(math.atan(0.164 / radius))),
                                                          rel=0.02)
    # below the limit it turns on the steering's radius (1 m/s: 3.5 m/s² < 4.9)
    slow = Vehicle()
    slow.reset(0.0, 0.0, 0.0, speed=1.0)
    drive(slow, 0.3, 30.0, 1.0)
    assert not slow.slipping


def test_wheels_sit_at_the_deepracer_geometry():
    v = Vehicle()
    v.reset(1.0, 2.0, math.pi / 2)
    rl, rr, fl, fr = v.wheels()
    assert rl == pytest.approx((1.0 - 0.081, 2.0))
    assert rr == pytest.approx((1.0 + 0.081, 2.0))
    assert fl == pytest.approx((1.0 - 0.081, 2.164))
    assert fr == pytest.approx((1.0 + 0.081, 2.164))

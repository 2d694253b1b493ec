"""Kinematic bicycle model with the DeepRacer's geometry, integrated at a fixed step.

The state's (x, y) is the car's origin: the middle of the rear axle (base_link), where
the bicycle model is exact. Speed follows the command through a first-order lag, the
steering servo through a rate limit. Above `max_lateral_accel` the tyres slide: the
path curvature is capped at a_max / v² (understeer) and the body yaws slightly more
than the path turns, which is what a car at the grip limit does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from deepracer.control.kinematics import MAX_STEERING_DEG, TRACK_WIDTH_M, WHEELBASE_M

MAX_SPEED_MPS = 4.0


@dataclass
class VehicleParams:
    wheelbase_m: float = WHEELBASE_M
    track_m: float = TRACK_WIDTH_M
    max_steering_deg: float = MAX_STEERING_DEG
    max_speed_mps: float = MAX_SPEED_MPS
    speed_time_constant_s: float = 0.15  # first-order lag of the ESC + motor
    steering_rate_deg_s: float = 360.0  # servo slew rate
    max_lateral_accel: float = 8.0  # m/s² before the tyres slide; <= 0 disables slip
    slip_yaw_gain: float = 0.3  # extra body yaw (fraction of the lost curvature) while sliding


@dataclass
class VehicleState:
    x: float = 0.0  # m, rear-axle centre
    y: float = 0.0
    yaw: float = 0.0  # rad, counter-clockwise from +x
    speed: float = 0.0  # m/s along the heading
    steering_deg: float = 0.0  # actual (not commanded) front-wheel angle, positive left
    t: float = 0.0  # simulated seconds

    def copy(self) -> VehicleState:
        return VehicleState(self.x, self.y, self.yaw, self.speed, self.steering_deg, self.t)


class Vehicle:
    """Integrates a VehicleState in place."""

    def __init__(self, params: VehicleParams | None = None) -> None:
        self.p = params or VehicleParams()
        self.state = VehicleState()
        self.slipping = False

    def reset(self, x: float, y: float, yaw: float, speed: float = 0.0, t: float = 0.0) -> None:
        self.state = VehicleState(x, y, yaw, speed, 0.0, t)
        self.slipping = False

    def step(self, dt: float, steering_deg: float, speed_mps: float) -> None:
        p, s = self.p, self.state
        target_delta = min(max(steering_deg, -p.max_steering_deg), p.max_steering_deg)
        target_v = min(max(speed_mps, -p.max_speed_mps), p.max_speed_mps)
        max_turn = p.steering_rate_deg_s * dt
        s.steering_deg += min(max(target_delta - s.steering_deg, -max_turn), max_turn)
        # exact solution of the first-order lag over dt
        alpha = 1.0 - math.exp(-dt / p.speed_time_constant_s) if p.speed_time_constant_s > 0 else 1.0
        v = s.speed + (target_v - s.speed) * alpha
        curvature = math.tan(math.radians(s.steering_deg)) / p.wheelbase_m
        body_curvature = curvature
        self.slipping = False
        if p.max_lateral_accel > 0 and v * v * abs(curvature) > p.max_lateral_accel:
            limited = math.copysign(p.max_lateral_accel / (v * v), curvature)
            body_curvature = limited + p.slip_yaw_gain * (curvature - limited)
            curvature = limited
            self.slipping = True
        # midpoint integration of the path (exact on circular arcs to second order)
        dist = v * dt
        mid_yaw = s.yaw + 0.5 * curvature * dist
        s.x += dist * math.cos(mid_yaw)
        s.y += dist * math.sin(mid_yaw)
        s.yaw = _wrap(s.yaw + body_curvature * dist)
        s.speed = v
        s.t += dt

    def wheels(self) -> tuple[tuple[float, float], ...]:
        """Contact points of the four wheels: rear left, rear right, front left, front right."""
        s, p = self.state, self.p
        c, si = math.cos(s.yaw), math.sin(s.yaw)
        hx, hy = -si * p.track_m / 2, c * p.track_m / 2  # half track, to the left
        fx, fy = c * p.wheelbase_m, si * p.wheelbase_m
        return ((s.x + hx, s.y + hy), (s.x - hx, s.y - hy),
                (s.x + fx + hx, s.y + fy + hy), (s.x + fx - hx, s.y + fy - hy))


def _wrap(a: float) -> float:
    return (a + math.pi) % (2 * math.pi) - math.pi

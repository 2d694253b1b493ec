"""DeepRacer's simulated car as a bicycle model with friction-limited tyres, at a fixed step.

The state's (x, y) is the middle of the rear axle, where the kinematic bicycle model is
exact; DeepRacer's own origin (base_link) is the middle of the wheelbase, `BASE_LINK_M`
ahead of it. What the model takes from DeepRacer's simulator (../shared/deepracer-facts.md,
docs/simulator.md "Vehicle"):

- the speed command as DeepRacer clips an action (`clip_action`: [0.1, 4.0] m/s, so an action
  of 0 m/s still creeps at 0.1 m/s; steering ±30°, the same angle on both front wheels: the
  bicycle model's single front wheel);
- no acceleration limiter: DeepRacer sends ω = v/r to every wheel's velocity controller, and
  the car follows as fast as the tyres let it: the speed moves towards the command at up to
  μg (the wheels' friction coefficient μ = 0.5 times gravity, 4.9 m/s²), and within a·τ of the
  command as a first-order lag with the wheel controllers' time constant τ (fitted, 2.6 ms);
- the same friction sideways: above μg the tyres slide, so the path curvature is capped at
  μg/v² (the car runs wide on that circle, it does not turn tighter), and the body turns into
  the bend by a sideslip angle (`sideslip_gain` of the steering beyond what the grip carries,
  built up and relaxed over `slip_relaxation_m` of travel): the nose, and so the camera, points
  inside the path it actually drives, as a car sliding at its grip limit does.

Longitudinal and lateral grip are independent (Gazebo's friction pyramid: μN along and across
each wheel). The steering servo slews at `steering_rate_deg_s` (not a DeepRacer figure).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from deepracer.control.kinematics import MAX_STEERING_DEG, TRACK_WIDTH_M, WHEELBASE_M

# -- DeepRacer's simulated car (each figure once; sources in docs/simulator.md) -----------------
GRAVITY_MPS2 = 9.8  # Gazebo's world gravity
WHEEL_FRICTION = 0.5  # μ of the wheels' surfaces (racecar.gazebo); the chassis has μ 0
GRIP_MPS2 = WHEEL_FRICTION * GRAVITY_MPS2  # 4.9 m/s²: the most the tyres give, along or across
MIN_SPEED_MPS = 0.1  # DeepRacer clips an action's speed to [0.1, 4.0] m/s
MAX_SPEED_MPS = 4.0
CAR_MASS_KG = 5.0 + 4 * 0.34055  # chassis + four wheels (URDF)
WHEEL_RADIUS_M = 0.035  # simapp >= 3
WHEEL_VELOCITY_GAINS = (1.0, 1.0, 0.5, 0.5)  # P of the wheel velocity controllers: rear, rear, front, front
# Fitted: each wheel's controller pushes P·Δω N·m, i.e. P·Δv/r² N at the ground, so the car's
# speed error decays with τ = m r² / ΣP (wheel inertia neglected: 4 % of the car's, reflected).
WHEEL_TIME_CONSTANT_S = CAR_MASS_KG * WHEEL_RADIUS_M ** 2 / sum(WHEEL_VELOCITY_GAINS)
BASE_LINK_M = WHEELBASE_M / 2  # DeepRacer's base_link: the middle of the wheelbase, ahead of the rear axle


@dataclass
class VehicleParams:
    wheelbase_m: float = WHEELBASE_M
    track_m: float = TRACK_WIDTH_M
    max_steering_deg: float = MAX_STEERING_DEG
    max_speed_mps: float = MAX_SPEED_MPS
    min_speed_mps: float = MIN_SPEED_MPS  # lowest speed an action gives (clip_action); the car itself stops at 0
    wheel_time_constant_s: float = WHEEL_TIME_CONSTANT_S  # speed response inside the grip limit
    max_longitudinal_accel: float = GRIP_MPS2  # m/s², accelerating and braking; <= 0: no limit (a pure lag)
    max_lateral_accel: float = GRIP_MPS2  # m/s² before the tyres slide; <= 0 disables slip
    steering_rate_deg_s: float = 360.0  # servo slew rate
    sideslip_gain: float = 0.3  # sliding: body angle into the bend, fraction of the steering beyond the grip
    slip_relaxation_m: float = 0.2  # travel over which the sideslip builds up or decays (first order)


def clip_action(steering_deg: float, speed_mps: float, p: VehicleParams | None = None) -> tuple[float, float]:
    """DeepRacer's clipping of an action before it reaches the wheels: steering to ±30°, speed
    to [0.1, 4.0] m/s (an action of 0 m/s creeps at 0.1 m/s)."""
    p = p or _DEFAULT
    return (min(max(steering_deg, -p.max_steering_deg), p.max_steering_deg),
            min(max(speed_mps, p.min_speed_mps), p.max_speed_mps))


@dataclass
class VehicleState:
    x: float = 0.0  # m, rear-axle centre
    y: float = 0.0
    yaw: float = 0.0  # rad, counter-clockwise from +x
    speed: float = 0.0  # m/s along the heading
    steering_deg: float = 0.0  # actual (not commanded) front-wheel angle, positive left
    t: float = 0.0  # simulated seconds
    sideslip: float = 0.0  # rad, body yaw minus the direction of travel (0 unless sliding)

    def copy(self) -> VehicleState:
        return VehicleState(self.x, self.y, self.yaw, self.speed, self.steering_deg, self.t, self.sideslip)


class Vehicle:
    """Integrates a VehicleState in place."""

    def __init__(self, params: VehicleParams | None = None) -> None:
        self.p = params or VehicleParams()
        self.state = VehicleState()
        self.slipping = False

    def reset(self, x: float, y: float, yaw: float, speed: float = 0.0, t: float = 0.0) -> None:
        self.state = VehicleState(x, y, _wrap(yaw), speed, 0.0, t)
        self.slipping = False

    def step(self, dt: float, steering_deg: float, speed_mps: float) -> None:
        """Advance dt with the wheels commanded to (steering_deg, speed_mps). The car itself
        takes any speed within ±max_speed_mps (0 stops it, negative reverses: sim_node's
        cmd_vel); DeepRacer's action clip is `clip_action`, applied by the simulator."""
        p, s = self.p, self.state
        target_delta = min(max(steering_deg, -p.max_steering_deg), p.max_steering_deg)
        target_v = min(max(speed_mps, -p.max_speed_mps), p.max_speed_mps)
        max_turn = p.steering_rate_deg_s * dt
        s.steering_deg += min(max(target_delta - s.steering_deg, -max_turn), max_turn)
        v0 = s.speed
        v = approach_speed(v0, target_v, dt, p.max_longitudinal_accel, p.wheel_time_constant_s)
        v_mid = 0.5 * (v0 + v)
        delta = math.radians(s.steering_deg)
        curvature = math.tan(delta) / p.wheelbase_m
        target_slip = 0.0
        self.slipping = False
        if p.max_lateral_accel > 0 and v_mid * v_mid * abs(curvature) > p.max_lateral_accel:
            curvature = math.copysign(p.max_lateral_accel / (v_mid * v_mid), curvature)
            target_slip = p.sideslip_gain * (delta - math.atan(p.wheelbase_m * curvature))
            self.slipping = True
        # midpoint integration of the path (exact on circular arcs to second order)
        dist = v_mid * dt
        travel = s.yaw - s.sideslip  # direction of travel
        mid = travel + 0.5 * curvature * dist
        s.x += dist * math.cos(mid)
        s.y += dist * math.sin(mid)
        if p.slip_relaxation_m > 0:
            s.sideslip += (target_slip - s.sideslip) * (1.0 - math.exp(-abs(dist) / p.slip_relaxation_m))
        else:
            s.sideslip = target_slip
        s.yaw = _wrap(travel + curvature * dist + s.sideslip)
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


def approach_speed(v: float, target: float, dt: float, max_accel: float, tau: float) -> float:
    """The speed after dt: towards `target` at up to `max_accel` (the tyres' limit) while the
    error exceeds max_accel·τ, then as a first-order lag with time constant τ (exact in both)."""
    err = target - v
    if max_accel > 0:
        linear = max_accel * tau  # below this error the wheels' force is under the friction limit
        if abs(err) > linear:
            t_sat = (abs(err) - linear) / max_accel
            if t_sat >= dt:
                return v + math.copysign(max_accel * dt, err)
            dt -= t_sat
            err = math.copysign(linear, err)
    return target - err * math.exp(-dt / tau) if tau > 0 else target


def _wrap(a: float) -> float:
    return (a + math.pi) % (2 * math.pi) - math.pi


_DEFAULT = VehicleParams()

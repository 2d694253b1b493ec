"""A pure-pursuit driver on the centre line: a reference for tests, warm starts and demos.

Steers the rear axle towards the centre-line point `lookahead` metres ahead,
δ = atan(2 L sin α / ℓ), and slows for the tightest bend within a braking distance,
v = sqrt(a_lat / κ). Not a racing line: a safe, predictable baseline.

The car's limits come from the simulator's vehicle (`VehicleParams`): wheelbase, steering
limit, DeepRacer's speed clip, and the tyres' grip, which sets how far ahead it must look to
brake in time (v² / 2a). Braking for more lateral acceleration than the grip makes the car
slide wide in the bend (fastest_pure_pursuit searches that too).
"""

from __future__ import annotations

import math

import numpy as np

from deepracer.sim.track import Track
from deepracer.sim.vehicle import VehicleParams, VehicleState


class PurePursuitDriver:
    def __init__(self, track: Track, max_speed: float = 2.5, min_speed: float = 0.6,
                 lateral_accel: float = 3.0, lookahead_min_m: float = 0.35, lookahead_gain_s: float = 0.3,
                 vehicle: VehicleParams | None = None) -> None:
        v = vehicle or VehicleParams()
        self.track = track
        self.max_speed = min(max_speed, v.max_speed_mps)
        self.min_speed = max(min_speed, v.min_speed_mps)
        self.lateral_accel = lateral_accel
        self.lookahead_min_m, self.lookahead_gain_s = lookahead_min_m, lookahead_gain_s
        self.wheelbase_m = v.wheelbase_m
        self.max_steering_deg = v.max_steering_deg
        self.braking = v.max_longitudinal_accel if v.max_longitudinal_accel > 0 else math.inf
        # curvature at each waypoint from the heading change over neighbouring segments
        dh = np.diff(np.unwrap(np.r_[track.seg_heading, track.seg_heading[:1]]))
        seg = (track.seg_len + np.roll(track.seg_len, -1)) / 2
        kappa = np.abs(np.roll(dh, 1)) / np.roll(seg, 1)
        self.kappa = np.maximum(kappa, np.roll(kappa, 1))
        self._mean_seg = float(track.seg_len.mean())
        self._hint: int | None = None

    def reset(self) -> None:
        self._hint = None

    def command(self, state: VehicleState) -> tuple[float, float]:
        """(steering_deg, speed_mps) for the current state."""
        tr = self.track
        p = tr.project(state.x, state.y, hint=self._hint, window=15)
        self._hint = p.segment
        lookahead = self.lookahead_min_m + self.lookahead_gain_s * max(state.speed, 0.0)
        tx, ty, _ = tr.point_at(p.s + lookahead)
        alpha = math.atan2(ty - state.y, tx - state.x) - state.yaw
        alpha = (alpha + math.pi) % (2 * math.pi) - math.pi
        dist = math.hypot(tx - state.x, ty - state.y)
        steer = math.degrees(math.atan2(2 * self.wheelbase_m * math.sin(alpha), max(dist, 1e-3)))
        steer = max(-self.max_steering_deg, min(self.max_steering_deg, steer))
        # slow for the tightest bend within ~1 s of driving (or 1 m, or the distance the tyres need to stop)
        horizon = max(1.0, state.speed * 1.0, state.speed ** 2 / (2 * self.braking) + 0.3)
        n_ahead = int(horizon / self._mean_seg) + 2
        idx = (p.segment + np.arange(n_ahead)) % tr.n
        k = float(self.kappa[idx].max())
        speed = self.max_speed if k < 1e-6 else min(self.max_speed, math.sqrt(self.lateral_accel / k))
        return steer, max(self.min_speed, speed)

"""cmd_vel -> pulse widths, through the bicycle model and the calibration.

Steering angle and speed stay absolute (degrees, m/s) down to here: the calibration's
max_angle_deg and top_speed_mps are the angle and speed at the end pulses, anything beyond
is clamped. Nothing outside the calibrated range ever leaves this module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from deepracer.control.calibration import MAX_PULSE_US, MIN_PULSE_US, Calibration
from deepracer.control.kinematics import MIN_SPEED_FOR_STEERING, WHEELBASE_M, twist_to_action


def clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


@dataclass(frozen=True)
class Pulses:
    throttle_us: float
    steering_us: float


class ServoMapping:
    """Maps (steering angle, speed) and Twists to pulses; remembers the last steering angle."""

    def __init__(self, calibration: Calibration, wheelbase_m: float = WHEELBASE_M, throttle_locked: bool = False):
        self.calibration = calibration
        self.wheelbase_m = wheelbase_m
        self.throttle_locked = throttle_locked
        self.last_steering_deg = 0.0

    def steering_us(self, angle_deg: float) -> float:
        s = self.calibration.steering
        if not math.isfinite(angle_deg):  # NaN would otherwise clamp to a full lock
            return s.center_us
        fraction = clamp(angle_deg / s.max_angle_deg, -1.0, 1.0)  # positive = left (REP-103)
        end = s.left_us if fraction >= 0 else s.right_us
        return self.clamp_steering(s.center_us + abs(fraction) * (end - s.center_us))

    def throttle_us(self, speed_mps: float) -> float:
        t = self.calibration.throttle
        # not finite: a corrupt command (NaN would otherwise clamp to full throttle)
        if self.throttle_locked or not math.isfinite(speed_mps) or abs(speed_mps) < MIN_SPEED_FOR_STEERING:
            return t.neutral_us
        fraction = clamp(speed_mps / t.top_speed_mps, -1.0, 1.0)
        end = t.forward_us if fraction > 0 else t.reverse_us
        return self.clamp_throttle(t.neutral_us + abs(fraction) * (end - t.neutral_us))

    def for_action(self, steering_deg: float, speed_mps: float) -> Pulses:
        return Pulses(self.throttle_us(speed_mps), self.steering_us(steering_deg))

    def for_twist(self, linear_x: float, angular_z: float) -> Pulses:
        """At (near) zero speed the last steering angle is kept and the throttle is neutral.

        A non-finite component makes the command corrupt: neutral throttle, last angle kept."""
        if not (math.isfinite(linear_x) and math.isfinite(angular_z)):
            return Pulses(self.calibration.throttle.neutral_us, self.steering_us(self.last_steering_deg))
        angle, speed = twist_to_action(linear_x, angular_z, self.wheelbase_m, self.last_steering_deg)
        self.last_steering_deg = clamp(angle, -self.calibration.steering.max_angle_deg, self.calibration.steering.max_angle_deg)
        return self.for_action(self.last_steering_deg, speed)

    def neutral(self) -> Pulses:
        """Neutral throttle, centred steering (also forgets the last angle)."""
        self.last_steering_deg = 0.0
        return Pulses(self.calibration.throttle.neutral_us, self.calibration.steering.center_us)

    def clamp_steering(self, us: float) -> float:
        if not math.isfinite(us):
            return self.calibration.steering.center_us
        return clamp(us, *self.calibration.steering_range())

    def clamp_throttle(self, us: float) -> float:
        if self.throttle_locked or not math.isfinite(us):
            return self.calibration.throttle.neutral_us
        return clamp(us, *self.calibration.throttle_range())

    def clamp_role(self, role: str, us: float) -> float:
        return self.clamp_steering(us) if role == "steering" else self.clamp_throttle(us)


def clamp_raw(us: float) -> float:
    """Calibration mode writes raw pulses: only the absolute hardware range applies."""
    return clamp(us, MIN_PULSE_US, MAX_PULSE_US)

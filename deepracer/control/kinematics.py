"""DeepRacer action <-> geometry_msgs/Twist, through the bicycle model (ARCHITECTURE.md §3).

Steering angle δ is in degrees, positive to the left (DeepRacer's and REP-103's sense);
speed v in m/s. angular.z = v·tan(δ)/L. At (near) zero speed angular.z carries no
steering information, so consumers keep their last angle there.
"""

from __future__ import annotations

import math

WHEELBASE_M = 0.164  # DeepRacer's wheelbase
TRACK_WIDTH_M = 0.162  # DeepRacer's axle track (wheel to wheel)
MAX_STEERING_DEG = 30.0
MIN_SPEED_FOR_STEERING = 1e-3  # below this |v|, angular.z cannot encode the steering angle


def action_to_twist(steering_deg: float, speed_mps: float, wheelbase_m: float = WHEELBASE_M) -> tuple[float, float]:
    """(steering angle in degrees, speed in m/s) -> (linear.x, angular.z)."""
    return speed_mps, speed_mps * math.tan(math.radians(steering_deg)) / wheelbase_m


def twist_to_action(
    linear_x: float, angular_z: float, wheelbase_m: float = WHEELBASE_M, last_steering_deg: float = 0.0
) -> tuple[float, float]:
    """(linear.x, angular.z) -> (steering angle in degrees, speed in m/s).

    At near-zero speed the steering angle is undefined; `last_steering_deg` is returned.
    """
    if abs(linear_x) < MIN_SPEED_FOR_STEERING:
        return last_steering_deg, 0.0
    return math.degrees(math.atan(angular_z * wheelbase_m / linear_x)), linear_x

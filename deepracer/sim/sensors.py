"""DeepRacer's sensors: the `sensor` list of model_metadata.json, the simulated LiDAR and the
observations DeepRacer makes of it (facts §1, §2).

- `Sensor`: DeepRacer's strings; `parse_sensors` applies its rule (exactly one camera, at most
  one LiDAR) and `require_sensors` refuses a model whose sensors a car has not got, by name;
- `Lidar`: 64 beams over ±150° (2.61799 rad) from DeepRacer's mount (0.029 m ahead of the
  middle of the wheelbase) facing backwards (yaw π: the unscanned 60° wedge is straight
  ahead), 0.15-12 m, Gaussian noise σ 0.01 m,
  10 Hz; between scans the last one is returned again (DeepRacer's LiDAR buffer is not
  cleared on read). It sees the obstacles and cars (rectangles); the flat track has no walls,
  so the other beams read the maximum range;
- `lidar_observation` (deepracer.model.sensors, shared with the car's inference node): LIDAR -> the 64 ranges clipped to [0.15, 1.0] m; SECTOR_LIDAR -> 8
  sectors x 8 beams, 1.0 where the sector's minimum is below 0.5 m; DISCRETIZED_SECTOR_LIDAR
  -> one-hot bins of each sector's minimum (lidar_config).

Stereo cameras (STEREO_CAMERAS) are two renders 0.06 m apart (y = ±0.03 m), stacked as the
channels (left, right): `Simulator.render_stereo()`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from deepracer.model.sensors import (  # noqa: F401  (the sensor list's names, re-exported here)
    CAMERAS,
    LIDAR_BEAMS,
    LIDAR_MAX_M,
    LIDAR_MIN_M,
    LIDAR_OBS_CLIP_M,
    LIDARS,
    PROVIDES,
    SECTOR_CLIP_M,
    SECTORS,
    Sensor,
    camera_sensor,
    lidar_observation,
    lidar_observation_size,
    lidar_sensor,
    parse_sensors,
    require_sensors,
)

# -- DeepRacer's LiDAR ------------------------------------------------------------------------
LIDAR_HALF_ANGLE_RAD = 2.61799  # ±150°
LIDAR_NOISE_M = 0.01
LIDAR_HZ = 10.0
LIDAR_MOUNT_X_M = 0.082 + 0.02913  # from the rear axle: DeepRacer's `laser` link on the chassis
STEREO_BASELINE_M = 0.06


@dataclass(frozen=True)
class LidarConfig:
    beams: int = LIDAR_BEAMS
    half_angle_rad: float = LIDAR_HALF_ANGLE_RAD
    min_m: float = LIDAR_MIN_M
    max_m: float = LIDAR_MAX_M
    noise_m: float = LIDAR_NOISE_M
    hz: float = LIDAR_HZ
    mount_x_m: float = LIDAR_MOUNT_X_M


class Lidar:
    """Ranges of the objects around the car; beam i at angle -half + i * step from the car's
    rear (the mount faces backwards), counter-clockwise, as the LaserScan's angle_min/increment."""

    def __init__(self, config: LidarConfig | None = None, seed: int | None = 0) -> None:
        self.config = c = config or LidarConfig()
        self.angles = np.linspace(-c.half_angle_rad, c.half_angle_rad, c.beams)
        self.increment = float(self.angles[1] - self.angles[0]) if c.beams > 1 else 0.0
        self.rng = np.random.default_rng(seed)
        self._last: np.ndarray | None = None
        self._t_last = -math.inf

    def reset(self) -> None:
        self._last, self._t_last = None, -math.inf

    def scan(self, t: float, x: float, y: float, yaw: float, objects: list[Any]) -> np.ndarray:
        """(beams,) float32 ranges in m at sim time t (a new scan at 10 Hz, else the last one);
        nothing within reach reads +inf, as a LaserScan does."""
        c = self.config
        if self._last is not None and t - self._t_last < 1.0 / c.hz - 1e-9:
            return self._last
        self._t_last = t
        ox = x + c.mount_x_m * math.cos(yaw)
        oy = y + c.mount_x_m * math.sin(yaw)
        ang = self.angles + (yaw + math.pi)
        dx, dy = np.cos(ang), np.sin(ang)
        ranges = np.full(c.beams, np.inf)
        for o in objects:
            ranges = np.minimum(ranges, _ray_box(ox, oy, dx, dy, o))
        hit = np.isfinite(ranges)
        if hit.any():
            ranges[hit] += self.rng.normal(0.0, c.noise_m, int(hit.sum()))
        ranges[ranges < c.min_m] = c.min_m
        ranges[ranges > c.max_m] = np.inf
        self._last = ranges.astype(np.float32)
        return self._last


def _ray_box(ox: float, oy: float, dx: np.ndarray, dy: np.ndarray, o: Any) -> np.ndarray:
    """Distance along each ray to an object's rectangle (slab method), +inf when missed."""
    c, s = math.cos(o.yaw), math.sin(o.yaw)
    px, py = ox - o.x, oy - o.y
    lx, ly = px * c + py * s, -px * s + py * c  # ray origin in the box frame
    ldx, ldy = dx * c + dy * s, -dx * s + dy * c
    hl, hw = o.length / 2, o.width / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        t1, t2 = (-hl - lx) / ldx, (hl - lx) / ldx
        t3, t4 = (-hw - ly) / ldy, (hw - ly) / ldy
    tmin = np.maximum(np.minimum(t1, t2), np.minimum(t3, t4))
    tmax = np.minimum(np.maximum(t1, t2), np.maximum(t3, t4))
    ok = (tmax >= np.maximum(tmin, 0.0)) & np.isfinite(tmin)
    return np.where(ok, np.maximum(tmin, 0.0), np.inf)

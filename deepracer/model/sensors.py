"""DeepRacer's `sensor` list of model_metadata.json: the names, its rule (exactly one camera, at
most one LiDAR), and refusing a model whose sensors a car (or a driver) has not got, by name."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import numpy as np

from deepracer.errors import ModelPackageError

# DeepRacer's LiDAR and the observations its networks get of it (facts §2): here, not in the
# simulator, because the car's inference node makes the same observation of a LaserScan
LIDAR_BEAMS = 64
LIDAR_MIN_M, LIDAR_MAX_M = 0.15, 12.0
LIDAR_OBS_CLIP_M = 1.0  # LIDAR observation: ranges beyond 1 m read 1 m
SECTORS, SECTOR_CLIP_M = 8, 0.5  # SECTOR_LIDAR


class Sensor(StrEnum):
    OBSERVATION = "observation"  # the legacy name of the front camera
    FRONT_FACING_CAMERA = "FRONT_FACING_CAMERA"
    LEFT_CAMERA = "LEFT_CAMERA"
    STEREO_CAMERAS = "STEREO_CAMERAS"
    LIDAR = "LIDAR"
    SECTOR_LIDAR = "SECTOR_LIDAR"
    DISCRETIZED_SECTOR_LIDAR = "DISCRETIZED_SECTOR_LIDAR"


CAMERAS = frozenset({Sensor.OBSERVATION, Sensor.FRONT_FACING_CAMERA, Sensor.LEFT_CAMERA, Sensor.STEREO_CAMERAS})
LIDARS = frozenset({Sensor.LIDAR, Sensor.SECTOR_LIDAR, Sensor.DISCRETIZED_SECTOR_LIDAR})
# what a car has, in the names a model asks for: a front camera answers any single-camera model
PROVIDES = {Sensor.FRONT_FACING_CAMERA: {Sensor.OBSERVATION, Sensor.FRONT_FACING_CAMERA, Sensor.LEFT_CAMERA},
            Sensor.STEREO_CAMERAS: {Sensor.STEREO_CAMERAS, Sensor.OBSERVATION, Sensor.FRONT_FACING_CAMERA,
                                    Sensor.LEFT_CAMERA},
            Sensor.LIDAR: set(LIDARS)}

def parse_sensors(names: list[str] | tuple[str, ...], source: Any = None) -> list[Sensor]:
    """DeepRacer's rule: exactly one camera and at most one LiDAR; unknown names named.
    An empty list is the front camera (our packages' default)."""
    names = list(names) or [Sensor.FRONT_FACING_CAMERA.value]
    out = []
    for name in names:
        try:
            out.append(Sensor(str(name)))
        except ValueError:
            raise ModelPackageError(f"unknown sensor {name!r} in model_metadata.json 'sensor'; DeepRacer's are "
                                    f"{', '.join(s.value for s in Sensor)}", source) from None
    cams = [s for s in out if s in CAMERAS]
    lidars = [s for s in out if s in LIDARS]
    if len(cams) != 1:
        raise ModelPackageError(f"'sensor' needs exactly one camera, got {[str(c) for c in cams] or 'none'}", source)
    if len(lidars) > 1:
        raise ModelPackageError(f"'sensor' takes at most one LiDAR, got {[str(s) for s in lidars]}", source)
    return out


def require_sensors(model_sensors: list[str], available: list[str], model: str = "the model") -> None:
    """Refuse, naming the sensor, a model that needs a sensor this car (or simulator) has not got."""
    wanted = parse_sensors(model_sensors)
    have: set[Sensor] = set()
    for name in available:
        have |= PROVIDES.get(Sensor(name), {Sensor(name)})
    missing = [str(s) for s in wanted if s not in have]
    if missing:
        raise ModelPackageError(f"{model} needs {', '.join(missing)}, which this car has not got "
                                f"(sensors: {', '.join(available) or 'none'})")


def camera_sensor(sensors: list[Sensor]) -> Sensor:
    return next(s for s in sensors if s in CAMERAS)


def lidar_sensor(sensors: list[Sensor]) -> Sensor | None:
    return next((s for s in sensors if s in LIDARS), None)


def lidar_observation(ranges: np.ndarray, sensor: Sensor, num_sectors: int = SECTORS,
                      num_values_per_sector: int = 8, clipping_dist: float = 2.0) -> np.ndarray:
    """What DeepRacer's network gets of a scan (float32 vector): LIDAR -> the ranges clipped to
    [0.15, 1.0] m; SECTOR_LIDAR -> 8 sectors, 1.0 where the sector's minimum is below 0.5 m;
    DISCRETIZED_SECTOR_LIDAR -> one-hot bins of each sector's minimum (lidar_config).
    Non-finite ranges (nothing in reach, as a LaserScan reports it) read the maximum range."""
    r = np.asarray(ranges, dtype=np.float32).reshape(-1)
    r = np.where(np.isfinite(r), r, LIDAR_MAX_M).astype(np.float32)
    if sensor is Sensor.LIDAR:
        return np.clip(r, LIDAR_MIN_M, LIDAR_OBS_CLIP_M)
    if sensor is Sensor.SECTOR_LIDAR:
        if len(r) % SECTORS:
            raise ValueError(f"SECTOR_LIDAR needs a multiple of {SECTORS} beams, got {len(r)}")
        mins = np.minimum(r, SECTOR_CLIP_M).reshape(SECTORS, -1).min(axis=1)
        return (mins < SECTOR_CLIP_M).astype(np.float32)
    if sensor is Sensor.DISCRETIZED_SECTOR_LIDAR:
        if len(r) % num_sectors:
            raise ValueError(f"num_sectors {num_sectors} must divide the {len(r)} beams")
        clip = min(max(clipping_dist, LIDAR_MIN_M), LIDAR_MAX_M)
        mins = r.reshape(num_sectors, -1).min(axis=1)
        out = np.zeros((num_sectors, num_values_per_sector), np.float32)
        bins = np.minimum(np.floor(mins / (clip / num_values_per_sector)).astype(int), num_values_per_sector - 1)
        near = mins < clip
        out[np.flatnonzero(near), bins[near]] = 1.0
        return out.ravel()
    raise ValueError(f"{sensor} is not a LiDAR")


def lidar_observation_size(sensor: Sensor, beams: int = LIDAR_BEAMS, num_sectors: int = SECTORS,
                           num_values_per_sector: int = 8) -> int:
    """The length of `lidar_observation` for this sensor."""
    if sensor is Sensor.LIDAR:
        return beams
    if sensor is Sensor.SECTOR_LIDAR:
        return SECTORS
    if sensor is Sensor.DISCRETIZED_SECTOR_LIDAR:
        return num_sectors * num_values_per_sector
    raise ValueError(f"{sensor} is not a LiDAR")

"""DeepRacer's `sensor` list of model_metadata.json: the names, its rule (exactly one camera, at
most one LiDAR), and refusing a model whose sensors a car (or a driver) has not got, by name."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from deepracer.errors import ModelPackageError


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

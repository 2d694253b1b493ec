"""Calibration file: pulse widths (µs) for steering and throttle, validated, stored atomically.

The file (YAML)::

    frequency_hz: 50
    steering: {left_us: 1900, center_us: 1500, right_us: 1100, max_angle_deg: 30}
    throttle: {reverse_us: 1400, neutral_us: 1500, forward_us: 1600, top_speed_mps: 1.0}

Direction follows from the pulses: `forward_us < neutral_us` on a reversed ESC, and
`left_us < right_us` on a reversed servo. Saving keeps the previous good file as
`<name>.bak`; loading falls back to it when the file is corrupt. With neither, the car
gets a safe default: throttle locked at neutral until it is calibrated.
"""

from __future__ import annotations

import copy
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from deepracer.errors import CalibrationError
from deepracer.files import atomic_write_text, backup_path

MIN_PULSE_US = 500.0  # the widest range any hobby servo or ESC accepts
MAX_PULSE_US = 2500.0
MIN_FREQUENCY_HZ = 40.0
MAX_FREQUENCY_HZ = 400.0

USER_CALIBRATION = Path("~/.config/deepracer/calibration.yaml")
SERVICE_CALIBRATION = Path("/var/lib/deepracer/calibration.yaml")


@dataclass
class Steering:
    left_us: float = 1900.0
    center_us: float = 1500.0
    right_us: float = 1100.0
    max_angle_deg: float = 30.0


@dataclass
class Throttle:
    reverse_us: float = 1400.0
    neutral_us: float = 1500.0
    forward_us: float = 1600.0
    top_speed_mps: float = 1.0


@dataclass
class Calibration:
    frequency_hz: float = 50.0
    steering: Steering = field(default_factory=Steering)
    throttle: Throttle = field(default_factory=Throttle)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any, path: str | Path | None = None) -> Calibration:
        """Build and validate; unknown or missing keys are errors (a typo must not go unnoticed)."""
        if not isinstance(data, dict):
            raise CalibrationError("expected a mapping with frequency_hz, steering and throttle", path)
        expected = {"frequency_hz", "steering", "throttle"}
        _check_keys(data, expected, "", path)
        parts = {}
        for name, kind in (("steering", Steering), ("throttle", Throttle)):
            section = data[name]
            if not isinstance(section, dict):
                raise CalibrationError(f"{name}: expected a mapping", path)
            _check_keys(section, set(kind.__dataclass_fields__), f"{name}.", path)
            parts[name] = kind(**{k: _number(v, f"{name}.{k}", path) for k, v in section.items()})
        cal = cls(_number(data["frequency_hz"], "frequency_hz", path), parts["steering"], parts["throttle"])
        cal.validate(path)
        return cal

    def validate(self, path: str | Path | None = None) -> None:
        problems = validation_problems(self)
        if problems:
            raise CalibrationError("invalid calibration: " + "; ".join(problems), path)

    def steering_range(self) -> tuple[float, float]:
        return min(self.steering.left_us, self.steering.right_us), max(self.steering.left_us, self.steering.right_us)

    def throttle_range(self) -> tuple[float, float]:
        t = self.throttle
        return min(t.reverse_us, t.forward_us), max(t.reverse_us, t.forward_us)

    def with_values(self, assignments: dict[str, Any], path: str | Path | None = None) -> Calibration:
        """A validated copy with dotted keys set (`throttle.neutral_us` -> 1460)."""
        data = copy.deepcopy(self.to_dict())
        for key, value in assignments.items():
            parts = key.split(".")
            node = data
            for part in parts[:-1]:
                if not isinstance(node.get(part), dict):
                    raise CalibrationError(f"unknown key {key!r}", path)
                node = node[part]
            if parts[-1] not in node or isinstance(node[parts[-1]], dict):
                raise CalibrationError(f"unknown key {key!r} (keys: {', '.join(flat_keys(self))})", path)
            node[parts[-1]] = value
        return Calibration.from_dict(data, path)


def flat_keys(cal: Calibration) -> list[str]:
    out = ["frequency_hz"]
    for section in ("steering", "throttle"):
        out += [f"{section}.{k}" for k in getattr(cal, section).__dataclass_fields__]
    return out


def flat_values(cal: Calibration) -> dict[str, float]:
    data = cal.to_dict()
    return {key: (data[key] if "." not in key else data[key.split(".")[0]][key.split(".")[1]]) for key in flat_keys(cal)}


def _check_keys(data: dict, expected: set[str], prefix: str, path) -> None:
    missing = sorted(expected - set(data))
    unknown = sorted(set(data) - expected)
    if missing:
        raise CalibrationError(f"missing key(s): {', '.join(prefix + k for k in missing)}", path)
    if unknown:
        raise CalibrationError(f"unknown key(s): {', '.join(prefix + str(k) for k in unknown)}", path)


def _number(value: Any, key: str, path) -> float:
    if isinstance(value, bool):
        raise CalibrationError(f"{key}: expected a number, got {value!r}", path)
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise CalibrationError(f"{key}: expected a number, got {value!r}", path) from None
    if out != out or out in (float("inf"), float("-inf")):
        raise CalibrationError(f"{key}: expected a finite number, got {value!r}", path)
    return out


def validation_problems(cal: Calibration) -> list[str]:
    problems = []
    if not MIN_FREQUENCY_HZ <= cal.frequency_hz <= MAX_FREQUENCY_HZ:
        problems.append(f"frequency_hz {cal.frequency_hz:g} is outside {MIN_FREQUENCY_HZ:g}-{MAX_FREQUENCY_HZ:g} Hz")
    s, t = cal.steering, cal.throttle
    pulses = {
        "steering.left_us": s.left_us,
        "steering.center_us": s.center_us,
        "steering.right_us": s.right_us,
        "throttle.reverse_us": t.reverse_us,
        "throttle.neutral_us": t.neutral_us,
        "throttle.forward_us": t.forward_us,
    }
    for key, us in pulses.items():
        if not MIN_PULSE_US <= us <= MAX_PULSE_US:
            problems.append(f"{key} {us:g} is outside {MIN_PULSE_US:g}-{MAX_PULSE_US:g} µs")
    if cal.frequency_hz > 0 and max(pulses.values()) >= 1e6 / cal.frequency_hz:
        problems.append(f"a pulse of {max(pulses.values()):g} µs does not fit the {1e6 / cal.frequency_hz:g} µs period")
    if s.left_us == s.right_us:
        problems.append("steering.left_us equals steering.right_us")
    elif not min(s.left_us, s.right_us) <= s.center_us <= max(s.left_us, s.right_us):
        problems.append("steering.center_us is not between left_us and right_us")
    if (t.forward_us - t.neutral_us) * (t.reverse_us - t.neutral_us) >= 0:
        problems.append("throttle.reverse_us and throttle.forward_us must be on opposite sides of neutral_us")
    if s.max_angle_deg <= 0:
        problems.append("steering.max_angle_deg must be positive")
    if t.top_speed_mps <= 0:
        problems.append("throttle.top_speed_mps must be positive")
    return problems


# ---------------------------------------------------------------- storage


def default_path(service: bool | None = None) -> Path:
    """$DEEPRACER_CALIBRATION, else the service's file when running as a system user, else the user's."""
    override = os.environ.get("DEEPRACER_CALIBRATION")
    if override:
        return Path(override).expanduser()
    if service is None:
        service = os.access(SERVICE_CALIBRATION, os.R_OK) and not USER_CALIBRATION.expanduser().exists()
    return SERVICE_CALIBRATION if service else USER_CALIBRATION.expanduser()


def load(path: str | Path) -> Calibration:
    """The calibration in `path`, or CalibrationError naming the file and the problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CalibrationError("calibration file not found (run `deepracer calibrate`)", path) from None
    except OSError as err:
        raise CalibrationError(f"cannot read: {err.strerror}", path) from err
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise CalibrationError(f"corrupt YAML: {err}".replace("\n", " "), path) from err
    return Calibration.from_dict(data, path)


def save(cal: Calibration, path: str | Path) -> Path:
    """Validate, then write atomically (temp file, fsync, rename); the previous good file becomes .bak."""
    path = Path(path)
    cal.validate(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "# deepracer calibration: pulse widths in microseconds (see docs/real-car.md)\n" + yaml.safe_dump(
        cal.to_dict(), sort_keys=False
    )
    try:
        load(path)
        previous_good = True
    except CalibrationError:
        previous_good = False  # a corrupt file must not overwrite the last good copy
    # temp file, fsync, copy of the good previous file to .bak, rename, fsync of the folder
    return atomic_write_text(path, text, backup=previous_good)


@dataclass
class LoadedCalibration:
    """What the car runs with, and why."""

    calibration: Calibration
    source: Path | None  # the file actually used (the .bak on fallback), None for the safe default
    throttle_locked: bool  # True: no valid calibration; throttle only ever gets neutral_us
    problem: str | None  # the error that caused a fallback, naming the file


def safe_default() -> Calibration:
    """Steering within a narrow band around 1500 µs; throttle stays locked at neutral."""
    return Calibration(50.0, Steering(1650.0, 1500.0, 1350.0, 30.0), Throttle(1400.0, 1500.0, 1600.0, 1.0))


def load_for_driving(path: str | Path) -> LoadedCalibration:
    """The file; else its last good copy; else the safe default with the throttle locked."""
    path = Path(path)
    try:
        return LoadedCalibration(load(path), path, False, None)
    except CalibrationError as err:
        problem = str(err)
    bak = backup_path(path)
    if bak.exists():
        try:
            return LoadedCalibration(load(bak), bak, False, f"{problem}; using the last good copy {bak}")
        except CalibrationError as err:
            problem = f"{problem}; last good copy also unusable: {err}"
    return LoadedCalibration(safe_default(), None, True, f"{problem}; throttle locked at neutral until calibrated")

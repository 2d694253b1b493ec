"""Drive modes and the fail-safe watchdog: which command reaches `cmd_vel`, and when it is zero.

ROS-free and clock-free: every call takes `now` (seconds, any monotonic-enough clock; the
node passes its ROS clock, so sim time under `use_sim_time`), which makes the tests exact.

Rules, in order of precedence (the output is zero when any of them says so):
- e-stop: `set_estop(True)` latches zero. It is cleared only when the e-stop is released
  (`set_estop(False)`) AND a mode is set again afterwards, so a released button alone never
  makes the car move.
- mode `stopped` (the boot default): zero.
- staleness: the active source's (manual: teleop, autonomous: policy) last command must be
  fresher than `command_timeout`; a mode change forgets earlier commands.
- bad input: a non-finite or absurd command is rejected and counts as a zero command.
`max_speed_scale` multiplies linear.x and angular.z together, so v·tan(δ)/L keeps δ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum


class Mode(StrEnum):
    STOPPED = "stopped"
    MANUAL = "manual"
    AUTONOMOUS = "autonomous"


class Source(StrEnum):
    TELEOP = "teleop"
    POLICY = "policy"


ACTIVE_SOURCE: dict[Mode, Source | None] = {
    Mode.STOPPED: None,
    Mode.MANUAL: Source.TELEOP,
    Mode.AUTONOMOUS: Source.POLICY,
}

# Beyond these a command is a bug or corruption, not a wish: DeepRacer tops out near 4 m/s,
# and at 30 degrees steering angular.z is about 3.5 * v rad/s.
MAX_ABS_LINEAR_MPS = 20.0
MAX_ABS_ANGULAR_RADPS = 100.0


class Reason(StrEnum):
    COMMAND = "command"  # the active source's command, scaled
    STOPPED = "stopped"
    STALE = "stale"  # no command from the active source within command_timeout
    ESTOP = "estop"
    REJECTED = "rejected"  # the last command was non-finite or absurd


@dataclass(frozen=True)
class Output:
    linear_x: float
    angular_z: float
    reason: Reason

    @property
    def forced_zero(self) -> bool:
        return self.reason is not Reason.COMMAND


def parse_mode(value: object) -> Mode:
    """'stopped' | 'manual' | 'autonomous' (any case) -> Mode; ValueError names the valid modes."""
    try:
        return Mode(str(value).strip().lower())
    except ValueError:
        valid = ", ".join(m.value for m in Mode)
        raise ValueError(f"unknown drive mode {value!r}; use one of: {valid}") from None


def validate_timeout(value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"command_timeout must be a positive number of seconds, not {value!r}")
    return value


def validate_scale(value: float) -> float:
    value = float(value)
    if not (0.0 <= value <= 1.0):  # also rejects NaN
        raise ValueError(f"max_speed_scale must be in [0, 1], not {value!r}")
    return value


def command_is_sane(linear_x: float, angular_z: float) -> bool:
    return (
        math.isfinite(linear_x)
        and math.isfinite(angular_z)
        and abs(linear_x) <= MAX_ABS_LINEAR_MPS
        and abs(angular_z) <= MAX_ABS_ANGULAR_RADPS
    )


_ZERO = {reason: Output(0.0, 0.0, reason) for reason in Reason}


class DriveModes:
    """The state machine behind control_node. Not thread-safe: call it from one thread."""

    def __init__(self, mode: Mode | str = Mode.STOPPED, command_timeout: float = 0.25, max_speed_scale: float = 1.0):
        self.mode = parse_mode(mode.value if isinstance(mode, Mode) else mode)
        self.command_timeout = validate_timeout(command_timeout)
        self.max_speed_scale = validate_scale(max_speed_scale)
        self.estop_pressed = False
        self.estop_latched = False
        # source -> (time received, linear.x, angular.z, sane)
        self._last: dict[Source, tuple[float, float, float, bool]] = {}

    @property
    def active_source(self) -> Source | None:
        return ACTIVE_SOURCE[self.mode]

    def set_mode(self, mode: Mode | str, now: float) -> Mode:
        """Switch mode (also re-arms after a released e-stop). Earlier commands are forgotten."""
        self.mode = parse_mode(mode.value if isinstance(mode, Mode) else mode)
        if not self.estop_pressed:
            self.estop_latched = False
        self._last.clear()
        return self.mode

    def set_estop(self, pressed: bool, now: float) -> Output:
        self.estop_pressed = bool(pressed)
        if self.estop_pressed:
            self.estop_latched = True
        return self.output(now)

    def set_speed_scale(self, scale: float) -> None:
        self.max_speed_scale = validate_scale(scale)

    def set_command_timeout(self, timeout: float) -> None:
        self.command_timeout = validate_timeout(timeout)

    def command(self, source: Source | str, linear_x: float, angular_z: float, now: float) -> Output | None:
        """Record a command. Returns the output to publish now, or None if `source` is not active."""
        source = Source(source)
        try:
            lx, az = float(linear_x), float(angular_z)
        except (TypeError, ValueError):
            lx, az = math.nan, math.nan
        self._last[source] = (now, lx, az, command_is_sane(lx, az))
        if source is not self.active_source:
            return None
        return self.output(now)

    def output(self, now: float) -> Output:
        """What `cmd_vel` should say at time `now`."""
        if self.estop_latched:
            return _ZERO[Reason.ESTOP]
        source = self.active_source
        if source is None:
            return _ZERO[Reason.STOPPED]
        last = self._last.get(source)
        if last is None:
            return _ZERO[Reason.STALE]
        stamp, lx, az, sane = last
        age = now - stamp
        if not (0.0 <= age < self.command_timeout):
            return _ZERO[Reason.STALE]
        if not sane:
            return _ZERO[Reason.REJECTED]
        s = self.max_speed_scale
        return Output(lx * s + 0.0, az * s + 0.0, Reason.COMMAND)  # + 0.0 turns -0.0 into 0.0

"""The interactive calibration wizard, like the DeepRacer console's, driven by single keys.

Steps: steering centre, full left, full right, angle at full lock; throttle neutral,
direction, max forward, max reverse, speed at max forward; then save. The wheels move live
while a pulse is nudged: the wizard writes raw pulses to a `PulseSink` (a PWM backend
directly, or `servo/raw` through the running servo node).

Keys (pulse steps): + / - or → / ← nudge 10 µs, ] / [ nudge 1 µs, } / { nudge 50 µs,
Enter accepts, b goes back, q (or Ctrl-C) quits without saving. Number steps: type the
value, Enter accepts (empty keeps the value shown). Direction: y / n.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, TextIO

from deepracer.control.calibration import Calibration
from deepracer.control.servo_mapping import clamp_raw

NUDGES = {"+": 10, "=": 10, "RIGHT": 10, "UP": 10, "-": -10, "_": -10, "LEFT": -10, "DOWN": -10,
          "]": 1, "[": -1, "}": 50, "{": -50}
DIRECTION_PROBE_US = 80  # how far from neutral the direction test pulses


class PulseSink(Protocol):
    def show(self, throttle_us: float, steering_us: float) -> None:
        """Move the wheels: raw pulses, only limited to 500-2500 µs."""


class Quit(Exception):
    """The user quit the wizard (q, Ctrl-C or end of input): nothing is saved."""


def read_keys(stream: TextIO) -> Iterator[str]:
    """Single keys from `stream` (cbreak mode on a terminal); arrows become LEFT/RIGHT/UP/DOWN."""
    try:
        fd: int | None = stream.fileno()
    except (AttributeError, OSError, ValueError):  # StringIO: injected keys
        fd = None
    with _cbreak(fd):
        while True:
            ch = _read1(stream, fd)
            if ch == "":
                return
            if ch == "\x1b":
                seq = _read1(stream, fd) + _read1(stream, fd)
                yield {"[A": "UP", "[B": "DOWN", "[C": "RIGHT", "[D": "LEFT"}.get(seq, "ESC")
            elif ch in "\r\n":
                yield "ENTER"
            else:
                yield ch


def _read1(stream: TextIO, fd: int | None) -> str:
    if fd is not None and os.isatty(fd):
        return os.read(fd, 1).decode(errors="replace")  # unbuffered: one key, no waiting for a line
    return stream.read(1)


@contextlib.contextmanager
def _cbreak(fd: int | None):
    try:
        is_tty = fd is not None and os.isatty(fd)
    except (OSError, ValueError):
        is_tty = False
    if not is_tty:
        yield
        return
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@dataclass
class Step:
    key: str  # calibration key, or "direction"
    title: str
    kind: str  # pulse | number | direction


STEPS = [
    Step("steering.center_us", "Steering centre: nudge until the front wheels point straight ahead", "pulse"),
    Step("steering.left_us", "Full LEFT: nudge to the left end of travel (stop before the servo strains)", "pulse"),
    Step("steering.right_us", "Full RIGHT: nudge to the right end of travel", "pulse"),
    Step("steering.max_angle_deg", "Steering angle at full lock, degrees", "number"),
    Step("throttle.neutral_us", "Throttle NEUTRAL (wheels off the ground!): nudge until the wheels stand still", "pulse"),
    Step("direction", "Throttle direction: the wheels now turn slowly. Are they turning FORWARD? [y/n]", "direction"),
    Step("throttle.forward_us", "Max FORWARD: nudge to the fastest forward pulse you want to allow", "pulse"),
    Step("throttle.reverse_us", "Max REVERSE: nudge to the fastest reverse pulse you want to allow", "pulse"),
    Step("throttle.top_speed_mps", "Speed at max forward, m/s (measure it or estimate)", "number"),
]


class CalibrationWizard:
    def __init__(self, start: Calibration, sink: PulseSink, keys: Iterator[str], out: TextIO = sys.stdout):
        self.values = {
            "steering.center_us": start.steering.center_us, "steering.left_us": start.steering.left_us,
            "steering.right_us": start.steering.right_us, "steering.max_angle_deg": start.steering.max_angle_deg,
            "throttle.neutral_us": start.throttle.neutral_us, "throttle.forward_us": start.throttle.forward_us,
            "throttle.reverse_us": start.throttle.reverse_us, "throttle.top_speed_mps": start.throttle.top_speed_mps,
        }
        self.start = start
        self.forward_sign = 1 if start.throttle.forward_us > start.throttle.neutral_us else -1
        self.sink = sink
        self.keys = keys
        self.out = out

    def _key(self) -> str:
        key = next(self.keys, None)
        if key is None or key in ("q", "Q", "\x03", "\x04"):
            raise Quit()
        return key

    def _say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _live(self, key: str, value: float) -> None:
        """Show the pulse being edited on its own channel, the other one at rest."""
        steering = value if key.startswith("steering.") else self.values["steering.center_us"]
        throttle = value if key.startswith("throttle.") else self.values["throttle.neutral_us"]
        self.sink.show(throttle, steering)

    def run(self) -> Calibration:
        """The new calibration (not yet saved), or Quit."""
        self._say("deepracer calibration: + - (10 µs), ] [ (1 µs), } { (50 µs), Enter accepts, b back, q quits")
        i = 0
        try:
            while i < len(STEPS):
                step = STEPS[i]
                before = self.values.get(step.key)
                result = getattr(self, f"_{step.kind}")(step)
                if result == "back":
                    if before is not None:
                        self.values[step.key] = before
                    i = max(0, i - 1)
                    continue
                i += 1
            cal = self._build()
            self._say("new calibration:")
            for key, value in self.values.items():
                self._say(f"  {key} = {value:g}")
            self._say("save it? [y/n]")
            while True:
                key = self._key()
                if key in ("y", "Y"):
                    return cal
                if key in ("n", "N"):
                    raise Quit()
        finally:
            self.sink.show(self.values["throttle.neutral_us"], self.values["steering.center_us"])

    def _build(self) -> Calibration:
        from deepracer.errors import CalibrationError

        try:
            return self.start.with_values(dict(self.values))
        except CalibrationError as err:
            self._say(f"not saved: {err}")
            raise Quit() from err

    def _pulse(self, step: Step) -> str | None:
        if step.key == "throttle.forward_us" or step.key == "throttle.reverse_us":
            sign = self.forward_sign if step.key == "throttle.forward_us" else -self.forward_sign
            neutral = self.values["throttle.neutral_us"]
            if (self.values[step.key] - neutral) * sign <= 0:  # start on the right side of neutral
                self.values[step.key] = neutral + sign * 100
        value = self.values[step.key]
        self._say(f"{step.title}\n  {step.key} = {value:g} µs")
        self._live(step.key, value)
        while True:
            key = self._key()
            if key == "ENTER":
                self.values[step.key] = value
                self._say(f"  {step.key} = {value:g} µs  ✓")
                return None
            if key in ("b", "B"):
                return "back"
            if key in NUDGES:
                value = clamp_raw(value + NUDGES[key])
                self._say(f"  {step.key} = {value:g} µs")
                self._live(step.key, value)

    def _number(self, step: Step) -> str | None:
        current = self.values[step.key]
        self._say(f"{step.title} [{current:g}]: ")
        typed = ""
        while True:
            key = self._key()
            if key == "ENTER":
                if not typed:
                    return None
                try:
                    number = float(typed)
                except ValueError:
                    number = 0.0
                if number <= 0:
                    self._say(f"  {typed!r} is not a positive number, try again [{current:g}]:")
                    typed = ""
                    continue
                self.values[step.key] = number
                self._say(f"  {step.key} = {number:g}  ✓")
                return None
            if key in ("b", "B"):
                return "back"
            if key in ("\x7f", "\b"):
                typed = typed[:-1]
            elif len(key) == 1 and (key.isdigit() or key == "."):
                typed += key

    def _direction(self, step: Step) -> str | None:
        neutral = self.values["throttle.neutral_us"]
        self._say(step.title)
        self.sink.show(neutral + DIRECTION_PROBE_US, self.values["steering.center_us"])
        try:
            while True:
                key = self._key()
                if key in ("y", "Y", "n", "N"):
                    self.forward_sign = 1 if key in ("y", "Y") else -1
                    self._say("  forward is " + ("above" if self.forward_sign > 0 else "below") + " neutral")
                    return None
                if key in ("b", "B"):
                    return "back"
        finally:
            self.sink.show(neutral, self.values["steering.center_us"])

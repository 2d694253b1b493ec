"""Loading and guarding DeepRacer reward functions.

A reward file written for the DeepRacer console works unchanged: `reward_function(params)`
with DeepRacer's params dict. So does the original 2018 positional signature
`reward_function(on_track, x, y, distance_from_center, car_orientation, progress, steps,
throttle, steering, track_width, waypoints, closest_waypoint)`.

Every call is checked: an exception, NaN, inf, a non-number or a value outside ±1e5 raises
`RewardFunctionError` naming the file, the line and the params that caused it, so a bad reward
stops training at once instead of silently teaching the car nonsense.

Every call also has a time limit (`timeout_s`, default DEFAULT_TIMEOUT_S; validation uses
VALIDATION_TIMEOUT_S per situation, as DeepRacer's validator gives 5 s per test): a function that
never returns (`while True: pass`) raises RewardFunctionError with the line it was stuck on
instead of hanging training. The limit is an interval timer (SIGALRM), so it holds in the main
thread of a process: the trainer's own and each training worker's (deepracer/train/vec_env.py). Elsewhere (another
thread) the call runs without a limit.
"""

from __future__ import annotations

import importlib.util
import inspect
import math
import numbers
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from deepracer.errors import RewardFunctionError

REWARD_LIMIT = 1e5
DEFAULT_TIMEOUT_S = 1.0  # per call in training: a reward takes microseconds; a second is a hang
VALIDATION_TIMEOUT_S = 5.0  # per situation in validation, as DeepRacer's validator
FUNCTION_NAME = "reward_function"
# The original 2018 DeepRacer signature, in order.
LEGACY_ARGS = (
    "on_track", "x", "y", "distance_from_center", "car_orientation", "progress", "steps",
    "throttle", "steering", "track_width", "waypoints", "closest_waypoint",
)


def legacy_args(params: Mapping[str, Any]) -> tuple[Any, ...]:
    """DeepRacer's params dict -> the 2018 positional arguments.

    car_orientation and steering were radians in 2018; throttle is the speed in m/s.
    """
    return (
        bool(params["all_wheels_on_track"]), params["x"], params["y"], params["distance_from_center"],
        math.radians(params["heading"]), params["progress"], params["steps"], params["speed"],
        math.radians(params["steering_angle"]), params["track_width"], params["waypoints"],
        params["closest_waypoints"][0],
    )


def describe_params(params: Mapping[str, Any]) -> str:
    """A one-line summary of the params, with long lists shortened."""
    parts = []
    for key, value in params.items():
        if isinstance(value, (list, tuple)) and len(value) > 4:
            value = f"<{len(value)} items>"
        elif isinstance(value, float):
            value = round(value, 4)
        parts.append(f"{key}={value}")
    return "{" + ", ".join(parts) + "}"


class RewardTimeout(BaseException):
    """Raised inside a reward call that runs over its time limit (BaseException: a user's
    `except Exception` cannot swallow it)."""


_alarm: dict[str, Any] = {"armed": False, "installed": False, "previous": None, "fired": 0, "what": ""}
SWALLOWED_LIMIT = 30  # repeats (0.1 s apart) before a function that keeps catching the timeout ends the process


def _on_alarm(signum: int, frame: Any) -> None:
    if _alarm["armed"]:
        _alarm["fired"] += 1
        if _alarm["fired"] > SWALLOWED_LIMIT:
            # the function catches BaseException around its endless loop: nothing in this thread can
            # stop it, so the process ends with the reason (training would hang otherwise)
            sys.stderr.write(f"deepracer: error: {_alarm['what']}: the reward function did not return and kept "
                             "catching its time limit (a bare except: around a loop); stopping\n")
            sys.stderr.flush()
            os._exit(2)
        raise RewardTimeout
    previous = _alarm["previous"]
    if callable(previous):  # someone else's alarm
        previous(signum, frame)


@contextmanager
def time_limit(seconds: float | None, what: str = "reward function") -> Iterator[None]:
    """Raise RewardTimeout in the code inside after `seconds` of wall time (main thread only).

    The handler is installed once per process (a few microseconds per call instead of tens).
    """
    if not seconds or seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return
    if not _alarm["installed"] or signal.getsignal(signal.SIGALRM) is not _on_alarm:
        _alarm["previous"] = signal.signal(signal.SIGALRM, _on_alarm)
        _alarm["installed"] = True
    _alarm["armed"], _alarm["fired"], _alarm["what"] = True, 0, what
    # repeating: a function whose bare `except:` swallows the first one gets another 0.1 s later
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.1)
    try:
        yield
    finally:
        _alarm["armed"] = False
        signal.setitimer(signal.ITIMER_REAL, 0)


class RewardFunction:
    """A user's reward function, loaded from a file and checked on every call."""

    def __init__(self, path: str | Path, timeout_s: float | None = DEFAULT_TIMEOUT_S) -> None:
        self.path = Path(path).resolve()
        self.timeout_s = timeout_s
        self.source = self._read()
        self.function, self.legacy = self._load()
        self.calls = 0

    def _read(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise RewardFunctionError("reward function file not found", self.path) from None
        except (OSError, UnicodeDecodeError) as err:
            raise RewardFunctionError(f"cannot read: {err}", self.path) from err

    def _load(self) -> tuple[Callable[..., Any], bool]:
        try:
            code = compile(self.source, str(self.path), "exec")
        except SyntaxError as err:
            raise RewardFunctionError(f"line {err.lineno}: syntax error: {err.msg}", self.path) from None
        name = f"_deepracer_reward_{abs(hash(str(self.path)))}"
        spec = importlib.util.spec_from_loader(name, loader=None, origin=str(self.path))
        assert spec is not None
        module = importlib.util.module_from_spec(spec)
        module.__file__ = str(self.path)
        try:
            with time_limit(max(self.timeout_s or 0.0, VALIDATION_TIMEOUT_S), str(self.path)):
                exec(code, module.__dict__)  # the user's file, as DeepRacer runs it
        except RewardTimeout as err:
            raise RewardFunctionError(f"{self._where(err)}loading did not finish within "
                                      f"{max(self.timeout_s or 0.0, VALIDATION_TIMEOUT_S):g} s", self.path) from None
        except Exception as err:
            raise RewardFunctionError(f"{self._where(err)}loading failed: {type(err).__name__}: {err}", self.path) from err
        function = module.__dict__.get(FUNCTION_NAME)
        if not callable(function):
            raise RewardFunctionError(f"defines no function named {FUNCTION_NAME}", self.path)
        try:
            names = [
                p.name for p in inspect.signature(function).parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            ]
        except (TypeError, ValueError):
            names = ["params"]
        if len(names) == len(LEGACY_ARGS):
            return function, True
        if len(names) != 1:
            raise RewardFunctionError(
                f"{FUNCTION_NAME} takes {len(names)} arguments; expected reward_function(params) "
                f"or the 2018 signature with {len(LEGACY_ARGS)} arguments ({', '.join(LEGACY_ARGS)})",
                self.path,
            )
        return function, False

    def _where(self, err: BaseException) -> str:
        """'line N: ' for the deepest frame of the traceback inside the user's file."""
        frames = [f for f in traceback.extract_tb(err.__traceback__) if Path(f.filename) == self.path]
        if frames:
            return f"line {frames[-1].lineno}: "
        return ""

    def __call__(self, params: Mapping[str, Any]) -> float:
        self.calls += 1
        # A copy, so that a function that edits its params cannot corrupt the simulator's.
        given = dict(params)
        try:
            with time_limit(self.timeout_s, str(self.path)):
                value = self.function(*legacy_args(given)) if self.legacy else self.function(given)
        except RewardTimeout as err:
            raise RewardFunctionError(
                f"{self._where(err)}did not return within {self.timeout_s:g} s (time limit per call, "
                f"--reward-timeout); params: {describe_params(params)}",
                self.path,
            ) from None
        except Exception as err:
            raise RewardFunctionError(
                f"{self._where(err)}raised {type(err).__name__}: {err}; params: {describe_params(params)}",
                self.path,
            ) from err
        return self.check(value, params)

    def check(self, value: Any, params: Mapping[str, Any]) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            problem = f"returned {type(value).__name__} {value!r}, not a number"
        elif not math.isfinite(float(value)):
            problem = f"returned {float(value)}"
        elif abs(float(value)) > REWARD_LIMIT:
            problem = f"returned {float(value):g}, outside ±{REWARD_LIMIT:g}"
        else:
            return float(value)
        raise RewardFunctionError(f"{self._return_line(params)}{problem}; params: {describe_params(params)}", self.path)

    def _return_line(self, params: Mapping[str, Any]) -> str:
        """'line N: ' of the `return` that produced a bad value, found by replaying the call traced."""
        code = getattr(self.function, "__code__", None)
        lines: list[int] = []

        def tracer(frame: Any, event: str, arg: Any) -> Any:
            if frame.f_code is code:
                if event == "return":
                    lines.append(frame.f_lineno)
                return tracer
            return None

        old = sys.gettrace()
        sys.settrace(tracer)
        try:
            given = dict(params)
            with time_limit(self.timeout_s, str(self.path)):
                self.function(*legacy_args(given)) if self.legacy else self.function(given)
        except (Exception, RewardTimeout):
            pass
        finally:
            sys.settrace(old)
        return f"line {lines[-1]}: " if lines else ""

    # The trainer's subprocesses receive the function by pickling; reload it from the file there.
    def __getstate__(self) -> dict[str, Any]:
        return {"path": str(self.path), "timeout_s": self.timeout_s}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], state.get("timeout_s", DEFAULT_TIMEOUT_S))  # type: ignore[misc]

    def fresh(self) -> RewardFunction:
        """The same function in a module of its own: DeepRacer runs one simulator per process, so
        a reward function may keep state in its module's globals (the previous step's progress);
        environments that share a process each need their own copy of them."""
        return RewardFunction(self.path, self.timeout_s)

    @contextmanager
    def limited(self, timeout_s: float | None) -> Iterator[RewardFunction]:
        """This function with another per-call time limit inside the block (validation's)."""
        before, self.timeout_s = self.timeout_s, timeout_s
        try:
            yield self
        finally:
            self.timeout_s = before


def load_reward_function(path: str | Path, timeout_s: float | None = DEFAULT_TIMEOUT_S) -> RewardFunction:
    return RewardFunction(path, timeout_s)


def default_reward_path() -> Path:
    """DeepRacer-for-Cloud's default reward function (centre line, penalise zig-zag), shipped with the package."""
    return Path(__file__).resolve().parent / "rewards" / "default.py"


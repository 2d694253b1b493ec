"""Loading and guarding DeepRacer reward functions.

A reward file written for the DeepRacer console works unchanged: `reward_function(params)`
with DeepRacer's params dict. So does the original 2018 positional signature
`reward_function(on_track, x, y, distance_from_center, car_orientation, progress, steps,
throttle, steering, track_width, waypoints, closest_waypoint)`.

Every call is checked: an exception, NaN, inf, a non-number or a value outside ±1e5 raises
`RewardFunctionError` naming the file, the line and the params that caused it, so a bad reward
stops training at once instead of silently teaching the car nonsense.
"""

from __future__ import annotations

import importlib.util
import inspect
import math
import numbers
import sys
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from deepracer.errors import RewardFunctionError

REWARD_LIMIT = 1e5
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


class RewardFunction:
    """A user's reward function, loaded from a file and checked on every call."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).resolve()
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
            exec(code, module.__dict__)  # the user's file, as DeepRacer runs it
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
            value = self.function(*legacy_args(given)) if self.legacy else self.function(given)
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
            self.function(*legacy_args(given)) if self.legacy else self.function(given)
        except Exception:
            pass
        finally:
            sys.settrace(old)
        return f"line {lines[-1]}: " if lines else ""

    # The trainer's subprocesses receive the function by pickling; reload it from the file there.
    def __getstate__(self) -> dict[str, Any]:
        return {"path": str(self.path)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"])  # type: ignore[misc]


def load_reward_function(path: str | Path) -> RewardFunction:
    return RewardFunction(path)


def default_reward_path() -> Path:
    """DeepRacer-for-Cloud's default reward function (centre line, penalise zig-zag), shipped with the package."""
    return Path(__file__).resolve().parent / "rewards" / "default.py"


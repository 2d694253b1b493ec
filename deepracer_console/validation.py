"""Server-side validation of the Create model form and the evaluation form, field by field,
against the console's ranges (defaults.py). Each failure names its field."""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any

from deepracer_console import defaults as d
from deepracer_console.errors import FieldError


def check_name(name: str) -> str:
    if not re.match(d.NAME_PATTERN, name or ""):
        raise FieldError("a model name is 1-64 characters: letters, digits and - (no spaces)", "name")
    return name


def check_description(text: str) -> str:
    if not re.match(d.DESCRIPTION_PATTERN, text or ""):
        raise FieldError("a description is up to 255 characters: letters, digits, spaces and -", "description")
    return text or ""


def check_direction(direction: str | None, field: str = "direction") -> str:
    value = (direction or d.DEFAULT_DIRECTION).lower().replace("-", "").replace("_", "")
    if value not in d.DIRECTIONS:
        raise FieldError(f"direction must be one of {', '.join(d.DIRECTIONS)}, not {direction!r}", field)
    return value


@lru_cache(maxsize=1)
def supported_race_types() -> tuple[str, ...]:
    """What `deepracer train` accepts now (its --race-type choices; time_trial alone without the flag)."""
    import argparse

    from deepracer.commands import train

    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    for action in parser._actions:
        if "--race-type" in action.option_strings:
            return tuple(str(c) for c in (action.choices or d.RACE_TYPES))
    return ("time_trial",)


def check_race_type(race_type: str | None, field: str = "race_type") -> str:
    value = (race_type or d.DEFAULT_RACE_TYPE).lower()
    if value not in supported_race_types():
        raise FieldError(f"race type {race_type!r} is not available here; choose "
                         f"{', '.join(supported_race_types())}", field)
    return value


def check_algorithm(algorithm: str | None) -> str:
    value = (algorithm or d.DEFAULT_ALGORITHM).lower()
    value = {"clipped_ppo": "ppo"}.get(value, value)
    if value not in d.ALGORITHMS:
        raise FieldError(f"algorithm must be PPO or SAC, not {algorithm!r}", "algorithm")
    return value


def check_network(network: str | None) -> str:
    value = (network or d.DEFAULT_NETWORK).lower()
    by_metadata = {v["neural_network"].lower(): k for k, v in d.NETWORKS.items()}
    value = by_metadata.get(value, value)
    if value not in d.NETWORKS:
        raise FieldError(f"network must be one of {', '.join(d.NETWORKS)}, not {network!r}", "network")
    if not d.NETWORKS[value]["available"]:
        raise FieldError(f"network {value!r}: {d.NETWORKS[value]['reason']}", "network")
    return value


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        raise FieldError(f"{field} must be a number, not {value!r}", field)
    return float(value)


def _within(value: float, lo: float, hi: float, field: str, unit: str = "") -> float:
    if not lo <= value <= hi:
        raise FieldError(f"{field} must be between {lo:g} and {hi:g}{unit}, not {value:g}", field)
    return value


def check_action_space(space: Any, space_type: str | None, algorithm: str) -> tuple[str, Any]:
    """(action_space_type, action_space as in model_metadata.json)."""
    if space is None:
        space = d.default_action_space() if algorithm == "ppo" else d.CONTINUOUS["default"]
    kind = space_type or ("discrete" if isinstance(space, list) else "continuous")
    if algorithm == "sac" and kind != "continuous":
        raise FieldError("SAC needs a continuous action space", "action_space_type")
    if kind == "discrete":
        lim = d.DISCRETE_ACTIONS
        if not isinstance(space, list):
            raise FieldError("a discrete action space is a list of {steering_angle, speed}", "action_space")
        if not lim["min_actions"] <= len(space) <= lim["max_actions"]:
            raise FieldError(f"a discrete action space has {lim['min_actions']}-{lim['max_actions']} actions, "
                             f"not {len(space)}", "action_space")
        out = []
        for i, a in enumerate(space):
            f = f"action_space[{i}]"
            if not isinstance(a, dict) or "steering_angle" not in a or "speed" not in a:
                raise FieldError(f"{f} needs steering_angle and speed", f)
            st = _within(_number(a["steering_angle"], f"{f}.steering_angle"), *lim["steering_angle"],
                         f"{f}.steering_angle", " degrees")
            sp = _within(_number(a["speed"], f"{f}.speed"), *lim["speed"], f"{f}.speed", " m/s")
            out.append({"steering_angle": st, "speed": sp, "index": i})
        return "discrete", out
    if kind != "continuous":
        raise FieldError(f"action_space_type must be discrete or continuous, not {kind!r}", "action_space_type")
    c = d.CONTINUOUS
    try:
        st, sp = space["steering_angle"], space["speed"]
        st_lo, st_hi = _number(st["low"], "action_space.steering_angle.low"), _number(
            st["high"], "action_space.steering_angle.high")
        sp_lo, sp_hi = _number(sp["low"], "action_space.speed.low"), _number(sp["high"], "action_space.speed.high")
    except (KeyError, TypeError):
        raise FieldError("a continuous action space is {steering_angle: {low, high}, speed: {low, high}}",
                         "action_space") from None
    _within(st_lo, *c["steering_low"], "action_space.steering_angle.low", " degrees")
    _within(st_hi, *c["steering_high"], "action_space.steering_angle.high", " degrees")
    _within(sp_lo, *c["speed"], "action_space.speed.low", " m/s")
    _within(sp_hi, *c["speed"], "action_space.speed.high", " m/s")
    if st_lo >= st_hi:
        raise FieldError("the steering angle's low must be below its high", "action_space.steering_angle")
    if sp_lo >= sp_hi:
        raise FieldError("the speed's low must be below its high", "action_space.speed")
    return "continuous", {"steering_angle": {"low": st_lo, "high": st_hi}, "speed": {"low": sp_lo, "high": sp_hi}}


def check_hyperparameters(given: dict[str, Any] | None, algorithm: str) -> dict[str, Any]:
    """The algorithm's defaults overlaid with `given`, each key in the console's range."""
    from deepracer.errors import ConfigError
    from deepracer.train.hyperparameters import HyperParameters

    values = dict(d.HYPERPARAMETERS[algorithm])
    for key, value in (given or {}).items():
        if key not in d.HYPERPARAMETER_RANGES and key not in d.EXTRA_HYPERPARAMETERS:
            raise FieldError(f"unknown hyperparameter {key!r}", f"hyperparameters.{key}")
        if algorithm == "ppo" and key == "sac_alpha" or algorithm == "sac" and key in ("num_epochs", "beta_entropy"):
            continue  # the other algorithm's key, as the console keeps it in the file
        values[key] = value
    for key, rng in d.HYPERPARAMETER_RANGES.items():
        if key not in values:
            continue
        field, value = f"hyperparameters.{key}", values[key]
        if "choices" in rng:
            if isinstance(value, str):
                value = value.lower().replace("_", "-") if key == "exploration_type" else value.lower()
                value = "mean squared error" if value in ("mse", "mean_squared_error") else value
            if value not in rng["choices"]:
                raise FieldError(f"{key} must be one of {', '.join(map(str, rng['choices']))}, not {value!r}", field)
        elif key == "num_episodes_between_training" and algorithm == "sac":
            if _number(value, field) != 1:
                raise FieldError("SAC trains after every episode: num_episodes_between_training must be 1", field)
            value = 1
        else:
            value = _within(_number(value, field), rng["min"], rng["max"], field)
            if rng.get("integer"):
                if value != int(value):
                    raise FieldError(f"{key} must be a whole number, not {value:g}", field)
                value = int(value)
        values[key] = value
    if algorithm == "sac":
        values["num_episodes_between_training"] = 1
    try:  # the trainer's own checks (extra keys included)
        HyperParameters.from_dict(values)
    except ConfigError as err:
        raise FieldError(str(err), "hyperparameters") from None
    return values


def check_reward_source(source: str | None) -> str:
    text = d.reward_example(d.DEFAULT_REWARD_EXAMPLE) if source is None else source
    if not text.strip():
        raise FieldError("the reward function is empty", "reward_function")
    if len(text) > d.REWARD_MAX_CHARS:
        raise FieldError(f"the reward function has {len(text)} characters; the limit is {d.REWARD_MAX_CHARS}",
                         "reward_function")
    return text


def check_max_minutes(minutes: Any) -> int:
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        raise FieldError(f"max_minutes must be a whole number of minutes, not {minutes!r}", "max_minutes")
    return int(_within(minutes, d.MAX_MINUTES_MIN_LOCAL, d.MAX_MINUTES_RANGE[1], "max_minutes", " minutes"))


def check_max_steps(steps: Any) -> int | None:
    if steps is None:
        return None
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 100:
        raise FieldError(f"max_steps must be a whole number of at least 100, not {steps!r}", "max_steps")
    return steps


def check_trials(trials: Any) -> int:
    r = d.EVALUATION["trials"]
    if isinstance(trials, bool) or not isinstance(trials, int) or not r["min"] <= trials <= r["max"]:
        raise FieldError(f"trials must be a whole number from {r['min']} to {r['max']}, not {trials!r}", "trials")
    return trials


def check_penalty(penalty: Any) -> float:
    r = d.EVALUATION["off_track_penalty_s"]
    return _within(_number(penalty, "off_track_penalty_s"), r["min"], r["max"], "off_track_penalty_s", " s")


# -- race types' options and the sensors (the wizard's "Race type" and "Sensors" steps) ----------------
OBJECT_PROGRESS_PCT = (7.0, 90.0)  # DeepRacer console: fixed object positions at 7-90 % of the lap ...
OBJECT_MIN_GAP_PCT = 13.0  # ... at least 13 % apart
BOT_SPEED_MPS = (0.2, 6.0)  # the console's bot speed range
COLLISION_PENALTY_S = (0.0, 60.0)
RACE_OPTION_KEYS = {
    "object_avoidance": ("objects", "object_positions", "randomize_objects", "obstacle_bot_cars",
                         "collision_penalty_s"),
    "head_to_bot": ("bots", "bot_speed", "bot_lane_change", "lane_change_min_s", "lane_change_max_s",
                    "randomize_bots", "collision_penalty_s"),
    "time_trial": (),
}


def _int_in(value: Any, low: int, high: int, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise FieldError(f"{field} must be a whole number {low}-{high}, not {value!r}", field)
    return value


def _bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise FieldError(f"{field} must be true or false, not {value!r}", field)
    return value


def _positions(value: Any, field: str) -> list[list[Any]]:
    """[[progress %, "inner"|"outer"], ...] (or DeepRacer's lane 1 = inner, -1 = outer), checked
    against the DeepRacer console's rules."""
    if not isinstance(value, list) or not 1 <= len(value) <= 6:
        raise FieldError(f"{field} must be a list of 1-6 [progress %, lane] pairs", field)
    out: list[list[Any]] = []
    for i, item in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise FieldError(f"{where} must be [progress %, lane]", where)
        progress = _number(item[0], where)
        if not OBJECT_PROGRESS_PCT[0] <= progress <= OBJECT_PROGRESS_PCT[1]:
            raise FieldError(f"{where}: an object sits at {OBJECT_PROGRESS_PCT[0]:g}-{OBJECT_PROGRESS_PCT[1]:g} % "
                             f"of the lap, not {progress:g}", where)
        lane = {"inner": "inner", "inside": "inner", "1": "inner", "outer": "outer", "outside": "outer",
                "-1": "outer"}.get(str(item[1]).lower())
        if lane is None:
            raise FieldError(f"{where}: lane must be inner or outer, not {item[1]!r}", where)
        out.append([progress, lane])
    ordered = sorted(p for p, _ in out)
    for a, b in zip(ordered, ordered[1:], strict=False):
        if b - a < OBJECT_MIN_GAP_PCT:
            raise FieldError(f"{field}: objects at {a:g} % and {b:g} % are less than {OBJECT_MIN_GAP_PCT:g} % apart",
                             field)
    return out


def check_race_options(race_type: str, options: dict[str, Any] | None, field: str = "race") -> dict[str, Any]:
    """The race type's options (object count/positions/randomize, bot count/speed/lane changes, collision
    penalty), each checked and named `race.<key>` when wrong; only the given race type's keys."""
    options = dict(options or {})
    allowed = RACE_OPTION_KEYS.get(race_type, ())
    for key, value in options.items():
        if key not in allowed and value not in (None, False):
            raise FieldError(f"{key} is not an option of a {race_type} race" + (
                f" (options: {', '.join(allowed)})" if allowed else ""), f"{field}.{key}")
    out: dict[str, Any] = {}
    for key in allowed:
        value = options.get(key)
        if value is None:
            continue
        name = f"{field}.{key}"
        if key in ("objects", "bots"):
            out[key] = _int_in(value, 1, 6, name)
        elif key == "object_positions":
            out[key] = _positions(value, name)
        elif key == "bot_speed":
            speed = _number(value, name)
            if not BOT_SPEED_MPS[0] <= speed <= BOT_SPEED_MPS[1]:
                raise FieldError(f"{name} must be {BOT_SPEED_MPS[0]:g}-{BOT_SPEED_MPS[1]:g} m/s, not {speed:g}", name)
            out[key] = speed
        elif key in ("lane_change_min_s", "lane_change_max_s"):
            seconds = _number(value, name)
            if not 1.0 <= seconds <= 60.0:
                raise FieldError(f"{name} must be 1-60 seconds, not {seconds:g}", name)
            out[key] = seconds
        elif key == "collision_penalty_s":
            seconds = _number(value, name)
            if not COLLISION_PENALTY_S[0] <= seconds <= COLLISION_PENALTY_S[1]:
                raise FieldError(f"{name} must be {COLLISION_PENALTY_S[0]:g}-{COLLISION_PENALTY_S[1]:g} seconds", name)
            out[key] = seconds
        else:
            out[key] = _bool(value, name)
    if out.get("lane_change_min_s", 0.0) > out.get("lane_change_max_s", 1e9):
        raise FieldError("the shortest time between lane changes is longer than the longest",
                         f"{field}.lane_change_min_s")
    return out


def race_argv(options: dict[str, Any], penalties: bool = True) -> list[str]:
    """The checked options as `deepracer train/evaluate` arguments (after --race-type)."""
    argv: list[str] = []
    for key, flag in (("objects", "--objects"), ("bots", "--bots"), ("bot_speed", "--bot-speed"),
                      ("lane_change_min_s", "--bot-lane-change-min"), ("lane_change_max_s", "--bot-lane-change-max")):
        if options.get(key) is not None:
            argv += [flag, f"{options[key]:g}"]
    if options.get("object_positions"):
        argv += ["--object-positions", ";".join(f"{p:g},{lane}" for p, lane in options["object_positions"])]
    for key, flag in (("randomize_objects", "--randomize-objects"), ("obstacle_bot_cars", "--obstacle-bot-cars"),
                      ("bot_lane_change", "--bot-lane-change"), ("randomize_bots", "--randomize-bots")):
        if options.get(key):
            argv.append(flag)
    if penalties and options.get("collision_penalty_s") is not None:
        argv += ["--collision-penalty", f"{options['collision_penalty_s']:g}"]
    return argv


SENSOR_CHOICES = ("FRONT_FACING_CAMERA", "STEREO_CAMERAS", "LIDAR", "SECTOR_LIDAR")  # the garage's


def check_sensors(sensors: list[str] | None, hyperparameters: dict[str, Any] | None = None,
                  field: str = "sensor") -> list[str]:
    """DeepRacer's sensor list (model_metadata.json `sensor`): one camera (front or stereo), at most one
    LiDAR; frame stacking (stack_size > 1) only with the front camera alone, as the trainer has it."""
    from deepracer.errors import ModelPackageError
    from deepracer.model.sensors import parse_sensors

    names = list(sensors or ["FRONT_FACING_CAMERA"])
    if not isinstance(sensors, (list, type(None))) or not all(isinstance(n, str) for n in names):
        raise FieldError(f"{field} must be a list of sensor names", field)
    unknown = [n for n in names if n not in SENSOR_CHOICES]
    if unknown:
        raise FieldError(f"sensor {unknown[0]!r} is not one of {', '.join(SENSOR_CHOICES)}", field)
    try:
        parse_sensors(names)
    except ModelPackageError as err:
        raise FieldError(str(err).split(": ", 1)[-1], field) from None
    stack = int((hyperparameters or {}).get("stack_size", 1) or 1)
    if names != ["FRONT_FACING_CAMERA"] and stack > 1:
        raise FieldError(f"stack_size {stack}: frame stacking is for the front camera alone; "
                         f"{'+'.join(names)} takes one observation", "hyperparameters.stack_size")
    return names

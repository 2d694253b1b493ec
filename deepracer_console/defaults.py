"""The console's defaults and allowed ranges: DeepRacer's (shared/deepracer-facts.md §8, §9),
with our extensions marked. One source: the server validates against these and GET
/api/defaults hands them to the pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deepracer.sim.race import EVALUATION_OFF_TRACK_PENALTY_S, EVALUATION_TRIALS
from deepracer.train.network_names import DEFAULT_NETWORK as TRAIN_DEFAULT_NETWORK
from deepracer.train.network_names import NETWORK_NAMES

NAME_PATTERN = r"^[a-zA-Z0-9-]{1,64}$"
DESCRIPTION_PATTERN = r"^[a-zA-Z0-9- ]{0,255}$"
REWARD_MAX_CHARS = 140_000

DIRECTIONS = ("counterclockwise", "clockwise")
DEFAULT_DIRECTION = "counterclockwise"
RACE_TYPES = ("time_trial", "object_avoidance", "head_to_bot")  # accepted when `deepracer train` has them
DEFAULT_RACE_TYPE = "time_trial"
ALGORITHMS = ("ppo", "sac")
DEFAULT_ALGORITHM = "ppo"

# name -> (label, metadata neural_network, available here; legacy: offered only to a clone of a model
# trained with it, not for a new model)
NETWORKS: dict[str, dict[str, Any]] = {
    "shallow": {"label": "3-layer CNN (DeepRacer's shallow network)",
                "neural_network": NETWORK_NAMES["shallow"], "available": True},
    "deep": {"label": "5-layer CNN (DeepRacer's deep network)", "neural_network": NETWORK_NAMES["deep"],
             "available": True},
    "small": {"label": "Small CNN (this project's; fastest on a CPU, < 1 MB)",
              "neural_network": NETWORK_NAMES["small"], "available": True},
    # the first small CNN: models trained with it before 2026-12 and their clones
    "small-v1": {"label": "Small CNN, first version (for models trained with it)",
                 "neural_network": NETWORK_NAMES["small-v1"], "available": True, "legacy": True},
}
DEFAULT_NETWORK = TRAIN_DEFAULT_NETWORK

MAX_MINUTES_RANGE = (10, 1440)  # DeepRacer's stop condition
MAX_MINUTES_MIN_LOCAL = 1  # our extension: quick local runs
DEFAULT_MAX_MINUTES = 10

# hyperparameter -> range; "choices" for enumerations
HYPERPARAMETER_RANGES: dict[str, dict[str, Any]] = {
    "batch_size": {"choices": [32, 64, 128, 256, 512]},
    "num_epochs": {"min": 3, "max": 10, "integer": True},
    "lr": {"min": 1e-8, "max": 1e-3},
    "beta_entropy": {"min": 0.0, "max": 1.0},
    "discount_factor": {"min": 0.0, "max": 1.0},
    "loss_type": {"choices": ["huber", "mean squared error"]},
    "num_episodes_between_training": {"min": 5, "max": 100, "integer": True},  # SAC: exactly 1
    "sac_alpha": {"min": 0.0, "max": 1.0},
    "exploration_type": {"choices": ["categorical", "e-greedy"]},
}
HYPERPARAMETERS = {
    "ppo": {"batch_size": 64, "num_epochs": 10, "lr": 0.0003, "beta_entropy": 0.01, "discount_factor": 0.99,
            "loss_type": "huber", "num_episodes_between_training": 20, "exploration_type": "categorical"},
    "sac": {"batch_size": 64, "lr": 0.0003, "discount_factor": 0.99, "loss_type": "mean squared error",
            "num_episodes_between_training": 1, "sac_alpha": 0.2, "exploration_type": "categorical"},
}
# keys of hyperparameters.json the form does not show but the trainer reads (DRfC's and ours)
EXTRA_HYPERPARAMETERS = ("stack_size", "term_cond_avg_score", "term_cond_max_episodes", "e_greedy_value",
                         "epsilon_steps", "rollout_steps", "buffer_size")

DISCRETE_BUILDER = {
    "steering_angle_granularity": {"choices": [3, 5, 7], "default": 5},
    "maximum_steering_angle": {"min": 1, "max": 30, "default": 30},
    "speed_granularity": {"choices": [1, 2, 3], "default": 2},
    "maximum_speed": {"min": 0.1, "max": 4.0, "default": 1.0},
}
DISCRETE_ACTIONS = {"min_actions": 2, "max_actions": 30, "steering_angle": [-30.0, 30.0], "speed": [0.1, 4.0]}
CONTINUOUS = {
    "default": {"steering_angle": {"low": -10.0, "high": 10.0}, "speed": {"low": 1.0, "high": 2.0}},
    "steering_low": [-30.0, 0.0], "steering_high": [0.0, 30.0], "speed": [0.5, 4.0],
}

EVALUATION = {"trials": {"choices": [3, 4, 5], "default": EVALUATION_TRIALS, "min": 1, "max": 20},
              "off_track_penalty_s": {"min": 0.0, "max": 60.0, "default": EVALUATION_OFF_TRACK_PENALTY_S}}

REWARD_EXAMPLES = (  # (file in deepracer/train/rewards, title as the console shows it)
    ("follow_center_line", "Time trial - follow the center line (default)"),
    ("stay_inside_borders", "Time trial - stay inside the two borders"),
    ("default", "Time trial - prevent zig-zag"),
    ("object_avoidance", "Object avoidance - stay on one lane and away from objects"),
)
DEFAULT_REWARD_EXAMPLE = "follow_center_line"


def rewards_dir() -> Path:
    import deepracer.train.rewards as rewards

    return Path(rewards.__file__).resolve().parent


def reward_example(name: str) -> str:
    return (rewards_dir() / f"{name}.py").read_text(encoding="utf-8")


def discrete_actions(steering_levels: int, max_steering: float, speed_levels: int,
                     max_speed: float) -> list[dict[str, float]]:
    """The console's builder: steering evenly over [-max, +max] x speeds max*k/n (k = 1..n)."""
    steps = [-max_steering + 2 * max_steering * i / (steering_levels - 1) for i in range(steering_levels)]
    speeds = [max_speed * k / speed_levels for k in range(1, speed_levels + 1)]
    return [{"steering_angle": round(s, 4), "speed": round(v, 4)} for s in steps for v in speeds]


def default_action_space() -> list[dict[str, float]]:
    b = DISCRETE_BUILDER
    return discrete_actions(b["steering_angle_granularity"]["default"], b["maximum_steering_angle"]["default"],
                            b["speed_granularity"]["default"], b["maximum_speed"]["default"])


def as_json() -> dict[str, Any]:
    """GET /api/defaults."""
    return {
        "name_pattern": NAME_PATTERN, "description_pattern": DESCRIPTION_PATTERN,
        "directions": list(DIRECTIONS), "direction": DEFAULT_DIRECTION,
        "race_types": list(RACE_TYPES), "race_type": DEFAULT_RACE_TYPE,
        "algorithms": list(ALGORITHMS), "algorithm": DEFAULT_ALGORITHM,
        "networks": [{"name": k, **v} for k, v in NETWORKS.items()], "network": DEFAULT_NETWORK,
        "hyperparameters": HYPERPARAMETERS, "hyperparameter_ranges": HYPERPARAMETER_RANGES,
        "discrete_builder": DISCRETE_BUILDER, "discrete_actions": DISCRETE_ACTIONS,
        "discrete_default": default_action_space(), "continuous": CONTINUOUS,
        "max_minutes": {"min": MAX_MINUTES_MIN_LOCAL, "console_min": MAX_MINUTES_RANGE[0],
                        "max": MAX_MINUTES_RANGE[1], "default": DEFAULT_MAX_MINUTES},
        "max_steps": {"min": 100, "note": "our extension: an environment-steps budget for quick tests"},
        "reward_max_chars": REWARD_MAX_CHARS,
        "reward_examples": [{"name": n, "title": t, "source": reward_example(n)} for n, t in REWARD_EXAMPLES],
        "reward_example": DEFAULT_REWARD_EXAMPLE,
        "evaluation": EVALUATION,
    }

"""`deepracer reward validate FILE`: run a reward function over a short scripted drive."""

from __future__ import annotations

import argparse
from pathlib import Path

from deepracer.commands._race_args import add_race_type_arguments, race_config_from_args
from deepracer.commands._track_args import add_direction_argument, apply_direction


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    v = sub.add_parser("validate", help="run the function on track, near the edge, off track and reversed",
                       description="Like the console's Validate button: exit 0 when the function behaves.")
    v.add_argument("file", type=Path, help="reward_function.py")
    v.add_argument("--track", default=None, help="built-in track name or route .npy (default: the default track)")
    add_direction_argument(v)
    v.add_argument("--reward-timeout", type=float, default=None, metavar="S",
                   help="time limit per call in seconds (default 5, as DeepRacer's validator)")
    add_race_type_arguments(v, penalties=False)


def run(args: argparse.Namespace) -> int:
    apply_direction(args)
    from deepracer.train.reward import VALIDATION_TIMEOUT_S, RewardFunction
    from deepracer.train.validate import validate_reward

    timeout = VALIDATION_TIMEOUT_S if args.reward_timeout is None else args.reward_timeout
    report = validate_reward(RewardFunction(args.file, timeout), args.track, timeout, race=race_config_from_args(args))
    for name, value in report:
        print(f"{name:>24}: {value:g}")
    print(f"{args.file}: OK ({len(report)} situations)")
    return 0

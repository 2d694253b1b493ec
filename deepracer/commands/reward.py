"""`deepracer reward validate FILE`: run a reward function over a short scripted drive."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    v = sub.add_parser("validate", help="run the function on track, near the edge, off track and reversed",
                       description="Like the console's Validate button: exit 0 when the function behaves.")
    v.add_argument("file", type=Path, help="reward_function.py")
    v.add_argument("--track", default=None, help="built-in track name or route .npy (default: the default track)")


def run(args: argparse.Namespace) -> int:
    from deepracer.train.reward import RewardFunction
    from deepracer.train.validate import validate_reward

    report = validate_reward(RewardFunction(args.file), args.track)
    for name, value in report:
        print(f"{name:>24}: {value:g}")
    print(f"{args.file}: OK ({len(report)} situations)")
    return 0

"""Reward functions for the tests: the console examples the package ships, and test-only ones
(the zig-zag example exactly as the console shows it, the 2018 positional signature)."""

from __future__ import annotations

from pathlib import Path

import deepracer.train.rewards as shipped

SHIPPED = Path(shipped.__file__).parent
TEST_ONLY = Path(__file__).parent / "rewards"


def reward_file(name: str) -> Path:
    path = SHIPPED / name
    return path if path.is_file() else TEST_ONLY / name

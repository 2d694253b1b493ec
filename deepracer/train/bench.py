"""`deepracer bench train`: wall-clock minutes until the policy first completes a lap.

PPO from scratch on the default track with DeepRacer-for-Cloud's default reward function and
the default action space; the deterministic policy is evaluated from the start line after
every iteration and the run stops at its first full lap. Also reports training env steps/s.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--minutes", type=float, default=10.0, help="give up after this long (default 10)")
    parser.add_argument("--envs", type=int, default=0, help="parallel environments (default: one per core)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--track", default=None, help="default: the default track")
    parser.add_argument("--network", choices=["small", "shallow"], default="small")
    parser.add_argument("--keep", type=Path, default=None, help="keep the training folder here")


def run(args: argparse.Namespace) -> dict[str, Any]:
    from deepracer.train.trainer import TrainConfig, train

    with tempfile.TemporaryDirectory(prefix="deepracer-bench-") as tmp:
        out = args.keep or Path(tmp) / "run"
        cfg = TrainConfig(out=out, track=args.track, minutes=args.minutes, envs=args.envs, seed=args.seed,
                          network=args.network, stop_on_lap=True, progress_bar=False)
        result = train(cfg)
    first = result.first_lap_wall_s
    return {
        "minutes_to_first_lap": round(first / 60.0, 2) if first is not None else None,
        "steps_to_first_lap": result.first_lap_steps,
        "env_steps_per_s": result.steps_per_s,
        "lap_time_s": result.best_lap_time_s,
        "wall_minutes": round(result.wall_s / 60.0, 2),
        "envs": args.envs or os.cpu_count() or 1,
        "network": args.network,
        "seed": args.seed,
        "cpus": os.cpu_count(),
    }

"""`deepracer bench randomized`: how often a model laps with the simulator's domain randomisation.

Each episode is one lap from the start line on a fresh simulator whose randomisation (camera pose,
lighting and colours, blur, noise, command latency, speed gain; docs/simulator.md) is drawn from
the episode's seed, the model driving through OnnxPolicy as on the car: built-in tracks and route
files × seeds. The figure the bundled model is held to (docs/training.md, ≥ 95 % of laps).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

DEFAULT_SEEDS = 12
MAX_STEPS = 3000  # 200 s at 15 Hz: far beyond any lap; a car that stops is cut off here


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=None, metavar="PKG", help="model package (default: the bundled model)")
    parser.add_argument("--tracks", nargs="*", metavar="NAME", default=None,
                        help="built-in tracks (default: all; `--tracks` alone: none, only --routes)")
    parser.add_argument("--routes", nargs="+", metavar="FILE", default=[], help="DeepRacer route files (.npy) too")
    parser.add_argument("--seeds", type=int, default=DEFAULT_SEEDS,
                        help=f"randomisation seeds per track (default {DEFAULT_SEEDS}): FIRST..FIRST+N-1")
    parser.add_argument("--first-seed", type=int, default=0, metavar="FIRST",
                        help="the first seed (default 0); other seeds than a model was chosen by give a held-out figure")


def drive(policy: Any, track: str, seed: int) -> dict[str, Any]:
    """One randomised lap attempt from the start line."""
    from deepracer.sim import DeepRacerEnv

    env = DeepRacerEnv(track=track, metadata=policy.metadata, randomize=True, seed=seed, start=0,
                       max_steps=MAX_STEPS)
    obs, _ = env.reset()
    while True:
        decision = policy.predict(obs[:, :, 0])
        obs, _, terminated, truncated, info = env.step(decision.index)
        if terminated or truncated:
            env.close()
            return {"track": track, "seed": seed, "status": str(info["episode_status"]),
                    "progress": round(float(info["progress"]), 1), "lap_time_s": info.get("lap_time_s")}


def run(args: argparse.Namespace) -> dict[str, Any]:
    from tqdm import tqdm

    from deepracer.model.policy import OnnxPolicy
    from deepracer.paths import REPO_ROOT
    from deepracer.sim.track import builtin_names

    model = args.model or str(REPO_ROOT / "models" / "deepracer-default.tar.gz")
    policy = OnnxPolicy(model)
    tracks = list(builtin_names()) if args.tracks is None else list(args.tracks)
    tracks += list(args.routes)
    first = int(getattr(args, "first_seed", 0) or 0)
    if first < 0 or args.seeds < 1:  # numpy's generators take no negative seed
        from deepracer.errors import ConfigError

        raise ConfigError(f"--first-seed must be 0 or more and --seeds 1 or more, not {first} and {args.seeds}")
    t0 = time.perf_counter()
    episodes = []
    with tqdm(total=len(tracks) * args.seeds, unit="lap", desc="randomised laps", disable=args.json) as bar:
        for track in tracks:
            for seed in range(first, first + args.seeds):
                episodes.append(drive(policy, track, seed))
                bar.update(1)
    laps = sum(e["status"] == "lap_complete" for e in episodes)
    per_track = {t: sum(e["status"] == "lap_complete" for e in episodes if e["track"] == t) for t in tracks}
    return {"model": model, "seeds": args.seeds, "first_seed": first, "episodes": len(episodes), "laps": laps,
            "lap_rate": round(laps / max(len(episodes), 1), 4), "laps_per_track": per_track,
            "failed": [e for e in episodes if e["status"] != "lap_complete"],
            "seconds": round(time.perf_counter() - t0, 1)}

"""`deepracer bench train`: wall-clock minutes until the policy first completes a lap, and throughput.

Default (first-lap mode): PPO from scratch on the default track with DeepRacer-for-Cloud's
default reward function and the default action space; the deterministic policy is evaluated from
the start line after every iteration and the run stops at its first full lap.

`--steps N` (throughput mode): N training steps rounded up to whole PPO rollouts (rollout_steps),
plus one vector step so that the last rollout's update is in the run too; no early stop,
`--repeat` times; medians.
`--baseline` runs the previous trainer (the first small network, pooled in every minibatch by
torch's AvgPool2d, torch's per-tensor Adam, one environment per core) alternately with the current one in
this same process, so that a shared machine's load falls on both alike (with `--network shallow`
or `deep` only the pooling and Adam differ). Both modes report `env_steps_per_s`: training env steps per wall-clock second of the
whole loop (rollouts, PPO updates and the evaluations between iterations), and where the time went.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

from deepracer.train.network_names import DEFAULT_NETWORK, NETWORKS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--minutes", type=float, default=10.0, help="give up after this long (default 10)")
    parser.add_argument("--envs", type=int, default=0, help="environments (default: as deepracer train)")
    parser.add_argument("--workers", type=int, default=0, help="processes they step in (default: as deepracer train)")
    parser.add_argument("--rollout-workers", type=int, default=None,
                        help="processes that collect whole rollouts (default: as deepracer train)")
    parser.add_argument("--overlap-rollouts", action="store_true", help="as deepracer train")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--track", default=None, help="default: the default track")
    parser.add_argument("--network", choices=list(NETWORKS), default=DEFAULT_NETWORK)
    parser.add_argument("--keep", type=Path, default=None, help="keep the training folder here")
    parser.add_argument("--steps", type=int, default=None,
                        help="throughput mode: train this many steps (no stop at the first lap)")
    parser.add_argument("--repeat", type=int, default=3, help="throughput mode: runs per setting (default 3)")
    parser.add_argument("--baseline", action="store_true",
                        help="throughput mode: also run the previous settings, alternating, and compare")


def _config(args: argparse.Namespace, out: Path, baseline: bool = False) -> Any:
    from deepracer.train.trainer import TrainConfig, training_layout

    throughput = getattr(args, "steps", None) is not None
    cfg = TrainConfig(out=out, track=args.track, minutes=None if throughput else args.minutes, envs=args.envs,
                      workers=getattr(args, "workers", 0) or 0,
                      rollout_workers=getattr(args, "rollout_workers", None),
                      overlap_rollouts=bool(getattr(args, "overlap_rollouts", False)),
                      seed=args.seed, network=args.network, stop_on_lap=not throughput, progress_bar=False)
    if baseline:  # the trainer of stop 18 (2026-11): see the module docstring
        cfg.network = "small-v1" if cfg.network == "small" else cfg.network
        cfg.pool_rollouts, cfg.fused_adam, cfg.opencv_pool = False, False, False
        # one environment per core, each in a process of its own, unless --envs / --workers say
        cfg.envs = args.envs or os.cpu_count() or 1
        cfg.workers = getattr(args, "workers", None) or cfg.envs
        cfg.rollout_workers, cfg.overlap_rollouts = 0, False
    if throughput:
        cfg.steps = throughput_steps(args.steps, training_layout(cfg).envs)
    return cfg


def throughput_steps(steps: int, envs: int) -> int:
    """Whole rollouts and one vector step of `envs` more: the step budget stops collection, and a
    rollout cut short by it is never trained on, so a budget of exactly k rollouts would skip an update."""
    from deepracer.train.hyperparameters import HyperParameters

    rollout = HyperParameters().rollout_steps
    return max(1, -(-steps // rollout)) * rollout + envs


def _layout(args: argparse.Namespace) -> Any:
    from deepracer.train.trainer import training_layout

    return training_layout(_config(args, Path("unused")))


def _train(cfg: Any) -> Any:
    from deepracer.train.trainer import train

    result = train(cfg)
    if result.interrupted:  # Ctrl-C / SIGTERM stops the whole bench, not one run of it
        raise KeyboardInterrupt
    return result


def _throughput(result: Any) -> dict[str, Any]:
    steps = result.steps
    phases = result.phase_s
    learn = phases.get("rollout", 0.0) + phases.get("update", 0.0)
    return {"env_steps_per_s": result.steps_per_s,
            "learning_steps_per_s": round(steps / learn, 1) if learn > 0 else None,
            # the trainer process's CPU per 1,000 steps (env workers not included): steadier than wall time
            "rollout_cpu_s_per_1k": round(1000 * phases.get("rollout_cpu", 0.0) / max(steps, 1), 3),
            "update_cpu_s_per_1k": round(1000 * phases.get("update_cpu", 0.0) / max(steps, 1), 3),
            "rollout_workers_cpu_s_per_1k": round(1000 * phases.get("rollout_workers_cpu", 0.0) / max(steps, 1), 3),
            "phase_s": phases}


def _median(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in runs if r.get(key) is not None]
    return round(statistics.median(values), 1) if values else None


def run(args: argparse.Namespace) -> dict[str, Any]:
    from deepracer.train.omp import prefer_passive_wait

    prefer_passive_wait()  # before the trainer imports torch: as `deepracer train` runs
    layout = _layout(args)
    common = {"envs": layout.envs, "rollout_workers": layout.rollout_workers, "network": args.network, "seed": args.seed, "cpus": os.cpu_count(),
              "load_1min_before": round(os.getloadavg()[0], 2),
              "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default")}
    if getattr(args, "steps", None) is None:
        with tempfile.TemporaryDirectory(prefix="deepracer-bench-") as tmp:
            result = _train(_config(args, args.keep or Path(tmp) / "run"))
        first = result.first_lap_wall_s
        return {
            "minutes_to_first_lap": round(first / 60.0, 2) if first is not None else None,
            "steps_to_first_lap": result.first_lap_steps,
            **_throughput(result),
            "lap_time_s": result.best_lap_time_s,
            "wall_minutes": round(result.wall_s / 60.0, 2),
            **common,
            "load_1min_after": round(os.getloadavg()[0], 2),
        }
    settings = ["current", "baseline"] if args.baseline else ["current"]
    runs: dict[str, list[dict[str, Any]]] = {s: [] for s in settings}
    for _ in range(max(1, args.repeat)):
        for setting in settings:
            with tempfile.TemporaryDirectory(prefix="deepracer-bench-") as tmp:
                result = _train(_config(args, Path(tmp) / "run", baseline=setting == "baseline"))
            runs[setting].append({**_throughput(result), "load_1min": round(os.getloadavg()[0], 2)})
    out: dict[str, Any] = {"steps": throughput_steps(args.steps, layout.envs), "repeat": args.repeat}
    for setting in settings:
        r = runs[setting]
        prefix = "" if setting == "current" else "baseline_"
        out[f"{prefix}env_steps_per_s"] = _median(r, "env_steps_per_s")
        out[f"{prefix}learning_steps_per_s"] = _median(r, "learning_steps_per_s")
        for key in ("rollout_cpu_s_per_1k", "update_cpu_s_per_1k", "rollout_workers_cpu_s_per_1k"):
            values = [x[key] for x in r]
            out[f"{prefix}{key}"] = round(statistics.median(values), 3)
        out[f"{prefix}runs"] = r
    if args.baseline and out["baseline_env_steps_per_s"]:
        out["speedup"] = round(out["env_steps_per_s"] / out["baseline_env_steps_per_s"], 2)
    out["load_1min_median"] = round(statistics.median(x["load_1min"] for r in runs.values() for x in r), 2)
    return {**out, **common}

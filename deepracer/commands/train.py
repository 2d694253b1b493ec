"""`deepracer train`: train a policy with a DeepRacer reward function (see docs/training.md)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from deepracer.commands._race_args import add_race_type_arguments, race_config_from_args
from deepracer.commands._track_args import add_direction_argument, apply_direction
from deepracer.train.network_names import (
    DEFAULT_ENVS_PER_CORE,
    DEFAULT_NETWORK,
    NETWORKS,
    ROLLOUT_ENVS_PER_WORKER,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reward", type=Path, default=None,
                        help="reward_function.py as written for the DeepRacer console "
                             "(default: DeepRacer-for-Cloud's default reward function)")
    parser.add_argument("--track", default=None,
                        help="built-in track name or route .npy; several separated by commas "
                             "(spread over the environments); default: the default track")
    add_direction_argument(parser)
    parser.add_argument("--action-space", type=Path, default=None, metavar="model_metadata.json",
                        help="DeepRacer model_metadata.json with the action space (default: 5 discrete actions)")
    parser.add_argument("--hyperparameters", type=Path, default=None, metavar="hyperparameters.json",
                        help="DeepRacer hyperparameters.json (default: DeepRacer-for-Cloud's defaults)")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--minutes", type=float, default=None, help="wall-clock budget")
    budget.add_argument("--steps", type=int, default=None, help="environment steps budget")
    parser.add_argument("--algorithm", choices=["ppo", "sac"], default="ppo")
    parser.add_argument("--envs", type=int, default=0,
                        help=f"environments stepped together (default: {ROLLOUT_ENVS_PER_WORKER} per rollout worker, "
                             f"else {DEFAULT_ENVS_PER_CORE} per core)")
    parser.add_argument("--workers", type=int, default=0,
                        help="processes the environments step in (default 0: the trainer's own; see docs/training.md)")
    parser.add_argument("--rollout-workers", type=int, default=None,
                        help="PPO: processes that collect whole rollouts, each with its share of the environments "
                             f"and its own copy of the policy (default: one per core, at most 4, with {ROLLOUT_ENVS_PER_WORKER} "
                             "environments each for camera models on 2+ cores; 0: the trainer collects)")
    parser.add_argument("--overlap-rollouts", action="store_true",
                        help="with --rollout-workers: the workers collect the next rollout while the trainer "
                             "updates on the last (trained one update late; see docs/training.md)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--network", choices=list(NETWORKS), default=DEFAULT_NETWORK,
                        help="small: a compact CNN (fast, < 1 MB); shallow: DeepRacer's 3-conv + 512 network; "
                             "deep: DeepRacer's 5-layer CNN (4 conv with batch norm + 2 x 512); small-v1: the first "
                             "small CNN (to clone a model trained with it)")
    parser.add_argument("--eval-trials", type=int, default=1, help="evaluation episodes per track after each iteration: the first "
                             "without randomisation, the others with it (default 1)")
    parser.add_argument("--stop-on-lap", action="store_true", help="stop at the first lap completed in evaluation")
    parser.add_argument("--max-steps", type=int, default=None, help="steps per training episode")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/latest.zip")
    parser.add_argument("--pretrained", type=Path, default=None, metavar="CHECKPOINT.zip",
                        help="start from another run's weights (its checkpoints/best.zip): a clone with new "
                             "reward, hyperparameters, track or budget; same network and action space")
    parser.add_argument("--reward-timeout", type=float, default=None, metavar="S",
                        help="time limit per reward call in seconds (default 1; validation before training: 5)")
    parser.add_argument("--bundle", type=Path, default=None, metavar="FILE.tar.gz",
                        help="also pack the best model into this tarball at the end")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--out", type=Path, required=True, help="output folder (DeepRacer-for-Cloud layout)")
    add_race_type_arguments(parser, penalties=False)  # in training a crash ends the episode
    parser.add_argument("--floor-like-road", type=float, default=0.0, metavar="SHARE",
                        help="share of training episodes (0..1) whose randomised floor takes nearly the road's "
                             "colour, so that only the borders mark the track (default 0: as the simulator draws "
                             "them; evaluation is never changed)")
    parser.add_argument("--camera-profile", default=None, metavar="NAME_OR_FILE",
                        help="render through this camera profile (aws-sim, car, or a profile file: "
                             "docs/camera-calibration.md); recorded in the model package (default: car)")
    parser.add_argument("--sensor", default=None, metavar="S[,S]",
                        help="DeepRacer's sensor list, overriding the action space's model_metadata.json 'sensor': "
                             "one camera (FRONT_FACING_CAMERA or STEREO_CAMERAS) and at most one LiDAR (LIDAR, "
                             "SECTOR_LIDAR), e.g. STEREO_CAMERAS,LIDAR")


def run(args: argparse.Namespace) -> int:
    from deepracer.train.omp import prefer_passive_wait

    prefer_passive_wait()  # before anything imports torch
    apply_direction(args)
    from deepracer.train.reward import DEFAULT_TIMEOUT_S
    from deepracer.train.trainer import DEFAULT_MAX_STEPS, TrainConfig, train

    cfg = TrainConfig(
        out=args.out, reward=args.reward, track=args.track, action_space=args.action_space,
        hyperparameters=args.hyperparameters, minutes=args.minutes, steps=args.steps,
        algorithm=args.algorithm, envs=args.envs, workers=args.workers, rollout_workers=args.rollout_workers,
        overlap_rollouts=args.overlap_rollouts, seed=args.seed, resume=args.resume, network=args.network,
        pretrained=args.pretrained,
        eval_trials=args.eval_trials,
        stop_on_lap=args.stop_on_lap, max_steps=args.max_steps or DEFAULT_MAX_STEPS,
        progress_bar=not args.no_progress,
        reward_timeout_s=DEFAULT_TIMEOUT_S if args.reward_timeout is None else args.reward_timeout,
        race=race_config_from_args(args),
        sensor=[x.strip() for x in args.sensor.split(",") if x.strip()] if args.sensor else None,
        camera_profile=args.camera_profile,
        floor_like_road=args.floor_like_road,
    )
    result = train(cfg)
    if args.bundle:
        from deepracer.train.export import write_tarball

        if not (args.out / "model" / "model.onnx").is_file():
            print("no model was exported (no evaluation finished); nothing to bundle", file=sys.stderr)
            return 1
        write_tarball(args.out / "model", args.bundle)
    summary = {k: (str(v) if isinstance(v, Path) else v) for k, v in result.__dict__.items()}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        where = f"in {result.rollout_workers} rollout workers" if result.rollout_workers else "in the trainer"
        print(f"trained {result.steps} steps in {result.wall_s:.0f} s ({result.steps_per_s} steps/s; "
              f"{result.envs} environments {where}), stopped: {result.stopped_because}")
        lap = f", best lap {result.best_lap_time_s:.2f} s" if result.best_lap_time_s else ""
        print(f"best evaluation progress {result.best_progress:.0f}%{lap}; model package: {args.out / 'model'}")
        print(f"drive it: deepracer sim --model {args.out / 'model'}")
    return 130 if result.interrupted else 0

"""`deepracer evaluate --model DIR`: DeepRacer's evaluation (trials, lap times, off-tracks) on a track."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from deepracer.analysis.evaluation import RosDriver

from deepracer.commands._race_args import add_race_type_arguments, race_config_from_args
from deepracer.commands._track_args import add_direction_argument, apply_direction


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model package (folder or .tar.gz)")
    parser.add_argument("--track", help="track name or route file (default: the default track)")
    add_direction_argument(parser)
    from deepracer.sim.race import EVALUATION_OFF_TRACK_PENALTY_S, EVALUATION_TRIALS

    parser.add_argument("--trials", type=int, default=EVALUATION_TRIALS,
                        help=f"laps to drive, one after the other (default {EVALUATION_TRIALS}, the console's)")
    parser.add_argument("--off-track-penalty", type=float, default=EVALUATION_OFF_TRACK_PENALTY_S, metavar="S",
                        help=f"seconds added to the lap time per reset (default {EVALUATION_OFF_TRACK_PENALTY_S:g}, "
                        "DeepRacer's evaluation)")
    parser.add_argument("--resets", type=int, default=0, metavar="N",
                        help="failures put back on the track per trial before one ends it (default 0)")
    parser.add_argument("--max-trial-seconds", type=float, default=120.0, help="a trial is time_up after this")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--through-ros", action="store_true",
                        help="drive through sim_node + inference_node + control_node in lock-step")
    parser.add_argument("--out", type=Path, help="folder for the simtrace, metrics JSON and evaluation.json "
                        "(default: evaluations/<model name>)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--camera-profile", default=None, metavar="NAME_OR_FILE",
                        help="render through this camera profile (aws-sim, car, or a profile file); default: the "
                             "one the model package records, else car")
    add_race_type_arguments(parser)


def run(args: argparse.Namespace) -> int:
    apply_direction(args)
    from deepracer.analysis.evaluation import evaluate, write_outputs
    from deepracer.sim import DEFAULT_TRACK, load_track

    def show(trial) -> None:
        if not args.json:
            lap = f"{trial.lap_time_s:7.3f} s" if trial.lap_time_s is not None else "      - "
            print(f"trial {trial.trial}: {trial.status:<12} progress {trial.progress:6.2f} %  lap {lap}  "
                  f"off-track {trial.off_track}  crashes {trial.crashes}  resets {trial.resets}",
                  file=sys.stderr if args.json else sys.stdout)

    ros_driver: RosDriver | None = None
    if args.through_ros:  # the application layer wires the node layer into the ROS-free core
        from deepracer_nodes.sim_runner import drive_evaluation

        ros_driver = drive_evaluation
    result = evaluate(args.model, track=args.track, trials=args.trials, off_track_penalty_s=args.off_track_penalty,
                      resets=args.resets, seed=args.seed, through_ros=args.through_ros,
                      max_trial_seconds=args.max_trial_seconds, progress=show, ros_driver=ros_driver,
                      race=race_config_from_args(args), camera_profile=args.camera_profile)
    out = args.out or Path("evaluations") / result.model
    files = write_outputs(result, out, load_track(args.track or DEFAULT_TRACK).length_m)
    data = result.to_json() | {"files": {k: str(v) for k, v in files.items()}}
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    s = result.summary()
    best = f"{s['best_lap_time_s']:.3f} s" if s["best_lap_time_s"] is not None else "-"
    print(f"{result.model} on {result.track}: {s['completed']}/{s['trials']} laps completed, best {best}, "
          f"mean progress {s['mean_progress']:.1f} %, off-track {s['off_track']}, crashes {s['crashes']}, "
          f"resets {s['resets']}"
          f"{' (through ROS)' if result.through_ros else ''}, camera profile {result.camera_profile}")
    print(f"simtrace: {files['simtrace']}\nmetrics: {files['metrics']}")
    return 0

"""`deepracer analyze LOGDIR --out DIR`: training curves, trajectories, tables, HTML, summary.json."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("logdir", type=Path,
                        help="log folder (ours, DeepRacer-for-Cloud, console export) or one log file")
    parser.add_argument("--out", type=Path, required=True, help="folder for figures, tables, index.html, summary.json")
    parser.add_argument("--track", help="track name or route file (default: recognised from the logs)")
    parser.add_argument("--tracks-dir", type=Path, action="append", default=[],
                        help="extra folder of DeepRacer route files (.npy) to recognise the track from")
    parser.add_argument("--json", action="store_true", help="print summary.json")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from deepracer.analysis.report import analyze

    summary = analyze(args.logdir, args.out, track=args.track, track_dirs=args.tracks_dir, quiet=args.quiet)
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"track: {summary['track'] or 'unknown'} ({summary['track_found']})")
    print(f"training: {summary['episodes']} episodes in {summary['iterations']} iterations")
    if summary["episodes"]:
        print(f"  mean reward {summary['mean_reward']:.1f}, mean progress {summary['mean_progress']:.1f} %, "
              f"laps completed {100 * summary['completion_rate']:.1f} %")
    ev = summary.get("evaluation")
    if ev:
        best = ev["best_lap_time_s"]
        print(f"evaluation: {ev['trials']} trials in {ev['runs']} runs, {ev['laps']} laps completed"
              + (f", best lap {best:.3f} s" if best is not None else ""))
    print(f"report: {args.out / 'index.html'}")
    return 0

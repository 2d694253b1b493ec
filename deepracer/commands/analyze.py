"""`deepracer analyze LOGDIR --out DIR`: the console's charts, trajectories on the track, tables, HTML, summary.json."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("logdir", type=Path,
                        help="log folder (ours, DeepRacer-for-Cloud, AWS console or DeepRacer on AWS export) or one log file")
    parser.add_argument("--out", type=Path, required=True, help="folder for figures, tables, index.html, summary.json")
    parser.add_argument("--track", help="track name (built-in or imported) or route file; default: recognised from the "
                                        "logs among the built-in and imported tracks")
    parser.add_argument("--tracks-dir", type=Path, action="append", default=[],
                        help="extra folder of DeepRacer route files (.npy) to recognise the track from; repeatable")
    parser.add_argument("--json", action="store_true", help="print summary.json")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from deepracer.analysis.report import analyze, headline

    summary = analyze(args.logdir, args.out, track=args.track, track_dirs=args.tracks_dir, quiet=args.quiet)
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    rows = headline(summary)
    width = max(len(k) for k, _ in rows)
    for label, text in rows:
        print(f"{label:>{width}s}: {text}")
    print(f"{'Report':>{width}s}: {args.out / 'index.html'}")
    return 0

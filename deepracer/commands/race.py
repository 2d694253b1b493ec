"""`deepracer race --models DIR...`: a local leaderboard (time trial), as a table or JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from deepracer.commands._track_args import add_direction_argument, apply_direction


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", nargs="+", required=True, metavar="DIR", help="model packages (folders or .tar.gz)")
    parser.add_argument("--track", help="track name or route file (default: the default track)")
    add_direction_argument(parser)
    parser.add_argument("--laps", type=int, default=3, help="laps per model (default 3)")
    parser.add_argument("--max-lap-seconds", type=float, default=120.0, help="a lap is time_up after this")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--video", type=Path, metavar="FILE", help="MP4 of the winner's best lap (camera + top-down)")
    parser.add_argument("--json", action="store_true", help="print the leaderboard as JSON")


def run(args: argparse.Namespace) -> int:
    apply_direction(args)
    from deepracer.analysis.race import leaderboard_table, record_lap_video, run_race

    entries = run_race(args.models, track=args.track, laps=args.laps, seed=args.seed,
                       max_lap_seconds=args.max_lap_seconds, quiet=args.json)
    video = None
    if args.video:
        video = record_lap_video(entries[0], args.track, args.video, seed=args.seed,
                                 max_lap_seconds=args.max_lap_seconds)
    if args.json:
        track = entries[0].result.track if entries[0].result else None
        print(json.dumps({"track": track, "laps": args.laps, "leaderboard": [e.to_json() for e in entries],
                          "video": str(video) if video else None}, indent=2))
        return 0
    print(f"track {entries[0].result.track}, {args.laps} lap(s) each")
    print(leaderboard_table(entries))
    if video:
        print(f"video of {entries[0].model}'s best lap: {video}")
    return 0

"""`deepracer race --models DIR...`: a local leaderboard (time trial), as a table or JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from deepracer.commands._race_args import add_race_type_arguments, race_config_from_args
from deepracer.commands._track_args import add_direction_argument, apply_direction


def add_arguments(parser: argparse.ArgumentParser) -> None:
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--models", nargs="+", metavar="DIR", help="model packages (folders or .tar.gz), each alone on the track")
    who.add_argument("--head-to-head", nargs=2, metavar=("A", "B"),
                     help="two model packages racing each other in one simulation (DeepRacer's head-to-model)")
    parser.add_argument("--track", help="track name or route file (default: the default track)")
    add_direction_argument(parser)
    parser.add_argument("--laps", type=int, default=3, help="laps per model (default 3)")
    parser.add_argument("--max-lap-seconds", type=float, default=120.0, help="a lap is time_up after this")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--video", type=Path, metavar="FILE", help="MP4 of the winner's best lap (camera + top-down)")
    parser.add_argument("--json", action="store_true", help="print the leaderboard as JSON")
    parser.add_argument("--camera-profile", default=None, metavar="NAME_OR_FILE",
                        help="render every model through this camera profile (default: each model's recorded "
                             "profile, else car)")
    add_race_type_arguments(parser)


def run(args: argparse.Namespace) -> int:
    apply_direction(args)
    from deepracer.analysis.race import leaderboard_table, record_lap_video, run_race

    race = race_config_from_args(args)
    if args.head_to_head:
        return _head_to_head(args, race)
    entries = run_race(args.models, track=args.track, laps=args.laps, seed=args.seed,
                       max_lap_seconds=args.max_lap_seconds, quiet=args.json, race=race,
                       camera_profile=args.camera_profile)
    video = None
    if args.video:
        video = record_lap_video(entries[0], args.track, args.video, seed=args.seed,
                                 max_lap_seconds=args.max_lap_seconds, race=race,
                                 camera_profile=args.camera_profile)
    if args.json:
        track = entries[0].result.track if entries[0].result else None
        print(json.dumps({"track": track, "laps": args.laps, "leaderboard": [e.to_json() for e in entries],
                          "camera_profiles": {e.model: e.result.camera_profile for e in entries if e.result},
                          "video": str(video) if video else None}, indent=2))
        return 0
    print(f"track {entries[0].result.track}, {args.laps} lap(s) each")
    print(leaderboard_table(entries))
    if video:
        print(f"video of {entries[0].model}'s best lap: {video}")
    return 0


def _head_to_head(args: argparse.Namespace, race) -> int:
    from deepracer.analysis.head_to_head import run_head_to_head, write_head_to_head_video
    from deepracer.analysis.race import leaderboard_table

    entries, rec = run_head_to_head(args.head_to_head, track=args.track, laps=args.laps, seed=args.seed,
                                    max_lap_seconds=args.max_lap_seconds, race=race, record=bool(args.video),
                                    camera_profile=args.camera_profile)
    video = None
    if args.video:
        from deepracer.sim import DEFAULT_TRACK, load_track

        names = [e.model for e in sorted(entries, key=lambda e: args.head_to_head.index(e.path))]
        video = write_head_to_head_video(rec, load_track(args.track or DEFAULT_TRACK), args.video, names, 15.0)
    track = entries[0].result.track if entries[0].result else None
    if args.json:
        print(json.dumps({"track": track, "laps": args.laps, "head_to_head": True, **race.to_json(),
                          "leaderboard": [e.to_json() for e in entries], "video": str(video) if video else None,
                          "camera_profiles": {e.model: e.result.camera_profile for e in entries if e.result}},
                         indent=2))
        return 0
    print(f"head-to-head on {track}, {args.laps} lap(s)")
    print(leaderboard_table(entries))
    for e in entries:
        total = f"{e.total_time_s:.3f} s" if e.total_time_s is not None else "did not finish"
        print(f"{e.rank}. {e.model}: {total}")
    if video:
        print(f"video: {video}")
    return 0

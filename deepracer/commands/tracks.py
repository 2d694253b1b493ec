"""`deepracer tracks list|show|import|remove`: built-in tracks and the user's track library."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from deepracer.commands._track_args import add_direction_argument


def _library_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tracks-dir", type=Path, default=None, metavar="DIR",
                   help="the track library folder (default: $DEEPRACER_TRACKS_DIR or ~/.local/share/deepracer/tracks)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    p = sub.add_parser("list", help="built-in and imported tracks with length and width")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    _library_option(p)
    p = sub.add_parser("show", help="figures of a track (name or route .npy); --png draws it")
    p.add_argument("track", metavar="NAME_OR_FILE")
    add_direction_argument(p)
    p.add_argument("--png", metavar="FILE", help="write a top-down image of the track")
    p.add_argument("--size", type=int, default=800, help="longer side of the image in pixels")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    _library_option(p)
    p = sub.add_parser("import", help="add DeepRacer route files (.npy, e.g. a simapp routes/ folder) to the library")
    p.add_argument("path", type=Path, metavar="FILE_OR_DIR")
    p.add_argument("--name", help="name for a single imported file (default: the file name)")
    p.add_argument("--replace", action="store_true", help="overwrite an imported track of the same name")
    p.add_argument("--json", action="store_true", help="print what was imported and skipped as JSON")
    _library_option(p)
    p = sub.add_parser("remove", help="remove an imported track from the library")
    p.add_argument("name")
    _library_option(p)


def run(args: argparse.Namespace) -> int:
    from deepracer.sim import track_library as lib

    if args.action == "list":
        rows = lib.list_tracks(args.tracks_dir)
        if args.json:
            print(json.dumps([r.to_json() for r in rows], indent=2))
            return 0
        width = max(14, *(len(r.name) for r in rows))
        print(f"{'name':{width}s} {'source':8s} {'length_m':>8s} {'width_m':>7s}  description")
        for r in rows:
            print(f"{r.name:{width}s} {r.source.value:8s} {r.length_m:8.2f} {r.width_m:7.3f}  {r.description}")
        print(f"library: {args.tracks_dir or lib.default_library_dir()}")
        return 0
    if args.action == "import":
        result = lib.import_routes(args.path, name=args.name, library_dir=args.tracks_dir, replace=args.replace)
        bad = [(f, why) for f, why in result.skipped if not why.startswith("already in the library")]
        if args.json:
            print(json.dumps({"imported": [t.to_json() for t in result.imported],
                              "skipped": [{"file": str(f), "reason": why} for f, why in result.skipped]}, indent=2))
        else:
            for t in result.imported:
                print(f"imported {t.name}: {t.length_m:.2f} m, {t.width_m:.3f} m wide, {t.waypoints} waypoints")
            for f, why in result.skipped:
                print(f"skipped {f}: {why}", file=sys.stderr)
            print(f"{len(result.imported)} imported, {len(result.skipped)} skipped; library: "
                  f"{args.tracks_dir or lib.default_library_dir()}")
        return 1 if bad else 0
    if args.action == "remove":
        path = lib.remove_track(args.name, args.tracks_dir)
        print(f"removed {args.name} ({path})")
        return 0
    track = lib.resolve(args.track, library_dir=args.tracks_dir, direction=args.direction)
    info = {
        "name": track.name,
        "source": str(track.source) if track.source else None,
        "description": track.description,
        "direction": track.direction.value,
        "waypoints": track.n,
        "length_m": round(track.length_m, 3),
        "width_m": round(track.width_m, 3),
        "min_width_m": round(float(track.widths.min()), 3),
        "max_width_m": round(float(track.widths.max()), 3),
        "bounds_m": [round(v, 3) for v in track.bounds],
    }
    if args.png:
        import cv2

        from deepracer.sim.render2d import track_image
        from deepracer.sim.trackmap import TrackMap

        img, _ = track_image(TrackMap(track), args.size)
        if not cv2.imwrite(args.png, img):
            from deepracer.errors import ConfigError

            raise ConfigError("cannot write the image (check the folder and the extension)", args.png)
        info["png"] = args.png
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for k, v in info.items():
            print(f"{k:>12s}: {v}")
    return 0

"""`deepracer tracks list|show`: the built-in tracks and any DeepRacer route file."""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    p = sub.add_parser("list", help="built-in tracks with length and width")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p = sub.add_parser("show", help="figures of a track (built-in name or route .npy); --png draws it")
    p.add_argument("track", metavar="NAME_OR_FILE")
    p.add_argument("--png", metavar="FILE", help="write a top-down image of the track")
    p.add_argument("--size", type=int, default=800, help="longer side of the image in pixels")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")


def run(args: argparse.Namespace) -> int:
    from deepracer.sim.track import list_tracks, load_track

    if args.action == "list":
        rows = list_tracks()
        if args.json:
            print(json.dumps([{"name": n, "length_m": L, "width_m": w, "description": d} for n, L, w, d in rows],
                             indent=2))
        else:
            print(f"{'name':14s} {'length_m':>8s} {'width_m':>7s}  description")
            for n, L, w, d in rows:
                print(f"{n:14s} {L:8.2f} {w:7.3f}  {d}")
        return 0
    track = load_track(args.track)
    info = {
        "name": track.name,
        "source": str(track.source) if track.source else None,
        "description": track.description,
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

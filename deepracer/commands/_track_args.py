"""`--direction` for every command that takes `--track`, in one place.

The direction is folded into the track spec (`reinvent2018_cw`, DeepRacer's WORLD_NAME for
the clockwise track; `route.npy:clockwise` for a file) so it travels wherever the track
name already goes: simulator, trainer environments, sim_node's `track` parameter and the
files that record the track.
"""

from __future__ import annotations

import argparse

DIRECTION_CHOICES = ("counterclockwise", "clockwise", "ccw", "cw", "counter-clockwise")


def add_direction_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--direction", choices=DIRECTION_CHOICES, default=None, metavar="DIR",
                        help="drive the track counterclockwise (ccw) or clockwise (cw); default: the way the "
                             "route file runs (DeepRacer's routes: counterclockwise)")


def apply_direction(args: argparse.Namespace, attr: str = "track") -> None:
    """Rewrite `args.<attr>` to a spec carrying `args.direction` (no-op without --direction)."""
    direction = getattr(args, "direction", None)
    if direction is None:
        return
    from deepracer.sim.track_library import with_direction

    setattr(args, attr, with_direction(getattr(args, attr, None), direction))

"""Which track a log was driven on, which way round, and how well the positions fit it.

Candidates are the built-in tracks, the user's track library (`deepracer tracks import`)
and any `--tracks-dir` folder of DeepRacer route files. A candidate can be the track when
its centre-line length agrees with the logs' `track_len` and the logged positions lie on it
(mean distance to the centre line within the half width); the closest fit wins. The
direction comes from the way the positions move along the centre line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepracer.errors import TrackError
from deepracer.sim.track import Direction, Track
from deepracer.sim.track_library import list_tracks, resolve, validate_route_file

LENGTH_TOLERANCE = 0.005  # relative; DeepRacer's track_len is the centre line's length


@dataclass(frozen=True)
class TrackFit:
    """How well logged positions lie on a track."""

    mean_distance_m: float  # from the centre line
    p95_distance_m: float
    on_track: float  # fraction of positions between the borders
    points: int

    def to_json(self) -> dict[str, Any]:
        return {"mean_distance_m": round(self.mean_distance_m, 3), "p95_distance_m": round(self.p95_distance_m, 3),
                "on_track_fraction": round(self.on_track, 4), "points": self.points}


def closed(points: Any) -> np.ndarray:
    """The loop with its closing point (the simulator's tracks drop the duplicate row)."""
    pts = np.asarray(points, dtype=float)
    return pts if np.allclose(pts[0], pts[-1]) else np.vstack([pts, pts[:1]])


def _dense(track: Track, step: float = 0.02) -> tuple[np.ndarray, np.ndarray]:
    """Centre-line points every `step` metres and the local half width at each."""
    c, w = closed(track.center), np.append(track.widths, track.widths[0]) / 2
    pts, half = [], []
    for i in range(len(c) - 1):
        n = max(1, int(np.ceil(np.linalg.norm(c[i + 1] - c[i]) / step)))
        t = np.linspace(0, 1, n, endpoint=False)[:, None]
        pts.append(c[i] + (c[i + 1] - c[i]) * t)
        half.append(w[i] + (w[i + 1] - w[i]) * t[:, 0])
    return np.concatenate(pts), np.concatenate(half)


def fit(track: Track, xy: np.ndarray) -> tuple[TrackFit, np.ndarray]:
    """The fit figures and, per position, the index of the nearest dense centre-line point."""
    from scipy.spatial import cKDTree

    dense, half = _dense(track)
    dist, idx = cKDTree(dense).query(xy)
    return TrackFit(float(np.mean(dist)), float(np.percentile(dist, 95)), float(np.mean(dist <= half[idx])),
                    len(xy)), idx


def driven_direction(track: Track, xy: np.ndarray, episode: np.ndarray | None = None) -> Direction:
    """Which way the positions move along the track's centre line."""
    _, idx = fit(track, xy)
    m = len(_dense(track)[0])
    step = np.diff(idx)
    step = (step + m // 2) % m - m // 2  # wrap across the start line
    if episode is not None:
        step = step[episode[1:] == episode[:-1]]  # no jumps from one episode's end to the next's start
    forward = float(np.sum(step)) >= 0
    return track.direction if forward else track.direction.opposite


def length_agrees(track: Track, track_len: float | None) -> bool:
    if track_len is None or not np.isfinite(track_len):
        return True
    return abs(track.length_m - track_len) <= LENGTH_TOLERANCE * track_len + 0.02


def candidates(track_dirs: list[Path] | None = None) -> list[Track]:
    """Built-in and imported tracks, then the route files of `track_dirs` (bad ones skipped)."""
    out: list[Track] = []
    for info in list_tracks():
        try:
            out.append(resolve(info.name))
        except TrackError:
            continue
    for folder in track_dirs or []:
        folder = Path(folder)
        if not folder.is_dir():
            raise TrackError("no such folder of route files", folder)
        for p in sorted(folder.glob("*.npy")):
            try:
                out.append(validate_route_file(p))
            except TrackError:
                continue  # not a route file: it cannot be the track
    return out


@dataclass(frozen=True)
class Match:
    track: Track  # in the direction driven
    fit: TrackFit
    how: str  # given | recorded in the logs | recognised from the trajectory


def recognise(xy: np.ndarray, track_len: float | None, tracks: list[Track]) -> tuple[Track, TrackFit] | None:
    """The track the positions lie on best, or None."""
    if len(xy) == 0:
        return None
    sample = xy[:: max(1, len(xy) // 5000)]
    best: tuple[Track, TrackFit] | None = None
    for t in tracks:
        if not length_agrees(t, track_len):
            continue
        f, _ = fit(t, sample)
        if f.mean_distance_m <= t.width_m / 2 and (best is None or f.mean_distance_m < best[1].mean_distance_m):
            best = (t, f)
    return best


def in_driven_direction(track: Track, xy: np.ndarray, episode: np.ndarray | None) -> Track:
    return track.in_direction(driven_direction(track, xy, episode))

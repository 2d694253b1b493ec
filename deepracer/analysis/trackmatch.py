"""Which track a log was driven on, recognised from the trajectory when nobody says.

A candidate matches when its centre-line length agrees with the logs' `track_len` and the
logged positions lie on it (mean distance to the centre line within the half width).
Tracks are duck-typed: anything with `name`, `center`, `inner`, `outer` ((N, 2) arrays)
and `length_m`, as `deepracer.sim.load_track` returns; DeepRacer's route files (.npy,
(N, 6) `[cx, cy, ix, iy, ox, oy]`) load through `route_from_npy`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from deepracer.errors import TrackError


class TrackLike(Protocol):
    name: str
    center: np.ndarray
    inner: np.ndarray
    outer: np.ndarray
    length_m: float


@dataclass(frozen=True)
class Route:
    """A DeepRacer route file as arrays; enough to draw and recognise a track."""

    name: str
    center: np.ndarray
    inner: np.ndarray
    outer: np.ndarray

    @property
    def length_m(self) -> float:
        return polyline_length(self.center)

    @property
    def width_m(self) -> float:
        return float(np.mean(np.linalg.norm(self.outer - self.inner, axis=1)))


def polyline_length(points: np.ndarray) -> float:
    return float(np.sum(np.linalg.norm(np.diff(points, axis=0), axis=1)))


def route_from_npy(path: str | Path) -> Route:
    path = Path(path)
    try:
        data = np.load(path)
    except (OSError, ValueError) as err:
        raise TrackError(f"cannot read route file: {err}", path) from err
    if data.ndim != 2 or data.shape[1] != 6 or len(data) < 3:
        raise TrackError(f"expected an (N, 6) route array, got shape {data.shape}", path)
    return Route(path.stem, data[:, 0:2], data[:, 2:4], data[:, 4:6])


def _sim_loader() -> Any | None:
    try:
        from deepracer.sim import load_track
    except ImportError:
        try:
            from deepracer.sim.track import load_track
        except ImportError:
            return None
    return load_track


def load_any_track(name_or_path: str | Path) -> Any:
    """A built-in track or a route file, through the simulator's loader where it exists."""
    load_track = _sim_loader()
    if load_track is not None:
        return load_track(str(name_or_path))
    path = Path(name_or_path)
    if path.suffix == ".npy" and path.is_file():
        return route_from_npy(path)
    raise TrackError(f"unknown track {name_or_path!r} (the simulator's tracks are not installed)")


def builtin_tracks() -> list[Any]:
    """The simulator's own tracks, if the simulator is installed."""
    try:
        from deepracer.sim.track import builtin_names, load_track
    except ImportError:
        return []
    tracks = []
    for name in builtin_names():
        try:
            tracks.append(load_track(name))
        except Exception:  # a broken built-in must not stop the analysis
            continue
    return tracks


def tracks_in(folder: str | Path) -> list[Route]:
    return [route_from_npy(p) for p in sorted(Path(folder).glob("*.npy"))]


def closed(points: Any) -> np.ndarray:
    """The loop with its closing point (the simulator's tracks drop the duplicate row)."""
    pts = np.asarray(points, dtype=float)
    return pts if np.allclose(pts[0], pts[-1]) else np.vstack([pts, pts[:1]])


def _dense(points: np.ndarray, step: float = 0.02) -> np.ndarray:
    points = closed(points)
    out = []
    for a, b in zip(points[:-1], points[1:], strict=True):
        n = max(1, int(np.ceil(np.linalg.norm(b - a) / step)))
        out.append(a + (b - a) * np.linspace(0, 1, n, endpoint=False)[:, None])
    out.append(points[-1:])
    return np.concatenate(out)


def match_score(track: TrackLike, xy: np.ndarray, track_len: float | None) -> float | None:
    """Mean distance (m) of the positions from the centre line, or None if it cannot be this track."""
    from scipy.spatial import cKDTree

    length = float(track.length_m)
    if track_len is not None and np.isfinite(track_len) and abs(length - track_len) > 0.005 * track_len + 0.02:
        return None
    dist, _ = cKDTree(_dense(np.asarray(track.center, dtype=float))).query(xy)
    half_width = float(np.mean(np.linalg.norm(np.asarray(track.outer) - np.asarray(track.inner), axis=1))) / 2
    mean = float(np.mean(dist))
    return mean if mean <= half_width else None


def recognise(xy: np.ndarray, track_len: float | None, candidates: list[Any]) -> Any | None:
    """The candidate the trajectory lies on best, or None."""
    if len(xy) == 0:
        return None
    sample = xy[:: max(1, len(xy) // 5000)]
    scored = [(s, t) for t in candidates if (s := match_score(t, sample, track_len)) is not None]
    return min(scored, key=lambda st: st[0])[1] if scored else None

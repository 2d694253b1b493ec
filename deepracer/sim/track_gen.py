"""Generates the project's own tracks (deepracer/sim/tracks/*.npy) in DeepRacer's route format.

    python -m deepracer.sim.track_gen            # rewrite all built-in tracks
    python -m deepracer.sim.track_gen --check    # verify the committed files match

Each track is a closed centre line (a periodic cubic spline through hand-placed control
points, or an analytic oval), scaled to a target length, resampled every ~0.15 m like
DeepRacer's routes, and offset by half the width on each side (inner border on the left:
routes run counter-clockwise as DeepRacer's do). Every track is checked: borders without
self-intersections, and no bend tighter than the half width plus a margin.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.interpolate import CubicSpline

TRACKS_DIR = Path(__file__).resolve().parent / "tracks"
SPACING_M = 0.15


@dataclass(frozen=True)
class TrackSpec:
    name: str
    width_m: float
    length_m: float | None  # scale the control polygon to this centre-line length
    points: tuple[tuple[float, float], ...] = ()  # control points, counter-clockwise


SPECS = [
    TrackSpec("reinvent2018", 0.76, 17.6, (
        (2.5, -0.1), (5.0, 0.0), (6.3, 0.5), (6.5, 1.6), (5.8, 2.4), (4.6, 2.6),
        (3.8, 3.2), (3.0, 3.8), (1.5, 3.8), (0.3, 3.3), (-0.4, 2.2), (-0.5, 1.0), (0.0, 0.0),
    )),
    TrackSpec("oval", 0.80, None),  # analytic stadium, below
    # (every loop starts on a straight: the first control point is the start line)
    TrackSpec("hairpins", 0.76, 32.0, (
        (2.5, 0.0), (5.0, 0.0), (6.1, 0.0), (6.61, 0.21), (6.82, 0.72), (6.61, 1.23),
        (6.1, 1.44), (5.0, 1.45), (3.6, 1.45), (2.8, 1.6), (2.5, 2.15), (2.8, 2.7), (3.6, 2.87),
        (5.0, 2.88), (6.1, 2.88), (6.61, 3.09), (6.82, 3.6), (6.61, 4.11), (6.1, 4.32), (5.0, 4.35),
        (2.5, 4.35), (0.5, 4.3), (-0.5, 3.8), (-0.9, 2.8), (-0.9, 1.3), (-0.6, 0.4),
    )),
    TrackSpec("speedway", 1.07, 40.0, (
        (4.0, -0.2), (8.0, 0.0), (10.5, 0.6), (11.8, 2.0), (12.0, 4.0), (11.2, 5.6),
        (9.6, 6.2), (8.4, 5.6), (7.2, 4.6), (5.8, 4.6), (4.8, 5.6), (3.4, 6.4), (1.4, 6.3),
        (-0.2, 5.4), (-1.0, 3.8), (-1.2, 2.0), (-0.8, 0.7), (0.0, 0.0),
    )),
]


def spline_loop(points: np.ndarray, n_dense: int = 4000) -> np.ndarray:
    """Dense points on the periodic cubic spline through `points` (chord-length parameter)."""
    p = np.vstack([points, points[:1]])
    u = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(p, axis=0).T))])
    spline = CubicSpline(u, p, bc_type="periodic")
    return spline(np.linspace(0.0, u[-1], n_dense, endpoint=False))


def resample(loop: np.ndarray, spacing: float) -> np.ndarray:
    """Points every ~`spacing` metres along a closed polyline."""
    p = np.vstack([loop, loop[:1]])
    s = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(p, axis=0).T))])
    n = max(8, int(round(s[-1] / spacing)))
    t = np.linspace(0.0, s[-1], n, endpoint=False)
    return np.stack([np.interp(t, s, p[:, 0]), np.interp(t, s, p[:, 1])], axis=1)


def stadium(straight: float, radius: float) -> np.ndarray:
    """Analytic oval: two straights joined by half circles, counter-clockwise."""
    arc = np.linspace(-np.pi / 2, np.pi / 2, 400)
    right = np.stack([straight + radius * np.cos(arc), radius + radius * np.sin(arc)], axis=1)
    left = np.stack([-radius * np.cos(arc), radius - radius * np.sin(arc)], axis=1)
    bottom = np.stack([np.linspace(0, straight, 200, endpoint=False), np.zeros(200)], axis=1)
    top = np.stack([np.linspace(straight, 0, 200, endpoint=False), np.full(200, 2 * radius)], axis=1)
    return np.vstack([bottom, right[:-1], top, left[:-1]])


def polyline_length(loop: np.ndarray) -> float:
    p = np.vstack([loop, loop[:1]])
    return float(np.hypot(*np.diff(p, axis=0).T).sum())


def build(spec: TrackSpec) -> np.ndarray:
    """The (N+1, 6) closed route of a spec."""
    if spec.name == "oval":
        dense = stadium(4.5, 1.6)
    else:
        pts = np.asarray(spec.points, dtype=float)
        dense = spline_loop(pts)
        if spec.length_m is not None:
            dense = spline_loop(pts * spec.length_m / polyline_length(dense))
    center = resample(dense, SPACING_M)
    nxt, prv = np.roll(center, -1, axis=0), np.roll(center, 1, axis=0)
    tangent = nxt - prv
    tangent /= np.hypot(*tangent.T)[:, None]
    left = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    inner = center + left * spec.width_m / 2
    outer = center - left * spec.width_m / 2
    route = np.concatenate([center, inner, outer], axis=1)
    return np.vstack([route, route[:1]])


def min_radius(center: np.ndarray) -> float:
    """Smallest radius of curvature of a closed polyline (circle through 3 points, 2 apart)."""
    a, b, c = np.roll(center, 2, axis=0), center, np.roll(center, -2, axis=0)
    ab, bc, ca = (np.hypot(*(b - a).T), np.hypot(*(c - b).T), np.hypot(*(a - c).T))
    area2 = np.abs((b - a)[:, 0] * (c - a)[:, 1] - (b - a)[:, 1] * (c - a)[:, 0])
    r = ab * bc * ca / np.maximum(2 * area2, 1e-12)
    return float(r.min())


def check(route: np.ndarray, spec: TrackSpec) -> list[str]:
    from shapely.geometry import LinearRing

    problems = []
    center, inner, outer = route[:-1, 0:2], route[:-1, 2:4], route[:-1, 4:6]
    for what, ring in (("centre line", center), ("inner border", inner), ("outer border", outer)):
        if not LinearRing(ring).is_simple:
            problems.append(f"{spec.name}: {what} crosses itself")
    r = min_radius(center)
    if r < spec.width_m / 2 + 0.15:
        problems.append(f"{spec.name}: tightest bend radius {r:.2f} m is too tight for width {spec.width_m} m")
    if LinearRing(center).is_ccw is False:
        problems.append(f"{spec.name}: the route must run counter-clockwise")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed files, write nothing")
    parser.add_argument("--out", type=Path, default=TRACKS_DIR)
    args = parser.parse_args(argv)
    failed = False
    for spec in SPECS:
        route = build(spec)
        problems = check(route, spec)
        for p in problems:
            print(p, file=sys.stderr)
        failed |= bool(problems)
        path = args.out / f"{spec.name}.npy"
        length = polyline_length(route[:-1, :2])
        if args.check:
            same = path.is_file() and np.allclose(np.load(path), route)
            print(f"{spec.name:14s} {'ok' if same else 'DIFFERS'}  {length:6.2f} m  {spec.width_m} m")
            failed |= not same
        else:
            args.out.mkdir(parents=True, exist_ok=True)
            np.save(path, route)
            print(f"{spec.name:14s} {len(route) - 1:4d} points  {length:6.2f} m  width {spec.width_m} m"
                  f"  tightest radius {min_radius(route[:-1, :2]):.2f} m -> {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

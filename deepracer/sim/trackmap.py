"""A top-down raster of the track: what the camera looks up and what decides 'on the road'.

Cells hold labels (background, road, border line, centre dash) at `resolution_m` per
cell (1 cm by default). The road is the union of the quadrilaterals between
consecutive inner/outer border points, so it is exactly DeepRacer's track polygon up to
the cell size, crossings (figure-eight tracks) included. A margin of background around
the track lets the renderer clamp indices instead of testing bounds.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from deepracer.sim.track import Track

BACKGROUND, ROAD, BORDER, CENTER = 0, 1, 2, 3
N_LABELS = 4

BORDER_LINE_M = 0.05  # white lines along both borders, inside the road (DeepRacer: ~5 cm tape)
CENTER_LINE_M = 0.025
DASH_M, GAP_M = 0.15, 0.15


class TrackMap:
    def __init__(self, track: Track, resolution_m: float = 0.01, margin_m: float = 1.0) -> None:
        self.track = track
        self.res = resolution_m
        x0, y0, x1, y1 = track.bounds
        self.x0, self.y0 = x0 - margin_m, y0 - margin_m
        self.w = int(math.ceil((x1 - x0 + 2 * margin_m) / resolution_m))
        self.h = int(math.ceil((y1 - y0 + 2 * margin_m) / resolution_m))
        self.labels = self._rasterise()
        self.road = self.labels != BACKGROUND  # (h, w) bool, row = y index

    def to_cells(self, pts: np.ndarray) -> np.ndarray:
        """World (x, y) -> fixed-point cell coordinates for cv2 drawing (4 fractional bits)."""
        c = (pts - (self.x0, self.y0)) / self.res - 0.5  # cv2 samples cell i at its centre, i + 0.5
        return np.round(c * 16).astype(np.int32)

    def _rasterise(self) -> np.ndarray:
        """Everything is filled as polygons with sub-cell vertices, so lines are centred exactly."""
        t = self.track
        labels = np.zeros((self.h, self.w), np.uint8)
        self._fill_band(labels, t.inner, t.outer, ROAD)
        # border lines: bands from each border BORDER_LINE_M towards the centre line
        for border in (t.inner, t.outer):
            toward = t.center - border
            toward /= np.maximum(np.hypot(*toward.T), 1e-9)[:, None]
            self._fill_band(labels, border, border + toward * BORDER_LINE_M, BORDER)
        # dashed centre line: one thin polygon per dash
        s, half, dashes = 0.0, CENTER_LINE_M / 2, []
        while s < t.length_m - GAP_M:
            pts = np.array([t.point_at(v) for v in np.linspace(s, min(s + DASH_M, t.length_m), 6)])
            normal = np.stack([-np.sin(pts[:, 2]), np.cos(pts[:, 2])], axis=1)
            poly = np.concatenate([pts[:, :2] + normal * half, (pts[:, :2] - normal * half)[::-1]])
            dashes.append(self.to_cells(poly))
            s += DASH_M + GAP_M
        cv2.fillPoly(labels, dashes, CENTER, lineType=cv2.LINE_8, shift=4)
        return labels

    def _fill_band(self, labels: np.ndarray, a: np.ndarray, b: np.ndarray, value: int) -> None:
        """Fill the quadrilaterals between two closed polylines (one per segment: crossings work)."""
        ca, cb = self.to_cells(a), self.to_cells(b)
        n = len(ca)
        quads = [np.array([ca[i], cb[i], cb[(i + 1) % n], ca[(i + 1) % n]]) for i in range(n)]
        for q in quads:  # one call per quad: a single fillPoly would XOR overlapping quads
            cv2.fillConvexPoly(labels, q, value, lineType=cv2.LINE_8, shift=4)

    def on_road(self, x: float, y: float) -> bool:
        ix = int((x - self.x0) / self.res)
        iy = int((y - self.y0) / self.res)
        if 0 <= ix < self.w and 0 <= iy < self.h:
            return bool(self.road[iy, ix])
        return False

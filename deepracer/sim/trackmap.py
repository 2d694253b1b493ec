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
        c = (pts - (self.x0, self.y0)) / self.res
        return np.round(c * 16).astype(np.int32)

    def _rasterise(self) -> np.ndarray:
        t = self.track
        labels = np.zeros((self.h, self.w), np.uint8)
        inner, outer = self.to_cells(t.inner), self.to_cells(t.outer)
        n = t.n
        # road: one quadrilateral per segment (handles crossings and varying widths)
        quads = [np.array([inner[i], outer[i], outer[(i + 1) % n], inner[(i + 1) % n]]) for i in range(n)]
        cv2.fillPoly(labels, quads, ROAD, lineType=cv2.LINE_8, shift=4)
        # border lines: drawn on both border polylines, then kept inside the road only
        lines = np.zeros_like(labels)
        px = max(1, int(round(2 * BORDER_LINE_M / self.res)))
        cv2.polylines(lines, [inner, outer], True, 1, thickness=px, lineType=cv2.LINE_8, shift=4)
        labels[(lines == 1) & (labels == ROAD)] = BORDER
        # dashed centre line
        dash = np.zeros_like(labels)
        s = 0.0
        length = t.length_m
        thick = max(1, int(round(CENTER_LINE_M / self.res)))
        while s < length - GAP_M:
            e = min(s + DASH_M, length)
            ss = np.linspace(s, e, 6)
            pts = np.array([t.point_at(v)[:2] for v in ss])
            cv2.polylines(dash, [self.to_cells(pts)], False, 1, thickness=thick, lineType=cv2.LINE_8, shift=4)
            s += DASH_M + GAP_M
        labels[(dash == 1) & (labels == ROAD)] = CENTER
        return labels

    def on_road(self, x: float, y: float) -> bool:
        ix = int((x - self.x0) / self.res)
        iy = int((y - self.y0) / self.res)
        if 0 <= ix < self.w and 0 <= iy < self.h:
            return bool(self.road[iy, ix])
        return False

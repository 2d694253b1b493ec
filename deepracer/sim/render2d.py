"""Bird's-eye images of a track (and the car): for videos, `deepracer tracks show --png`."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import cv2
import numpy as np

from deepracer.sim.camera import LUMA, Appearance  # noqa: F401  (palette shared with the camera)
from deepracer.sim.trackmap import TrackMap

if TYPE_CHECKING:
    from deepracer.sim.simulator import Simulator


def track_image(tmap: TrackMap, size: int, appearance: Appearance | None = None) -> tuple[np.ndarray, float]:
    """(BGR image with the longer side = size, pixels per map cell), north up."""
    cache = tmap.__dict__.setdefault("_images", {})  # per map: the drawing only depends on the map
    scale = size / max(tmap.w, tmap.h)
    if size not in cache:
        pal = np.clip((appearance or Appearance()).palette(), 0, 255).astype(np.uint8)
        img = pal[tmap.labels]
        w, h = max(1, round(tmap.w * scale)), max(1, round(tmap.h * scale))
        cache[size] = cv2.flip(cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA), 0)
    return cache[size].copy(), scale


def to_pixels(tmap: TrackMap, scale: float, height: int, x: float, y: float) -> tuple[int, int]:
    return (int(round((x - tmap.x0) / tmap.res * scale)),
            int(round(height - 1 - (y - tmap.y0) / tmap.res * scale)))


def top_down(sim: Simulator, size: int = 480, trail: list[tuple[float, float]] | None = None) -> np.ndarray:
    tmap = sim.map
    img, scale = track_image(tmap, size)
    h = img.shape[0]
    start = to_pixels(tmap, scale, h, *sim.track.center[0])
    cv2.circle(img, start, max(2, size // 120), (0, 0, 255), -1)
    if trail:
        pts = np.array([to_pixels(tmap, scale, h, x, y) for x, y in trail], np.int32)
        cv2.polylines(img, [pts], False, (255, 128, 0), 1, cv2.LINE_AA)
    draw_objects(img, tmap, scale, sim.object_list)
    s, p = sim.state, sim.vehicle.p
    c, si = math.cos(s.yaw), math.sin(s.yaw)
    length, width = p.wheelbase_m + 0.12, p.track_m + 0.04  # body a little larger than the wheels
    corners = []
    for fx, fy in ((-0.06, width / 2), (length - 0.06, width / 2), (length - 0.06, -width / 2), (-0.06, -width / 2)):
        corners.append(to_pixels(tmap, scale, h, s.x + fx * c - fy * si, s.y + fx * si + fy * c))
    cv2.fillPoly(img, [np.array(corners, np.int32)], (0, 0, 255), cv2.LINE_AA)
    return img


OBJECT_COLOURS = {"box": (70, 135, 190), "bot_car": (190, 110, 40), "car": (200, 60, 200)}  # BGR


def draw_objects(img: np.ndarray, tmap: TrackMap, scale: float, objects: list) -> None:
    """Obstacles and cars as filled rectangles of their collision footprint (in place)."""
    h = img.shape[0]
    for o in objects:
        c, si = math.cos(o.yaw), math.sin(o.yaw)
        hl, hw = o.length / 2, o.width / 2
        corners = [to_pixels(tmap, scale, h, o.x + fx * c - fy * si, o.y + fx * si + fy * c)
                   for fx, fy in ((-hl, hw), (hl, hw), (hl, -hw), (-hl, -hw))]
        colour = OBJECT_COLOURS.get(str(o.kind), (200, 200, 200))
        cv2.fillPoly(img, [np.array(corners, np.int32)], colour, cv2.LINE_AA)

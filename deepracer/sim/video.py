"""What `deepracer sim` writes: an MP4 (camera view next to a top-down view) and a PNG of the path.

The top-down view is drawn here with OpenCV from the track borders and the car's pose, so
it works from recorded poses (e.g. frames received over ROS) without the simulator object.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from deepracer.errors import ConfigError

_OBJECT_BGR = {"box": (70, 135, 190), "bot_car": (190, 110, 40), "car": (200, 60, 200)}


@dataclass(frozen=True)
class Pose:
    x: float
    y: float
    yaw: float
    speed: float = 0.0


class TopDown:
    """A fixed top-down canvas of the track; `draw(pose, trail)` puts the car on a copy."""

    def __init__(self, track: Any, height_px: int = 360, margin_m: float = 0.5) -> None:
        pts = np.vstack([np.asarray(track.inner), np.asarray(track.outer)])
        lo, hi = pts.min(axis=0) - margin_m, pts.max(axis=0) + margin_m
        self.scale = height_px / float(hi[1] - lo[1])
        self.size = (int(math.ceil((hi[0] - lo[0]) * self.scale)), height_px)  # (w, h)
        self.origin = lo
        base = np.full((height_px, self.size[0], 3), (40, 110, 40), np.uint8)  # grass (BGR)
        inner, outer = self.px(track.inner), self.px(track.outer)
        # the road ring: the larger border filled, the smaller one cut out again (routes do
        # not always name the inside border "inner")
        big, small = sorted((inner, outer), key=lambda p: -abs(cv2.contourArea(p.astype(np.float32))))
        cv2.fillPoly(base, [big], (70, 70, 70), lineType=cv2.LINE_AA)
        cv2.fillPoly(base, [small], (40, 110, 40), lineType=cv2.LINE_AA)
        cv2.polylines(base, [inner, outer], True, (255, 255, 255), 1, cv2.LINE_AA)
        cv2.polylines(base, [self.px(track.center)], True, (0, 200, 255), 1, cv2.LINE_AA)
        self.base = base

    def px(self, xy: Any) -> np.ndarray:
        """metres (N, 2) -> integer pixel coordinates (y axis up in the picture)."""
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        u = (xy[:, 0] - self.origin[0]) * self.scale
        v = self.size[1] - (xy[:, 1] - self.origin[1]) * self.scale
        return np.round(np.c_[u, v]).astype(np.int32)

    def draw(self, pose: Pose, trail: Sequence[Pose] = (), objects: Sequence[Any] = ()) -> np.ndarray:
        """`objects`: obstacles/cars with x, y, yaw, length, width, kind (e.g. sim.objects.TrackObject)."""
        img = self.base.copy()
        for o in objects:
            c, si = math.cos(o.yaw), math.sin(o.yaw)
            hl, hw = o.length / 2, o.width / 2
            corners = self.px([(o.x + fx * c - fy * si, o.y + fx * si + fy * c)
                               for fx, fy in ((-hl, hw), (hl, hw), (hl, -hw), (-hl, -hw))])
            cv2.fillPoly(img, [corners], _OBJECT_BGR.get(str(o.kind), (200, 200, 200)), cv2.LINE_AA)
        if len(trail) > 1:
            cv2.polylines(img, [self.px([(p.x, p.y) for p in trail])], False, (255, 160, 0), 1, cv2.LINE_AA)
        length = 0.3  # metres: a car-sized arrow
        tip = (pose.x + length * math.cos(pose.yaw), pose.y + length * math.sin(pose.yaw))
        a, b = self.px([(pose.x, pose.y), tip])
        cv2.arrowedLine(img, tuple(int(v) for v in a), tuple(int(v) for v in b), (0, 0, 255), 2, cv2.LINE_AA, tipLength=0.4)
        return img


def side_by_side(camera: np.ndarray, top: np.ndarray, caption: str = "") -> np.ndarray:
    """Camera frame (gray or BGR), scaled to the top-down view's height, left of it."""
    cam = cv2.cvtColor(camera, cv2.COLOR_GRAY2BGR) if camera.ndim == 2 else camera
    h = top.shape[0]
    cam = cv2.resize(cam, (int(round(cam.shape[1] * h / cam.shape[0])), h), interpolation=cv2.INTER_NEAREST)
    out = np.hstack([cam, top])
    if caption:  # top left of the top-down view: over grass, away from the camera picture
        org = (cam.shape[1] + 8, 20)
        cv2.putText(out, caption, org, cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(out, caption, org, cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def write_video(
    path: str | Path,
    track: Any,
    frames: Sequence[np.ndarray],
    poses: Sequence[Pose],
    fps: float,
    captions: Sequence[str] | None = None,
    objects: Sequence[Sequence[Any]] | None = None,
) -> Path:
    """MP4 (mp4v): each camera frame next to the top-down view of the car at that moment
    (and of the obstacles / other cars at that moment, when `objects` gives them per frame)."""
    if len(frames) != len(poses):
        raise ValueError(f"{len(frames)} frames but {len(poses)} poses")
    if not frames:
        raise ConfigError("no camera frames were recorded, nothing to write", path)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    top = TopDown(track)
    first = side_by_side(frames[0], top.draw(poses[0]))
    size = (first.shape[1] - first.shape[1] % 2, first.shape[0] - first.shape[0] % 2)  # codecs like even sizes
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), size)
    if not writer.isOpened():
        raise ConfigError("OpenCV cannot open an mp4v video writer here", path)
    try:
        for i, (frame, pose) in enumerate(zip(frames, poses, strict=True)):
            img = side_by_side(frame, top.draw(pose, poses[max(0, i - 300) : i + 1], objects[i] if objects else ()),
                               captions[i] if captions else "")
            writer.write(np.ascontiguousarray(img[: size[1], : size[0]]))
    finally:
        writer.release()
    return path


def write_trajectory_png(
    path: str | Path,
    track: Any,
    poses: Sequence[Pose],
    title: str = "",
) -> Path:
    """The track and the driven path, coloured by speed (matplotlib, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(8, 6), dpi=120)
    try:
        for border in (track.inner, track.outer):
            loop = np.vstack([border, border[:1]])
            ax.plot(loop[:, 0], loop[:, 1], color="0.2", linewidth=1.5)
        center = np.vstack([track.center, track.center[:1]])
        ax.plot(center[:, 0], center[:, 1], color="0.6", linewidth=0.8, linestyle="--")
        if len(poses) > 1:
            xy = np.array([(p.x, p.y) for p in poses])
            speed = np.array([p.speed for p in poses])
            segments = np.stack([xy[:-1], xy[1:]], axis=1)
            lines = LineCollection(segments, cmap="viridis", linewidth=2.0)
            lines.set_array(speed[:-1])
            ax.add_collection(lines)
            fig.colorbar(lines, ax=ax, label="speed (m/s)")
            ax.plot(*xy[0], marker="o", color="tab:green", label="start")
            ax.plot(*xy[-1], marker="s", color="tab:red", label="end")
            ax.legend(loc="upper right")
        ax.set_aspect("equal")
        ax.set_xlabel("x (m)")
        ax.set_ylabel("y (m)")
        ax.set_title(title)
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path

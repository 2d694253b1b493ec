"""The live view of a training run: the camera beside a top-down view of the car, as a JPEG.

A viewer (the console) asks for frames by touching OUT/live/watch; while that file is fresh
(touched within WATCH_FRESH_S) the trainer writes OUT/live/frame.jpg atomically at about
`fps` frames a second, from the first environment's observation and pose. Nobody watching
costs one clock read per step and one stat() per CHECK_EVERY_S, so training is not slowed.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

LIVE_DIR = "live"
WATCH_FILE = "watch"
FRAME_FILE = "frame.jpg"
WATCH_FRESH_S = 5.0  # a viewer re-touches the file on every request
CHECK_EVERY_S = 0.5
DEFAULT_FPS = 5.0


def watch(out: Path) -> None:
    """Ask the run in `out` for live frames (the viewer's side)."""
    folder = Path(out) / LIVE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    (folder / WATCH_FILE).write_text(f"{time.time():.3f}\n", encoding="utf-8")


class LiveView:
    """The trainer's side: `step(observations, infos)` after every vectorised step."""

    def __init__(self, out: Path, track: Any, fps: float = DEFAULT_FPS) -> None:
        self.folder = Path(out) / LIVE_DIR
        self.track_ref = track  # a name or path; loaded on the first frame
        self.period = 1.0 / fps
        self._next_check = 0.0
        self._watched = False
        self._next_frame = 0.0
        self._top: Any = None
        self.frames = 0

    def watched(self) -> bool:
        """Whether the console watches now (rollout workers send frames only then)."""
        return self._is_watched(time.monotonic())

    def _is_watched(self, now: float) -> bool:
        if now >= self._next_check:
            self._next_check = now + CHECK_EVERY_S
            try:
                self._watched = time.time() - (self.folder / WATCH_FILE).stat().st_mtime < WATCH_FRESH_S
            except OSError:
                self._watched = False
        return self._watched

    def step(self, observations: Any, infos: Any) -> None:
        now = time.monotonic()
        if not self._is_watched(now) or now < self._next_frame or observations is None or not infos:
            return
        self._next_frame = now + self.period
        try:
            self.write(np.asarray(observations)[0], infos[0])
        except (KeyError, ValueError, OSError):  # a frame is a nicety: never stop training for one
            return

    def write(self, observation: np.ndarray, info: dict[str, Any]) -> None:
        import cv2

        from deepracer.sim.video import Pose, TopDown, side_by_side

        if self._top is None:
            from deepracer.sim import DEFAULT_TRACK, load_track

            self._top = TopDown(load_track(self.track_ref or DEFAULT_TRACK), height_px=240)
        camera = observation
        if camera.ndim == 3:  # the newest stacked frame; SB3 hands CNN policies channels first
            camera = camera[-1] if camera.shape[0] <= 12 < camera.shape[-1] else camera[..., -1]
        pose = Pose(float(info["x"]), float(info["y"]), math.radians(float(info["yaw_deg"])), float(info["speed"]))
        caption = f"progress {float(info.get('progress', 0.0)):.0f}%  speed {pose.speed:.1f} m/s"
        image = side_by_side(np.ascontiguousarray(camera), self._top.draw(pose), caption)
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
        if not ok:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / (FRAME_FILE + ".tmp")
        tmp.write_bytes(jpeg.tobytes())
        os.replace(tmp, self.folder / FRAME_FILE)
        self.frames += 1

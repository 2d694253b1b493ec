"""Camera frame sources behind one interface, with resize/convert at the source and reconnect.

Sources (`open_source(device, ...)` picks one from the device string):
- V4L2 camera: a device path (`/dev/video0`, the udev link `/dev/deepracer/camera`) or an index (`0`),
  through OpenCV's V4L2 backend with the capture size and fps set;
- a video file (`.mp4`, `.avi`, ...), an image folder (sorted; both optionally looping),
  paced at `fps` like a camera;
- `synthetic`: a deterministic moving pattern for tests and benchmarks.

`Camera` wraps a source: it resizes to the output size (INTER_AREA) and converts to mono8 or
bgr8 right after capture (a 640x480 bgr8 image is too big to travel at 30 Hz), and it survives
an unplugged device: a clear message, retries with exponential backoff (capped), and frames
again as soon as the device is back.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from deepracer.errors import ConfigError, HardwareError

log = logging.getLogger(__name__)

ENCODINGS = ("mono8", "bgr8")
VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".mjpeg", ".mjpg", ".m4v"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm", ".tif", ".tiff"}


class EndOfStream(Exception):
    """A non-looping file or folder has no more frames."""


class FrameSource:
    """One kind of camera. `read()` returns a BGR (or gray) uint8 frame, or raises HardwareError
    when the device is gone (the caller closes and reopens) or EndOfStream."""

    description = "camera"
    paced = False  # True: not a live device, so the Camera paces reads at `fps`

    def open(self) -> None:
        raise NotImplementedError

    def read(self) -> np.ndarray:
        raise NotImplementedError

    def close(self) -> None:
        pass


class V4L2Source(FrameSource):
    def __init__(self, device: str | int, capture_width: int, capture_height: int, fps: float) -> None:
        self.device = device
        self.size = (int(capture_width), int(capture_height))
        self.fps = float(fps)
        self.description = f"camera {device}"
        self._cap: cv2.VideoCapture | None = None

    def open(self) -> None:
        if isinstance(self.device, str) and not os.path.exists(self.device):
            raise HardwareError("no camera at this path (unplugged, or the udev rule is not installed?)", self.device)
        backend = cv2.CAP_V4L2 if os.name == "posix" else cv2.CAP_ANY
        cap = cv2.VideoCapture(self.device, backend)
        if not cap.isOpened():
            cap.release()
            raise HardwareError("cannot open the camera (busy, unplugged, or not a V4L2 capture device?)", str(self.device))
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.size[0])
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.size[1])
        cap.set(cv2.CAP_PROP_FPS, self.fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not a queue of old ones
        self._cap = cap

    def read(self) -> np.ndarray:
        if self._cap is None:
            raise HardwareError("camera is not open", str(self.device))
        ok, frame = self._cap.read()
        if not ok or frame is None:
            raise HardwareError("the camera stopped delivering frames (unplugged?)", str(self.device))
        return frame

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class VideoFileSource(FrameSource):
    paced = True

    def __init__(self, path: str | Path, loop: bool = True) -> None:
        self.path = Path(path)
        self.loop = loop
        self.description = f"video file {self.path}"
        self._cap: cv2.VideoCapture | None = None

    def open(self) -> None:
        if not self.path.is_file():
            raise HardwareError("video file not found", self.path)
        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            cap.release()
            raise HardwareError("cannot decode this video file", self.path)
        self._cap = cap

    def read(self) -> np.ndarray:
        if self._cap is None:
            raise HardwareError("video file is not open", self.path)
        ok, frame = self._cap.read()
        if ok and frame is not None:
            return frame
        if not self.loop:
            raise EndOfStream(str(self.path))
        self.close()  # reopen from the start: the file may have been replaced or removed meanwhile
        self.open()
        ok, frame = self._cap.read()
        if not ok or frame is None:
            raise HardwareError("video file has no readable frames", self.path)
        return frame

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class ImageFolderSource(FrameSource):
    paced = True

    def __init__(self, folder: str | Path, loop: bool = True) -> None:
        self.folder = Path(folder)
        self.loop = loop
        self.description = f"image folder {self.folder}"
        self._files: list[Path] = []
        self._next = 0

    def open(self) -> None:
        if not self.folder.is_dir():
            raise HardwareError("image folder not found", self.folder)
        self._files = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self._files:
            raise HardwareError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in the folder", self.folder)
        self._next = min(self._next, len(self._files)) if self.loop else self._next

    def read(self) -> np.ndarray:
        if self._next >= len(self._files):
            if not self.loop:
                raise EndOfStream(str(self.folder))
            self._next = 0
        path = self._files[self._next]
        if not path.is_file():  # checked first: imread would only print a warning
            raise HardwareError("image is gone (folder removed or unmounted?)", path)
        frame = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if frame is None:
            raise HardwareError("image missing or unreadable", path)
        self._next += 1
        if frame.ndim == 3 and frame.shape[2] == 4:
            frame = cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
        if frame.dtype != np.uint8:
            frame = cv2.convertScaleAbs(frame, alpha=255.0 / max(1, int(frame.max())))
        return frame


class SyntheticSource(FrameSource):
    """A deterministic moving pattern (stripes, a 'road' and a frame counter bar) at capture size.

    Frame k is the same on every run, so tests can compare pixels.
    """

    paced = True
    description = "synthetic pattern"

    def __init__(self, capture_width: int = 640, capture_height: int = 480, step_px: int = 8) -> None:
        w, h = int(capture_width), int(capture_height)
        self.size = (w, h)
        self.step_px = step_px
        self.index = 0
        # A base twice as wide; frame k is a window into it, shifted k*step: cheap and moving.
        x = np.arange(2 * w)
        y = np.arange(h)[:, None]
        stripes = ((x // 32) % 2 * 120 + 60).astype(np.uint8)[None, :].repeat(h, 0)
        road = (np.abs((x[None, :] % w) - w / 2 - (y - h / 2) * 0.5) < w / 8) & (y > h / 3)
        base = np.stack([stripes, np.roll(stripes, 16, axis=1), 255 - stripes], axis=2)
        base[road] = (40, 40, 40)
        self._base = np.ascontiguousarray(base)

    def open(self) -> None:
        pass

    def read(self) -> np.ndarray:
        w, h = self.size
        off = (self.index * self.step_px) % w
        frame = self._base[:, off : off + w].copy()
        frame[: h // 20, : (self.index % 64) * w // 64] = 255  # frame-counter bar
        self.index += 1
        return frame


def parse_device(device: str | int) -> str | int:
    """'0' -> 0 (a V4L2 index); everything else stays a string."""
    if isinstance(device, int):
        return device
    text = str(device).strip()
    return int(text) if text.isdigit() else text


def open_source(device: str | int, capture_width: int = 640, capture_height: int = 480, fps: float = 30.0,
                loop: bool = True) -> FrameSource:
    """The source for a device string (see the module docstring). Does not open it yet."""
    dev = parse_device(device)
    if isinstance(dev, int):
        return V4L2Source(dev, capture_width, capture_height, fps)
    if not dev:
        raise ConfigError("camera device is empty; use a V4L2 path or index, a video file, an image folder or 'synthetic'")
    if dev == "synthetic":
        return SyntheticSource(capture_width, capture_height)
    path = Path(dev)
    if path.is_dir() or dev.endswith("/"):
        return ImageFolderSource(path, loop=loop)
    if path.suffix.lower() in VIDEO_SUFFIXES or (path.is_file() and not dev.startswith("/dev/")):
        return VideoFileSource(path, loop=loop)
    return V4L2Source(dev, capture_width, capture_height, fps)  # a device that may be unplugged right now


@dataclass(frozen=True)
class Frame:
    image: np.ndarray  # uint8, HxW (mono8) or HxWx3 (bgr8)
    encoding: str
    stamp_ns: int  # wall-clock capture time (time.time_ns), the ROS stamp without sim time
    index: int  # frames delivered by this Camera, from 0


def convert(frame: np.ndarray, width: int, height: int, encoding: str) -> np.ndarray:
    """Resize (INTER_AREA: no aliasing when shrinking) and convert to mono8 or bgr8.

    mono8 converts to grey before resizing: resizing one channel instead of three halves the cost.
    """
    if encoding == "mono8" and frame.ndim == 3:
        frame = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    if frame.shape[1] != width or frame.shape[0] != height:
        frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
    if encoding == "bgr8" and frame.ndim == 2:
        frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    return frame


@dataclass
class Backoff:
    """Exponential backoff between reconnect attempts: initial, doubling, capped at `maximum`."""

    initial: float = 0.1
    maximum: float = 2.0
    delay: float = 0.0

    def next(self) -> float:
        self.delay = self.initial if self.delay <= 0 else min(self.delay * 2.0, self.maximum)
        return self.delay

    def reset(self) -> None:
        self.delay = 0.0


class Camera:
    """A FrameSource made robust: converted frames, pacing for files, reconnect with backoff.

    `read(stop)` blocks until a frame is available; it returns None when `stop` is set or a
    non-looping file has ended. `on_status(message)` hears about disconnects and reconnects
    (the node logs them); messages are not repeated while the device stays away.
    `max_attempts` bounds the reconnect attempts (None = retry forever, as on the car).
    """

    def __init__(self, source: FrameSource, width: int = 160, height: int = 120, encoding: str = "mono8",
                 fps: float = 30.0, backoff: Backoff | None = None, max_attempts: int | None = None,
                 on_status: Callable[[str], None] | None = None) -> None:
        if encoding not in ENCODINGS:
            raise ConfigError(f"camera encoding must be one of {', '.join(ENCODINGS)}, not {encoding!r}")
        if width < 1 or height < 1:
            raise ConfigError(f"camera output size must be positive, not {width}x{height}")
        if not fps > 0:
            raise ConfigError(f"camera fps must be positive, not {fps}")
        self.source = source
        self.width, self.height, self.encoding = int(width), int(height), encoding
        self.period = 1.0 / float(fps)
        self.backoff = backoff or Backoff()
        self.max_attempts = max_attempts
        self.on_status = on_status or (lambda msg: log.warning("%s", msg))
        self.is_open = False
        self.frames = 0
        self.reconnects = 0
        self._failed_attempts = 0
        self._lost = False  # reported a disconnect, waiting to report the recovery
        self._next_due = 0.0

    def _wait(self, seconds: float, stop: threading.Event | None) -> bool:
        """Sleep; True if stop was set meanwhile."""
        if stop is None:
            time.sleep(seconds)
            return False
        return stop.wait(seconds)

    def _failed(self, err: Exception, stop: threading.Event | None) -> bool:
        self.source.close()
        self.is_open = False
        self._failed_attempts += 1
        if self.max_attempts is not None and self._failed_attempts >= self.max_attempts:
            raise HardwareError(f"{self.source.description}: gave up after {self._failed_attempts} attempts: {err}")
        delay = self.backoff.next()
        if not self._lost:
            self.on_status(f"{err}; retrying (backoff up to {self.backoff.maximum:g} s)")
            self._lost = True
        return self._wait(delay, stop)

    def read(self, stop: threading.Event | None = None) -> Frame | None:
        while stop is None or not stop.is_set():
            if not self.is_open:
                try:
                    self.source.open()
                except HardwareError as err:
                    if self._failed(err, stop):
                        return None
                    continue
                self.is_open = True
                self._next_due = time.monotonic()
            if self.source.paced:
                delay = self._next_due - time.monotonic()
                if delay > 0 and self._wait(delay, stop):
                    return None
                # Keep the schedule (no drift), but never burst to catch up after a stall.
                self._next_due = max(self._next_due + self.period, time.monotonic())
            try:
                raw = self.source.read()
            except EndOfStream:
                return None
            except HardwareError as err:
                if self._failed(err, stop):
                    return None
                continue
            stamp_ns = time.time_ns()
            if self._lost:
                self.on_status(f"{self.source.description}: frames again")
                self._lost = False
                self.reconnects += 1
            self._failed_attempts = 0
            self.backoff.reset()
            image = convert(raw, self.width, self.height, self.encoding)
            frame = Frame(image, self.encoding, stamp_ns, self.frames)
            self.frames += 1
            return frame
        return None

    def close(self) -> None:
        self.source.close()
        self.is_open = False

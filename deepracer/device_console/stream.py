"""Camera frames to JPEG for the browser, with the policy's decision drawn over them.

Encoding happens here, in the web server's threads, and only for a viewer: the node keeps
the newest image as it came and this module encodes it when a client asks, at most once
per frame however many clients watch (the last JPEG is cached by frame number).

The MJPEG stream (`multipart/x-mixed-replace`) gives each part headers a client can
measure the delay with: `X-Frame-Seq`, `X-Frame-Stamp` (the image's own stamp),
`X-Received-At` (wall time the console node got it) and `X-Sent-At` (wall time the part left).
"""

from __future__ import annotations

import math
import threading
import time

import cv2
import numpy as np

from deepracer.device_console.backend import Frame, PolicyOverlay

BOUNDARY = "deepracerframe"
OVERLAY_SCALE = 2  # 160x120 is too small to write on; the overlay frame is drawn at twice the size


class FrameEncoder:
    def __init__(self, quality: int = 80) -> None:
        self.quality = int(quality)
        self._lock = threading.Lock()
        self._cache: tuple[tuple, bytes] | None = None
        self.encoded = 0  # frames actually encoded (tests: no encoding without a viewer)

    def jpeg(self, frame: Frame, overlay: PolicyOverlay | None) -> bytes:
        key = (frame.seq, None if overlay is None else (round(overlay.steering_angle, 1), round(overlay.speed, 2)))
        with self._lock:
            if self._cache is not None and self._cache[0] == key:
                return self._cache[1]
        image = frame.image
        if overlay is not None:
            image = draw_overlay(image, overlay)
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            raise ValueError("JPEG encoding failed")
        data = buf.tobytes()
        with self._lock:
            self._cache = (key, data)
            self.encoded += 1
        return data


def draw_overlay(image: np.ndarray, overlay: PolicyOverlay) -> np.ndarray:
    """Twice the size, in colour: an arrow for the steering angle (length ~ speed) and the numbers."""
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    h, w = image.shape[:2]
    out = cv2.resize(image, (w * OVERLAY_SCALE, h * OVERLAY_SCALE), interpolation=cv2.INTER_NEAREST)
    h, w = out.shape[:2]
    base = (w // 2, h - 6)
    length = 20 + 60 * min(1.0, max(0.0, overlay.speed) / 2.0)
    angle = math.radians(overlay.steering_angle)  # + = left: the arrow leans left
    tip = (int(base[0] - length * math.sin(angle)), int(base[1] - length * math.cos(angle)))
    colour = (0, 220, 255) if overlay.age_s < 0.5 else (128, 128, 128)  # grey when the decision is old
    cv2.arrowedLine(out, base, tip, (0, 0, 0), 5, cv2.LINE_AA, tipLength=0.25)
    cv2.arrowedLine(out, base, tip, colour, 2, cv2.LINE_AA, tipLength=0.25)
    text = f"{overlay.steering_angle:+.0f} deg  {overlay.speed:.2f} m/s"
    cv2.putText(out, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA)
    return out


def mjpeg_part(jpeg: bytes, frame: Frame) -> bytes:
    head = (f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n"
            f"X-Frame-Seq: {frame.seq}\r\nX-Frame-Stamp: {frame.stamp:.6f}\r\n"
            f"X-Received-At: {frame.received_at:.6f}\r\nX-Sent-At: {time.time():.6f}\r\n\r\n")
    return head.encode() + jpeg + b"\r\n"

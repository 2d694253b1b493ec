"""numpy <-> sensor_msgs/Image without cv_bridge (not on PyPI; avoids a C++ dependency)."""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import Image

_CHANNELS = {"mono8": 1, "bgr8": 3, "rgb8": 3}


def to_image_msg(frame: np.ndarray, encoding: str, stamp, frame_id: str) -> Image:
    """A uint8 HxW (mono8) or HxWx3 (bgr8/rgb8) array -> Image. `stamp` is a builtin_interfaces Time."""
    if encoding not in _CHANNELS:
        raise ValueError(f"unsupported encoding {encoding!r}; use mono8, bgr8 or rgb8")
    if frame.dtype != np.uint8:
        raise ValueError(f"image must be uint8, not {frame.dtype}")
    channels = _CHANNELS[encoding]
    if (frame.ndim == 2 and channels != 1) or (frame.ndim == 3 and frame.shape[2] != channels):
        raise ValueError(f"shape {frame.shape} does not fit encoding {encoding}")
    msg = Image()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(frame.shape[0]), int(frame.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = msg.width * channels
    msg.data = np.ascontiguousarray(frame).tobytes()
    return msg


def from_image_msg(msg: Image) -> tuple[np.ndarray, str]:
    """Image -> (uint8 array HxW or HxWx3, encoding). Raises ValueError on unsupported encodings."""
    channels = _CHANNELS.get(msg.encoding)
    if channels is None:
        raise ValueError(f"unsupported encoding {msg.encoding!r}; use mono8, bgr8 or rgb8")
    buf = np.frombuffer(bytes(msg.data) if not isinstance(msg.data, (bytes, bytearray, memoryview)) else msg.data, np.uint8)
    rows = buf.reshape(msg.height, msg.step)[:, : msg.width * channels]
    frame = rows.reshape(msg.height, msg.width) if channels == 1 else rows.reshape(msg.height, msg.width, channels)
    return frame, msg.encoding

"""Frames of the running camera_node for `deepracer calibrate camera`: the newest camera/image_raw.

A thin adapter: a node with one subscription (KEEP_LAST 1, best effort: matches any camera
publisher, never queues old frames) and an iterator over the frames as they arrive.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import rclpy
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from deepracer.hardware.camera_calibration import CameraCalibrationError
from deepracer_nodes.image_conversion import from_image_msg

NEWEST_FRAME_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.BEST_EFFORT,
                              durability=DurabilityPolicy.VOLATILE)


class CameraFrames:
    """`frames(no_frame_timeout)` yields each new image of `topic` as a uint8 array (grey or BGR)."""

    def __init__(self, topic: str = "camera/image_raw", node_name: str = "camera_calibration", context=None) -> None:
        self.topic = topic
        self.node = rclpy.create_node(node_name, context=context)
        self._latest: Image | None = None
        self.node.create_subscription(Image, topic, self._on_image, NEWEST_FRAME_QOS)
        from rclpy.executors import SingleThreadedExecutor

        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)

    def _on_image(self, msg: Image) -> None:
        self._latest = msg

    @property
    def resolved_topic(self) -> str:
        return self.node.resolve_topic_name(self.topic)

    def frames(self, no_frame_timeout: float = 10.0) -> Iterator[np.ndarray]:
        last = time.monotonic()
        while True:
            self.executor.spin_once(timeout_sec=0.05)
            msg, self._latest = self._latest, None
            if msg is None:
                if time.monotonic() - last > no_frame_timeout:
                    raise CameraCalibrationError(f"no image on {self.resolved_topic} for {no_frame_timeout:g} s: is "
                                                 "camera_node running (deepracer drive, or ros2 run deepracer camera_node)?")
                continue
            last = time.monotonic()
            frame, encoding = from_image_msg(msg)
            if encoding == "rgb8":
                frame = frame[:, :, ::-1]
            yield frame

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()

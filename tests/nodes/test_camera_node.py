"""camera_node with real rclpy: published images, camera_info, and an unplugged device."""

from __future__ import annotations

import itertools
import time

import cv2
import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
import ros_rig  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from deepracer_nodes.camera_node import CameraNode  # noqa: E402
from deepracer_nodes.image_conversion import from_image_msg  # noqa: E402

pytestmark = pytest.mark.ros
_ns = itertools.count()


class Rig(ros_rig.Rig):
    def __init__(self, ctx, **params):
        super().__init__(ctx, CameraNode, f"/t_camera_{next(_ns)}", params)
        self.images: list[Image] = []
        self.infos: list[CameraInfo] = []
        self.probe.create_subscription(Image, "camera/image_raw", self.images.append, 10)
        self.probe.create_subscription(CameraInfo, "camera/camera_info", self.infos.append, 10)


@pytest.fixture
def rig(ros_context):
    yield from ros_rig.make_rigs(Rig, ros_context)


def test_publishes_small_mono_images_with_capture_stamp_and_info(rig):
    before = time.time_ns()
    r = rig(device="synthetic", fps=60.0, frame_id="cam_front")
    assert r.spin_until(lambda: len(r.images) >= 3 and len(r.infos) >= 3)
    # each image has its camera_info with the same stamp (the probe may have matched one topic first)
    info_stamps = {(i.header.stamp.sec, i.header.stamp.nanosec): i for i in r.infos}
    img = next(i for i in r.images if (i.header.stamp.sec, i.header.stamp.nanosec) in info_stamps)
    info = info_stamps[(img.header.stamp.sec, img.header.stamp.nanosec)]
    frame, encoding = from_image_msg(img)
    assert (frame.shape, encoding, img.header.frame_id) == ((120, 160), "mono8", "cam_front")
    stamp_ns = img.header.stamp.sec * 10**9 + img.header.stamp.nanosec
    assert before <= stamp_ns <= time.time_ns()
    assert (info.header.stamp, info.header.frame_id, info.width, info.height) == (img.header.stamp, "cam_front", 160, 120)
    assert not np.array_equal(from_image_msg(r.images[-1])[0], frame)  # the pattern moves


def test_bgr8_at_a_custom_size(rig):
    r = rig(device="synthetic", width=80, height=60, encoding="bgr8", fps=60.0)
    assert r.spin_until(lambda: len(r.images) >= 1)
    frame, encoding = from_image_msg(r.images[0])
    assert frame.shape == (60, 80, 3) and encoding == "bgr8"


def test_unplugged_camera_does_not_stall_the_graph_and_resumes(rig, tmp_path):
    folder = tmp_path / "camera"
    r = rig(device=str(folder) + "/", fps=60.0)  # not there yet: "unplugged"
    echo: list[str] = []
    pub = r.probe.create_publisher(String, "echo", 10)
    r.probe.create_subscription(String, "echo", lambda m: echo.append(m.data), 10)
    assert r.spin_until(lambda: pub.get_subscription_count() > 0)
    pub.publish(String(data="alive"))
    assert r.spin_until(lambda: echo == ["alive"])  # other callbacks keep running
    assert r.images == []
    folder.mkdir()
    cv2.imwrite(str(folder / "0001.png"), np.full((48, 64, 3), 200, np.uint8))
    assert r.spin_until(lambda: len(r.images) >= 2, timeout=10.0)  # backoff is capped at 2 s
    assert from_image_msg(r.images[0])[0].shape == (120, 160)


def test_a_missing_camera_is_reported_waiting_and_never_as_publishing(tmp_path):
    """The log says what happens: 'no camera ... retrying' and not 'publishing' until a frame went out."""
    import signal
    import subprocess
    import sys

    missing = tmp_path / "video9"
    proc = subprocess.Popen([sys.executable, "-m", "deepracer_nodes.camera_node", "--ros-args", "-r",
                             f"__ns:=/t_camera_missing_{next(_ns)}", "-p", f"device:={missing}"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(4.0)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    assert "retrying" in out and str(missing) in out, out
    assert "publishing" not in out, out

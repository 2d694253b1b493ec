"""camera_node publishes the camera calibration on camera/camera_info (real rclpy), scaled to its output."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "nodes"))
import ros_rig  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402

from deepracer.camera_profile import DistortionModel, Intrinsics  # noqa: E402
from deepracer.hardware.camera_calibration import CameraInfoFile, save_camera_info  # noqa: E402
from deepracer_nodes.camera_node import CameraNode  # noqa: E402

pytestmark = pytest.mark.ros
_ns = itertools.count()

CAL_640 = CameraInfoFile("car_cam", Intrinsics(640, 480, 400.0, 404.0, 321.0, 243.0, DistortionModel.EQUIDISTANT,
                                               (-0.02, 0.01, -0.003, 0.0005)),
                         projection=(380.0, 0.0, 320.0, 0.0, 0.0, 384.0, 240.0, 0.0, 0.0, 0.0, 1.0, 0.0))


class Rig(ros_rig.Rig):
    def __init__(self, ctx, **params):
        super().__init__(ctx, CameraNode, f"/t_caminfo_{next(_ns)}", params)
        self.images: list[Image] = []
        self.infos: list[CameraInfo] = []
        self.probe.create_subscription(Image, "camera/image_raw", self.images.append, 10)
        self.probe.create_subscription(CameraInfo, "camera/camera_info", self.infos.append, 10)


@pytest.fixture
def rig(ros_context):
    yield from ros_rig.make_rigs(Rig, ros_context)


@pytest.fixture(autouse=True)
def no_default_calibration(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPRACER_CAMERA_INFO", str(tmp_path / "absent" / "camera_info.yaml"))


def test_640x480_calibration_is_published_scaled_to_160x120_with_the_image_stamp(rig, tmp_path):
    path = save_camera_info(CAL_640, tmp_path / "camera_info.yaml")
    r = rig(device="synthetic", fps=60.0, width=160, height=120, camera_info_file=str(path), frame_id="cam")
    assert r.spin_until(lambda: len(r.infos) >= 2 and len(r.images) >= 2, timeout=20.0)  # a loaded 2-core machine
    info = r.infos[0]
    stamps = {(m.header.stamp.sec, m.header.stamp.nanosec) for m in r.images}
    assert (info.header.stamp.sec, info.header.stamp.nanosec) in stamps
    assert (info.width, info.height, info.header.frame_id) == (160, 120, "cam")
    assert info.distortion_model == "equidistant"
    s = 0.25  # 640 -> 160: focal lengths / 4, pixel centres kept: x' = s x + (s - 1) / 2
    k = np.array(info.k).reshape(3, 3)
    np.testing.assert_allclose([k[0, 0], k[1, 1], k[0, 2], k[1, 2]],
                               [100.0, 101.0, 321.0 * s + (s - 1) / 2, 243.0 * s + (s - 1) / 2])
    p = np.array(info.p).reshape(3, 4)
    np.testing.assert_allclose([p[0, 0], p[1, 1], p[0, 2], p[1, 2], p[2, 2]],
                               [95.0, 96.0, 320.0 * s + (s - 1) / 2, 240.0 * s + (s - 1) / 2, 1.0])
    np.testing.assert_allclose(info.d, CAL_640.d)  # distortion does not change with the resize
    np.testing.assert_allclose(info.r, np.eye(3).ravel())


def test_calibration_at_the_published_size_is_published_unchanged(rig, tmp_path):
    path = save_camera_info(CAL_640, tmp_path / "camera_info.yaml")
    r = rig(device="synthetic", fps=60.0, width=640, height=480, capture_width=640, capture_height=480,
            camera_info_file=f"file://{path}")  # camera_info_manager's URL form works too
    assert r.spin_until(lambda: len(r.infos) >= 1, timeout=20.0)  # a loaded 2-core machine
    np.testing.assert_allclose(r.infos[0].k, CAL_640.k)


@pytest.mark.parametrize("content, reason", [
    (None, "not found"),
    ("image_width: 640\nimage_height: [480\n", "invalid YAML"),
    ("image_width: 640\nimage_height: 480\ncamera_matrix: {rows: 3, cols: 3, data: [1, 0]}\n"
     "distortion_coefficients: {rows: 1, cols: 5, data: [0, 0, 0, 0, 0]}\n", "camera_matrix.data has 2 numbers"),
])
def test_missing_or_corrupt_file_is_named_and_images_keep_coming(rig, tmp_path, content, reason):
    path = tmp_path / "camera_info.yaml"
    if content is not None:
        path.write_text(content)
    r = rig(device="synthetic", fps=60.0, camera_info_file=str(path))
    assert r.spin_until(lambda: len(r.images) >= 3 and len(r.infos) >= 3, timeout=20.0)  # a loaded 2-core machine
    assert str(path) in r.node.camera_info_error and reason in r.node.camera_info_error
    assert list(r.infos[-1].k) == [0.0] * 9  # uncalibrated, as ROS expects without a calibration


def test_other_aspect_ratio_is_refused_naming_the_file(rig, tmp_path):
    path = save_camera_info(CAL_640, tmp_path / "camera_info.yaml")
    r = rig(device="synthetic", fps=60.0, width=160, height=90, camera_info_file=str(path))
    assert r.spin_until(lambda: len(r.images) >= 2, timeout=20.0)  # a loaded 2-core machine
    assert str(path) in r.node.camera_info_error and "aspect ratio" in r.node.camera_info_error


def test_no_file_configured_and_no_default_file_is_uncalibrated_without_error(rig):
    r = rig(device="synthetic", fps=60.0)
    assert r.spin_until(lambda: len(r.infos) >= 1, timeout=20.0)  # a loaded 2-core machine
    assert r.node.camera_info is None and r.node.camera_info_error is None
    assert list(r.infos[0].k) == [0.0] * 9

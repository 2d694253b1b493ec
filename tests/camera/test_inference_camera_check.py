"""inference_node checks the car's camera (camera/camera_info) against the model's camera profile (real rclpy)."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import pytest

from deepracer.camera_profile import AWS_SIM, CAR, Intrinsics
from deepracer.model.package import record_camera_profile
from deepracer.model.reference_net import make_fixed_package

rclpy = pytest.importorskip("rclpy")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "nodes"))
import ros_rig  # noqa: E402
from sensor_msgs.msg import CameraInfo  # noqa: E402

from deepracer_nodes.inference_node import InferenceNode  # noqa: E402

_ns = itertools.count()


@pytest.fixture
def package(tmp_path) -> Path:
    return make_fixed_package(tmp_path / "pkg", [0.1, 0.2, 0.4, 0.2, 0.1])


def camera_info(intr: Intrinsics) -> CameraInfo:
    msg = CameraInfo()
    msg.width, msg.height = intr.width, intr.height
    msg.k = [float(x) for x in intr.matrix.ravel()]
    msg.distortion_model = intr.distortion_model.value
    msg.d = list(intr.coefficients)
    return msg


class Rig(ros_rig.Rig):
    def __init__(self, ctx, **params):
        super().__init__(ctx, InferenceNode, f"/t_infcam_{next(_ns)}", params)
        self.pub = self.probe.create_publisher(CameraInfo, "camera/camera_info", 10)
        assert self.spin_until(lambda: self.pub.get_subscription_count() >= 1)

    def check_after(self, msg: CameraInfo):
        self.node.camera_watch.last = None
        self.node.camera_watch._key = None
        self.pub.publish(msg)
        assert self.spin_until(lambda: self.node.camera_watch.last is not None)
        return self.node.camera_watch.last


@pytest.fixture
def rig(ros_context):
    yield from ros_rig.make_rigs(Rig, ros_context)


@pytest.mark.ros
def test_inference_node_warns_on_a_camera_unlike_the_models_profile_and_not_on_a_match(rig, package):
    record_camera_profile(package, AWS_SIM)
    r = rig(model=str(package))
    match = r.check_after(camera_info(AWS_SIM.output_intrinsics))  # the same camera at 160x120
    assert match.ok and match.mismatches == ()
    wide = r.check_after(camera_info(CAR.output_intrinsics))  # a 120° lens
    assert not wide.ok and len(wide.mismatches) >= 1
    text = wide.message("model 'pkg'")
    assert "'aws-sim'" in text and "horizontal field of view 120.0° vs 64.7°" in text and "tolerance 5°" in text


@pytest.mark.ros
def test_inference_node_checks_once_per_camera_not_per_message(rig, package):
    record_camera_profile(package, AWS_SIM)
    r = rig(model=str(package))
    first = r.check_after(camera_info(CAR.output_intrinsics))
    for _ in range(5):
        r.pub.publish(camera_info(CAR.output_intrinsics))
    r.spin_for(0.3)
    assert r.node.camera_watch.last is first  # unchanged camera: no new check, no new log line
    uncalibrated = CameraInfo()
    uncalibrated.width, uncalibrated.height = 160, 120
    result = r.check_after(uncalibrated)
    assert not result.calibrated and "not calibrated" in result.message()
    np.testing.assert_equal(result.mismatches, ())

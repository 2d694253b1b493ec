"""The camera profile travels in the model package (pack/check/info) and inference_node checks the car's
camera against it (real rclpy)."""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from deepracer.camera_profile import AWS_SIM, CAR, Intrinsics
from deepracer.cli import main as cli
from deepracer.model.metadata import ModelMetadata
from deepracer.model.package import check_model_package, load_model_package, record_camera_profile
from deepracer.model.reference_net import make_fixed_package
from deepracer.model.tarball import pack_model


@pytest.fixture
def package(tmp_path) -> Path:
    return make_fixed_package(tmp_path / "pkg", [0.1, 0.2, 0.4, 0.2, 0.1])


def test_profile_round_trips_through_record_pack_check_and_info(package, tmp_path, capsys):
    record_camera_profile(package, AWS_SIM)
    tarball = pack_model(package, tmp_path / "pkg.tar.gz")
    assert check_model_package(tarball) == []
    loaded = load_model_package(tarball).metadata.camera_profile
    assert loaded == AWS_SIM  # every field, through JSON and the tarball
    assert cli(["model", "info", str(tarball), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["camera_profile"]["name"] == "aws-sim"
    assert info["camera_profile"]["field_of_view"]["horizontal_deg"] == pytest.approx(64.744, abs=0.01)


def test_package_without_a_profile_still_loads_and_says_so(package):
    pkg = load_model_package(package)
    assert pkg.metadata.camera_profile is None and pkg.describe()["camera_profile"] is None
    assert "camera_profile" not in json.loads((package / "model_metadata.json").read_text())


def test_a_bad_profile_block_is_a_package_problem_naming_the_field(package):
    meta = json.loads((package / "model_metadata.json").read_text())
    meta["camera_profile"] = AWS_SIM.to_dict() | {"intrinsics": {"fx": -5, "fy": 500, "cx": 319.5, "cy": 239.5}}
    (package / "model_metadata.json").write_text(json.dumps(meta))
    problems = check_model_package(package)
    assert len(problems) == 1 and "model_metadata.json" in problems[0]
    assert "camera_profile" in problems[0] and "intrinsics.fx must be positive" in problems[0]


def test_metadata_keeps_deepracer_keys_and_the_profile_side_by_side():
    meta = ModelMetadata.from_dict({"action_space": [{"steering_angle": 0, "speed": 1}],
                                    "camera_profile": CAR.to_dict(), "custom": 1})
    again = ModelMetadata.from_dict(json.loads(json.dumps(meta.to_dict())))
    assert again.camera_profile == CAR and again.extra == {"custom": 1}


# -- inference_node ---------------------------------------------------------------------------------

rclpy = pytest.importorskip("rclpy")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "nodes"))
import ros_rig  # noqa: E402
from sensor_msgs.msg import CameraInfo  # noqa: E402

from deepracer_nodes.inference_node import InferenceNode  # noqa: E402

_ns = itertools.count()


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

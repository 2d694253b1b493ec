"""inference_node with real rclpy: frames in, commands out, run-time model switches, stale frames dropped."""

from __future__ import annotations

import itertools
import json
import math
import shutil
import time

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
import ros_rig  # noqa: E402
from builtin_interfaces.msg import Time  # noqa: E402
from geometry_msgs.msg import Twist  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import QoSProfile, qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from std_msgs.msg import String  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from deepracer.control.kinematics import WHEELBASE_M  # noqa: E402
from deepracer.model.metadata import ModelMetadata  # noqa: E402
from deepracer.model.reference_net import make_brightness_package, make_fixed_package  # noqa: E402
from deepracer.model.tarball import pack_model  # noqa: E402
from deepracer_nodes.image_conversion import to_image_msg  # noqa: E402
from deepracer_nodes.inference_node import InferenceNode  # noqa: E402

pytestmark = pytest.mark.ros
_ns = itertools.count()
RELIABLE = QoSProfile(depth=10)
CONTINUOUS = ModelMetadata.from_dict({
    "action_space_type": "continuous",
    "action_space": {"steering_angle": {"low": -20, "high": 20}, "speed": {"low": 0.5, "high": 1.5}},
})


class Rig(ros_rig.Rig):
    def __init__(self, ctx, camera_qos=RELIABLE, **params):
        super().__init__(ctx, InferenceNode, f"/t_inference_{next(_ns)}", params)
        self.camera = self.probe.create_publisher(Image, "camera/image_raw", camera_qos)
        self.twists: list[Twist] = []
        self.actions: list[dict] = []
        self.probe.create_subscription(Twist, "policy/cmd_vel", self.twists.append, 100)
        self.probe.create_subscription(String, "policy/action", lambda m: self.actions.append(json.loads(m.data)), 100)
        assert self.spin_until(lambda: self.camera.get_subscription_count() >= 1
                               and self.probe.count_publishers(f"{self.ns}/policy/action") >= 1
                               and self.probe.count_subscribers(f"{self.ns}/policy/action") >= 1)

    def send(self, value: int, stamp_s: int = 1, shape=(120, 160)) -> None:
        frame = np.full(shape, value, np.uint8)
        self.camera.publish(to_image_msg(frame, "mono8", Time(sec=stamp_s), "camera"))

    def drive(self, value: int, stamp_s: int = 1) -> dict:
        """One frame in, wait for its answer."""
        n = len(self.actions)
        self.send(value, stamp_s)
        assert self.spin_until(lambda: len(self.actions) > n and len(self.twists) > n), "no answer to a frame"
        return self.actions[-1]


@pytest.fixture
def rig(ros_context):
    yield from ros_rig.make_rigs(Rig, ros_context)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {
        "brightness": make_brightness_package(root / "brightness"),
        "left": make_fixed_package(root / "left", [9, 0, 0, 0, 0]),
        "continuous": make_fixed_package(root / "continuous", [0.5, -1.0], metadata=CONTINUOUS),
        "root": root,
    }


@pytest.mark.parametrize("camera_qos", [RELIABLE, qos_profile_sensor_data], ids=["reliable", "best-effort"])
def test_a_frame_becomes_a_twist_with_the_models_action(rig, models, camera_qos):
    r = rig(camera_qos=camera_qos, model=str(models["brightness"]))
    action = r.drive(255, stamp_s=42)
    twist = r.twists[-1]
    assert twist.linear.x == pytest.approx(0.6)
    assert twist.angular.z == pytest.approx(0.6 * math.tan(math.radians(30)) / WHEELBASE_M)
    assert action["steering_angle"] == 30 and action["speed"] == 0.6 and action["index"] == 4
    assert action["frame_stamp"] == 42 and action["model"] == "brightness"
    assert action["inference_ms"] >= 0 and action["latency_ms"] > 0  # stamp 42 s is long ago on the node clock
    action = r.drive(0)
    assert action["steering_angle"] == -30 and r.twists[-1].angular.z < 0  # dark frame: -30 deg = right, negative angular.z (REP-103)


def test_continuous_model_output_is_rescaled(rig, models):
    r = rig(model=str(models["continuous"]))
    action = r.drive(100)
    assert action["steering_angle"] == pytest.approx(10.0) and action["speed"] == pytest.approx(0.5)
    assert action["index"] is None
    assert r.twists[-1].linear.x == pytest.approx(0.5)


def test_a_bad_model_at_run_time_is_refused_and_the_old_one_keeps_driving(rig, models, tmp_path):
    r = rig(model=str(models["left"]))
    assert r.drive(128)["steering_angle"] == -30
    broken = shutil.copytree(models["brightness"], tmp_path / "broken")
    (broken / "model_metadata.json").write_text('{"action_space": [')
    [result] = r.node.set_parameters([Parameter("model", value=str(broken))])
    assert not result.successful
    assert "model_metadata.json" in result.reason and "invalid JSON" in result.reason
    assert r.node.get_parameter("model").value == str(models["left"])
    [result] = r.node.set_parameters([Parameter("model", value=str(tmp_path / "missing.tar.gz"))])
    assert not result.successful and "not found" in result.reason
    action = r.drive(255)
    assert action["steering_angle"] == -30 and action["model"] == "left"  # still the old model
    # A good model switches at once, here as a tarball.
    tgz = pack_model(models["brightness"], tmp_path / "bright.tar.gz")
    [result] = r.node.set_parameters([Parameter("model", value=str(tgz))])
    assert result.successful
    action = r.drive(255)
    assert action["steering_angle"] == 30 and action["model"] == "bright"


def test_reload_service_picks_up_a_replaced_package_or_keeps_the_old(rig, models, tmp_path):
    pkg = shutil.copytree(models["left"], tmp_path / "live")
    r = rig(model=str(pkg))
    assert r.drive(128)["index"] == 0
    client = r.probe.create_client(Trigger, f"{r.ns}/inference_node/reload")
    assert client.wait_for_service(timeout_sec=5.0)

    def reload():
        future = client.call_async(Trigger.Request())
        assert r.spin_until(future.done)
        return future.result()

    (pkg / "model.onnx").write_bytes(b"corrupt")
    response = reload()
    assert not response.success and "onnxruntime cannot load" in response.message
    assert r.drive(128)["index"] == 0  # old model still loaded in memory and driving
    shutil.copy(models["brightness"] / "model.onnx", pkg / "model.onnx")
    (pkg / "model_metadata.json").write_text((models["brightness"] / "model_metadata.json").read_text())
    response = reload()
    assert response.success
    assert r.drive(255)["index"] == 4


def test_without_a_model_nothing_is_published_until_one_is_set(rig, models, monkeypatch, tmp_path):
    monkeypatch.setenv("DEEPRACER_MODEL", str(tmp_path / "not-there-yet.tar.gz"))
    r = rig(model="")
    assert r.node.policy is None
    [result] = r.node.set_parameters([Parameter("model", value="")])
    assert not result.successful and "not-there-yet.tar.gz" in result.reason and "does not exist yet" in result.reason
    r.send(255)
    r.spin_for(0.5)
    assert r.twists == [] and r.actions == []
    [result] = r.node.set_parameters([Parameter("model", value=str(models["brightness"]))])
    assert result.successful
    assert r.drive(255)["index"] == 4


def test_stale_frames_are_dropped_and_the_newest_is_processed(rig, models):
    r = rig(model=str(models["brightness"]))
    r.drive(0, stamp_s=1)  # warm-up: the pipe works
    published = 20
    for i in range(published):  # a burst while the node is busy (not spinning)
        r.send(255 if i == published - 1 else 0, stamp_s=100 + i)
    time.sleep(0.5)  # let DDS deliver everything to the reader
    n = len(r.actions)
    assert r.spin_until(lambda: len(r.actions) > n)
    r.spin_for(0.5)
    processed = r.actions[n:]
    assert 1 <= len(processed) < published
    assert processed[-1]["frame_stamp"] == 100 + published - 1  # the newest frame
    assert processed[-1]["index"] == 4  # and its content, not an older frame's
    assert len(r.twists) == len(r.actions)  # one command per processed frame


def test_a_frame_of_another_size_or_a_bad_encoding_does_not_stop_the_node(rig, models):
    r = rig(model=str(models["brightness"]))
    r.send(255, shape=(480, 640))  # resized by the node
    assert r.spin_until(lambda: len(r.actions) == 1)
    assert r.actions[-1]["index"] == 4
    bad = to_image_msg(np.zeros((120, 160), np.uint8), "mono8", Time(sec=1), "camera")
    bad.encoding = "yuv422"
    r.camera.publish(bad)
    r.spin_for(0.3)
    assert len(r.actions) == 1
    assert r.drive(0)["index"] == 0


def test_a_broken_model_at_start_publishes_nothing(rig, models, tmp_path):
    broken = shutil.copytree(models["left"], tmp_path / "broken")
    (broken / "model.onnx").write_bytes(b"")
    r = rig(model=str(broken))
    assert r.node.policy is None
    r.send(255)
    r.spin_for(0.5)
    assert r.twists == [] and r.actions == []


def test_an_inference_runtime_error_skips_the_frame_and_keeps_the_node(rig, models):
    """onnxruntime raising on one frame (its own exception types, not ValueError) must not
    stop the node: nothing is published for that frame, so the watchdog stops the car."""
    r = rig(model=str(models["brightness"]))
    good = r.node.policy

    class Failing:
        name = "failing"
        stereo = needs_lidar = False  # a front-camera model

        def predict(self, frame, lidar=None):
            raise RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION")

    r.node.policy = Failing()
    r.send(255)
    r.spin_for(0.3)
    assert r.actions == [] and r.twists == []
    r.node.policy = good
    assert r.drive(255)["index"] == 4

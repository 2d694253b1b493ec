"""inference_node with stereo and LiDAR models: the stereo topics and the LaserScan in, the same
decision as the policy runner offline; a car without the sensor refuses the model by name."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
import ros_rig  # noqa: E402
from builtin_interfaces.msg import Time  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import QoSProfile  # noqa: E402
from sensor_msgs.msg import Image, LaserScan  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from deepracer.model.policy import OnnxPolicy  # noqa: E402
from deepracer.model.preprocess import stereo_pair  # noqa: E402
from deepracer_nodes.image_conversion import to_image_msg  # noqa: E402
from deepracer_nodes.inference_node import InferenceNode  # noqa: E402
from tests.sensor_models import write_sensor_package  # noqa: E402

pytestmark = pytest.mark.ros
_ns = itertools.count()
RELIABLE = QoSProfile(depth=10)
EVO = ["STEREO_CAMERAS", "LIDAR"]


class Rig(ros_rig.Rig):
    def __init__(self, ctx, **params):
        super().__init__(ctx, InferenceNode, f"/t_inference_sensors_{next(_ns)}", params)
        pub = self.probe.create_publisher
        self.front = pub(Image, "camera/image_raw", RELIABLE)
        self.left = pub(Image, "camera/left/image_raw", RELIABLE)
        self.right = pub(Image, "camera/right/image_raw", RELIABLE)
        self.scan = pub(LaserScan, "scan", RELIABLE)
        self.actions: list[dict] = []
        self.probe.create_subscription(String, "policy/action", lambda m: self.actions.append(json.loads(m.data)), 100)
        assert self.spin_until(lambda: all(p.get_subscription_count() >= 1
                                           for p in (self.front, self.left, self.right, self.scan))
                               and self.probe.count_publishers(f"{self.ns}/policy/action") >= 1)

    def image(self, pub, frame: np.ndarray, stamp: float) -> None:
        sec = int(stamp)
        pub.publish(to_image_msg(frame, "mono8", Time(sec=sec, nanosec=int(round((stamp - sec) * 1e9))), "camera"))

    def laser(self, ranges: np.ndarray, stamp: float) -> None:
        msg = LaserScan()
        msg.header.stamp = Time(sec=int(stamp), nanosec=int(round((stamp - int(stamp)) * 1e9)))
        msg.range_min, msg.range_max = 0.15, 12.0
        msg.ranges = [float(r) for r in ranges]
        self.scan.publish(msg)

    def answered(self, n: int, seconds: float = 1.0) -> bool:
        return self.spin_until(lambda: len(self.actions) > n, timeout=seconds)


@pytest.fixture
def rig(ros_context):
    yield from ros_rig.make_rigs(Rig, ros_context)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("sensor-models")
    return {"stereo": write_sensor_package(["STEREO_CAMERAS"], root / "stereo", seed=1),
            "lidar": write_sensor_package(["FRONT_FACING_CAMERA", "LIDAR"], root / "lidar", seed=2)}


def frames(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 255, (120, 160), np.uint8), rng.integers(0, 255, (120, 160), np.uint8)


def test_a_stereo_model_runs_on_the_left_and_right_topics(rig, models):
    r = rig(model=str(models["stereo"]), sensors=EVO)
    offline = OnnxPolicy(models["stereo"], sensors=EVO)
    left, right = frames(0)
    r.image(r.left, left, 1.0)
    assert not r.answered(0, 0.5), "a left frame without its right frame must not drive"
    r.image(r.front, left, 1.0)
    assert not r.answered(0, 0.3), "a stereo model does not run on the front camera's topic"
    for k in range(3):
        left, right = frames(k + 1)
        n = len(r.actions)
        r.image(r.right, right, 2.0 + k)
        assert r.spin_until(lambda k=k: r.node._right is not None and r.node._right.header.stamp.sec == 2 + k)
        r.image(r.left, left, 2.0 + k)
        assert r.answered(n)
        expected = offline.predict(stereo_pair(left, right))
        assert r.actions[-1]["index"] == expected.index
        assert r.actions[-1]["steering_angle"] == pytest.approx(expected.steering_angle)
    n = len(r.actions)
    r.image(r.left, left, 9.0)  # the newest right frame is 5 s older: not its partner
    assert not r.answered(n, 0.5)
    left, right = frames(9)
    r.image(r.left, left, 10.0)  # the left frame first, then its right one (sim_node's order): the pair runs
    assert not r.answered(n, 0.3)
    r.image(r.right, right, 10.0)
    assert r.answered(n)
    assert r.actions[-1]["index"] == offline.predict(stereo_pair(left, right)).index
    assert r.actions[-1]["frame_stamp"] == pytest.approx(10.0)


def test_a_lidar_model_runs_on_the_camera_and_the_scan(rig, models):
    r = rig(model=str(models["lidar"]), sensors=["FRONT_FACING_CAMERA", "LIDAR"])
    offline = OnnxPolicy(models["lidar"], sensors=EVO)
    frame, _ = frames(5)
    r.image(r.front, frame, 1.0)
    assert not r.answered(0, 0.5), "no scan yet: nothing may drive"
    answers = set()
    for k, near in enumerate((0.2, 0.6, np.inf)):
        ranges = np.full(64, near)
        ranges[:10] = 0.05  # below range_min: out of range, read as nothing there (REP 117)
        n = len(r.actions)
        r.laser(ranges, 2.0 + k)
        assert r.spin_until(lambda k=k: r.node._scan is not None and r.node._scan.header.stamp.sec == 2 + k)
        r.image(r.front, frame, 2.1 + k)
        assert r.answered(n)
        fed = ranges.copy()
        fed[:10] = np.inf
        expected = offline.predict(frame, fed)
        assert r.actions[-1]["index"] == expected.index
        answers.add(tuple(np.round(offline.run(frame, fed), 5)))
    assert len(answers) == 3, "the scan reaches the network"
    n = len(r.actions)
    r.image(r.front, frame, 9.0)  # the last scan is 5 s old: the LiDAR stopped
    assert not r.answered(n, 0.5)
    r.image(r.front, frame, 20.0)  # a frame before its scan (either order): it runs when the scan comes
    assert not r.answered(n, 0.3)
    r.laser(np.full(64, 0.3), 20.0)
    assert r.answered(n)
    assert r.actions[-1]["frame_stamp"] == pytest.approx(20.0)
    assert r.actions[-1]["index"] == offline.predict(frame, np.full(64, 0.3)).index


def test_a_car_without_the_sensor_refuses_the_model_by_name(rig, models):
    r = rig(model=str(models["lidar"]))  # the stock car: FRONT_FACING_CAMERA only
    assert r.node.policy is None
    r2 = rig(model=str(models["stereo"]), sensors=EVO)
    [result] = r2.node.set_parameters([Parameter("model", value=str(models["lidar"]))])
    assert result.successful  # an Evo has the LiDAR
    [result] = r2.node.set_parameters([Parameter("sensors", value=["FRONT_FACING_CAMERA"])])
    assert not result.successful and "needs LIDAR, which this car has not got" in result.reason
    assert r2.node.policy is not None and r2.node.policy.needs_lidar  # the old model keeps driving
    [result] = r2.node.set_parameters([Parameter("sensors", value=["RADAR"])])
    assert not result.successful and "unknown sensor" in result.reason and "RADAR" in result.reason

"""sim_node with obstacles and bot cars: the objects in the camera image, crashes in sim/status,
the stereo images and the LiDAR's LaserScan when the model needs them."""

from __future__ import annotations

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
from sensor_msgs.msg import Image, LaserScan  # noqa: E402
from test_sim_node import Rig  # noqa: E402  (sim_node's test rig; pytest puts this folder on sys.path)

from deepracer.errors import ConfigError  # noqa: E402
from deepracer_nodes.image_conversion import from_image_msg  # noqa: E402

pytestmark = pytest.mark.ros


@pytest.fixture
def rig(ros_context):
    made = []

    def make(params: dict | None = None, answer=None) -> Rig:
        r = Rig(ros_context, params or {}, answer)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def _frames(r: Rig, n: int) -> list[np.ndarray]:
    assert r.spin_until(lambda: len(r.images) >= n, 20.0)
    return [from_image_msg(m)[0] for m in r.images[:n]]


def test_the_camera_image_shows_the_obstacles(rig):
    plain = rig({"lock_step": False, "track": "oval"})
    boxes = rig({"lock_step": False, "track": "oval", "race_type": "object_avoidance",
                 "object_positions": "5,inner;10,outer"})
    a, b = _frames(plain, 1)[0], _frames(boxes, 1)[0]
    assert a.shape == b.shape
    assert (np.abs(a.astype(int) - b.astype(int)) > 8).sum() > 100  # the boxes ahead


def test_crashes_are_reported_in_sim_status(rig):
    r = rig({"lock_step": True, "track": "oval", "race_type": "object_avoidance", "object_positions": "6,inner",
             "start_waypoint": 0}, answer=lambda frame: (0.0, 1.0))
    # the car starts on the other lane (the box is within 1 m); steer it into the box's lane
    r.probe.answer = lambda frame: (20.0, 1.0) if len(r.status) < 6 else (-5.0, 1.0)
    assert r.spin_until(lambda: any(s.get("crash_count", 0) >= 1 for s in r.status), 30.0)
    crashed = [s for s in r.status if s["status"] == "crashed"]
    assert crashed and crashed[0]["is_crashed"] is True


def test_stereo_images_and_the_lidar_scan_are_published_when_asked(rig):
    r = rig({"lock_step": False, "track": "oval", "race_type": "object_avoidance", "object_positions": "4,inner",
             "stereo": True, "lidar": True})
    left: list[Image] = []
    right: list[Image] = []
    scans: list[LaserScan] = []
    r.probe.create_subscription(Image, "camera/left/image_raw", left.append, 10)
    r.probe.create_subscription(Image, "camera/right/image_raw", right.append, 10)
    r.probe.create_subscription(LaserScan, "scan", scans.append, 10)
    assert r.spin_until(lambda: left and right and scans, 20.0)
    scan = scans[0]
    assert len(scan.ranges) == 64 and scan.angle_min == pytest.approx(-2.61799) and scan.range_max == 12.0
    assert any(np.isfinite(scan.ranges))  # the box ahead
    assert not np.array_equal(from_image_msg(left[0])[0], from_image_msg(right[0])[0])


def test_no_stereo_or_scan_topics_unless_asked(rig):
    r = rig({"lock_step": False, "track": "oval"})
    _frames(r, 1)
    topics = dict(r.probe.get_topic_names_and_types())
    ns = r.sim.get_namespace()
    assert f"{ns}/scan" not in topics and f"{ns}/camera/left/image_raw" not in topics


def test_a_bad_race_parameter_names_it(ros_context):
    from rclpy.parameter import Parameter

    from deepracer_nodes.sim_node import SimNode

    with pytest.raises(ConfigError, match="sim_node: .*obstacles"):
        SimNode(context=ros_context, namespace="/simbadrace",
                parameter_overrides=[Parameter("race_type", value="object_avoidance"), Parameter("objects", value=9)])


def test_deepracer_sim_drives_the_object_avoidance_model_past_its_boxes(tmp_path, capsys):
    import json
    from pathlib import Path

    from deepracer.cli import main

    model = Path(__file__).resolve().parents[2] / "models" / "deepracer-object-avoidance.tar.gz"
    if not model.is_file():
        pytest.fail(f"{model} is missing: see docs/training.md")
    code = main(["sim", "--model", str(model), "--race-type", "object_avoidance", "--lock-step", "--laps", "1",
                 "--json", "--no-video"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["completed_laps"] == 1 and out["stop_reason"] == "laps_done"
    assert main(["sim", "--race-type", "head_to_bot", "--objects", "2", "--laps", "1"]) == 2

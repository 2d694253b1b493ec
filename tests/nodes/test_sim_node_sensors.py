"""sim_node publishes the sensor topics the model's `sensor` list needs, and the node graph drives
stereo and LiDAR models through them (tiny untrained packages from the trainer's exporter)."""

from __future__ import annotations

import pytest

rclpy = pytest.importorskip("rclpy")
from test_sim_node import Rig  # noqa: E402  (sim_node's test rig; pytest puts this folder on sys.path)

from deepracer.graph import sim_overrides  # noqa: E402
from tests.sensor_models import write_sensor_package  # noqa: E402

pytestmark = pytest.mark.ros


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("sensor-models")
    return {"stereo": write_sensor_package(["STEREO_CAMERAS"], root / "stereo", seed=1),
            "lidar": write_sensor_package(["FRONT_FACING_CAMERA", "SECTOR_LIDAR"], root / "lidar", seed=2),
            "front": write_sensor_package(["FRONT_FACING_CAMERA"], root / "front", seed=3)}


@pytest.fixture
def rig(ros_context):
    made = []

    def make(params: dict) -> Rig:
        made.append(Rig(ros_context, params))
        return made[-1]

    yield make
    for r in made:
        r.close()


def _topics(r: Rig) -> set[str]:
    ns = r.sim.get_namespace()
    return {name.removeprefix(ns + "/") for name in ("camera/left/image_raw", "camera/right/image_raw", "scan")
            if r.sim.count_publishers(f"{ns}/{name}") > 0}


def test_the_models_sensor_list_chooses_the_topics(rig, models):
    assert _topics(rig({"track": "oval", "model": str(models["front"])})) == set()
    assert _topics(rig({"track": "oval", "model": str(models["stereo"])})) == {"camera/left/image_raw",
                                                                               "camera/right/image_raw"}
    assert _topics(rig({"track": "oval", "model": str(models["lidar"])})) == {"scan"}
    assert _topics(rig({"track": "oval", "model": str(models["front"]), "lidar": True})) == {"scan"}  # or asked for
    assert _topics(rig({"track": "oval", "model": "/no/such/model"})) == set()  # inference_node names that one


def test_deepracer_sim_and_the_launch_file_hand_sim_node_the_model():
    assert sim_overrides(model="/m/stereo.tar.gz")["sim_node"]["model"] == "/m/stereo.tar.gz"


@pytest.mark.integration
@pytest.mark.parametrize("kind", ["stereo", "lidar"])
def test_the_node_graph_drives_stereo_and_lidar_models(models, kind):
    """Every frame answered by inference_node: a stereo model runs only on the left/right pair and a
    LiDAR model only with a scan, so an unanswered frame would mean a missing topic."""
    from deepracer_nodes.sim_runner import run_sim_graph

    result = run_sim_graph(model=str(models[kind]), track="oval", lock_step=True, max_seconds=1.5, record=False,
                           sim_params={"race_type": "object_avoidance", "objects": 2})
    assert result.driver == "model" and len(result.steps) >= 15
    assert all(s.action >= 0 and s.command is not None for s in result.steps[:-1])


@pytest.mark.integration
@pytest.mark.parametrize("kind", ["stereo", "lidar"])
def test_through_the_node_graph_equals_the_direct_evaluation(models, kind):
    """The stereo pair and the scan reach the model over ROS exactly as the direct evaluation
    reads them from the simulator: the same trials, step for step."""
    from deepracer.analysis.evaluation import evaluate
    from deepracer.sim.objects import Lane, ObstacleConfig, RaceConfig, RaceType
    from deepracer_nodes.sim_runner import drive_evaluation

    race = RaceConfig(RaceType.OBJECT_AVOIDANCE, ObstacleConfig(positions=((12.0, Lane.INNER), (40.0, Lane.OUTER))))
    kw = dict(track="oval", trials=2, resets=5, seed=0, race=race, max_trial_seconds=4.0)
    direct = evaluate(models[kind], **kw)
    ros = evaluate(models[kind], through_ros=True, ros_driver=drive_evaluation, **kw)
    key = [(t.status, t.steps, t.crashes, t.resets, round(t.progress, 3)) for t in direct.trials]
    assert [(t.status, t.steps, t.crashes, t.resets, round(t.progress, 3)) for t in ros.trials] == key

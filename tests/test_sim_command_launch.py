"""launch/sim.launch.py: the builtin backend starts what `deepracer sim` starts; the gazebo
backend starts ros_gz_sim with a generated world, the bridge and the car's nodes.

launch, launch_ros, ament_index_python and ros_gz cannot be installed here, so the launch file
is loaded against the small recording stand-ins for those modules in tests/launch_standins.py
(the real `ros2 launch` has NOT run it in this environment).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from launch_standins import launch, load_launch_file

from deepracer.graph import sim_graph
from deepracer_nodes.launch_support import launch_nodes

LAUNCH_FILE = Path(__file__).resolve().parent.parent / "launch" / "sim.launch.py"
GZ_SHARE = "/opt/ros/jazzy/share/ros_gz_sim"


@pytest.fixture
def launch_file(monkeypatch):
    def share(package):
        assert package == "ros_gz_sim"
        return GZ_SHARE

    return load_launch_file(monkeypatch, LAUNCH_FILE, "sim_launch", get_package_share_directory=share)


def _nodes(entities) -> list[dict]:
    return [e.kwargs for e in entities if type(e).__name__ == "Node"]


def test_builtin_backend_is_the_sim_graph(launch_file):
    launched = _nodes(launch(launch_file))
    assert launched == launch_nodes(sim_graph())  # exactly what `deepracer sim`'s GraphRunner composes
    assert [n["name"] for n in launched] == ["sim_node", "inference_node", "control_node"]
    assert all(n["parameters"][0]["use_sim_time"] is True for n in launched)  # sim_node turns its own off


def test_track_model_lock_step_and_namespace_reach_the_nodes(launch_file):
    launched = _nodes(launch(launch_file, track="oval", model="/m/fast.tar.gz", lock_step="true", namespace="car2"))
    by_name = {n["name"]: n for n in launched}
    assert by_name["sim_node"]["parameters"][0]["track"] == "oval"
    assert by_name["sim_node"]["parameters"][0]["lock_step"] is True
    assert by_name["inference_node"]["parameters"][0]["model"] == "/m/fast.tar.gz"
    assert all(n["namespace"] == "car2" for n in launched)


def test_unknown_backend_is_refused(launch_file):
    from deepracer.errors import ConfigError

    with pytest.raises(ConfigError, match="backend"):
        launch(launch_file, backend="unity")


def test_gazebo_backend_starts_gz_the_bridge_and_the_cars_nodes(launch_file, tmp_path, monkeypatch):
    monkeypatch.delenv("GZ_SIM_RESOURCE_PATH", raising=False)
    entities = launch(launch_file, backend="gazebo", track="oval", gazebo_dir=str(tmp_path), namespace="car1")
    kinds = [type(e).__name__ for e in entities]
    assert kinds.count("IncludeLaunchDescription") == 1 and kinds.count("SetEnvironmentVariable") == 1

    env = next(e for e in entities if type(e).__name__ == "SetEnvironmentVariable")
    assert env.args == ("GZ_SIM_RESOURCE_PATH", str(tmp_path / "models"))
    assert (tmp_path / "models" / "deepracer" / "model.sdf").is_file()  # the world's model:// includes resolve

    include = next(e for e in entities if type(e).__name__ == "IncludeLaunchDescription")
    assert include.args[0].args[0] == f"{GZ_SHARE}/launch/gz_sim.launch.py"
    gz_args = dict(include.kwargs["launch_arguments"])["gz_args"]
    assert gz_args == f"-r {tmp_path / 'world.sdf'}"
    ET.parse(tmp_path / "world.sdf")

    nodes = {n["name"]: n for n in _nodes(entities)}
    assert set(nodes) == {"gz_bridge", "inference_node", "control_node"}  # Gazebo replaces sim_node
    bridge = nodes["gz_bridge"]
    assert (bridge["package"], bridge["executable"], bridge["namespace"]) == ("ros_gz_bridge", "parameter_bridge", "car1")
    config = Path(bridge["parameters"][0]["config_file"])
    topics = {e["ros_topic_name"] for e in yaml.safe_load(config.read_text())}
    assert {"cmd_vel", "camera/image_raw", "odom", "/clock"} <= topics
    assert nodes["control_node"]["parameters"][0]["use_sim_time"] is True  # Gazebo's /clock drives them
    assert nodes["inference_node"]["namespace"] == "car1"


def test_gazebo_backend_with_an_unknown_track_fails_clearly(launch_file, tmp_path):
    from deepracer.errors import TrackError

    with pytest.raises(TrackError, match="nowhere"):
        launch(launch_file, backend="gazebo", track="nowhere", gazebo_dir=str(tmp_path))


def test_gazebo_backend_gives_a_lidar_models_car_its_lidar(launch_file, tmp_path, monkeypatch):
    from tests.sensor_models import write_sensor_package

    monkeypatch.delenv("GZ_SIM_RESOURCE_PATH", raising=False)
    model = write_sensor_package(["FRONT_FACING_CAMERA", "LIDAR"], tmp_path / "lidar-model")
    entities = launch(launch_file, backend="gazebo", track="oval", gazebo_dir=str(tmp_path / "gz"), model=str(model))
    assert "gpu_lidar" in (tmp_path / "gz" / "models" / "deepracer" / "model.sdf").read_text()
    bridge = next(n for n in _nodes(entities) if n["name"] == "gz_bridge")
    topics = {e["ros_topic_name"] for e in yaml.safe_load(Path(bridge["parameters"][0]["config_file"]).read_text())}
    assert "scan" in topics and "camera/left/image_raw" not in topics

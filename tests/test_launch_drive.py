"""launch/drive.launch.py and `deepracer drive` start the same graph.

launch/launch_ros cannot be installed here, so the launch file is loaded with the small recording
stand-ins for those modules in tests/launch_standins.py (the real `ros2 launch` has NOT run it in
this environment).
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import launch_standins
import pytest
import yaml

from deepracer.graph import RESPAWN_DELAY_S, drive_graph
from deepracer_nodes.graph_runner import process_command, write_params_file

LAUNCH_FILE = Path(__file__).resolve().parent.parent / "launch" / "drive.launch.py"


@pytest.fixture
def launch_file(monkeypatch):
    """The launch module, loaded against recording stand-ins for launch and launch_ros."""
    return launch_standins.load_launch_file(monkeypatch, LAUNCH_FILE, "drive_launch")


def launch(module, **arguments) -> list[dict]:
    """What `ros2 launch deepracer drive.launch.py k:=v ...` would hand to launch_ros: Node kwargs."""
    return [n.kwargs for n in launch_standins.launch(module, **arguments)]


def console_scripts() -> dict[str, str]:
    """executable -> module, from the installed package metadata (setup.py's entry points)."""
    eps = importlib.metadata.entry_points(group="console_scripts")
    return {ep.name: ep.value.split(":")[0] for ep in eps if ep.dist is not None and ep.dist.name == "deepracer"}


def assert_same_graph(launched: list[dict], specs, namespace: str, tmp_path: Path) -> None:
    scripts = console_scripts()
    assert [n["name"] for n in launched] == [s.name for s in specs]
    for node, spec in zip(launched, specs, strict=True):
        argv = process_command(spec, write_params_file(spec, tmp_path), namespace)
        # same program: the launch file's console script runs the module GraphRunner runs
        assert node["package"] == "deepracer"
        assert scripts.get(node["executable"]) == argv[3] == spec.module
        # same name and namespace
        assert f"__node:={node['name']}" in argv
        assert (f"__ns:=/{node['namespace']}" in argv) == bool(node["namespace"])
        # same parameters
        params_file = Path(argv[argv.index("--params-file") + 1])
        assert node["parameters"] == [yaml.safe_load(params_file.read_text())["/**"]["ros__parameters"]]
        assert node["remappings"] == list(spec.remappings.items())
        # both restart a crashed node
        assert node["respawn"] is True and spec.respawn is True
        assert node["respawn_delay"] == spec.respawn_delay == RESPAWN_DELAY_S  # GraphRunner waits the spec's delay too


def test_default_launch_matches_deepracer_drive(launch_file, tmp_path):
    launched = launch(launch_file)
    specs = drive_graph()
    assert [n["name"] for n in launched] == ["camera_node", "inference_node", "control_node", "servo_node",
                                             "device_console_node"]
    assert_same_graph(launched, specs, "", tmp_path)
    control = launched[2]["parameters"][0]
    assert control["mode"] == "stopped"  # the car boots stopped through launch too


def test_config_namespace_and_model_arguments(launch_file, tmp_path):
    config = tmp_path / "car.yaml"
    config.write_text(yaml.safe_dump({
        "/**": {"ros__parameters": {"use_sim_time": False}},
        "camera_node": {"ros__parameters": {"device": "synthetic", "fps": 15.0}},
        "control_node": {"ros__parameters": {"max_speed_scale": 0.5}},
    }))
    launched = launch(launch_file, config=str(config), namespace="car1", model="/models/fast.tar.gz")
    specs = drive_graph(config, inference_node={"model": "/models/fast.tar.gz"})
    assert_same_graph(launched, specs, "car1", tmp_path)
    by_name = {n["name"]: n for n in launched}
    assert by_name["camera_node"]["parameters"][0]["device"] == "synthetic"
    assert by_name["control_node"]["parameters"][0]["max_speed_scale"] == 0.5
    assert by_name["inference_node"]["parameters"][0]["model"] == "/models/fast.tar.gz"
    assert all(n["namespace"] == "car1" for n in launched)


def test_a_broken_config_fails_the_launch_with_the_file_named(launch_file, tmp_path):
    from deepracer.errors import ConfigError

    bad = tmp_path / "bad.yaml"
    bad.write_text("camera_node: [not, a, mapping")
    with pytest.raises(ConfigError, match="bad.yaml"):
        launch(launch_file, config=str(bad))

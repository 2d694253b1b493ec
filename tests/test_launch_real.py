"""Both launch files under the real `ros2 launch` (../shared/ros2-launch, `make setup-launch`).

- sim.launch.py laps:=N drives N laps, prints the lap times and ends the launch (exit 0);
- drive.launch.py with a synthetic camera and an emulated PWM starts the graph `deepracer drive`
  builds (same nodes and topics, seen with `ros2 node list` / `ros2 topic list`, also under a
  namespace), the camera publishes at its rate (`ros2 topic hz`);
- SIGINT to the whole process group (as Ctrl-C in a terminal, `timeout -s INT` and systemd's
  KillSignal=SIGINT with KillMode=control-group do), once or twice in quick succession: every
  node finishes cleanly (exit 0, no traceback, no abort, no respawn), the launch exits 0 and the
  PWM ends at neutral. The same for `deepracer drive`, composed and with --processes.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import sys

import pytest
from ros2_real import NEUTRAL_US, Car, Process, ros2, ros2_env, topic_hz

from deepracer.graph import drive_graph

pytestmark = [pytest.mark.ros, pytest.mark.integration]
_n = itertools.count()
BAD_EXIT = re.compile(r"process has died|Traceback|terminate called|Fatal Python error|KeyboardInterrupt")
DRIVE_TOPICS = {"camera/image_raw", "camera/camera_info", "policy/cmd_vel", "policy/action", "cmd_vel",
                "servo/pulses", "servo/raw", "teleop/cmd_vel", "estop"}


@pytest.fixture(scope="module")
def env():
    env = ros2_env()
    # one DDS domain for this module's launches (conftest gave this process its own)
    return env | {"ROS_DOMAIN_ID": os.environ["ROS_DOMAIN_ID"], "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}


@pytest.fixture
def car(tmp_path):
    car = Car.make(tmp_path)
    yield car
    car.stop()


def _launch(env, tmp_path, *args: str) -> Process:
    return Process(["ros2", "launch", "deepracer", *args], env, tmp_path / f"launch-{next(_n)}.log", tmp_path)


def _assert_clean(out: str, nodes: list[str], starts: int | None = None) -> None:
    assert not BAD_EXIT.search(out), out[-6000:]
    for node in nodes:
        assert re.search(rf"\[{node}-\d+\]: process has finished cleanly", out), f"{node} did not finish cleanly:\n{out[-6000:]}"
    started = len(re.findall(r"process started with pid", out))
    assert started == (starts if starts is not None else len(nodes)), f"respawned after the signal?\n{out[-6000:]}"


def test_sim_launch_drives_the_laps_and_ends(env, tmp_path):
    proc = _launch(env, tmp_path, "sim.launch.py", "laps:=2", "lock_step:=true", "namespace:=race1")
    try:
        code = proc.wait(timeout=180)
        out = proc.output()
        assert code == 0, out[-6000:]
        laps = re.search(r"sim_node\]: 2 lap\(s\) done: ([\d.]+) s, ([\d.]+) s; car stopped", out)
        assert laps, out[-6000:]
        # the bundled model on the default track, lock-step: the figures docs/sim-node.md gives
        assert [float(t) for t in laps.groups()] == [6.27, 5.93]
        _assert_clean(out, ["sim_node", "inference_node", "control_node"])
    finally:
        proc.close()


def test_sim_launch_rejects_a_bad_laps_argument(env, tmp_path):
    proc = _launch(env, tmp_path, "sim.launch.py", "laps:=two")
    try:
        code = proc.wait(timeout=60)
        assert code != 0 and "laps must be a whole number, not 'two'" in proc.output()
    finally:
        proc.close()


def _graph(env, namespace: str) -> tuple[set[str], set[str]]:
    """(node names, topic names with types) under `namespace`, relative to it."""
    prefix = f"/{namespace}/" if namespace else "/"
    nodes = {n[len(prefix):] for n in ros2(env, "node", "list", "--no-daemon", "--spin-time", "3").split()
             if n.startswith(prefix) and "/" not in n[len(prefix):]}
    topics = set()
    for line in ros2(env, "topic", "list", "-t", "--no-daemon", "--spin-time", "3").splitlines():
        name, _, kind = line.partition(" ")
        if name.startswith(prefix):
            topics.add(f"{name[len(prefix):]} {kind}")
    return nodes, topics


def _wait_graph(env, namespace: str, want: set[str], tries: int = 10) -> tuple[set[str], set[str]]:
    """The graph once every wanted node and every drive topic is discovered (or the last try)."""
    for _ in range(tries):
        nodes, topics = _graph(env, namespace)
        if want <= nodes and DRIVE_TOPICS <= {t.split(" ")[0] for t in topics}:
            break
    return nodes, topics


@pytest.mark.parametrize("namespace", ["", "car1"])
def test_drive_launch_is_the_graph_deepracer_drive_builds(env, tmp_path, car, namespace):
    expected = {s.name for s in drive_graph(car.config)}
    launch_ns = namespace or ""
    proc = _launch(env, tmp_path, "drive.launch.py", f"config:={car.config}", *([f"namespace:={namespace}"] if namespace else []))
    try:
        assert car.wait_driving(proc), proc.output()[-6000:]
        nodes, topics = _wait_graph(env, launch_ns, expected)
        assert expected <= nodes, (nodes, proc.output()[-3000:])
        names = {t.split(" ")[0] for t in topics}
        assert DRIVE_TOPICS <= names, names
        if not namespace:
            rate = topic_hz(env, "/camera/image_raw")
            assert rate is not None and 10.0 < rate < 20.0, rate  # fps 15 in the config
            proc.signal_group(signal.SIGINT)
            assert proc.wait(timeout=30) == 0, proc.output()[-6000:]
            return
        # `deepracer drive --processes` under another namespace: the same nodes and topics, same types
        cli = Process([sys.executable, "-m", "deepracer.cli", "drive", "--processes", "--config", str(car.config),
                       "--namespace", "cli_car"], env, tmp_path / "cli.log", tmp_path)
        try:
            cli_nodes, cli_topics = _wait_graph(env, "cli_car", expected)
            assert cli_nodes == nodes & cli_nodes and expected <= cli_nodes, (cli_nodes, cli.output()[-3000:])
            ours = {t for t in topics if t.split(" ")[0] in DRIVE_TOPICS}
            theirs = {t for t in cli_topics if t.split(" ")[0] in DRIVE_TOPICS}
            assert ours == theirs
        finally:
            cli.signal_group(signal.SIGINT)
            assert cli.wait(timeout=30) == 0, cli.output()[-3000:]
            cli.close()
        proc.signal_group(signal.SIGINT)
        assert proc.wait(timeout=30) == 0, proc.output()[-6000:]
    finally:
        proc.close()


@pytest.mark.parametrize("times", [1, 2])
def test_sigint_to_the_launch_process_group_leaves_every_node_clean_and_the_pwm_neutral(env, tmp_path, car, times):
    proc = _launch(env, tmp_path, "drive.launch.py", f"config:={car.config}")
    try:
        assert car.wait_driving(proc), proc.output()[-6000:]
        assert car.pulses()[0] != NEUTRAL_US  # the model drives: the exit path has work to do
        proc.signal_group(signal.SIGINT, times=times)
        code = proc.wait(timeout=40)
        out = proc.output()
        assert code == 0, out[-6000:]
        _assert_clean(out, [spec.name for spec in drive_graph(car.config)])
        assert car.pulses() == (NEUTRAL_US, NEUTRAL_US)
        assert car.tree.errors == []
    finally:
        proc.close()


@pytest.mark.parametrize("processes", [False, True], ids=["composed", "processes"])
def test_double_sigint_to_deepracer_drive_leaves_the_pwm_neutral(env, tmp_path, car, processes):
    argv = [sys.executable, "-m", "deepracer.cli", "drive", "--config", str(car.config)]
    proc = Process(argv + (["--processes"] if processes else []), env, tmp_path / "drive.log", tmp_path)
    try:
        assert car.wait_driving(proc), proc.output()[-6000:]
        proc.signal_group(signal.SIGINT, times=2)
        code = proc.wait(timeout=40)
        out = proc.output()
        assert code == 0, out[-6000:]
        assert not BAD_EXIT.search(out), out[-6000:]
        if processes:  # every node process exited 0, none was respawned
            for node in (spec.name for spec in drive_graph(car.config)):
                assert f"{node} exited with 0\n" in out, out[-6000:]
            assert "respawning" not in out, out[-6000:]
        assert car.pulses() == (NEUTRAL_US, NEUTRAL_US)
    finally:
        proc.close()

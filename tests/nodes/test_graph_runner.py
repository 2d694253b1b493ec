"""GraphRunner: the car graph composed in one process and as separate processes (real rclpy)."""

from __future__ import annotations

import itertools
import os
import signal

import pytest

rclpy = pytest.importorskip("rclpy")
import ros_rig  # noqa: E402
from geometry_msgs.msg import Twist  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

from deepracer.errors import ConfigError  # noqa: E402
from deepracer.graph import NodeSpec, drive_graph  # noqa: E402
from deepracer_nodes.graph_runner import GraphRunner  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.integration]  # real node graphs or processes
_ns = itertools.count()


def camera_control_specs(**control):
    specs = drive_graph(camera_node={"device": "synthetic", "fps": 30.0}, control_node=control)
    return [s for s in specs if s.name in ("camera_node", "control_node")]


class Probe(ros_rig.ProbeNode):
    """Listens to the graph's camera and cmd_vel from a node of its own."""

    default_timeout = 10.0
    step = 0.02

    def __init__(self, ctx, ns):
        super().__init__(ctx, f"probe_{next(_ns)}", ns)
        self.images: list[Image] = []
        self.cmds: list[tuple[float, float]] = []
        self.node.create_subscription(Image, "camera/image_raw", self.images.append, 10)
        self.node.create_subscription(Twist, "cmd_vel", lambda m: self.cmds.append((m.linear.x, m.angular.z)), 10)
        self.teleop = self.node.create_publisher(Twist, "teleop/cmd_vel", 10)


def test_composed_graph_exposes_nodes_and_shuts_down_cleanly(ros_context):
    ns = f"/t_graph_{next(_ns)}"
    probe = Probe(ros_context, ns)
    try:
        with GraphRunner(camera_control_specs(mode="manual"), namespace=ns, context=ros_context) as g:
            assert set(g.nodes) == {"camera_node", "control_node"}
            assert g.nodes["control_node"].get_namespace() == ns
            assert g.nodes["control_node"].get_parameter("mode").value == "manual"
            assert probe.spin_until(lambda: len(probe.images) >= 2 and probe.cmds)
            assert probe.spin_until(lambda: probe.teleop.get_subscription_count() > 0)
            probe.teleop.publish(Twist())  # a zero command from the keyboard passes (manual)
            camera = g.nodes["camera_node"]
        assert g.nodes == {} and not camera._thread.is_alive()  # capture thread stopped
        assert ros_context.ok()  # a context passed in is left to its owner
    finally:
        probe.close()


def test_unknown_node_module_is_a_clear_error(ros_context):
    spec = NodeSpec("ghost_node", "ghost_node", "deepracer_nodes.no_such_node", "GhostNode")
    with pytest.raises(ConfigError, match="ghost_node.*not installed"):
        GraphRunner([spec], context=ros_context).start()


def test_duplicate_node_names_are_refused():
    spec = camera_control_specs()[0]
    with pytest.raises(ConfigError, match="unique"):
        GraphRunner([spec, spec])


def test_processes_respawn_after_a_crash_and_stop_on_sigint(ros_context):
    ns = f"/t_graph_proc_{next(_ns)}_{os.getpid()}"
    probe = Probe(ros_context, ns)
    events: list[str] = []
    try:
        with GraphRunner(camera_control_specs(), processes=True, namespace=ns, respawn_delay=0.2,
                         on_event=events.append) as g:
            assert probe.spin_until(lambda: len(probe.images) >= 2 and len(probe.cmds) >= 2, timeout=30)
            first = g.processes["control_node"]
            first.send_signal(signal.SIGKILL)  # a crash: no clean exit path
            first.wait(timeout=5)
            assert probe.spin_until(lambda: g.respawns["control_node"] == 1, timeout=10)
            assert g.processes["control_node"].pid != first.pid
            n = len(probe.cmds)
            assert probe.spin_until(lambda: len(probe.cmds) > n + 2, timeout=30)  # respawned node publishes
            procs = dict(g.processes)
        # SIGINT reached main(), which destroyed the node and returned normally
        assert {name: p.returncode for name, p in procs.items()} == {"camera_node": 0, "control_node": 0}
        assert any("control_node exited" in e and "respawning" in e for e in events)
    finally:
        probe.close()


def test_composed_graph_stops_when_the_servo_reports_a_hardware_fault(ros_context, tmp_path):
    """servo_node's main() exits 1 after a PWM fault (systemd restarts it); composed, the graph must stop too."""
    from deepracer.control.calibration import Calibration, save
    from deepracer.hardware.emulated.pca9685 import emulated_pca9685

    ns = f"/t_graph_{next(_ns)}"
    bus = 2900 + next(_ns)
    chip = emulated_pca9685(bus)
    save(Calibration(), tmp_path / "cal.yaml")
    specs = [s for s in drive_graph(servo_node={"backend": "emulated", "i2c_bus": bus,
                                                "calibration_file": str(tmp_path / "cal.yaml")})
             if s.name == "servo_node"]
    events: list[str] = []
    probe = Probe(ros_context, ns)
    cmd = probe.node.create_publisher(Twist, "cmd_vel", 10)
    try:
        with GraphRunner(specs, namespace=ns, context=ros_context, on_event=events.append) as g:
            assert probe.spin_until(lambda: cmd.get_subscription_count() > 0)
            chip.fail_next = 1000
            cmd.publish(Twist())
            assert probe.spin_until(lambda: g.nodes["servo_node"].failed.done())
            assert g.wait(3.0), "the graph kept running with a dead servo output"
        assert any("servo_node failed" in e for e in events), events
    finally:
        probe.close()

"""The whole car graph (camera -> inference -> control -> emulated servo), composed and via `deepracer drive`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

rclpy = pytest.importorskip("rclpy")
import ros_rig  # noqa: E402
from std_msgs.msg import String  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from deepracer.control.calibration import Calibration, save  # noqa: E402
from deepracer.graph import drive_graph  # noqa: E402
from deepracer.model import reference_net  # noqa: E402
from deepracer_nodes.graph_runner import GraphRunner  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.integration]  # real node graphs or processes
REPO = Path(__file__).resolve().parents[2]


def car_overrides(tmp_path: Path) -> dict:
    model = reference_net.make_reference_package(tmp_path / "model")
    cal = save(Calibration(), tmp_path / "calibration.yaml")
    return {
        "camera_node": {"device": "synthetic", "fps": 30.0},
        "inference_node": {"model": str(model)},
        "servo_node": {"backend": "emulated", "calibration_file": str(cal)},
    }


class PulseProbe(ros_rig.ProbeNode):
    default_timeout = 20.0
    step = 0.02

    def __init__(self, ctx, ns):
        super().__init__(ctx, "pulse_probe", ns)
        self.pulses: list[dict] = []
        self.node.create_subscription(String, "servo/pulses", lambda m: self.pulses.append(json.loads(m.data)), 50)

    def reasons(self) -> list[str]:
        return [p["reason"] for p in self.pulses]


def test_composed_car_boots_neutral_drives_when_autonomous_and_exits_neutral(ros_context, tmp_path):
    ns = f"/t_drive_{os.getpid()}"
    probe = PulseProbe(ros_context, ns)
    cal = Calibration()
    try:
        with GraphRunner(drive_graph(**car_overrides(tmp_path)), namespace=ns, context=ros_context) as g:
            assert probe.spin_until(lambda: len(probe.pulses) >= 5)
            # stopped (boot default): the frames flow, but the servo only ever sees zero
            assert all(p["throttle_us"] == cal.throttle.neutral_us for p in probe.pulses)
            client = probe.node.create_client(Trigger, f"{ns}/control_node/autonomous")
            assert client.wait_for_service(timeout_sec=5.0)
            future = client.call_async(Trigger.Request())
            assert probe.spin_until(future.done) and future.result().success
            assert probe.spin_until(lambda: any(p["throttle_us"] > cal.throttle.neutral_us for p in probe.pulses))
            assert g.nodes["inference_node"].frames_processed > 0
            n = len(probe.pulses)
        # destroying the graph wrote neutral on its way out
        probe.spin_until(lambda: "exit" in probe.reasons()[n:], timeout=2.0)
        last = probe.pulses[-1]
        assert last["throttle_us"] == cal.throttle.neutral_us, probe.pulses[-3:]
    finally:
        probe.close()


def test_deepracer_drive_runs_the_graph_and_stops_cleanly_on_sigterm(ros_context, tmp_path):
    ns = f"t_drive_cli_{os.getpid()}"
    config = tmp_path / "car.yaml"
    params = {name: {"ros__parameters": values} for name, values in car_overrides(tmp_path).items()}
    config.write_text(yaml.safe_dump(params))
    probe = PulseProbe(ros_context, "/" + ns)
    proc = subprocess.Popen([sys.executable, "-m", "deepracer.cli", "drive", "--config", str(config), "--namespace", ns],
                            cwd=REPO, stderr=subprocess.PIPE, text=True)
    try:
        assert probe.spin_until(lambda: len(probe.pulses) >= 3), "no servo pulses from `deepracer drive`"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
        probe.close()
    assert proc.returncode == 0, err
    assert "stopped (SIGTERM)" in err

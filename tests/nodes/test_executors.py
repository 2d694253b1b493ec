"""Every node process ends promptly on SIGINT/SIGTERM (ros2 launch, systemd stop).

rclpy's EventsExecutor.spin() kept a process spinning at 100 % CPU after a signal shut its
context down; spin_node() must not.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_node_process_exits_on_a_signal(sig):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "deepracer_nodes.control_node"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        line = ""
        while "mode stopped" not in line and time.monotonic() < deadline:
            line = proc.stdout.readline()
        assert "mode stopped" in line, "control_node did not start"
        time.sleep(1.0)  # the log line comes from the constructor: let it reach its spin loop
        proc.send_signal(sig)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

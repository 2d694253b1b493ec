"""`deepracer bench device-console` runs end to end and reports what it promises (tiny run, not a figure)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("rclpy")
pytestmark = [pytest.mark.ros, pytest.mark.integration]


def test_bench_reports_latency_without_and_with_the_console_and_the_stream():
    result = subprocess.run([sys.executable, "-m", "deepracer.cli", "bench", "device-console", "--seconds", "2",
                             "--json"], capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout)
    for run in ("without_console", "with_console"):
        assert out[run]["matched"] > 20 and out[run]["p50_ms"] > 0
    assert out["with_console"]["viewers"] == 1 and out["with_console"]["stream_fps"][0] > 10
    assert 0 < out["with_console"]["frame_to_browser_p50_ms"] < 500

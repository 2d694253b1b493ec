"""The direction travels in the track spec through sim_node's `track` parameter: the car's
graph drives the clockwise track exactly as the in-process evaluation does."""

from __future__ import annotations

import json

import pytest

from deepracer.cli import main
from deepracer.paths import bundled_model

pytestmark = [pytest.mark.ros, pytest.mark.integration]  # a real node graph


def _evaluate(tmp_path, capsys, *extra: str) -> dict:
    out = tmp_path / ("ros" if extra else "direct")
    assert main(["evaluate", "--model", str(bundled_model()), "--track", "oval", "--direction", "clockwise",
                 "--trials", "1", "--out", str(out), "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_clockwise_through_ros_matches_in_process(tmp_path, capsys):
    pytest.importorskip("rclpy")
    direct = _evaluate(tmp_path, capsys)
    ros = _evaluate(tmp_path, capsys, "--through-ros")
    assert direct["track"] == ros["track"] == "oval_cw"
    assert direct["trials"][0]["status"] == ros["trials"][0]["status"] == "lap_complete"
    assert ros["trials"][0]["lap_time_s"] == pytest.approx(direct["trials"][0]["lap_time_s"], abs=1e-6)

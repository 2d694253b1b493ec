"""`deepracer analyze`: the files a user opens, on DeepRacer-for-Cloud's sample run."""

from __future__ import annotations

import json

import pytest
from analysis_helpers import shared_path

from deepracer.cli import main


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    logs = shared_path("deepracer-logs", "drfc-sample")
    tracks = shared_path("tracks")
    assert main(["analyze", str(logs), "--out", str(out), "--tracks-dir", str(tracks), "--quiet"]) == 0
    return out


def test_summary_counts_and_track(report):
    summary = json.loads((report / "summary.json").read_text())
    assert summary["episodes"] == 540 and summary["iterations"] == 27
    assert summary["track"] == "reinvent_base" and summary["track_found"] == "recognised from the trajectory"
    assert summary["evaluation"]["trials"] == 9 and summary["evaluation"]["laps"] == 9
    assert 13.0 < summary["evaluation"]["best_lap_time_s"] < 14.0
    assert 0 < summary["completion_rate"] < 0.2


def test_figures_tables_and_html(report):
    summary = json.loads((report / "summary.json").read_text())
    assert {"training_curves.png", "track_speed.png", "track_action.png", "track_reward.png",
            "action_histogram.png"} <= set(summary["figures"])
    for name in summary["figures"]:
        assert (report / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (report / "index.html").read_text()
    for name in summary["figures"] + summary["tables"]:
        assert name in page
    laps = (report / "laps.csv").read_text().splitlines()
    assert laps[0].startswith("kind,") and len(laps) == 1 + 42 + 9  # training laps + evaluation laps


def test_unknown_track_still_draws(tmp_path):
    """Without candidate tracks the trajectories are drawn alone."""
    logs = shared_path("deepracer-logs", "drfc-sample", "evaluation-20220709200242")
    assert main(["analyze", str(logs), "--out", str(tmp_path), "--quiet"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["episodes"] == 0 and summary["evaluation"]["trials"] == 3
    assert (tmp_path / "evaluation_speed.png").is_file()


def test_given_route_file(tmp_path):
    logs = shared_path("deepracer-logs", "drfc-sample", "evaluation-20220709200242")
    route = shared_path("tracks", "reinvent_base.npy")
    assert main(["analyze", str(logs), "--out", str(tmp_path), "--track", str(route), "--quiet"]) == 0
    assert json.loads((tmp_path / "summary.json").read_text())["track_found"] == "given"


def test_missing_logdir_exits_2(tmp_path, capsys):
    assert main(["analyze", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "nope: no such file" in capsys.readouterr().err

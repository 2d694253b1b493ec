"""`deepracer analyze` on every layout users bring: the track is recognised from the user's
library (by name or by the trajectory), with its direction and fit, and the summary reads
as sentences."""

from __future__ import annotations

import json
import re

import pytest
from analysis_helpers import shared_path
from log_layouts import console_export, console_robomaker_only, droa_export, reversed_evaluation

from deepracer.analysis.report import analyze
from deepracer.cli import main
from deepracer.sim.track_library import import_routes


@pytest.fixture
def library(tmp_path, monkeypatch):
    """The user's library with DeepRacer's routes imported (as `tracks import routes/` does)."""
    lib = tmp_path / "library"
    monkeypatch.setenv("DEEPRACER_TRACKS_DIR", str(lib))
    result = import_routes(shared_path("tracks"))
    assert len(result.imported) == 6 and not result.skipped
    return lib


@pytest.fixture(scope="module")
def sample():
    return shared_path("deepracer-logs", "drfc-sample")


def _page_text(out) -> str:
    page = (out / "index.html").read_text()
    summary = re.search(r"<dl class='summary' id='summary'>(.*?)</dl>", page, re.S).group(1)
    return re.sub(r"<[^>]+>", " ", summary)


def _readable(text: str) -> None:
    assert "null" not in text and "None" not in text and "nan" not in text.lower().replace("and", "")
    assert "{" not in text and '":' not in text
    assert not re.search(r"\d\.\d{4,}", text), text  # no 15-digit floats


LAYOUTS = {
    "aws-console": (console_export, "recorded in the logs"),
    "console-robomaker-log-only": (console_robomaker_only, "recorded in the logs"),
    "deepracer-on-aws": (droa_export, "recorded in the logs"),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_every_layout_gets_the_track_from_the_library(layout, library, sample, tmp_path):
    make, how = LAYOUTS[layout]
    logs = make(sample, tmp_path / layout)
    summary = analyze(logs, tmp_path / "out", quiet=True)
    assert summary["track"] == "reinvent_base" and summary["track_found"] == how
    assert summary["track_direction"] == "counterclockwise"
    assert summary["track_fit"]["mean_distance_m"] < 0.2 and summary["track_fit"]["on_track_fraction"] > 0.8  # early iterations leave the road often
    assert summary["episodes"] == 160 and summary["iterations"] == 8
    for name in summary["figures"]:
        assert (tmp_path / "out" / name).stat().st_size > 10_000, name
    text = _page_text(tmp_path / "out")
    assert "reinvent_base, counter-clockwise" in text and "160 episodes in 8 iterations" in text
    _readable(text)


def test_unknown_world_name_is_recognised_from_the_trajectory(library, sample, tmp_path):
    logs = console_robomaker_only(sample, tmp_path / "logs", world="reInvent2018_renamed")
    summary = analyze(logs, tmp_path / "out", quiet=True)
    assert summary["track"] == "reinvent_base" and summary["track_found"] == "recognised from the trajectory"


def test_drfc_sample_recognised_from_the_library_without_tracks_dir(library, sample, tmp_path):
    summary = analyze(sample, tmp_path / "out", quiet=True)
    assert summary["track"] == "reinvent_base" and summary["track_found"] == "recognised from the trajectory"
    assert summary["track_fit"]["mean_distance_m"] == pytest.approx(0.14, abs=0.03)
    assert summary["training"]["best_lap_time_s"] == pytest.approx(12.212, abs=0.001)  # rounded in summary.json
    text = _page_text(tmp_path / "out")
    _readable(text)
    assert "Best lap" in text and "training 12.212 s, evaluation 13.405 s" in text
    assert "evaluation 9 of 9 trials completed (100 %)" in text


def test_clockwise_driving_is_recognised(library, sample, tmp_path):
    logs = reversed_evaluation(sample, tmp_path / "logs")
    summary = analyze(logs, tmp_path / "out", quiet=True)
    assert summary["track"] == "reinvent_base_cw" and summary["track_route"] == "reinvent_base"
    assert summary["track_direction"] == "clockwise"
    assert "reinvent_base, clockwise" in _page_text(tmp_path / "out")


def test_without_the_track_the_page_says_how_to_get_it(sample, tmp_path):
    summary = analyze(sample / "evaluation-20220709200242", tmp_path / "out", quiet=True)
    assert summary["track"] is None and summary["track_found"] == "unknown"
    text = _page_text(tmp_path / "out")
    assert "not recognised" in text and "deepracer tracks import" in text
    _readable(text)


def test_cli_prints_the_headline(library, sample, tmp_path, capsys):
    assert main(["analyze", str(console_export(sample, tmp_path / "c")), "--out", str(tmp_path / "o"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "Track: reinvent_base, counter-clockwise" in out and "Best lap:" in out and "index.html" in out
    _readable(out.replace(str(tmp_path), ""))
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["track_length_m"] == pytest.approx(17.71, abs=0.01)


def test_folder_without_logs_says_what_it_looked_for(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("hello")
    assert main(["analyze", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "empty: no logs found" in err and "training-simtrace" in err and "SIM_TRACE_LOG" in err
    assert not (tmp_path / "o").exists()  # nothing half-written


def test_our_evaluation_on_a_clockwise_track(tmp_path):
    """`deepracer evaluate --direction clockwise` records the track as DeepRacer names it
    (`oval_cw`); analyze reads it back, draws the track clockwise and the fit is tight."""
    from road_follower import make_road_follower

    model = make_road_follower(tmp_path / "road", speed=1.5)
    assert main(["evaluate", "--model", str(model), "--track", "oval", "--direction", "cw", "--trials", "1",
                 "--out", str(tmp_path / "ev")]) == 0
    assert json.loads((tmp_path / "ev" / "evaluation.json").read_text())["track"] == "oval_cw"
    summary = analyze(tmp_path / "ev", tmp_path / "out", quiet=True)
    assert summary["track"] == "oval_cw" and summary["track_direction"] == "clockwise"
    assert summary["track_found"] == "recorded in the logs"
    assert summary["track_fit"]["on_track_fraction"] == 1.0 and summary["evaluation"]["laps"] == 1


def test_continuous_action_space_and_unknown_track(sample, tmp_path):
    """Continuous actions (logged as -1): the action map shows the steering angle and the usage
    chart is a steering x speed histogram; no track known: positions only, and the page says so."""
    src = sample / "training-simtrace" / "0-iteration.csv"
    header, *rows = src.read_text().splitlines()
    i = header.split(",").index("action")
    out_rows = [header] + [",".join(f if k != i else "-1" for k, f in enumerate(r.split(","))) for r in rows]
    dest = tmp_path / "logs" / "training-simtrace" / "0-iteration.csv"
    dest.parent.mkdir(parents=True)
    dest.write_text("\n".join(out_rows) + "\n")
    summary = analyze(tmp_path / "logs", tmp_path / "out", quiet=True)
    assert summary["track"] is None and summary["episodes"] == 20
    for name in ("track_action.png", "action_histogram.png", "track_speed.png"):
        assert (tmp_path / "out" / name).stat().st_size > 10_000
    text = _page_text(tmp_path / "out")
    assert "not recognised" in text and "no training lap completed" in text
    _readable(text)


def test_console_metrics_folder_gives_the_console_chart(library, sample, tmp_path):
    logs = console_export(sample, tmp_path / "c", metrics=True)
    summary = analyze(logs, tmp_path / "out", quiet=True)
    assert summary["metrics"]["iterations"] == 28 and summary["metrics"]["best_evaluation_completion"] == 100
    assert "training_metrics.csv" in summary["tables"]
    assert "Console metrics" in _page_text(tmp_path / "out")


def test_a_wrong_track_given_is_called_out(sample, tmp_path):
    summary = analyze(sample / "evaluation-20220709200242", tmp_path / "out", track="speedway", quiet=True)
    assert summary["track_found"] == "given" and summary["track_fit"]["on_track_fraction"] < 0.5
    assert "do not fit this track" in _page_text(tmp_path / "out")

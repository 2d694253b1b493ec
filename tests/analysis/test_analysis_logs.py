"""Log readers: DeepRacer-for-Cloud's sample run, console RoboMaker logs, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from analysis_helpers import shared_path

from deepracer.analysis.logs import episode_table, load_logs, metrics_curves, read_robomaker_log
from deepracer.analysis.simtrace import COLUMNS, SimTraceWriter
from deepracer.errors import LogFormatError


@pytest.fixture(scope="module")
def drfc():
    return load_logs(shared_path("deepracer-logs", "drfc-sample"), quiet=True)


def test_drfc_sample_loads_training_and_evaluation(drfc):
    assert drfc.training is not None and drfc.evaluation is not None
    assert drfc.training["iteration"].nunique() == 27
    assert drfc.training["unique_episode"].nunique() == 540
    assert drfc.evaluation["stream"].nunique() == 3
    assert drfc.episodes_per_iteration == 20
    assert drfc.model_metadata["action_space_type"] == "discrete"


def test_evaluation_lap_times_agree_with_deepracer_metrics(drfc):
    """Our lap times from the simtrace are DeepRacer's own EvaluationMetrics within a step."""
    ev = episode_table(drfc.evaluation, is_eval=True)
    for stem, trials in drfc.evaluation_metrics.items():
        stream = "evaluation-" + stem.split("-")[1]
        ours = ev[ev["stream"] == stream].sort_values("episode")
        theirs = [t["elapsed_time_in_milliseconds"] / 1000 for t in trials]
        assert len(ours) == len(theirs)
        for a, b in zip(ours["time"], theirs, strict=True):
            assert a == pytest.approx(b, abs=0.12)  # DeepRacer times from reset, the trace from the first step


def test_console_chart_from_training_metrics(drfc):
    curves = metrics_curves(drfc)
    assert list(curves.columns) == ["iteration", "reward", "training_completion", "evaluation_completion"]
    first = [m for m in drfc.training_metrics if m["phase"] == "training"][:20]
    assert curves["reward"].iloc[0] == pytest.approx(sum(m["reward_score"] for m in first) / 20)
    assert curves["evaluation_completion"].iloc[-2] == 100  # the console's last evaluated iteration


def _robomaker_log(path: Path, rows: list[str]) -> Path:
    header = [
        "Using the following hyper-parameters",
        '{\n  "batch_size": 64,\n  "num_episodes_between_training": 2\n}',
        " * /WORLD_NAME: reinvent_base",
        "some RoboMaker chatter",
    ]
    path.write_text("\n".join(header + [f"SIM_TRACE_LOG:{r}\tsim time 1.0" for r in rows]) + "\n")
    return path


def _row(episode: int, step: int, progress: float, status: str = "in_progress") -> str:
    return f"{episode},{step},1.0,2.0,0.5,10.0,1.5,3,1.0,False,True,{progress},4,17.7,{10 + step * 0.1:.3f},{status},0.0"


def test_console_robomaker_log(tmp_path):
    log = _robomaker_log(tmp_path / "training-robomaker.log",
                         [_row(e, s, 10.0 * s) for e in range(4) for s in range(1, 4)])
    logs = load_logs(log.parent, quiet=True)
    assert logs.track_name == "reinvent_base"
    assert logs.episodes_per_iteration == 2
    assert sorted(logs.training["iteration"].unique()) == [0, 1]
    episodes = episode_table(logs.training)
    assert len(episodes) == 4 and (episodes["progress"] == 30.0).all()


def test_continuous_action_in_robomaker_log(tmp_path):
    row = "0,1,1.0,2.0,0.5,10.0,1.5,[10.0, 1.5],1.0,False,True,5.0,4,17.7,10.0,in_progress,0.0"
    df = read_robomaker_log(_robomaker_log(tmp_path / "x.log", [row]))
    assert df["action"].iloc[0] == -1 and df["steering_angle"].iloc[0] == 10.0


def test_malformed_value_names_file_and_line(tmp_path):
    csv = tmp_path / "training-simtrace" / "0-iteration.csv"
    with SimTraceWriter(csv) as w:
        values = dict(zip(COLUMNS, _row(0, 1, 5.0).split(","), strict=True))
        w.row(**values)
        w.row(**(values | {"X": "nan-ish"}))
    with pytest.raises(LogFormatError, match=r"0-iteration\.csv: line 3: X='nan-ish'"):
        load_logs(tmp_path, quiet=True)


def test_bad_robomaker_line_names_file_and_line(tmp_path):
    log = _robomaker_log(tmp_path / "t.log", [_row(0, 1, 1.0), "0,2,1.0"])
    with pytest.raises(LogFormatError, match=r"t\.log: line 9: SIM_TRACE_LOG has 3 fields"):
        load_logs(log, quiet=True)


def test_folder_without_logs(tmp_path):
    (tmp_path / "notes.txt").write_text("nothing here")
    with pytest.raises(LogFormatError, match="no logs found"):
        load_logs(tmp_path, quiet=True)
    with pytest.raises(LogFormatError, match="no such file"):
        load_logs(tmp_path / "missing", quiet=True)


def test_broken_metrics_json(tmp_path):
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "TrainingMetrics.json").write_text('{"metrics": [\n{"episode": 1,,}]}')
    with pytest.raises(LogFormatError, match=r"TrainingMetrics\.json: line 2"):
        load_logs(tmp_path, quiet=True)

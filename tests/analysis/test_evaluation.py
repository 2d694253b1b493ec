"""Evaluation: trial bookkeeping, the simulator driven as the node graph drives it, output files."""

from __future__ import annotations

import json

import pytest

from deepracer.analysis.evaluation import (
    TrialBook,
    drive_samples,
    evaluate,
    make_simulator,
    write_outputs,
)
from deepracer.analysis.logs import episode_table, load_logs
from deepracer.cli import main
from deepracer.errors import ConfigError, ModelPackageError
from deepracer.messages import StepRecord


def _s(t: float, progress: float, lap: int = 0, status: str = "in_progress") -> StepRecord:
    return StepRecord(t, 0.0, 0.0, 0.0, 0.0, 1.0, progress, lap, status, status != "off_track", 0)


def test_laps_become_trials_with_lap_times():
    book = TrialBook(trials=2, resets=0, penalty_s=3.0, max_trial_seconds=100)
    for s in [_s(0, 0), _s(5, 50), _s(10, 100, 1, "lap_complete"), _s(12, 30, 1), _s(18, 100, 2, "lap_complete")]:
        book.feed(s)
    assert book.done
    assert [(t.status, t.lap_time_s, t.progress) for t in book.trials] == [("lap_complete", 10, 100), ("lap_complete", 8, 100)]


def test_failure_ends_trial_without_resets_and_next_trial_continues():
    book = TrialBook(trials=2, resets=0, penalty_s=3.0, max_trial_seconds=100)
    # off track at 40 %: the simulator puts the car back and its lap goes on
    for s in [_s(0, 0), _s(4, 40, 0, "off_track"), _s(5, 45), _s(9, 100, 1, "lap_complete"), _s(10, 40, 1)]:
        book.feed(s)
    first, second = book.trials
    assert (first.status, first.progress, first.lap_time_s, first.off_track, first.resets) == ("off_track", 40, None, 1, 0)
    assert first.elapsed_s == 4  # no penalty: the failure ended the trial
    # the second trial started where the first ended (40 %) and is complete 100 % later
    assert (second.status, second.progress, second.lap_time_s) == ("lap_complete", 100, 6)


def test_resets_add_the_penalty_to_the_lap_time():
    book = TrialBook(trials=1, resets=2, penalty_s=3.0, max_trial_seconds=100)
    for s in [_s(0, 0), _s(2, 20, 0, "off_track"), _s(4, 40, 0, "reversed"), _s(10, 100, 1, "lap_complete")]:
        book.feed(s)
    (trial,) = book.trials
    assert (trial.status, trial.lap_time_s, trial.resets, trial.off_track, trial.reversed) == ("lap_complete", 16, 2, 1, 1)


def test_time_up():
    book = TrialBook(trials=1, resets=0, penalty_s=3.0, max_trial_seconds=5)
    for s in [_s(0, 0), _s(3, 1), _s(6, 2)]:
        book.feed(s)
    assert book.trials[0].status == "time_up" and book.trials[0].progress == 2


def test_pure_pursuit_laps_through_the_graph_conversions():
    """A driver that can drive completes laps in the real simulator; trials follow the simulator's laps."""
    from deepracer.sim.pure_pursuit import PurePursuitDriver

    sim = make_simulator(None, seed=0, penalty_s=3.0)
    driver = PurePursuitDriver(sim.track)

    def decide(_frame, state):
        steering, speed = driver.command(state)
        return steering, speed, -1

    book = TrialBook(trials=2, resets=0, penalty_s=3.0, max_trial_seconds=120)
    for sample in drive_samples(sim, decide):
        book.feed(sample)
        if book.done:
            break
    assert [t.status for t in book.trials] == ["lap_complete", "lap_complete"]
    assert sim.race.lap_times[:2] == pytest.approx([t.lap_time_s for t in book.trials], abs=1e-6)
    assert book.trials[1].lap_time_s < book.trials[0].lap_time_s  # flying start on the second lap


@pytest.fixture(scope="module")
def reference_model(tmp_path_factory):
    from deepracer.model.reference_net import make_reference_package

    return make_reference_package(tmp_path_factory.mktemp("model") / "ref")


def test_evaluate_writes_deepracer_files(reference_model, tmp_path):
    result = evaluate(reference_model, trials=3, resets=1)
    assert len(result.trials) == 3 and all(t.status in ("lap_complete", "off_track", "reversed", "immobilized",
                                                          "time_up") for t in result.trials)
    assert all(t.resets <= 1 for t in result.trials)
    files = write_outputs(result, tmp_path, 17.6)
    metrics = json.loads(files["metrics"].read_text())["metrics"]
    assert [m["trial"] for m in metrics] == [1, 2, 3]
    assert {"completion_percentage", "elapsed_time_in_milliseconds", "episode_status", "off_track_count",
            "reset_count"} <= set(metrics[0])
    # our own reader (and so `deepracer analyze`) gets the same trials back from the simtrace
    ev = episode_table(load_logs(tmp_path, quiet=True).evaluation, is_eval=True)
    assert len(ev) == 3
    # the reader takes a trial's furthest progress, the trial its last; progress is DeepRacer's front point
    # (0.22 m ahead of the rear axle), which can dip a little as the nose swings out on the step off the track
    assert ev["progress"].to_numpy() == pytest.approx([t.progress for t in result.trials], abs=0.5)
    assert all(a >= b - 1e-6 for a, b in zip(ev["progress"].to_numpy(), [t.progress for t in result.trials], strict=True))


def test_same_seed_same_result(reference_model):
    a, b = evaluate(reference_model, trials=2), evaluate(reference_model, trials=2)
    assert [(t.status, t.progress, t.elapsed_s) for t in a.trials] == [(t.status, t.progress, t.elapsed_s) for t in b.trials]


def test_cli_json(reference_model, tmp_path, capsys):
    assert main(["evaluate", "--model", str(reference_model), "--trials", "2", "--json", "--out", str(tmp_path)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["trials"]) == 2
    for trial in data["trials"]:
        assert {"progress", "lap_time_s", "off_track", "status"} <= set(trial)
        assert (trial["lap_time_s"] is None) == (trial["status"] != "lap_complete")


def test_bad_input(reference_model, tmp_path, capsys):
    with pytest.raises(ConfigError, match="--trials"):
        evaluate(reference_model, trials=0)
    with pytest.raises(ModelPackageError):
        evaluate(tmp_path / "missing")
    assert main(["evaluate", "--model", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "missing" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # nothing written for a failed evaluation


def test_analyze_reads_an_evaluation(reference_model, tmp_path):
    """`deepracer analyze` on an evaluation folder: the track is known and the trials are the same."""
    out = tmp_path / "eval"
    assert main(["evaluate", "--model", str(reference_model), "--trials", "2", "--resets", "1",
                 "--out", str(out), "--json"]) == 0
    assert main(["analyze", str(out), "--out", str(tmp_path / "report"), "--quiet"]) == 0
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    result = json.loads((out / "evaluation.json").read_text())
    assert summary["track"] == result["track"] and summary["track_found"] == "recorded in the logs"
    assert summary["evaluation"]["trials"] == 2
    # summary.json takes each trial's furthest progress (front point: it can dip on the step off the track)
    assert summary["evaluation"]["mean_progress"] == pytest.approx(result["summary"]["mean_progress"], abs=0.5)
    # without our evaluation.json the built-in track is recognised from the positions and track_len
    (out / "evaluation.json").unlink()
    assert main(["analyze", str(out), "--out", str(tmp_path / "report2"), "--quiet"]) == 0
    summary = json.loads((tmp_path / "report2" / "summary.json").read_text())
    assert (summary["track"], summary["track_found"]) == (result["track"], "recognised from the trajectory")


def _at(t: float, x: float, speed: float, progress: float = 0.0) -> StepRecord:
    return StepRecord(t, x, 0.0, 0.0, 0.0, speed, progress, 0, "in_progress", True, 0)


def test_clock_starts_on_the_first_move():
    """Steps standing on the start line (zero-speed answers) are not part of the first lap."""
    book = TrialBook(trials=1, resets=0, penalty_s=3.0, max_trial_seconds=100)
    for s in [_at(0, 1.0, 0.0), _at(1, 1.0, 0.0), _at(2, 1.0, 0.0), _at(3, 1.5, 1.0, 50), _at(9, 1.0, 1.0, 100)]:
        book.feed(s)
    assert book.trials[0].lap_time_s == 7 and book.trials[0].steps == 2
    assert [s.sim_time for _, s, _ in book.samples] == [2, 3, 9]


def test_a_car_that_never_moves_is_time_up():
    book = TrialBook(trials=1, resets=0, penalty_s=3.0, max_trial_seconds=5)
    for t in range(8):
        book.feed(_at(t, 1.0, 0.0))
    assert book.done and book.trials[0].status == "time_up"

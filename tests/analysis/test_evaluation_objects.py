"""Object avoidance / head-to-bot / head-to-model in evaluation, races and the reward validator."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from deepracer.analysis.evaluation import TrialBook
from deepracer.cli import main
from deepracer.messages import StepRecord

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "models" / "deepracer-default.tar.gz"
OA_EXAMPLE = ROOT / "deepracer" / "train" / "rewards" / "object_avoidance.py"


def _s(t: float, progress: float, lap: int = 0, status: str = "in_progress") -> StepRecord:
    return StepRecord(t, 0.0, 0.0, 0.0, 0.0, 1.0, progress, lap, status, True, 0)


def test_crashes_cost_the_collision_penalty_and_count_as_resets():
    book = TrialBook(trials=1, resets=5, penalty_s=3.0, max_trial_seconds=100, collision_penalty_s=5.0)
    for s in [_s(0, 0), _s(2, 20, 0, "crashed"), _s(3, 25, 0, "off_track"), _s(4, 30, 0, "crashed"),
              _s(10, 100, 1, "lap_complete")]:
        book.feed(s)
    (trial,) = book.trials
    assert (trial.status, trial.crashes, trial.off_track, trial.resets) == ("lap_complete", 2, 1, 3)
    assert trial.lap_time_s == 10 + 2 * 5.0 + 3.0


def test_a_crash_ends_a_trial_without_resets():
    book = TrialBook(trials=2, resets=0, penalty_s=3.0, max_trial_seconds=100, collision_penalty_s=5.0)
    for s in [_s(0, 0), _s(2, 20, 0, "crashed"), _s(4, 40), _s(12, 100, 1, "lap_complete"), _s(14, 20, 1)]:
        book.feed(s)
    first, second = book.trials
    assert (first.status, first.crashes, first.elapsed_s, first.resets) == ("crashed", 1, 2, 0)
    assert second.status == "lap_complete" and second.crashes == 0


@pytest.mark.skipif(not BUNDLED.is_file(), reason="models/deepracer-default.tar.gz is not in this checkout")
def test_evaluate_object_avoidance_reports_crashes_in_json_metrics_and_simtrace(tmp_path, capsys):
    out = tmp_path / "ev"
    # a time-trial model does not avoid boxes: with two on the lane it drives it crashes
    code = main(["evaluate", "--model", str(BUNDLED), "--race-type", "object_avoidance",
                 "--object-positions", "30,outer;60,inner", "--trials", "1", "--resets", "50",
                 "--max-trial-seconds", "25", "--collision-penalty", "2", "--out", str(out), "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["race_type"] == "object_avoidance" and data["collision_penalty_s"] == 2
    assert data["obstacles"]["positions"] == [[30.0, -1], [60.0, 1]]
    trial = data["trials"][0]
    assert data["summary"]["crashes"] == trial["crashes"]
    metrics = json.loads(Path(data["files"]["metrics"]).read_text())["metrics"]
    assert metrics[0]["crash_count"] == trial["crashes"]
    with open(data["files"]["simtrace"], newline="") as f:
        rows = list(csv.DictReader(f))
    assert int(rows[-1]["obstacle_crash_counter"]) == trial["crashes"]
    counter = [int(r["obstacle_crash_counter"]) for r in rows]
    assert trial["crashes"] > 0 and counter == sorted(counter)
    assert len(json.loads(rows[0]["objects"])) == 2


@pytest.mark.skipif(not BUNDLED.is_file(), reason="models/deepracer-default.tar.gz is not in this checkout")
def test_head_to_head_ranks_two_models_racing_in_one_simulation(tmp_path, capsys):
    video = tmp_path / "h2h.mp4"
    code = main(["race", "--head-to-head", str(BUNDLED), str(BUNDLED), "--laps", "1", "--json",
                 "--video", str(video)])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    board = data["leaderboard"]
    assert [e["rank"] for e in board] == [1, 2]
    assert {e["model"] for e in board} == {"deepracer-default", "deepracer-default (2)"}
    # both finish; the car on the grid's front row (0.75 m ahead) is first over the line
    assert all(e["completed"] == 1 and e["total_time_s"] for e in board)
    assert board[0]["model"] == "deepracer-default"
    assert video.is_file() and video.stat().st_size > 10_000


def test_race_type_options_are_checked(capsys):
    with pytest.raises(SystemExit) as err:
        main(["evaluate", "--model", "x", "--race-type", "drag"])
    assert err.value.code == 2
    assert main(["reward", "validate", str(OA_EXAMPLE), "--objects", "3"]) == 2
    assert "--objects needs --race-type object_avoidance" in capsys.readouterr().err
    assert main(["reward", "validate", str(OA_EXAMPLE), "--race-type", "object_avoidance",
                 "--object-positions", "20,middle"]) == 2


def test_reward_validate_catches_a_function_that_fails_on_objects(tmp_path, capsys):
    # the console's object-avoidance example reads objects_location[closest_objects[1]]:
    # fine with objects on the track, an IndexError in a time trial
    assert main(["reward", "validate", str(OA_EXAMPLE), "--race-type", "object_avoidance"]) == 0
    out = capsys.readouterr().out
    assert "crashed into object 2" in out and "beside object 0" in out
    assert main(["reward", "validate", str(OA_EXAMPLE), "--race-type", "head_to_bot"]) == 0
    assert main(["reward", "validate", str(OA_EXAMPLE)]) != 0
    assert "IndexError" in capsys.readouterr().err
    bad = tmp_path / "bad.py"
    bad.write_text("def reward_function(params):\n"
                   "    if params['is_crashed']:\n"
                   "        return 1.0 / (len(params['objects_location']) - len(params['objects_speed']))\n"
                   "    return 1.0\n")
    assert main(["reward", "validate", str(bad)]) == 0  # never crashes in a time trial
    assert main(["reward", "validate", str(bad), "--race-type", "object_avoidance"]) != 0
    assert "ZeroDivisionError" in capsys.readouterr().err


@pytest.mark.parametrize("race_type, reward", [("object_avoidance", OA_EXAMPLE),
                                               ("head_to_bot", ROOT / "deepracer" / "train" / "rewards" / "default.py")])
def test_training_runs_with_objects_and_the_console_examples(tmp_path, capsys, race_type, reward):
    hp = tmp_path / "hp.json"
    hp.write_text(json.dumps({"num_episodes_between_training": 3, "rollout_steps": 64, "batch_size": 32,
                              "num_epochs": 1}))
    out = tmp_path / "run"
    code = main(["train", "--out", str(out), "--steps", "150", "--envs", "1", "--hyperparameters", str(hp),
                 "--max-steps", "100", "--no-progress", "--json", "--reward", str(reward),
                 "--race-type", race_type, *(["--randomize-objects"] if race_type == "object_avoidance" else [])])
    assert code == 0
    assert json.loads(capsys.readouterr().out)["steps"] >= 150
    trace = sorted((out / "training-simtrace").glob("*.csv"))
    with open(trace[0], newline="") as f:
        statuses = {r["episode_status"] for r in csv.DictReader(f)}
    assert statuses <= {"prepare", "in_progress", "off_track", "crashed", "lap_complete", "reversed",
                        "immobilized", "time_up"}
    # the time-trial training refuses the OA example before it starts (validation)
    if race_type == "object_avoidance":
        assert main(["train", "--out", str(tmp_path / "tt"), "--steps", "10", "--reward", str(reward),
                     "--no-progress"]) != 0

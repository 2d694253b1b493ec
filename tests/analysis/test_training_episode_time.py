"""Episode times of our own training simtrace, where parallel environments interleave episodes."""

from __future__ import annotations

import pytest

from deepracer.analysis.logs import episode_table, load_logs
from deepracer.train import logs as train_logs


def _interleaved_training(tmp_path, monkeypatch):
    """Two environments at 15 Hz: env 0 runs episodes of 10 steps, env 1 one of 40 steps."""
    clock = {"t": 1000.0}
    monkeypatch.setattr(train_logs.time, "time", lambda: clock["t"])
    log = train_logs.TrainingLog(tmp_path, episodes_per_iteration=20, n_envs=2)
    steps = [0, 0]
    for _ in range(40):
        clock["t"] += 1 / 15
        for env in (0, 1):
            steps[env] += 1
            done = steps[env] == (10 if env == 0 else 40)
            info = {"x": 0.1 * steps[env], "y": 0.0, "yaw_deg": 0.0, "steering_angle": 0.0, "speed": 1.0,
                    "action": 0, "progress": 5.0 * steps[env], "closest_waypoint": 0, "track_len": 17.6,
                    "all_wheels_on_track": True, "episode_status": "off_track" if done else "in_progress",
                    "steps": steps[env]}
            log.step(env, info, 1.0, done, 0)
            if done:
                steps[env] = 0
    log.close()
    return tmp_path


def test_episode_time_ignores_the_other_environments_rows(tmp_path, monkeypatch):
    out = _interleaved_training(tmp_path, monkeypatch)
    episodes = episode_table(load_logs(out, quiet=True).training)
    # every episode lasts its own steps at 15 Hz (the first row starts the clock, as DeepRacer's prepare row)
    expected = (episodes["steps"] - 1) / 15
    assert episodes["time"].to_numpy() == pytest.approx(expected.to_numpy(), abs=1e-3)


def test_deepracer_utils_reads_the_same_episode_times(tmp_path, monkeypatch):
    from tests.deepracer_utils_loader import deepracer_utils_or_skip

    logs = deepracer_utils_or_skip().logs
    out = _interleaved_training(tmp_path, monkeypatch)
    drl = logs.DeepRacerLog(model_folder=str(out))
    drl.load_training_trace()
    agg = logs.AnalysisUtils.simulation_agg(drl.dataframe())
    expected = (agg["steps"] - 1) / 15
    assert agg["time"].to_numpy() == pytest.approx(expected.to_numpy(), abs=1e-3)


def test_episode_time_of_a_log_without_prepare_rows(tmp_path, monkeypatch):
    """Training logs written before the trainer marked first rows `prepare` read right too."""
    out = _interleaved_training(tmp_path, monkeypatch)
    trace = out / "training-simtrace" / "0-iteration.csv"
    trace.write_text(trace.read_text().replace(",prepare,", ",in_progress,"))
    episodes = episode_table(load_logs(out, quiet=True).training)
    expected = (episodes["steps"] - 1) / 15
    assert episodes["time"].to_numpy() == pytest.approx(expected.to_numpy(), abs=1e-3)

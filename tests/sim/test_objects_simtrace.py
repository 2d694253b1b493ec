"""Training simtraces of object races carry DeepRacer's obstacle_crash_counter and the objects,
and the log analysis reads them back."""

from __future__ import annotations

import json

import pytest

from deepracer.analysis.logs import read_simtrace_csv
from deepracer.sim import DeepRacerEnv, SimConfig
from deepracer.sim.objects import ObstacleConfig, RaceConfig, RaceType, parse_positions
from deepracer.train.logs import TrainingLog

BLOCKED = RaceConfig(RaceType.OBJECT_AVOIDANCE, ObstacleConfig(positions=parse_positions("8,inner;8,outer")))


def _drive(env: DeepRacerEnv, log: TrainingLog, episodes: int) -> list[dict]:
    infos = []
    for _ in range(episodes):
        env.reset(options={"start_waypoint": 0})
        done = False
        while not done:
            _, reward, term, trunc, info = env.step([0.0, 0.0])  # straight on at 1.75 m/s: into the boxes
            done = term or trunc
            log.step(0, info, reward, done, None)
            infos.append(info)
    return infos


def test_a_crash_is_in_the_training_simtrace_with_the_objects(tmp_path):
    env = DeepRacerEnv(track="oval", sim_config=SimConfig(**BLOCKED.sim_fields()), randomize=False, seed=0)
    log = TrainingLog(tmp_path, episodes_per_iteration=2, n_envs=1, objects=True)
    infos = _drive(env, log, 2)
    log.close()
    assert [i["episode_status"] for i in infos].count("crashed") == 2  # a crash ends a training episode
    df = read_simtrace_csv(tmp_path / "training-simtrace" / "0-iteration.csv")
    assert list(df["obstacle_crash_counter"]) == [int(i["crash_count"]) for i in infos]
    crashed = df[df["episode_status"] == "crashed"]
    assert len(crashed) == 2 and set(crashed["obstacle_crash_counter"]) == {1} and crashed["done"].all()
    assert df["objects"].iloc[0] == [[1.524, 0.2], [1.524, -0.2]]  # the two boxes, x and y in m
    header = (tmp_path / "training-simtrace" / "0-iteration.csv").read_text().splitlines()[0].split(",")
    assert header[-3:] == ["pause_duration", "obstacle_crash_counter", "objects"]  # after DeepRacer's columns
    metrics = json.loads((tmp_path / "metrics" / "TrainingMetrics.json").read_text())["metrics"]
    assert [m["episode_status"] for m in metrics] == ["Crashed", "Crashed"]


def test_a_time_trial_simtrace_keeps_deepracers_columns(tmp_path):
    env = DeepRacerEnv(track="oval", randomize=False, seed=0, max_steps=5)
    log = TrainingLog(tmp_path, episodes_per_iteration=1, n_envs=1)
    _drive(env, log, 1)
    log.close()
    header = (tmp_path / "training-simtrace" / "0-iteration.csv").read_text().splitlines()[0].split(",")
    assert header[-1] == "pause_duration"
    assert "obstacle_crash_counter" not in read_simtrace_csv(tmp_path / "training-simtrace" / "0-iteration.csv")


@pytest.mark.integration
def test_deepracer_train_writes_the_object_columns(tmp_path):
    from deepracer.train.trainer import TrainConfig, train

    train(TrainConfig(out=tmp_path / "run", steps=64, envs=1, progress_bar=False, max_steps=40, race=BLOCKED,
                      extra_hyperparameters={"num_episodes_between_training": 2, "batch_size": 32}))
    df = read_simtrace_csv(tmp_path / "run" / "training-simtrace" / "0-iteration.csv")
    assert "obstacle_crash_counter" in df and len(df["objects"].iloc[0]) == 2

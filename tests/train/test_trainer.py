"""`deepracer train` end to end on tiny budgets: layout, logs other tools read, resume, errors, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from reward_files import reward_file

from deepracer.errors import ConfigError, RewardFunctionError
from deepracer.train.trainer import TrainConfig, train
from tests.deepracer_utils_loader import deepracer_utils_or_skip

pytestmark = pytest.mark.integration  # real (tiny) trainings: minutes on 2 cores, the second tier
REPO = Path(__file__).resolve().parents[2]
TINY = {"num_episodes_between_training": 4, "rollout_steps": 128, "batch_size": 32, "num_epochs": 1}


def tiny_config(out: Path, tmp_path: Path, **over) -> TrainConfig:
    hp = tmp_path / "hyperparameters.json"
    hp.write_text(json.dumps(TINY))
    cfg = dict(out=out, hyperparameters=hp, steps=400, envs=1, seed=1, max_steps=150, progress_bar=False)
    cfg.update(over)
    return TrainConfig(**cfg)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("train")
    out = tmp / "run"
    result = train(tiny_config(out, tmp, reward=reward_file("follow_center_line.py")))
    return out, result, tmp


def test_output_follows_deepracer_for_cloud_layout(trained):
    out, result, _ = trained
    assert result.steps >= 400 and result.iterations >= 1 and not result.interrupted
    for rel in ("model/model.onnx", "model/model_metadata.json", "ip/hyperparameters.json",
                "reward_function.py", "metrics/TrainingMetrics.json", "checkpoints/latest.zip",
                "checkpoints/best.zip", "training-simtrace/0-iteration.csv"):
        assert (out / rel).is_file(), rel
    assert (out / "reward_function.py").read_text() == (reward_file("follow_center_line.py")).read_text()
    assert json.loads((out / "ip" / "hyperparameters.json").read_text())["num_episodes_between_training"] == 4


def test_best_model_is_a_valid_package(trained):
    from deepracer.model.package import check_model_package

    out, _, _ = trained
    assert check_model_package(out / "model") == []


def test_iteration_metrics_have_reward_progress_and_evaluation(trained):
    out, _, _ = trained
    rows = json.loads((out / "metrics" / "iterations.json").read_text())
    assert rows and rows[0]["episodes"] == 4
    assert {"mean_reward", "mean_progress", "laps", "evaluation"} <= set(rows[0])
    assert 0 <= rows[0]["evaluation"]["mean_progress"] <= 100
    metrics = json.loads((out / "metrics" / "TrainingMetrics.json").read_text())
    phases = {m["phase"] for m in metrics["metrics"]}
    assert phases == {"training", "evaluation"}


def test_deepracer_utils_reads_the_training_folder(trained):
    out, _, _ = trained
    logs = deepracer_utils_or_skip().logs
    log = logs.DeepRacerLog(model_folder=str(out))
    log.load_training_trace()
    df = log.dataframe() if hasattr(log, "dataframe") else log.df
    assert len(df) > 100
    assert df["episode"].nunique() >= 4
    assert set(df["iteration"]) >= {0}
    assert df["progress"].between(0, 100).all()
    per_episode = logs.AnalysisUtils.simulation_agg(df)
    assert len(per_episode) == df["unique_episode"].nunique()
    assert per_episode["progress"].max() > 0
    stats = logs.episode_stats((out / "training-simtrace" / "0-iteration.csv").read_bytes())
    assert len(stats) == 4
    metrics = logs.TrainingMetrics(None, fname=str(out / "metrics" / "TrainingMetrics.json"))
    assert len(metrics.metrics) >= 4


def test_resume_continues_counting(trained):
    out, first, tmp = trained
    before = json.loads((out / "metrics" / "iterations.json").read_text())
    second = train(tiny_config(out, tmp, resume=True, steps=200))
    assert second.steps >= first.steps + 200
    after = json.loads((out / "metrics" / "iterations.json").read_text())
    assert [r["iteration"] for r in after] == list(range(len(after)))
    assert len(after) >= len(before)


def test_a_second_run_into_the_same_folder_needs_resume(trained):
    out, _, tmp = trained
    with pytest.raises(ConfigError, match="--resume"):
        train(tiny_config(out, tmp))


def test_resume_without_checkpoint_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="no checkpoints"):
        train(tiny_config(tmp_path / "empty", tmp_path, resume=True))


# in the trainer's process, in worker processes, and in workers that collect whole rollouts
@pytest.mark.parametrize("workers", [{"workers": 0}, {"workers": 2}, {"rollout_workers": 2}])
def test_reward_error_in_an_env_stops_training_with_file_and_line(tmp_path, workers):
    bad = tmp_path / "late_failure.py"
    bad.write_text("def reward_function(params):\n    if params['steps'] > 40:\n"
                   "        return params['speed'] / 0\n    return 1.0\n")
    with pytest.raises(RewardFunctionError) as err:
        train(tiny_config(tmp_path / "out", tmp_path, reward=bad, envs=2, **workers))
    msg = str(err.value)
    assert str(bad) in msg and "line 3" in msg and "ZeroDivisionError" in msg and "steps=41" in msg


@pytest.mark.parametrize("share", [-0.1, 1.5, float("nan")])
def test_floor_like_road_must_be_a_share(tmp_path, share):
    with pytest.raises(ConfigError, match="--floor-like-road is a share of episodes"):
        train(tiny_config(tmp_path / "out", tmp_path, floor_like_road=share))
    assert not (tmp_path / "out" / "checkpoints").exists()


def test_floor_like_road_reaches_the_training_envs_not_the_evaluation(tmp_path):
    from deepracer.model.metadata import ModelMetadata
    from deepracer.train.trainer import _EnvFactory, eval_factories

    cfg = tiny_config(tmp_path / "out", tmp_path, floor_like_road=0.25, eval_trials=3)
    meta = ModelMetadata.from_dict({"action_space_type": "discrete", "action_space": [
        {"steering_angle": 0.0, "speed": 1.0}]})
    env = _EnvFactory("oval", meta.to_dict(), None, 0, True, "rotate", 100, None, cfg.floor_like_road)()
    assert env.unwrapped.sim.config.randomization.floor_like_road == 0.25
    for make, _ in eval_factories(cfg, meta, None, 100):
        assert make().unwrapped.sim.config.randomization.floor_like_road == 0.0


def test_reward_validated_before_training(tmp_path):
    bad = tmp_path / "offtrack_none.py"
    bad.write_text("def reward_function(params):\n    if not params['all_wheels_on_track']:\n"
                   "        return None\n    return 1.0\n")
    with pytest.raises(RewardFunctionError, match="line 3: returned NoneType"):
        train(tiny_config(tmp_path / "out", tmp_path, reward=bad))
    assert not (tmp_path / "out" / "checkpoints").exists()


def test_sac_with_a_continuous_action_space(tmp_path, shared):
    out = tmp_path / "sac"
    result = train(tiny_config(out, tmp_path, algorithm="sac", steps=200,
                               action_space=shared("deepracer-formats", "model_metadata_sac.json")))
    meta = json.loads((out / "model" / "model_metadata.json").read_text())
    assert result.iterations >= 1
    assert meta["action_space_type"] == "continuous" and meta["training_algorithm"] == "sac"
    assert meta["onnx"]["output"]["kind"] == "continuous"


def test_sac_refuses_a_discrete_action_space(tmp_path, shared):
    with pytest.raises(ConfigError, match="continuous"):
        train(tiny_config(tmp_path / "o", tmp_path, algorithm="sac",
                          action_space=shared("deepracer-formats", "model_metadata.json")))


# envs in the trainer's process, in worker processes, and in workers that collect whole rollouts
@pytest.mark.parametrize("workers", [["--workers", "0"], ["--workers", "2"], ["--rollout-workers", "2"]])
def test_ctrl_c_stops_cleanly_and_keeps_the_best_model(tmp_path, workers):
    hp = tmp_path / "hp.json"
    hp.write_text(json.dumps(TINY))
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "deepracer.cli", "train", "--out", str(out), "--hyperparameters", str(hp),
         "--minutes", "5", "--envs", "2", *workers, "--no-progress", "--max-steps", "150"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        # a background shell starts its jobs with SIGINT ignored; a terminal's Ctrl-C is not
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 120
    while time.time() < deadline and not (out / "model" / "model.onnx").is_file():
        time.sleep(0.5)
    assert (out / "model" / "model.onnx").is_file(), "no model exported within 2 minutes"
    os.killpg(proc.pid, signal.SIGINT)  # the whole group, as a terminal's Ctrl-C does
    # the save and the export. With workers, a Ctrl-C that lands while the trainer reads a step's
    # result used to leave SubprocVecEnv.close reading a half-read message forever (one CI run
    # timed out); GroupedVecEnv.close terminates such workers instead (vec_env.py)
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 130, err
    assert (out / "checkpoints" / "latest.zip").is_file()
    assert (out / "model" / "model.onnx").is_file()
    json.loads((out / "metrics" / "TrainingMetrics.json").read_text())  # complete, not half written


def test_killed_outright_resumes_from_the_last_iteration_checkpoint(tmp_path):
    """SIGKILL gives the trainer no chance to save: the checkpoint written after each iteration
    (atomically) is what --resume continues from."""
    from deepracer.train.algorithms import load_model

    hp = tmp_path / "hp.json"
    hp.write_text(json.dumps(TINY))
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "deepracer.cli", "train", "--out", str(out), "--hyperparameters", str(hp),
         "--minutes", "5", "--envs", "2", "--no-progress", "--max-steps", "150"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    iterations = out / "metrics" / "iterations.json"
    deadline = time.time() + 120
    while time.time() < deadline and not (iterations.is_file() and json.loads(iterations.read_text() or "[]")):
        time.sleep(0.2)
    assert iterations.is_file(), "no iteration within 2 minutes"
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    saved = load_model(out / "checkpoints" / "latest.zip", None).num_timesteps
    assert saved > 0  # an iteration's checkpoint (the one written at the start has 0 steps)
    state = json.loads((out / "checkpoints" / "state.json").read_text())
    assert state["wall_before_s"] > 0  # the killed run's time is counted
    resumed = train(tiny_config(out, tmp_path, resume=True, steps=100, envs=1))
    assert resumed.steps >= saved + 100 and not resumed.interrupted


def test_frame_stack_reaches_the_exported_model(tmp_path):
    from deepracer.model.package import load_model_package
    from deepracer.model.policy import OnnxPolicy

    hp = tmp_path / "hp.json"
    hp.write_text(json.dumps({**TINY, "stack_size": 3}))
    out = tmp_path / "stacked"
    train(TrainConfig(out=out, hyperparameters=hp, steps=200, envs=1, max_steps=100, progress_bar=False))
    package = load_model_package(out / "model")
    assert package.input_spec.frame_stack == 3 and package.input_spec.shape() == (1, 3, 120, 160)
    import numpy as np

    decision = OnnxPolicy(package).predict(np.zeros((120, 160), np.uint8))
    assert decision.index is not None


def test_several_tracks_are_trained_and_evaluated(tmp_path):
    out = tmp_path / "multi"
    train(tiny_config(out, tmp_path, track="oval,hairpins", steps=300, eval_trials=2))
    rows = json.loads((out / "metrics" / "iterations.json").read_text())
    assert rows[0]["evaluation"]["trials"] == 4  # per track: one plain, one randomised
    from deepracer.analysis.simtrace import iter_rows

    tracks = {round(float(row["track_len"]), 2) for row in iter_rows(out / "training-simtrace" / "0-iteration.csv")}
    assert len(tracks) == 2  # episodes ran on both tracks (told apart by track_len)


@pytest.mark.slow
def test_ppo_from_scratch_completes_a_lap_within_ten_minutes():
    """The bench: default track, default reward function, default action space, 2 environments."""
    import argparse

    from deepracer.train.bench import run

    result = run(argparse.Namespace(minutes=10.0, envs=2, seed=0, track=None, network="small", keep=None))
    assert result["minutes_to_first_lap"] is not None and result["minutes_to_first_lap"] <= 10.0


def test_bench_train_throughput_mode_reports_steps_per_second_and_phases():
    """`deepracer bench train --steps N --baseline`: env_steps_per_s for the current and the
    previous settings, run alternately, and where the time went."""
    import argparse

    from deepracer.train.bench import run

    result = run(argparse.Namespace(minutes=10.0, envs=2, seed=0, track=None, network="small", keep=None,
                                    steps=256, repeat=1, baseline=True))
    assert result["steps"] == 1024 + 2 and result["envs"] == 2  # one rollout and its update, one vector step more
    for prefix in ("", "baseline_"):
        assert result[f"{prefix}env_steps_per_s"] > 0
        assert result[f"{prefix}learning_steps_per_s"] >= result[f"{prefix}env_steps_per_s"]
        run_ = result[f"{prefix}runs"][0]
        phases = run_["phase_s"]
        assert phases["update"] > 0 and phases["rollout"] > 0 and phases["evaluation"] >= 0
        assert 1026 / run_["env_steps_per_s"] >= phases["rollout"] + phases["update"] + phases["evaluation"] - 0.5
    assert result["speedup"] == pytest.approx(result["env_steps_per_s"] / result["baseline_env_steps_per_s"], rel=0.02)


def test_continuous_ppo_logs_actions_as_deepracer_does(tmp_path, shared):
    out = tmp_path / "cont"
    train(tiny_config(out, tmp_path, steps=200, action_space=shared("deepracer-formats", "model_metadata_cont.json")))
    meta = json.loads((out / "model" / "model_metadata.json").read_text())
    assert meta["action_space_type"] == "continuous" and meta["training_algorithm"] == "clipped_ppo"
    from deepracer.analysis.simtrace import iter_rows

    row = next(iter_rows(out / "training-simtrace" / "0-iteration.csv"))
    steer, speed = (float(x) for x in row["action"].strip("[]").split(","))
    assert -30 <= steer <= 30 and 1 <= speed <= 2  # the DRfC file's ranges, absolute units

"""Rollouts collected in worker processes with their own policy copies (`--rollout-workers N`):
the buffer holds what SB3 would have stored for the same actions, the trainer sees every step,
errors and bad settings are named, and no shared memory is left behind."""

from __future__ import annotations

import glob
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import DummyVecEnv, VecFrameStack, VecTransposeImage

from deepracer.errors import ConfigError
from deepracer.train.hyperparameters import HyperParameters
from deepracer.train.networks import pool_frames
from deepracer.train.rollout_workers import RolloutWorkerError, RolloutWorkers
from deepracer.train.trainer import TrainConfig, _EnvFactory, build_model, default_metadata, train

GAMMA = 0.99
STEPS = 48  # per environment: with max_steps 30, every environment ends (and restarts) episodes by its time limit


class Recorder(BaseCallback):
    """What the trainer's callback reads at each step, the weights that acted and the buffer."""

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[dict] = []
        self.weights: dict = {}
        self.buffer: dict = {}
        self.timesteps: list[int] = []

    def _on_rollout_start(self) -> None:
        if not self.weights:
            self.weights = {k: v.clone() for k, v in self.model.policy.state_dict().items()}

    def _on_step(self) -> bool:
        loc = self.locals
        self.steps.append({k: np.copy(loc[k]) for k in ("rewards", "dones", "actions")} | {"infos": loc["infos"]})
        self.timesteps.append(self.model.num_timesteps)
        return True

    def _on_rollout_end(self) -> None:
        if not self.buffer:
            b = self.model.rollout_buffer
            self.buffer = {k: np.array(getattr(b, k)) for k in
                           ("observations", "actions", "rewards", "episode_starts", "values", "log_probs", "returns")}


def _factories(n: int) -> list[_EnvFactory]:
    md = default_metadata().to_dict()
    return [_EnvFactory("oval", md, None, 40 + i, True, "rotate", 30) for i in range(n)]


def _collect(network: str, stack: int, n_envs: int = 3, workers: int = 2) -> tuple[Recorder, RolloutWorkers]:
    hp = replace(HyperParameters(), rollout_steps=STEPS * n_envs, num_epochs=1, batch_size=48, stack_size=stack)
    venv = RolloutWorkers(_factories(n_envs), workers=workers, stack=stack, seed=3)
    cfg = TrainConfig(out=Path("unused"), network=network, seed=3)
    model = build_model(cfg, hp, venv, default_metadata())
    model.pool_rollouts = True
    rec = Recorder()
    model.learn(STEPS * n_envs, callback=rec)
    return rec, venv


def _replay(rec: Recorder, network: str, stack: int, n_envs: int = 3) -> None:
    """The same environments stepped in this process with the recorded actions: their frames,
    rewards and ends are the buffer's, and the policy that acted gives its values and
    log-probabilities (the time-limit bootstrap included)."""
    from stable_baselines3.common.policies import ActorCriticCnnPolicy  # noqa: F401  (the model's class)

    base = DummyVecEnv(_factories(n_envs))
    venv = VecTransposeImage(VecFrameStack(base, stack, channels_order="last") if stack > 1 else base)
    venv.seed(3)
    obs = venv.reset()
    buf = rec.buffer
    pooled = network == "small"
    truncations = 0
    for t, step in enumerate(rec.steps):
        expected = pool_frames(obs) if pooled else obs
        np.testing.assert_array_equal(buf["observations"][t], expected, err_msg=f"frames at step {t}")
        obs, rewards, dones, infos = venv.step(step["actions"])
        np.testing.assert_allclose(step["rewards"], rewards, rtol=0, atol=1e-6, err_msg=f"rewards at step {t}")
        np.testing.assert_array_equal(step["dones"], dones)
        assert [i["progress"] for i in step["infos"]] == [i["progress"] for i in infos]
        assert all("terminal_observation" not in i for i in step["infos"])  # not carried back
        starts = np.ones(n_envs) if t == 0 else rec.steps[t - 1]["dones"].astype(float)
        np.testing.assert_array_equal(buf["episode_starts"][t], starts)
        truncations += sum(bool(i.get("TimeLimit.truncated")) for i in infos)
    assert truncations > 0 and len(rec.steps) == STEPS
    return None


def _check_values(rec: Recorder, policy) -> None:
    policy.load_state_dict(rec.weights)
    buf = rec.buffer
    flat = torch.as_tensor(buf["observations"].reshape(-1, *buf["observations"].shape[2:]))
    actions = torch.as_tensor(buf["actions"].reshape(-1))
    with torch.no_grad():
        values, log_prob, _ = policy.evaluate_actions(flat, actions)
    np.testing.assert_allclose(buf["values"].reshape(-1), values.flatten().numpy(), atol=1e-5)
    np.testing.assert_allclose(buf["log_probs"].reshape(-1), log_prob.numpy(), atol=1e-5)


@pytest.mark.parametrize("network,stack", [("small", 1), ("shallow", 2)])  # pooled in the workers / raw frames
def test_the_buffer_holds_what_the_environments_and_the_acting_policy_gave(network, stack) -> None:
    rec, venv = _collect(network, stack)
    try:
        _replay(rec, network, stack)
        _check_values(rec, rec.model.policy)
        # the stored rewards carry SB3's bootstrap exactly where an episode hit its time limit
        recorded = np.stack([s["rewards"] for s in rec.steps])
        truncated = np.array([[bool(i.get("TimeLimit.truncated")) for i in s["infos"]] for s in rec.steps])
        bonus = rec.buffer["rewards"] - recorded
        assert np.all(bonus[~truncated] == 0) and np.all(bonus[truncated] != 0)
        assert rec.timesteps == [3 * (t + 1) for t in range(STEPS)]  # the callback saw every step, in order
    finally:
        venv.close()


def test_workers_sample_from_their_own_seeded_generators() -> None:
    (a, va), (b, vb) = _collect("small", 1), _collect("small", 1)
    try:
        np.testing.assert_array_equal(a.buffer["actions"], b.buffer["actions"])  # the same seed: the same run
        assert len(np.unique(a.buffer["actions"])) > 1  # sampled, not the argmax
    finally:
        va.close()
        vb.close()


def test_close_leaves_no_shared_memory_behind() -> None:
    before = set(glob.glob("/dev/shm/psm_*"))
    rec, venv = _collect("small", 1)
    assert set(glob.glob("/dev/shm/psm_*")) - before  # the rollout's frames are there while training
    venv.close()
    assert set(glob.glob("/dev/shm/psm_*")) - before == set()
    assert not any(p.is_alive() for p in venv.processes)


def _small_model(venv):
    hp = replace(HyperParameters(), rollout_steps=32, num_epochs=1, batch_size=32)
    return build_model(TrainConfig(out=Path("unused")), hp, venv, default_metadata())


def test_a_failing_worker_raises_its_traceback_in_the_trainer() -> None:
    venv = RolloutWorkers(_factories(2), workers=2, stack=1)
    try:
        model = _small_model(venv)
        venv.reset()
        venv.remotes[1].send(("set_attr", ("env", None, [0])))  # the second worker's environment breaks
        venv.remotes[1].recv()
        with pytest.raises(RolloutWorkerError, match=r"rollout worker 1 failed:(.|\n)*AttributeError"):
            venv.collect(model.policy, 16, GAMMA, pool=True, frames=False)
    finally:
        venv.close()


def test_a_worker_that_dies_is_reported_not_waited_for() -> None:
    import os
    import signal

    venv = RolloutWorkers(_factories(2), workers=2, stack=1)
    try:
        model = _small_model(venv)
        venv.reset()
        os.kill(venv.processes[1].pid, signal.SIGKILL)  # as the kernel's OOM killer would
        venv.processes[1].join(10)
        with pytest.raises(RolloutWorkerError, match="rollout worker 1 exited while collecting"):
            venv.collect(model.policy, 16, GAMMA, pool=True, frames=False)
    finally:
        venv.close()


@pytest.mark.parametrize("over,message", [
    ({"algorithm": "sac", "action_space": "continuous"}, "SAC steps its environments in the trainer"),
    ({"workers": 2}, "--workers and --rollout-workers"),
    ({"sensor": ["FRONT_FACING_CAMERA", "LIDAR"]}, "for camera models"),
    ({"rollout_workers": -1}, "0 or more"),
])
def test_settings_it_cannot_serve_are_refused_by_name(tmp_path, over, message) -> None:
    over = dict(over)
    if over.pop("action_space", None):
        space = tmp_path / "continuous.json"
        space.write_text(json.dumps({"action_space_type": "continuous", "action_space": {
            "steering_angle": {"low": -30, "high": 30}, "speed": {"low": 0.5, "high": 2}}}))
        over["action_space"] = space
    cfg = TrainConfig(out=tmp_path / "out", steps=64, rollout_workers=2, progress_bar=False)
    with pytest.raises(ConfigError, match=message):
        train(replace(cfg, **over))
    assert not (tmp_path / "out" / "checkpoints").exists()


def test_a_training_logs_every_step_and_resumes(tmp_path) -> None:
    import csv

    hp = tmp_path / "hp.json"
    hp.write_text(json.dumps({"num_episodes_between_training": 4, "rollout_steps": 128, "batch_size": 32,
                              "num_epochs": 1}))
    cfg = TrainConfig(out=tmp_path / "run", hyperparameters=hp, steps=400, envs=2, rollout_workers=2, seed=1,
                      max_steps=60, progress_bar=False)
    before = set(glob.glob("/dev/shm/psm_*"))
    first = train(cfg)
    assert first.steps >= 400 and first.iterations >= 1
    rows = [r for f in sorted((cfg.out / "training-simtrace").glob("*-iteration.csv"))
            for r in csv.DictReader(f.open())]
    episodes = {(r["episode"]) for r in rows}
    iterations = json.loads((cfg.out / "metrics" / "iterations.json").read_text())
    assert iterations[0]["episodes"] == 4 and len(episodes) >= 4 * len(iterations)
    assert first.phase_s["rollout"] > 0 and first.phase_s["update"] > 0
    second = train(replace(cfg, resume=True, steps=200))
    assert second.steps >= first.steps + 200
    assert set(glob.glob("/dev/shm/psm_*")) - before == set()


@pytest.mark.parametrize("cores,over,expected", [
    (2, {}, (8, 2)),  # the default on this machine: a worker per core, 4 environments each
    (4, {}, (16, 4)),
    (16, {}, (16, 4)),  # at most 4 by default: 64-step segments of a 1,024-step rollout
    (16, {"envs": 32}, (32, 4)),
    (1, {}, (2, 0)),  # one core: the trainer collects, as before
    (2, {"envs": 4}, (4, 0)),  # fewer than 2 workers of 4: the trainer (the bundled model's recipe, --envs 4)
    (2, {"envs": 1}, (1, 0)),  # the console's default job
    (2, {"envs": 4, "rollout_workers": 2}, (4, 2)),  # as asked
    (2, {"rollout_workers": 0}, (4, 0)),  # the trainer collects, with its default of 2 per core
    (2, {"workers": 2}, (4, 0)),  # --workers: the environments step in those
    (2, {"algorithm": "sac"}, (4, 0)),
])
def test_the_layout_puts_rollout_workers_where_they_pay(monkeypatch, cores, over, expected) -> None:
    from deepracer.train.trainer import training_layout

    monkeypatch.setattr("os.cpu_count", lambda: cores)
    layout = training_layout(TrainConfig(out=Path("unused"), **over), default_metadata())
    assert (layout.envs, layout.rollout_workers) == expected


def test_a_lidar_model_is_collected_in_the_trainer(monkeypatch) -> None:
    from deepracer.train.trainer import training_layout

    monkeypatch.setattr("os.cpu_count", lambda: 2)
    meta = replace(default_metadata(), sensor=["FRONT_FACING_CAMERA", "LIDAR"])
    assert training_layout(TrainConfig(out=Path("unused")), meta).rollout_workers == 0


def test_bench_train_reports_the_layout_and_the_workers_cpu() -> None:
    import argparse

    from deepracer.train.bench import run

    result = run(argparse.Namespace(minutes=10.0, envs=4, rollout_workers=2, overlap_rollouts=False, workers=0,
                                    seed=0, track=None, network="small", keep=None, steps=256, repeat=1,
                                    baseline=False))
    assert (result["envs"], result["rollout_workers"], result["steps"]) == (4, 2, 1024 + 4)
    r = result["runs"][0]
    assert r["rollout_workers_cpu_s_per_1k"] > 0.1 and r["rollout_cpu_s_per_1k"] < r["rollout_workers_cpu_s_per_1k"]


class EveryRollout(BaseCallback):
    """The weights at each rollout's start and each rollout's log-probabilities and frames."""

    def __init__(self) -> None:
        super().__init__()
        self.weights: list[dict] = []
        self.rollouts: list[dict] = []

    def _on_rollout_start(self) -> None:
        self.weights.append({k: v.clone() for k, v in self.model.policy.state_dict().items()})

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        b = self.model.rollout_buffer
        self.rollouts.append({k: np.array(getattr(b, k)) for k in ("observations", "actions", "log_probs")})


def _log_probs(policy, weights, rollout) -> np.ndarray:
    policy.load_state_dict(weights)
    obs = torch.as_tensor(rollout["observations"].reshape(-1, *rollout["observations"].shape[2:]))
    with torch.no_grad():
        _, log_prob, _ = policy.evaluate_actions(obs, torch.as_tensor(rollout["actions"].reshape(-1)))
    return log_prob.numpy()


def test_overlapped_rollouts_are_trained_one_update_late_with_the_acting_policys_numbers() -> None:
    hp = replace(HyperParameters(), rollout_steps=32 * 3, num_epochs=2, batch_size=32, lr=1e-3)
    venv = RolloutWorkers(_factories(3), workers=2, stack=1, seed=3, overlap=True)
    try:
        model = build_model(TrainConfig(out=Path("unused"), seed=3), hp, venv, default_metadata())
        rec = EveryRollout()
        model.learn(3 * 96, callback=rec)
        assert len(rec.rollouts) == 3
        policy = model.policy  # its weights are replaced below: the model is done
        # the first rollout: collected by the first weights; the second and third: by the weights
        # of the rollout before, i.e. before the last update, not by those it was trained on next
        np.testing.assert_allclose(rec.rollouts[0]["log_probs"].reshape(-1),
                                   _log_probs(policy, rec.weights[0], rec.rollouts[0]), atol=1e-5)
        for k in (1, 2):
            acting = _log_probs(policy, rec.weights[k - 1], rec.rollouts[k])
            np.testing.assert_allclose(rec.rollouts[k]["log_probs"].reshape(-1), acting, atol=1e-5)
            assert np.abs(_log_probs(policy, rec.weights[k], rec.rollouts[k]) - acting).max() > 1e-4
        # a rollout still in flight is received (and dropped) before anything else is asked
        assert venv.get_attr("max_steps") == [30, 30, 30]
        assert venv._pending is None
    finally:
        venv.close()


def test_starting_the_workers_warns_of_nothing() -> None:
    """VecEnv's constructor asks the workers for render_mode already; a half-built RolloutWorkers
    used to fail that and SB3 warned on every training that render_mode was not defined."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        venv = RolloutWorkers(_factories(2), workers=2, stack=1)
    try:
        assert venv.render_mode is None
    finally:
        venv.close()

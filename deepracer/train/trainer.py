"""`deepracer train`: PPO (discrete or continuous) or SAC (continuous) on the simulator's camera.

One run = one output folder in DeepRacer-for-Cloud's layout (see `deepracer.train.logs`).
After every iteration (num_episodes_between_training episodes) the deterministic policy drives
from the start line; the best model by evaluation progress, then lap time, is exported to
OUT/model as a model package. Ctrl-C stops cleanly: the latest checkpoint is saved and the best
model stays; `--resume` continues from the latest checkpoint.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from deepracer.errors import ConfigError, RewardFunctionError
from deepracer.model.metadata import Action, ModelMetadata
from deepracer.train.hyperparameters import HyperParameters
from deepracer.train.reward import DEFAULT_TIMEOUT_S, RewardFunction, default_reward_path

# Tuned for learning speed: few choices, every one of them drivable on the built-in tracks.
DEFAULT_ACTIONS = [Action(-30.0, 0.8), Action(-15.0, 1.0), Action(0.0, 1.2), Action(15.0, 1.0), Action(30.0, 0.8)]
DEFAULT_MAX_STEPS = 2000  # per training episode: a lap at the slowest speed fits with room to spare


@dataclass
class TrainConfig:
    out: Path
    reward: Path | None = None
    track: str | None = None
    action_space: Path | None = None
    hyperparameters: Path | None = None
    minutes: float | None = None
    steps: int | None = None
    algorithm: str = "ppo"
    envs: int = 0  # 0 = one per core
    seed: int = 0
    resume: bool = False
    pretrained: Path | None = None  # start from this checkpoint's weights (a clone), with this run's settings
    network: str = "small"
    eval_trials: int = 1
    stop_on_lap: bool = False  # stop at the first evaluation lap (the bench)
    max_steps: int = DEFAULT_MAX_STEPS
    progress_bar: bool = True
    extra_hyperparameters: dict[str, Any] = field(default_factory=dict)
    race: Any = None  # deepracer.sim.objects.RaceConfig: object avoidance / head-to-bot (None: time trial)
    reward_timeout_s: float | None = DEFAULT_TIMEOUT_S  # per reward call (None: no limit)


@dataclass
class TrainResult:
    out: Path
    steps: int
    wall_s: float
    iterations: int
    best_progress: float
    best_lap_time_s: float | None
    first_lap_wall_s: float | None
    first_lap_steps: int | None
    interrupted: bool
    stopped_because: str
    steps_per_s: float


def default_metadata() -> ModelMetadata:
    return ModelMetadata(action_space_type="discrete", actions=list(DEFAULT_ACTIONS))


def load_inputs(cfg: TrainConfig) -> tuple[HyperParameters, RewardFunction, ModelMetadata]:
    hp = HyperParameters.from_file(cfg.hyperparameters)
    for key, value in cfg.extra_hyperparameters.items():
        setattr(hp, key, value)
    hp.validate(cfg.hyperparameters)
    reward = RewardFunction(cfg.reward or default_reward_path(), cfg.reward_timeout_s)
    metadata = ModelMetadata.from_file(cfg.action_space) if cfg.action_space else default_metadata()
    from deepracer.sim.sensors import CAMERAS, Sensor, parse_sensors

    for s in parse_sensors(metadata.sensor, cfg.action_space):
        if s is Sensor.STEREO_CAMERAS or s not in CAMERAS:
            raise ConfigError(f"sensor {s}: the trainer trains single-camera models only so far (the simulator "
                              "and DeepRacerEnv provide it; see docs/simulator.md)", cfg.action_space)
    if cfg.algorithm not in ("ppo", "sac"):
        raise ConfigError(f"--algorithm must be ppo or sac, not {cfg.algorithm!r}")
    if cfg.algorithm == "sac" and metadata.action_space_type != "continuous":
        raise ConfigError("SAC needs a continuous action space (action_space_type continuous)", cfg.action_space)
    if hp.e_greedy:
        warnings.warn("exploration_type e-greedy: PPO/SAC explore by sampling their policy; "
                      "e_greedy_value and epsilon_steps are not used", stacklevel=2)
    return hp, reward, metadata


class _EnvFactory:
    """Picklable environment constructor for SubprocVecEnv."""

    def __init__(self, track: str | None, metadata: dict[str, Any], reward: RewardFunction | None,
                 seed: int, randomize: bool, start: str | int, max_steps: int, race: Any = None) -> None:
        self.track, self.metadata, self.reward = track, metadata, reward
        self.seed, self.randomize, self.start, self.max_steps = seed, randomize, start, max_steps
        self.race = race  # RaceConfig or None

    def __call__(self) -> Any:
        import multiprocessing
        import signal

        import torch

        if multiprocessing.parent_process() is not None:
            # Ctrl-C is the trainer's to handle: it saves, then closes these workers itself.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            torch.set_num_threads(1)  # the cores are for the other workers and the trainer
        from deepracer.sim import DEFAULT_TRACK, DeepRacerEnv

        kwargs: dict[str, Any] = {}
        if self.reward is not None:
            kwargs["reward_function"] = self.reward
        if self.race is not None:
            from deepracer.sim import SimConfig

            kwargs["sim_config"] = SimConfig(**self.race.sim_fields())
        names = track_list(self.track)
        envs = [
            DeepRacerEnv(
                track=name or DEFAULT_TRACK, metadata=ModelMetadata.from_dict(self.metadata),
                randomize=self.randomize, seed=self.seed + 7919 * k, start=self.start, max_steps=self.max_steps,
                **kwargs,
            )
            for k, name in enumerate(names)
        ]
        return RewardErrorToInfo(envs[0] if len(envs) == 1 else TrackRotation(envs))


class TrackRotation(gym.Env):
    """Several tracks in one environment: each episode runs on the next track in turn."""

    def __init__(self, envs: list[Any]) -> None:
        self.envs = envs
        self.observation_space = envs[0].observation_space
        self.action_space = envs[0].action_space
        self.metadata = envs[0].metadata
        self._next = 0
        self.current = envs[0]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        self.current = self.envs[self._next % len(self.envs)]
        self._next += 1
        return self.current.reset(seed=seed, options=options)

    def step(self, action: Any):
        return self.current.step(action)

    def close(self) -> None:
        for env in self.envs:
            env.close()


class RewardErrorToInfo(gym.Wrapper):
    """A reward error inside a subprocess environment travels to the trainer in `info`.

    The trainer raises it there with the file, line and params (a crashed subprocess would
    only say that the pipe broke).
    """

    def step(self, action: Any):
        try:
            return self.env.step(action)
        except RewardFunctionError as err:
            obs = self.env.observation_space.sample() * 0
            return obs, 0.0, True, False, {"reward_error": str(err)}


def make_vec_env(cfg: TrainConfig, metadata: ModelMetadata, reward: RewardFunction, stack: int, n_envs: int):
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecFrameStack

    # every environment rotates through all the tracks, each starting at a different one
    tracks = track_list(cfg.track)
    factories = [
        _EnvFactory(",".join(str(t) for t in tracks[i % len(tracks):] + tracks[:i % len(tracks)]) if tracks[0] else None,
                    metadata.to_dict(), reward, cfg.seed * 1000 + i, True, "rotate", cfg.max_steps, cfg.race)
        for i in range(n_envs)
    ]
    venv = SubprocVecEnv(factories, start_method="fork") if n_envs > 1 else DummyVecEnv(factories)
    if stack > 1:
        venv = VecFrameStack(venv, stack, channels_order="last")
    return venv


def track_list(track: str | None) -> list[str | None]:
    """`--track a,b,c` -> [a, b, c]; environments take them in turn, evaluation uses the first."""
    names = [t.strip() for t in (track or "").split(",") if t.strip()]
    return names or [None]


def eval_factories(cfg: TrainConfig, metadata: ModelMetadata, reward: RewardFunction | None,
                   max_steps: int) -> list[tuple[_EnvFactory, int]]:
    """(environment, trials) to evaluate on: per training track, from the start line, one trial
    without randomisation, then eval_trials - 1 with the simulator's randomisation."""
    out = []
    race = cfg.race
    if race is not None:  # evaluated on DeepRacer's fixed placement, as `deepracer evaluate` places them
        race = replace(race, obstacles=replace(race.obstacles, randomize=False),
                       bots=replace(race.bots, randomize=False))
    for t in track_list(cfg.track):
        out.append((_EnvFactory(t, metadata.to_dict(), reward, 12345, False, 0, max_steps, race), 1))
        if cfg.eval_trials > 1:
            out.append((_EnvFactory(t, metadata.to_dict(), reward, 12345, True, 0, max_steps, race),
                        cfg.eval_trials - 1))
    return out


def build_model(cfg: TrainConfig, hp: HyperParameters, venv: Any, metadata: ModelMetadata):
    from deepracer.train.algorithms import DeepRacerPPO, DeepRacerSAC
    from deepracer.train.networks import policy_kwargs

    common = dict(learning_rate=hp.lr, batch_size=hp.batch_size, gamma=hp.discount_factor,
                  policy_kwargs=policy_kwargs(cfg.network), seed=cfg.seed, verbose=0, device="cpu")
    if cfg.algorithm == "sac":
        return DeepRacerSAC(
            "CnnPolicy", venv, ent_coef=hp.sac_alpha, buffer_size=hp.buffer_size, gradient_steps=hp.num_epochs,
            train_freq=1, learning_starts=min(1000, hp.buffer_size), **common,
        )
    n_steps = max(hp.rollout_steps // venv.num_envs, 8)
    model = DeepRacerPPO(
        "CnnPolicy", venv, n_steps=n_steps, n_epochs=hp.num_epochs, ent_coef=hp.beta_entropy,
        gae_lambda=0.95, clip_range=0.2, **common,
    )
    model.huber = hp.huber
    return model


def train(cfg: TrainConfig) -> TrainResult:
    """Run one training; see the module docstring. Raises DeepRacerError on bad input."""
    import torch
    from stable_baselines3.common.callbacks import BaseCallback
    from tqdm import tqdm

    from deepracer.train.algorithms import load_model
    from deepracer.train.evaluate import run_episodes, score
    from deepracer.train.export import input_spec, write_package
    from deepracer.train.live import LiveView
    from deepracer.train.logs import TrainingLog, write_json_atomic
    from deepracer.train.networks import NETWORK_NAMES
    from deepracer.train.validate import validate_reward

    hp, reward, metadata = load_inputs(cfg)
    validate_reward(reward, cfg.track, race=cfg.race)  # fail before any training, like the console's Validate
    out = cfg.out
    checkpoints = out / "checkpoints"
    if cfg.resume and not (checkpoints / "latest.zip").is_file():
        raise ConfigError("--resume: no checkpoints/latest.zip to continue from", out)
    if not cfg.resume and (checkpoints / "latest.zip").is_file():
        raise ConfigError("holds a previous training; use --resume to continue it or choose another --out", out)
    for sub in ("model", "ip", "checkpoints"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    if reward.path != (out / "reward_function.py").resolve():
        shutil.copyfile(reward.path, out / "reward_function.py")
    hp.write(out / "ip" / "hyperparameters.json")
    if not (out / "model" / "model.onnx").is_file():
        replace(metadata, input=input_spec(hp.stack_size), neural_network=NETWORK_NAMES[cfg.network],
                training_algorithm="sac" if cfg.algorithm == "sac" else "clipped_ppo",
                ).write(out / "model" / "model_metadata.json")

    torch.set_num_threads(max(1, (os.cpu_count() or 1)))
    n_envs = cfg.envs or (os.cpu_count() or 1)
    venv = make_vec_env(cfg, metadata, reward, hp.stack_size, n_envs)
    if cfg.resume:
        model = load_model(checkpoints / "latest.zip", venv)
    else:
        model = build_model(cfg, hp, venv, metadata)
        if cfg.pretrained:
            _load_weights(model, cfg.pretrained)
    state_path = out / "checkpoints" / "state.json"
    best = _load_state(state_path)
    eval_envs = [(make(), trials) for make, trials in eval_factories(cfg, metadata, reward, cfg.max_steps * 3)]
    log = TrainingLog(out, hp.num_episodes_between_training, n_envs, resume=cfg.resume)
    t_start = time.time()
    start_steps = model.num_timesteps
    budget_steps = cfg.steps if cfg.steps else 10**10
    deadline = t_start + cfg.minutes * 60 if cfg.minutes else None
    network_name = NETWORK_NAMES[cfg.network]

    def predict(obs: np.ndarray) -> Any:
        action, _ = model.predict(obs, deterministic=True)
        return action

    def evaluate_and_keep_best(label: str) -> dict[str, Any]:
        results = [r for env, trials in eval_envs for r in run_episodes(env, predict, trials, hp.stack_size)]
        s = score(results)
        if best.get("score") is None or list(s) > list(best["score"]):
            best.update(score=list(s), progress=s[0], lap_time_s=-s[1] if s[1] > -1e9 else None, label=label,
                        steps=int(model.num_timesteps))
            model.save(checkpoints / "best.zip")
            write_package(model, metadata, out / "model", hp.stack_size, network_name)
        laps = [r for r in results if r["status"] == "lap_complete"]
        if laps and best.get("first_lap_wall_s") is None:
            best["first_lap_wall_s"] = round(best.get("wall_before_s", 0.0) + time.time() - t_start, 1)
            best["first_lap_steps"] = int(model.num_timesteps)
        write_json_atomic(state_path, best)
        return {"results": results, "laps": len(laps)}

    bar = tqdm(total=cfg.steps, disable=not cfg.progress_bar, unit="step", dynamic_ncols=True,
               desc="training", initial=0)
    stopped = {"why": "budget"}
    live = LiveView(out, track_list(cfg.track)[0])  # frames only while the console watches

    class Callback(BaseCallback):
        def _on_step(self) -> bool:
            infos, rewards, dones = self.locals["infos"], self.locals["rewards"], self.locals["dones"]
            actions = self.locals.get("actions", self.locals.get("clipped_actions"))
            for i, info in enumerate(infos):
                if "reward_error" in info:
                    raise RewardFunctionError(info["reward_error"])
                log.step(i, info, float(rewards[i]), bool(dones[i]), None if actions is None else actions[i])
            live.step(self.locals.get("new_obs"), infos)
            bar.update(len(infos))
            for iteration in log.take_completed():
                ev = evaluate_and_keep_best(f"iteration {iteration.iteration}")
                log.evaluation(iteration, ev["results"])
                row = log.finish_iteration(iteration)
                bar.set_postfix(iter=row["iteration"], reward=f"{row['mean_reward']:.1f}",
                                progress=f"{row['mean_progress']:.0f}%",
                                eval=f"{row['evaluation']['mean_progress']:.0f}%", laps=log.total_laps,
                                eval_laps=row["evaluation"]["laps"])
                if cfg.stop_on_lap and ev["laps"]:
                    stopped["why"] = "first evaluation lap"
                    return False
                if row["mean_reward"] >= hp.term_cond_avg_score:
                    stopped["why"] = "term_cond_avg_score reached"
                    return False
                if (iteration.iteration + 1) * hp.num_episodes_between_training >= hp.term_cond_max_episodes:
                    stopped["why"] = "term_cond_max_episodes reached"
                    return False
            if deadline and time.time() > deadline:
                stopped["why"] = "time budget"
                return False
            return model.num_timesteps - start_steps < budget_steps

    interrupted = False
    previous_term = _stop_on_sigterm()
    try:
        model.learn(total_timesteps=min(budget_steps, 10**9), callback=Callback(),
                    reset_num_timesteps=not cfg.resume, progress_bar=False)
    except KeyboardInterrupt:
        interrupted, stopped["why"] = True, "interrupted"
    except RewardFunctionError:
        stopped["why"] = "reward function error"
        raise
    finally:
        if previous_term is not None:
            signal.signal(signal.SIGTERM, previous_term)
        bar.close()
        wall = time.time() - t_start
        best["wall_before_s"] = round(best.get("wall_before_s", 0.0) + wall, 1)
        try:
            model.save(checkpoints / "latest.zip")
            if interrupted and not (out / "model" / "model.onnx").is_file():
                # stopped before the first evaluation: the package holds the policy as it is
                write_package(model, metadata, out / "model", hp.stack_size, network_name)
        finally:
            write_json_atomic(state_path, best)
            log.close()
            venv.close()
            for env, _ in eval_envs:
                env.close()
    steps = model.num_timesteps - start_steps
    return TrainResult(
        out=out, steps=int(model.num_timesteps), wall_s=round(wall, 1), iterations=len(log.iterations),
        best_progress=float(best.get("progress") or 0.0), best_lap_time_s=best.get("lap_time_s"),
        first_lap_wall_s=best.get("first_lap_wall_s"), first_lap_steps=best.get("first_lap_steps"),
        interrupted=interrupted, stopped_because=stopped["why"], steps_per_s=round(steps / max(wall, 1e-6), 1),
    )


def _stop_on_sigterm() -> Any:
    """SIGTERM (systemd, docker stop, kill) stops training like Ctrl-C: save, then exit."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, handler)


def _load_weights(model: Any, checkpoint: Path) -> None:
    """The policy's weights from another run's checkpoint; same network and action space needed."""
    if not Path(checkpoint).is_file():
        raise ConfigError("--pretrained: checkpoint not found", checkpoint)
    try:
        model.set_parameters(str(checkpoint), exact_match=True, device="cpu")
    except (ValueError, RuntimeError, KeyError) as err:
        raise ConfigError(f"--pretrained: the checkpoint does not fit this network and action space ({err})",
                          checkpoint) from err


def _load_state(path: Path) -> dict[str, Any]:
    import json

    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    return {}

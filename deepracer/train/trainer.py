"""`deepracer train`: PPO (discrete or continuous) or SAC (continuous) on the simulator's camera.

One run = one output folder in DeepRacer-for-Cloud's layout (see `deepracer.train.logs`).
After every iteration (num_episodes_between_training episodes) the deterministic policy drives
from the start line; the best model by evaluation progress, then lap time, is exported to
OUT/model as a model package. Ctrl-C stops cleanly: the latest checkpoint is saved and the best
model stays; `--resume` continues from the latest checkpoint.

checkpoints/latest.zip is also written when training starts and after every iteration, always
atomically (a new file renamed over the old), so a run that is killed outright (SIGKILL, power,
the console's sandbox dying with it) resumes from its last iteration instead of being lost.
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
from deepracer.train.network_names import (
    DEFAULT_ENVS_PER_CORE,
    DEFAULT_NETWORK,
    MAX_DEFAULT_ROLLOUT_WORKERS,
    ROLLOUT_ENVS_PER_WORKER,
)
from deepracer.train.reward import DEFAULT_TIMEOUT_S, RewardFunction, default_reward_path

# Tuned for learning speed: few choices, every one of them drivable on the built-in tracks.
DEFAULT_ACTIONS = [Action(-30.0, 0.8), Action(-15.0, 1.0), Action(0.0, 1.2), Action(15.0, 1.0), Action(30.0, 0.8)]
DEFAULT_MAX_STEPS = 2000  # per training episode: a lap at the slowest speed fits with room to spare
LATEST = "latest.zip"  # checkpoints/LATEST: what --resume (and the console after a restart) continues from


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
    envs: int = 0  # 0: as training_layout chooses
    workers: int = 0  # processes the envs step in besides the trainer's (0: all in the trainer's; vec_env.py)
    # processes that collect whole rollouts with their own policy copy (rollout_workers.py); None: training_layout's
    rollout_workers: int | None = None
    overlap_rollouts: bool = False  # the workers collect the next rollout while the trainer updates (rollout_workers.py)
    seed: int = 0
    resume: bool = False
    pretrained: Path | None = None  # start from this checkpoint's weights (a clone), with this run's settings
    network: str = DEFAULT_NETWORK
    eval_trials: int = 1
    stop_on_lap: bool = False  # stop at the first evaluation lap (the bench)
    max_steps: int = DEFAULT_MAX_STEPS
    progress_bar: bool = True
    extra_hyperparameters: dict[str, Any] = field(default_factory=dict)
    race: Any = None  # deepracer.sim.objects.RaceConfig: object avoidance / head-to-bot (None: time trial)
    sensor: list[str] | None = None  # DeepRacer's sensor list (--sensor); None: the metadata's `sensor`
    reward_timeout_s: float | None = DEFAULT_TIMEOUT_S  # per reward call (None: no limit)
    camera_profile: str | None = None  # built-in name or file (--camera-profile); None: the metadata's, else `car`
    floor_like_road: float = 0.0  # training episodes whose floor is the road's colour (Randomization.floor_like_road)
    # throughput knobs (docs/training.md "Throughput"); none changes what is learned
    rollout_threads: int = 1  # torch threads for the per-step inference (0: one per core, as before)
    check_distributions: bool = False  # torch's argument checks on every action distribution (as before)
    pool_rollouts: bool = True  # the small networks' first pool once per rollout, not per minibatch
    fused_adam: bool = True  # Adam as one fused kernel (False: torch's per-tensor loop)
    opencv_pool: bool = True  # the small networks' pool on OpenCV's area resize (False: torch's AvgPool2d)


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
    phase_s: dict[str, float] = field(default_factory=dict)  # rollout, update, evaluation wall seconds
    envs: int = 0
    rollout_workers: int = 0  # the processes that collected (0: the trainer)


def default_metadata() -> ModelMetadata:
    return ModelMetadata(action_space_type="discrete", actions=list(DEFAULT_ACTIONS))


def load_inputs(cfg: TrainConfig) -> tuple[HyperParameters, RewardFunction, ModelMetadata]:
    hp = HyperParameters.from_file(cfg.hyperparameters)
    for key, value in cfg.extra_hyperparameters.items():
        setattr(hp, key, value)
    hp.validate(cfg.hyperparameters)
    reward = RewardFunction(cfg.reward or default_reward_path(), cfg.reward_timeout_s)
    metadata = ModelMetadata.from_file(cfg.action_space) if cfg.action_space else default_metadata()
    from deepracer.model.sensors import Sensor, camera_sensor, lidar_sensor, parse_sensors

    if cfg.sensor:
        metadata = replace(metadata, sensor=list(cfg.sensor))
    if cfg.camera_profile:  # the envs render through it, the package records it
        from deepracer.camera_profile import resolve_profile

        metadata = replace(metadata, camera_profile=resolve_profile(cfg.camera_profile))
    sensors = parse_sensors(metadata.sensor, cfg.action_space)  # DeepRacer's rule, unknown names named
    if (camera_sensor(sensors) is Sensor.STEREO_CAMERAS or lidar_sensor(sensors) is not None) and hp.stack_size > 1:
        raise ConfigError(f"stack_size {hp.stack_size}: frame stacking is for front-camera models; a "
                          f"{'+'.join(metadata.sensor)} model takes one observation (stack_size 1)",
                          cfg.hyperparameters)
    if cfg.algorithm not in ("ppo", "sac"):
        raise ConfigError(f"--algorithm must be ppo or sac, not {cfg.algorithm!r}")
    if not 0.0 <= cfg.floor_like_road <= 1.0:  # also refuses NaN
        raise ConfigError(f"--floor-like-road is a share of episodes, 0 to 1, not {cfg.floor_like_road}")
    if cfg.rollout_workers is not None and cfg.rollout_workers < 0:
        raise ConfigError(f"--rollout-workers must be 0 or more, not {cfg.rollout_workers}")
    if cfg.rollout_workers:
        if cfg.algorithm != "ppo":
            raise ConfigError("--rollout-workers collects PPO rollouts; SAC steps its environments in the trainer")
        if lidar_sensor(sensors) is not None:
            raise ConfigError("--rollout-workers is for camera models; a LiDAR model's rollouts are collected "
                              "in the trainer (--workers N steps its environments in N processes)", cfg.action_space)
        if cfg.workers > 0:
            raise ConfigError("--workers and --rollout-workers are two ways to use the cores; give one")
    elif cfg.overlap_rollouts and not training_layout(cfg, metadata).rollout_workers:
        raise ConfigError("--overlap-rollouts needs --rollout-workers N: the workers collect while the trainer updates")
    if cfg.algorithm == "sac" and metadata.action_space_type != "continuous":
        raise ConfigError("SAC needs a continuous action space (action_space_type continuous)", cfg.action_space)
    if hp.e_greedy:
        warnings.warn("exploration_type e-greedy: PPO/SAC explore by sampling their policy; "
                      "e_greedy_value and epsilon_steps are not used", stacklevel=2)
    return hp, reward, metadata


class _EnvFactory:
    """Picklable environment constructor for the training workers (vec_env.GroupedVecEnv)."""

    def __init__(self, track: str | None, metadata: dict[str, Any], reward: RewardFunction | None,
                 seed: int, randomize: bool, start: str | int, max_steps: int, race: Any = None,
                 floor_like_road: float = 0.0) -> None:
        self.track, self.metadata, self.reward = track, metadata, reward
        self.seed, self.randomize, self.start, self.max_steps = seed, randomize, start, max_steps
        self.race = race  # RaceConfig or None
        self.floor_like_road = floor_like_road

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
        if self.reward is not None:  # its own module globals, whichever process the env runs in
            kwargs["reward_function"] = self.reward.fresh()
        if self.race is not None or self.floor_like_road > 0.0:
            from deepracer.sim import SimConfig

            sim = SimConfig(**self.race.sim_fields()) if self.race is not None else SimConfig()
            if self.floor_like_road > 0.0:
                sim = replace(sim, randomization=replace(sim.randomization, floor_like_road=self.floor_like_road))
            kwargs["sim_config"] = sim
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
            sample = self.env.observation_space.sample()
            obs = {k: v * 0 for k, v in sample.items()} if isinstance(sample, dict) else sample * 0
            return obs, 0.0, True, False, {"reward_error": str(err)}


@dataclass(frozen=True)
class Layout:
    """How a run spreads over the cores: its environments and the processes that collect."""

    envs: int
    rollout_workers: int  # 0: the trainer's process collects (the environments step there, or in --workers)


def training_layout(cfg: TrainConfig, metadata: ModelMetadata | None = None) -> Layout:
    """--envs and --rollout-workers as given, else: on 2+ cores, a PPO camera model collects in one
    rollout worker per core (at most MAX_DEFAULT_ROLLOUT_WORKERS) with ROLLOUT_ENVS_PER_WORKER
    environments each (docs/training.md, Throughput: the fastest layout measured); otherwise, and
    whenever fewer than 2 workers of 4 environments would result, the trainer collects,
    DEFAULT_ENVS_PER_CORE environments per core."""
    from deepracer.model.sensors import lidar_sensor, parse_sensors

    cores = os.cpu_count() or 1
    camera = metadata is None or lidar_sensor(parse_sensors(metadata.sensor, cfg.action_space)) is None
    auto = cfg.rollout_workers is None and cfg.workers == 0 and cfg.algorithm == "ppo" and camera and cores >= 2
    slots = min(cores, MAX_DEFAULT_ROLLOUT_WORKERS)
    envs = cfg.envs or (ROLLOUT_ENVS_PER_WORKER * slots if auto else DEFAULT_ENVS_PER_CORE * cores)
    if cfg.rollout_workers is not None:
        return Layout(envs, cfg.rollout_workers)
    workers = min(slots, envs // ROLLOUT_ENVS_PER_WORKER) if auto else 0
    return Layout(envs, workers if workers >= 2 else 0)


def make_vec_env(cfg: TrainConfig, metadata: ModelMetadata, reward: RewardFunction, stack: int, layout: Layout):
    from stable_baselines3.common.vec_env import DummyVecEnv, VecFrameStack

    from deepracer.train.vec_env import GroupedVecEnv

    # every environment rotates through all the tracks, each starting at a different one
    tracks = track_list(cfg.track)
    factories = [
        _EnvFactory(",".join(str(t) for t in tracks[i % len(tracks):] + tracks[:i % len(tracks)]) if tracks[0] else None,
                    metadata.to_dict(), reward, cfg.seed * 1000 + i, True, "rotate", cfg.max_steps, cfg.race,
                    cfg.floor_like_road)
        for i in range(layout.envs)
    ]
    # PPO camera models collect in rollout workers by default (training_layout). Otherwise the
    # environments step in the trainer's process: on 2 cores a process hop per step costs more
    # than stepping simulators in parallel gains (docs/training.md, Throughput); --workers N spreads them
    if layout.rollout_workers > 0:  # frames stacked in the workers, which collect whole rollouts
        from deepracer.train.rollout_workers import RolloutWorkers

        return RolloutWorkers(factories, workers=layout.rollout_workers, stack=stack, seed=cfg.seed,
                              overlap=cfg.overlap_rollouts)
    if cfg.workers > 0 and layout.envs > 1:
        venv = GroupedVecEnv(factories, workers=cfg.workers)
    else:
        venv = DummyVecEnv(factories)
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

    lidar = isinstance(venv.observation_space, gym.spaces.Dict)  # camera + LiDAR (DeepRacerEnv's Dict)
    common = dict(learning_rate=hp.lr, batch_size=hp.batch_size, gamma=hp.discount_factor,
                  policy_kwargs=policy_kwargs(cfg.network, lidar=lidar, fused_adam=cfg.fused_adam), seed=cfg.seed,
                  verbose=0, device="cpu")
    policy = "MultiInputPolicy" if lidar else "CnnPolicy"
    if cfg.algorithm == "sac":
        return DeepRacerSAC(
            policy, venv, ent_coef=hp.sac_alpha, buffer_size=hp.buffer_size, gradient_steps=hp.num_epochs,
            train_freq=1, learning_starts=min(1000, hp.buffer_size), **common,
        )
    n_steps = max(hp.rollout_steps // venv.num_envs, 8)
    model = DeepRacerPPO(
        policy, venv, n_steps=n_steps, n_epochs=hp.num_epochs, ent_coef=hp.beta_entropy,
        gae_lambda=0.95, clip_range=0.2, **common,
    )
    model.huber = hp.huber
    return model


def _prepare_out(cfg: TrainConfig, hp: HyperParameters, reward: RewardFunction, metadata: ModelMetadata) -> None:
    """Step 1: the output folder (DeepRacer-for-Cloud's layout), refusing to mix two trainings."""
    from deepracer.train.export import model_inputs
    from deepracer.train.networks import NETWORK_NAMES

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
        camera, lidar = model_inputs(metadata, hp.stack_size, cfg.algorithm == "sac")
        replace(metadata, input=camera, lidar=lidar, neural_network=NETWORK_NAMES[cfg.network],
                training_algorithm="sac" if cfg.algorithm == "sac" else "clipped_ppo",
                ).write(out / "model" / "model_metadata.json")


def _start_model(cfg: TrainConfig, hp: HyperParameters, venv: Any, metadata: ModelMetadata) -> Any:
    """Step 2: the model: continued from checkpoints/latest.zip, or new (optionally with pretrained weights)."""
    from deepracer.train.algorithms import load_model

    if cfg.resume:
        model = load_model(cfg.out / "checkpoints" / LATEST, venv)
    else:
        model = build_model(cfg, hp, venv, metadata)
        if cfg.pretrained:
            _load_weights(model, cfg.pretrained)
    model.rollout_threads, model.check_distributions = cfg.rollout_threads, cfg.check_distributions
    model.pool_rollouts = cfg.pool_rollouts
    from deepracer.train.networks import CameraCNN

    for module in model.policy.modules():
        if isinstance(module, CameraCNN):
            module.opencv_pool = cfg.opencv_pool
    return model


@dataclass
class _Run:
    """The state of one training while it learns (step 3): budgets, the best model so far, logs."""

    cfg: TrainConfig
    hp: HyperParameters
    metadata: ModelMetadata
    model: Any
    venv: Any
    log: Any  # TrainingLog
    eval_envs: list[tuple[Any, int]]
    best: dict[str, Any]
    t_start: float = field(default_factory=time.time)
    start_steps: int = 0
    stopped: str = "budget"
    interrupted: bool = False
    wall: float = 0.0
    live: Any = None  # deepracer.train.live.LiveView: frames for the console, evaluation runs included
    wall_base: float = 0.0  # training seconds of the runs before this one (resumed), from state.json
    evaluation_s: float = 0.0  # of this run's wall time: evaluations, logs and checkpoints between iterations
    evaluation_cpu_s: float = 0.0  # the same, CPU seconds of this process
    layout: Layout = Layout(1, 0)

    @property
    def checkpoints(self) -> Path:
        return self.cfg.out / "checkpoints"

    @property
    def state_path(self) -> Path:
        return self.checkpoints / "state.json"

    @property
    def budget_steps(self) -> int:
        return self.cfg.steps if self.cfg.steps else 10**10

    @property
    def deadline(self) -> float | None:
        return self.t_start + self.cfg.minutes * 60 if self.cfg.minutes else None

    @property
    def network_name(self) -> str:
        from deepracer.train.networks import NETWORK_NAMES

        return NETWORK_NAMES[self.cfg.network]

    def predict(self, obs: np.ndarray) -> Any:
        action, _ = self.model.predict(obs, deterministic=True)
        return action

    def save_checkpoint(self) -> None:
        """checkpoints/latest.zip and state.json as of now, each replaced atomically."""
        from deepracer.train.logs import write_json_atomic

        partial = self.checkpoints / "latest.saving.zip"  # SB3 insists on a .zip suffix
        self.model.save(partial)
        os.replace(partial, self.checkpoints / LATEST)
        self.best["wall_before_s"] = round(self.wall_base + time.time() - self.t_start, 1)
        write_json_atomic(self.state_path, self.best)

    def export(self) -> None:
        from deepracer.train.export import write_package

        write_package(self.model, self.metadata, self.cfg.out / "model", self.hp.stack_size, self.network_name)

    def evaluate_and_keep_best(self, label: str) -> dict[str, Any]:
        """Evaluate; a better score than the best so far becomes best.zip and the model package."""
        from deepracer.train.evaluate import run_episodes, score
        from deepracer.train.logs import write_json_atomic

        best = self.best
        on_step = (lambda obs, info: self.live.step(_camera(obs)[None], [info])) if self.live is not None else None
        results = [r for env, trials in self.eval_envs
                   for r in run_episodes(env, self.predict, trials, self.hp.stack_size, on_step=on_step)]
        s = score(results)
        if best.get("score") is None or list(s) > list(best["score"]):
            best.update(score=list(s), progress=s[0], lap_time_s=-s[1] if s[1] > -1e9 else None, label=label,
                        steps=int(self.model.num_timesteps))
            self.model.save(self.checkpoints / "best.zip")
            self.export()
        laps = [r for r in results if r["status"] == "lap_complete"]
        if laps and best.get("first_lap_wall_s") is None:
            best["first_lap_wall_s"] = round(self.wall_base + time.time() - self.t_start, 1)
            best["first_lap_steps"] = int(self.model.num_timesteps)
        write_json_atomic(self.state_path, best)
        return {"results": results, "laps": len(laps)}

    def finish_iteration(self, iteration: Any, bar: Any) -> bool:
        """An iteration's episodes are in: evaluate, log; False when a stop condition is met."""
        t, cpu = time.perf_counter(), time.process_time()
        ev = self.evaluate_and_keep_best(f"iteration {iteration.iteration}")
        self.log.evaluation(iteration, ev["results"])
        row = self.log.finish_iteration(iteration)
        self.save_checkpoint()  # a kill from here on loses at most the next iteration
        self.evaluation_s += time.perf_counter() - t
        self.evaluation_cpu_s += time.process_time() - cpu
        bar.set_postfix(iter=row["iteration"], reward=f"{row['mean_reward']:.1f}",
                        progress=f"{row['mean_progress']:.0f}%",
                        eval=f"{row['evaluation']['mean_progress']:.0f}%", laps=self.log.total_laps,
                        eval_laps=row["evaluation"]["laps"])
        if self.cfg.stop_on_lap and ev["laps"]:
            self.stopped = "first evaluation lap"
            return False
        if row["mean_reward"] >= self.hp.term_cond_avg_score:
            self.stopped = "term_cond_avg_score reached"
            return False
        if (iteration.iteration + 1) * self.hp.num_episodes_between_training >= self.hp.term_cond_max_episodes:
            self.stopped = "term_cond_max_episodes reached"
            return False
        return True

    def within_budget(self) -> bool:
        deadline = self.deadline
        if deadline and time.time() > deadline:
            self.stopped = "time budget"
            return False
        return self.model.num_timesteps - self.start_steps < self.budget_steps

    def close(self) -> None:
        """Step 4, whatever happened: latest.zip, the state, the logs; a package even if stopped early."""
        from deepracer.train.logs import write_json_atomic

        self.wall = time.time() - self.t_start
        # A second Ctrl-C (or a stop that reaches the whole process group twice) must not cut the
        # checkpoint save short; the env workers ignore SIGINT (_EnvFactory) and are closed below.
        previous_int = _ignore_sigint()
        try:
            self.save_checkpoint()
            if not (self.cfg.out / "model" / "model.onnx").is_file():
                # stopped (Ctrl-C, or the budget) before the first evaluation: the package holds the policy as it is
                self.export()
        finally:
            self.best["wall_before_s"] = round(self.wall_base + self.wall, 1)
            write_json_atomic(self.state_path, self.best)
            self.log.close()
            if previous_int is not None:
                signal.signal(signal.SIGINT, previous_int)
            self.venv.close()
            for env, _ in self.eval_envs:
                env.close()

    def result(self) -> TrainResult:
        steps = self.model.num_timesteps - self.start_steps
        best = self.best
        return TrainResult(
            out=self.cfg.out, steps=int(self.model.num_timesteps), wall_s=round(self.wall, 1),
            iterations=len(self.log.iterations), best_progress=float(best.get("progress") or 0.0),
            best_lap_time_s=best.get("lap_time_s"), first_lap_wall_s=best.get("first_lap_wall_s"),
            first_lap_steps=best.get("first_lap_steps"), interrupted=self.interrupted,
            stopped_because=self.stopped, steps_per_s=round(steps / max(self.wall, 1e-6), 1),
            phase_s=self.phases(), envs=self.layout.envs, rollout_workers=self.layout.rollout_workers,
        )

    def phases(self) -> dict[str, float]:
        """Where the wall time went: the evaluations run inside the rollout (from the step callback)."""
        phases = dict(getattr(self.model, "phase_s", {}))
        return {"rollout": round(phases.get("rollout", 0.0) - self.evaluation_s, 2),
                "update": round(phases.get("update", 0.0), 2), "evaluation": round(self.evaluation_s, 2),
                "rollout_cpu": round(phases.get("rollout_cpu", 0.0) - self.evaluation_cpu_s, 2),
                "update_cpu": round(phases.get("update_cpu", 0.0), 2),
                # the rollout workers' own CPU seconds (--rollout-workers), beside the trainer's
                "rollout_workers_cpu": round(phases.get("rollout_workers_cpu", 0.0), 2)}


def train(cfg: TrainConfig) -> TrainResult:
    """Run one training; see the module docstring. Raises DeepRacerError on bad input.

    Steps: inputs and the output folder, the model and environments, learning (a _Run holds the
    state; a callback logs each step and evaluates each iteration), saving whatever happened."""
    import torch
    from stable_baselines3.common.callbacks import BaseCallback
    from tqdm import tqdm

    from deepracer.train.live import LiveView
    from deepracer.train.logs import TrainingLog
    from deepracer.train.validate import validate_reward

    hp, reward, metadata = load_inputs(cfg)
    validate_reward(reward, cfg.track, race=cfg.race)  # fail before any training, like the console's Validate
    _prepare_out(cfg, hp, reward, metadata)

    torch.set_num_threads(max(1, (os.cpu_count() or 1)))
    layout = training_layout(cfg, metadata)
    n_envs = layout.envs
    venv = make_vec_env(cfg, metadata, reward, hp.stack_size, layout)
    model = _start_model(cfg, hp, venv, metadata)
    run = _Run(cfg=cfg, hp=hp, metadata=metadata, model=model, venv=venv, layout=layout,
               best=_load_state(cfg.out / "checkpoints" / "state.json"),
               eval_envs=[(make(), trials) for make, trials in eval_factories(cfg, metadata, reward, cfg.max_steps * 3)],
               log=TrainingLog(cfg.out, hp.num_episodes_between_training, n_envs, resume=cfg.resume,
                               objects=cfg.race is not None and str(cfg.race.race_type) != "time_trial"))
    run.start_steps = model.num_timesteps
    run.wall_base = float(run.best.get("wall_before_s", 0.0))
    run.save_checkpoint()  # resumable from the start: a kill before the first iteration loses no run
    bar = tqdm(total=cfg.steps, disable=not cfg.progress_bar, unit="step", dynamic_ncols=True,
               desc="training", initial=0)
    live = run.live = LiveView(cfg.out, track_list(cfg.track)[0])  # frames only while the console watches
    model.wants_frames = live.watched

    class Callback(BaseCallback):
        def _on_step(self) -> bool:
            infos, rewards, dones = self.locals["infos"], self.locals["rewards"], self.locals["dones"]
            actions = self.locals.get("actions", self.locals.get("clipped_actions"))
            for i, info in enumerate(infos):
                if "reward_error" in info:
                    raise RewardFunctionError(info["reward_error"])
                run.log.step(i, info, float(rewards[i]), bool(dones[i]), None if actions is None else actions[i])
            live.step(_camera(self.locals.get("new_obs")), infos)
            bar.update(len(infos))
            for iteration in run.log.take_completed():
                if not run.finish_iteration(iteration, bar):
                    return False
            return run.within_budget()

    previous_term = _stop_on_sigterm()
    try:
        model.learn(total_timesteps=min(run.budget_steps, 10**9), callback=Callback(),
                    reset_num_timesteps=not cfg.resume, progress_bar=False)
    except KeyboardInterrupt:
        run.interrupted, run.stopped = True, "interrupted"
    except RewardFunctionError:
        run.stopped = "reward function error"
        raise
    finally:
        if previous_term is not None:
            signal.signal(signal.SIGTERM, previous_term)
        bar.close()
        run.close()
    return run.result()


def _camera(observation: Any) -> Any:
    """The camera part of an observation (camera + LiDAR models observe a dict)."""
    return observation.get("camera") if isinstance(observation, dict) else observation


def _ignore_sigint() -> Any:
    """Ignore SIGINT while the trainer saves (main thread only); returns the handler to put back."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGINT, signal.SIG_IGN)


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
        hint = ("; a checkpoint of the first small network (before 2026-12) needs --network small-v1"
                if "cnn.1.weight" in str(err) else "")
        raise ConfigError(f"--pretrained: the checkpoint does not fit this network and action space ({err}){hint}",
                          checkpoint) from err


def _load_state(path: Path) -> dict[str, Any]:
    import json

    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    return {}

"""PPO rollouts collected in worker processes, each with its own copy of the policy.

With the policy in the trainer (SB3's way, `vec_env.GroupedVecEnv` included) every step of every
environment costs a forward pass in the trainer and, across processes, a message each way; on 2
cores the hop cost more than parallel simulators gained, so the environments stepped in the
trainer's process. Here each worker gets the policy's weights once per rollout, steps its share
of the environments and its policy for the whole rollout on its own core, and hands back the
rollout at once: observations through shared memory (a rollout of camera frames is tens of MB,
which a pipe moves in some 150 ms), the rest (actions, rewards, values, log-probabilities,
infos) through the worker's pipe.

What is learned is PPO as SB3 collects it: the same buffer contents (values, log-probabilities
and the time-limit bootstrap of the policy that acted), the same callback calls in step order
(the trainer's logs, budgets and evaluations see every step as before; the evaluations between
iterations run in the trainer with the policy that collected the rollout, as in SB3). Actions
are sampled from each worker's own torch generator (seeded from the run's seed), so a run is
reproducible but not the same sample path as the in-process trainer's.

The small networks' first layer is a 2x2 average pool (networks.pool_frames): a worker pools
each step's frames once, runs the rest of the network on them and stores them pooled, so the
rollout crosses the process boundary at a quarter of the pixels (as float32) and is never pooled
again by the update.

Camera models with PPO only (a LiDAR model's dict observations and SAC's replay buffer are
collected by SB3, in the trainer).
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from multiprocessing import shared_memory
from typing import Any

import gymnasium as gym
import numpy as np

from deepracer.train.vec_env import GroupedVecEnv

SEED_OFFSET = 104729  # worker w samples actions from torch's generator seeded seed * SEED_OFFSET + w


@dataclass
class CollectRequest:
    """The trainer -> one worker: collect n_steps for its environments lo:hi."""

    n_steps: int
    gamma: float
    weights: dict[str, np.ndarray]  # the policy's state_dict as numpy arrays
    policy: bytes | None  # the cloudpickled policy, with the first request only
    seed: int
    pool: bool  # store (and run the network on) frames pooled by pool_frames
    frames: bool  # also return the newest camera frame of the first environment per step (the live view)
    shm_name: str  # the rollout's observations (n_steps, n_envs, *obs): this worker fills [:, lo:hi]
    shape: tuple[int, ...]
    dtype: str
    lo: int
    hi: int


@dataclass
class RolloutPart:
    """One worker -> the trainer: its environments' share of a rollout (all but the observations)."""

    actions: np.ndarray  # (n_steps, n, *action_shape) as sampled by the policy
    rewards: np.ndarray  # (n_steps, n) float32, as the environments returned them (what the logs see)
    bootstrap: np.ndarray  # (n_steps, n) float32: gamma * V(terminal observation) at time-limit ends
    dones: np.ndarray  # (n_steps, n) bool
    episode_starts: np.ndarray  # (n_steps, n) float32
    values: np.ndarray  # (n_steps, n) float32
    log_probs: np.ndarray  # (n_steps, n) float32
    infos: list[list[dict[str, Any]]]  # per step, per environment; without terminal_observation
    last_values: np.ndarray  # (n,) float32: V of the observation after the last step
    frames: np.ndarray | None  # (n_steps, H, W) uint8 or None
    cpu_s: float  # the worker's CPU seconds for this rollout
    error: str | None = None  # a traceback: the worker failed (the trainer raises it)

    @classmethod
    def failed(cls, error: str, cpu_s: float) -> RolloutPart:
        empty = np.zeros(0)
        return cls(actions=empty, rewards=empty, bootstrap=empty, dones=empty, episode_starts=empty, values=empty,
                   log_probs=empty, infos=[], last_values=empty, frames=None, cpu_s=cpu_s, error=error)


class RolloutWorkerError(RuntimeError):
    """A worker failed while collecting; the message holds its traceback."""


def _newest_frame(obs: np.ndarray) -> np.ndarray:
    """The first environment's newest camera frame from (n, C, H, W) stacked observations."""
    return np.ascontiguousarray(obs[0, -1])


def _attach(name: str) -> shared_memory.SharedMemory:
    """The trainer's segment, which the trainer alone unlinks. Attaching registers it with the
    resource tracker the worker shares with the trainer (RolloutWorkers starts it before forking),
    where it is registered already: were it the worker's own tracker, that would unlink it when
    the worker exits."""
    import sys

    if sys.version_info >= (3, 13):
        return shared_memory.SharedMemory(name=name, track=False)  # type: ignore[call-arg]
    return shared_memory.SharedMemory(name=name)


class _Collector:
    """The worker's side: its environments (frames stacked and transposed in the worker), its
    copy of the policy and the observation the next rollout starts from."""

    def __init__(self, venv: Any) -> None:
        self.venv = venv
        self.policy: Any = None
        self.obs: np.ndarray | None = None
        self.starts: np.ndarray | None = None
        self.shms: dict[str, shared_memory.SharedMemory] = {}  # the trainer's segments, by name

    def observed(self, obs: np.ndarray, dones: np.ndarray) -> None:
        self.obs, self.starts = obs, np.asarray(dones, dtype=bool)

    def collect(self, req: CollectRequest) -> RolloutPart:
        cpu = time.process_time()
        try:
            return self._collect(req, cpu)
        except Exception:  # the trainer raises it with this traceback; the worker stays up to be closed
            return RolloutPart.failed(traceback.format_exc(), time.process_time() - cpu)

    def _attach(self, name: str) -> shared_memory.SharedMemory:
        if name not in self.shms:
            if len(self.shms) >= 2:  # the trainer replaced a segment (a larger rollout): drop the old ones
                for shm in self.shms.values():
                    shm.close()
                self.shms.clear()
            self.shms[name] = _attach(name)
        return self.shms[name]

    def _collect(self, req: CollectRequest, cpu: float) -> RolloutPart:
        import cloudpickle
        import torch

        from deepracer.train.networks import pool_frames

        if req.policy is not None:
            torch.set_num_threads(1)  # one core per worker
            torch.manual_seed(req.seed)
            self.policy = cloudpickle.loads(req.policy)
            self.policy.set_training_mode(False)
        policy = self.policy
        policy.load_state_dict({k: torch.from_numpy(v) for k, v in req.weights.items()})
        if self.obs is None or self.starts is None:
            raise RuntimeError("collect before reset")
        shm = self._attach(req.shm_name)
        mine = np.ndarray(req.shape, np.dtype(req.dtype), buffer=shm.buf)[:, req.lo:req.hi]
        n, steps = req.hi - req.lo, req.n_steps
        box = isinstance(policy.action_space, gym.spaces.Box)
        actions = np.empty((steps, n, *policy.action_space.shape), np.float32 if box else np.int64)
        rewards, bootstrap, values, log_probs, starts = (np.zeros((steps, n), np.float32) for _ in range(5))
        dones = np.zeros((steps, n), bool)
        frames = np.empty((steps, *self.obs.shape[-2:]), np.uint8) if req.frames else None
        infos: list[list[dict[str, Any]]] = []
        prepare = pool_frames if req.pool else (lambda x: x)
        obs = prepare(self.obs)
        with torch.no_grad():
            for t in range(steps):
                mine[t] = obs
                act, value, log_prob = policy(torch.from_numpy(np.asarray(obs)))
                a = act.numpy()
                clipped = np.clip(a, policy.action_space.low, policy.action_space.high) if box else a
                raw_obs, reward, done, info = self.venv.step(clipped)
                actions[t], rewards[t], dones[t], starts[t] = a, reward, done, self.starts
                values[t], log_probs[t] = value.flatten().numpy(), log_prob.numpy()
                for i, d in enumerate(done):  # SB3's time-limit bootstrap (its issue #633)
                    terminal = info[i].pop("terminal_observation", None)
                    if d and terminal is not None and info[i].get("TimeLimit.truncated", False):
                        terminal_obs = torch.from_numpy(np.asarray(prepare(terminal[None])))
                        bootstrap[t, i] = req.gamma * float(policy.predict_values(terminal_obs)[0])
                if frames is not None:
                    frames[t] = _newest_frame(raw_obs)
                infos.append(info)
                self.starts = np.asarray(done, dtype=bool)
                self.obs, obs = raw_obs, prepare(raw_obs)
            last_values = policy.predict_values(torch.from_numpy(np.asarray(obs))).flatten().numpy()
        return RolloutPart(actions=actions, rewards=rewards, bootstrap=bootstrap, dones=dones,
                           episode_starts=starts, values=values, log_probs=log_probs, infos=infos,
                           last_values=last_values, frames=frames, cpu_s=time.process_time() - cpu)


class _InWorker:
    """Picklable: the wrappers that run in each worker (frame stacking, SB3's channels-first
    transpose for image observations) and its _Collector."""

    def __init__(self, stack: int) -> None:
        self.stack = stack

    def __call__(self, base: Any) -> tuple[Any, _Collector]:
        from stable_baselines3.common.preprocessing import (
            is_image_space,
            is_image_space_channels_first,
        )
        from stable_baselines3.common.vec_env import VecFrameStack, VecTransposeImage

        venv = base
        if self.stack > 1:
            venv = VecFrameStack(venv, self.stack, channels_order="last")
        space = venv.observation_space
        if is_image_space(space) and not is_image_space_channels_first(space):
            venv = VecTransposeImage(venv)
        return venv, _Collector(venv)


@dataclass
class Rollout:
    """A whole rollout, the workers' parts joined along the environment axis."""

    observations: np.ndarray  # a view on the shared memory: valid until the next collect
    actions: np.ndarray
    rewards: np.ndarray
    bootstrap: np.ndarray
    dones: np.ndarray
    episode_starts: np.ndarray
    values: np.ndarray
    log_probs: np.ndarray
    infos: list[list[dict[str, Any]]]
    last_values: np.ndarray
    frames: np.ndarray | None
    workers_cpu_s: float


@dataclass
class _Pending:
    """A rollout the workers are collecting: where its frames go and what the request was."""

    slot: int
    shape: tuple[int, ...]
    dtype: np.dtype


class RolloutWorkers(GroupedVecEnv):
    """`env_fns` in `workers` processes that collect whole PPO rollouts with their own policy
    copies (`collect`); as a VecEnv (reset, step, attributes) it behaves as GroupedVecEnv, with
    frames stacked (`stack`) and transposed to channels-first in the workers.

    With `overlap`, `collect` returns the rollout the workers collected meanwhile and at once
    sends them the current weights for the next, so that they collect while the trainer updates
    (the rollout trained on was collected by the policy of one update before; its values and
    log-probabilities are that policy's, as PPO's ratio needs). The two rollouts in flight have a
    shared-memory segment each."""

    def __init__(self, env_fns: list[Any], workers: int, stack: int, seed: int = 0, overlap: bool = False) -> None:
        from multiprocessing import resource_tracker

        resource_tracker.ensure_running()  # before the fork: one tracker for the trainer and its workers (_attach)
        self.seed_base = seed
        self.overlap = overlap
        self._policy_sent = False
        self._shms: list[shared_memory.SharedMemory | None] = [None, None]
        self._pending: _Pending | None = None  # before VecEnv's __init__, which asks the workers already
        super().__init__(env_fns, workers, wrap=_InWorker(stack))

    def _shared(self, slot: int, nbytes: int) -> shared_memory.SharedMemory:
        shm = self._shms[slot]
        if shm is None or shm.size < nbytes:
            self._release(slot)
            shm = self._shms[slot] = shared_memory.SharedMemory(create=True, size=max(nbytes, 1))
        return shm

    def _release(self, slot: int) -> None:
        shm = self._shms[slot]
        if shm is None:
            return
        try:
            shm.close()
        except BufferError:  # a rollout buffer still views it; the mapping goes with the process
            pass
        try:
            shm.unlink()
        except FileNotFoundError:  # already gone (the system's /dev/shm cleared)
            pass
        self._shms[slot] = None

    def collect(self, policy: Any, n_steps: int, gamma: float, pool: bool, frames: bool) -> Rollout:
        """A rollout of n_steps per environment: collected now by `policy`'s current weights, or
        (overlap) the one collected meanwhile, the next one started before returning."""
        if self._pending is None or not self.overlap:
            self._dispatch(0 if self._pending is None else 1 - self._pending.slot, policy, n_steps, gamma, pool, frames)
        pending = self._pending
        assert pending is not None
        rollout = self._receive(pending, n_steps)
        if self.overlap:
            self._dispatch(1 - pending.slot, policy, n_steps, gamma, pool, frames)
        return rollout

    def _dispatch(self, slot: int, policy: Any, n_steps: int, gamma: float, pool: bool, frames: bool) -> None:
        import cloudpickle

        from deepracer.train.networks import POOL

        space = self.observation_space
        assert isinstance(space, gym.spaces.Box)
        obs_shape = tuple(space.shape)
        if pool:
            obs_shape = (*obs_shape[:-2], obs_shape[-2] // POOL, obs_shape[-1] // POOL)
        dtype = np.dtype(np.float32) if pool else np.dtype(space.dtype)
        shape = (n_steps, self.num_envs, *obs_shape)
        shm = self._shared(slot, int(np.prod(shape)) * dtype.itemsize)
        weights = {k: v.detach().cpu().numpy().copy() for k, v in policy.state_dict().items()}
        blob = None if self._policy_sent else cloudpickle.dumps(policy)
        for w, members in enumerate(self.groups):
            self._send(w, ("collect", CollectRequest(
                n_steps=n_steps, gamma=gamma, weights=weights, policy=blob, seed=self.seed_base * SEED_OFFSET + w,
                pool=pool, frames=frames and w == 0, shm_name=shm.name, shape=shape, dtype=dtype.str,
                lo=members[0], hi=members[-1] + 1)))
            self.waiting = True
        self._policy_sent = True
        self._pending = _Pending(slot, shape, dtype)

    def _receive(self, pending: _Pending, n_steps: int) -> Rollout:
        parts: list[RolloutPart] = []
        for w, remote in enumerate(self.remotes):
            try:
                parts.append(remote.recv())
            except EOFError as err:
                raise self._gone(w) from err
        self.waiting, self._pending = False, None
        for w, part in enumerate(parts):
            if part.error:
                raise RolloutWorkerError(f"rollout worker {w} failed:\n{part.error}")

        def join(name: str) -> np.ndarray:
            return np.concatenate([getattr(p, name) for p in parts], axis=1)

        shm = self._shms[pending.slot]
        assert shm is not None
        return Rollout(
            observations=np.ndarray(pending.shape, pending.dtype, buffer=shm.buf), actions=join("actions"),
            rewards=join("rewards"), bootstrap=join("bootstrap"), dones=join("dones"),
            episode_starts=join("episode_starts"), values=join("values"), log_probs=join("log_probs"),
            infos=[[i for p in parts for i in p.infos[t]] for t in range(n_steps)],
            last_values=np.concatenate([p.last_values for p in parts]), frames=parts[0].frames,
            workers_cpu_s=sum(p.cpu_s for p in parts))

    def _settle(self) -> None:
        """Before any other message: a rollout in flight is received and dropped (the workers'
        environments have moved on; the next collect starts afresh)."""
        if self._pending is not None and not self.closed:
            self._receive(self._pending, 0)

    def step_async(self, actions: np.ndarray) -> None:
        self._settle()
        super().step_async(actions)

    def reset(self) -> Any:
        self._settle()
        return super().reset()

    def _ask(self, cmd: str, indices: Any, *data: Any) -> list[Any]:
        self._settle()
        return super()._ask(cmd, indices, *data)

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        self._settle()
        super().set_attr(attr_name, value, indices)

    def _send(self, w: int, message: Any) -> None:
        try:
            self.remotes[w].send(message)
        except (BrokenPipeError, ConnectionResetError) as err:
            raise self._gone(w) from err

    def _gone(self, w: int) -> RolloutWorkerError:
        """A worker whose process has gone (killed, out of memory; a traceback, if any, is on stderr)."""
        self.processes[w].join(1.0)
        return RolloutWorkerError(f"rollout worker {w} exited while collecting (exit code {self.processes[w].exitcode})")

    def close(self) -> None:
        super().close()  # a rollout in flight: the workers are terminated (GroupedVecEnv.close)
        self._pending = None
        for slot in range(len(self._shms)):
            self._release(slot)


def collect_in_workers(model: Any, workers: RolloutWorkers, callback: Any, buffer: Any, n_steps: int) -> bool:
    """SB3's OnPolicyAlgorithm.collect_rollouts with the rollout collected by `workers`: the
    buffer filled alike, the callback called per step in the same order with the same locals
    the trainer reads (False from it stops, as in SB3, before the rollout is trained on)."""
    import torch

    from deepracer.train.algorithms import pooled_size

    model.policy.set_training_mode(False)
    buffer.reset()
    callback.on_rollout_start()
    wants_frames = getattr(model, "wants_frames", None)
    pool = bool(getattr(model, "pool_rollouts", False)) and pooled_size(model) is not None
    r = workers.collect(model.policy, n_steps, model.gamma, pool=pool,
                        frames=bool(wants_frames is not None and wants_frames()))
    model.phase_s["rollout_workers_cpu"] = model.phase_s.get("rollout_workers_cpu", 0.0) + r.workers_cpu_s
    buffer.observations = r.observations
    buffer.actions[:] = r.actions.reshape(buffer.actions.shape)
    buffer.rewards[:] = r.rewards + r.bootstrap
    buffer.episode_starts[:] = r.episode_starts
    buffer.values[:] = r.values
    buffer.log_probs[:] = r.log_probs
    box = isinstance(model.action_space, gym.spaces.Box)
    for t in range(n_steps):
        model.num_timesteps += workers.num_envs
        actions = r.actions[t]
        clipped_actions = np.clip(actions, model.action_space.low, model.action_space.high) if box else actions
        callback.update_locals({"infos": r.infos[t], "rewards": r.rewards[t], "dones": r.dones[t],
                                "actions": actions, "clipped_actions": clipped_actions,
                                "new_obs": None if r.frames is None else r.frames[t][None]})
        if not callback.on_step():
            return False
        model._update_info_buffer(r.infos[t], r.dones[t])
    buffer.pos, buffer.full = n_steps, True
    buffer.compute_returns_and_advantage(last_values=torch.from_numpy(r.last_values), dones=r.dones[-1])
    callback.update_locals({"rollout_buffer": buffer})
    callback.on_rollout_end()
    return True

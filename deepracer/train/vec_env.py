"""Training environments in a few worker processes, several environments per worker.

SB3's SubprocVecEnv gives each environment a process of its own and DummyVecEnv runs them all in
the trainer's. On a 2-core machine neither is best once there are more environments than cores:
a process per environment pays a process wake-up per environment and step, in-process stepping
leaves the second core idle while the trainer waits for the simulators. `GroupedVecEnv` starts
one worker per core (at most), each stepping its share of the environments in turn in a
DummyVecEnv, so a vector step costs one message per worker and the simulators run in parallel.

The environments, their seeds and their order are the same as SubprocVecEnv's, so what is
learned does not depend on the layout (the reward function gets a module of its own per
environment either way, see RewardFunction.fresh).
"""

from __future__ import annotations

import multiprocessing as mp
import signal
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import DummyVecEnv
from stable_baselines3.common.vec_env.base_vec_env import CloudpickleWrapper, VecEnv, VecEnvIndices

CLOSE_TIMEOUT_S = 10.0  # per worker: closing its environments


def _worker(remote: Connection, parent_remote: Connection, fns: CloudpickleWrapper,
            wrap: CloudpickleWrapper | None = None) -> None:
    """One worker's loop. `wrap` (optional) makes (venv, collector) from the worker's DummyVecEnv:
    wrappers that run in the worker (rollout_workers.py stacks frames here) and the handler of
    "collect", a whole rollout collected in the worker."""
    # Ctrl-C is the trainer's: it saves, then closes the workers (from the fork on, not only once
    # the environments are built)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent_remote.close()
    base = DummyVecEnv(fns.var)
    venv: Any = base
    collector: Any = None
    if wrap is not None:
        venv, collector = wrap.var(base)
    while True:
        try:
            cmd, data = remote.recv()
        except (EOFError, KeyboardInterrupt):  # the trainer has gone, or stops us itself
            break
        if cmd == "step":
            venv.step_async(data)
            obs, rewards, dones, infos = venv.step_wait()
            if collector is not None:
                collector.observed(obs, dones)
            remote.send((obs, rewards, dones, infos, base.reset_infos))
        elif cmd == "reset":
            base._seeds, base._options = list(data[0]), list(data[1])
            obs = venv.reset()
            if collector is not None:
                collector.observed(obs, np.ones(venv.num_envs, dtype=bool))
            remote.send((obs, base.reset_infos))
        elif cmd == "collect" and collector is not None:
            remote.send(collector.collect(data))
        elif cmd == "spaces":
            remote.send((venv.observation_space, venv.action_space))
        elif cmd == "env_method":
            name, args, kwargs, local = data
            remote.send(venv.env_method(name, *args, indices=local, **kwargs))
        elif cmd == "get_attr":
            remote.send(venv.get_attr(data[0], data[1]))
        elif cmd == "set_attr":
            remote.send(venv.set_attr(data[0], data[1], data[2]))
        elif cmd == "is_wrapped":
            remote.send(venv.env_is_wrapped(data[0], data[1]))
        elif cmd == "close":
            venv.close()
            remote.close()
            break
        else:
            raise NotImplementedError(f"GroupedVecEnv worker: unknown command {cmd!r}")


def groups(n_envs: int, workers: int) -> list[list[int]]:
    """Environment indices per worker: contiguous, sizes differing by at most one."""
    workers = max(1, min(workers, n_envs))
    base, extra = divmod(n_envs, workers)
    out, start = [], 0
    for w in range(workers):
        size = base + (1 if w < extra else 0)
        out.append(list(range(start, start + size)))
        start += size
    return out


def _concat(parts: Sequence[Any]) -> Any:
    if isinstance(parts[0], dict):
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return np.concatenate(parts)


class GroupedVecEnv(VecEnv):
    """`env_fns` in `workers` processes (forked), each stepping its share in turn."""

    def __init__(self, env_fns: list[Callable[[], gym.Env]], workers: int, start_method: str = "fork",
                 wrap: Callable[[Any], tuple[Any, Any]] | None = None) -> None:
        self.groups = groups(len(env_fns), workers)
        ctx = mp.get_context(start_method)
        self.remotes, self.processes = [], []
        for members in self.groups:
            # each pipe made just before its worker: a worker forked while another's end was open
            # would keep it open, and the trainer would wait forever on a worker that has died
            remote, work_remote = ctx.Pipe()
            self.remotes.append(remote)
            fns = CloudpickleWrapper([env_fns[i] for i in members])
            # daemon: a crashed trainer does not leave its workers behind
            process = ctx.Process(target=_worker, daemon=True,  # type: ignore[attr-defined]
                                  args=(work_remote, remote, fns, CloudpickleWrapper(wrap) if wrap else None))
            process.start()
            self.processes.append(process)
            work_remote.close()
        self.waiting, self.closed = False, False
        self.remotes[0].send(("spaces", None))
        observation_space, action_space = self.remotes[0].recv()
        super().__init__(len(env_fns), observation_space, action_space)

    def step_async(self, actions: np.ndarray) -> None:
        for remote, members in zip(self.remotes, self.groups, strict=True):
            remote.send(("step", actions[members[0]: members[-1] + 1]))
        self.waiting = True

    def step_wait(self) -> Any:
        results = [remote.recv() for remote in self.remotes]
        self.waiting = False
        obs, rewards, dones, infos, reset_infos = zip(*results, strict=True)
        self.reset_infos = [i for part in reset_infos for i in part]
        return (_concat(obs), np.concatenate(rewards), np.concatenate(dones),
                [i for part in infos for i in part])

    def reset(self) -> Any:
        for remote, members in zip(self.remotes, self.groups, strict=True):
            remote.send(("reset", ([self._seeds[i] for i in members], [self._options[i] for i in members])))
        results = [remote.recv() for remote in self.remotes]
        obs, reset_infos = zip(*results, strict=True)
        self.reset_infos = [i for part in reset_infos for i in part]
        self._reset_seeds()
        self._reset_options()
        return _concat(obs)

    def close(self) -> None:
        """Stop the workers, bounded in time. After a step that was never received (a Ctrl-C
        while the trainer waited for it) the workers are terminated instead of drained: the
        interrupt may have come in the middle of reading a message, and reading on from there
        (as SubprocVecEnv does) can wait forever for bytes that are not coming. The workers
        hold nothing to save: logs, checkpoints and the model are the trainer's."""
        if self.closed:
            return
        self.closed = True
        if not self.waiting:
            for remote in self.remotes:
                try:
                    remote.send(("close", None))
                except OSError:  # a worker that has already gone
                    pass
        for process in self.processes:
            if not self.waiting:
                process.join(CLOSE_TIMEOUT_S)
            if process.is_alive():
                process.terminate()
                process.join(CLOSE_TIMEOUT_S)
        for remote in self.remotes:
            remote.close()

    # -- attribute access, per environment index ------------------------------------------
    def _targets(self, indices: VecEnvIndices) -> list[tuple[int, list[int]]]:
        """(worker, its local indices) for the wanted environments, in worker order."""
        wanted = set(self._get_indices(indices))
        out = []
        for w, members in enumerate(self.groups):
            local = [k for k, i in enumerate(members) if i in wanted]
            if local:
                out.append((w, local))
        return out

    def _ask(self, cmd: str, indices: VecEnvIndices, *data: Any) -> list[Any]:
        targets = self._targets(indices)
        for w, local in targets:
            self.remotes[w].send((cmd, (*data, local)))
        return [x for w, _ in targets for x in self.remotes[w].recv()]

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return self._ask("get_attr", indices, attr_name)

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        targets = self._targets(indices)
        for w, local in targets:
            self.remotes[w].send(("set_attr", (attr_name, value, local)))
        for w, _ in targets:
            self.remotes[w].recv()

    def env_method(self, method_name: str, *method_args: Any, indices: VecEnvIndices = None,
                   **method_kwargs: Any) -> list[Any]:
        return self._ask("env_method", indices, method_name, method_args, method_kwargs)

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        return self._ask("is_wrapped", indices, wrapper_class)

    def get_images(self) -> Sequence[np.ndarray | None]:
        return [None] * self.num_envs  # training environments render no human view

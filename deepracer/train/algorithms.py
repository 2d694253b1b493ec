"""stable-baselines3 algorithms with DeepRacer's options (Huber value loss for PPO), timed per phase.

Both algorithms alternate two phases with different shapes of work, so each gets its own
number of torch threads (see docs/training.md, "Throughput"):

- rollout: one forward pass per step on a batch of n_envs frames. Tiny; a second intra-op
  thread only adds synchronisation (and competes with the env workers for the cores), so 1.
- update: minibatches of batch_size frames, forward and backward, num_epochs times: all cores.

`phase_s` accumulates the wall time of each phase and this process's CPU time in it
(`deepracer bench train` reports both).
"""

from __future__ import annotations

import os
import time
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import stable_baselines3.ppo.ppo as _ppo_module
import torch
from stable_baselines3 import PPO, SAC
from torch.nn import functional as F

# PPO's value loss calls F.mse_loss; DeepRacer's default loss_type is huber (delta 1 = smooth L1).
_HUBER_F = types.SimpleNamespace(**{name: getattr(F, name) for name in dir(F) if not name.startswith("__")})
_HUBER_F.mse_loss = F.smooth_l1_loss

ROLLOUT_THREADS = 1
UPDATE_THREADS = 0  # 0: one per core


@contextmanager
def _phase(model: Any, name: str, threads: int) -> Iterator[None]:
    from torch.distributions import Distribution

    previous = torch.get_num_threads()
    torch.set_num_threads(threads if threads > 0 else max(1, os.cpu_count() or 1))
    # the policy's logits are finite by construction; checking them costs more than the rest of the
    # distribution does at every step (validation only raises on bad arguments, it changes no value)
    validate = Distribution._validate_args
    Distribution.set_default_validate_args(model.check_distributions)
    t, cpu = time.perf_counter(), time.process_time()
    try:
        yield
    finally:
        Distribution.set_default_validate_args(validate)
        model.phase_s[name] = model.phase_s.get(name, 0.0) + time.perf_counter() - t
        # this process's CPU seconds (all its threads): on a shared machine far steadier than wall time
        model.phase_s[f"{name}_cpu"] = model.phase_s.get(f"{name}_cpu", 0.0) + time.process_time() - cpu
        torch.set_num_threads(previous)


class _Phased:
    """Per-phase torch threads and wall time (mixed in before the SB3 algorithm)."""

    rollout_threads: int = ROLLOUT_THREADS
    update_threads: int = UPDATE_THREADS
    check_distributions: bool = False
    wants_frames: Any = None  # () -> bool: the rollout workers send camera frames for the live view (trainer)

    @property
    def phase_s(self) -> dict[str, float]:
        if "_phase_s" not in self.__dict__:
            self.__dict__["_phase_s"] = {}
        return self.__dict__["_phase_s"]

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "_phase_s", "wants_frames"]  # type: ignore[misc]

    def collect_rollouts(self, *args: Any, **kwargs: Any) -> Any:
        with _phase(self, "rollout", self.rollout_threads):
            return super().collect_rollouts(*args, **kwargs)  # type: ignore[misc]

    def train(self, *args: Any, **kwargs: Any) -> Any:
        with _phase(self, "update", self.update_threads):
            return self._update(*args, **kwargs)

    def _update(self, *args: Any, **kwargs: Any) -> Any:
        return super().train(*args, **kwargs)  # type: ignore[misc]


def pooled_size(model: Any) -> tuple[int, int] | None:
    """The (height, width) the policy's camera network pools its frames to first, if it does."""
    from deepracer.train.networks import CameraCNN

    sizes = {m.pooled_size for m in model.policy.modules() if isinstance(m, CameraCNN)}
    return next(iter(sizes)) if len(sizes) == 1 and None not in sizes else None


def pool_rollout(model: Any) -> None:
    """Pool the rollout's camera frames once for all epochs, where the network begins with a pool
    (deepracer.train.networks.POOLED_NETWORKS): the same numbers as pooling in every minibatch,
    without redoing it num_epochs times. The buffer allocates new arrays at the next rollout."""
    from deepracer.train.networks import pool_frames

    size = pooled_size(model)
    if size is None:
        return
    buffer = model.rollout_buffer
    frames = buffer.observations.get("camera") if isinstance(buffer.observations, dict) else buffer.observations
    if frames is None or getattr(buffer, "generator_ready", False) or tuple(frames.shape[-2:]) == size:
        return  # no camera, already flattened for sampling, or pooled already
    if isinstance(buffer.observations, dict):
        buffer.observations["camera"] = pool_frames(frames)
    else:
        buffer.observations = pool_frames(frames)


class DeepRacerPPO(_Phased, PPO):
    huber: bool = True
    pool_rollouts: bool = True  # pool_rollout before each update (False: pool in every minibatch, as before)

    def collect_rollouts(self, env: Any, callback: Any, rollout_buffer: Any, n_rollout_steps: int) -> bool:
        from deepracer.train.rollout_workers import RolloutWorkers, collect_in_workers

        if not isinstance(env, RolloutWorkers):
            return super().collect_rollouts(env, callback, rollout_buffer, n_rollout_steps)
        with _phase(self, "rollout", self.rollout_threads):
            return collect_in_workers(self, env, callback, rollout_buffer, n_rollout_steps)

    def _update(self, *args: Any, **kwargs: Any) -> Any:
        if self.pool_rollouts:
            pool_rollout(self)
        if not self.huber:
            return PPO.train(self)
        original = _ppo_module.F
        _ppo_module.F = _HUBER_F
        try:
            return PPO.train(self)
        finally:
            _ppo_module.F = original


class DeepRacerSAC(_Phased, SAC):
    pass


def load_model(path: str | Path, env: Any) -> Any:
    """A checkpoint of either algorithm, attached to `env`."""
    import zipfile

    with zipfile.ZipFile(path) as z:
        data = z.read("data").decode("utf-8", "replace")
    cls = DeepRacerSAC if '"ent_coef_optimizer"' in data or '"replay_buffer_class"' in data else DeepRacerPPO
    return cls.load(path, env=env, device="cpu", custom_objects=_legacy_network(path))


def _legacy_network(path: str | Path) -> dict[str, Any]:
    """A checkpoint saved as `small` before `small` changed holds the first small network's
    weights (5x5 first convolution): it is rebuilt as `small-v1`, which has that shape."""
    from stable_baselines3.common.save_util import load_from_zip_file

    data, params, _ = load_from_zip_file(path, device="cpu", load_data=True)
    kwargs = dict((data or {}).get("policy_kwargs") or {})
    extractor = dict(kwargs.get("features_extractor_kwargs") or {})
    if extractor.get("kind") != "small":
        return {}
    weights = (params or {}).get("policy", {})
    first = [w for k, w in weights.items() if k.endswith("cnn.1.weight")]
    if not first or tuple(first[0].shape[-2:]) != (5, 5):
        return {}
    kwargs["features_extractor_kwargs"] = {**extractor, "kind": "small-v1"}
    kwargs.setdefault("optimizer_kwargs", {})  # as it was trained (torch's per-tensor Adam)
    return {"policy_kwargs": kwargs}

"""stable-baselines3 algorithms with DeepRacer's options (Huber value loss for PPO)."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import stable_baselines3.ppo.ppo as _ppo_module
from stable_baselines3 import PPO, SAC
from torch.nn import functional as F

# PPO's value loss calls F.mse_loss; DeepRacer's default loss_type is huber (delta 1 = smooth L1).
_HUBER_F = types.SimpleNamespace(**{name: getattr(F, name) for name in dir(F) if not name.startswith("__")})
_HUBER_F.mse_loss = F.smooth_l1_loss


class DeepRacerPPO(PPO):
    huber: bool = True

    def train(self) -> None:
        if not self.huber:
            return super().train()
        original = _ppo_module.F
        _ppo_module.F = _HUBER_F
        try:
            return super().train()
        finally:
            _ppo_module.F = original


class DeepRacerSAC(SAC):
    pass


def load_model(path: str | Path, env: Any) -> Any:
    """A checkpoint of either algorithm, attached to `env`."""
    import zipfile

    with zipfile.ZipFile(path) as z:
        data = z.read("data").decode("utf-8", "replace")
    cls = DeepRacerSAC if '"ent_coef_optimizer"' in data or '"replay_buffer_class"' in data else DeepRacerPPO
    return cls.load(path, env=env, device="cpu")

"""DeepRacer's hyperparameters.json, read as the console and DeepRacer-for-Cloud write it.

How each key maps onto the stable-baselines3 trainer:

| DeepRacer key | trainer |
|---|---|
| batch_size | PPO/SAC minibatch size |
| num_epochs | PPO epochs per update (SAC: gradient steps per collected step) |
| lr | learning rate |
| beta_entropy | PPO entropy coefficient |
| discount_factor | gamma |
| loss_type | value loss: huber (DeepRacer's default) or mean squared error |
| num_episodes_between_training | episodes per iteration: one training-simtrace file, one metrics row |
| sac_alpha | SAC entropy temperature (fixed, as in DeepRacer) |
| e_greedy_value, epsilon_steps, exploration_type | exploration: categorical = sample the policy; e-greedy = a random action with probability ε, decayed linearly over epsilon_steps |
| stack_size | frames stacked on the channel axis (the ONNX input gets the same stack) |
| term_cond_avg_score | stop when an iteration's mean episode reward reaches it |
| term_cond_max_episodes | stop after that many episodes |

Our own keys (absent from DeepRacer's file): `rollout_steps` (PPO steps collected per update,
over all environments) and `buffer_size` (SAC replay buffer).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from deepracer.errors import ConfigError


@dataclass
class HyperParameters:
    # DeepRacer-for-Cloud's defaults (defaults/hyperparameters.json)
    batch_size: int = 64
    beta_entropy: float = 0.01
    discount_factor: float = 0.99
    e_greedy_value: float = 0.05
    epsilon_steps: int = 10000
    exploration_type: str = "categorical"
    loss_type: str = "huber"
    lr: float = 0.0003
    num_episodes_between_training: int = 20
    num_epochs: int = 5
    stack_size: int = 1
    term_cond_avg_score: float = 350.0
    term_cond_max_episodes: int = 1000
    sac_alpha: float = 0.2
    # our own
    rollout_steps: int = 1024
    buffer_size: int = 50_000

    def validate(self, path: Path | None = None) -> HyperParameters:
        def need(ok: bool, what: str) -> None:
            if not ok:
                raise ConfigError(what, path)

        need(self.batch_size >= 2, f"batch_size must be at least 2, not {self.batch_size}")
        need(self.num_epochs >= 1, f"num_epochs must be at least 1, not {self.num_epochs}")
        need(self.lr > 0, f"lr must be positive, not {self.lr}")
        need(0 < self.discount_factor <= 1, f"discount_factor must be in (0, 1], not {self.discount_factor}")
        need(self.beta_entropy >= 0, f"beta_entropy must be >= 0, not {self.beta_entropy}")
        need(self.loss_type in ("huber", "mean squared error", "mse"),
             f"loss_type must be 'huber' or 'mean squared error', not {self.loss_type!r}")
        need(self.exploration_type in ("categorical", "e-greedy", "e_greedy", "gaussian"),
             f"exploration_type must be categorical or e-greedy, not {self.exploration_type!r}")
        need(0 <= self.e_greedy_value <= 1, f"e_greedy_value must be in [0, 1], not {self.e_greedy_value}")
        need(self.num_episodes_between_training >= 1, "num_episodes_between_training must be at least 1")
        need(self.stack_size >= 1, f"stack_size must be at least 1, not {self.stack_size}")
        need(self.sac_alpha > 0, f"sac_alpha must be positive, not {self.sac_alpha}")
        need(self.rollout_steps >= self.batch_size, "rollout_steps must be at least batch_size")
        return self

    @property
    def huber(self) -> bool:
        return self.loss_type == "huber"

    @property
    def e_greedy(self) -> bool:
        return self.exploration_type in ("e-greedy", "e_greedy")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def write(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def from_dict(cls, data: Any, path: Path | None = None) -> HyperParameters:
        if not isinstance(data, dict):
            raise ConfigError("hyperparameters must be a JSON object", path)
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                warnings.warn(f"{path or 'hyperparameters'}: unknown key {key!r} ignored", stacklevel=2)
                continue
            kind = type(getattr(cls(), key))
            try:
                if kind is str:
                    values[key] = str(value).lower()
                elif kind is int:
                    if float(value) != int(float(value)):
                        raise ValueError("not a whole number")
                    values[key] = int(float(value))
                else:
                    values[key] = float(value)
            except (TypeError, ValueError):
                raise ConfigError(f"{key} must be a {kind.__name__}, not {value!r}", path) from None
        return cls(**values).validate(path)

    @classmethod
    def from_file(cls, path: str | Path | None) -> HyperParameters:
        if path is None:
            return cls()
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError("hyperparameters file not found", path) from None
        except json.JSONDecodeError as err:
            raise ConfigError(f"invalid JSON at line {err.lineno} column {err.colno}: {err.msg}", path) from err
        return cls.from_dict(data, path)

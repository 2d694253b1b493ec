"""Tiny stereo and camera + LiDAR model packages for tests: an untrained SB3 policy on
DeepRacerEnv's observation for the sensor list, exported by the trainer's own exporter
(deepracer.train.export.write_package) - what `deepracer train --sensor ...` writes, in a second."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deepracer.model.metadata import Action, ModelMetadata

ACTIONS = [Action(-20.0, 0.6), Action(0.0, 0.8), Action(20.0, 0.6)]


def sensor_env(sensor: list[str], track: str = "oval", race: Any = None) -> Any:
    from deepracer.sim import DeepRacerEnv, SimConfig

    cfg = SimConfig(**race.sim_fields()) if race is not None else None
    return DeepRacerEnv(track=track, metadata=ModelMetadata("discrete", list(ACTIONS), sensor=list(sensor)),
                        randomize=False, seed=0, sim_config=cfg)


def sensor_model(sensor: list[str], seed: int = 0) -> tuple[Any, Any]:
    """(an untrained SB3 PPO with the trainer's network for `sensor`, its environment)."""
    import gymnasium as gym
    from stable_baselines3 import PPO

    from deepracer.train.networks import policy_kwargs

    env = sensor_env(sensor)
    lidar = isinstance(env.observation_space, gym.spaces.Dict)
    model = PPO("MultiInputPolicy" if lidar else "CnnPolicy", env, n_steps=16, batch_size=16, seed=seed,
                policy_kwargs=policy_kwargs("small", lidar=lidar), device="cpu", verbose=0)
    return model, env


def write_sensor_package(sensor: list[str], out: Path, seed: int = 0) -> Path:
    from deepracer.train.export import write_package

    model, env = sensor_model(sensor, seed)
    return write_package(model, env.model_metadata, out, 1, "DEEPRACER_SMALL_CNN")

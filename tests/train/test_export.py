"""Export: the ONNX model computes what the torch policy computes, and the package is complete."""

from __future__ import annotations

import json
import tarfile

import gymnasium as gym
import numpy as np
import onnxruntime as ort
import pytest
import torch

from deepracer.model.metadata import Action, ContinuousRange, ModelMetadata
from deepracer.train.export import write_package, write_tarball
from deepracer.train.networks import policy_kwargs


class CameraEnv(gym.Env):
    """Just the spaces of DeepRacerEnv: uint8 grayscale frames, normalised actions."""

    def __init__(self, action_space: gym.Space, stack: int = 1) -> None:
        self.observation_space = gym.spaces.Box(0, 255, (120, 160, stack), np.uint8)
        self.action_space = action_space

    def reset(self, *, seed=None, options=None):
        return self.observation_space.sample(), {}

    def step(self, action):
        return self.observation_space.sample(), 0.0, True, False, {}


def frames(n: int, stack: int = 1) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, 120, 160, stack), dtype=np.uint8)


def onnx_run(package, images: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(str(package / "model.onnx"), providers=["CPUExecutionProvider"])
    x = images.transpose(0, 3, 1, 2).astype(np.float32) / 255.0  # as the metadata's onnx block says
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


DISCRETE = ModelMetadata("discrete", actions=[Action(-30, 1), Action(0, 1.5), Action(30, 1)])
CONTINUOUS = ModelMetadata("continuous", continuous=ContinuousRange(-30, 30, 0.5, 2.0))


@pytest.mark.parametrize("network", ["small", "shallow"])
def test_discrete_probabilities_equal_softmax_of_torch_logits(tmp_path, network):
    from stable_baselines3 import PPO

    model = PPO("CnnPolicy", CameraEnv(gym.spaces.Discrete(3)), policy_kwargs=policy_kwargs(network), device="cpu")
    package = write_package(model, DISCRETE, tmp_path / "model", network_name=network)
    images = frames(4)
    obs, _ = model.policy.obs_to_tensor(images)
    with torch.no_grad():
        expected = torch.softmax(model.policy.get_distribution(obs).distribution.logits, -1).numpy()
    got = onnx_run(package, images)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    assert got.shape == (4, 3)
    meta = json.loads((package / "model_metadata.json").read_text())
    assert meta["onnx"]["output"]["kind"] == "probabilities"
    assert meta["onnx"]["input"] == {**meta["onnx"]["input"], "layout": "NCHW", "height": 120, "width": 160,
                                     "channels": 1, "color_order": "gray"}
    assert meta["onnx"]["input"]["scale"] == pytest.approx(1 / 255)
    assert [a["steering_angle"] for a in meta["action_space"]] == [-30, 0, 30]
    assert meta["training_algorithm"] == "clipped_ppo"


def test_continuous_ppo_exports_the_mean_action(tmp_path):
    from stable_baselines3 import PPO

    env = CameraEnv(gym.spaces.Box(-1, 1, (2,), np.float32), stack=2)
    model = PPO("CnnPolicy", env, policy_kwargs=policy_kwargs("small"), device="cpu")
    package = write_package(model, CONTINUOUS, tmp_path / "model", stack_size=2)
    images = frames(3, stack=2)
    obs, _ = model.policy.obs_to_tensor(images)
    with torch.no_grad():
        expected = model.policy.get_distribution(obs).distribution.mean.numpy()
    np.testing.assert_allclose(onnx_run(package, images), expected, rtol=1e-4, atol=1e-5)
    meta = ModelMetadata.from_file(package / "model_metadata.json")
    assert meta.output_spec.kind == "continuous" and meta.input.frame_stack == 2
    assert meta.continuous == CONTINUOUS.continuous


def test_sac_exports_the_squashed_mean(tmp_path):
    from stable_baselines3 import SAC

    env = CameraEnv(gym.spaces.Box(-1, 1, (2,), np.float32))
    model = SAC("CnnPolicy", env, policy_kwargs=policy_kwargs("small"), buffer_size=100, device="cpu")
    package = write_package(model, CONTINUOUS, tmp_path / "model")
    images = frames(2)
    obs, _ = model.policy.obs_to_tensor(images)
    with torch.no_grad():
        expected = model.policy.actor(obs, deterministic=True).numpy()
    got = onnx_run(package, images)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    assert np.all(np.abs(got) <= 1.0)
    assert json.loads((package / "model_metadata.json").read_text())["training_algorithm"] == "sac"


def test_tarball_holds_the_package_files_at_its_root(tmp_path):
    from stable_baselines3 import PPO

    model = PPO("CnnPolicy", CameraEnv(gym.spaces.Discrete(3)), policy_kwargs=policy_kwargs("small"), device="cpu")
    package = write_package(model, DISCRETE, tmp_path / "model")
    tarball = write_tarball(package, tmp_path / "out" / "m.tar.gz")
    with tarfile.open(tarball) as tar:
        assert sorted(tar.getnames()) == ["model.onnx", "model_metadata.json"]
    assert tarball.stat().st_size < 2_000_000  # the small network keeps the bundle small


def test_model_check_and_onnx_policy_accept_the_package(tmp_path):
    from stable_baselines3 import PPO

    from deepracer.model.package import check_model_package
    from deepracer.model.policy import OnnxPolicy

    model = PPO("CnnPolicy", CameraEnv(gym.spaces.Discrete(3)), policy_kwargs=policy_kwargs("small"), device="cpu")
    package = write_package(model, DISCRETE, tmp_path / "model")
    tarball = write_tarball(package, tmp_path / "m.tar.gz")
    assert check_model_package(package) == [] and check_model_package(tarball) == []
    image = frames(1)[0]
    decision = OnnxPolicy(str(tarball)).predict(image)
    action, _ = model.predict(image, deterministic=True)
    assert decision.index == int(action)
    assert (decision.steering_angle, decision.speed) == (DISCRETE.actions[int(action)].steering_angle,
                                                         DISCRETE.actions[int(action)].speed)

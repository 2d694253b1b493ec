"""The training speed-ups change no number: the update's pooled rollout, the grouped workers, the
per-environment reward modules, and checkpoints of the first small network still load."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.vec_env import DummyVecEnv

from deepracer.train.algorithms import DeepRacerPPO, load_model, pool_rollout
from deepracer.train.networks import NETWORK_NAMES, CameraCNN, policy_kwargs, pool_frames
from deepracer.train.reward import default_reward_path, load_reward_function
from deepracer.train.trainer import _EnvFactory, default_metadata
from deepracer.train.vec_env import GroupedVecEnv, groups


class CameraEnv(gym.Env):
    """DeepRacerEnv's spaces: uint8 grey frames, a few discrete actions; random frames."""

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(0, 255, (120, 160, 1), np.uint8)
        self.action_space = gym.spaces.Discrete(5)
        self._rng = np.random.default_rng(0)
        self._t = 0

    def frame(self) -> np.ndarray:
        return self._rng.integers(0, 256, (120, 160, 1), dtype=np.uint8)

    def reset(self, *, seed=None, options=None):
        self._t = 0
        return self.frame(), {}

    def step(self, action):
        self._t += 1
        return self.frame(), float(action) * 0.1, self._t >= 40, False, {}


def _ppo(network: str, **kw) -> DeepRacerPPO:
    env = DummyVecEnv([CameraEnv, CameraEnv])
    return DeepRacerPPO("CnnPolicy", env, n_steps=64, batch_size=32, n_epochs=2, seed=3,
                        policy_kwargs=policy_kwargs(network), device="cpu", **kw)


@pytest.mark.parametrize("network", ["small", "small-v1"])
def test_pooled_rollout_gives_the_network_the_same_numbers(network) -> None:
    model = _ppo(network)
    _, callback = model._setup_learn(64, callback=None)
    callback.on_training_start(locals(), globals())
    model.collect_rollouts(model.env, callback, model.rollout_buffer, n_rollout_steps=model.n_steps)
    buffer = model.rollout_buffer
    full = torch.as_tensor(buffer.observations.reshape(-1, 1, 120, 160))
    actions = torch.as_tensor(buffer.actions.reshape(-1))
    with torch.no_grad():
        v_full, lp_full, _ = model.policy.evaluate_actions(full, actions)
    pool_rollout(model)
    assert buffer.observations.shape[-2:] == (60, 80) and buffer.observations.dtype == np.float32
    pooled = torch.as_tensor(buffer.observations.reshape(-1, 1, 60, 80))
    with torch.no_grad():
        v_pooled, lp_pooled, _ = model.policy.evaluate_actions(pooled, actions)
    torch.testing.assert_close(v_pooled, v_full, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(lp_pooled, lp_full, rtol=1e-5, atol=1e-5)
    before = buffer.observations
    pool_rollout(model)  # twice is once
    assert buffer.observations is before


def test_two_trainings_with_and_without_the_pooled_rollout_learn_the_same_weights() -> None:
    a = _ppo("small")  # each seeds the global RNGs as it is made: make and train one after the other
    a.learn(256)
    b = _ppo("small")
    b.pool_rollouts = False
    b.learn(256)
    for (name, pa), (_, pb) in zip(a.policy.state_dict().items(), b.policy.state_dict().items(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=1e-4, atol=1e-5, msg=name)


@pytest.mark.parametrize("shape", [(3, 2, 1, 120, 160), (70, 1, 2, 120, 160), (5, 1, 121, 161)])
def test_pool_frames_is_the_networks_average_pool(shape) -> None:
    # bit for bit, across the chunks it works in (70 frames: 3 chunks) and for odd sizes (cropped as the pool does)
    frames = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    *lead, c, h, w = shape
    expected = torch.nn.functional.avg_pool2d(torch.as_tensor(frames.reshape(-1, c, h, w)).float(), 2)
    np.testing.assert_array_equal(pool_frames(frames), expected.numpy().reshape(*lead, c, h // 2, w // 2))


def test_a_one_channel_view_from_hwc_frames_gives_the_same_features() -> None:
    net = CameraCNN(gym.spaces.Box(0, 255, (1, 120, 160), np.uint8), "small")
    hwc = np.random.default_rng(2).integers(0, 256, (4, 120, 160, 1), dtype=np.uint8)
    view = torch.as_tensor(hwc.transpose(0, 3, 1, 2)).float() / 255  # as SB3 hands it over
    with torch.no_grad():
        torch.testing.assert_close(net(view), net(view.clone(memory_format=torch.contiguous_format)))


def test_the_small_network_is_cheaper_than_the_first_one_and_named_apart() -> None:
    space = gym.spaces.Box(0, 255, (1, 120, 160), np.uint8)
    convs = {k: [m for m in CameraCNN(space, k).cnn if isinstance(m, torch.nn.Conv2d)] for k in ("small", "small-v1")}
    assert [c.kernel_size[0] for c in convs["small"]] == [8, 4, 3]
    assert [c.kernel_size[0] for c in convs["small-v1"]] == [5, 3, 3]
    assert NETWORK_NAMES["small"] != NETWORK_NAMES["small-v1"] == "DEEPRACER_SMALL_CNN"


def test_a_checkpoint_of_the_first_small_network_saved_as_small_resumes(tmp_path) -> None:
    """Before the change, `small` built the first network; its checkpoints say kind=small."""
    old = _ppo("small-v1")
    old.policy_kwargs["features_extractor_kwargs"]["kind"] = "small"  # what such a file holds
    old.policy_kwargs.pop("optimizer_kwargs")
    old.save(tmp_path / "latest.zip")
    loaded = load_model(tmp_path / "latest.zip", DummyVecEnv([CameraEnv, CameraEnv]))
    first = next(m for m in loaded.policy.features_extractor.cnn if isinstance(m, torch.nn.Conv2d))
    assert first.kernel_size == (5, 5)
    for (name, pa), (_, pb) in zip(old.policy.state_dict().items(), loaded.policy.state_dict().items(), strict=True):
        torch.testing.assert_close(pa, pb, msg=name)
    loaded.learn(64)  # and it trains on


def test_grouped_workers_step_exactly_as_in_process_environments() -> None:
    assert groups(5, 2) == [[0, 1, 2], [3, 4]] and groups(2, 4) == [[0], [1]]
    md, reward = default_metadata().to_dict(), load_reward_function(default_reward_path())
    fns = [_EnvFactory(None, md, reward, 20 + i, True, "rotate", 2000) for i in range(3)]
    inproc, grouped = DummyVecEnv(fns), GroupedVecEnv(fns, workers=2)
    try:
        inproc.seed(5)
        grouped.seed(5)
        np.testing.assert_array_equal(inproc.reset(), grouped.reset())
        rng = np.random.default_rng(0)
        dones = 0
        for _ in range(200):
            actions = rng.integers(0, 5, 3)
            (oa, ra, da, ia), (ob, rb, db, ib) = inproc.step(actions), grouped.step(actions)
            np.testing.assert_array_equal(oa, ob)
            np.testing.assert_allclose(ra, rb)
            np.testing.assert_array_equal(da, db)
            assert [i["progress"] for i in ia] == [i["progress"] for i in ib]
            dones += int(da.sum())
        assert dones > 0  # episodes ended and were reset the same way
        assert grouped.get_attr("max_steps", indices=[2]) == [2000]
    finally:
        inproc.close()
        grouped.close()


STATEFUL = '''
_calls = {"n": 0}

def reward_function(params):
    _calls["n"] += 1
    return float(_calls["n"])
'''


def test_environments_in_one_process_keep_their_own_reward_state(tmp_path) -> None:
    """A reward function may remember the previous step in its globals (one simulator per process
    in DeepRacer); two environments in one worker must not see each other's."""
    path = tmp_path / "reward.py"
    path.write_text(STATEFUL)
    md, reward = default_metadata().to_dict(), load_reward_function(path)
    venv = DummyVecEnv([_EnvFactory(None, md, reward, i, False, 0, 2000) for i in range(2)])
    venv.reset()
    seen = [venv.step(np.array([2, 2]))[1].tolist() for _ in range(3)]
    # one module shared by both would count 1, 2, 3, 4, ... across them
    assert seen == [[seen[0][0]] * 2, [seen[0][0] + 1] * 2, [seen[0][0] + 2] * 2]
    venv.close()


def test_the_opencv_pool_gives_the_avgpool_numbers_and_can_be_turned_off() -> None:
    net = CameraCNN(gym.spaces.Box(0, 255, (1, 120, 160), np.uint8), "small")
    frames = torch.as_tensor(np.random.default_rng(4).integers(0, 256, (4, 1, 120, 160), dtype=np.uint8)).float() / 255
    with torch.no_grad():
        fast = net(frames)
        net.opencv_pool = False  # the bench's baseline: torch's AvgPool2d, as before
        torch.testing.assert_close(fast, net(frames), rtol=0, atol=1e-6)

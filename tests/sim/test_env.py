"""The gymnasium env: spaces from model_metadata.json, episodes, info, determinism."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from deepracer.model.metadata import ContinuousRange, ModelMetadata
from deepracer.sim import DeepRacerEnv
from deepracer.sim.env import ROUND_ROBIN_ADVANCE

SIM_TRACE_INFO = {"x", "y", "yaw_deg", "steering_angle", "speed", "action", "progress", "closest_waypoint",
                  "track_len", "all_wheels_on_track", "episode_status", "steps"}


@pytest.mark.parametrize("randomize", [False, True])
def test_passes_the_gymnasium_checker(randomize):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(DeepRacerEnv(track="oval", randomize=randomize, seed=0), skip_render_check=True)
    assert [str(w.message) for w in caught] == []


def test_registered_and_made_through_gymnasium():
    env = gym.make("deepracer.sim.env:DeepRacer-v0", track="oval", randomize=False)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (120, 160, 1) and obs.dtype == np.uint8
    env.close()


def test_discrete_action_space_from_deepracer_metadata(shared):
    path = shared("deepracer-formats", "model_metadata.json")
    meta = ModelMetadata.from_file(path)
    env = DeepRacerEnv(track="oval", metadata=path, randomize=False)
    assert isinstance(env.action_space, gym.spaces.Discrete) and env.action_space.n == len(meta.actions)
    env.reset(seed=0)
    last = len(meta.actions) - 1
    _, _, _, _, info = env.step(last)
    assert info["action"] == last
    assert (info["steering_angle"], info["speed"]) == (meta.actions[last].steering_angle, meta.actions[last].speed)


def test_continuous_actions_are_rescaled_like_the_onnx_decoder(shared):
    env = DeepRacerEnv(track="oval", metadata=shared("deepracer-formats", "model_metadata_cont.json"),
                       randomize=False)
    r = env.continuous
    assert isinstance(env.action_space, gym.spaces.Box) and env.action_space.shape == (2,)
    assert env.decode(np.array([-1.0, -1.0]))[:2] == (r.steering_low, r.speed_low)
    assert env.decode(np.array([1.0, 1.0]))[:2] == (r.steering_high, r.speed_high)
    assert env.decode(np.array([0.0, 0.0]))[:2] == pytest.approx(
        ((r.steering_low + r.steering_high) / 2, (r.speed_low + r.speed_high) / 2))
    assert env.decode(np.array([5.0, -5.0]))[:2] == (r.steering_high, r.speed_low)  # clipped


def test_observation_is_the_simulator_frame():
    env = DeepRacerEnv(track="oval", randomize=False)
    obs, _ = env.reset(seed=1)
    assert np.array_equal(obs[:, :, 0], env.sim.render())
    colour = DeepRacerEnv(track="oval", randomize=False, grayscale=False, width=80, height=60)
    obs, _ = colour.reset(seed=1)
    assert obs.shape == (60, 80, 3) and colour.observation_space.shape == (60, 80, 3)


def test_size_and_colour_follow_the_metadata_onnx_block():
    from deepracer.model.metadata import InputSpec

    meta = ModelMetadata("continuous", continuous=ContinuousRange(-30, 30, 0.5, 2), input=InputSpec(
        height=60, width=80, channels=3, color_order="bgr"))
    env = DeepRacerEnv(track="oval", metadata=meta, randomize=False)
    assert env.observation_space.shape == (60, 80, 3)


def test_off_track_ends_the_episode_after_its_reward():
    calls = []

    def reward(params):
        calls.append(params["is_offtrack"])
        return 1.0

    meta = ModelMetadata("continuous", continuous=ContinuousRange(-30, 30, 1.0, 1.0))
    env = DeepRacerEnv(track="oval", metadata=meta, reward_function=reward, randomize=False, start=0)
    env.reset(seed=0)
    for _ in range(300):
        _, r, terminated, truncated, info = env.step(np.array([1.0, 0.0], np.float32))  # full left
        if terminated or truncated:
            break
    assert terminated and not truncated and info["episode_status"] == "off_track"
    assert calls[-1] is True and calls.count(True) == 1 and r == 1.0
    assert SIM_TRACE_INFO <= set(info)


def test_lap_complete_ends_the_episode_with_the_lap_time():
    from deepracer.sim.pure_pursuit import PurePursuitDriver

    meta = ModelMetadata("continuous", continuous=ContinuousRange(-30, 30, 0.0, 4.0))
    env = DeepRacerEnv(track="oval", metadata=meta, randomize=False, start=0)
    env.reset(seed=0)
    driver = PurePursuitDriver(env.sim.track)
    for _ in range(2000):
        steer, speed = driver.command(env.sim.state)
        _, _, terminated, truncated, info = env.step(np.array([steer / 30, speed / 2 - 1], np.float32))
        if terminated or truncated:
            break
    assert terminated and info["episode_status"] == "lap_complete" and info["progress"] == 100.0
    assert info["lap_time_s"] == pytest.approx(info["steps"] / 15, abs=1e-6)


def test_max_steps_truncates():
    env = DeepRacerEnv(track="oval", randomize=False, max_steps=5, start=0)
    env.reset(seed=0)
    out = [env.step(np.array([0.0, -1.0], np.float32)) for _ in range(5)]
    assert not any(o[3] for o in out[:4]) and out[4][3] and out[4][4]["episode_status"] == "time_up"


def test_start_points_rotate_round_the_track():
    env = DeepRacerEnv(track="oval", randomize=False)
    starts = [env.reset(seed=0 if i == 0 else None)[1]["start_waypoint"] for i in range(4)]
    s = [env.sim.track.cum[w] for w in starts]
    step = ROUND_ROBIN_ADVANCE * env.sim.track.length_m
    assert starts[0] == 0 and len(set(starts)) == 4
    assert np.diff(s) == pytest.approx([step] * 3, abs=env.sim.track.seg_len.max())


def test_same_seed_same_trajectory():
    def run(seed):
        env = DeepRacerEnv(track="hairpins", randomize=True, seed=seed)
        obs, _ = env.reset(seed=seed)
        env.action_space.seed(seed)
        frames, infos = [obs], []
        for _ in range(40):
            obs, reward, term, trunc, info = env.step(env.action_space.sample())
            frames.append(obs)
            infos.append((info["x"], info["y"], reward, info["episode_status"]))
            if term or trunc:
                obs, _ = env.reset()
                frames.append(obs)
        return frames, infos

    f1, i1 = run(3)
    f2, i2 = run(3)
    f3, _ = run(4)
    assert i1 == i2 and all(np.array_equal(a, b) for a, b in zip(f1, f2, strict=True))
    assert not np.array_equal(f1[0], f3[0])


def test_rgb_array_render_mode_shows_the_track():
    env = DeepRacerEnv(track="oval", randomize=False, render_mode="rgb_array")
    env.reset(seed=0)
    img = env.render()
    assert img.ndim == 3 and img.shape[2] == 3 and img.dtype == np.uint8
    assert DeepRacerEnv(track="oval", randomize=False).render() is None

"""The bundled model package drives full laps on every built-in track."""

from __future__ import annotations

import pytest

from deepracer.paths import REPO_ROOT
from deepracer.sim.track import builtin_names

BUNDLED = REPO_ROOT / "models" / "deepracer-default.tar.gz"


@pytest.fixture(scope="module")
def policy():
    from deepracer.model.policy import OnnxPolicy

    if not BUNDLED.is_file():
        pytest.fail(f"{BUNDLED} is missing: see docs/training.md for the command that makes it")
    return OnnxPolicy(str(BUNDLED))


def drive(policy, track: str, randomize: bool, seed: int = 0) -> dict:
    from deepracer.sim import DeepRacerEnv

    env = DeepRacerEnv(track=track, metadata=policy.metadata, randomize=randomize, seed=seed, start=0,
                       max_steps=3000)
    obs, _ = env.reset()
    while True:
        decision = policy.predict(obs[:, :, 0])
        obs, _, terminated, truncated, info = env.step(decision.index)
        if terminated or truncated:
            return info


@pytest.mark.parametrize("track", builtin_names())
def test_bundled_model_completes_a_lap(policy, track):
    info = drive(policy, track, randomize=False)
    assert info["episode_status"] == "lap_complete", f"{track}: {info['episode_status']} at {info['progress']:.0f}%"
    assert 0 < info["lap_time_s"] < 60


@pytest.mark.parametrize("track", builtin_names())
def test_bundled_model_laps_with_randomised_camera_lighting_and_latency(policy, track):
    info = drive(policy, track, randomize=True, seed=3)
    assert info["episode_status"] == "lap_complete", f"{track}: {info['episode_status']} at {info['progress']:.0f}%"


def test_bundled_package_is_small_and_valid():
    from deepracer.model.package import check_model_package

    assert check_model_package(BUNDLED) == []
    assert BUNDLED.stat().st_size < 5 * 1024 * 1024

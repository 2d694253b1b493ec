"""Evaluation during training: the deterministic policy drives full episodes from the start line."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from deepracer.errors import RewardFunctionError


def run_episodes(
    env: Any, predict: Callable[[np.ndarray], Any], episodes: int, stack_size: int = 1, first_seed: int = 0,
    on_step: Callable[[np.ndarray, dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Drive `episodes` episodes; each result has progress (0..100), status, lap_time_s, reward, steps, wall_s.

    `predict` maps the (stacked) observation to an action. Frames are stacked on the last axis,
    newest last, as VecFrameStack does during training. Episode k resets with seed
    first_seed + k, so a randomised environment shows the same conditions at every evaluation.
    `on_step(observation, info)` sees every step (the live view).
    """
    results = []
    if episodes > 0:
        for trial in range(first_seed, first_seed + episodes):
            obs, info = env.reset(seed=trial)
            frames = [obs] * stack_size
            t0 = time.time()
            total, done = 0.0, False
            while not done:
                stacked = np.concatenate(frames, axis=-1) if stack_size > 1 else obs
                obs, reward, terminated, truncated, info = env.step(predict(stacked))
                if stack_size > 1:
                    frames = frames[1:] + [obs]
                if "reward_error" in info:  # see trainer.RewardErrorToInfo
                    raise RewardFunctionError(info["reward_error"])
                total += float(reward)
                done = terminated or truncated
                if on_step is not None:
                    on_step(obs, info)
            status = str(info.get("episode_status", "time_up"))
            if truncated and status == "in_progress":
                status = "time_up"
            results.append({
                "progress": float(info["progress"]), "status": status,
                "lap_time_s": float(info.get("lap_time_s") or 0.0) if status == "lap_complete" else None,
                "reward": total, "steps": int(info.get("steps", 0)), "wall_s": time.time() - t0,
            })
    return results


def score(results: list[dict[str, Any]]) -> tuple[float, float]:
    """Higher is better: mean progress first, then a faster mean lap time."""
    if not results:
        return (0.0, 0.0)
    progress = sum(r["progress"] for r in results) / len(results)
    laps = [r["lap_time_s"] for r in results if r["lap_time_s"]]
    return (round(progress, 1), -sum(laps) / len(laps) if laps else -1e9)

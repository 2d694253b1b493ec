"""Figures of a training or evaluation run (matplotlib, written as PNG files)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepracer.analysis.trackmatch import closed


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; no display needed
    import matplotlib.pyplot as plt

    return plt


def training_curves(
    iterations: pd.DataFrame | None, console: pd.DataFrame | None, out: Path
) -> Path:
    """The console's training chart (reward, training and evaluation completion per iteration),
    beside the same figures computed from the SIM_TRACE logs."""
    plt = _pyplot()
    fig, (ax_r, ax_p) = plt.subplots(1, 2, figsize=(12, 4.5))
    if console is not None and len(console):
        ax_r.plot(console["iteration"], console["reward"], "o-", color="tab:green", label="average reward (metrics)")
        ax_p.plot(console["iteration"], console["training_completion"], "o-", color="tab:blue",
                  label="training completion (metrics)")
        ax_p.plot(console["iteration"], console["evaluation_completion"], "o-", color="tab:red",
                  label="evaluation completion (metrics)")
    if iterations is not None and len(iterations):
        ax_r.plot(iterations["iteration"], iterations["mean_reward"], "--", color="tab:olive",
                  label="average reward (simtrace)")
        ax_p.plot(iterations["iteration"], iterations["mean_progress"], "--", color="tab:cyan",
                  label="average progress (simtrace)")
        ax_p.plot(iterations["iteration"], 100 * iterations["completion_rate"], ":", color="black",
                  label="laps completed % (simtrace)")
    ax_r.set(title="Reward per iteration", xlabel="iteration", ylabel="average reward per episode")
    ax_p.set(title="Completion per iteration", xlabel="iteration", ylabel="%", ylim=(0, 105))
    for ax in (ax_r, ax_p):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def _draw_track(ax: Any, track: Any | None) -> None:
    if track is None:
        return
    for line in (track.inner, track.outer):
        pts = closed(line)
        ax.plot(pts[:, 0], pts[:, 1], "-", color="black", linewidth=1.2, zorder=3)
    pts = closed(track.center)
    ax.plot(pts[:, 0], pts[:, 1], "--", color="0.7", linewidth=0.6, zorder=0)  # under the trajectories


def trajectories(
    steps: pd.DataFrame, track: Any | None, value: str, out: Path, title: str, cmap: str = "viridis",
    discrete: bool = False,
) -> Path:
    """Positions on the track coloured by `value` (speed, action, reward)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 7))
    _draw_track(ax, track)
    data = steps[steps["episode_status"] != "prepare"]
    colours = data[value].to_numpy(dtype=float)
    size = float(np.clip(20000 / max(len(data), 1), 1, 6))  # dense training clouds small, a few laps visible
    if value == "reward" and len(colours):  # a few huge bonuses would flatten the scale
        colours = np.clip(colours, None, np.percentile(colours, 99))
    if discrete:
        n = int(max(colours.max(), 0)) + 1 if len(colours) else 1
        sc = ax.scatter(data["x"], data["y"], c=colours, s=size, alpha=0.6, cmap=plt.get_cmap("tab20", n),
                        vmin=-0.5, vmax=n - 0.5)
    else:
        sc = ax.scatter(data["x"], data["y"], c=colours, s=size, alpha=0.6, cmap=cmap)
    fig.colorbar(sc, ax=ax, label=value)
    ax.set_aspect("equal")
    ax.set(title=title, xlabel="x (m)", ylabel="y (m)")
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def action_labels(metadata: dict[str, Any] | None) -> dict[int, str]:
    if not metadata or metadata.get("action_space_type", "discrete") != "discrete":
        return {}
    labels = {}
    for i, a in enumerate(metadata.get("action_space") or []):
        try:
            labels[int(a.get("index", i))] = f"{float(a['steering_angle']):g}° {float(a['speed']):g} m/s"
        except (KeyError, TypeError, ValueError):
            continue
    return labels


def action_histogram(steps: pd.DataFrame, metadata: dict[str, Any] | None, out: Path, title: str) -> Path:
    """How often each action was taken (discrete), or steering x speed (continuous)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 4.5))
    data = steps[steps["episode_status"] != "prepare"]
    if (data["action"] >= 0).any():
        counts = data["action"].value_counts().sort_index()
        labels = action_labels(metadata)
        index = sorted(set(counts.index) | set(labels))
        values = [int(counts.get(i, 0)) for i in index]
        ax.bar(range(len(index)), values, color="tab:blue")
        ax.set_xticks(range(len(index)), [f"{i}\n{labels.get(i, '')}" for i in index], fontsize=7)
        ax.set(xlabel="action", ylabel="steps")
    else:
        h = ax.hist2d(data["steering_angle"], data["speed"], bins=(21, 10), cmap="Blues")
        fig.colorbar(h[3], ax=ax, label="steps")
        ax.set(xlabel="steering angle (°)", ylabel="speed (m/s)")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out

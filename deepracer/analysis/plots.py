"""Figures of a training or evaluation run (matplotlib, written as PNG files).

Every figure over the track draws the track to scale (road, borders, centre line, start
line and the driving direction). Tens of thousands of training positions are binned into
small cells (the mean value, or the most used action, per cell) so the map stays readable;
a few laps are drawn as lines, one colour per lap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepracer.analysis.trackmatch import closed

SCATTER_LIMIT = 4000  # above this many positions a map shows binned cells, not points
CELL_M = 0.06  # binned cell size: about a car width / 3
MIN_CELL_COUNT = 2  # positions a cell needs to be drawn
DPI = 100


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; no display needed
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, out: Path) -> Path:
    fig.savefig(out, dpi=DPI)
    _pyplot().close(fig)
    return out


# -- the console's training graph ------------------------------------------------------
def training_graph(console: pd.DataFrame | None, iterations: pd.DataFrame | None, out: Path) -> Path:
    """The console's reward graph: average reward (left axis), average training and evaluation
    completion % (right axis) per iteration. From TrainingMetrics.json when the run has it,
    otherwise from the simtrace (no evaluation line then)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 4.6), layout="constrained")
    ax2 = ax.twinx()
    source = "TrainingMetrics.json"
    if console is not None and len(console):
        x, reward = console["iteration"], console["reward"]
        train, evaluation = console["training_completion"], console["evaluation_completion"]
    else:
        source = "simtrace"
        x, reward, train = iterations["iteration"], iterations["mean_reward"], iterations["mean_progress"]
        evaluation = None
    lines = [ax.plot(x, reward, "o-", ms=3, color="tab:green", label="Average reward")[0],
             ax2.plot(x, train, "o-", ms=3, color="tab:blue", label="Average percentage completion (training)")[0]]
    if evaluation is not None and evaluation.notna().any():
        lines.append(ax2.plot(x, evaluation, "o-", ms=3, color="tab:red",
                              label="Average percentage completion (evaluation)")[0])
    ax.set(xlabel="Iteration", ylabel="Reward")
    ax2.set(ylabel="Percentage track completion", ylim=(0, 105))
    ax.grid(alpha=0.3)
    ax.set_title(f"Reward graph (from {source})")
    ax.legend(handles=lines, loc="upper left", fontsize=8)
    return _save(fig, out)


def simtrace_curves(iterations: pd.DataFrame, out: Path) -> Path:
    """Per iteration from the simtrace: reward (mean ± std), progress and completed laps, lap times."""
    plt = _pyplot()
    fig, (ax_r, ax_p, ax_t) = plt.subplots(1, 3, figsize=(14, 4.2), layout="constrained")
    it = iterations["iteration"]
    ax_r.plot(it, iterations["mean_reward"], "-", color="tab:green", label="mean")
    ax_r.fill_between(it, iterations["mean_reward"] - iterations["std_reward"].fillna(0),
                      iterations["mean_reward"] + iterations["std_reward"].fillna(0), color="tab:green", alpha=0.2,
                      label="± std")
    ax_r.set(title="Reward per episode", xlabel="Iteration", ylabel="reward")
    ax_p.plot(it, iterations["mean_progress"], "-", color="tab:blue", label="mean progress")
    ax_p.plot(it, 100 * iterations["completion_rate"], "-", color="black", label="laps completed")
    ax_p.set(title="Progress and completed laps", xlabel="Iteration", ylabel="% of episodes / of the lap", ylim=(0, 105))
    if iterations["best_lap_time"].notna().any():
        ax_t.plot(it, iterations["best_lap_time"], "o", ms=4, color="tab:purple", label="best lap")
        ax_t.plot(it, iterations["mean_lap_time"], "-", color="tab:purple", alpha=0.5, label="mean lap")
        ax_t.legend(fontsize=8)
    else:
        ax_t.text(0.5, 0.5, "no completed lap in training", ha="center", va="center", transform=ax_t.transAxes)
    ax_t.set(title="Lap time of completed laps", xlabel="Iteration", ylabel="s")
    for ax in (ax_r, ax_p):
        ax.legend(fontsize=8)
    for ax in (ax_r, ax_p, ax_t):
        ax.grid(alpha=0.3)
    return _save(fig, out)


# -- the track ---------------------------------------------------------------------------
def _figure_for_track(track: Any | None, steps: pd.DataFrame, width_in: float = 10.0) -> tuple[Any, Any]:
    """A figure whose map area has the track's aspect ratio (room on the right for a colour bar)."""
    plt = _pyplot()
    if track is not None:
        x0, y0, x1, y1 = track.bounds
    elif len(steps):
        x0, y0, x1, y1 = steps["x"].min(), steps["y"].min(), steps["x"].max(), steps["y"].max()
    else:
        x0, y0, x1, y1 = 0.0, 0.0, 1.0, 1.0
    aspect = (y1 - y0 + 0.4) / max(x1 - x0 + 0.4, 1e-6)
    map_w = width_in - 1.6
    height = float(np.clip(map_w * aspect + 1.0, 3.5, 11.0))
    fig, ax = plt.subplots(figsize=(width_in, height), layout="constrained")
    ax.set_aspect("equal")
    ax.set_xlim(x0 - 0.2, x1 + 0.2)
    ax.set_ylim(y0 - 0.2, y1 + 0.2)
    ax.set(xlabel="x (m)", ylabel="y (m)")
    return fig, ax


def draw_track(ax: Any, track: Any | None) -> None:
    """Road (grey), borders, dashed centre line, start line and an arrow in the driving direction."""
    if track is None:
        return
    from matplotlib.patches import FancyArrowPatch, PathPatch
    from matplotlib.path import Path as MplPath

    outer, inner = closed(track.outer), closed(track.inner)
    # road = outer border with the inner border as a hole (opposite winding)
    o = outer if _area(outer) > 0 else outer[::-1]
    i = inner if _area(inner) < 0 else inner[::-1]
    verts = np.concatenate([o, i])
    codes = np.full(len(verts), MplPath.LINETO)
    codes[0] = codes[len(o)] = MplPath.MOVETO
    ax.add_patch(PathPatch(MplPath(verts, codes), facecolor="0.88", edgecolor="none", zorder=0))
    for line in (outer, inner):
        ax.plot(line[:, 0], line[:, 1], "-", color="0.15", linewidth=1.2, zorder=4)
    c = closed(track.center)
    ax.plot(c[:, 0], c[:, 1], "--", color="0.55", linewidth=0.7, zorder=1)
    ax.plot([track.inner[0, 0], track.outer[0, 0]], [track.inner[0, 1], track.outer[0, 1]], "-",
            color="tab:red", linewidth=3, zorder=5, solid_capstyle="butt")
    ahead = int(np.searchsorted(track.cum, min(0.6, track.length_m / 10)))
    ax.add_patch(FancyArrowPatch(tuple(track.center[0]), tuple(track.center[max(ahead, 1)]), arrowstyle="-|>",
                                 mutation_scale=18, color="tab:red", linewidth=2, zorder=6))


def _area(points: np.ndarray) -> float:
    x, y = points[:, 0], points[:, 1]
    return float(0.5 * np.sum(x[:-1] * y[1:] - x[1:] * y[:-1]))


def _track_title(title: str, track: Any | None) -> str:
    if track is None:
        return f"{title}\ntrack not recognised: positions only"
    direction = getattr(getattr(track, "direction", None), "value", "")
    return f"{title}\n{track.base_name if hasattr(track, 'base_name') else track.name}" + (f", {direction}" if direction else "")


def _colourbar(fig: Any, ax: Any, mappable: Any, label: str) -> Any:
    """A colour bar as tall as the map, not the figure, in a margin kept free for it."""
    from mpl_toolkits.axes_grid1.inset_locator import inset_axes

    fig.get_layout_engine().set(rect=(0, 0, 0.88, 1))

    cax = inset_axes(ax, width="3%", height="100%", loc="lower left", bbox_to_anchor=(1.02, 0.0, 1, 1),
                     bbox_transform=ax.transAxes, borderpad=0)
    return fig.colorbar(mappable, cax=cax, label=label)


def trajectory_map(steps: pd.DataFrame, track: Any | None, value: str, out: Path, title: str, unit: str,
                   cmap: str = "turbo", discrete_labels: dict[int, str] | None = None) -> Path:
    """Positions on the track coloured by `value`. Many positions: mean per cell (the most used
    action per cell with `discrete_labels`); few: points."""
    plt = _pyplot()
    data = steps[steps["episode_status"] != "prepare"]
    fig, ax = _figure_for_track(track, data)
    draw_track(ax, track)
    values = data[value].to_numpy(dtype=float)
    x, y = data["x"].to_numpy(float), data["y"].to_numpy(float)
    vmin = vmax = None
    if value == "reward" and len(values):  # a few huge bonuses would flatten the scale
        vmin, vmax = np.percentile(values, 1), np.percentile(values, 99)
    norm = None
    if discrete_labels is not None:
        keys = sorted(set(discrete_labels) | {int(v) for v in np.unique(values) if v >= 0})
        from matplotlib.colors import BoundaryNorm, ListedColormap

        base = plt.get_cmap("tab20" if len(keys) > 10 else "tab10")
        colours = ListedColormap([base(i % base.N) for i in range(len(keys))])
        position = {k: i for i, k in enumerate(keys)}
        values = np.array([position.get(int(v), -1) for v in values], dtype=float)
        keep = values >= 0
        x, y, values = x[keep], y[keep], values[keep]
        norm = BoundaryNorm(np.arange(len(keys) + 1) - 0.5, len(keys))
        cmap_obj: Any = colours
    else:
        cmap_obj = plt.get_cmap(cmap)
    if len(values) > SCATTER_LIMIT:
        mappable = _binned(ax, x, y, values, cmap_obj, norm, vmin, vmax, mode=discrete_labels is not None)
        note = (f"{len(values):,} positions, {'most used' if discrete_labels is not None else 'mean'} per "
                f"{CELL_M * 100:.0f} cm cell")
    else:
        mappable = ax.scatter(x, y, c=values, s=9, cmap=cmap_obj, norm=norm, vmin=None if norm else vmin,
                              vmax=None if norm else vmax, linewidths=0, zorder=3)
        note = f"{len(values):,} positions"
    cb = _colourbar(fig, ax, mappable, unit)
    if discrete_labels is not None:
        cb.set_ticks(range(len(keys)), labels=[discrete_labels.get(k, f"action {k}") for k in keys])
        cb.ax.tick_params(labelsize=7)
    ax.set_title(_track_title(title, track) + f" — {note}", fontsize=10)
    return _save(fig, out)


def _binned(ax: Any, x: np.ndarray, y: np.ndarray, values: np.ndarray, cmap: Any, norm: Any, vmin: Any, vmax: Any,
            mode: bool) -> Any:
    """Cells of CELL_M metres: the mean value (or the most frequent one, `mode`) of the positions in each."""
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    nx, ny = int(np.ceil((x1 - x0) / CELL_M)), int(np.ceil((y1 - y0) / CELL_M))
    ix = np.clip(((x - x0) / CELL_M).astype(int), 0, nx - 1)
    iy = np.clip(((y - y0) / CELL_M).astype(int), 0, ny - 1)
    frame = pd.DataFrame({"ix": ix, "iy": iy, "v": values})
    g = frame.groupby(["ix", "iy"])["v"]
    cells = g.mean().reset_index()
    cells = cells[g.size().to_numpy() >= MIN_CELL_COUNT]  # a lone position is noise, not a pattern
    if mode:  # the most frequent value per cell, vectorised
        counts = frame.groupby(["ix", "iy", "v"]).size().reset_index(name="n")
        top = counts.sort_values("n", ascending=False, kind="stable").drop_duplicates(["ix", "iy"])
        cells = cells[["ix", "iy"]].merge(top[["ix", "iy", "v"]], on=["ix", "iy"])
    grid = np.full((ny, nx), np.nan)
    grid[cells["iy"].to_numpy(), cells["ix"].to_numpy()] = cells["v"].to_numpy()
    xe, ye = x0 + CELL_M * np.arange(nx + 1), y0 + CELL_M * np.arange(ny + 1)
    return ax.pcolormesh(xe, ye, np.ma.masked_invalid(grid), cmap=cmap, norm=norm, vmin=None if norm else vmin,
                         vmax=None if norm else vmax, zorder=3, shading="flat")


def lap_lines(steps: pd.DataFrame, track: Any | None, groups: list[tuple[str, pd.DataFrame]], out: Path, title: str,
              colour_values: list[float] | None = None, colour_label: str = "") -> Path:
    """A few laps or trials as lines: one colour each with a legend, or coloured by a value."""
    plt = _pyplot()
    fig, ax = _figure_for_track(track, steps)
    draw_track(ax, track)
    if colour_values is not None and groups:
        from matplotlib.colors import Normalize

        norm = Normalize(min(colour_values), max(colour_values) if max(colour_values) > min(colour_values) else min(colour_values) + 1)
        cmap = plt.get_cmap("viridis")
        for (_, g), v in zip(groups, colour_values, strict=True):
            ax.plot(g["x"], g["y"], "-", color=cmap(norm(v)), linewidth=1.0, alpha=0.8, zorder=3)
        from matplotlib.cm import ScalarMappable

        _colourbar(fig, ax, ScalarMappable(norm=norm, cmap=cmap), colour_label)
    else:
        colours = plt.get_cmap("tab10")
        for k, (label, g) in enumerate(groups):
            ax.plot(g["x"], g["y"], "-", color=colours(k % 10), linewidth=1.6, alpha=0.9, zorder=3, label=label)
        if groups:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    if not groups:
        ax.text(0.5, 0.5, "nothing to draw", ha="center", va="center", transform=ax.transAxes)
    ax.set_title(_track_title(title, track), fontsize=10)
    return _save(fig, out)


# -- actions ---------------------------------------------------------------------------
def action_labels(metadata: dict[str, Any] | None) -> dict[int, str]:
    """Action index -> "−30° 1.2 m/s" from a discrete action space."""
    if not metadata or str(metadata.get("action_space_type", "discrete")).lower() != "discrete":
        return {}
    labels = {}
    for i, a in enumerate(metadata.get("action_space") or []):
        try:
            angle, speed = round(float(a["steering_angle"]), 1), round(float(a["speed"]), 2)
            labels[int(a.get("index", i))] = (f"{angle:+g}°" if angle else "0°").replace("-", "−") + f" {speed:g} m/s"
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
    return labels


def action_histogram(steps: pd.DataFrame, metadata: dict[str, Any] | None, out: Path, title: str) -> Path:
    """Share of steps per action, labelled with its steering angle and speed (discrete), or a
    steering × speed histogram (continuous)."""
    plt = _pyplot()
    data = steps[steps["episode_status"] != "prepare"]
    labels = action_labels(metadata)
    if (data["action"] >= 0).any():
        counts = data["action"].value_counts()
        index = sorted(set(int(i) for i in counts.index if i >= 0) | set(labels))
        share = np.array([int(counts.get(i, 0)) for i in index], dtype=float)
        share = 100 * share / max(share.sum(), 1)
        fig, ax = plt.subplots(figsize=(max(6.0, 0.75 * len(index) + 2), 4.5), layout="constrained")
        bars = ax.bar(range(len(index)), share, color="tab:blue")
        ax.bar_label(bars, labels=[f"{v:.1f} %" for v in share], fontsize=7)
        names = [labels.get(i, f"action {i}").replace(" ", "\n", 1) for i in index]
        ax.set_xticks(range(len(index)), names, fontsize=8)
        ax.set(xlabel="action: steering angle, speed", ylabel="% of steps")
    else:
        fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
        h = ax.hist2d(data["steering_angle"], data["speed"], bins=(21, 10), cmap="Blues")
        fig.colorbar(h[3], ax=ax, label="steps")
        ax.set(xlabel="steering angle (°)", ylabel="speed (m/s)")
    ax.set_title(title)
    return _save(fig, out)

"""`deepracer analyze`: figures, tables, an HTML page and summary.json from one log folder.

The page reads like the console's model page: a headline (track, episodes, iterations,
best lap, completion in training and evaluation) in words and rounded numbers with units,
the console's reward graph first, every trajectory over the track drawn to scale, and
per-lap/per-episode tables that sort on a click (a few lines of inline script; without
script they are plain tables). No CDN, no build step: the folder can be opened from disk.
"""

from __future__ import annotations

import html
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepracer.analysis import plots
from deepracer.analysis.logs import (
    LogSet,
    episode_table,
    iteration_table,
    load_logs,
    metrics_curves,
)
from deepracer.analysis.trackmatch import (
    Match,
    candidates,
    driven_direction,
    fit,
    length_agrees,
    recognise,
)
from deepracer.errors import TrackError
from deepracer.sim.track_library import resolve


def _clean(value: Any) -> Any:
    """JSON-safe and readable: numpy scalars to Python, NaN to None, floats to 4 decimals."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else None
    return value


# -- the track ---------------------------------------------------------------------------
def _positions(logs: LogSet) -> tuple[pd.DataFrame | None, np.ndarray, np.ndarray | None]:
    steps = logs.training if logs.training is not None else logs.evaluation
    if steps is None:
        return None, np.empty((0, 2)), None
    steps = steps[steps["episode_status"] != "prepare"]
    group = steps["unique_episode"] if "unique_episode" in steps else steps["stream"].astype(str) + "/" + steps["episode"].astype(str)
    return steps, steps[["x", "y"]].to_numpy(float), pd.factorize(group)[0]


def find_track(logs: LogSet, track: str | None, track_dirs: list[Path]) -> Match | None:
    """The track (in the direction driven) and how well the positions fit it: given with
    --track, recorded in the run (WORLD_NAME, evaluation.json), or recognised among the
    built-in, imported and --tracks-dir tracks. None when nothing fits."""
    steps, xy, episode = _positions(logs)
    track_len = float(steps["track_len"].median()) if steps is not None and steps["track_len"].notna().any() else None

    def matched(t: Any, how: str) -> Match:
        if not len(xy):
            return Match(t, fit(t, t.center)[0], how)
        t = t.in_direction(driven_direction(t, xy, episode))
        return Match(t, fit(t, xy[:: max(1, len(xy) // 20000)])[0], how)

    if track:
        return matched(resolve(track), "given")
    pool = candidates(track_dirs)
    if logs.track_name:
        named = next((t for t in pool if t.name == logs.track_name), None)
        if named is None:
            try:
                named = resolve(logs.track_name)
            except TrackError:
                named = None  # a DeepRacer world we do not have: recognise it instead
        if named is not None and length_agrees(named, track_len):
            m = matched(named, "recorded in the logs")
            if m.fit.mean_distance_m <= named.width_m / 2:
                return m
    found = recognise(xy, track_len, pool)
    return matched(found[0], "recognised from the trajectory") if found else None


# -- tables ------------------------------------------------------------------------------
def lap_table(episodes: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Completed laps: one row per episode that reached 100 % progress."""
    laps = episodes[episodes["progress"] >= 100].copy()
    keep = [c for c in ("iteration", "stream", "episode", "unique_episode", "steps", "time", "speed", "reward",
                        "off_track") if c in laps]
    laps = laps[keep].rename(columns={"time": "lap_time_s", "speed": "mean_speed"})
    laps.insert(0, "kind", kind)
    return laps.reset_index(drop=True)


def _lap_stats(laps: pd.DataFrame) -> dict[str, Any]:
    return {
        "laps": len(laps),
        "best_lap_time_s": float(laps["lap_time_s"].min()) if len(laps) else None,
        "mean_lap_time_s": float(laps["lap_time_s"].mean()) if len(laps) else None,
    }


def _run_label(stream: str) -> str:
    """`evaluation-20220709200242` -> `2022-07-09 20:02:42`."""
    m = re.search(r"(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})", stream)
    return f"{m[1]}-{m[2]}-{m[3]} {m[4]}:{m[5]}:{m[6]}" if m else stream


@dataclass
class Figure:
    title: str
    path: Path
    caption: str = ""


@dataclass
class Table:
    title: str
    path: Path
    frame: pd.DataFrame
    note: str = ""


@dataclass
class Report:
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)


# -- analyze -----------------------------------------------------------------------------
def analyze(
    logdir: str | Path, out: str | Path, track: str | None = None, track_dirs: list[Path] | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """Write figures, CSV tables, index.html and summary.json to `out`; return the summary."""
    out = Path(out)
    logs = load_logs(logdir, quiet=quiet)
    out.mkdir(parents=True, exist_ok=True)
    match = find_track(logs, track, list(track_dirs or []))
    the_track = match.track if match else None
    rep = Report()
    summary: dict[str, Any] = {
        "logdir": str(logdir),
        "sources": [str(p) for p in logs.sources],
        "track": the_track.name if the_track is not None else None,  # resolvable: `--track` takes it back
        "track_route": the_track.base_name if the_track is not None else None,  # without a direction suffix
        "track_direction": the_track.direction.value if the_track is not None else None,
        "track_found": match.how if match else "unknown",
        "track_fit": match.fit.to_json() if match else None,
        "track_length_m": the_track.length_m if the_track is not None else None,
        "track_width_m": the_track.width_m if the_track is not None else None,
        "episodes": 0,
        "iterations": 0,
    }
    labels = plots.action_labels(logs.model_metadata)
    iterations = None
    all_laps = []
    console = metrics_curves(logs)
    if logs.training is not None:
        train = logs.training
        episodes = episode_table(train)
        iterations = iteration_table(episodes)
        laps = lap_table(episodes, "training")
        all_laps.append(laps)
        rep.tables += [Table("Training episodes", out / "training_episodes.csv", episodes),
                       Table("Training iterations", out / "training_iterations.csv", iterations)]
        summary.update({
            "episodes": len(episodes),
            "iterations": int(episodes["iteration"].nunique()),
            "episodes_per_iteration": logs.episodes_per_iteration,
            "steps": len(train),
            "mean_reward": float(episodes["reward"].mean()),
            "mean_progress": float(episodes["progress"].mean()),
            "completion_rate": float(episodes["complete"].mean()),
            "training": _lap_stats(laps),
        })
        rep.figures += [
            Figure("Reward graph", plots.training_graph(console, iterations, out / "training_curves.png"),
                   "as in the console: average reward (left axis) and average completion % in training"
                   + (" and evaluation (right axis) per iteration, from TrainingMetrics.json" if console is not None
                      else " (right axis) per iteration, from the simtrace: the run has no TrainingMetrics.json, "
                           "so no per-iteration evaluation line")),
            Figure("Training progress from the simtrace", plots.simtrace_curves(iterations, out / "simtrace_curves.png"),
                   "per iteration, computed from the step logs: reward per episode, progress and completed laps, "
                   "lap times"),
            Figure("Speed on track (training)", plots.trajectory_map(
                train, the_track, "speed", out / "track_speed.png", "Training: speed", "speed (m/s)", "turbo")),
            Figure("Reward on track (training)", plots.trajectory_map(
                train, the_track, "reward", out / "track_reward.png", "Training: reward per step", "reward", "magma"),
                "colour scale from the 1st to the 99th percentile of the step rewards"),
            Figure("Action on track (training)", plots.trajectory_map(
                train, the_track, "action", out / "track_action.png", "Training: action", "action",
                discrete_labels=labels) if (train["action"] >= 0).any() else plots.trajectory_map(
                train, the_track, "steering_angle", out / "track_action.png", "Training: steering angle",
                "steering angle (°)", "coolwarm")),
            _training_laps(train, episodes, the_track, out),
            Figure("Action usage (training)", plots.action_histogram(
                train, logs.model_metadata, out / "action_histogram.png", "Action usage (training)")),
        ]
    elif console is not None:
        rep.figures.append(Figure("Reward graph", plots.training_graph(console, None, out / "training_curves.png")))
    if console is not None:
        rep.tables.append(Table("Training metrics per iteration (console chart)", out / "training_metrics.csv", console))
        summary["metrics"] = {
            "iterations": len(console),
            "final_reward": console["reward"].iloc[-1],
            "final_training_completion": console["training_completion"].iloc[-1],
            "best_evaluation_completion": console["evaluation_completion"].max(),
        }
    if logs.evaluation is not None:
        ev_steps = logs.evaluation
        ev = episode_table(ev_steps, is_eval=True)
        laps = lap_table(ev, "evaluation")
        all_laps.append(laps)
        rep.tables.append(Table("Evaluation trials", out / "evaluation_episodes.csv", ev))
        summary["evaluation"] = {
            "runs": int(ev["stream"].nunique()),
            "trials": len(ev),
            "mean_progress": float(ev["progress"].mean()),
            "off_track": int(ev["off_track"].sum()),
            **_lap_stats(laps),
        }
        rep.figures += [_evaluation_laps(ev_steps, ev, the_track, out),
                        Figure("Speed on track (evaluation)", plots.trajectory_map(
                            ev_steps, the_track, "speed", out / "evaluation_speed.png", "Evaluation: speed",
                            "speed (m/s)", "turbo"))]
        if logs.training is None:
            rep.figures.append(Figure("Action usage (evaluation)", plots.action_histogram(
                ev_steps, logs.model_metadata, out / "action_histogram.png", "Action usage (evaluation)")))
    if all_laps:
        rep.tables.insert(0, Table("Completed laps", out / "laps.csv", pd.concat(all_laps, ignore_index=True)))
    for t in rep.tables:
        t.frame.to_csv(t.path, index=False)
    summary["figures"] = [f.path.name for f in rep.figures]
    summary["tables"] = [t.path.name for t in rep.tables]
    summary = _clean(summary)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    from deepracer.analysis.report_html import write_html

    write_html(out / "index.html", summary, rep, headline(summary))
    return summary


def _training_laps(train: pd.DataFrame, episodes: pd.DataFrame, track: Any, out: Path) -> Figure:
    """Completed laps coloured by iteration, or the last iteration's episodes when none completed."""
    path = out / "training_laps.png"
    steps = train[train["episode_status"] != "prepare"]
    done = episodes[episodes["complete"] == 1]
    if len(done):
        chosen = done.sort_values("unique_episode").tail(60)  # the most recent laps, readable as lines
        groups = [(str(e), steps[steps["unique_episode"] == e]) for e in chosen["unique_episode"]]
        plots.lap_lines(steps, track, groups, path, f"Training: completed laps ({len(chosen)} of {len(done)})",
                        colour_values=[float(i) for i in chosen["iteration"]], colour_label="iteration")
        return Figure("Completed laps (training)", path, "each completed training lap as a line, coloured by "
                      "iteration (the most recent 60)")
    last = int(episodes["iteration"].max())
    chosen = episodes[episodes["iteration"] == last]
    groups = [(f"episode {int(r.unique_episode)}: {r.progress:.0f} %", steps[steps["unique_episode"] == r.unique_episode])
              for r in chosen.itertuples()]
    plots.lap_lines(steps, track, groups[:10], path, f"Training: episodes of iteration {last} (no lap completed)")
    return Figure("Last iteration's episodes (training)", path, "no training episode completed a lap; the last "
                  "iteration's episodes (first 10) as lines")


def _evaluation_laps(steps: pd.DataFrame, ev: pd.DataFrame, track: Any, out: Path) -> Figure:
    """Each evaluation trial as a line, one colour per trial, labelled with its outcome."""
    path = out / "evaluation_laps.png"
    steps = steps[steps["episode_status"] != "prepare"]
    runs = {s: i + 1 for i, s in enumerate(sorted(ev["stream"].unique()))}
    groups = []
    for r in ev.itertuples():
        outcome = f"lap {r.time:.2f} s" if r.progress >= 100 else f"{r.status.replace('_', ' ')} at {r.progress:.0f} %"
        label = (f"run {runs[r.stream]} " if len(runs) > 1 else "") + f"trial {int(r.episode) + 1}: {outcome}"
        groups.append((label, steps[(steps["stream"] == r.stream) & (steps["episode"] == r.episode)]))
    plots.lap_lines(steps, track, groups, path, "Evaluation: one colour per trial")
    return Figure("Evaluation trials", path, "each evaluation trial as a line, one colour per trial")


# -- the headline ----------------------------------------------------------------------
POOR_FIT = 0.5  # share of positions on the track below which the headline warns


def fmt(value: Any, unit: str = "", decimals: int = 1) -> str:
    """A number as a person reads it; '—' for a missing one."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        text = f"{int(value):,}"
    else:
        text = f"{float(value):,.{decimals}f}"
    return f"{text} {unit}".strip() if unit not in ("%",) else f"{text} %"


def headline(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, sentence) rows of the summary: what a person reads first."""
    rows: list[tuple[str, str]] = []
    if summary.get("track"):
        f = summary.get("track_fit") or {}
        direction = (summary.get("track_direction") or "").replace("counterclockwise", "counter-clockwise")
        fit_text = ""
        if f and f.get("points", 0) > 0:
            fit_text = (f": {fmt(f.get('mean_distance_m'), 'm', 2)} mean distance from the centre line, "
                        f"{fmt(100 * (f.get('on_track_fraction') or 0), '%', 1)} of positions on the track")
            if (f.get("on_track_fraction") or 0) < POOR_FIT:
                fit_text += " — the positions do not fit this track: check --track"
        name = summary.get("track_route") or summary["track"]
        rows.append(("Track", f"{name}, {direction} — {fmt(summary.get('track_length_m'), 'm', 2)} long, "
                              f"{fmt(summary.get('track_width_m'), 'm', 2)} wide ({summary['track_found']}{fit_text})"))
    else:
        rows.append(("Track", "not recognised — import the route with `deepracer tracks import` or pass "
                              "--track / --tracks-dir; trajectories are drawn without the track"))
    if summary.get("episodes"):
        rows.append(("Training", f"{fmt(summary['episodes'])} episodes in {fmt(summary['iterations'])} iterations "
                                 f"({fmt(summary.get('episodes_per_iteration'))} per iteration), "
                                 f"{fmt(summary.get('steps'))} steps"))
    best = []
    tr, ev = summary.get("training") or {}, summary.get("evaluation") or {}
    if tr:
        best.append(f"training {fmt(tr.get('best_lap_time_s'), 's', 3)}" if tr.get("laps") else "no training lap completed")
    if ev:
        best.append(f"evaluation {fmt(ev.get('best_lap_time_s'), 's', 3)}" if ev.get("laps") else "no evaluation lap completed")
    if best:
        rows.append(("Best lap", ", ".join(best)))
    done = []
    if summary.get("episodes"):
        done.append(f"training {fmt(100 * summary['completion_rate'], '%', 1)} of episodes completed a lap "
                    f"({fmt(tr.get('laps', 0))} laps), mean progress {fmt(summary.get('mean_progress'), '%', 1)}")
    if ev:
        done.append(f"evaluation {fmt(ev['laps'])} of {fmt(ev['trials'])} trials completed "
                    f"({fmt(100 * ev['laps'] / max(ev['trials'], 1), '%', 0)}), mean progress "
                    f"{fmt(ev.get('mean_progress'), '%', 1)}")
    if done:
        rows.append(("Completion", "; ".join(done)))
    if summary.get("episodes"):
        rows.append(("Reward", f"{fmt(summary.get('mean_reward'), '', 1)} per episode on average"))
    m = summary.get("metrics")
    if m:
        rows.append(("Console metrics", f"last iteration: reward {fmt(m.get('final_reward'), '', 1)}, training completion "
                                        f"{fmt(m.get('final_training_completion'), '%', 1)}; best evaluation completion "
                                        f"{fmt(m.get('best_evaluation_completion'), '%', 1)}"))
    if ev:
        rows.append(("Evaluation", f"{fmt(ev['trials'])} trials in {fmt(ev['runs'])} run{'s' if ev['runs'] != 1 else ''}, "
                                   f"{fmt(ev.get('off_track'))} off-track, mean lap {fmt(ev.get('mean_lap_time_s'), 's', 3)}"))
    return rows


def html_escape(text: Any) -> str:
    return html.escape(str(text))

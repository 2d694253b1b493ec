"""`deepracer analyze`: figures, tables, an HTML page and summary.json from one log folder."""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from deepracer.analysis import plots
from deepracer.analysis.logs import (
    LogSet,
    episode_table,
    iteration_table,
    load_logs,
    metrics_curves,
)
from deepracer.analysis.trackmatch import builtin_tracks, load_any_track, recognise, tracks_in


def _clean(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python, NaN to None."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def find_track(logs: LogSet, track: str | None, track_dirs: list[Path]) -> tuple[Any | None, str]:
    """(track or None, how it was found): given, recorded in the run, or recognised from positions."""
    if track:
        return load_any_track(track), "given"
    candidates = builtin_tracks()
    for folder in track_dirs:
        candidates += tracks_in(folder)
    if logs.track_name:
        for t in candidates:
            if t.name == logs.track_name:
                return t, "recorded in the logs"
        try:
            return load_any_track(logs.track_name), "recorded in the logs"
        except Exception:  # a DeepRacer world we do not ship: recognise it instead
            pass
    steps = logs.training if logs.training is not None else logs.evaluation
    if steps is None or not candidates:
        return None, "unknown"
    found = recognise(steps[["x", "y"]].to_numpy(float), float(steps["track_len"].median()), candidates)
    return (found, "recognised from the trajectory") if found is not None else (None, "unknown")


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


def analyze(
    logdir: str | Path, out: str | Path, track: str | None = None, track_dirs: list[Path] | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """Write figures, CSV tables, index.html and summary.json to `out`; return the summary."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    logs = load_logs(logdir, quiet=quiet)
    the_track, how = find_track(logs, track, list(track_dirs or []))
    figures: list[tuple[str, Path]] = []
    tables: list[tuple[str, Path, pd.DataFrame]] = []
    summary: dict[str, Any] = {
        "logdir": str(logdir),
        "sources": [str(p) for p in logs.sources],
        "track": getattr(the_track, "name", None),
        "track_found": how,
        "episodes": 0,
        "iterations": 0,
    }
    iterations = None
    all_laps = []
    if logs.training is not None:
        episodes = episode_table(logs.training)
        iterations = iteration_table(episodes)
        laps = lap_table(episodes, "training")
        all_laps.append(laps)
        tables += [("Training episodes", out / "training_episodes.csv", episodes),
                   ("Training iterations", out / "training_iterations.csv", iterations)]
        summary.update({
            "episodes": len(episodes),
            "iterations": int(episodes["iteration"].nunique()),
            "episodes_per_iteration": logs.episodes_per_iteration,
            "steps": len(logs.training),
            "mean_reward": float(episodes["reward"].mean()),
            "mean_progress": float(episodes["progress"].mean()),
            "completion_rate": float(episodes["complete"].mean()),
            "training": _lap_stats(laps),
        })
        figures += [
            ("Speed on track (training)", plots.trajectories(logs.training, the_track, "speed",
                                                             out / "track_speed.png", "Training: speed (m/s)", "turbo")),
            ("Action on track (training)", plots.trajectories(logs.training, the_track, "action",
                                                              out / "track_action.png", "Training: action", discrete=True)),
            ("Reward on track (training)", plots.trajectories(logs.training, the_track, "reward",
                                                              out / "track_reward.png", "Training: reward", "hot")),
            ("Action usage (training)", plots.action_histogram(logs.training, logs.model_metadata,
                                                               out / "action_histogram.png", "Action usage (training)")),
        ]
    console = metrics_curves(logs)
    if iterations is not None or console is not None:
        figures.insert(0, ("Training progress", plots.training_curves(iterations, console, out / "training_curves.png")))
    if console is not None:
        tables.append(("Training metrics per iteration (console chart)", out / "training_metrics.csv", console))
        summary["metrics"] = {
            "iterations": len(console),
            "final_reward": console["reward"].iloc[-1],
            "final_training_completion": console["training_completion"].iloc[-1],
            "best_evaluation_completion": console["evaluation_completion"].max(),
        }
    if logs.evaluation is not None:
        ev = episode_table(logs.evaluation, is_eval=True)
        laps = lap_table(ev, "evaluation")
        all_laps.append(laps)
        tables.append(("Evaluation trials", out / "evaluation_episodes.csv", ev))
        summary["evaluation"] = {
            "runs": int(ev["stream"].nunique()),
            "trials": len(ev),
            "mean_progress": float(ev["progress"].mean()),
            "off_track": int(ev["off_track"].sum()),
            **_lap_stats(laps),
        }
        figures.append(("Speed on track (evaluation)", plots.trajectories(
            logs.evaluation, the_track, "speed", out / "evaluation_speed.png", "Evaluation: speed (m/s)", "turbo")))
        if logs.training is None:
            figures.append(("Action usage (evaluation)", plots.action_histogram(
                logs.evaluation, logs.model_metadata, out / "action_histogram.png", "Action usage (evaluation)")))
    if all_laps:
        tables.append(("Completed laps", out / "laps.csv", pd.concat(all_laps, ignore_index=True)))
    for _, path, df in tables:
        df.to_csv(path, index=False)
    summary["figures"] = [p.name for _, p in figures]
    summary["tables"] = [p.name for _, p, _ in tables]
    summary = _clean(summary)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    _write_html(out / "index.html", summary, figures, tables)
    return summary


def _write_html(path: Path, summary: dict[str, Any], figures: list[tuple[str, Path]],
                tables: list[tuple[str, Path, pd.DataFrame]]) -> None:
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(json.dumps(v))}</td></tr>"
        for k, v in summary.items() if k not in ("sources", "figures", "tables")
    )
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>deepracer analyze</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:12px}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}img{max-width:100%}"
        ".scroll{max-height:400px;overflow:auto}</style></head><body>",
        f"<h1>Analysis of {html.escape(summary['logdir'])}</h1><table>{rows}</table>",
    ]
    for title, fig in figures:
        parts.append(f"<h2>{html.escape(title)}</h2><img src='{fig.name}' alt='{html.escape(title)}'>")
    for title, csv_path, df in tables:
        parts.append(f"<h2>{html.escape(title)} <small><a href='{csv_path.name}'>{csv_path.name}</a></small></h2>")
        parts.append("<div class='scroll'>" + df.to_html(index=False, float_format=lambda v: f"{v:.3f}",
                                                         na_rep="") + "</div>")
    parts.append("</body></html>")
    path.write_text("\n".join(parts), encoding="utf-8")

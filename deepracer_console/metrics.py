"""The training graph's figures, read from the training folder that `deepracer train` writes.

Per iteration, as the console draws them: average reward per episode and average percentage
completion in training, and average percentage completion of the evaluation run after it.
Our metrics/iterations.json has them directly; a DeepRacer-for-Cloud or DeepRacer-on-AWS
folder has only metrics/TrainingMetrics.json (one row per episode, training and evaluation),
grouped here the way the console groups it. Parsed files are cached by (mtime, size), so the
pages can poll every second without re-reading an unchanged file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from deepracer_console.schemas import MetricsPoint

_cache: dict[Path, tuple[tuple[int, int], Any]] = {}


def _read_json(path: Path) -> Any:
    try:
        st = path.stat()
    except OSError:
        return None
    key = (st.st_mtime_ns, st.st_size)
    hit = _cache.get(path)
    if hit is not None and hit[0] == key:
        return hit[1]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return hit[1] if hit else None  # a file being replaced: the last good copy
    _cache[path] = (key, data)
    return data


def updated_at(folder: Path) -> float | None:
    times = []
    for name in ("iterations.json", "TrainingMetrics.json"):
        try:
            times.append((folder / "metrics" / name).stat().st_mtime)
        except OSError:
            pass
    return max(times) if times else None


def iterations(folder: Path) -> tuple[list[MetricsPoint], int | None]:
    """(points, episodes per iteration) of the training in `folder`."""
    rows = _read_json(folder / "metrics" / "iterations.json")
    if isinstance(rows, list) and rows:
        points = []
        for r in rows:
            ev = r.get("evaluation") or {}
            points.append(MetricsPoint(
                iteration=int(r["iteration"]), episodes=int(r.get("episodes", 0)),
                average_reward=float(r.get("mean_reward", 0.0)), average_progress=float(r.get("mean_progress", 0.0)),
                evaluation_progress=ev.get("mean_progress"), evaluation_laps=ev.get("laps"),
                best_lap_time_s=ev.get("best_lap_time_s"), wall_s=r.get("wall_s"),
            ))
        return points, int(rows[0].get("episodes") or 0) or None
    return _from_training_metrics(folder)


def _episodes_per_iteration(folder: Path) -> int:
    for path in (folder / "ip" / "hyperparameters.json", folder / "hyperparameters.json"):
        data = _read_json(path)
        if isinstance(data, dict) and data.get("num_episodes_between_training"):
            return max(1, int(data["num_episodes_between_training"]))
    return 20


def _from_training_metrics(folder: Path) -> tuple[list[MetricsPoint], int | None]:
    candidates = [folder / "metrics" / "TrainingMetrics.json", *sorted((folder / "metrics").glob("training/*.json"))]
    data = next((x for x in (_read_json(p) for p in candidates) if isinstance(x, dict) and x.get("metrics")), None)
    if data is None:
        return [], None
    per = _episodes_per_iteration(folder)
    train: dict[int, list[dict[str, Any]]] = {}
    evals: dict[int, list[dict[str, Any]]] = {}
    for row in data["metrics"]:
        try:
            episode = int(row["episode"])
        except (KeyError, TypeError, ValueError):
            continue
        if row.get("phase") == "evaluation":
            evals.setdefault(max(episode - 1, 0) // per, []).append(row)
        else:
            train.setdefault((episode - 1) // per, []).append(row)
    points = []
    for it in sorted(train):
        rows = train[it]
        ev = evals.get(it, [])
        points.append(MetricsPoint(
            iteration=it, episodes=len(rows),
            average_reward=sum(float(r.get("reward_score", 0)) for r in rows) / len(rows),
            average_progress=sum(float(r.get("completion_percentage", 0)) for r in rows) / len(rows),
            evaluation_progress=(sum(float(r.get("completion_percentage", 0)) for r in ev) / len(ev)) if ev else None,
            evaluation_laps=sum(r.get("episode_status") == "Lap complete" for r in ev) if ev else None,
        ))
    return points, per


def best(folder: Path) -> tuple[float | None, float | None]:
    """(best evaluation progress, its lap time) from the trainer's checkpoints/state.json."""
    state = _read_json(folder / "checkpoints" / "state.json")
    if not isinstance(state, dict):
        return None, None
    return state.get("progress"), state.get("lap_time_s")


def steps_done(folder: Path) -> int:
    rows = _read_json(folder / "metrics" / "iterations.json")
    return sum(int(r.get("steps", 0)) for r in rows) if isinstance(rows, list) else 0


def trained_seconds(folder: Path) -> float | None:
    """Wall time the trainer has spent on this run over all its sessions (checkpoints/state.json)."""
    state = _read_json(folder / "checkpoints" / "state.json")
    if isinstance(state, dict) and state.get("wall_before_s") is not None:
        return float(state["wall_before_s"])
    return None

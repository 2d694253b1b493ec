"""Read training and evaluation logs: ours, DeepRacer-for-Cloud's and the AWS console's.

Layouts recognised under one folder (searched recursively, so a folder holding several runs
or a single file works too):

- SIM_TRACE_LOG CSVs: `training-simtrace/N-iteration.csv` (DRfC, ours, console
  `sim-trace/training/...`; DRfC's multi-worker runs put them under `0/`, `1/`, ...) and
  `evaluation-*/evaluation-simtrace/0-iteration.csv`;
- RoboMaker text logs exported by the console (`*-robomaker.log`, `*-simulation.log`, any
  `*.log`), whose `SIM_TRACE_LOG:` lines carry the same columns;
- `metrics/TrainingMetrics.json` and `metrics/EvaluationMetrics-*.json`,
  `model/model_metadata.json`, `ip/hyperparameters.json`.

Rows become one pandas DataFrame per kind with deepracer-utils' column names (`x`, `y`,
`steering_angle`, `speed`, `on_track`, ...), so its analyses apply unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepracer.analysis.simtrace import COLUMNS, iter_numbered_rows
from deepracer.errors import LogFormatError

# SIM_TRACE_LOG column -> deepracer-utils column
RENAME = {"X": "x", "Y": "y", "steer": "steering_angle", "throttle": "speed", "all_wheels_on_track": "on_track"}
FLOAT_COLUMNS = ("steps", "X", "Y", "yaw", "steer", "throttle", "reward", "progress", "track_len", "tstamp", "pause_duration")
INT_COLUMNS = ("episode", "closest_waypoint")
DEFAULT_EPISODES_PER_ITERATION = 20  # DeepRacer's num_episodes_between_training
_ITERATION_FILE = re.compile(r"^(\d+)-iteration\.csv$")
_SIM_TRACE = "SIM_TRACE_LOG:"


@dataclass
class LogSet:
    """Everything found under one log folder."""

    root: Path
    training: pd.DataFrame | None = None  # one row per step
    evaluation: pd.DataFrame | None = None  # one row per step; `stream` names the evaluation run
    training_metrics: list[dict[str, Any]] = field(default_factory=list)  # TrainingMetrics.json entries
    evaluation_metrics: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # file stem -> trials
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    model_metadata: dict[str, Any] | None = None
    track_name: str | None = None  # when the run records it (RoboMaker WORLD_NAME, training_params.yaml)
    sources: list[Path] = field(default_factory=list)

    @property
    def episodes_per_iteration(self) -> int:
        return int(self.hyperparameters.get("num_episodes_between_training", DEFAULT_EPISODES_PER_ITERATION))


def _parse_value(column: str, text: str, path: Path, line: int) -> Any:
    try:
        if column in INT_COLUMNS:
            return int(float(text))
        if column in FLOAT_COLUMNS:
            return float(text)
    except ValueError:
        raise LogFormatError(f"line {line}: {column}={text!r} is not a number", path) from None
    if column in ("done", "all_wheels_on_track"):
        return text.strip() == "True"
    if column == "action":
        try:
            return int(text)
        except ValueError:
            return -1  # continuous action "[s, v]": deepracer-utils writes -1 too
    return text.strip()


def _objects_value(text: str | None) -> list[list[float]]:
    try:
        return json.loads(text) if text else []
    except ValueError:
        return []


# DeepRacer's obstacle_crash_counter (object races) and our objects column ([[x, y], ...] per step)
OBJECT_COLUMNS: dict[str, Any] = {"obstacle_crash_counter": lambda t: int(float(t)) if t not in (None, "") else 0,
                                  "objects": _objects_value}


def _rows_to_frame(rows: Iterable[tuple[int, dict[str, str]]], path: Path) -> pd.DataFrame:
    columns: dict[str, list[Any]] = {c: [] for c in COLUMNS}
    extra: dict[str, list[Any]] = {}
    for line, row in rows:
        for name in OBJECT_COLUMNS:
            if name in row:
                extra.setdefault(name, []).append(row[name])
        for c in COLUMNS:
            text = row.get(c)
            if text is None:  # tstamp and later are absent in old logs
                columns[c].append(float("nan") if c != "episode_status" else "")
                continue
            columns[c].append(_parse_value(c, text, path, line))
    df = pd.DataFrame(columns).rename(columns=RENAME)
    df["steps"] = df["steps"].astype(int)
    for name, value in OBJECT_COLUMNS.items():  # object races' columns, kept when the log has them
        if name in extra:
            df[name] = [value(t) for t in extra[name]]
    return df


def read_simtrace_csv(path: str | Path) -> pd.DataFrame:
    """One SIM_TRACE_LOG CSV as a DataFrame (deepracer-utils column names)."""
    path = Path(path)
    return _rows_to_frame(iter_numbered_rows(path), path)


def _robomaker_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        f = path.open(encoding="utf-8", errors="replace")
    except OSError as err:
        raise LogFormatError(f"cannot open: {err.strerror}", path) from err
    with f:
        for number, line in enumerate(f, start=1):
            if _SIM_TRACE not in line:
                continue
            # "SIM_TRACE_LOG:0,1,...,in_progress,0.0\t..." (console) - the payload ends at a tab
            payload = line.split(_SIM_TRACE, 1)[1].split("\t")[0].strip()
            parts = payload.split(",")
            if len(parts) > len(COLUMNS):  # continuous action "[s, v]" holds a comma
                i = COLUMNS.index("action")
                extra = len(parts) - len(COLUMNS)
                joined = ",".join(parts[i:i + extra + 1])
                if joined.startswith("["):
                    parts = parts[:i] + [joined] + parts[i + extra + 1:]
                else:
                    parts = parts[:len(COLUMNS)]  # newer simapps append wall_clock etc.
            if len(parts) < 14:
                raise LogFormatError(f"line {number}: SIM_TRACE_LOG has {len(parts)} fields, expected at least 14", path)
            yield number, dict(zip(COLUMNS, parts, strict=False))


def read_robomaker_log(path: str | Path) -> pd.DataFrame:
    """The SIM_TRACE_LOG lines of a RoboMaker text log (the console's exported logs)."""
    path = Path(path)
    return _rows_to_frame(_robomaker_rows(path), path)


def robomaker_metadata(path: Path) -> tuple[dict[str, Any], str | None]:
    """(hyperparameters, WORLD_NAME) from a RoboMaker log's header, as far as they are there."""
    hyper: dict[str, Any] = {}
    world = None
    block: list[str] | None = None
    prefix = re.compile(r"^\s*(?:\[[^\]]*\]\s+)+")  # DROA's "[node] " prefixes
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            content = prefix.sub("", line)
            if block is not None:
                block.append(content)
                if "}" in content:
                    try:
                        hyper = json.loads("".join(block))
                    except json.JSONDecodeError:
                        pass
                    block = None
            elif "Using the following hyper-parameters" in content:
                block = []
            elif "* /WORLD_NAME: " in content:  # " * /WORLD_NAME: x" (a "[node] " prefix may eat the space)
                world = content.strip().split(" ")[-1]
            if _SIM_TRACE in content:
                break  # the header is over
    return hyper, world


def _has_sim_trace(path: Path) -> bool:
    with path.open(encoding="utf-8", errors="replace") as f:
        return any(_SIM_TRACE in line for line in f)


def _is_evaluation_log(path: Path, root: Path) -> bool:
    name = path.name if path == root else str(path.relative_to(root))
    return re.search(r"evaluation|leaderboard", name, re.I) is not None


def _iteration_of(path: Path) -> int:
    m = _ITERATION_FILE.match(path.name)
    if not m:
        raise LogFormatError("expected a file named N-iteration.csv", path)
    return int(m.group(1))


def _worker_of(path: Path, root: Path) -> int:
    """DRfC's multi-worker runs keep worker k's trace in `k/training-simtrace/`."""
    parent = path.parent.parent.name
    return int(parent) if parent.isdigit() and path.parent.parent != root else 0


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise LogFormatError(f"line {err.lineno}: invalid JSON: {err.msg}", path) from None
    except OSError as err:
        raise LogFormatError(f"cannot open: {err.strerror}", path) from err


def _unique_episodes(df: pd.DataFrame) -> pd.Series:
    """deepracer-utils' numbering: episodes of all workers, iteration after iteration."""
    first = df[df["iteration"] == df["iteration"].min()]
    per_worker = first.groupby("worker")["episode"].max() + 1
    until = per_worker.cumsum() - per_worker
    per_iteration = int(per_worker.sum())
    return (
        df["episode"] % df["worker"].map(per_worker) + df["worker"].map(until) + df["iteration"] * per_iteration
    ).astype(int)


def _progress(items: list[Path], desc: str, quiet: bool) -> Iterable[Path]:
    if quiet or len(items) < 4:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="file", leave=False)


def load_logs(root: str | Path, quiet: bool = False) -> LogSet:
    """Every log under `root` (a folder or one file); LogFormatError when there is none.

    Steps: the side files (hyperparameters, metadata, metrics, the track's name), which files hold
    the steps, reading them, one training and one evaluation table."""
    root = Path(root)
    if not root.exists():
        raise LogFormatError("no such file or folder", root)
    logs = LogSet(root=root)
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    for p in files:
        _read_side_file(p, logs)
    train_csv, eval_csv, text_logs = _step_files(files, root, logs)
    training, evaluation = _read_steps(train_csv, eval_csv, text_logs, root, logs, quiet)
    if training:
        df = pd.concat(training, ignore_index=True)
        df["unique_episode"] = _unique_episodes(df)
        logs.training = df.sort_values(["unique_episode", "steps"], kind="stable").reset_index(drop=True)
    if evaluation:
        df = pd.concat(evaluation, ignore_index=True)
        logs.evaluation = df.sort_values(["stream", "episode", "steps"], kind="stable").reset_index(drop=True)
    return logs


def _read_side_file(p: Path, logs: LogSet) -> None:
    """hyperparameters, model metadata, training/evaluation metrics and the track's name, where a file has them."""
    if p.name == "hyperparameters.json":
        logs.hyperparameters = _read_json(p)
    elif p.name == "model_metadata.json" and logs.model_metadata is None:
        logs.model_metadata = _read_json(p)
    elif p.name == "TrainingMetrics.json":
        logs.training_metrics = list(_read_json(p).get("metrics", []))
    elif p.name.startswith("EvaluationMetrics") and p.suffix == ".json":
        logs.evaluation_metrics[p.stem] = list(_read_json(p).get("metrics", []))
    elif p.suffix == ".json" and p.parent.name in ("training", "evaluation") and p.parent.parent.name == "metrics":
        # console / DeepRacer on AWS exports: metrics/training/<job>.json, metrics/evaluation/<job>.json
        data = _read_json(p)
        entries = list(data.get("metrics", [])) if isinstance(data, dict) else []
        if p.parent.name == "training":
            logs.training_metrics = logs.training_metrics or entries
        else:
            logs.evaluation_metrics[p.stem] = entries
    elif p.name == "evaluation.json" and logs.track_name is None:  # written by `deepracer evaluate`
        data = _read_json(p)
        track = data.get("track") if isinstance(data, dict) else None
        logs.track_name = str(track) if track else None
    elif p.suffix in (".yaml", ".yml") and logs.track_name is None:
        m = re.search(r"^WORLD_NAME:\s*\"?([\w.-]+)", p.read_text(encoding="utf-8", errors="replace"), re.M)
        if m:
            logs.track_name = m.group(1)


def _step_files(files: list[Path], root: Path, logs: LogSet) -> tuple[list[Path], list[Path], list[Path]]:
    """(training simtrace CSVs, evaluation simtrace CSVs, RoboMaker logs with steps); LogFormatError if none."""
    train_csv = [p for p in files if p.parent.name == "training-simtrace" and p.suffix == ".csv"]
    eval_csv = [p for p in files if p.parent.name == "evaluation-simtrace" and p.suffix == ".csv"]
    # the console's export holds the same steps twice (simtrace CSVs and RoboMaker logs): CSVs win
    text_logs = [p for p in files if p.suffix == ".log" and _has_sim_trace(p)
                 and not (eval_csv if _is_evaluation_log(p, root) else train_csv)]
    for p in (p for p in files if p.suffix == ".log" and p not in text_logs and logs.track_name is None):
        logs.track_name = robomaker_metadata(p)[1]  # its steps are in the CSVs, but it names the track
    if root.is_file() and root.suffix == ".csv":
        (eval_csv if "eval" in root.name else train_csv).append(root)
    if not (train_csv or eval_csv or text_logs):
        raise LogFormatError(
            "no logs found: expected training-simtrace/N-iteration.csv, evaluation-simtrace/*.csv "
            "or RoboMaker logs with SIM_TRACE_LOG lines", root)
    return train_csv, eval_csv, text_logs


def _read_steps(train_csv: list[Path], eval_csv: list[Path], text_logs: list[Path], root: Path, logs: LogSet,
                quiet: bool) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
    """The step tables (training, evaluation), each with the columns that tell its episodes apart."""
    training: list[pd.DataFrame] = []
    for p in _progress(sorted(train_csv, key=_iteration_of), "training logs", quiet):
        df = read_simtrace_csv(p)
        df["iteration"] = _iteration_of(p)
        df["worker"] = _worker_of(p, root)
        training.append(df)
        logs.sources.append(p)
    evaluation: list[pd.DataFrame] = []
    for p in _progress(eval_csv, "evaluation logs", quiet):
        df = read_simtrace_csv(p)
        df["stream"] = p.parent.parent.name
        evaluation.append(df)
        logs.sources.append(p)
    for p in _progress(text_logs, "RoboMaker logs", quiet):
        hyper, world = robomaker_metadata(p)
        logs.hyperparameters = logs.hyperparameters or hyper
        logs.track_name = logs.track_name or world
        df = read_robomaker_log(p)
        logs.sources.append(p)
        if _is_evaluation_log(p, root):
            df["stream"] = p.stem
            evaluation.append(df)
        else:
            df["iteration"] = df["episode"] // logs.episodes_per_iteration
            df["worker"] = 0
            training.append(df)
    return training, evaluation


def episode_table(df: pd.DataFrame, group: str = "unique_episode", is_eval: bool = False) -> pd.DataFrame:
    """One row per episode, computed as deepracer-utils' `AnalysisUtils.simulation_agg` does.

    steps, start_at (first closest waypoint), progress (max), time (sum of tstamp steps, the
    `prepare` step excluded), dist, speed (mean), reward (sum), complete (progress == 100),
    off_track/crashed (evaluation), final status.
    """
    df = df.copy()
    first_group = "stream" if is_eval else "iteration"
    if is_eval and group == "unique_episode":
        group = "episode"
    prepare = df["episode_status"] == "prepare"
    df["delta_time"] = df["tstamp"].astype(float).diff()
    df["delta_dist"] = np.hypot(df["x"].diff(), df["y"].diff())
    if not is_eval:
        # a training episode starts from a reset: the row before its first belongs to another
        # episode (another environment's, when several run in parallel). DeepRacer's `prepare`
        # row says so; our training logs before it wrote one did not. (An evaluation's trials
        # are driven one after the other, so there the gap between them is driving time.)
        first = df[group].ne(df[group].shift()) | df[first_group].ne(df[first_group].shift())
        df.loc[first, ["delta_time", "delta_dist"]] = 0.0
    df.loc[prepare, "delta_time"] = 0.0
    df.loc[prepare, "delta_dist"] = 0.0
    g = df.groupby([first_group, group], sort=True)
    out = pd.DataFrame({
        "steps": g["steps"].max() - g["steps"].min() + 1,
        "start_at": g["closest_waypoint"].first(),
        "progress": g["progress"].max(),
        "time": g["delta_time"].sum().astype(float),
        "dist": g["delta_dist"].sum(),
        "speed": g["speed"].mean(),
        "reward": g["reward"].sum(),
        "off_track": g["episode_status"].agg(lambda s: int((s == "off_track").sum())),
        "crashed": g["episode_status"].agg(lambda s: int((s == "crashed").sum())),
        "status": g["episode_status"].last(),
    }).reset_index()
    if group != "episode" and "episode" in df:
        out["episode"] = g["episode"].first().to_numpy()
    out["time_if_complete"] = out["time"] * 100 / out["progress"].replace(0, np.nan)
    out["complete"] = (out["progress"] == 100).astype(int)
    return out


def iteration_table(episodes: pd.DataFrame) -> pd.DataFrame:
    """Per training iteration: mean/std reward, mean progress, completion rate, lap times."""
    g = episodes.groupby("iteration")
    out = pd.DataFrame({
        "episodes": g.size(),
        "mean_reward": g["reward"].mean(),
        "std_reward": g["reward"].std(),
        "mean_progress": g["progress"].mean(),
        "completion_rate": g["complete"].mean(),
        "mean_time": g["time"].mean(),
    })
    done = episodes[episodes["progress"] == 100].groupby("iteration")["time"]
    out["mean_lap_time"] = done.mean()
    out["best_lap_time"] = done.min()
    return out.reset_index()


def metrics_curves(logs: LogSet) -> pd.DataFrame | None:
    """The console's training chart from TrainingMetrics.json, per iteration.

    Training episodes are numbered from 1; the evaluation episodes DeepRacer runs after
    each iteration carry the number of the last training episode before them.
    """
    if not logs.training_metrics:
        return None
    per = logs.episodes_per_iteration
    m = pd.DataFrame(logs.training_metrics)
    if not {"episode", "phase", "completion_percentage"} <= set(m.columns):
        raise LogFormatError("TrainingMetrics.json entries need episode, phase and completion_percentage", logs.root)
    m["iteration"] = (m["episode"].astype(int) - 1).clip(lower=0) // per
    train = m[m["phase"] == "training"].groupby("iteration")
    ev = m[m["phase"] == "evaluation"].groupby("iteration")
    out = pd.DataFrame({
        "reward": train["reward_score"].mean() if "reward_score" in m else np.nan,
        "training_completion": train["completion_percentage"].mean(),
        "evaluation_completion": ev["completion_percentage"].mean(),
    })
    return out.reset_index()

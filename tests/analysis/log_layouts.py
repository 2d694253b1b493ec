"""The log folders users bring, rebuilt from DeepRacer-for-Cloud's sample run (../shared).

- AWS console "Download logs" (deepracer-utils' CONSOLE_MODEL_WITH_LOGS): `sim-trace/training/
  training-simtrace/N-iteration.csv`, `sim-trace/evaluation/<14 digits>-<id>/evaluation-simtrace/
  0-iteration.csv`, `logs/training/*-robomaker.log` (SIM_TRACE_LOG lines, WORLD_NAME in the ROS
  parameter dump), `logs/evaluation/evaluation-<14 digits>-<id>-robomaker.log`, `model/`, `ip/`;
- the console's RoboMaker log alone (what most users extract from the zip);
- DeepRacer on AWS (DROA_SOLUTION_LOGS): `sim-trace/training/<ISO time>/training-simtrace/...`,
  `sim-trace/evaluation/<ISO time>/evaluation-simtrace/...`, `[node] `-prefixed log lines.
"""

from __future__ import annotations

import shutil
from pathlib import Path

EVAL_RUN = "evaluation-20220709200242"


def _copy(src: Path, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    return dest


def robomaker_log(csv_files: list[Path], dest: Path, world: str | None = "reinvent_base", prefix: str = "") -> Path:
    """A RoboMaker log: parameter dump, hyperparameters, then one SIM_TRACE_LOG line per step."""
    lines = [f"{prefix}SUMMARY", f"{prefix}========", f"{prefix}PARAMETERS"]
    if world:
        lines.append(f"{prefix} * /WORLD_NAME: {world}")
    lines += [f"{prefix}Using the following hyper-parameters", f'{prefix}{{"num_episodes_between_training": 20,',
              f'{prefix}"batch_size": 64}}', f"{prefix}chatter"]
    for f in csv_files:
        for row in f.read_text().splitlines()[1:]:
            episode, steps, rest = row.split(",", 2)
            lines.append(f"{prefix}SIM_TRACE_LOG:{episode},{int(float(steps))},{rest}\t")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text("\n".join(lines) + "\n")
    return dest


def console_export(sample: Path, dest: Path, iterations: int = 8, metrics: bool = False) -> Path:
    train = [sample / "training-simtrace" / f"{i}-iteration.csv" for i in range(iterations)]
    for f in train:
        _copy(f, dest / "sim-trace" / "training" / "training-simtrace" / f.name)
    ev = sample / EVAL_RUN / "evaluation-simtrace" / "0-iteration.csv"
    _copy(ev, dest / "sim-trace" / "evaluation" / "20220709200242-abcdef" / "evaluation-simtrace" / "0-iteration.csv")
    robomaker_log(train, dest / "logs" / "training" / "training-20220709180000-abcdef-robomaker.log")
    robomaker_log([ev], dest / "logs" / "evaluation" / "evaluation-20220709200242-abcdef-robomaker.log")
    _copy(sample / "model" / "model_metadata.json", dest / "model" / "model_metadata.json")
    _copy(sample / "ip" / "hyperparameters.json", dest / "ip" / "hyperparameters.json")
    if metrics:
        _copy(sample / "metrics" / "TrainingMetrics.json", dest / "metrics" / "training" / "training-20220709180000-abcdef.json")
    return dest


def console_robomaker_only(sample: Path, dest: Path, iterations: int = 8, world: str | None = "reinvent_base") -> Path:
    train = [sample / "training-simtrace" / f"{i}-iteration.csv" for i in range(iterations)]
    robomaker_log(train, dest / "logs" / "training" / "training-20220709180000-abcdef-robomaker.log", world)
    return dest


def droa_export(sample: Path, dest: Path, iterations: int = 8) -> Path:
    stamp = "2024-05-01T10-00-00.000Z"
    train = [sample / "training-simtrace" / f"{i}-iteration.csv" for i in range(iterations)]
    for f in train:
        _copy(f, dest / "sim-trace" / "training" / stamp / "training-simtrace" / f.name)
    ev = sample / EVAL_RUN / "evaluation-simtrace" / "0-iteration.csv"
    _copy(ev, dest / "sim-trace" / "evaluation" / "2024-05-01T12-00-00.000Z" / "evaluation-simtrace" / "0-iteration.csv")
    robomaker_log(train, dest / "logs" / "training" / "robomaker.log", prefix="[robomaker] [rollout_worker] ")
    _copy(sample / "model" / "model_metadata.json", dest / "model" / "model_metadata.json")
    return dest


def reversed_evaluation(sample: Path, dest: Path) -> Path:
    """The sample's evaluation driven the other way round: rows of each trial in reverse order."""
    src = sample / EVAL_RUN / "evaluation-simtrace" / "0-iteration.csv"
    header, *rows = src.read_text().splitlines()
    by_episode: dict[str, list[str]] = {}
    for r in rows:
        by_episode.setdefault(r.split(",", 1)[0], []).append(r)
    out = [header]
    for ep_rows in by_episode.values():
        fields = [r.split(",") for r in ep_rows]
        xy = [(f[2], f[3]) for f in fields][::-1]
        for f, (x, y) in zip(fields, xy, strict=True):
            f[2], f[3] = x, y
            out.append(",".join(f))
    path = dest / "evaluation-reversed" / "evaluation-simtrace" / "0-iteration.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out) + "\n")
    return dest

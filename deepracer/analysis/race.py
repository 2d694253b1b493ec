"""A local leaderboard: a time trial of several model packages on one track.

Each model drives `laps` laps one after the other from a standing start, as in DeepRacer's
time trials: leaving the track puts the car back with a penalty added to the lap time,
and a lap that takes longer than `max_lap_seconds` is `time_up`. Ranked by laps
completed, then best lap time, then average progress.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepracer.analysis.evaluation import (
    DEFAULT_PENALTY_S,
    EvaluationResult,
    Trial,
    TrialBook,
    drive_samples,
    evaluate,
    make_simulator,
    policy_decide,
)
from deepracer.errors import ConfigError

UNLIMITED_RESETS = 1_000_000


@dataclass
class RaceEntry:
    model: str
    path: str
    laps: int
    completed: int
    lap_times: list[float | None]  # per lap, None when not completed
    best_lap_s: float | None
    mean_lap_s: float | None
    off_track: int
    resets: int
    mean_progress: float
    crashes: int = 0
    total_time_s: float | None = None  # head-to-head: the time to finish every lap, penalties included
    rank: int = 0
    result: EvaluationResult | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "result"}


def _entry(path: str | Path, result: EvaluationResult) -> RaceEntry:
    s = result.summary()
    return RaceEntry(
        model=result.model, path=str(path), laps=s["trials"], completed=s["completed"],
        lap_times=[t.lap_time_s for t in result.trials], best_lap_s=s["best_lap_time_s"],
        mean_lap_s=s["mean_lap_time_s"], off_track=s["off_track"], resets=s["resets"],
        mean_progress=round(s["mean_progress"], 3), crashes=s["crashes"], result=result,
    )


def rank(entries: list[RaceEntry]) -> list[RaceEntry]:
    """Most laps first, then the fastest best lap, then the furthest average progress."""
    ordered = sorted(entries, key=lambda e: (-e.completed, e.best_lap_s if e.best_lap_s is not None else float("inf"),
                                             -e.mean_progress))
    for i, e in enumerate(ordered, start=1):
        e.rank = i
    return ordered


def run_race(models: list[str | Path], track: str | Path | None = None, laps: int = 3, seed: int = 0,
             max_lap_seconds: float = 120.0, quiet: bool = False, race: Any = None,
             camera_profile: str | Path | None = None) -> list[RaceEntry]:
    """Each model alone on the track (with `race`'s obstacles or bots, a RaceConfig), one after the other.
    Each model sees through the camera profile its package records (else `car`) unless `camera_profile`
    (a built-in name or file) overrides it for all, as `deepracer evaluate` does."""
    if not models:
        raise ConfigError("race: give at least one model package")
    if laps < 1:
        raise ConfigError(f"--laps must be at least 1, got {laps}")
    items: Any = models
    if not quiet and len(models) > 1:
        from tqdm import tqdm

        items = tqdm(models, desc="racing", unit="model", leave=False)
    entries = [
        _entry(m, evaluate(m, track=track, trials=laps, resets=UNLIMITED_RESETS, seed=seed,
                           max_trial_seconds=max_lap_seconds, race=race, camera_profile=camera_profile))
        for m in items
    ]
    return rank(entries)


def leaderboard_table(entries: list[RaceEntry]) -> str:
    def t(v: float | None) -> str:
        return f"{v:.3f}" if v is not None else "-"

    width = max([5] + [len(e.model) for e in entries])
    lines = [f"{'#':>2}  {'model':<{width}}  {'laps':>5}  {'best s':>8}  {'avg s':>8}  {'off-track':>9}  "
             f"{'crashes':>7}  {'progress %':>10}"]
    for e in entries:
        lines.append(f"{e.rank:>2}  {e.model:<{width}}  {e.completed:>2}/{e.laps:<2}  {t(e.best_lap_s):>8}  "
                     f"{t(e.mean_lap_s):>8}  {e.off_track:>9}  {e.crashes:>7}  {e.mean_progress:>10.1f}")
    return "\n".join(lines)


def best_lap(entry: RaceEntry) -> Trial:
    """The entry's fastest completed lap, or its furthest lap when none was completed."""
    assert entry.result is not None
    trials = entry.result.trials
    done = [t for t in trials if t.lap_time_s is not None]
    return min(done, key=lambda t: t.lap_time_s) if done else max(trials, key=lambda t: t.progress)


def record_lap_video(entry: RaceEntry, track: str | Path | None, out: str | Path, seed: int = 0,
                     max_lap_seconds: float = 120.0, race: Any = None,
                     camera_profile: str | Path | None = None) -> Path:
    """Drive the entry again (the simulation is deterministic) and film its best lap:
    camera view beside the top-down view (cv2.VideoWriter, mp4v)."""
    from deepracer.camera_profile import resolve_profile
    from deepracer.model.package import load_model_package
    from deepracer.sim.camera import CameraPose
    from deepracer.sim.video import Pose, write_video

    lap = best_lap(entry)
    profile = (resolve_profile(camera_profile) if camera_profile
               else load_model_package(entry.path).metadata.camera_profile)  # the lens the race was run through
    sim = make_simulator(track, seed, DEFAULT_PENALTY_S, race,
                         CameraPose.from_profile(profile) if profile is not None else None)
    decide = policy_decide(entry.path, sim=sim)
    frames: list[Any] = []
    poses: list[Pose] = []
    captions: list[str] = []
    objects: list[list[Any]] = []

    def filming(frame: Any, state: Any) -> tuple[float, float, int]:
        if lap.start_time_s - 1e-6 <= state.t < lap.end_time_s - 1e-6:
            frames.append(frame.copy())
            poses.append(Pose(state.x, state.y, state.yaw, state.speed))
            objects.append([copy.copy(o) for o in sim.object_list])
            captions.append(f"{entry.model} lap {lap.trial}  t={state.t - lap.start_time_s:5.2f} s  "
                            f"v={state.speed:4.2f} m/s")
        return decide(frame, state)

    book = TrialBook(lap.trial, UNLIMITED_RESETS, DEFAULT_PENALTY_S, max_lap_seconds,
                     race.collision_penalty_s if race is not None else 5.0)
    for sample in drive_samples(sim, filming):
        book.feed(sample)
        if book.done:
            break
    return write_video(out, sim.track, frames, poses, fps=sim.config.camera_hz, captions=captions,
                       objects=objects if sim.objects is not None else None)

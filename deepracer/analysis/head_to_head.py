"""Head-to-model: two model packages race each other in one simulation, each with its own camera
and its own inference, and are ranked by who finishes the laps first.

Both cars share the clock; every camera step each policy sees its own frame (the other car
drawn in it, and any obstacles or bots of the race type) and both cars step. Starts as
DeepRacer's head-to-model: car i stands 0.75 m x i behind the start line, even index on the
outer lane, odd on the inner (facts §6). A car that runs into the other from behind has
crashed (collision penalty, put back 1 m behind the other car in the other lane), as a rear-
ender with a bot; a car hit from behind drives on. Failures put the car back with the
off-track penalty, as in evaluation. A car is done after `laps` laps (or when its time is up);
the ranking is laps completed, then total time (penalties included), then progress.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepracer.analysis.evaluation import (
    DEFAULT_PENALTY_S,
    TrialBook,
    _sample_from_race,
    make_simulator,
    policy_decide,
)
from deepracer.analysis.race import RaceEntry, _entry
from deepracer.control.kinematics import WHEELBASE_M, action_to_twist, twist_to_action
from deepracer.errors import ConfigError

START_OFFSET_M = 0.75  # DeepRacer's START_POS_OFFSET between the cars on the grid
UNLIMITED_RESETS = 1_000_000


@dataclass
class Car:
    model: str
    sim: Any
    decide: Any
    book: TrialBook
    body: Any  # this car as a TrackObject in the other cars' simulators
    steering: float = 0.0
    done: bool = False
    frames: list[Any] | None = None


def _grid_position(sim: Any, index: int) -> tuple[int, float]:
    """(waypoint, lateral m) of grid slot `index` (0.75 m apart, even outer lane, odd inner)."""
    tr = sim.track
    s = (-START_OFFSET_M * index) % tr.length_m
    wp = int(np.searchsorted(tr.cum, s, side="right") - 1) % tr.n
    lane = 1.0 if index % 2 else -1.0
    x, y, _, _ = sim.objects.lanes.point(float(tr.cum[wp]), lane)
    return wp, tr.project(x, y).lateral


def run_head_to_head(models: list[str | Path], track: str | Path | None = None, laps: int = 3, seed: int = 0,
                     max_lap_seconds: float = 120.0, race: Any = None, penalty_s: float = DEFAULT_PENALTY_S,
                     record: bool = False, camera_profile: str | Path | None = None
                     ) -> tuple[list[RaceEntry], dict[str, Any]]:
    """Race the models in one simulation; returns the ranked entries and, with `record`, the frames
    ({"frames": per car, "poses": per car, "objects": per step}) for a video."""
    from deepracer.analysis.evaluation import EvaluationResult
    from deepracer.model.package import load_model_package
    from deepracer.sim.objects import (
        CAR_FOOTPRINT_M,
        ObjectKind,
        RaceObjects,
        RaceType,
        TrackObject,
    )

    if len(models) != 2:
        raise ConfigError(f"--head-to-head takes two model packages, got {len(models)}")
    if laps < 1:
        raise ConfigError(f"--laps must be at least 1, got {laps}")
    packages = [load_model_package(m) for m in models]
    from deepracer.camera_profile import resolve_profile
    from deepracer.sim.camera import CameraPose

    override = resolve_profile(camera_profile) if camera_profile else None
    # each car sees through its own package's camera profile (else `car`), or all through `camera_profile`
    profiles = [override or pkg.metadata.camera_profile for pkg in packages]
    cars: list[Car] = []
    for m, pkg, profile in zip(models, packages, profiles, strict=True):
        sim = make_simulator(track, seed, penalty_s, race,
                             CameraPose.from_profile(profile) if profile is not None else None)
        if sim.objects is None:  # a time trial: an empty object list to hold the other car
            sim.objects = RaceObjects(sim.track, RaceType.TIME_TRIAL)
        ln, wd = CAR_FOOTPRINT_M
        body = TrackObject(ObjectKind.CAR, 0.0, 0.0, length=ln, width=wd)
        collision = race.collision_penalty_s if race is not None else 5.0
        cars.append(Car(pkg.name, sim, policy_decide(m, sim=sim), TrialBook(laps, UNLIMITED_RESETS, penalty_s,
                                                                   max_lap_seconds, collision), body))
    names = [c.model for c in cars]
    if names[0] == names[1]:
        cars[1].model = names[1] + " (2)"
    for i, car in enumerate(cars):
        wp, lateral = _grid_position(car.sim, i)
        car.sim.reset(wp, lateral_m=lateral or 1e-6)
        car.sim.objects.extra = [c.body for c in cars if c is not car]
    for car in cars[1:]:  # one set of obstacles / bots on the track: the first car's simulator moves them
        car.sim.objects.items = cars[0].sim.objects.items
        car.sim.objects.moves_bots = False
    rec: dict[str, Any] = {"frames": [[] for _ in cars], "poses": [[] for _ in cars], "objects": []}

    def sync() -> None:
        for c in cars:
            st, p = c.sim.state, c.sim.projection
            c.body.x, c.body.y, c.body.yaw = st.x, st.y, st.yaw
            c.body.s, c.body.lateral, c.body.speed = p.s, p.lateral, max(st.speed, 1e-3)

    sync()
    for c in cars:
        c.book.feed(_sample_from_race(c.sim.race, c.sim.state))
    limit_steps = int(math.ceil(laps * max_lap_seconds * cars[0].sim.config.camera_hz)) + 10
    for _ in range(limit_steps):
        live = [c for c in cars if not c.done]
        if not live:
            break
        decisions = []
        for c in live:
            frame = c.sim.render()
            if record:
                rec["frames"][cars.index(c)].append(frame)
            decisions.append(c.decide(frame, c.sim.state))
        for c, (want_steer, want_speed, index) in zip(live, decisions, strict=True):
            lx, az = action_to_twist(want_steer, want_speed)
            c.steering, speed = twist_to_action(lx, az, WHEELBASE_M, last_steering_deg=c.steering)
            race_state = c.sim.step(c.steering, speed)
            c.book.feed(_sample_from_race(race_state, c.sim.state, index, (want_steer, want_speed)))
            c.done = c.book.done
        sync()
        if record:
            for k, c in enumerate(cars):
                st = c.sim.state
                rec["poses"][k].append((st.x, st.y, st.yaw, st.speed))
            rec["objects"].append([copy.copy(o) for o in cars[0].sim.objects.items] +
                                  [copy.copy(c.body) for c in cars])
    entries = []
    for c, m, pkg in zip(cars, models, packages, strict=True):
        result = EvaluationResult(
            model=c.model, track=c.sim.track.name, seed=seed, through_ros=False, off_track_penalty_s=penalty_s,
            resets=UNLIMITED_RESETS, trials=c.book.trials, samples=c.book.samples,
            model_metadata=pkg.metadata.to_dict(),
            race=(race.to_json() if race is not None else {"race_type": "time_trial"}) | {"head_to_head": names},
            camera_profile=profiles[models.index(m)].name if profiles[models.index(m)] is not None else "car",
        )
        e = _entry(m, result)
        e.model = c.model
        done = list(c.book.trials)
        e.total_time_s = round(sum(t.elapsed_s for t in done), 6) if len(done) == laps and all(
            t.completed for t in done) else None
        entries.append(e)
    ordered = sorted(entries, key=lambda e: (-e.completed, e.total_time_s if e.total_time_s is not None else math.inf,
                                             -e.mean_progress))
    for i, e in enumerate(ordered, start=1):
        e.rank = i
    return ordered, rec


def write_head_to_head_video(rec: dict[str, Any], track: Any, out: str | Path, names: list[str], fps: float) -> Path:
    """Both cameras side by side over the top-down view with both cars (cv2, mp4v)."""
    import cv2

    from deepracer.sim.video import TopDown

    n = min(len(f) for f in rec["frames"])
    if n == 0:
        raise ConfigError("no frames were recorded", out)
    top = TopDown(track, height_px=360)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    first = _h2h_frame(rec, top, 0, names)
    size = (first.shape[1] - first.shape[1] % 2, first.shape[0] - first.shape[0] % 2)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), size)
    if not writer.isOpened():
        raise ConfigError("OpenCV cannot open an mp4v video writer here", out)
    try:
        for i in range(n):
            img = _h2h_frame(rec, top, i, names)
            writer.write(np.ascontiguousarray(img[: size[1], : size[0]]))
    finally:
        writer.release()
    return out


def _h2h_frame(rec: dict[str, Any], top: Any, i: int, names: list[str]) -> np.ndarray:
    import cv2

    from deepracer.sim.video import Pose

    x, y, yaw, v = rec["poses"][0][min(i, len(rec["poses"][0]) - 1)]
    img = top.draw(Pose(x, y, yaw, v), (), rec["objects"][min(i, len(rec["objects"]) - 1)])
    h = img.shape[0]
    cams = []
    for k, frames in enumerate(rec["frames"]):
        f = frames[min(i, len(frames) - 1)]
        f = cv2.cvtColor(f, cv2.COLOR_GRAY2BGR) if f.ndim == 2 else f
        f = cv2.resize(f, (int(round(f.shape[1] * h / 2 / f.shape[0])), h // 2), interpolation=cv2.INTER_NEAREST)
        cv2.putText(f, names[k], (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
        cams.append(f)
    left = np.vstack(cams)
    left = left[:h] if left.shape[0] >= h else np.vstack([left, np.zeros((h - left.shape[0],) + left.shape[1:],
                                                                          np.uint8)])
    return np.hstack([left, img])

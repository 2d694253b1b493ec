"""Evaluation as DeepRacer runs it: N trials (laps) driven one after the other, greedy policy.

The car starts at rest on waypoint 0 and drives continuously; each lap is a trial. A failure
(off_track, reversed, immobilized) puts the car back on the centre line where it left, with
`off_track_penalty` seconds added to the lap time (the simulator's evaluation rule); after
`resets` such resets in one trial the next failure ends the trial with that status, and the
next trial starts from where the car was put back. A trial running longer than
`max_trial_seconds` ends as `time_up`.

The same bookkeeping reads the simulator's status stream from either driver:
- direct (ROS-free): the policy answers each rendered frame, and its action goes through
  the same conversions as in the node graph (action -> Twist -> action, last steering kept
  at zero speed) before `Simulator.step`;
- through ROS: sim_node + inference_node + control_node in lock-step, statuses read from
  `sim/status` and the policy's action on each frame from `policy/action`. This core module
  does not import ROS: the caller passes the driver in (`ros_driver`, a `RosDriver`; the
  application layer, `deepracer evaluate --through-ros`, passes
  `deepracer_nodes.sim_runner.drive_evaluation`, which runs the graph with the same off-track
  penalty).
On the same seed both see the same frames, so they give the same trials (and simtraces).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from deepracer.analysis.simtrace import SimTraceWriter
from deepracer.control.kinematics import WHEELBASE_M, action_to_twist, twist_to_action
from deepracer.errors import ConfigError
from deepracer.messages import FAILURES, EpisodeStatus, PolicyAction, SimStatus, StepRecord
from deepracer.sim.race import EVALUATION_OFF_TRACK_PENALTY_S, EVALUATION_TRIALS

if TYPE_CHECKING:
    from deepracer.sim.race import RaceStatus
    from deepracer.sim.simulator import Simulator
    from deepracer.sim.vehicle import VehicleState

DEFAULT_PENALTY_S = EVALUATION_OFF_TRACK_PENALTY_S  # DeepRacer's evaluation default, as the simulator's and sim_node's


class RosDriver(Protocol):
    """Runs the node graph in lock-step and calls `on_status` for every sim/status, in order, with
    the policy/action on that step's frame; returns when the graph stops or `on_status` raises."""

    def __call__(self, *, model: str, track: str | Path | None, seed: int, off_track_penalty_s: float,
                 max_seconds: float, on_status: Callable[[SimStatus, PolicyAction | None], None],
                 race_params: dict[str, Any] | None = None) -> None: ...
# EvaluationMetrics-*.json spells statuses as the console shows them
CONSOLE_STATUS = {"lap_complete": "Lap complete", "off_track": "Off track", "reversed": "Reversed",
                  "immobilized": "Immobilized", "time_up": "Time up", "crashed": "Crashed"}


@dataclass
class Trial:
    trial: int  # 1-based
    status: str  # lap_complete, off_track, reversed, immobilized, time_up
    progress: float  # 0..100
    lap_time_s: float | None  # completed laps only, penalties included
    elapsed_s: float  # penalties included
    off_track: int
    resets: int
    reversed: int = 0
    immobilized: int = 0
    crashes: int = 0  # collisions with obstacles or bot cars (object avoidance, head-to-bot)
    start_time_s: float = 0.0  # simulator time
    end_time_s: float = 0.0
    steps: int = 0

    @property
    def completed(self) -> bool:
        return self.status == "lap_complete"


@dataclass
class EvaluationResult:
    model: str
    track: str
    seed: int
    through_ros: bool
    off_track_penalty_s: float
    resets: int
    trials: list[Trial]
    samples: list[tuple[int, StepRecord, float]] = field(default_factory=list, repr=False)  # (trial index, sample, progress)
    wall_time_s: float = 0.0
    model_metadata: dict[str, Any] = field(default_factory=dict, repr=False)  # model_metadata.json as loaded
    race: dict[str, Any] = field(default_factory=lambda: {"race_type": "time_trial"})  # RaceConfig.to_json()
    camera_profile: str = "car"  # the camera profile the frames were rendered through

    @property
    def start_delay_s(self) -> float:
        """Simulated time the car stood on the start line before its first move (the node graph
        answers its first frames with zero speed while it comes up); not part of any lap."""
        return self.samples[0][1].sim_time if self.samples else 0.0

    def summary(self) -> dict[str, Any]:
        laps = [t.lap_time_s for t in self.trials if t.lap_time_s is not None]
        return {
            "trials": len(self.trials),
            "completed": len(laps),
            "completion_rate": len(laps) / len(self.trials) if self.trials else 0.0,
            "mean_progress": sum(t.progress for t in self.trials) / len(self.trials) if self.trials else 0.0,
            "best_lap_time_s": min(laps) if laps else None,
            "mean_lap_time_s": sum(laps) / len(laps) if laps else None,
            "off_track": sum(t.off_track for t in self.trials),
            "resets": sum(t.resets for t in self.trials),
            "crashes": sum(t.crashes for t in self.trials),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model, "track": self.track, "seed": self.seed, "through_ros": self.through_ros,
            "off_track_penalty_s": self.off_track_penalty_s, "resets_per_trial": self.resets,
            **self.race,
            "camera_profile": self.camera_profile,
            "trials": [asdict(t) for t in self.trials],
            "summary": self.summary(),
            "start_delay_s": round(self.start_delay_s, 6),
            "wall_time_s": round(self.wall_time_s, 3),
        }


class _Done(Exception):
    """Raised from a status callback to stop the ROS graph once every trial is over."""


class TrialBook:
    """Cuts the simulator's status stream into trials."""

    def __init__(self, trials: int, resets: int, penalty_s: float, max_trial_seconds: float,
                 collision_penalty_s: float = 5.0) -> None:
        self.n, self.resets, self.penalty, self.limit = trials, resets, penalty_s, max_trial_seconds
        self.collision_penalty = collision_penalty_s  # per crash (the simulator puts the car behind the object)
        self._crashes = 0
        self.trials: list[Trial] = []
        self.samples: list[tuple[int, StepRecord, float]] = []
        self._base: float | None = None  # race total (laps*100 + progress) at the trial start
        self._t0 = 0.0
        self._counts: dict[str, int] = dict.fromkeys(sorted(FAILURES), 0)
        self._steps = 0
        self._start: StepRecord | None = None  # the first sample, until the car moves

    @property
    def done(self) -> bool:
        return len(self.trials) >= self.n

    @staticmethod
    def _total(s: StepRecord) -> float:
        # at lap_complete the simulator reports the finished lap (progress 100) with the lap count already up
        return s.lap * 100.0 + (0.0 if s.status == EpisodeStatus.LAP_COMPLETE else s.progress)

    def feed(self, s: StepRecord) -> None:
        if self.done:
            return
        index = len(self.trials)
        if self._base is None:  # the car at rest before the first step
            self._base, self._t0, self._start = self._total(s), s.sim_time, s
            self.samples.append((index, s, 0.0))
            return
        if self._start is not None:
            if s.speed == 0.0 and math.hypot(s.x - self._start.x, s.y - self._start.y) < 1e-9:
                # Still standing on the start line (the node graph answers its first frames with
                # zero speed until the policy's commands come through): the clock starts on the
                # first move, in both drivers alike.
                if s.sim_time - self._start.sim_time >= self.limit:
                    self._t0 = self._start.sim_time  # a policy that never drives: time_up from the start
                    self._start = None
                else:
                    self._base, self._t0 = self._total(s), s.sim_time
                    self.samples[-1] = (index, s, 0.0)
                    return
            self._start = None
        self._steps += 1
        if s.status in FAILURES:
            self._counts[s.status] += 1
        crashed = s.status == EpisodeStatus.CRASHED
        self._crashes += crashed
        resets = sum(self._counts.values()) + self._crashes  # DeepRacer's reset_count counts crashes too
        progress = self._total(s) - self._base
        elapsed = (s.sim_time - self._t0 + self.penalty * (resets - self._crashes)
                   + self.collision_penalty * self._crashes)
        end: str | None = None
        if progress >= 100.0 - 1e-9:  # the simulator's lap_complete only when the trial began at its lap start
            end, progress = "lap_complete", 100.0
        elif (s.status in FAILURES or crashed) and resets > self.resets:
            end = s.status
            elapsed -= self.collision_penalty if crashed else self.penalty  # the trial ends here: not reset
        elif elapsed >= self.limit:
            end = "time_up"
        self.samples.append((index, s, max(0.0, min(100.0, progress))))
        if end is None:
            return
        used = resets - (1 if end in FAILURES or end == EpisodeStatus.CRASHED else 0)
        self.trials.append(Trial(
            trial=index + 1, status=end, progress=round(max(0.0, min(100.0, progress)), 6),
            lap_time_s=round(elapsed, 6) if end == "lap_complete" else None, elapsed_s=round(elapsed, 6),
            off_track=self._counts["off_track"], resets=used, reversed=self._counts["reversed"],
            immobilized=self._counts["immobilized"], start_time_s=round(self._t0, 6), end_time_s=round(s.sim_time, 6),
            steps=self._steps, crashes=self._crashes,
        ))
        self._base, self._t0 = self._total(s), s.sim_time
        self._counts = dict.fromkeys(self._counts, 0)
        self._crashes = 0
        self._steps = 0


def _sample_from_race(race: RaceStatus, state: VehicleState, action: int = -1, command: tuple[float, float] | None = None,
                      objects: tuple[tuple[float, float], ...] = ()) -> StepRecord:
    return StepRecord(
        sim_time=float(race.sim_time), x=float(state.x), y=float(state.y), yaw=float(state.yaw),
        steer=float(state.steering_deg), speed=float(state.speed), progress=float(race.progress), lap=int(race.lap),
        status=str(race.status), all_wheels_on_track=bool(race.all_wheels_on_track),
        closest_waypoint=int(race.closest_waypoint), action=action, command=command,
        lap_time_s=float(race.lap_time_s), off_track_count=int(race.off_track_count),
        crash_count=int(getattr(race, "crash_count", 0)), objects=objects,
    )


Decide = Callable[[Any, Any], tuple[float, float, int]]  # (frame, state) -> (steering deg, speed m/s, index)


def make_simulator(track: str | Path | None, seed: int, penalty_s: float, race: Any = None,
                   camera: Any = None) -> Simulator:
    """A simulator set up as sim_node sets it up (config/sim.yaml): 15 Hz camera, 160x120 mono8,
    no randomisation, failures put back on the track with the penalty; `race` (a RaceConfig) adds
    obstacles or bot cars; `camera` (a CameraPose) renders through another camera than sim_node's default."""
    from deepracer.node_params import SimNodeParams
    from deepracer.sim import DEFAULT_TRACK, Simulator

    # sim_node's own defaults (deepracer.node_params), with what the evaluation fixes
    params = SimNodeParams(seed=seed, randomize=False, off_track="reset", off_track_penalty=penalty_s)
    return Simulator(params.sim_config(str(track) if track else DEFAULT_TRACK,
                                       **(race.sim_fields() if race is not None else {}),
                                       **({"camera": camera} if camera is not None else {})))


def _objects(sim: Simulator) -> tuple[tuple[float, float], ...]:
    return tuple((round(o.x, 4), round(o.y, 4)) for o in sim.object_list) if sim.objects is not None else ()


def drive_samples(sim: Simulator, decide: Decide) -> Iterator[StepRecord]:
    """The status stream of `decide` driving `sim` from waypoint 0, forever.

    Each command goes through the graph's conversions: inference_node's action -> Twist,
    control_node (scale 1), sim_node's Twist -> action keeping the last steering angle.
    """
    race = sim.reset(start_waypoint=0)
    yield _sample_from_race(race, sim.state, objects=_objects(sim))
    steering = 0.0  # sim_node's initial steering angle
    while True:
        wanted_steering, wanted_speed, index = decide(sim.render(), sim.state)
        linear_x, angular_z = action_to_twist(wanted_steering, wanted_speed)
        steering, speed = twist_to_action(linear_x, angular_z, WHEELBASE_M, last_steering_deg=steering)
        race = sim.step(steering, speed)
        yield _sample_from_race(race, sim.state, index, (wanted_steering, wanted_speed), _objects(sim))


SIM_SENSORS = ("STEREO_CAMERAS", "LIDAR")  # what the simulator's car has: every camera and LiDAR model runs


def policy_decide(model: str | Path, num_threads: int = 1, sim: Simulator | None = None) -> Decide:
    """The greedy policy on the rendered frame, as inference_node runs it. With `sim`, a stereo or
    LiDAR model reads its stereo pair / LiDAR scan from it (the frame passed in is the front camera's);
    without, such a model is refused by name."""
    from deepracer.model.package import load_model_package
    from deepracer.model.policy import OnnxPolicy

    policy = OnnxPolicy(load_model_package(model), num_threads=num_threads,
                        sensors=SIM_SENSORS if sim is not None else ("FRONT_FACING_CAMERA",))
    policy.reset()

    def decide(frame: Any, _state: Any) -> tuple[float, float, int]:
        if sim is not None and policy.stereo:
            frame = sim.render_stereo()
        d = policy.predict(frame, sim.lidar_scan() if sim is not None and policy.needs_lidar else None)
        return d.steering_angle, d.speed, d.index if d.index is not None else -1

    return decide


def evaluate(
    model: str | Path,
    track: str | Path | None = None,
    trials: int = EVALUATION_TRIALS,
    off_track_penalty_s: float = DEFAULT_PENALTY_S,
    resets: int = 0,
    seed: int = 0,
    through_ros: bool = False,
    max_trial_seconds: float = 120.0,
    progress: Callable[[Trial], None] | None = None,
    ros_driver: RosDriver | None = None,
    race: Any = None,
    camera_profile: str | Path | None = None,
) -> EvaluationResult:
    """Run `trials` trials and return them with the per-step samples (through ROS: with `ros_driver`).
    The frames are rendered through `camera_profile` (a built-in name or file), by default the camera
    profile the model package records, else the simulator's default (`car`)."""
    if through_ros and ros_driver is None:
        raise ConfigError("evaluate(through_ros=True) needs ros_driver (deepracer_nodes.sim_runner.drive_evaluation)")
    if trials < 1:
        raise ConfigError(f"--trials must be at least 1, got {trials}")
    if resets < 0:
        raise ConfigError(f"--resets must be >= 0, got {resets}")
    if not (off_track_penalty_s >= 0 and math.isfinite(off_track_penalty_s)):
        raise ConfigError(f"--off-track-penalty must be >= 0 seconds, got {off_track_penalty_s}")
    from deepracer.model.package import load_model_package
    from deepracer.sim import DEFAULT_TRACK, load_track

    package = load_model_package(model)  # ModelPackageError naming the file before anything starts
    from deepracer.camera_profile import resolve_profile

    profile = resolve_profile(camera_profile) if camera_profile else package.metadata.camera_profile
    track_obj = load_track(str(track) if track else DEFAULT_TRACK)
    if race is not None:
        race.validate()
    book = TrialBook(trials, resets, off_track_penalty_s, max_trial_seconds,
                     race.collision_penalty_s if race is not None else 5.0)
    start = time.monotonic()

    def feed(sample: StepRecord) -> None:
        before = len(book.trials)
        book.feed(sample)
        if progress is not None and len(book.trials) > before:
            progress(book.trials[-1])

    if through_ros and ros_driver is not None:
        _run_through_ros(ros_driver, model, track, seed, off_track_penalty_s, trials * max_trial_seconds + 5.0,
                         book, feed, race, profile)
    else:
        from deepracer.sim.camera import CameraPose

        sim = make_simulator(track, seed, off_track_penalty_s, race,
                             CameraPose.from_profile(profile) if profile is not None else None)
        for sample in drive_samples(sim, policy_decide(model, sim=sim)):
            feed(sample)
            if book.done:
                break
    return EvaluationResult(
        model=package.name, track=track_obj.name, seed=seed, through_ros=through_ros,
        off_track_penalty_s=off_track_penalty_s, resets=resets, trials=book.trials, samples=book.samples,
        wall_time_s=time.monotonic() - start, model_metadata=package.metadata.to_dict(),
        race=race.to_json() if race is not None else {"race_type": "time_trial"},
        camera_profile=profile.name if profile is not None else "car",
    )


def _run_through_ros(driver: RosDriver, model: str | Path, track: str | Path | None, seed: int, penalty_s: float,
                     max_seconds: float, book: TrialBook, feed: Callable[[StepRecord], None],
                     race: Any = None, profile: Any = None) -> None:
    previous: list[PolicyAction | None] = [None]  # the policy's action on the last step's frame: it led to this step

    def on_status(st: SimStatus, action: PolicyAction | None) -> None:
        feed(StepRecord.from_status(st, previous[0]))
        previous[0] = action
        if book.done:
            raise _Done

    try:
        # a race type's obstacles / bots reach sim_node as its parameters (time trials: nothing more)
        extra = camera_node_params(profile)
        if race is not None and race.race_type != "time_trial":
            driver(model=str(model), track=track, seed=seed, off_track_penalty_s=penalty_s, max_seconds=max_seconds,
                   on_status=on_status, race_params=race.node_params() | extra)
        elif extra:
            driver(model=str(model), track=track, seed=seed, off_track_penalty_s=penalty_s, max_seconds=max_seconds,
                   on_status=on_status, race_params=extra)
        else:
            driver(model=str(model), track=track, seed=seed, off_track_penalty_s=penalty_s, max_seconds=max_seconds,
                   on_status=on_status)
    except _Done:
        return
    if not book.done:
        raise ConfigError(f"the node graph stopped after {len(book.trials)} of {book.n} trials")


def camera_node_params(profile: Any) -> dict[str, Any]:
    """sim_node's camera_profile parameter for a profile: its built-in name, else a file written for it."""
    if profile is None:
        return {}
    from deepracer.camera_profile import BUILTIN_PROFILES, save_profile

    if BUILTIN_PROFILES.get(profile.name) == profile:
        return {"camera_profile": profile.name}
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="deepracer-camera-")) / f"{profile.name}.yaml"
    return {"camera_profile": str(save_profile(profile, path))}


def write_outputs(result: EvaluationResult, out: str | Path, track_length_m: float) -> dict[str, Path]:
    """DeepRacer-for-Cloud's layout: evaluation-<stamp>/evaluation-simtrace/0-iteration.csv,
    metrics/EvaluationMetrics-<stamp>.json, model/model_metadata.json (the action space, and what
    makes deepracer-utils recognise the folder), plus evaluation.json (our summary)."""
    out = Path(out)
    now = datetime.now(UTC)
    while (stamp := now.strftime("%Y%m%d%H%M%S")) and (out / f"evaluation-{stamp}").exists():
        now += timedelta(seconds=1)  # never overwrite an earlier evaluation in the same folder
    trace = out / f"evaluation-{stamp}" / "evaluation-simtrace" / "0-iteration.csv"
    metrics = out / "metrics" / f"EvaluationMetrics-{stamp}.json"
    summary = out / "evaluation.json"
    ends = {t.trial - 1: t for t in result.trials}
    steps: dict[int, int] = {}
    crashes: dict[int, int] = {}
    # object races add DeepRacer's obstacle_crash_counter, and the objects' (x, y) of each step
    objects = result.race.get("race_type", "time_trial") != "time_trial"
    with SimTraceWriter(trace, ("obstacle_crash_counter", "objects") if objects else ()) as w:
        for n, (index, s, progress) in enumerate(result.samples):
            steps[index] = steps.get(index, 0) + 1
            crashes[index] = crashes.get(index, 0) + (s.status == "crashed" and n > 0)
            extra = {"obstacle_crash_counter": crashes[index],
                     "objects": json.dumps([list(xy) for xy in s.objects])} if objects else {}
            trial = ends.get(index)
            last = trial is not None and (n + 1 == len(result.samples) or result.samples[n + 1][0] != index)
            status = "prepare" if n == 0 else (trial.status if last else "in_progress")
            # steer/throttle are the chosen action's, as in DeepRacer's logs and our training logs
            # (the car's own wheel angle and speed on the first row, before any decision)
            steer, throttle = s.command if s.command is not None else (s.steer, s.speed)
            w.row(episode=index, steps=float(steps[index]), X=s.x, Y=s.y, yaw=math.degrees(s.yaw), steer=steer,
                  throttle=throttle, action=s.action, reward=0.0, done=bool(last),
                  all_wheels_on_track=s.all_wheels_on_track, progress=progress, closest_waypoint=s.closest_waypoint,
                  track_len=track_length_m, tstamp=round(s.sim_time, 6), episode_status=status, pause_duration=0.0,
                  **extra)
    metadata = out / "model" / "model_metadata.json"
    if result.model_metadata and not metadata.exists():
        metadata.parent.mkdir(parents=True, exist_ok=True)
        metadata.write_text(json.dumps(result.model_metadata, indent=2) + "\n", encoding="utf-8")
    metrics.parent.mkdir(parents=True, exist_ok=True)
    metrics.write_text(json.dumps({"metrics": evaluation_metrics(result)}) + "\n", encoding="utf-8")
    summary.write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
    return {"simtrace": trace, "metrics": metrics, "summary": summary}


def evaluation_metrics(result: EvaluationResult) -> list[dict[str, Any]]:
    """EvaluationMetrics-*.json entries as DeepRacer writes them (times in ms of sim time)."""
    return [{
        "completion_percentage": int(round(t.progress)),
        "metric_time": int(round(t.end_time_s * 1000)),
        "start_time": int(round(t.start_time_s * 1000)),
        "elapsed_time_in_milliseconds": int(round(t.elapsed_s * 1000)),
        "episode_status": CONSOLE_STATUS.get(t.status, t.status),
        "crash_count": t.crashes,
        "immobilized_count": t.immobilized,
        "off_track_count": t.off_track,
        "reversed_count": t.reversed,
        "reset_count": t.resets,
        "trial": t.trial,
    } for t in result.trials]

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
- through ROS: sim_node + inference_node + control_node in lock-step
  (`deepracer_nodes.sim_runner.run_sim_graph`, with the same off-track penalty), statuses
  read from `sim/status` and the policy's action on each frame from `policy/action`.
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
from typing import Any

from deepracer.analysis.simtrace import SimTraceWriter
from deepracer.control.kinematics import WHEELBASE_M, action_to_twist, twist_to_action
from deepracer.errors import ConfigError

FAILURES = ("off_track", "reversed", "immobilized")
DEFAULT_PENALTY_S = 3.0  # the simulator's (and sim_node's) default off-track penalty
# EvaluationMetrics-*.json spells statuses as the console shows them
CONSOLE_STATUS = {"lap_complete": "Lap complete", "off_track": "Off track", "reversed": "Reversed",
                  "immobilized": "Immobilized", "time_up": "Time up", "crashed": "Crashed"}


@dataclass(frozen=True)
class Sample:
    """The car after one simulator step (or at the start: `prepare`)."""

    sim_time: float
    x: float
    y: float
    yaw: float  # rad
    steer: float  # deg, the front wheels
    speed: float  # m/s
    progress: float  # 0..100 of the simulator's current lap
    lap: int  # laps completed in the simulator
    status: str
    all_wheels_on_track: bool
    closest_waypoint: int
    # the policy's decision that led to this sample (on the previous step's frame), as in
    # DeepRacer's simtrace; none on the first sample
    action: int = -1  # discrete action index, -1 when unknown or continuous
    command: tuple[float, float] | None = None  # (steering deg, speed m/s) the policy chose
    lap_time_s: float = 0.0  # the simulator's time in its current lap, its off-track penalties included


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
    samples: list[tuple[int, Sample, float]] = field(default_factory=list, repr=False)  # (trial index, sample, progress)
    wall_time_s: float = 0.0
    model_metadata: dict[str, Any] = field(default_factory=dict, repr=False)  # model_metadata.json as loaded

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
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model, "track": self.track, "seed": self.seed, "through_ros": self.through_ros,
            "off_track_penalty_s": self.off_track_penalty_s, "resets_per_trial": self.resets,
            "trials": [asdict(t) for t in self.trials],
            "summary": self.summary(),
            "start_delay_s": round(self.start_delay_s, 6),
            "wall_time_s": round(self.wall_time_s, 3),
        }


class _Done(Exception):
    """Raised from a status callback to stop the ROS graph once every trial is over."""


class TrialBook:
    """Cuts the simulator's status stream into trials."""

    def __init__(self, trials: int, resets: int, penalty_s: float, max_trial_seconds: float) -> None:
        self.n, self.resets, self.penalty, self.limit = trials, resets, penalty_s, max_trial_seconds
        self.trials: list[Trial] = []
        self.samples: list[tuple[int, Sample, float]] = []
        self._base: float | None = None  # race total (laps*100 + progress) at the trial start
        self._t0 = 0.0
        self._counts = {"off_track": 0, "reversed": 0, "immobilized": 0}
        self._steps = 0
        self._start: Sample | None = None  # the first sample, until the car moves

    @property
    def done(self) -> bool:
        return len(self.trials) >= self.n

    @staticmethod
    def _total(s: Sample) -> float:
        # at lap_complete the simulator reports the finished lap (progress 100) with the lap count already up
        return s.lap * 100.0 + (0.0 if s.status in ("lap_complete", "done") else s.progress)

    def feed(self, s: Sample) -> None:
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
        resets = sum(self._counts.values())
        progress = self._total(s) - self._base
        elapsed = s.sim_time - self._t0 + self.penalty * resets
        end: str | None = None
        if progress >= 100.0 - 1e-9:  # the simulator's lap_complete only when the trial began at its lap start
            end, progress = "lap_complete", 100.0
        elif s.status in FAILURES and resets > self.resets:
            end = s.status
            elapsed -= self.penalty  # the trial ends here: this failure is not reset
        elif elapsed >= self.limit:
            end = "time_up"
        self.samples.append((index, s, max(0.0, min(100.0, progress))))
        if end is None:
            return
        used = resets - (1 if end in FAILURES else 0)
        self.trials.append(Trial(
            trial=index + 1, status=end, progress=round(max(0.0, min(100.0, progress)), 6),
            lap_time_s=round(elapsed, 6) if end == "lap_complete" else None, elapsed_s=round(elapsed, 6),
            off_track=self._counts["off_track"], resets=used, reversed=self._counts["reversed"],
            immobilized=self._counts["immobilized"], start_time_s=round(self._t0, 6), end_time_s=round(s.sim_time, 6),
            steps=self._steps,
        ))
        self._base, self._t0 = self._total(s), s.sim_time
        self._counts = dict.fromkeys(self._counts, 0)
        self._steps = 0


def _sample_from_race(race: Any, state: Any, action: int = -1, command: tuple[float, float] | None = None) -> Sample:
    return Sample(
        sim_time=float(race.sim_time), x=float(state.x), y=float(state.y), yaw=float(state.yaw),
        steer=float(state.steering_deg), speed=float(state.speed), progress=float(race.progress), lap=int(race.lap),
        status=str(race.status), all_wheels_on_track=bool(race.all_wheels_on_track),
        closest_waypoint=int(race.closest_waypoint), action=action, command=command,
        lap_time_s=float(race.lap_time_s),
    )


def _sample_from_status(st: dict[str, Any], decision: dict[str, Any] | None = None) -> Sample:
    """A sim/status message as a sample; `decision` is the policy/action that led to it."""
    index = decision.get("index") if decision else None
    return Sample(
        sim_time=float(st["sim_time"]), x=float(st["x"]), y=float(st["y"]), yaw=float(st["yaw"]),
        steer=float(st["steering_deg"]), speed=float(st["speed"]), progress=float(st["progress"]),
        lap=int(st["lap"]), status=str(st["status"]), all_wheels_on_track=bool(st["all_wheels_on_track"]),
        closest_waypoint=int(st["closest_waypoint"]), action=int(index) if index is not None else -1,
        command=(float(decision["steering_angle"]), float(decision["speed"])) if decision else None,
        lap_time_s=float(st["lap_time_s"]),
    )


Decide = Callable[[Any, Any], tuple[float, float, int]]  # (frame, state) -> (steering deg, speed m/s, index)


def make_simulator(track: str | Path | None, seed: int, penalty_s: float) -> Any:
    """A simulator set up as sim_node sets it up (config/sim.yaml): 15 Hz camera, 160x120 mono8,
    no randomisation, failures put back on the track with the penalty."""
    from deepracer.sim import DEFAULT_TRACK, SimConfig, Simulator

    return Simulator(SimConfig(track=str(track) if track else DEFAULT_TRACK, camera_hz=15.0, physics_hz=60.0,
                               width=160, height=120, grayscale=True, randomize=False, seed=seed,
                               off_track="reset", off_track_penalty_s=penalty_s))


def drive_samples(sim: Any, decide: Decide) -> Iterator[Sample]:
    """The status stream of `decide` driving `sim` from waypoint 0, forever.

    Each command goes through the graph's conversions: inference_node's action -> Twist,
    control_node (scale 1), sim_node's Twist -> action keeping the last steering angle.
    """
    race = sim.reset(start_waypoint=0)
    yield _sample_from_race(race, sim.state)
    steering = 0.0  # sim_node's initial steering angle
    while True:
        wanted_steering, wanted_speed, index = decide(sim.render(), sim.state)
        linear_x, angular_z = action_to_twist(wanted_steering, wanted_speed)
        steering, speed = twist_to_action(linear_x, angular_z, WHEELBASE_M, last_steering_deg=steering)
        race = sim.step(steering, speed)
        yield _sample_from_race(race, sim.state, index, (wanted_steering, wanted_speed))


def policy_decide(model: str | Path, num_threads: int = 1) -> Decide:
    """The greedy policy on the rendered frame, as inference_node runs it."""
    from deepracer.model.package import load_model_package
    from deepracer.model.policy import OnnxPolicy

    policy = OnnxPolicy(load_model_package(model), num_threads=num_threads)
    policy.reset()

    def decide(frame: Any, _state: Any) -> tuple[float, float, int]:
        d = policy.predict(frame)
        return d.steering_angle, d.speed, d.index if d.index is not None else -1

    return decide


def evaluate(
    model: str | Path,
    track: str | Path | None = None,
    trials: int = 3,
    off_track_penalty_s: float = DEFAULT_PENALTY_S,
    resets: int = 0,
    seed: int = 0,
    through_ros: bool = False,
    max_trial_seconds: float = 120.0,
    progress: Callable[[Trial], None] | None = None,
) -> EvaluationResult:
    """Run `trials` trials and return them with the per-step samples."""
    if trials < 1:
        raise ConfigError(f"--trials must be at least 1, got {trials}")
    if resets < 0:
        raise ConfigError(f"--resets must be >= 0, got {resets}")
    if not (off_track_penalty_s >= 0 and math.isfinite(off_track_penalty_s)):
        raise ConfigError(f"--off-track-penalty must be >= 0 seconds, got {off_track_penalty_s}")
    from deepracer.model.package import load_model_package
    from deepracer.sim import DEFAULT_TRACK, load_track

    package = load_model_package(model)  # ModelPackageError naming the file before anything starts
    track_obj = load_track(str(track) if track else DEFAULT_TRACK)
    book = TrialBook(trials, resets, off_track_penalty_s, max_trial_seconds)
    start = time.monotonic()

    def feed(sample: Sample) -> None:
        before = len(book.trials)
        book.feed(sample)
        if progress is not None and len(book.trials) > before:
            progress(book.trials[-1])

    if through_ros:
        _run_through_ros(model, track, seed, off_track_penalty_s, trials * max_trial_seconds + 5.0, book, feed)
    else:
        for sample in drive_samples(make_simulator(track, seed, off_track_penalty_s), policy_decide(model)):
            feed(sample)
            if book.done:
                break
    return EvaluationResult(
        model=package.name, track=track_obj.name, seed=seed, through_ros=through_ros,
        off_track_penalty_s=off_track_penalty_s, resets=resets, trials=book.trials, samples=book.samples,
        wall_time_s=time.monotonic() - start, model_metadata=package.metadata.to_dict(),
    )


def _run_through_ros(model: str | Path, track: str | Path | None, seed: int, penalty_s: float, max_seconds: float,
                     book: TrialBook, feed: Callable[[Sample], None]) -> None:
    from deepracer_nodes.sim_runner import run_sim_graph

    previous: dict[str, Any] = {}  # the policy's action on the last step's frame: it led to this step

    def on_status(st: dict[str, Any]) -> None:
        feed(_sample_from_status(st, previous.get("action")))
        previous["action"] = st.get("policy_action")
        if book.done:
            raise _Done

    try:
        run_sim_graph(model=str(model), track=track, laps=10_000, lock_step=True, seed=seed, randomize=False,
                      max_seconds=max_seconds, record=False, stuck_seconds=max_seconds,
                      namespace=f"eval_{int(time.monotonic() * 1e6) % 10**9}", on_status=on_status,
                      off_track_penalty=penalty_s,
                      # strict lock-step: a slow answer on a loaded machine must not become a zero-speed step;
                      # failures put the car back (whatever a config file says), as in make_simulator()
                      sim_params={"lock_step_timeout": 60.0, "off_track": "reset"})
    except _Done:
        return
    if not book.done:
        raise ConfigError(f"the node graph stopped after {len(book.trials)} of {book.n} trials")


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
    with SimTraceWriter(trace) as w:
        for n, (index, s, progress) in enumerate(result.samples):
            steps[index] = steps.get(index, 0) + 1
            trial = ends.get(index)
            last = trial is not None and (n + 1 == len(result.samples) or result.samples[n + 1][0] != index)
            status = "prepare" if n == 0 else (trial.status if last else "in_progress")
            # steer/throttle are the chosen action's, as in DeepRacer's logs and our training logs
            # (the car's own wheel angle and speed on the first row, before any decision)
            steer, throttle = s.command if s.command is not None else (s.steer, s.speed)
            w.row(episode=index, steps=float(steps[index]), X=s.x, Y=s.y, yaw=math.degrees(s.yaw), steer=steer,
                  throttle=throttle, action=s.action, reward=0.0, done=bool(last),
                  all_wheels_on_track=s.all_wheels_on_track, progress=progress, closest_waypoint=s.closest_waypoint,
                  track_len=track_length_m, tstamp=round(s.sim_time, 6), episode_status=status, pause_duration=0.0)
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
        "crash_count": 0,
        "immobilized_count": t.immobilized,
        "off_track_count": t.off_track,
        "reversed_count": t.reversed,
        "reset_count": t.resets,
        "trial": t.trial,
    } for t in result.trials]

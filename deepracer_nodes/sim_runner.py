"""Run the simulator graph (sim_node -> inference_node -> control_node -> sim_node) to the end
of a race and collect what happened: lap times, per-step records, camera frames.

`deepracer sim` and `deepracer evaluate --through-ros` use `run_sim_graph`. The nodes are
the car's, composed by GraphRunner from `deepracer.graph.sim_graph()`, in one process or
as separate processes; an observer node of our own records `sim/status` (one message per
simulator step: pose, progress, lap times), `camera/image_raw` and inference_node's
`policy/action` (the action index and command decided on each frame, matched to the step
whose frame it answered by the frame's sim-time stamp).

If no model package exists at all, a pure-pursuit driver can stand in for inference_node
(`allow_fallback=True`); the result says so (`driver == "pure_pursuit"`).
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import rclpy
from geometry_msgs.msg import Twist
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import Image
from std_msgs.msg import String

from deepracer.control.kinematics import action_to_twist
from deepracer.errors import DeepRacerError, ModelPackageError
from deepracer.messages import EpisodeStatus, PolicyAction, SimStatus, StepRecord, StopReason
from deepracer_nodes.image_conversion import from_image_msg
from deepracer_nodes.sim_node import STATUS_DEPTH, history_qos

if TYPE_CHECKING:
    from deepracer.sim.track import Track

SILENCE_LIMIT_S = 30.0  # wall seconds without any sim/status: the graph is dead, not slow
# lock-step: wall seconds a step's status is held back for the policy/action that answered its
# frame once the next step is in (the action goes out before the command that makes that step)
ACTION_WAIT_S = 1.0
DRIVER_MODEL = "model"
DRIVER_PURE_PURSUIT = "pure_pursuit"


@dataclass(frozen=True)
class LapResult:
    lap: int  # 1-based
    lap_time_s: float
    completed: bool  # False: the run stopped during this lap (time_s is how long it ran)
    progress: float = 100.0


@dataclass
class SimRunResult:
    track: str
    model: str
    driver: str  # "model" or "pure_pursuit" (stand-in, no model package found)
    lock_step: bool
    laps_requested: int
    laps: list[LapResult]
    stop_reason: StopReason  # laps_done | time_up | stuck | off_track | wall_timeout
    # one per simulator step; `action`/`command`: the policy's decision on that step's frame
    # (what the car was told to do next), -1/None when no model answered it
    steps: list[StepRecord]
    frames: list[np.ndarray] = field(repr=False)
    frame_steps: list[int] = field(repr=False)  # index into steps of the pose at each frame
    wall_time_s: float = 0.0
    sim_time_s: float = 0.0
    camera_hz: float = 15.0
    status_log: list[SimStatus] = field(default_factory=list, repr=False)

    @property
    def completed_laps(self) -> int:
        return sum(1 for lap in self.laps if lap.completed)

    @property
    def trajectory(self) -> np.ndarray:
        """(N, 4): x, y, yaw, speed per simulator step."""
        return np.array([(s.x, s.y, s.yaw, s.speed) for s in self.steps], dtype=float).reshape(-1, 4)

    @property
    def off_track_count(self) -> int:
        return self.steps[-1].off_track_count if self.steps else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "track": self.track,
            "model": self.model,
            "driver": self.driver,
            "lock_step": self.lock_step,
            "laps_requested": self.laps_requested,
            "completed_laps": self.completed_laps,
            "laps": [asdict(lap) for lap in self.laps],
            "best_lap_s": min((lap.lap_time_s for lap in self.laps if lap.completed), default=None),
            "stop_reason": self.stop_reason,
            "off_track_count": self.off_track_count,
            "steps": len(self.steps),
            "frames": len(self.frames),
            "sim_time_s": round(self.sim_time_s, 3),
            "wall_time_s": round(self.wall_time_s, 3),
        }


def _stamp_key(seconds: float) -> int:
    return int(round(seconds * 1e6))  # sim times are stamped to the nanosecond; match to the microsecond


class _Recorder(Node):
    """Records sim/status, camera frames and policy/action; optionally drives with pure pursuit."""

    def __init__(self, track: Track, record_frames: bool, pure_pursuit: bool, **kwargs: Any) -> None:
        super().__init__("sim_recorder", **kwargs)
        self.lock = threading.Lock()
        self.status: list[SimStatus] = []
        self.frames: list[np.ndarray] = []
        self.frame_stamps: list[float] = []
        self.record_frames = record_frames
        # transient local: every step since the start, even if sim_node started before we matched
        self.create_subscription(String, "sim/status", self._on_status, history_qos(STATUS_DEPTH))
        self.create_subscription(Image, "camera/image_raw", self._on_image, history_qos(300))
        # inference_node keeps its last actions for a late reader (transient local), so the
        # decision on frame 0 is not lost to discovery
        self.actions: dict[int, PolicyAction] = {}  # _stamp_key(frame_stamp) -> policy/action
        self.create_subscription(String, "policy/action", self._on_action, history_qos(STATUS_DEPTH))
        self.driver = None
        self._pending_frames: list[float] = []
        if pure_pursuit:
            from deepracer.sim.pure_pursuit import PurePursuitDriver

            self.driver = PurePursuitDriver(track)
            self.pub_cmd = self.create_publisher(Twist, "policy/cmd_vel", 10)

    def _on_status(self, msg: String) -> None:
        with self.lock:
            self.status.append(SimStatus.from_json(msg.data))
        self._answer_frames()

    def _on_action(self, msg: String) -> None:
        action = PolicyAction.from_json(msg.data)
        with self.lock:
            self.actions[_stamp_key(action.frame_stamp)] = action

    def action_for(self, sim_time: float) -> PolicyAction | None:
        """The policy/action that answered the frame taken at `sim_time`, if one came."""
        key = _stamp_key(sim_time)
        with self.lock:
            for k in (key, key - 1, key + 1):
                if k in self.actions:
                    return self.actions[k]
        return None

    def _on_image(self, msg: Image) -> None:
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        if self.record_frames and (not self.frame_stamps or stamp > self.frame_stamps[-1]):
            frame, _ = from_image_msg(msg)
            with self.lock:
                self.frames.append(frame.copy())
                self.frame_stamps.append(stamp)
        if self.driver is not None:
            self._pending_frames.append(stamp)
            self._answer_frames()

    def _answer_frames(self) -> None:
        """Pure pursuit answers frame t from the status of time t (published just before it)."""
        if self.driver is None:
            return
        while self._pending_frames and self.status:
            t = self._pending_frames[0]
            latest = self.status[-1]
            if latest.sim_time < t - 1e-6:
                return  # the status for this frame has not arrived yet
            self._pending_frames.pop(0)
            from deepracer.sim.vehicle import VehicleState

            state = VehicleState(latest.x, latest.y, latest.yaw, latest.speed, latest.steering_deg, latest.sim_time)
            steering, speed = _as_action(self.driver.command(state))
            lin, ang = action_to_twist(steering, speed)
            msg = Twist()
            msg.linear.x, msg.angular.z = float(lin), float(ang)
            self.pub_cmd.publish(msg)


def _as_action(command: Any) -> tuple[float, float]:
    if hasattr(command, "steering_angle"):
        return float(command.steering_angle), float(command.speed)
    steering, speed = command
    return float(steering), float(speed)


def resolve_model(model: str | Path | None, allow_fallback: bool) -> tuple[str, str]:
    """(model path or "", driver). A given model must load; a missing bundled model may fall back."""
    from deepracer.paths import bundled_model

    explicit = model is not None and str(model) != ""
    path = Path(model) if explicit else bundled_model()
    if not path.exists():
        if explicit or not allow_fallback:
            raise ModelPackageError("model package not found", path)
        return "", DRIVER_PURE_PURSUIT
    from deepracer.model.package import load_model_package

    load_model_package(path)  # raises ModelPackageError naming the file and the problem
    return str(path), DRIVER_MODEL


@dataclass(frozen=True)
class SimRunRequest:
    """What `run_sim_graph` is asked to drive (its keyword arguments)."""

    model: str | Path | None = None
    track: str | Path | None = None
    laps: int = 1
    lock_step: bool = False
    seed: int = 0
    randomize: bool = False
    max_seconds: float | None = None  # simulated time; None = 90 s a lap
    record: bool = True  # keep camera frames (for the video)
    processes: bool = False  # one process per node
    allow_fallback: bool = False  # pure pursuit when no model package exists at all
    stuck_seconds: float = 10.0
    wall_timeout_s: float | None = None  # None = max(60 s, 4 x max_seconds)
    namespace: str = ""
    sim_params: dict[str, Any] | None = None  # more sim_node parameters
    config: str | Path | None = None  # params file (default config/sim.yaml)
    on_status: Callable[[SimStatus, PolicyAction | None], None] | None = None
    off_track_penalty: float | None = None  # None: the config's

    @property
    def sim_seconds(self) -> float:
        return float(self.max_seconds if self.max_seconds is not None else 90.0 * max(1, self.laps))

    @property
    def wall_seconds(self) -> float:
        return self.wall_timeout_s if self.wall_timeout_s is not None else max(60.0, 4.0 * self.sim_seconds)

    def specs(self, model_path: str, driver: str) -> list[Any]:
        """The node graph: config/sim.yaml's sim graph with this run's sim_node and model parameters."""
        from deepracer.graph import sim_graph, sim_overrides

        overrides = sim_overrides(str(self.track or ""), model_path, self.lock_step)
        sim = overrides.get("sim_node", {}) | {
            "track": str(self.track or ""), "seed": int(self.seed), "randomize": bool(self.randomize),
            "max_laps": int(self.laps), "max_time": self.sim_seconds, "wait_for_status_reader": True}
        if self.off_track_penalty is not None:
            sim["off_track_penalty"] = float(self.off_track_penalty)
        sim |= dict(self.sim_params or {})
        specs = sim_graph(self.config, sim_node=sim, inference_node={"model": model_path})
        return [s for s in specs if s.name != "inference_node"] if driver == DRIVER_PURE_PURSUIT else specs


@dataclass
class _Watch:
    """run_sim_graph's bookkeeping while the graph drives: statuses seen, progress, news."""

    request: SimRunRequest
    wait_for_actions: bool
    best_progress: float = -1.0
    best_at: float = 0.0
    seen: int = 0
    last_news: float = field(default_factory=time.monotonic)
    pending: deque[tuple[SimStatus, float]] = field(default_factory=deque)  # (status, wall time received)

    def poll(self, recorder: _Recorder, graph_running: bool) -> StopReason | None:
        """Hand the new statuses to on_status, in order; the reason to stop, if one came."""
        with recorder.lock:
            received = recorder.status[self.seen:]
            self.seen = len(recorder.status)
        now = time.monotonic()
        self.pending.extend((st, now) for st in received)
        new = _ready_statuses(self.pending, recorder, self.wait_for_actions, now)
        if received:
            self.last_news = now
        elif not graph_running:
            raise DeepRacerError("the simulator graph stopped unexpectedly (see the node log above)")
        elif now - self.last_news > SILENCE_LIMIT_S:
            raise DeepRacerError(f"no sim/status from sim_node for {SILENCE_LIMIT_S:.0f} s: "
                                 "the simulator graph is not running (see the node log above)")
        r = self.request
        for st, action in new:
            if r.on_status is not None:
                r.on_status(st, action)
            total = progress_total(st)
            if total > self.best_progress + 0.5:
                self.best_progress, self.best_at = total, st.sim_time
            reason = _stop_reason(st, r.laps, r.sim_seconds, self.best_at, r.stuck_seconds)
            if reason:
                return reason
        return None


def run_sim_graph(request: SimRunRequest | None = None, /, **kwargs: Any) -> SimRunResult:
    """Drive `laps` laps on `track` with the car's nodes and return what happened
    (`run_sim_graph(model=..., laps=...)` or `run_sim_graph(SimRunRequest(...))`).

    Stops when the laps are done, after `max_seconds` of simulated time (default 90 s a
    lap), when progress has not advanced for `stuck_seconds` (stuck, or off track for
    good), or after `wall_timeout_s` of wall time as a last resort.

    `on_status(status, action)` gets each sim/status message in order with the policy/action
    that answered that step's frame, or None. In lock-step with a model, a status is held back
    until that action is in (or, if none comes, until ACTION_WAIT_S after the next status).
    `off_track_penalty` (seconds) sets sim_node's parameter of that name (None: the config's, 3 s).
    """
    from deepracer.sim import DEFAULT_TRACK, load_track
    from deepracer_nodes.graph_runner import GraphRunner

    r = dataclasses.replace(request, **kwargs) if request is not None else SimRunRequest(**kwargs)
    track_obj = load_track(r.track or DEFAULT_TRACK)  # TrackError for an unknown name
    model_path, driver = resolve_model(r.model, r.allow_fallback)
    specs = r.specs(model_path, driver)

    ctx = Context()
    rclpy.init(context=ctx, args=[], signal_handler_options=SignalHandlerOptions.NO)
    recorder = _Recorder(track_obj, r.record, driver == DRIVER_PURE_PURSUIT, context=ctx, namespace=r.namespace or None)
    executor = SingleThreadedExecutor(context=ctx)
    executor.add_node(recorder)
    # lock-step: every frame is answered before the next step, so each status can wait for its action
    watch = _Watch(r, wait_for_actions=r.lock_step and driver == DRIVER_MODEL)
    stop_reason = StopReason.WALL_TIMEOUT
    start = time.monotonic()
    try:
        with GraphRunner(specs, processes=r.processes, namespace=r.namespace) as graph:
            while time.monotonic() - start < r.wall_seconds:
                executor.spin_once(timeout_sec=0.05)
                reason = watch.poll(recorder, graph.running)
                if reason:
                    stop_reason = reason
                    break
    finally:
        wall = time.monotonic() - start
        executor.shutdown(timeout_sec=1.0)
        recorder.destroy_node()
        if ctx.ok():
            rclpy.shutdown(context=ctx)
    result = _result(track_obj, model_path, driver, r.lock_step, r.laps, stop_reason, recorder, wall)
    result.camera_hz = float(next(s for s in specs if s.name == "sim_node").parameters.get("camera_hz", 15.0))
    return result


def progress_total(st: SimStatus) -> float:
    """Laps and progress as one number (200 = two laps). At lap_complete the lap count is already
    up while progress still says 100: counting both would put the best 100 % ahead, and a lap
    longer than the stuck time would then end as `stuck`."""
    return st.lap * 100.0 + (0.0 if st.status == EpisodeStatus.LAP_COMPLETE else st.progress)


def _stop_reason(st: SimStatus, laps: int, max_seconds: float, best_at: float, stuck_seconds: float) -> StopReason | None:
    if len(st.laps) >= laps:
        return StopReason.LAPS_DONE
    if st.sim_time >= max_seconds - 1e-9 or st.finish_reason == StopReason.TIME_UP:
        return StopReason.TIME_UP
    if st.finished:  # the simulator ended the episode (off_track: end)
        return StopReason.OFF_TRACK if st.status == EpisodeStatus.OFF_TRACK else StopReason.STUCK
    if st.sim_time - best_at >= stuck_seconds:
        return StopReason.OFF_TRACK if not st.all_wheels_on_track else StopReason.STUCK
    return None


def _ready_statuses(pending: deque[tuple[SimStatus, float]], rec: _Recorder, wait_for_actions: bool,
                    now: float) -> list[tuple[SimStatus, PolicyAction | None]]:
    """Take the statuses that can go out, in order, each with the policy/action that answered its frame."""
    out = []
    while pending:
        st, _ = pending[0]
        action = rec.action_for(st.sim_time)
        if action is None and wait_for_actions and not st.finished:
            # The action for this frame was published before the command that makes the next
            # step, so it is still on its way, unless the next step came long ago without it
            # (a frame stepped after lock_step_timeout, a frame the model could not read).
            if len(pending) < 2 or now - pending[1][1] < ACTION_WAIT_S:
                break
        pending.popleft()
        out.append((st, action))
    return out


def _result(track: Track, model: str, driver: str, lock_step: bool, laps: int, reason: StopReason, rec: _Recorder,
            wall: float) -> SimRunResult:
    status: list[SimStatus] = []
    for st in rec.status:  # one record per sim instant (real time re-sends the start while waiting)
        if status and st.sim_time <= status[-1].sim_time:
            status[-1] = st
        else:
            status.append(st)
    steps = [StepRecord.from_status(st, rec.action_for(st.sim_time), step=i) for i, st in enumerate(status)]
    lap_results: list[LapResult] = []
    if status:
        last = status[-1]
        lap_results = [LapResult(i + 1, float(t), True) for i, t in enumerate(last.laps[:laps])]
        if len(lap_results) < laps and reason != StopReason.LAPS_DONE:
            lap_results.append(LapResult(len(lap_results) + 1, float(last.lap_time_s), False, float(last.progress)))
    # each frame shows the car at the step with the frame's stamp (status comes just before it)
    times = np.array([s.sim_time for s in steps]) if steps else np.zeros(0)
    frames, frame_steps = [], []
    for frame, stamp in zip(rec.frames, rec.frame_stamps, strict=True):
        if len(times):
            i = int(np.clip(np.searchsorted(times, stamp - 1e-6), 0, len(times) - 1))
            frames.append(frame)
            frame_steps.append(i)
    return SimRunResult(
        track=track.name,
        model=model,
        driver=driver,
        lock_step=lock_step,
        laps_requested=laps,
        laps=lap_results,
        stop_reason=reason,
        steps=steps,
        frames=frames,
        frame_steps=frame_steps,
        wall_time_s=wall,
        sim_time_s=steps[-1].sim_time if steps else 0.0,
        status_log=status,
    )


def drive_evaluation(*, model: str, track: str | Path | None, seed: int, off_track_penalty_s: float,
                     max_seconds: float, on_status: Callable[[SimStatus, PolicyAction | None], None],
                     race_params: dict[str, Any] | None = None) -> None:
    """The evaluation's ROS driver (deepracer.analysis.evaluation.RosDriver): the graph in strict lock-step;
    `race_params`: sim_node's race-type parameters (RaceConfig.node_params())."""
    run_sim_graph(model=model, track=track, laps=10_000, lock_step=True, seed=seed, randomize=False,
                  max_seconds=max_seconds, record=False, stuck_seconds=max_seconds,
                  namespace=f"eval_{int(time.monotonic() * 1e6) % 10**9}", on_status=on_status,
                  off_track_penalty=off_track_penalty_s,
                  # strict lock-step: a slow answer on a loaded machine must not become a zero-speed step;
                  # failures put the car back (whatever a config file says), as the direct evaluation does
                  sim_params={"lock_step_timeout": 60.0, "off_track": "reset", **(race_params or {})})


def yaw_deg(step: StepRecord) -> float:
    return math.degrees(step.yaw)

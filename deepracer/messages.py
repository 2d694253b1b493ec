"""Typed records that cross process and topic boundaries, and the enums they carry.

The diagnostic topics are std_msgs/String with JSON (docs/INTERFACES.md: the package stays
pure ament_python); these dataclasses are their one schema. The node that publishes calls
`to_json()`, every reader calls `from_json()`, so a field is added or renamed in one place.
`from_json` ignores keys it does not know (a newer publisher may add some) and raises
`MessageError` naming the topic and the missing field otherwise.

Enums are `StrEnum`: they compare equal to the plain strings on the wire and in DeepRacer's
files (`EpisodeStatus.OFF_TRACK == "off_track"`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any, ClassVar, Self

from deepracer.errors import DeepRacerError


class MessageError(DeepRacerError):
    """A JSON message that does not follow its schema."""


class EpisodeStatus(StrEnum):
    """DeepRacer's episode statuses (SIM_TRACE_LOG `episode_status`, the evaluation's trial end)."""

    PREPARE = "prepare"
    IN_PROGRESS = "in_progress"
    LAP_COMPLETE = "lap_complete"
    OFF_TRACK = "off_track"
    REVERSED = "reversed"
    IMMOBILIZED = "immobilized"
    CRASHED = "crashed"
    TIME_UP = "time_up"
    PAUSE = "pause"


# What puts the car back on the track (evaluation) or ends a training episode.
FAILURES: frozenset[EpisodeStatus] = frozenset({EpisodeStatus.OFF_TRACK, EpisodeStatus.REVERSED,
                                                EpisodeStatus.IMMOBILIZED})


class StopReason(StrEnum):
    """Why a simulated run ended: sim_node's `finish_reason` and `run_sim_graph`'s `stop_reason`."""

    LAPS_DONE = "laps_done"
    TIME_UP = "time_up"  # simulated time limit
    OFF_TRACK = "off_track"
    REVERSED = "reversed"
    IMMOBILIZED = "immobilized"
    CRASHED = "crashed"
    STUCK = "stuck"  # no progress for a while (run_sim_graph)
    WALL_TIMEOUT = "wall_timeout"  # the last resort: wall-clock limit (run_sim_graph)


class PulseReason(StrEnum):
    """Why servo_node wrote the pulses it reports on `servo/pulses`."""

    START = "start"
    COMMAND = "command"
    STALE = "stale"
    CALIBRATION = "calibration"
    EXIT = "exit"
    FAULT = "fault"


class _JsonRecord:
    """to_json/from_json for a flat dataclass; TOPIC names the topic in errors."""

    TOPIC: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = asdict(self)  # type: ignore[call-overload]  # subclasses are dataclasses
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        if not isinstance(data, dict):
            raise MessageError(f"{cls.TOPIC}: expected a JSON object, got {type(data).__name__}")
        known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except TypeError as err:  # a required field is missing
            raise MessageError(f"{cls.TOPIC}: {err}") from None

    @classmethod
    def from_json(cls, text: str) -> Self:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise MessageError(f"{cls.TOPIC}: not JSON: {err}") from None
        return cls.from_dict(data)


@dataclass(frozen=True)
class SimStatus(_JsonRecord):
    """`sim/status`: DeepRacer's race state plus the car's pose, one message per simulator step."""

    TOPIC: ClassVar[str] = "sim/status"

    progress: float  # 0..100 % of the current lap
    lap: int  # completed laps
    lap_time_s: float  # time in the current lap, off-track penalties included
    laps: list[float]  # completed lap times
    status: str  # EpisodeStatus of this step
    off_track: bool  # off track on this step
    off_track_count: int
    all_wheels_on_track: bool
    closest_waypoint: int
    sim_time: float
    steps: int  # camera steps since the start
    x: float
    y: float
    yaw: float  # rad
    steering_deg: float  # the front wheels
    speed: float  # m/s
    crash_count: int = 0  # collisions with obstacles or bot cars
    is_crashed: bool = False  # crashed on this step
    frame: int = 0  # frames published before this status
    finished: bool = False  # sim_node stopped the car (max_laps, max_time, off_track: end)
    finish_reason: str = ""  # StopReason or "" while running
    track: str = ""


@dataclass(frozen=True)
class PolicyAction(_JsonRecord):
    """`policy/action`: inference_node's decision on one camera frame."""

    TOPIC: ClassVar[str] = "policy/action"

    steering_angle: float  # deg
    speed: float  # m/s
    index: int | None  # discrete action index; None for a continuous action space
    frame_stamp: float  # the answered image's stamp (sim time in the simulator)
    inference_ms: float = 0.0  # the network alone (onnxruntime)
    latency_ms: float = 0.0  # frame stamp -> decision published
    model: str = ""
    received_ms: float = 0.0  # frame stamp -> the image reached inference_node (camera + transport)


@dataclass(frozen=True)
class ServoPulses(_JsonRecord):
    """`servo/pulses`: what servo_node wrote to the PWM outputs, and why."""

    TOPIC: ClassVar[str] = "servo/pulses"

    throttle_us: float
    steering_us: float
    reason: str  # PulseReason
    written_at: float  # wall time (time.time())
    error: str = ""  # with reason "fault"
    received_at: float = 0.0  # wall time the cmd_vel behind a "command" write arrived (0 otherwise)


@dataclass(frozen=True)
class StepRecord:
    """The car after one simulator step, and a policy decision attached to it.

    The one per-step record of `deepracer sim` (run_sim_graph) and the evaluation. Which
    decision `action`/`command` hold is the builder's choice and is said where it is built:
    run_sim_graph attaches the decision on this step's frame (what the car does next), the
    evaluation the one that led to this step (as DeepRacer's simtrace rows do).
    """

    sim_time: float
    x: float
    y: float
    yaw: float  # rad
    steer: float  # deg, the front wheels
    speed: float  # m/s
    progress: float  # 0..100 of the simulator's current lap
    lap: int  # laps completed in the simulator
    status: str  # EpisodeStatus
    all_wheels_on_track: bool
    closest_waypoint: int
    lap_time_s: float = 0.0  # the simulator's time in its current lap, penalties included
    off_track_count: int = 0
    step: int = 0  # index in its run
    action: int = -1  # discrete action index, -1 when unknown, continuous or none
    command: tuple[float, float] | None = field(default=None)  # (steering deg, speed m/s) the policy chose
    crash_count: int = 0  # collisions with obstacles or bot cars so far (the simulator's count)
    objects: tuple[tuple[float, float], ...] = ()  # (x, y) of the obstacles / bot cars at this step

    @classmethod
    def from_status(cls, st: SimStatus, decision: PolicyAction | None = None, step: int = 0) -> StepRecord:
        return cls(
            sim_time=float(st.sim_time), x=float(st.x), y=float(st.y), yaw=float(st.yaw),
            steer=float(st.steering_deg), speed=float(st.speed), progress=float(st.progress), lap=int(st.lap),
            status=str(st.status), all_wheels_on_track=bool(st.all_wheels_on_track),
            closest_waypoint=int(st.closest_waypoint), lap_time_s=float(st.lap_time_s),
            off_track_count=int(st.off_track_count), step=step, crash_count=int(st.crash_count),
            action=int(decision.index) if decision is not None and decision.index is not None else -1,
            command=(float(decision.steering_angle), float(decision.speed)) if decision is not None else None,
        )

"""What the car's web page needs from the car: the `CarBackend` interface and its records.

The web app (deepracer.device_console.app) is ROS-free and talks only to this interface;
deepracer_nodes/device_console_node.py implements it with topics, services and parameters
of the running graph, and the tests implement it in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from deepracer.control.drive_modes import Mode
from deepracer.errors import DeepRacerError


class BackendError(DeepRacerError):
    """The car refused or could not do it (node down, service timeout, bad value): HTTP 409/503."""

    def __init__(self, message: str, unavailable: bool = False) -> None:
        super().__init__(message)
        self.unavailable = unavailable  # True: a node is not there (503), False: refused (409)


@dataclass(frozen=True)
class Frame:
    """The newest camera image as it arrived, not yet encoded (encoding happens only for a viewer)."""

    seq: int  # increases by one per received image
    image: np.ndarray  # HxW (mono8) or HxWx3 (bgr8)
    stamp: float  # the image header's stamp (wall time on the car, sim time in the simulator)
    received_at: float  # wall time (time.time()) when the console node got it


@dataclass(frozen=True)
class PolicyOverlay:
    """The policy's last decision, drawn over the camera view in autonomous mode."""

    steering_angle: float  # degrees, + = left
    speed: float  # m/s
    age_s: float  # how old the decision is


@dataclass
class CarStatus:
    mode: str  # Mode value, or "unknown" while control_node does not answer
    max_speed_scale: float | None
    estop_pressed: bool
    active_model: str | None  # the inference_node `model` parameter ("" = bundled)
    nodes: dict[str, bool]  # node name -> alive
    camera: dict[str, Any]  # fps, last_frame_age_s, size
    pwm: dict[str, Any]  # backend state from servo/pulses (reason, pulses, age)
    system: dict[str, Any]  # cpu temperature, load, battery
    errors: list[dict[str, Any]] = field(default_factory=list)  # newest last: level, node, message, time
    policy: dict[str, Any] | None = None  # last policy/action
    calibration_mode: bool = False
    problems: list[str] = field(default_factory=list)  # plain sentences: what is down

    def to_json(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


class CarBackend(Protocol):
    """Every call may raise BackendError; calls come from the web server's worker threads."""

    def status(self) -> CarStatus: ...

    def mode(self) -> str:
        """The drive mode as last known (cheap: asked once per streamed frame)."""

    def set_mode(self, mode: Mode) -> str:
        """control_node's `~/stop|manual|autonomous`; returns its message."""

    def estop(self, pressed: bool) -> None:
        """`estop` (std_msgs/Bool): True latches zero; after False a mode must be set again."""

    def set_max_speed(self, scale: float) -> None:
        """control_node's `max_speed_scale` (0..1)."""

    def teleop(self, speed_mps: float, steering_deg: float) -> None:
        """One `teleop/cmd_vel` message (no repetition: the page repeats while the stick is held)."""

    def latest_frame(self) -> Frame | None: ...

    def wait_frame(self, after_seq: int, timeout: float) -> Frame | None:
        """The newest frame once its seq is above `after_seq` (blocks up to `timeout`; None then)."""

    def policy_overlay(self) -> PolicyOverlay | None: ...

    def active_model(self) -> str | None:
        """inference_node's `model` parameter."""

    def load_model(self, path: str) -> None:
        """Set inference_node's `model`: it validates and swaps, or refuses and keeps the old one."""

    def get_calibration(self) -> dict[str, Any]:
        """The servo node's report: file, calibration, throttle_locked, calibration_mode, problem."""

    def set_calibration_mode(self, on: bool) -> None: ...

    def calibration_pulse(self, throttle_us: float, steering_us: float) -> None:
        """One `servo/raw` message (honoured only in calibration mode)."""

    def save_calibration(self, calibration: dict[str, Any]) -> None:
        """All `calibration.*` parameters at once: validated, saved atomically (last good copy kept)."""

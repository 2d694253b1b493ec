"""An in-memory CarBackend for the web app's tests: records what the page asked the car to do."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from deepracer.control.calibration import Calibration
from deepracer.control.drive_modes import Mode
from deepracer.device_console.backend import BackendError, CarStatus, Frame, PolicyOverlay
from deepracer.model.package import load_model_package


class FakeCar:
    def __init__(self) -> None:
        self.drive_mode = Mode.STOPPED
        self.scale = 1.0
        self.estop_pressed = False
        self.model = ""
        self.teleops: list[tuple[float, float]] = []
        self.pulses: list[tuple[float, float]] = []
        self.calibration = Calibration()
        self.calibration_mode = False
        self.saved: list[dict[str, Any]] = []
        self.seq = 0
        self.frames_made = 0

    def status(self) -> CarStatus:
        return CarStatus(mode=self.drive_mode.value, max_speed_scale=self.scale, estop_pressed=self.estop_pressed,
                         active_model=self.model, nodes={"control_node": True, "inference_node": True},
                         camera={"fps": 15.0, "last_frame_age_s": 0.01, "width": 160, "height": 120},
                         pwm={}, system={}, calibration_mode=self.calibration_mode)

    def mode(self) -> str:
        return self.drive_mode.value

    def set_mode(self, mode: Mode) -> str:
        self.drive_mode = mode
        return f"mode {mode.value}"

    def estop(self, pressed: bool) -> None:
        self.estop_pressed = pressed
        if pressed:
            self.drive_mode = Mode.STOPPED

    def set_max_speed(self, scale: float) -> None:
        self.scale = scale

    def teleop(self, speed_mps: float, steering_deg: float) -> None:
        self.teleops.append((speed_mps, steering_deg))

    def latest_frame(self) -> Frame:
        self.seq += 1
        image = np.full((120, 160), self.seq % 255, np.uint8)
        return Frame(self.seq, image, time.time(), time.time())

    def wait_frame(self, after_seq: int, timeout: float) -> Frame:
        time.sleep(1 / 30)
        return self.latest_frame()

    def policy_overlay(self) -> PolicyOverlay:
        return PolicyOverlay(10.0, 1.2, 0.01)

    def active_model(self) -> str:
        return self.model

    def load_model(self, path: str) -> None:
        if path:
            try:
                load_model_package(path)
            except Exception as err:
                raise BackendError(str(err)) from None
        self.model = path

    def get_calibration(self) -> dict[str, Any]:
        return {"file": "/tmp/fake.yaml", "calibration": self.calibration.to_dict(), "throttle_locked": False,
                "calibration_mode": self.calibration_mode, "problem": None}

    def set_calibration_mode(self, on: bool) -> None:
        self.calibration_mode = on

    def calibration_pulse(self, throttle_us: float, steering_us: float) -> None:
        if not self.calibration_mode:
            raise BackendError("not in calibration mode")
        self.pulses.append((throttle_us, steering_us))

    def save_calibration(self, calibration: dict[str, Any]) -> None:
        self.calibration = Calibration.from_dict(calibration)
        self.saved.append(calibration)

"""Steering and throttle on a PWM backend: channel map + calibration clamp, in one place.

Everything that drives the car's servo and ESC (servo node, `deepracer servo`, the
calibration wizard) writes through this, so nothing outside the calibrated range (or, in
calibration mode, outside 500-2500 µs) ever reaches the hardware.
"""

from __future__ import annotations

import math

from deepracer.control.servo_mapping import Pulses, ServoMapping, clamp_raw
from deepracer.hardware.pwm.base import PwmBackend

ROLES = ("throttle", "steering")


class ServoOutput:
    def __init__(self, backend: PwmBackend, mapping: ServoMapping, throttle_channel: int = 0, steering_channel: int = 1):
        self.backend = backend
        self.mapping = mapping
        self.channels = {"throttle": throttle_channel, "steering": steering_channel}
        self.last: Pulses | None = None

    def write(self, pulses: Pulses, raw: bool = False) -> Pulses:
        """Clamp, then write throttle first (stopping matters more than steering). Returns what was written."""
        if raw:
            out = Pulses(self._raw("throttle", pulses.throttle_us), self._raw("steering", pulses.steering_us))
        else:
            out = Pulses(self.mapping.clamp_throttle(pulses.throttle_us), self.mapping.clamp_steering(pulses.steering_us))
        self.backend.set_pulse_us(self.channels["throttle"], out.throttle_us)
        self.backend.set_pulse_us(self.channels["steering"], out.steering_us)
        self.last = out
        return out

    def write_role(self, role: str, us: float, raw: bool = False) -> float:
        value = self._raw(role, us) if raw else self.mapping.clamp_role(role, us)
        self.backend.set_pulse_us(self.channels[role], value)
        return value

    def _raw(self, role: str, us: float) -> float:
        """A raw pulse limited to 500-2500 µs; a non-finite one (NaN clamps to 2500) is the rest pulse."""
        if not math.isfinite(us):
            cal = self.mapping.calibration
            return cal.steering.center_us if role == "steering" else cal.throttle.neutral_us
        return clamp_raw(us)

    def neutral(self) -> Pulses:
        return self.write(self.mapping.neutral())

    def close(self) -> None:
        self.backend.close()

"""The interface every PWM backend implements: pulse widths in microseconds per channel."""

from __future__ import annotations

from abc import ABC, abstractmethod


class PwmBackend(ABC):
    """A PWM output at one frequency. Channels are the backend's own numbers (PCA9685 outputs,
    sysfs pwmM, index into the GPIO pin list, Maestro channels)."""

    name = "pwm"

    def __init__(self, frequency_hz: float) -> None:
        self.frequency_hz = float(frequency_hz)

    @property
    def period_us(self) -> float:
        return 1e6 / self.frequency_hz

    @abstractmethod
    def set_pulse_us(self, channel: int, pulse_us: float) -> None:
        """Output `pulse_us` on `channel`; raises deepracer.errors.HardwareError on failure."""

    def close(self) -> None:
        """Release the device; outputs keep their last pulse (the caller writes neutral first)."""
        self.closed = True

    def __enter__(self) -> PwmBackend:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

"""Pololu Maestro USB servo controller (and compatibles) over a serial port with pyserial.

Compact protocol "set target": 0x84, channel, target & 0x7F, (target >> 7) & 0x7F, with
the target in quarter-microseconds. The Maestro keeps its own pulse period (20 ms by
default, set in the Maestro Control Center), so the calibration's frequency must match it.
"""

from __future__ import annotations

from deepracer.errors import HardwareError
from deepracer.hardware.pwm.base import PwmBackend

SET_TARGET = 0x84


def set_target_command(channel: int, pulse_us: float) -> bytes:
    target = round(pulse_us * 4)
    if not 0 <= channel <= 23 or not 0 <= target < 1 << 14:
        raise HardwareError(f"Maestro: cannot set channel {channel} to {pulse_us} µs")
    return bytes([SET_TARGET, channel, target & 0x7F, (target >> 7) & 0x7F])


class MaestroPwm(PwmBackend):
    name = "serial"

    def __init__(self, port, frequency_hz: float = 50.0) -> None:
        """`port`: an open pyserial Serial (or anything with write/flush/close)."""
        super().__init__(frequency_hz)
        self.port = port

    @classmethod
    def open(cls, url: str, baud: int = 9600, frequency_hz: float = 50.0) -> MaestroPwm:
        try:
            import serial
        except ImportError as err:
            raise HardwareError("the serial backend needs pyserial (pip install pyserial)") from err
        try:
            port = serial.serial_for_url(url, baudrate=baud, timeout=0.1, write_timeout=0.5)
        except (serial.SerialException, ValueError) as err:
            raise HardwareError(f"cannot open serial port: {err}", url) from err
        return cls(port, frequency_hz)

    def set_pulse_us(self, channel: int, pulse_us: float) -> None:
        try:
            self.port.write(set_target_command(channel, pulse_us))
            self.port.flush()
        except (OSError, TimeoutError) as err:  # serial.SerialException is an OSError
            raise HardwareError(f"Maestro write failed: {err}", getattr(self.port, "port", None)) from err

    def close(self) -> None:
        try:
            self.port.close()
        except OSError:
            pass

"""NXP PCA9685 16-channel PWM controller over I2C (smbus2), as on Raspberry Pi servo HATs.

Registers (datasheet §7.3): MODE1 0x00, LEDn_ON_L/H, LEDn_OFF_L/H at 0x06 + 4n, PRE_SCALE
0xFE. PRE_SCALE can only be written while MODE1.SLEEP is set; after waking, the oscillator
needs 500 µs before RESTART. I2C errors are retried a bounded number of times, then
HardwareError is raised so the servo node can report the fault and stop.
"""

from __future__ import annotations

import time
from typing import Protocol

from deepracer.errors import HardwareError
from deepracer.hardware.pwm.base import PwmBackend

MODE1 = 0x00
MODE2 = 0x01
LED0_ON_L = 0x06
PRE_SCALE = 0xFE

RESTART = 0x80
AI = 0x20  # register auto-increment, needed for the 4-byte LEDn block writes
SLEEP = 0x10
ALLCALL = 0x01
OUTDRV = 0x04  # totem-pole outputs, what servo HATs expect

OSC_HZ = 25_000_000
STEPS = 4096
RETRIES = 3


class SMBusLike(Protocol):
    """The part of smbus2.SMBus the driver uses (emulated by deepracer.hardware.emulated)."""

    def write_byte_data(self, i2c_addr: int, register: int, value: int) -> None: ...
    def read_byte_data(self, i2c_addr: int, register: int) -> int: ...
    def write_i2c_block_data(self, i2c_addr: int, register: int, data: list[int]) -> None: ...
    def close(self) -> None: ...


def prescale_for(frequency_hz: float) -> int:
    """round(osc / (4096 · f)) − 1, limited to the chip's 3..255: 121 for 50 Hz."""
    return max(3, min(255, round(OSC_HZ / (STEPS * frequency_hz)) - 1))


class Pca9685(PwmBackend):
    name = "pca9685"

    def __init__(self, bus: SMBusLike, address: int = 0x40, frequency_hz: float = 50.0, retries: int = RETRIES):
        super().__init__(frequency_hz)
        self.bus = bus
        self.address = address
        self.retries = retries
        self.prescale = prescale_for(frequency_hz)
        # The chip's real period, from the prescale actually written (19.99 ms at 50 Hz).
        self.chip_period_us = (self.prescale + 1) * STEPS / OSC_HZ * 1e6
        self._setup()

    @classmethod
    def open(cls, bus_number: int, address: int, frequency_hz: float) -> Pca9685:
        try:
            from smbus2 import SMBus
        except ImportError as err:
            raise HardwareError("the pca9685 backend needs smbus2 (pip install smbus2)") from err
        try:
            bus = SMBus(bus_number)
        except OSError as err:
            raise HardwareError(f"cannot open I2C bus {bus_number}: {err.strerror}", f"/dev/i2c-{bus_number}") from err
        return cls(bus, address, frequency_hz)

    def _io(self, what: str, fn, *args):
        for attempt in range(1, self.retries + 1):
            try:
                return fn(self.address, *args)
            except OSError as err:
                if attempt == self.retries:
                    raise HardwareError(
                        f"PCA9685 at 0x{self.address:02x}: {what} failed {self.retries} times: {err}"
                    ) from err
                time.sleep(0.001 * attempt)

    def _setup(self) -> None:
        self._io("write MODE2", self.bus.write_byte_data, MODE2, OUTDRV)
        mode1 = self._io("read MODE1", self.bus.read_byte_data, MODE1)
        awake = (mode1 & ~RESTART & ~SLEEP) | AI | ALLCALL
        self._io("sleep", self.bus.write_byte_data, MODE1, (awake & ~RESTART) | SLEEP)
        self._io("write PRE_SCALE", self.bus.write_byte_data, PRE_SCALE, self.prescale)
        self._io("wake", self.bus.write_byte_data, MODE1, awake)
        time.sleep(0.0005)  # oscillator start-up before RESTART
        self._io("restart", self.bus.write_byte_data, MODE1, awake | RESTART)

    def counts_for(self, pulse_us: float) -> int:
        return max(0, min(STEPS - 1, round(pulse_us * STEPS / self.chip_period_us)))

    def set_pulse_us(self, channel: int, pulse_us: float) -> None:
        if not 0 <= channel <= 15:
            raise HardwareError(f"PCA9685 has channels 0-15, not {channel}")
        off = self.counts_for(pulse_us)
        data = [0, 0, off & 0xFF, (off >> 8) & 0x0F]  # ON at count 0, OFF after `off` counts
        self._io(f"write channel {channel}", self.bus.write_i2c_block_data, LED0_ON_L + 4 * channel, data)

    def close(self) -> None:
        try:
            self.bus.close()
        except OSError:
            pass

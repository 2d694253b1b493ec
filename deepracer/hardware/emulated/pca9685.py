"""An emulated PCA9685 behind a fake smbus2.SMBus: the real driver talks to it byte by byte.

The device keeps the chip's 256 registers and behaves like the datasheet says where the
driver could get it wrong: PRE_SCALE is ignored unless MODE1.SLEEP is set, block writes
only auto-increment with MODE1.AI, outputs are off while sleeping. `pulse_us(channel)`
decodes LEDn_ON/OFF with the current prescale; `writes` records every decoded pulse.

`emulated_pca9685(bus, address)` returns the process-wide device for that bus/address, so
a test or benchmark can read back what a servo node started with `backend: emulated` wrote.
"""

from __future__ import annotations

import errno
import threading
import time
from dataclasses import dataclass

from deepracer.hardware.pwm.pca9685 import (
    AI,
    LED0_ON_L,
    MODE1,
    OSC_HZ,
    PRE_SCALE,
    RESTART,
    SLEEP,
    STEPS,
)

POWER_ON_MODE1 = 0x11  # SLEEP | ALLCALL
POWER_ON_PRESCALE = 0x1E  # 200 Hz


@dataclass(frozen=True)
class DecodedWrite:
    time: float  # time.monotonic()
    channel: int
    pulse_us: float | None  # None: output off (full OFF or sleeping)
    on_counts: int
    off_counts: int


class EmulatedPca9685:
    def __init__(self, address: int = 0x40) -> None:
        self.address = address
        self.registers = bytearray(256)
        self.registers[MODE1] = POWER_ON_MODE1
        self.registers[PRE_SCALE] = POWER_ON_PRESCALE
        self.writes: list[DecodedWrite] = []
        self.fail_next = 0  # inject I2C errors: the next N transfers raise OSError(EREMOTEIO)
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)

    # -- fault injection and smbus2-like access

    def bus(self) -> FakeSMBus:
        return FakeSMBus(self)

    def _transfer(self, address: int) -> None:
        if address != self.address:
            raise OSError(errno.EREMOTEIO, f"no ACK from 0x{address:02x}")
        if self.fail_next > 0:
            self.fail_next -= 1
            raise OSError(errno.EREMOTEIO, "Remote I/O error (injected)")

    def write(self, register: int, data: list[int]) -> None:
        with self.changed:
            for i, value in enumerate(data):
                reg = register + i if (self.registers[MODE1] & AI) else register
                self._write_register(reg & 0xFF, value & 0xFF)
            self.changed.notify_all()

    def _write_register(self, reg: int, value: int) -> None:
        if reg == PRE_SCALE and not (self.registers[MODE1] & SLEEP):
            return  # the chip ignores PRE_SCALE writes while awake
        if reg == MODE1:
            value &= ~RESTART  # writing RESTART restarts the outputs; the bit clears itself
        self.registers[reg] = value
        if LED0_ON_L <= reg < LED0_ON_L + 64 and (reg - LED0_ON_L) % 4 == 3:
            channel = (reg - LED0_ON_L) // 4
            on, off = self.counts(channel)
            self.writes.append(DecodedWrite(time.monotonic(), channel, self.pulse_us(channel), on, off))

    # -- decoding

    @property
    def prescale(self) -> int:
        return self.registers[PRE_SCALE]

    @property
    def frequency_hz(self) -> float:
        return OSC_HZ / (STEPS * (self.prescale + 1))

    @property
    def sleeping(self) -> bool:
        return bool(self.registers[MODE1] & SLEEP)

    def counts(self, channel: int) -> tuple[int, int]:
        base = LED0_ON_L + 4 * channel
        r = self.registers
        return r[base] | (r[base + 1] & 0x1F) << 8, r[base + 2] | (r[base + 3] & 0x1F) << 8

    def pulse_us(self, channel: int) -> float | None:
        """The pulse width the chip outputs on `channel`, or None when the output is off."""
        on, off = self.counts(channel)
        if self.sleeping or off & 0x1000:
            return None
        if on & 0x1000:
            return 1e6 / self.frequency_hz  # full ON
        return ((off - on) % STEPS) * 1e6 / (self.frequency_hz * STEPS)

    def wait_for(self, predicate, timeout: float = 2.0) -> bool:
        """Block until predicate(self) is true (checked after every write) or the timeout."""
        with self.changed:
            return self.changed.wait_for(lambda: predicate(self), timeout)

    def reset(self) -> None:
        with self.lock:
            self.__init__(self.address)


class FakeSMBus:
    """The smbus2.SMBus methods the driver uses, routed to an EmulatedPca9685."""

    def __init__(self, device: EmulatedPca9685) -> None:
        self.device = device
        self.closed = False

    def write_byte_data(self, i2c_addr: int, register: int, value: int, force=None) -> None:
        self.device._transfer(i2c_addr)
        self.device.write(register, [value])

    def read_byte_data(self, i2c_addr: int, register: int, force=None) -> int:
        self.device._transfer(i2c_addr)
        with self.device.lock:
            return self.device.registers[register]

    def write_i2c_block_data(self, i2c_addr: int, register: int, data: list[int], force=None) -> None:
        self.device._transfer(i2c_addr)
        if len(data) > 32:
            raise OSError(errno.EINVAL, "SMBus block writes carry at most 32 bytes")
        self.device.write(register, list(data))

    def close(self) -> None:
        self.closed = True


_DEVICES: dict[tuple[int, int], EmulatedPca9685] = {}
_DEVICES_LOCK = threading.Lock()


def emulated_pca9685(bus: int = 1, address: int = 0x40) -> EmulatedPca9685:
    """The process-wide emulated chip on I2C bus `bus` at `address` (created on first use)."""
    with _DEVICES_LOCK:
        if (bus, address) not in _DEVICES:
            _DEVICES[(bus, address)] = EmulatedPca9685(address)
        return _DEVICES[(bus, address)]


def emulated_devices() -> dict[tuple[int, int], EmulatedPca9685]:
    with _DEVICES_LOCK:
        return dict(_DEVICES)

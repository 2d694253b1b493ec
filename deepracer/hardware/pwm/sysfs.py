"""Linux sysfs PWM (/sys/class/pwm/pwmchipN/pwmM), as on the original DeepRacer board.

Per channel: write M to `export` (unless pwmM/ exists already, e.g. after a killed node),
wait for pwmM/ (udev may still be fixing its permissions), write `period` and `duty_cycle`
in nanoseconds, then `enable`. `root` is configurable so tests use an emulated tree.
"""

from __future__ import annotations

import time
from pathlib import Path

from deepracer.errors import HardwareError
from deepracer.hardware.pwm.base import PwmBackend


class SysfsPwm(PwmBackend):
    name = "sysfs"

    def __init__(
        self,
        root: str | Path = "/sys/class/pwm",
        chip: int = 0,
        frequency_hz: float = 50.0,
        channels: list[int] | tuple[int, ...] = (0, 1),
        export_timeout: float = 2.0,
    ) -> None:
        super().__init__(frequency_hz)
        self.chip_dir = Path(root) / f"pwmchip{chip}"
        if not (self.chip_dir / "export").exists():
            raise HardwareError("no such PWM chip (is the PWM overlay/driver loaded?)", self.chip_dir)
        self.period_ns = round(1e9 / frequency_hz)
        self.export_timeout = export_timeout
        self._enabled: set[int] = set()
        for channel in channels:
            self._prepare(channel)

    def _write(self, path: Path, value: int | str) -> None:
        try:
            with open(path, "w") as f:
                f.write(f"{value}\n")
        except OSError as err:
            raise HardwareError(f"cannot write {value!r}: {err.strerror}", path) from err

    def _read_int(self, path: Path) -> int:
        try:
            return int(path.read_text().strip() or 0)
        except (OSError, ValueError):
            return 0

    def _prepare(self, channel: int) -> Path:
        pwm = self.chip_dir / f"pwm{channel}"
        if not pwm.is_dir():
            self._write(self.chip_dir / "export", channel)
            deadline = time.monotonic() + self.export_timeout
            while not (pwm / "enable").exists():
                if time.monotonic() > deadline:
                    raise HardwareError(f"pwm{channel} did not appear after export", self.chip_dir)
                time.sleep(0.002)
        # The kernel refuses a period shorter than the current duty cycle.
        if self._read_int(pwm / "duty_cycle") > self.period_ns:
            self._write(pwm / "duty_cycle", 0)
        if self._read_int(pwm / "period") != self.period_ns:
            self._write(pwm / "period", self.period_ns)
        if self._read_int(pwm / "enable") == 1:
            self._enabled.add(channel)
        return pwm

    def set_pulse_us(self, channel: int, pulse_us: float) -> None:
        pwm = self.chip_dir / f"pwm{channel}"
        if not pwm.is_dir():
            self._prepare(channel)
        self._write(pwm / "duty_cycle", min(self.period_ns, round(pulse_us * 1000)))
        if channel not in self._enabled:
            self._write(pwm / "enable", 1)
            self._enabled.add(channel)

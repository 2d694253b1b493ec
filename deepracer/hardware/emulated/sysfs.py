"""A sysfs PWM tree in a temp directory that behaves like the kernel's.

`EmulatedSysfsPwm(root).start()` creates `root/pwmchipN/{export,unexport,npwm}` and runs a
thread that plays the kernel: a number written to `export` creates `pwmM/` (period,
duty_cycle, enable, polarity), `unexport` removes it, and values are validated (integers,
duty_cycle <= period, enable 0/1 with a period set): an invalid value is recorded in
`errors` and reverted, as the kernel would refuse the write. Being plain files, the tree
also works across processes (a servo node or `deepracer servo neutral` writing into it).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from deepracer.hardware.emulated.polling import wait_for

FILES = ("period", "duty_cycle", "enable", "polarity")


@dataclass(frozen=True)
class PwmState:
    time: float
    chip: int
    channel: int
    period_ns: int
    duty_ns: int
    enabled: bool

    @property
    def pulse_us(self) -> float | None:
        return self.duty_ns / 1000 if self.enabled and self.period_ns else None


class EmulatedSysfsPwm:
    def __init__(self, root: str | Path, chips: dict[int, int] | None = None, poll_s: float = 0.002) -> None:
        self.root = Path(root)
        self.chips = chips or {0: 16}  # chip -> npwm
        self.poll_s = poll_s
        self.errors: list[str] = []
        self.history: list[PwmState] = []
        self._last: dict[tuple[int, int], tuple[int, int, int]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.changed = threading.Condition()

    def start(self) -> EmulatedSysfsPwm:
        for chip, npwm in self.chips.items():
            d = self.root / f"pwmchip{chip}"
            d.mkdir(parents=True, exist_ok=True)
            for name, value in (("export", ""), ("unexport", ""), ("npwm", f"{npwm}\n")):
                (d / name).write_text(value)
        self._thread = threading.Thread(target=self._run, name="emulated-sysfs-pwm", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=2)

    def __enter__(self) -> EmulatedSysfsPwm:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll()
            time.sleep(self.poll_s)

    def poll(self) -> None:
        for chip, npwm in self.chips.items():
            d = self.root / f"pwmchip{chip}"
            self._handle_export(d, chip, npwm)
            for channel in range(npwm):
                if (d / f"pwm{channel}").is_dir():
                    self._check_channel(d / f"pwm{channel}", chip, channel)

    def _take(self, path: Path) -> str:
        text = path.read_text() if path.exists() else ""
        if text:
            path.write_text("")
        return text.strip()

    def _handle_export(self, d: Path, chip: int, npwm: int) -> None:
        for action in ("export", "unexport"):
            request = self._take(d / action)
            if not request:
                continue
            try:
                channel = int(request)
            except ValueError:
                self._error(f"pwmchip{chip}/{action}: {request!r} is not a channel number")
                continue
            pwm = d / f"pwm{channel}"
            if not 0 <= channel < npwm:
                self._error(f"pwmchip{chip}/{action}: channel {channel} out of range 0-{npwm - 1}")
            elif action == "export" and pwm.is_dir():
                self._error(f"pwmchip{chip}/export: pwm{channel} is already exported (EBUSY)")
            elif action == "export":
                _create_channel(d, channel)
            elif pwm.is_dir():
                shutil.rmtree(pwm)
                self._last.pop((chip, channel), None)

    def _error(self, message: str) -> None:
        self.errors.append(message)

    def _check_channel(self, pwm: Path, chip: int, channel: int) -> None:
        raw = {}
        for name in ("period", "duty_cycle", "enable"):
            try:
                raw[name] = (pwm / name).read_text().strip()
            except OSError:
                return
        if any(v == "" for v in raw.values()):
            return  # a write in progress (truncate, then write)
        last = self._last.get((chip, channel), (0, 0, 0))
        try:
            period, duty, enable = (int(raw[k]) for k in ("period", "duty_cycle", "enable"))
        except ValueError:
            self._error(f"pwmchip{chip}/pwm{channel}: non-integer value {raw}")
            self._revert(pwm, last)
            return
        problem = None
        if period < 0 or duty < 0:
            problem = "negative value"
        elif duty > period:
            problem = f"duty_cycle {duty} > period {period}"
        elif enable not in (0, 1):
            problem = f"enable {enable} is not 0 or 1"
        elif enable == 1 and period == 0:
            problem = "enabled without a period"
        if problem:
            self._error(f"pwmchip{chip}/pwm{channel}: {problem}")
            self._revert(pwm, last)
            return
        if (period, duty, enable) != last:
            self._last[(chip, channel)] = (period, duty, enable)
            with self.changed:
                self.history.append(PwmState(time.monotonic(), chip, channel, period, duty, bool(enable)))
                self.changed.notify_all()

    def _revert(self, pwm: Path, last: tuple[int, int, int]) -> None:
        for name, value in zip(("period", "duty_cycle", "enable"), last, strict=True):
            (pwm / name).write_text(f"{value}\n")

    # -- reading back

    def state(self, channel: int, chip: int = 0) -> PwmState | None:
        """The current state of pwmchip{chip}/pwm{channel} as the kernel would output it."""
        pwm = self.root / f"pwmchip{chip}" / f"pwm{channel}"
        try:
            period, duty, enable = (int((pwm / n).read_text().strip() or 0) for n in ("period", "duty_cycle", "enable"))
        except (OSError, ValueError):
            return None
        return PwmState(time.monotonic(), chip, channel, period, duty, bool(enable))

    def pulse_us(self, channel: int, chip: int = 0) -> float | None:
        state = self.state(channel, chip)
        return state.pulse_us if state else None

    def wait_for(self, predicate, timeout: float = 3.0) -> bool:
        return wait_for(self, predicate, timeout)


def _create_channel(chip_dir: Path, channel: int) -> None:
    """Create pwmM/ complete in one rename, as the kernel's export appears atomically."""
    tmp = chip_dir / f".pwm{channel}.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for name in FILES:
        (tmp / name).write_text("normal\n" if name == "polarity" else "0\n")
    os.rename(tmp, chip_dir / f"pwm{channel}")

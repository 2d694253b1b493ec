"""An emulated Pololu Maestro: decodes compact-protocol bytes into per-channel pulse widths.

`MaestroDecoder.feed(bytes)` parses a stream (also bytes read back from pyserial's loop://).
`EmulatedMaestroPty` opens a pseudo-terminal: `.port` is the device path to give the
backend (even in another process); a thread decodes what arrives on the other side.
"""

from __future__ import annotations

import os
import threading
import tty

from deepracer.hardware.emulated.polling import wait_for


class MaestroDecoder:
    def __init__(self) -> None:
        self.targets_qus: dict[int, int] = {}
        self.writes: list[tuple[int, float]] = []  # (channel, pulse_us), in order
        self.errors: list[str] = []
        self._buffer = bytearray()

    def feed(self, data: bytes) -> None:
        self._buffer += data
        while self._buffer:
            if self._buffer[0] != 0x84:
                self.errors.append(f"unexpected byte 0x{self._buffer[0]:02x}")
                del self._buffer[0]
                continue
            if len(self._buffer) < 4:
                return
            _, channel, low, high = self._buffer[:4]
            del self._buffer[:4]
            if low > 0x7F or high > 0x7F or channel > 0x7F:
                self.errors.append("data byte with the high bit set")
                continue
            self.targets_qus[channel] = low | high << 7
            self.writes.append((channel, self.pulse_us(channel)))

    def pulse_us(self, channel: int) -> float | None:
        target = self.targets_qus.get(channel)
        return None if target in (None, 0) else target / 4  # target 0: the Maestro stops pulsing


class EmulatedMaestroPty:
    def __init__(self) -> None:
        self.decoder = MaestroDecoder()
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.port = os.ttyname(slave)
        self._slave = slave  # kept open so the pty survives clients closing it
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="emulated-maestro", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import select

        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    data = os.read(self.master, 1024)
                except OSError:
                    return
                with self._lock:
                    self.decoder.feed(data)

    def pulse_us(self, channel: int) -> float | None:
        with self._lock:
            return self.decoder.pulse_us(channel)

    def wait_for(self, predicate, timeout: float = 3.0) -> bool:
        return wait_for(self, predicate, timeout)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1)
        os.close(self.master)
        os.close(self._slave)

    def __enter__(self) -> EmulatedMaestroPty:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

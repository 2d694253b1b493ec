"""A hardware lap timer for the console's physical races (docs/event-server.md, "The hardware lap
timer"), as DeepRacer Event Manager's Raspberry Pi timer works (shared/deepracer-facts.md §12):
sensors on GPIO17 and GPIO27 across the finish line, a rising edge is a crossing, a crossing within
`debounce_ms` (2000) of the previous one from ANY sensor is the same car (DREM's cross-sensor
debounce: one pass over both sensors is one lap).

Each crossing becomes DREM's timer message {event: "lap", timestamp (ms since the epoch, the Pi's
clock), gpio, lapNumber, sensorLapCount} plus an event_id, and is POSTed to
`/api/races/{race}/timer/laps` with the race's timer token. Crossings are queued and sent in order
by one thread; while the server cannot be reached they are retried (the event_id makes a retry
harmless), so a Wi-Fi drop delays laps but loses none. The lap time is the difference of the
timestamps, so the delay does not change it.

    timer = LapTimer(LapPoster("http://console:8000", race_id=7, token=token), pins=(17, 27))
    timer.run()   # until Ctrl-C

ROS-free; gpiozero is needed only for the GPIO part (tests use its MockFactory).
"""

from __future__ import annotations

import json
import logging
import queue
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

DEFAULT_PINS = (17, 27)  # DREM: sensor1 GPIO17 (pin 11), sensor2 GPIO27 (pin 13)
DEFAULT_DEBOUNCE_MS = 2000  # DREM's debounce
RETRY_MIN_S, RETRY_MAX_S = 0.5, 5.0
REQUEST_TIMEOUT_S = 5.0

log = logging.getLogger("deepracer.lap_timer")


def epoch_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class LapEvent:
    """DREM's timer message, plus the id that makes a retried POST harmless."""

    timestamp: int
    gpio: int
    lapNumber: int  # DREM's field names
    sensorLapCount: int
    event_id: str
    event: str = "lap"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class LapDetector:
    """Rising edges → laps, with DREM's cross-sensor debounce."""

    def __init__(self, pins: Iterable[int] = DEFAULT_PINS, debounce_ms: int = DEFAULT_DEBOUNCE_MS,
                 clock: Callable[[], int] = epoch_ms, session: str | None = None) -> None:
        self.debounce_ms = debounce_ms
        self.clock = clock
        self.session = session or secrets.token_hex(4)  # event ids stay unique across timer restarts
        self.counts = {int(p): 0 for p in pins}
        self.laps = 0
        self._last: int | None = None
        self._lock = threading.Lock()

    def crossing(self, gpio: int, at_ms: int | None = None) -> LapEvent | None:
        now = self.clock() if at_ms is None else at_ms
        with self._lock:
            if gpio not in self.counts:
                raise ValueError(f"GPIO{gpio} is not one of the timer's sensors {sorted(self.counts)}")
            if self._last is not None and now - self._last < self.debounce_ms:
                log.debug("GPIO%d suppressed: %d ms since the last lap", gpio, now - self._last)
                return None
            self._last = now
            self.counts[gpio] += 1
            self.laps += 1
            return LapEvent(timestamp=now, gpio=gpio, lapNumber=self.laps, sensorLapCount=self.counts[gpio],
                            event_id=f"{self.session}-{self.laps}")


@dataclass(frozen=True)
class Delivery:
    event: LapEvent
    status: int  # the HTTP status the server answered
    answer: dict[str, Any]


class LapPoster:
    """Sends lap events to the console in order, retrying while it cannot be reached."""

    def __init__(self, server: str, race_id: int, token: str,
                 on_delivered: Callable[[Delivery], None] | None = None) -> None:
        self.url = f"{server.rstrip('/')}/api/races/{race_id}/timer/laps"
        self._token = token
        self.on_delivered = on_delivered
        self._queue: queue.Queue[LapEvent | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="lap-poster", daemon=True)
        self._stop = threading.Event()
        self._pending = 0
        self._lock = threading.Lock()

    @property
    def pending(self) -> int:
        """Laps queued or being retried."""
        with self._lock:
            return self._pending

    def start(self) -> LapPoster:
        self._thread.start()
        return self

    def send(self, event: LapEvent) -> None:
        with self._lock:
            self._pending += 1
        self._queue.put(event)

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued (up to `timeout`), then stop."""
        self._queue.put(None)
        self._thread.join(timeout)
        self._stop.set()
        self._thread.join(1.0)

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            if event is None:
                return
            delay = RETRY_MIN_S
            while True:
                status, answer = self._post(event)
                if status is not None and status != 429 and status < 500:
                    break
                why = f"HTTP {status}: {answer.get('detail')}" if status else answer.get("detail")
                log.warning("lap %d not delivered (%s); retrying in %.1f s", event.lapNumber, why, delay)
                if self._stop.wait(delay):
                    return
                delay = min(RETRY_MAX_S, delay * 2)
            with self._lock:
                self._pending -= 1
            if status == 200:
                lap = answer.get("lap") or {}
                log.info("lap %d delivered: attempt %s, %s", event.lapNumber, answer.get("attempt_id"),
                         f"{lap['time_ms'] / 1000:.3f} s" if lap else "race started" if not answer.get("duplicate")
                         else "already there")
            else:  # refused for good (no attempt on the track, wrong token): say so, keep the next ones coming
                log.error("lap %d refused by the console: HTTP %d %s", event.lapNumber, status, answer.get("detail"))
            if self.on_delivered is not None:
                self.on_delivered(Delivery(event, status, answer))

    def _post(self, event: LapEvent) -> tuple[int | None, dict[str, Any]]:
        request = urllib.request.Request(self.url, data=json.dumps(event.to_json()).encode("utf-8"), method="POST",
                                         headers={"Authorization": f"Bearer {self._token}",
                                                  "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as r:
                return r.status, _json(r.read())
        except urllib.error.HTTPError as err:
            return err.code, _json(err.read())
        except (urllib.error.URLError, OSError) as err:
            return None, {"detail": f"cannot reach {self.url}: {getattr(err, 'reason', err)}"}


def _json(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        return {"detail": raw[:200].decode("utf-8", "replace")}
    return body if isinstance(body, dict) else {"detail": str(body)}


class LapTimer:
    """The sensors (gpiozero input devices, rising edge = crossing) wired to a detector and a poster."""

    def __init__(self, poster: LapPoster, pins: Iterable[int] = DEFAULT_PINS,
                 debounce_ms: int = DEFAULT_DEBOUNCE_MS, pull_up: bool = False,
                 detector: LapDetector | None = None) -> None:
        from deepracer.errors import HardwareError

        try:
            from gpiozero import DigitalInputDevice
        except ImportError as err:
            raise HardwareError("the lap timer needs gpiozero (pip install gpiozero)") from err
        self.pins = tuple(int(p) for p in pins)
        self.detector = detector or LapDetector(self.pins, debounce_ms)
        self.poster = poster
        self.devices = []
        for pin in self.pins:
            try:
                device = DigitalInputDevice(pin, pull_up=pull_up)
            except Exception as err:  # gpiozero's errors: no such pin, pin in use, no pin factory
                self.close()
                raise HardwareError(f"GPIO{pin}: {err}") from err
            device.when_activated = self._edge(pin)
            self.devices.append(device)

    def _edge(self, pin: int) -> Callable[[], None]:
        def activated() -> None:
            event = self.detector.crossing(pin)
            if event is not None:
                log.info("lap %d: GPIO%d at %d", event.lapNumber, pin, event.timestamp)
                self.poster.send(event)
        return activated

    def close(self) -> None:
        for device in self.devices:
            device.close()
        self.devices = []

    def run(self, stop: threading.Event | None = None) -> None:
        """Until `stop` is set (or Ctrl-C): the callbacks do the work."""
        stop = stop or threading.Event()
        try:
            while not stop.wait(0.5):
                pass
        finally:
            self.close()

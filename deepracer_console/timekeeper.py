"""The physical race's timekeeper as the DeepRacer Event Manager runs it (shared/deepracer-facts.md
§12), as pure logic: no clock of its own (every call gets `now_ms`), no I/O. physical.py stores
each event and replays them through it; physical_api.py is the API (buttons, lap timer) that
drives it (docs/event-server.md, "Physical races").

States: READY_TO_START → RUNNING ⇄ PAUSED → RACE_IS_OVER (RESUME from over → PAUSED).
- The first lap event of an automatic timer starts the race; a manual lap needs a started race.
- The race time running out ends the race only at the next lap capture (the lap in progress is
  finished and counts).
- DNF records the lap in progress as invalid and pauses.
- A lap is valid only if its resets ≤ resets_per_lap; the operator can toggle validity or undo.
- Lap and race times run only while RUNNING.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field, replace

DEFAULT_RACE_TIME_MS = 2 * 60 * 1000  # DREM: race time 2 min (1–10)
UNLIMITED_RESETS = 9999  # DREM: resets per lap unlimited
DEFAULT_AVERAGE_WINDOW = 3  # DREM: BEST_AVERAGE_LAP_TIME_X_LAP, window 3–7


class State(enum.StrEnum):
    READY_TO_START = "ready_to_start"
    RUNNING = "running"
    PAUSED = "paused"
    RACE_IS_OVER = "race_is_over"


class TimekeeperError(ValueError):
    pass


@dataclass(frozen=True)
class Lap:
    lap_id: int
    time_ms: int
    resets: int
    is_valid: bool
    auto_timer: bool
    off_tracks: int = 0


@dataclass
class Timekeeper:
    race_time_ms: int = DEFAULT_RACE_TIME_MS
    resets_per_lap: int = UNLIMITED_RESETS
    state: State = State.READY_TO_START
    laps: list[Lap] = field(default_factory=list)
    resets: int = 0  # in the lap in progress
    off_tracks: int = 0
    _run_ms: int = 0  # race time used, up to the last state change
    _lap_start_run_ms: int = 0
    _since_ms: int | None = None  # when RUNNING began (wall clock of the caller)

    # -- time ----------------------------------------------------------------------------------------
    def elapsed_ms(self, now_ms: int) -> int:
        extra = now_ms - self._since_ms if self.state == State.RUNNING and self._since_ms is not None else 0
        return self._run_ms + max(0, extra)

    def time_left_ms(self, now_ms: int) -> int:
        return max(0, self.race_time_ms - self.elapsed_ms(now_ms))

    def current_lap_ms(self, now_ms: int) -> int:
        return self.elapsed_ms(now_ms) - self._lap_start_run_ms

    def _freeze(self, now_ms: int) -> None:
        self._run_ms = self.elapsed_ms(now_ms)
        self._since_ms = None

    # -- the operator's buttons -------------------------------------------------------------------------
    def start(self, now_ms: int) -> None:
        if self.state != State.READY_TO_START:
            raise TimekeeperError(f"cannot start: the race is {self.state}")
        self.state, self._since_ms = State.RUNNING, now_ms

    def pause(self, now_ms: int) -> None:
        if self.state != State.RUNNING:
            raise TimekeeperError(f"cannot pause: the race is {self.state}")
        self._freeze(now_ms)
        self.state = State.PAUSED

    def resume(self, now_ms: int) -> None:
        if self.state == State.RACE_IS_OVER:
            self.state = State.PAUSED  # DREM: RESUME from over goes back to paused
            return
        if self.state != State.PAUSED:
            raise TimekeeperError(f"cannot resume: the race is {self.state}")
        self.state, self._since_ms = State.RUNNING, now_ms

    def end(self, now_ms: int) -> None:
        if self.state == State.RUNNING:
            self._freeze(now_ms)
        self.state = State.RACE_IS_OVER

    def reset(self) -> None:
        """The car was put back on the track (counts against the lap in progress)."""
        self.resets += 1

    def off_track(self) -> None:
        self.off_tracks += 1

    def capture_lap(self, now_ms: int, auto_timer: bool = False) -> Lap | None:
        """A lap line crossing (the lap button or a timer's event). None when it only started the race."""
        if self.state == State.READY_TO_START:
            if not auto_timer:
                raise TimekeeperError("start the race first (or let the automatic timer start it)")
            self.start(now_ms)
            return None
        if self.state != State.RUNNING:
            raise TimekeeperError(f"no lap while the race is {self.state}")
        lap = self._record(now_ms, valid=self.resets <= self.resets_per_lap, auto_timer=auto_timer)
        if self.time_left_ms(now_ms) <= 0:
            self.end(now_ms)  # time ran out during this lap: it counts, then the race is over
        return lap

    def dnf(self, now_ms: int) -> Lap:
        """Did not finish: the lap in progress is recorded invalid and the race pauses."""
        if self.state != State.RUNNING:
            raise TimekeeperError(f"no DNF while the race is {self.state}")
        lap = self._record(now_ms, valid=False, auto_timer=False)
        self.pause(now_ms)
        return lap

    def _record(self, now_ms: int, valid: bool, auto_timer: bool) -> Lap:
        lap = Lap(len(self.laps) + 1, self.current_lap_ms(now_ms), self.resets, valid, auto_timer, self.off_tracks)
        self.laps.append(lap)
        self._lap_start_run_ms = self.elapsed_ms(now_ms)
        self.resets = self.off_tracks = 0
        return lap

    def toggle_valid(self, lap_id: int) -> Lap:
        for i, lap in enumerate(self.laps):
            if lap.lap_id == lap_id:
                self.laps[i] = replace(lap, is_valid=not lap.is_valid)
                return self.laps[i]
        raise TimekeeperError(f"no lap {lap_id}")

    def undo_last_lap(self) -> Lap:
        if not self.laps:
            raise TimekeeperError("no lap to undo")
        return self.laps.pop()


@dataclass(frozen=True)
class Summary:
    fastest_lap_ms: int | None
    fastest_average_ms: int | None
    average_lap_ms: int | None
    valid_laps: int
    invalid_laps: int
    most_consecutive_laps: int


def summary(laps: list[Lap], window: int = DEFAULT_AVERAGE_WINDOW) -> Summary:
    """A racer's result as DREM sums it up (valid laps only; averages over all-valid windows)."""
    valid = [lap.time_ms for lap in laps if lap.is_valid]
    best_avg: int | None = None
    run = most = 0
    for i, lap in enumerate(laps):
        run = run + 1 if lap.is_valid else 0
        most = max(most, run)
        if i + 1 >= window and all(x.is_valid for x in laps[i + 1 - window:i + 1]):
            avg = math.floor(sum(x.time_ms for x in laps[i + 1 - window:i + 1]) / window + 0.5)
            best_avg = avg if best_avg is None else min(best_avg, avg)
    return Summary(min(valid) if valid else None, best_avg,
                   math.floor(sum(valid) / len(valid) + 0.5) if valid else None,
                   len(valid), len(laps) - len(valid), most)

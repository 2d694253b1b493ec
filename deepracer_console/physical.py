"""Physical races as the DeepRacer Event Manager runs them (shared/deepracer-facts.md §12): storage
and the rules around the timekeeper (timekeeper.py).

- A physical race is a race with `physical` set: a facilitator queues racers, runs one attempt
  (DREM's "race" of one racer: race time, laps, resets, off-tracks) after the other, and the
  attempts go to the race's leaderboard, ranked by the race's rule (scoring.py).
- Every button press and every lap-timer event is one row of `attempt_events`, written in its
  own transaction (a unique (attempt, seq) makes two writers that raced retry). The attempt's
  state is the replay of its events through the pure Timekeeper, so a crash loses nothing that
  was answered, and undo is "replay without the last event". The attempt row keeps a snapshot
  (state, laps, score) for the leaderboard, written in the same transaction.
- Cars (name, address, token): the token is the car's device-console password, kept encrypted
  with a key in the data folder (never in the database) and never returned by the API.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from deepracer_console import scoring
from deepracer_console.db import Base, UTCDateTime, utcnow
from deepracer_console.timekeeper import Lap as TkLap
from deepracer_console.timekeeper import State, Timekeeper, TimekeeperError

RACE_TIME_S_RANGE = (10, 3600)  # DREM offers 1-10 min; a classroom may want shorter or longer


class Action(enum.StrEnum):
    """The timekeeper's buttons (and the lap timer's `lap`)."""

    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    END = "end"
    LAP = "lap"
    DNF = "dnf"
    OFF_TRACK = "off_track"
    RESET = "reset"
    INVALIDATE = "invalidate"  # toggles a lap's validity (DREM's toggle)
    UNDO = "undo"  # takes back the last event that is not undone yet


class Source(enum.StrEnum):
    OPERATOR = "operator"
    TIMER = "timer"


class Car(Base):
    __tablename__ = "cars"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    address: Mapped[str] = mapped_column(String(255))  # http(s)://host[:port] of its device console
    token_secret: Mapped[str] = mapped_column(Text)  # Fernet ciphertext of the car's password
    token_hint: Mapped[str] = mapped_column(String(8))  # its last characters, to tell tokens apart
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class QueueEntry(Base):
    __tablename__ = "race_queue"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    race_id: Mapped[int] = mapped_column(ForeignKey("races.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    model_id: Mapped[int | None] = mapped_column(ForeignKey("models.id", ondelete="SET NULL"), nullable=True)
    position: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Attempt(Base):
    """One racer's turn on the track (DREM: a race of one racer)."""

    __tablename__ = "race_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    race_id: Mapped[int] = mapped_column(ForeignKey("races.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    racer: Mapped[str] = mapped_column(String(64))
    model_id: Mapped[int | None] = mapped_column(ForeignKey("models.id", ondelete="SET NULL"), nullable=True)
    car_id: Mapped[int | None] = mapped_column(ForeignKey("cars.id", ondelete="SET NULL"), nullable=True)
    state: Mapped[str] = mapped_column(String(32), default=State.READY_TO_START)
    race_time_ms: Mapped[int] = mapped_column(Integer)
    resets_per_lap: Mapped[int] = mapped_column(Integer)
    laps: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # snapshot of the replay
    score_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    timer_offset_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # server − timer clock
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class AttemptEvent(Base):
    __tablename__ = "attempt_events"
    __table_args__ = (UniqueConstraint("attempt_id", "seq", name="uq_attempt_events_seq"),
                      UniqueConstraint("attempt_id", "timer_event_id", name="uq_attempt_events_timer_event"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("race_attempts.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))
    at_ms: Mapped[int] = mapped_column(BigInteger)  # the server's clock (epoch ms); timer events: mapped
    source: Mapped[str] = mapped_column(String(16), default=Source.OPERATOR)
    lap_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # invalidate: which lap
    undone: Mapped[bool] = mapped_column(Boolean, default=False)
    timer_event_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # a timer's retry is ignored
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # the timer's message
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# -- replay ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Replayed:
    timekeeper: Timekeeper
    events: list[AttemptEvent]  # the live ones (not undone, no undo rows), in order


def replay(attempt: Attempt, events: list[AttemptEvent]) -> Replayed:
    """The attempt's Timekeeper after its live events (undone ones and undo rows are skipped).
    Every stored event was accepted when it came, so replaying it cannot fail; a stored event
    that no longer applies after an undo is skipped the same way."""
    tk = Timekeeper(race_time_ms=attempt.race_time_ms, resets_per_lap=attempt.resets_per_lap)
    live = [e for e in sorted(events, key=lambda e: e.seq) if not e.undone and e.action != Action.UNDO]
    for e in live:
        try:
            apply(tk, Action(e.action), e.at_ms, e.source == Source.TIMER, e.lap_id)
        except TimekeeperError:
            pass
    return Replayed(tk, live)


def apply(tk: Timekeeper, action: Action, now_ms: int, auto_timer: bool = False, lap_id: int | None = None) -> None:
    """One event on the pure Timekeeper (raises TimekeeperError when it does not apply now)."""
    if action == Action.START:
        tk.start(now_ms)
    elif action == Action.PAUSE:
        tk.pause(now_ms)
    elif action == Action.RESUME:
        tk.resume(now_ms)
    elif action == Action.END:
        if tk.state == State.RACE_IS_OVER:
            raise TimekeeperError("the race is over already")
        tk.end(now_ms)
    elif action == Action.LAP:
        tk.capture_lap(now_ms, auto_timer=auto_timer)
    elif action == Action.DNF:
        tk.dnf(now_ms)
    elif action in (Action.OFF_TRACK, Action.RESET):
        if tk.state not in (State.RUNNING, State.PAUSED):
            raise TimekeeperError(f"no {action.value.replace('_', '-')} while the race is {tk.state}")
        tk.off_track() if action == Action.OFF_TRACK else tk.reset()
    elif action == Action.INVALIDATE:
        if lap_id is None:
            raise TimekeeperError("name the lap to invalidate (lap_id)")
        tk.toggle_valid(lap_id)
    else:
        raise TimekeeperError(f"{action} is not a timekeeper event")


def lap_json(lap: TkLap) -> dict[str, Any]:
    return {"lap_id": lap.lap_id, "time_ms": lap.time_ms, "resets": lap.resets, "off_tracks": lap.off_tracks,
            "is_valid": lap.is_valid, "auto_timer": lap.auto_timer}


def scored_laps(laps: list[dict[str, Any]], off_track_penalty_s: float) -> list[scoring.Lap]:
    """The attempt's laps as the leaderboard scores them: a valid lap counts as completed; each
    off-track adds the race's penalty to its lap."""
    penalty = round(off_track_penalty_s * 1000)
    return [scoring.Lap(int(x["time_ms"]) + penalty * int(x.get("off_tracks", 0)), bool(x["is_valid"]),
                        int(x.get("off_tracks", 0)), int(x.get("resets", 0)), invalid=not x["is_valid"])
            for x in laps]


def score_ms(laps: list[scoring.Lap], ranking: scoring.Ranking, minimum_laps: int) -> int:
    """An attempt's score. As a submission's (scoring.score_ms), except TOTAL_TIME: on a real track
    a racer drives laps until the race time is up, so the total is that of the best `minimum_laps`
    consecutive valid laps, not of every lap driven."""
    if ranking != scoring.Ranking.TOTAL_TIME:
        return scoring.score_ms(laps, ranking, minimum_laps)
    best = scoring.INVALID_MS
    for i in range(len(laps) - minimum_laps + 1):
        window = laps[i:i + minimum_laps]
        if minimum_laps >= 1 and all(lap.completed for lap in window):
            best = min(best, sum(lap.time_ms for lap in window))
    return best


# -- tokens --------------------------------------------------------------------------------------------

def new_token() -> str:
    return secrets.token_urlsafe(24)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(token: str | None, stored_hash: str | None) -> bool:
    """Constant-time comparison of a presented token with the stored hash."""
    if not token or not stored_hash:
        return False
    return hmac.compare_digest(token_hash(token), stored_hash)

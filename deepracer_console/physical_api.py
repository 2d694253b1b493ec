"""The timekeeper's API for physical races (docs/event-server.md, "Physical races"): the racer
queue, attempts and their buttons, the hardware lap timer's endpoint. Storage and replay rules
are in physical.py; the state machine is timekeeper.py.

Who may call what is in POLICY (merged into auth.ROUTE_POLICY): everything is for race
facilitators and admins, except the lap timer's endpoint, which needs no session but the race's
timer token (compared in constant time; failed tokens throttled per address; bodies ≤ 4 KB;
at most TIMER_EVENTS_PER_S accepted per race).
"""


import hmac
import json
import random
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from deepracer_console import auth, physical, scoring
from deepracer_console.auth import ModelOwner, Policy, User
from deepracer_console.db import Model, utcnow
from deepracer_console.errors import Conflict, ConsoleError, FieldError, NotFound
from deepracer_console.physical import Action, Attempt, AttemptEvent, Car, QueueEntry, Source
from deepracer_console.races import Race
from deepracer_console.scoring import Ranking
from deepracer_console.timekeeper import State, TimekeeperError, summary

TIMER_BODY_LIMIT = 4096
TIMER_EVENTS_PER_S = 10  # a real lap takes seconds (DREM's timer debounces each sensor for 2 s): room for retries
TIMER_FAILED_TOKENS = 10  # per address per minute, then 429
TIMER_RESYNC_MS = 60_000  # a timer clock this far from the server's (restarted timer): re-synchronised
WRITE_RETRIES = 20  # another server process (PostgreSQL) took the seq: read again and retry
_WRITE_LOCK = threading.Lock()  # this process's writers one at a time (SQLite would make them retry)

R = "/api/races/{race_id}"
POLICY: dict[tuple[str, str], Policy] = {
    ("GET", f"{R}/queue"): Policy.FACILITATOR,
    ("POST", f"{R}/queue"): Policy.FACILITATOR,
    ("PUT", f"{R}/queue"): Policy.FACILITATOR,
    ("DELETE", f"{R}/queue/{{entry_id}}"): Policy.FACILITATOR,
    ("GET", f"{R}/queue/me"): Policy.USER,  # a racer's own place (and nobody else's)
    ("POST", f"{R}/queue/me"): Policy.USER,  # a racer joins with one of their own models
    ("DELETE", f"{R}/queue/me"): Policy.USER,
    ("GET", f"{R}/timekeeper"): Policy.FACILITATOR,
    ("GET", f"{R}/attempts"): Policy.FACILITATOR,
    ("POST", f"{R}/attempts"): Policy.FACILITATOR,
    ("GET", f"{R}/attempts/{{attempt_id}}"): Policy.FACILITATOR,
    ("POST", f"{R}/attempts/{{attempt_id}}/events"): Policy.FACILITATOR,
    ("DELETE", f"{R}/attempts/{{attempt_id}}"): Policy.FACILITATOR,
    ("POST", f"{R}/timer-token"): Policy.FACILITATOR,
    ("POST", f"{R}/timer/laps"): Policy.PUBLIC,  # no session: the race's timer token (checked here)
}


# -- bodies ------------------------------------------------------------------------------------------

class QueueAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str
    model_id: int | None = None  # the racer's model to upload to the car


class QueueJoin(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model_id: int | None = None  # one of your own models
    invite: str | None = None  # a private race's invite token


class MyPlace(BaseModel):
    race_id: int
    position: int | None  # 1 = next; null: not in the queue
    waiting: int  # racers in the queue
    model_id: int | None


class QueueOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order: list[int]  # every entry id of the queue, in the new order


class QueueEntryOut(BaseModel):
    id: int
    race_id: int
    position: int  # 1 = next
    user_id: int
    racer: str
    model_id: int | None
    model_name: str | None


class AttemptCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    entry_id: int | None = None  # default: the head of the queue
    car_id: int | None = None


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Action
    lap_id: int | None = None  # invalidate: the lap to toggle


class TimerLap(BaseModel):
    """What DREM's lap timer broadcasts ({event, timestamp, gpio, lapNumber, sensorLapCount}), plus an
    optional event_id that makes a retried POST harmless."""

    model_config = ConfigDict(extra="forbid")
    event: str = "lap"
    timestamp: int | None = Field(None, ge=0, description="the timer's clock, ms since the epoch")
    event_id: str | None = Field(None, min_length=1, max_length=64)
    gpio: int | None = None
    lapNumber: int | None = None  # DREM's field names
    sensorLapCount: int | None = None


class LapOut(BaseModel):
    lap_id: int
    time_ms: int
    resets: int
    off_tracks: int
    is_valid: bool
    auto_timer: bool


class SummaryOut(BaseModel):
    fastest_lap_ms: int | None
    fastest_average_ms: int | None
    average_lap_ms: int | None
    valid_laps: int
    invalid_laps: int
    most_consecutive_laps: int


class LastEvent(BaseModel):
    seq: int
    action: str
    source: str
    lap_id: int | None


class AttemptOut(BaseModel):
    id: int
    race_id: int
    racer: str
    user_id: int | None
    model_id: int | None
    car_id: int | None
    state: State
    race_time_ms: int
    resets_per_lap: int
    elapsed_ms: int
    time_left_ms: int
    current_lap_ms: int
    resets: int  # in the lap in progress
    off_tracks: int
    laps: list[LapOut]
    score_ms: int | None  # by the race's ranking; null while it does not qualify
    summary: SummaryOut
    last_event: LastEvent | None  # what undo would take back
    server_time_ms: int  # the times above are as of this instant
    created_at: datetime
    ended_at: datetime | None


class TimekeeperOut(BaseModel):
    race_id: int
    name: str
    ranking: Ranking
    minimum_laps: int
    race_time_ms: int
    resets_per_lap: int
    off_track_penalty_s: float
    timer_configured: bool
    attempt: AttemptOut | None  # the newest attempt (the one on the track, or the last result)
    queue: list[QueueEntryOut]


class TimerTokenOut(BaseModel):
    race_id: int
    token: str  # shown once: only its hash is kept
    lap_url: str


class TimerAnswer(BaseModel):
    attempt_id: int
    state: State
    laps: int
    lap: LapOut | None  # the lap this event recorded (null: it started the race, or a retry)
    duplicate: bool = False


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def monotonic() -> float:
    return time.monotonic()  # the rate limits' clock (a test holds it still)


class RateLimit:
    """At most `limit` hits per key in a sliding `window_s`."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit, self.window_s = limit, window_s
        self._hits: dict[Any, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def hit(self, key: Any) -> bool:
        now = monotonic()
        with self._lock:
            hits = self._hits[key]
            while hits and now - hits[0] > self.window_s:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            return True

    def blocked(self, key: Any) -> bool:
        now = monotonic()
        with self._lock:
            hits = self._hits.get(key)
            if hits is None:
                return False
            while hits and now - hits[0] > self.window_s:
                hits.popleft()
            if not hits:
                del self._hits[key]  # addresses seen once do not pile up
            return len(hits) >= self.limit


# -- reading -----------------------------------------------------------------------------------------

def physical_race(db: Session, race_id: int) -> Race:
    race = db.get(Race, race_id)
    if race is None or not race.physical:
        raise NotFound(f"no physical race {race_id}", "race_id")
    return race


def events_of(db: Session, attempt_id: int) -> list[AttemptEvent]:
    return list(db.scalars(select(AttemptEvent).where(AttemptEvent.attempt_id == attempt_id)
                           .order_by(AttemptEvent.seq)).all())


def attempt_out(db: Session, attempt: Attempt, at_ms: int | None = None) -> AttemptOut:
    rep = physical.replay(attempt, events_of(db, attempt.id))
    tk, now = rep.timekeeper, at_ms if at_ms is not None else now_ms()
    s = summary(tk.laps)
    last = rep.events[-1] if rep.events else None
    return AttemptOut(
        id=attempt.id, race_id=attempt.race_id, racer=attempt.racer, user_id=attempt.user_id,
        model_id=attempt.model_id, car_id=attempt.car_id, state=tk.state, race_time_ms=attempt.race_time_ms,
        resets_per_lap=attempt.resets_per_lap, elapsed_ms=tk.elapsed_ms(now), time_left_ms=tk.time_left_ms(now),
        current_lap_ms=tk.current_lap_ms(now), resets=tk.resets, off_tracks=tk.off_tracks,
        laps=[LapOut(**physical.lap_json(lap)) for lap in tk.laps],
        score_ms=attempt.score_ms if attempt.score_ms is not None and attempt.score_ms < scoring.INVALID_MS
        else None,
        summary=SummaryOut(fastest_lap_ms=s.fastest_lap_ms, fastest_average_ms=s.fastest_average_ms,
                           average_lap_ms=s.average_lap_ms, valid_laps=s.valid_laps, invalid_laps=s.invalid_laps,
                           most_consecutive_laps=s.most_consecutive_laps),
        last_event=LastEvent(seq=last.seq, action=last.action, source=last.source, lap_id=last.lap_id)
        if last else None,
        server_time_ms=now, created_at=attempt.created_at, ended_at=attempt.ended_at)


def queue_of(db: Session, race_id: int) -> list[QueueEntryOut]:
    rows = db.execute(select(QueueEntry, User.username, Model.name).join(User, User.id == QueueEntry.user_id)
                      .outerjoin(Model, Model.id == QueueEntry.model_id).where(QueueEntry.race_id == race_id)
                      .order_by(QueueEntry.position, QueueEntry.id)).all()
    return [QueueEntryOut(id=e.id, race_id=e.race_id, position=i + 1, user_id=e.user_id, racer=username,
                          model_id=e.model_id, model_name=model_name)
            for i, (e, username, model_name) in enumerate(rows)]


def current_attempt(db: Session, race_id: int) -> Attempt | None:
    """The newest attempt of the race (on the track, or the last one's result)."""
    return db.scalars(select(Attempt).where(Attempt.race_id == race_id).order_by(Attempt.id.desc()).limit(1)).first()


# -- writing: one event per transaction -----------------------------------------------------------------

class Recorded(BaseModel):
    attempt_id: int
    duplicate: bool
    lap: dict[str, Any] | None


def record(sessions: Any, race_id: int, attempt_id: int | None, action: Action, *, source: Source = Source.OPERATOR,
           lap_id: int | None = None, timer_ts: int | None = None, timer_event_id: str | None = None,
           payload: dict[str, Any] | None = None) -> Recorded:
    """Check the event against the replayed timekeeper and store it with the attempt's new snapshot,
    in one transaction. A concurrent writer (seq taken) makes it retry; a timer event already
    stored (same event_id) is answered as a duplicate."""
    who = auth.caller()
    for attempt_no in range(WRITE_RETRIES):
        try:
            with _WRITE_LOCK, sessions.begin() as db:
                race = physical_race(db, race_id)
                if attempt_id is None:  # the lap timer: the attempt on the track
                    attempt = current_attempt(db, race_id)
                    if attempt is None or attempt.state == State.RACE_IS_OVER:
                        raise Conflict(f"no attempt on the track in race {race.name!r}: the timekeeper starts "
                                       "the next racer's attempt first", "attempt")
                else:
                    attempt = db.get(Attempt, attempt_id)
                    if attempt is None or attempt.race_id != race_id:
                        raise NotFound(f"no attempt {attempt_id} in race {race_id}", "attempt_id")
                events = events_of(db, attempt.id)
                if timer_event_id is not None and any(e.timer_event_id == timer_event_id for e in events):
                    return Recorded(attempt_id=attempt.id, duplicate=True, lap=None)
                server_now = now_ms()
                at = server_now
                if source == Source.TIMER and timer_ts is not None:
                    if attempt.timer_offset_ms is None or abs(timer_ts + attempt.timer_offset_ms - server_now) \
                            > TIMER_RESYNC_MS:
                        attempt.timer_offset_ms = server_now - timer_ts
                    at = timer_ts + attempt.timer_offset_ms  # lap times = differences of the timer's stamps
                if events:
                    at = max(at, max(e.at_ms for e in events))  # time never runs backwards
                rep = physical.replay(attempt, events)
                n_before = len(rep.timekeeper.laps)
                undid: AttemptEvent | None = None
                if action == Action.UNDO:
                    if not rep.events:
                        raise Conflict("nothing to undo", "action")
                    undid = rep.events[-1]
                    undid.undone = True
                else:
                    try:
                        physical.apply(rep.timekeeper, action, at, source == Source.TIMER, lap_id)
                    except TimekeeperError as err:
                        raise Conflict(str(err), "lap_id" if action == Action.INVALIDATE else "action") from None
                seq = max((e.seq for e in events), default=0) + 1
                event = AttemptEvent(attempt_id=attempt.id, seq=seq, action=action, at_ms=at, source=source,
                                     lap_id=lap_id, timer_event_id=timer_event_id,
                                     payload={"undid_seq": undid.seq} if undid is not None else payload,
                                     user_id=who.user_id if who else None)
                db.add(event)
                db.flush()
                after = physical.replay(attempt, [*events, event]).timekeeper
                attempt.state = after.state
                attempt.laps = [physical.lap_json(lap) for lap in after.laps]
                attempt.score_ms = physical.score_ms(physical.scored_laps(attempt.laps, race.off_track_penalty_s),
                                                     Ranking(race.ranking), race.minimum_laps)
                attempt.ended_at = utcnow() if after.state == State.RACE_IS_OVER else None
                lap = attempt.laps[-1] if action == Action.LAP and len(after.laps) > n_before else None
                return Recorded(attempt_id=attempt.id, duplicate=False, lap=lap)
        except (IntegrityError, OperationalError):
            if attempt_no == WRITE_RETRIES - 1:
                raise
            time.sleep(random.uniform(0.005, 0.02) * (attempt_no + 1))
    raise AssertionError("unreachable")


# -- routes --------------------------------------------------------------------------------------------

def install(app: FastAPI, console: Any) -> None:
    auth.ROUTE_POLICY.update(POLICY)
    failed_tokens = RateLimit(TIMER_FAILED_TOKENS, 60.0)
    timer_events = RateLimit(TIMER_EVENTS_PER_S, 1.0)

    def db() -> Iterator[Session]:
        with console.sessions() as session:
            yield session

    DB = Annotated[Session, Depends(db)]

    # -- the queue -------------------------------------------------------------------------------------
    @app.get(f"{R}/queue", response_model=list[QueueEntryOut], tags=["physical races"])
    def read_queue(race_id: int, db: DB) -> list[QueueEntryOut]:
        """The racers waiting for the track, next first."""
        physical_race(db, race_id)
        return queue_of(db, race_id)

    @app.post(f"{R}/queue", response_model=list[QueueEntryOut], status_code=201, tags=["physical races"])
    def add_to_queue(race_id: int, body: QueueAdd, db: DB) -> list[QueueEntryOut]:
        """Queue a racer (an account) at the end, with the model they race (optional)."""
        physical_race(db, race_id)
        user = db.scalar(select(User).where(User.username == body.username))
        if user is None:
            raise NotFound(f"no user {body.username!r}", "username")
        if body.model_id is not None:
            owner = db.get(ModelOwner, body.model_id)
            if db.get(Model, body.model_id) is None or owner is None or owner.user_id != user.id:
                raise NotFound(f"{user.username} has no model {body.model_id}", "model_id")
        if db.scalar(select(QueueEntry.id).where(QueueEntry.race_id == race_id, QueueEntry.user_id == user.id)):
            raise Conflict(f"{user.username} is in the queue already", "username")
        last = db.scalar(select(func.max(QueueEntry.position)).where(QueueEntry.race_id == race_id)) or 0
        db.add(QueueEntry(race_id=race_id, user_id=user.id, model_id=body.model_id, position=last + 1))
        db.commit()
        return queue_of(db, race_id)

    def visible_race(db: Session, race_id: int, invite: str | None) -> Race:
        race = physical_race(db, race_id)
        who = auth.caller()
        if race.private and not (who is not None and who.manages_races) and not (
                invite is not None and hmac.compare_digest(invite, race.invite_token)):
            raise NotFound(f"no physical race {race_id}", "race_id")
        return race

    def my_place(db: Session, race_id: int) -> MyPlace:
        who = auth.caller()
        uid = who.user_id if who is not None else None
        queue = db.scalars(select(QueueEntry).where(QueueEntry.race_id == race_id)
                           .order_by(QueueEntry.position, QueueEntry.id)).all()
        mine = next(((i + 1, e) for i, e in enumerate(queue) if uid is not None and e.user_id == uid), None)
        return MyPlace(race_id=race_id, position=mine[0] if mine else None, waiting=len(queue),
                       model_id=mine[1].model_id if mine else None)

    def need_account() -> int:
        who = auth.caller()
        if who is None or who.user_id is None:
            raise Conflict("joining a physical race's queue needs an account (single-user mode has none)", "user")
        return who.user_id

    @app.get(f"{R}/queue/me", response_model=MyPlace, tags=["physical races"])
    def read_my_place(race_id: int, db: DB, invite: Annotated[str | None, Query()] = None) -> MyPlace:
        """Your place in the queue (racers see their own place and the queue's length, not who is in it)."""
        visible_race(db, race_id, invite)
        return my_place(db, race_id)

    @app.post(f"{R}/queue/me", response_model=MyPlace, status_code=201, tags=["physical races"])
    def join_queue(race_id: int, body: QueueJoin, db: DB) -> MyPlace:
        """Join the queue at the end with one of your own models (again: change the model, keep the place)."""
        visible_race(db, race_id, body.invite)
        uid = need_account()
        if body.model_id is not None:
            owner = db.get(ModelOwner, body.model_id)
            if db.get(Model, body.model_id) is None or owner is None or owner.user_id != uid:
                raise NotFound(f"you have no model {body.model_id}", "model_id")
        entry = db.scalars(select(QueueEntry).where(QueueEntry.race_id == race_id, QueueEntry.user_id == uid)).first()
        if entry is not None:
            entry.model_id = body.model_id
        else:
            last = db.scalar(select(func.max(QueueEntry.position)).where(QueueEntry.race_id == race_id)) or 0
            db.add(QueueEntry(race_id=race_id, user_id=uid, model_id=body.model_id, position=last + 1))
        db.commit()
        return my_place(db, race_id)

    @app.delete(f"{R}/queue/me", response_model=MyPlace, tags=["physical races"])
    def leave_queue(race_id: int, db: DB, invite: Annotated[str | None, Query()] = None) -> MyPlace:
        visible_race(db, race_id, invite)
        uid = need_account()
        for entry in db.scalars(select(QueueEntry).where(QueueEntry.race_id == race_id,
                                                         QueueEntry.user_id == uid)).all():
            db.delete(entry)
        db.commit()
        return my_place(db, race_id)

    @app.put(f"{R}/queue", response_model=list[QueueEntryOut], tags=["physical races"])
    def reorder_queue(race_id: int, body: QueueOrder, db: DB) -> list[QueueEntryOut]:
        """A new order: every entry id of the queue, next first."""
        physical_race(db, race_id)
        entries = {e.id: e for e in db.scalars(select(QueueEntry).where(QueueEntry.race_id == race_id)).all()}
        if sorted(body.order) != sorted(entries):
            raise FieldError(f"order must list every entry of the queue once: {sorted(entries)}", "order")
        for i, entry_id in enumerate(body.order):
            entries[entry_id].position = i + 1
        db.commit()
        return queue_of(db, race_id)

    @app.delete(f"{R}/queue/{{entry_id}}", response_model=list[QueueEntryOut], tags=["physical races"])
    def remove_from_queue(race_id: int, entry_id: int, db: DB) -> list[QueueEntryOut]:
        physical_race(db, race_id)
        entry = db.get(QueueEntry, entry_id)
        if entry is None or entry.race_id != race_id:
            raise NotFound(f"no queue entry {entry_id} in race {race_id}", "entry_id")
        db.delete(entry)
        db.commit()
        return queue_of(db, race_id)

    # -- attempts --------------------------------------------------------------------------------------
    @app.get(f"{R}/timekeeper", response_model=TimekeeperOut, tags=["physical races"])
    def read_timekeeper(race_id: int, db: DB) -> TimekeeperOut:
        """Everything the timekeeper's page shows: the race's rules, the attempt on the track, the queue."""
        race = physical_race(db, race_id)
        attempt = current_attempt(db, race_id)
        return TimekeeperOut(race_id=race.id, name=race.name, ranking=Ranking(race.ranking),
                             minimum_laps=race.minimum_laps, race_time_ms=race.race_time_s * 1000,
                             resets_per_lap=race.resets, off_track_penalty_s=race.off_track_penalty_s,
                             timer_configured=race.timer_token_hash is not None,
                             attempt=attempt_out(db, attempt) if attempt else None, queue=queue_of(db, race_id))

    @app.get(f"{R}/attempts", response_model=list[AttemptOut], tags=["physical races"])
    def list_attempts(race_id: int, db: DB) -> list[AttemptOut]:
        physical_race(db, race_id)
        rows = db.scalars(select(Attempt).where(Attempt.race_id == race_id).order_by(Attempt.id)).all()
        return [attempt_out(db, a) for a in rows]

    @app.post(f"{R}/attempts", response_model=AttemptOut, status_code=201, tags=["physical races"])
    def start_attempt(race_id: int, body: AttemptCreate, db: DB) -> AttemptOut:
        """The next racer's turn: their queue entry (default: the head) becomes an attempt."""
        race = physical_race(db, race_id)
        on_track = current_attempt(db, race_id)
        if on_track is not None and on_track.state != State.RACE_IS_OVER:
            raise Conflict(f"{on_track.racer}'s attempt {on_track.id} is not over: end it first", "attempt")
        if body.entry_id is not None:
            entry = db.get(QueueEntry, body.entry_id)
            if entry is None or entry.race_id != race_id:
                raise NotFound(f"no queue entry {body.entry_id} in race {race_id}", "entry_id")
        else:
            entry = db.scalars(select(QueueEntry).where(QueueEntry.race_id == race_id)
                               .order_by(QueueEntry.position, QueueEntry.id).limit(1)).first()
            if entry is None:
                raise Conflict("the queue is empty: add a racer first", "entry_id")
        if body.car_id is not None and db.get(Car, body.car_id) is None:
            raise NotFound(f"no car {body.car_id}", "car_id")
        user = db.get(User, entry.user_id)
        attempt = Attempt(race_id=race_id, user_id=entry.user_id, racer=user.username if user else "?",
                          model_id=entry.model_id, car_id=body.car_id, state=State.READY_TO_START,
                          race_time_ms=race.race_time_s * 1000, resets_per_lap=race.resets, laps=[])
        db.add(attempt)
        db.delete(entry)
        db.commit()
        return attempt_out(db, attempt)

    @app.get(f"{R}/attempts/{{attempt_id}}", response_model=AttemptOut, tags=["physical races"])
    def read_attempt(race_id: int, attempt_id: int, db: DB) -> AttemptOut:
        physical_race(db, race_id)
        attempt = db.get(Attempt, attempt_id)
        if attempt is None or attempt.race_id != race_id:
            raise NotFound(f"no attempt {attempt_id} in race {race_id}", "attempt_id")
        return attempt_out(db, attempt)

    @app.delete(f"{R}/attempts/{{attempt_id}}", response_model=list[QueueEntryOut], tags=["physical races"])
    def discard_attempt(race_id: int, attempt_id: int, db: DB) -> list[QueueEntryOut]:
        """Discard an attempt (the wrong racer was started, the car broke down): it and its events are
        deleted and leave the leaderboard; the racer goes back to the head of the queue. Answers the queue."""
        physical_race(db, race_id)
        attempt = db.get(Attempt, attempt_id)
        if attempt is None or attempt.race_id != race_id:
            raise NotFound(f"no attempt {attempt_id} in race {race_id}", "attempt_id")
        queued = db.scalar(select(QueueEntry.id).where(QueueEntry.race_id == race_id,
                                                       QueueEntry.user_id == attempt.user_id))
        if attempt.user_id is not None and queued is None and db.get(User, attempt.user_id) is not None:
            first = db.scalar(select(func.min(QueueEntry.position)).where(QueueEntry.race_id == race_id))
            db.add(QueueEntry(race_id=race_id, user_id=attempt.user_id, model_id=attempt.model_id,
                              position=(first if first is not None else 1) - 1))
        db.delete(attempt)
        db.commit()
        return queue_of(db, race_id)

    @app.post(f"{R}/attempts/{{attempt_id}}/events", response_model=AttemptOut, tags=["physical races"])
    def press(race_id: int, attempt_id: int, body: EventIn) -> AttemptOut:
        """A timekeeper button: start, pause, resume, end, lap, dnf, off_track, reset, invalidate
        (toggles lap_id's validity), undo (takes back the last event). 409 when it does not apply now."""
        if body.action == Action.INVALIDATE and body.lap_id is None:
            raise FieldError("invalidate needs lap_id (the lap to toggle)", "lap_id")
        if body.action != Action.INVALIDATE and body.lap_id is not None:
            raise FieldError("lap_id goes only with invalidate", "lap_id")
        done = record(console.sessions, race_id, attempt_id, body.action, lap_id=body.lap_id)
        with console.sessions() as db:
            return attempt_out(db, db.get(Attempt, done.attempt_id))

    # -- the hardware lap timer --------------------------------------------------------------------------
    @app.post(f"{R}/timer-token", response_model=TimerTokenOut, tags=["physical races"])
    def new_timer_token(race_id: int, db: DB) -> TimerTokenOut:
        """A new token for the race's lap timer (shown once; the previous token stops working)."""
        race = physical_race(db, race_id)
        token = physical.new_token()
        race.timer_token_hash = physical.token_hash(token)
        db.commit()
        return TimerTokenOut(race_id=race.id, token=token, lap_url=f"/api/races/{race.id}/timer/laps")

    @app.post(f"{R}/timer/laps", response_model=TimerAnswer, tags=["physical races"])
    async def timer_lap(race_id: int, request: Request) -> TimerAnswer:
        """A lap line crossing from a hardware timer: `Authorization: Bearer <the race's timer token>`,
        JSON {timestamp?, event_id?, ...} (DREM's timer message) or an empty body. The first one
        starts an attempt that is ready to start; lap times are the differences of the timer's stamps."""
        import asyncio

        address = request.client.host if request.client else "?"
        if failed_tokens.blocked(address):
            raise ConsoleError("too many wrong timer tokens from this address: wait a minute", "token", 429)
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > TIMER_BODY_LIMIT):
            raise ConsoleError(f"a timer event is at most {TIMER_BODY_LIMIT} bytes", "body", 413)
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > TIMER_BODY_LIMIT:
                raise ConsoleError(f"a timer event is at most {TIMER_BODY_LIMIT} bytes", "body", 413)
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header[:7].lower() == "bearer " else request.headers.get("x-timer-token")

        def stored_hash() -> str | None:
            with console.sessions() as db:
                race = db.get(Race, race_id)
                return race.timer_token_hash if race is not None and race.physical else None

        if not physical.token_matches(token, await asyncio.to_thread(stored_hash)):
            failed_tokens.hit(address)
            raise ConsoleError("wrong or missing timer token (Authorization: Bearer <token>)", "token", 401)
        try:
            body = TimerLap.model_validate(json.loads(raw) if raw.strip() else {})
        except json.JSONDecodeError:
            raise FieldError("the body is not JSON (send {} or DREM's timer message)", "body") from None
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(x) for x in first.get("loc", ())) or "body"
            msg = "unknown field" if first.get("type") == "extra_forbidden" else first.get("msg", "invalid")
            raise FieldError(f"{where}: {msg}", where) from None
        if body.event != "lap":
            raise FieldError(f"event must be 'lap' (got {body.event!r})", "event")
        if not timer_events.hit(race_id):
            raise ConsoleError(f"more than {TIMER_EVENTS_PER_S} timer events a second for this race", "body", 429)
        done = await asyncio.to_thread(record, console.sessions, race_id, None, Action.LAP, source=Source.TIMER,
                                       timer_ts=body.timestamp, timer_event_id=body.event_id,
                                       payload=body.model_dump(exclude_none=True))
        with console.sessions() as db:
            attempt = db.get(Attempt, done.attempt_id)
            assert attempt is not None
            return TimerAnswer(attempt_id=attempt.id, state=State(attempt.state), laps=len(attempt.laps),
                               lap=LapOut(**done.lap) if done.lap else None, duplicate=done.duplicate)


def leaderboard_entries(db: Session, race: Race) -> tuple[list[scoring.Entry], int]:
    """A physical race's attempts as leaderboard entries (attempt id as submission id), and how many
    attempts are still on the track."""
    rows = db.scalars(select(Attempt).where(Attempt.race_id == race.id)).all()
    entries = [scoring.Entry(a.id, a.racer, a.score_ms if a.score_ms is not None else scoring.INVALID_MS,
                             a.created_at, physical.scored_laps(a.laps or [], race.off_track_penalty_s))
               for a in rows]
    return entries, sum(1 for a in rows if a.state != State.RACE_IS_OVER)

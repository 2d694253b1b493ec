"""Community races (DeepRacer on AWS's "classic" races, shared/deepracer-facts.md §10).

A facilitator creates a race; a racer submits one of their ready models; the submission is an
evaluation job with the race's track, direction, race type, laps, off-track penalty and a
fixed seed (RACE_SEED), so everyone drives the same race; the leaderboard ranks by the race's
rule (scoring.py). Private races are seen only with their invite token (or by facilitators).
"""

import asyncio
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from deepracer_console import auth, league, scoring
from deepracer_console import validation as v
from deepracer_console.auth import ModelOwner, User
from deepracer_console.db import Base, Evaluation, EvaluationStatus, Model, UTCDateTime, utcnow
from deepracer_console.errors import Conflict, ConsoleError, FieldError, NotFound
from deepracer_console.league import Board, LeaderboardCache
from deepracer_console.scoring import Ranking

RACE_SEED = 2018  # every submission of every race drives with this seed: the same race for everyone


class Race(Base):
    __tablename__ = "races"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    track: Mapped[str] = mapped_column(String(128))
    direction: Mapped[str] = mapped_column(String(32), default="counterclockwise")
    race_type: Mapped[str] = mapped_column(String(32), default="time_trial")
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ranking: Mapped[str] = mapped_column(String(32), default=scoring.DEFAULT_RANKING)
    minimum_laps: Mapped[int] = mapped_column(Integer, default=scoring.DEFAULT_MINIMUM_LAPS)
    laps: Mapped[int] = mapped_column(Integer, default=scoring.DEFAULT_MINIMUM_LAPS)
    off_track_penalty_s: Mapped[float] = mapped_column(Float, default=scoring.DEFAULT_OFF_TRACK_PENALTY_S)
    resets: Mapped[int] = mapped_column(Integer, default=10_000)  # DROA: every submission 10 000
    submissions_per_day: Mapped[int] = mapped_column(Integer, default=scoring.DEFAULT_SUBMISSIONS_PER_DAY)
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    invite_token: Mapped[str] = mapped_column(String(64))
    # a physical race (a real track, the timekeeper: physical.py); migration 0005
    physical: Mapped[bool] = mapped_column(Boolean, default=False)
    race_time_s: Mapped[int] = mapped_column(Integer, default=120)  # DREM: race time per attempt, 2 min
    timer_token_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)  # sha256 of the lap timer's
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RaceSubmission(Base):
    __tablename__ = "race_submissions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    race_id: Mapped[int] = mapped_column(ForeignKey("races.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=True,
                                                index=True)
    racer: Mapped[str] = mapped_column(String(64))
    model_id: Mapped[int | None] = mapped_column(ForeignKey("models.id", ondelete="SET NULL"), nullable=True)
    evaluation_id: Mapped[int | None] = mapped_column(ForeignKey("evaluations.id", ondelete="SET NULL"),
                                                      nullable=True, unique=True)
    score_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class RaceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    track: str
    direction: str | None = None
    race_type: str | None = None
    opens_at: datetime | None = None  # default: now
    closes_at: datetime
    ranking: Ranking = scoring.DEFAULT_RANKING
    minimum_laps: int = scoring.DEFAULT_MINIMUM_LAPS
    laps: int | None = None  # default: minimum_laps
    off_track_penalty_s: float = scoring.DEFAULT_OFF_TRACK_PENALTY_S
    resets: int = 10_000
    submissions_per_day: int = scoring.DEFAULT_SUBMISSIONS_PER_DAY
    private: bool = False
    physical: bool = False  # a real track run with the timekeeper (physical_api.py)
    race_time_s: int = 120  # physical: each attempt's race time (DREM: 2 min)


class RaceOut(BaseModel):
    id: int
    name: str
    track: str
    direction: str
    race_type: str
    opens_at: datetime
    closes_at: datetime
    ranking: Ranking
    minimum_laps: int
    laps: int
    off_track_penalty_s: float
    resets: int
    submissions_per_day: int
    private: bool
    is_open: bool
    physical: bool = False
    race_time_s: int = 120
    invite_link: str | None = None  # facilitators and admins only


class SubmissionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model_id: int
    invite: str | None = None  # a private race's invite token


class SubmissionOut(BaseModel):
    id: int
    race_id: int
    model_id: int | None
    evaluation_id: int | None
    racer: str
    status: str
    created_at: datetime
    score_ms: int | None = None  # GET .../submissions: the ranked score once evaluated
    laps: list["LapOut"] = []
    video_url: str | None = None


class RaceUpdate(BaseModel):
    """PATCH /api/races/{id}: the fields given change. Those in RANKING_FIELDS are refused (409)
    once the race has submissions or attempts: they would re-rank runs already made."""
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    track: str | None = None
    direction: str | None = None
    race_type: str | None = None
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    ranking: Ranking | None = None
    minimum_laps: int | None = None
    laps: int | None = None
    off_track_penalty_s: float | None = None
    resets: int | None = None
    submissions_per_day: int | None = None
    private: bool | None = None
    race_time_s: int | None = None


# settings that change what a run scores or how runs rank: fixed once a race has runs
RANKING_FIELDS = ("track", "direction", "race_type", "ranking", "minimum_laps", "laps", "off_track_penalty_s",
                  "resets", "race_time_s")


class LapOut(BaseModel):
    time_ms: int
    completed: bool
    off_track: int
    invalid: bool = False  # physical races: invalidated by the timekeeper (or a DNF), not unfinished


class PlaceOut(BaseModel):
    rank: int
    racer: str
    score_ms: int
    gap_ms: int
    submission_id: int
    submitted_at: datetime
    laps: list[LapOut]
    video_url: str | None = None


class LeaderboardOut(BaseModel):
    race_id: int
    ranking: Ranking
    minimum_laps: int
    entries: list[PlaceOut]
    pending: int  # submissions still queued or running


def race_evaluate_args(sessions: sessionmaker, evaluation_id: int) -> list[str]:
    """Extra `deepracer evaluate` arguments when the evaluation is a race submission (the fixed seed)."""
    with sessions() as db:
        found = db.scalar(select(RaceSubmission.id).where(RaceSubmission.evaluation_id == evaluation_id))
    return ["--seed", str(RACE_SEED)] if found is not None else []


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def install(app: FastAPI, console: Any) -> None:
    def db() -> Iterator[Session]:
        with console.sessions() as session:
            yield session

    DB = Annotated[Session, Depends(db)]

    def race_out(r: Race) -> RaceOut:
        who = auth.caller()
        now = utcnow()
        return RaceOut(id=r.id, name=r.name, track=r.track, direction=r.direction, race_type=r.race_type,
                       opens_at=r.opens_at, closes_at=r.closes_at, ranking=Ranking(r.ranking),
                       minimum_laps=r.minimum_laps, laps=r.laps, off_track_penalty_s=r.off_track_penalty_s,
                       resets=r.resets, submissions_per_day=r.submissions_per_day, private=r.private,
                       is_open=r.opens_at <= now < r.closes_at, physical=r.physical, race_time_s=r.race_time_s,
                       invite_link=f"/races/{r.id}?invite={r.invite_token}" if who and who.manages_races else None)

    def may_see(r: Race, invite: str | None) -> bool:
        who = auth.caller()
        if not r.private or (who is not None and who.manages_races):
            return True
        return invite is not None and secrets.compare_digest(invite, r.invite_token)

    def get_race(db: Session, race_id: int, invite: str | None) -> Race:
        race = db.get(Race, race_id)
        if race is None or not may_see(race, invite):
            raise NotFound(f"no race {race_id}", "id")
        return race

    @app.get("/api/races", response_model=list[RaceOut], tags=["races"])
    def list_races(db: DB) -> list[RaceOut]:
        """The races: public ones for everybody; private ones for facilitators and admins."""
        return [race_out(r) for r in db.scalars(select(Race).order_by(Race.opens_at.desc(), Race.id)).all()
                if may_see(r, None)]

    @app.post("/api/races", response_model=RaceOut, status_code=201, tags=["races"])
    def create_race(body: RaceCreate, db: DB) -> RaceOut:
        name = v.check_name(body.name)
        track = console.tracks.check(body.track)
        opens = _aware(body.opens_at) if body.opens_at else utcnow()
        closes = _aware(body.closes_at)
        if closes <= opens:
            raise FieldError("closes_at must be after opens_at", "closes_at")
        if opens < utcnow() - timedelta(minutes=5):
            raise FieldError("opens_at is in the past", "opens_at")
        laps = body.laps if body.laps is not None else body.minimum_laps
        problem = scoring.check_race_laps(body.ranking, body.minimum_laps, laps)
        if problem:
            raise FieldError(problem, "laps" if "laps must" in problem else "minimum_laps")
        if not 1 <= body.submissions_per_day <= 1000:
            raise FieldError("submissions_per_day must be 1-1000", "submissions_per_day")
        if not 0 <= body.resets <= 10_000:
            raise FieldError("resets must be 0-10000", "resets")
        if db.scalar(select(Race.id).where(Race.name == name)) is not None:
            raise Conflict(f"a race named {name!r} exists already", "name")
        from deepracer_console.physical import RACE_TIME_S_RANGE

        if not RACE_TIME_S_RANGE[0] <= body.race_time_s <= RACE_TIME_S_RANGE[1]:
            raise FieldError(f"race_time_s must be {RACE_TIME_S_RANGE[0]}-{RACE_TIME_S_RANGE[1]}", "race_time_s")
        who = auth.caller()
        race = Race(name=name, track=track, direction=v.check_direction(body.direction),
                    race_type=v.check_race_type(body.race_type), opens_at=opens, closes_at=closes,
                    ranking=body.ranking, minimum_laps=body.minimum_laps, laps=laps,
                    off_track_penalty_s=v.check_penalty(body.off_track_penalty_s), resets=body.resets,
                    submissions_per_day=body.submissions_per_day, private=body.private,
                    invite_token=secrets.token_urlsafe(16), created_by=who.user_id if who else None,
                    physical=body.physical, race_time_s=body.race_time_s)
        db.add(race)
        db.commit()
        return race_out(race)

    @app.get("/api/races/{race_id}", response_model=RaceOut, tags=["races"])
    def read_race(race_id: int, db: DB, invite: Annotated[str | None, Query()] = None) -> RaceOut:
        return race_out(get_race(db, race_id, invite))

    @app.post("/api/races/{race_id}/submissions", response_model=SubmissionOut, status_code=201, tags=["races"])
    def submit(race_id: int, body: SubmissionCreate, db: DB) -> SubmissionOut:
        """Submit one of your ready models: it is evaluated with the race's settings and the fixed seed."""
        race = get_race(db, race_id, body.invite)
        who = auth.caller()
        assert who is not None
        if race.physical:
            raise Conflict(f"race {race.name!r} is run on a real track: the facilitator queues its racers", "race")
        model = db.get(Model, body.model_id)
        owner = db.get(ModelOwner, body.model_id) if model else None
        if model is None or (who.user_id is not None and (owner is None or owner.user_id != who.user_id)):
            raise NotFound(f"you have no model {body.model_id}", "model_id")
        now = utcnow()
        if not race.opens_at <= now < race.closes_at:
            raise Conflict(f"race {race.name!r} takes submissions from {race.opens_at:%Y-%m-%d %H:%M} to "
                           f"{race.closes_at:%Y-%m-%d %H:%M} UTC", "race")
        if not (console.storage.package_dir(model.id) / "model.onnx").is_file():
            raise Conflict(f"model {model.name!r} is not ready (no trained model to race)", "model_id")
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        mine = (RaceSubmission.user_id == who.user_id) if who.user_id is not None else RaceSubmission.user_id.is_(None)
        done = db.scalar(select(func.count(RaceSubmission.id)).where(
            RaceSubmission.race_id == race.id, mine, RaceSubmission.created_at >= today)) or 0
        if done >= race.submissions_per_day:
            raise ConsoleError(f"{done} submissions today already: race {race.name!r} takes "
                               f"{race.submissions_per_day} a day per racer", "model_id", 429)
        from deepracer_console.quotas import check_evaluation

        check_evaluation(db)
        evaluation = Evaluation(model_id=model.id, track=race.track, direction=race.direction,
                                race_type=race.race_type, trials=race.laps,
                                off_track_penalty_s=race.off_track_penalty_s)
        db.add(evaluation)
        db.flush()
        sub = RaceSubmission(race_id=race.id, user_id=who.user_id, racer=who.username, model_id=model.id,
                             evaluation_id=evaluation.id)
        db.add(sub)
        db.flush()
        console.runner.queue_evaluation(db, evaluation)
        db.commit()
        return SubmissionOut(id=sub.id, race_id=race.id, model_id=model.id, evaluation_id=evaluation.id,
                             racer=sub.racer, status=evaluation.status, created_at=sub.created_at)

    def has_runs(db: Session, race: Race) -> bool:
        if db.scalar(select(func.count(RaceSubmission.id)).where(RaceSubmission.race_id == race.id)):
            return True
        from deepracer_console.physical import Attempt

        return bool(db.scalar(select(func.count(Attempt.id)).where(Attempt.race_id == race.id)))

    @app.patch("/api/races/{race_id}", response_model=RaceOut, tags=["races"])
    def update_race(race_id: int, body: RaceUpdate, db: DB) -> RaceOut:
        """Change a race's settings (facilitators). Name, times, privacy and submissions per day may
        change any time; the settings that rank runs (RANKING_FIELDS) only while it has no runs."""
        race = get_race(db, race_id, None)
        given = body.model_dump(exclude_unset=True)
        fixed = [f for f in RANKING_FIELDS if f in given and given[f] != getattr(race, f)]
        if fixed and has_runs(db, race):
            raise Conflict(f"race {race.name!r} has runs already: {fixed[0]} would change their ranking "
                           "(create a new race instead)", fixed[0])
        merged = {f: getattr(race, f) for f in RaceCreate.model_fields if hasattr(race, f)}
        merged.update({k: val for k, val in given.items() if val is not None})
        opens, closes = _aware(merged["opens_at"]), _aware(merged["closes_at"])
        if closes <= opens:
            raise FieldError("closes_at must be after opens_at", "closes_at")
        problem = scoring.check_race_laps(Ranking(merged["ranking"]), merged["minimum_laps"], merged["laps"])
        if problem:
            raise FieldError(problem, "laps" if "laps must" in problem else "minimum_laps")
        if not 1 <= merged["submissions_per_day"] <= 1000:
            raise FieldError("submissions_per_day must be 1-1000", "submissions_per_day")
        if not 0 <= merged["resets"] <= 10_000:
            raise FieldError("resets must be 0-10000", "resets")
        from deepracer_console.physical import RACE_TIME_S_RANGE

        if not RACE_TIME_S_RANGE[0] <= merged["race_time_s"] <= RACE_TIME_S_RANGE[1]:
            raise FieldError(f"race_time_s must be {RACE_TIME_S_RANGE[0]}-{RACE_TIME_S_RANGE[1]}", "race_time_s")
        if "name" in given and given["name"] is not None:
            name = v.check_name(given["name"])
            if db.scalar(select(Race.id).where(Race.name == name, Race.id != race.id)) is not None:
                raise Conflict(f"a race named {name!r} exists already", "name")
            race.name = name
        if "track" in given and given["track"] is not None:
            race.track = console.tracks.check(given["track"])
        if "direction" in given and given["direction"] is not None:
            race.direction = v.check_direction(given["direction"])
        if "race_type" in given and given["race_type"] is not None:
            race.race_type = v.check_race_type(given["race_type"])
        if "off_track_penalty_s" in given and given["off_track_penalty_s"] is not None:
            race.off_track_penalty_s = v.check_penalty(given["off_track_penalty_s"])
        race.opens_at, race.closes_at = opens, closes
        race.ranking, race.minimum_laps, race.laps = merged["ranking"], merged["minimum_laps"], merged["laps"]
        race.resets, race.submissions_per_day = merged["resets"], merged["submissions_per_day"]
        race.private, race.race_time_s = merged["private"], merged["race_time_s"]
        db.commit()  # league.py sees the races row change: the cached leaderboard is dropped
        return race_out(race)

    @app.delete("/api/races/{race_id}", status_code=204, tags=["races"])
    def delete_race(race_id: int, db: DB) -> Response:
        """Delete a race (facilitators): its submissions' evaluation jobs are stopped, its
        submissions, attempts and leaderboard go with it (the models stay)."""
        race = get_race(db, race_id, None)
        evaluations = [e for e in db.scalars(select(RaceSubmission.evaluation_id).where(
            RaceSubmission.race_id == race.id)).all() if e is not None]
        console.runner.kill_evaluation_jobs(db, evaluations, f"race {race.name!r} deleted")
        # one statement, before the race's: deleting both through the session let its flush delete
        # the race first, the database's cascade took the submissions, and their DELETE matched none
        db.execute(delete(RaceSubmission).where(RaceSubmission.race_id == race.id))
        db.delete(race)
        db.commit()
        boards.drop(race_id)
        return Response(status_code=204)

    @app.get("/api/races/{race_id}/submissions", response_model=list[SubmissionOut], tags=["races"])
    def list_submissions(race_id: int, db: DB, invite: Annotated[str | None, Query()] = None,
                         mine: Annotated[bool, Query()] = False) -> list[SubmissionOut]:
        """A race's submissions, newest first: a racer's own; every racer's for facilitators and
        admins (`mine=true` narrows theirs to their own too)."""
        race = get_race(db, race_id, invite)
        who = auth.caller()
        q = select(RaceSubmission, Evaluation).outerjoin(
            Evaluation, Evaluation.id == RaceSubmission.evaluation_id).where(RaceSubmission.race_id == race.id)
        if who is None:
            raise NotFound(f"no race {race_id}", "id")
        if who.user_id is not None and (mine or not who.manages_races):
            q = q.where(RaceSubmission.user_id == who.user_id)
        out = []
        for sub, ev in db.execute(q.order_by(RaceSubmission.created_at.desc(), RaceSubmission.id.desc())).all():
            laps = scoring.laps_from_trials((ev.result or {}).get("trials", [])) if ev is not None else []
            out.append(SubmissionOut(
                id=sub.id, race_id=race.id, model_id=sub.model_id, evaluation_id=sub.evaluation_id,
                racer=sub.racer, status=ev.status if ev is not None else EvaluationStatus.FAILED,
                created_at=sub.created_at, score_ms=sub.score_ms,
                laps=[LapOut(time_ms=lap.time_ms, completed=lap.completed, off_track=lap.off_track, invalid=lap.invalid) for lap in laps],
                video_url=f"/api/races/{race.id}/submissions/{sub.id}/video"
                if ev is not None and ev.has_video else None))
        return out

    boards = LeaderboardCache()  # league.py: computed once per change, served as bytes
    console.leaderboards = boards

    @app.get("/api/races/{race_id}/leaderboard", response_model=LeaderboardOut, tags=["races"])
    async def read_leaderboard(race_id: int, request: Request,
                               invite: Annotated[str | None, Query()] = None) -> Response:
        """The leaderboard (public unless the race is private): each racer's best ranked run."""
        board = boards.get(race_id)
        if board is None:
            board = await asyncio.to_thread(cached_leaderboard, race_id)
        who = auth.caller()
        if board.private and not (who is not None and who.manages_races) and not (
                invite is not None and secrets.compare_digest(invite, board.invite_token)):
            raise NotFound(f"no race {race_id}", "id")
        if "gzip" in request.headers.get("accept-encoding", ""):
            return Response(board.gzipped, media_type="application/json",
                            headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
        return Response(board.body, media_type="application/json", headers={"Vary": "Accept-Encoding"})

    def cached_leaderboard(race_id: int) -> Board:
        started_in = league.generation()
        with console.sessions() as db:
            race = db.get(Race, race_id)
            if race is None:
                raise NotFound(f"no race {race_id}", "id")
            body = leaderboard_of(db, race).model_dump_json().encode()
            return boards.put(race.id, race.private, race.invite_token, body, started_in)

    def leaderboard_of(db: Session, race: Race) -> LeaderboardOut:
        """The leaderboard computed from the database (read_leaderboard serves it from the cache)."""
        if race.physical:  # the timekeeper's attempts (physical_api.py)
            from deepracer_console.physical_api import leaderboard_entries

            attempts, on_track = leaderboard_entries(db, race)
            return LeaderboardOut(race_id=race.id, ranking=Ranking(race.ranking), minimum_laps=race.minimum_laps,
                                  pending=on_track, entries=[
                PlaceOut(rank=p.rank, racer=p.entry.racer, score_ms=p.entry.score_ms, gap_ms=p.gap_ms,
                         submission_id=p.entry.submission_id, submitted_at=p.entry.submitted_at,
                         laps=[LapOut(time_ms=lap.time_ms, completed=lap.completed, off_track=lap.off_track, invalid=lap.invalid)
                               for lap in p.entry.laps]) for p in scoring.leaderboard(attempts)])
        rows = db.execute(select(RaceSubmission, Evaluation).outerjoin(
            Evaluation, Evaluation.id == RaceSubmission.evaluation_id).where(RaceSubmission.race_id == race.id)).all()
        entries, pending, changed = [], 0, False
        for sub, ev in rows:
            if ev is None or ev.status in (EvaluationStatus.QUEUED, EvaluationStatus.RUNNING):
                pending += ev is not None
                continue
            laps = scoring.laps_from_trials((ev.result or {}).get("trials", []))
            if sub.score_ms is None:
                sub.score_ms = scoring.score_ms(laps, Ranking(race.ranking), race.minimum_laps) \
                    if ev.status == EvaluationStatus.COMPLETED else scoring.INVALID_MS
                changed = True
            entries.append(scoring.Entry(sub.id, sub.racer, sub.score_ms, sub.created_at, laps))
        if changed:
            db.commit()
        videos = {sub.id: ev.id for sub, ev in rows if ev is not None and ev.has_video}
        places = [PlaceOut(rank=p.rank, racer=p.entry.racer, score_ms=p.entry.score_ms, gap_ms=p.gap_ms,
                           submission_id=p.entry.submission_id, submitted_at=p.entry.submitted_at,
                           laps=[LapOut(time_ms=lap.time_ms, completed=lap.completed, off_track=lap.off_track, invalid=lap.invalid)
                                 for lap in p.entry.laps],
                           video_url=f"/api/races/{race.id}/submissions/{p.entry.submission_id}/video"
                           if p.entry.submission_id in videos else None)
                  for p in scoring.leaderboard(entries)]
        return LeaderboardOut(race_id=race.id, ranking=Ranking(race.ranking), minimum_laps=race.minimum_laps,
                              entries=places, pending=pending)

    @app.get("/api/races/{race_id}/submissions/{submission_id}/video", response_class=FileResponse,
             tags=["races"])
    def submission_video(race_id: int, submission_id: int, db: DB,
                         invite: Annotated[str | None, Query()] = None) -> FileResponse:
        """The video of a leaderboard entry's run (as public as the leaderboard)."""
        race = get_race(db, race_id, invite)
        sub = db.get(RaceSubmission, submission_id)
        ev = db.get(Evaluation, sub.evaluation_id) if sub is not None and sub.evaluation_id else None
        if sub is None or sub.race_id != race.id or ev is None or not ev.has_video:
            raise NotFound("no video for this submission (yet)", "video")
        return FileResponse(console.storage.evaluation_dir(ev.model_id, ev.id) / "video.webm", media_type="video/webm")

    _ = User  # the users table must be known before races reference it

"""Quotas, as DeepRacer on AWS keeps them (shared/deepracer-facts.md §11), with global defaults that
an admin sets and per-user overrides.

- Kinds (`Kind`): training and evaluation minutes per calendar month (UTC), concurrent jobs,
  models, storage (MB of the user's models' folders: models, logs, videos). Every limit is -1
  (unlimited) or a number ≥ 0.
- One source for the defaults: `DEFAULT_LIMITS` (DROA's: every limit -1) until an admin saves
  global defaults (the `quota_defaults` row); a user's override (`user_quotas`, NULL = the
  global default) wins over them. DROA copies its new-user limits into a profile at sign-up;
  here a changed default applies at once to everyone without an override.
- Minutes are a ledger (`quota_usage`): every job reserves its minutes when it is queued (a
  training what is left of its max_minutes; an evaluation or race submission DROA's 20 minutes)
  and the reservation is finalised to min(reserved, minutes it really ran) when the job ends,
  as DROA does with SageMaker's time. Both happen in a flush listener on Job rows, so no path of
  the job runner (end, stop, delete, restart) can forget one. A record outlives its model: a
  deleted model does not give its minutes back. The month is the month the job was queued in.
- Storage is each model's `storage_bytes`, measured (one walk of its folder) when one of its
  jobs ends, at import and at start-up for models never measured; the sum over a user's models
  is one query. A user at or over the storage limit gets no new model, import, evaluation or
  submission until they delete something.
- Single-user mode and admins have no quota (their usage is still counted and shown).

A request over quota is refused with 429 and the usage in the message, naming the quota.
"""


import csv
import enum
import io
import math
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Float, ForeignKey, Integer, String, event, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from deepracer_console import auth
from deepracer_console.auth import Role, User
from deepracer_console.db import Base, Job, JobKind, JobState, Model, UTCDateTime, utcnow
from deepracer_console.errors import ConsoleError, FieldError, NotFound

UNLIMITED = -1
EVALUATION_MINUTES = 20  # what an evaluation or race submission reserves (DROA's evaluation time)
MIB = 1024 * 1024


class Kind(enum.StrEnum):
    TRAINING_MINUTES = "training_minutes_per_month"
    EVALUATION_MINUTES = "evaluation_minutes_per_month"
    CONCURRENT_JOBS = "concurrent_jobs"
    MODELS = "models"
    STORAGE_MB = "storage_mb"


KINDS = tuple(k.value for k in Kind)
DEFAULT_LIMITS: dict[str, int] = {k: UNLIMITED for k in KINDS}  # DROA: every quota -1 (unlimited) by default
LABELS = {Kind.TRAINING_MINUTES: "training minutes per month", Kind.EVALUATION_MINUTES: "evaluation minutes per month",
          Kind.CONCURRENT_JOBS: "concurrent jobs", Kind.MODELS: "models", Kind.STORAGE_MB: "storage MB"}
_MINUTES_OF_JOB: dict[str, str] = {JobKind.TRAIN: Kind.TRAINING_MINUTES, JobKind.EVALUATE: Kind.EVALUATION_MINUTES}


class UserQuota(Base):
    """A user's overrides: NULL = the global default."""

    __tablename__ = "user_quotas"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    training_minutes_per_month: Mapped[int | None] = mapped_column(Integer, nullable=True)
    evaluation_minutes_per_month: Mapped[int | None] = mapped_column(Integer, nullable=True)
    concurrent_jobs: Mapped[int | None] = mapped_column(Integer, nullable=True)
    models: Mapped[int | None] = mapped_column(Integer, nullable=True)
    storage_mb: Mapped[int | None] = mapped_column(Integer, nullable=True)


class QuotaDefaults(Base):
    """The global defaults an admin saved (one row, id 1); without it DEFAULT_LIMITS apply."""

    __tablename__ = "quota_defaults"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    training_minutes_per_month: Mapped[int] = mapped_column(Integer, default=UNLIMITED)
    evaluation_minutes_per_month: Mapped[int] = mapped_column(Integer, default=UNLIMITED)
    concurrent_jobs: Mapped[int] = mapped_column(Integer, default=UNLIMITED)
    models: Mapped[int] = mapped_column(Integer, default=UNLIMITED)
    storage_mb: Mapped[int] = mapped_column(Integer, default=UNLIMITED)


class UsageRecord(Base):
    """One job's minutes: reserved when queued, `used_minutes` set when it ended."""

    __tablename__ = "quota_usage"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"), nullable=True, index=True)
    model_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # no foreign key: outlives the model
    kind: Mapped[str] = mapped_column(String(32))  # Kind.TRAINING_MINUTES or Kind.EVALUATION_MINUTES
    reserved_minutes: Mapped[float] = mapped_column(Float)
    used_minutes: Mapped[float | None] = mapped_column(Float, nullable=True)  # None while the job is queued or runs
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

    job: Mapped[Job | None] = relationship(Job, foreign_keys=[job_id])


# -- the API's records ---------------------------------------------------------------------------

class LimitsIn(BaseModel):
    """Any of the kinds: -1 (unlimited) or a limit ≥ 0; for a user, null = back to the default."""

    model_config = ConfigDict(extra="forbid")
    training_minutes_per_month: int | None = None
    evaluation_minutes_per_month: int | None = None
    concurrent_jobs: int | None = None
    models: int | None = None
    storage_mb: int | None = None


QuotaIn = LimitsIn  # the name the per-user PUT had


class QuotaOut(BaseModel):
    user_id: int
    month: str  # YYYY-MM of the minutes
    limits: dict[str, int]  # in force: the override, else the default (-1: unlimited)
    overrides: dict[str, int | None]  # the user's own (None: the default applies)
    defaults: dict[str, int]
    usage: dict[str, float]  # minutes this month, jobs queued or running, models, MB


class DefaultsOut(BaseModel):
    limits: dict[str, int]
    builtin: dict[str, int]  # DEFAULT_LIMITS, what applies before an admin saves defaults


class UserUsage(BaseModel):
    user_id: int
    username: str
    role: Role
    paused: bool
    limits: dict[str, int]
    usage: dict[str, float]


class UsageOut(BaseModel):
    month: str
    defaults: dict[str, int]
    users: list[UserUsage]


# -- limits and usage ------------------------------------------------------------------------------

def month_bounds(month: str | None = None) -> tuple[datetime, datetime]:
    """[start, end) of a calendar month (UTC) given as YYYY-MM; None: this month."""
    if month is None:
        now = datetime.now(UTC)
        year, mon = now.year, now.month
    else:
        try:
            year, mon = (int(x) for x in month.split("-"))
            datetime(year, mon, 1)
        except ValueError:
            raise FieldError(f"month must be YYYY-MM, not {month!r}", "month") from None
    start = datetime(year, mon, 1, tzinfo=UTC)
    end = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=UTC)
    return start, end


def defaults_of(db: Session) -> dict[str, int]:
    row = db.get(QuotaDefaults, 1)
    return {k: getattr(row, k) for k in KINDS} if row is not None else dict(DEFAULT_LIMITS)


def overrides_of(db: Session, user_id: int) -> dict[str, int | None]:
    row = db.get(UserQuota, user_id)
    return {k: (getattr(row, k) if row is not None else None) for k in KINDS}


def limits_of(db: Session, user_id: int, defaults: dict[str, int] | None = None) -> dict[str, int]:
    base = defaults if defaults is not None else defaults_of(db)
    return {k: (v if v is not None else base[k]) for k, v in overrides_of(db, user_id).items()}


def usage_by_user(db: Session, user_ids: list[int] | None = None, month: str | None = None) -> dict[int, dict[str, float]]:
    """Usage per user (grouped queries: one per kind, whatever the number of users)."""
    start, end = month_bounds(month)
    out: dict[int, dict[str, float]] = {}

    def where(query: Any, column: Any) -> Any:
        return query.where(column.in_(user_ids)) if user_ids is not None else query.where(column.is_not(None))

    def row(uid: int) -> dict[str, float]:
        return out.setdefault(uid, {k: 0.0 for k in KINDS})

    minutes = func.sum(func.coalesce(UsageRecord.used_minutes, UsageRecord.reserved_minutes))
    for uid, kind, total in db.execute(where(select(UsageRecord.user_id, UsageRecord.kind, minutes), UsageRecord.user_id)
                                       .where(UsageRecord.created_at >= start, UsageRecord.created_at < end)
                                       .group_by(UsageRecord.user_id, UsageRecord.kind)).all():
        row(uid)[kind] = round(float(total or 0.0), 1)
    for uid, jobs in db.execute(where(select(Model.owner_key, func.count(Job.id)), Model.owner_key)
                                .join(Job, Job.model_id == Model.id)
                                .where(Job.state.in_([JobState.QUEUED, JobState.RUNNING]))
                                .group_by(Model.owner_key)).all():
        row(uid)[Kind.CONCURRENT_JOBS] = float(jobs)
    for uid, models, size in db.execute(where(select(Model.owner_key, func.count(Model.id),
                                                     func.coalesce(func.sum(Model.storage_bytes), 0)), Model.owner_key)
                                        .group_by(Model.owner_key)).all():
        row(uid)[Kind.MODELS] = float(models)
        row(uid)[Kind.STORAGE_MB] = math.ceil(int(size or 0) / MIB * 10) / 10  # up to the next 0.1 MB
    for uid in user_ids or []:
        row(uid)
    out.pop(0, None)  # owner_key 0: models of single-user mode, nobody's account
    return out


def usage_of(db: Session, user_id: int, month: str | None = None) -> dict[str, float]:
    return usage_by_user(db, [user_id], month)[user_id]


def _show(value: float | int) -> str:
    return "unlimited" if value == UNLIMITED else f"{value:g}"


def _summary(limits: dict[str, int], usage: dict[str, float]) -> str:
    return ", ".join(f"{LABELS[Kind(k)]} {usage[k]:g}/{_show(limits[k])}" for k in KINDS)


def _check(db: Session, wants: dict[str, float], field: str) -> None:
    who = auth.caller()
    if who is None or who.user_id is None or who.role == Role.ADMIN:
        return
    limits, usage = limits_of(db, who.user_id), usage_of(db, who.user_id)
    storage = limits[Kind.STORAGE_MB]
    if storage != UNLIMITED and usage[Kind.STORAGE_MB] >= storage:
        raise ConsoleError(f"over your quota: {LABELS[Kind.STORAGE_MB]} {usage[Kind.STORAGE_MB]:g} used ≥ {storage} "
                           f"allowed; delete models you no longer need (usage: {_summary(limits, usage)})", field, 429)
    for kind, more in wants.items():
        if limits[kind] != UNLIMITED and usage[kind] + more > limits[kind]:
            raise ConsoleError(f"over your quota: {LABELS[Kind(kind)]} {usage[kind]:g} used + {more:g} asked "
                               f"> {limits[kind]} allowed (usage: {_summary(limits, usage)})", field, 429)


def check_training(db: Session, max_minutes: int) -> None:
    """Before a new model's training is queued: one more model, one more job, its minutes, room."""
    _check(db, {Kind.MODELS: 1, Kind.CONCURRENT_JOBS: 1, Kind.TRAINING_MINUTES: max_minutes}, "max_minutes")


def check_import(db: Session) -> None:
    _check(db, {Kind.MODELS: 1}, "file")


def check_evaluation(db: Session) -> None:
    _check(db, {Kind.CONCURRENT_JOBS: 1, Kind.EVALUATION_MINUTES: EVALUATION_MINUTES}, "model_id")


# -- the ledger: reserve when a job is queued, finalise when it ends -------------------------------

def reserved_minutes(job: Job, model: Model | None) -> float:
    if job.kind != JobKind.TRAIN:
        return float(EVALUATION_MINUTES)
    if model is None:
        return 0.0
    done = (model.trained_seconds or 0.0) / 60.0 if job.resume else 0.0
    return max(0.0, float(model.max_minutes or 0) - done)


def minutes_run(job: Job, now: datetime | None = None) -> float:
    """From the job's start to its log's last write (a job killed with its console stops writing
    then, however late the console comes back), else to now."""
    if job.started_at is None:
        return 0.0
    end = now or utcnow()
    try:
        written = datetime.fromtimestamp(os.stat(job.log_path).st_mtime, UTC)
    except (OSError, TypeError, ValueError):
        written = None
    if written is not None and job.started_at <= written < end:
        end = written
    return max(0.0, (end - job.started_at).total_seconds() / 60.0)


TERMINAL = (JobState.FINISHED, JobState.FAILED)


def _on_flush(session: Session, _context: Any, _instances: Any) -> None:
    new_jobs = [o for o in session.new if isinstance(o, Job)]
    ended = [o for o in session.dirty if isinstance(o, Job) and o.state in TERMINAL and o.id is not None]
    if not new_jobs and not ended:
        return
    storage = session.info.get("storage")
    with session.no_autoflush:
        for job in new_jobs:
            model = session.get(Model, job.model_id) if job.model_id is not None else None
            kind = _MINUTES_OF_JOB.get(job.kind)  # a kind of job that costs no minutes: no record
            if kind is None:
                continue
            record = UsageRecord(user_id=(model.owner_key or None) if model is not None else None,
                                 model_id=job.model_id, kind=kind, reserved_minutes=reserved_minutes(job, model))
            record.job = job  # the job's id is set by this flush
            session.add(record)
        for job in ended:
            record = session.scalar(select(UsageRecord).where(UsageRecord.job_id == job.id))
            if record is not None and record.used_minutes is None:
                record.used_minutes = round(min(record.reserved_minutes, minutes_run(job)), 3)
            model = session.get(Model, job.model_id) if job.model_id is not None else None
            if model is not None and storage is not None:
                model.storage_bytes = storage.folder_bytes(model.id)


event.listen(Session, "before_flush", _on_flush)


def measure_unmeasured(sessions: Any, storage: Any) -> int:
    """Models never measured (storage_bytes 0, e.g. from before migration 0006): measured once."""
    with sessions.begin() as db:
        rows = db.scalars(select(Model).where(Model.storage_bytes == 0)).all()
        for model in rows:
            model.storage_bytes = storage.folder_bytes(model.id)
    return len(rows)


# -- the routes ------------------------------------------------------------------------------------

def _checked(body: LimitsIn, allow_null: bool) -> dict[str, int | None]:
    values: dict[str, int | None] = {}
    for kind in body.model_fields_set:
        value = getattr(body, kind)
        if value is None and not allow_null:
            raise FieldError(f"{kind} must be -1 (unlimited) or a limit ≥ 0", kind)
        if value is not None and value < UNLIMITED:
            raise FieldError(f"{kind} must be -1 (unlimited) or a limit ≥ 0"
                             + (", or null for the default" if allow_null else ""), kind)
        values[kind] = value
    return values


CSV_COLUMNS = ["username", "user_id", "role", "paused", "month",
               *[c for k in KINDS for c in (f"{k}_used" if k != Kind.CONCURRENT_JOBS else "concurrent_jobs_now",
                                            f"{k}_limit")]]


def usage_table(db: Session, month: str | None) -> UsageOut:
    start, _ = month_bounds(month)
    defaults = defaults_of(db)
    users = db.scalars(select(User).order_by(User.username)).all()
    overrides = {row.user_id: row for row in db.scalars(select(UserQuota)).all()}
    usage = usage_by_user(db, [u.id for u in users], month)
    out = []
    for u in users:
        row = overrides.get(u.id)
        limits = {k: (getattr(row, k) if row is not None and getattr(row, k) is not None else defaults[k])
                  for k in KINDS}
        out.append(UserUsage(user_id=u.id, username=u.username, role=Role(u.role), paused=u.paused, limits=limits,
                             usage=usage[u.id]))
    return UsageOut(month=f"{start:%Y-%m}", defaults=defaults, users=out)


def usage_csv(table: UsageOut) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180, as spreadsheets expect
    writer.writerow(CSV_COLUMNS)
    for u in table.users:
        cells: list[Any] = [u.username, u.user_id, u.role.value, str(u.paused).lower(), table.month]
        for k in KINDS:
            cells += [f"{u.usage[k]:g}", "unlimited" if u.limits[k] == UNLIMITED else u.limits[k]]
        writer.writerow(cells)
    return buffer.getvalue()


def install(app: FastAPI, console: Any) -> None:
    console.sessions.configure(info={"storage": console.storage})  # the flush listener measures folders
    measure_unmeasured(console.sessions, console.storage)

    def db() -> Iterator[Session]:
        with console.sessions() as session:
            yield session

    DB = Annotated[Session, Depends(db)]
    Month = Annotated[str | None, Query(description="YYYY-MM (UTC) for the minutes; default this month",
                                        pattern=r"^\d{4}-\d{2}$")]

    def out(db: Session, user_id: int, month: str | None = None) -> QuotaOut:
        if db.get(User, user_id) is None:
            raise NotFound(f"no user {user_id}", "id")
        defaults = defaults_of(db)
        start, _ = month_bounds(month)
        return QuotaOut(user_id=user_id, month=f"{start:%Y-%m}", limits=limits_of(db, user_id, defaults),
                        overrides=overrides_of(db, user_id), defaults=defaults, usage=usage_of(db, user_id, month))

    @app.get("/api/users/{user_id}/quota", response_model=QuotaOut, tags=["accounts"])
    def read_quota(user_id: int, db: DB, month: Month = None) -> QuotaOut:
        """A user's limits (-1: unlimited) and usage (admins: anyone's; a user: their own)."""
        who = auth.caller()
        if who is not None and who.user_id is not None and not who.is_admin and who.user_id != user_id:
            raise NotFound(f"no user {user_id}", "id")
        return out(db, user_id, month)

    @app.put("/api/users/{user_id}/quota", response_model=QuotaOut, tags=["accounts"])
    def write_quota(user_id: int, body: LimitsIn, db: DB) -> QuotaOut:
        """A user's overrides (admins): any of the kinds; null puts a kind back to the global default."""
        if db.get(User, user_id) is None:
            raise NotFound(f"no user {user_id}", "id")
        values = _checked(body, allow_null=True)
        row = db.get(UserQuota, user_id) or UserQuota(user_id=user_id)
        for kind, value in values.items():
            setattr(row, kind, value)
        db.add(row)
        db.commit()
        return out(db, user_id)

    @app.get("/api/quotas/defaults", response_model=DefaultsOut, tags=["accounts"])
    def read_defaults(db: DB) -> DefaultsOut:
        """The global default limits (admins); a user's override wins over them."""
        return DefaultsOut(limits=defaults_of(db), builtin=dict(DEFAULT_LIMITS))

    @app.put("/api/quotas/defaults", response_model=DefaultsOut, tags=["accounts"])
    def write_defaults(body: LimitsIn, db: DB) -> DefaultsOut:
        """Change the global defaults (admins): any of the kinds, -1 or a limit ≥ 0."""
        values = _checked(body, allow_null=False)
        row = db.get(QuotaDefaults, 1) or QuotaDefaults(id=1, **DEFAULT_LIMITS)
        for kind, value in values.items():
            setattr(row, kind, value)
        db.add(row)
        db.commit()
        return DefaultsOut(limits=defaults_of(db), builtin=dict(DEFAULT_LIMITS))

    @app.get("/api/quotas/usage", response_model=UsageOut, tags=["accounts"])
    def read_usage(db: DB, month: Month = None) -> UsageOut:
        """Every user's limits and usage (admins): minutes of the month, jobs now, models, storage."""
        return usage_table(db, month)

    @app.get("/api/quotas/usage.csv", tags=["accounts"], response_class=Response,
             responses={200: {"content": {"text/csv": {}}}})
    def read_usage_csv(db: DB, month: Month = None) -> Response:
        """The usage table as CSV (admins), one row per user, a header row first."""
        table = usage_table(db, month)
        return Response(usage_csv(table), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="deepracer-usage-{table.month}.csv"'})

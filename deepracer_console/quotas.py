"""Per-user quotas, as DeepRacer on AWS keeps them (shared/deepracer-facts.md §11): limits per
account with -1 = unlimited (DROA's default for every limit), minutes reserved when a job is
queued (a training's max_minutes; an evaluation's 20 minutes) and counted per calendar month
(UTC), concurrent jobs and models counted as they are. A job over quota is refused with 429 and
the usage in the message. Single-user mode and admins have no quota.

Not done yet: global defaults other than unlimited, storage, finalising a reservation to the
minutes actually used, usage export as CSV.
"""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from pydantic import BaseModel, ConfigDict
from sqlalchemy import ForeignKey, Integer, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from deepracer_console import auth
from deepracer_console.auth import ModelOwner, Role, User
from deepracer_console.db import Base, Evaluation, Job, JobState, Model
from deepracer_console.errors import ConsoleError, FieldError, NotFound

UNLIMITED = -1
EVALUATION_MINUTES = 20  # what an evaluation reserves (DeepRacer on AWS's evaluation time)
KINDS = ("training_minutes_per_month", "evaluation_minutes_per_month", "concurrent_jobs", "models")


class UserQuota(Base):
    __tablename__ = "user_quotas"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    training_minutes_per_month: Mapped[int] = mapped_column(Integer, default=UNLIMITED)
    evaluation_minutes_per_month: Mapped[int] = mapped_column(Integer, default=UNLIMITED)
    concurrent_jobs: Mapped[int] = mapped_column(Integer, default=UNLIMITED)
    models: Mapped[int] = mapped_column(Integer, default=UNLIMITED)


class QuotaIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    training_minutes_per_month: int | None = None
    evaluation_minutes_per_month: int | None = None
    concurrent_jobs: int | None = None
    models: int | None = None


class QuotaOut(BaseModel):
    user_id: int
    limits: dict[str, int]  # -1: unlimited
    usage: dict[str, int]


def _month_start() -> datetime:
    now = datetime.now(UTC)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def limits_of(db: Session, user_id: int) -> dict[str, int]:
    row = db.get(UserQuota, user_id)
    return {k: (getattr(row, k) if row is not None else UNLIMITED) for k in KINDS}


def usage_of(db: Session, user_id: int) -> dict[str, int]:
    owned = select(ModelOwner.model_id).where(ModelOwner.user_id == user_id)
    since = _month_start()
    training = db.scalar(select(func.coalesce(func.sum(Model.max_minutes), 0)).where(
        Model.id.in_(owned), Model.created_at >= since, Model.source != "imported")) or 0
    evaluations = db.scalar(select(func.count(Evaluation.id)).where(
        Evaluation.model_id.in_(owned), Evaluation.created_at >= since)) or 0
    jobs = db.scalar(select(func.count(Job.id)).where(
        Job.model_id.in_(owned), Job.state.in_([JobState.QUEUED, JobState.RUNNING]))) or 0
    models = db.scalar(select(func.count()).select_from(owned.subquery())) or 0
    return {"training_minutes_per_month": int(training), "evaluation_minutes_per_month": int(evaluations) * EVALUATION_MINUTES,
            "concurrent_jobs": int(jobs), "models": int(models)}


def _check(db: Session, wants: dict[str, int], field: str) -> None:
    who = auth.caller()
    if who is None or who.user_id is None or who.role == Role.ADMIN:
        return
    limits, usage = limits_of(db, who.user_id), usage_of(db, who.user_id)
    for kind, more in wants.items():
        if limits[kind] != UNLIMITED and usage[kind] + more > limits[kind]:
            raise ConsoleError(f"over your quota: {kind.replace('_', ' ')} {usage[kind]} used + {more} asked "
                               f"> {limits[kind]} allowed (usage: "
                               + ", ".join(f"{k.replace('_', ' ')} {usage[k]}/{_show(limits[k])}" for k in KINDS)
                               + ")", field, 429)


def _show(limit: int) -> str:
    return "unlimited" if limit == UNLIMITED else str(limit)


def check_training(db: Session, max_minutes: int) -> None:
    """Before a new model's training is queued: one more model, one more job, its minutes."""
    _check(db, {"models": 1, "concurrent_jobs": 1, "training_minutes_per_month": max_minutes}, "max_minutes")


def check_import(db: Session) -> None:
    _check(db, {"models": 1}, "file")


def check_evaluation(db: Session) -> None:
    _check(db, {"concurrent_jobs": 1, "evaluation_minutes_per_month": EVALUATION_MINUTES}, "model_id")


def install(app: FastAPI, console: Any) -> None:
    def db() -> Iterator[Session]:
        with console.sessions() as session:
            yield session

    DB = Annotated[Session, Depends(db)]

    def out(db: Session, user_id: int) -> QuotaOut:
        if db.get(User, user_id) is None:
            raise NotFound(f"no user {user_id}", "id")
        return QuotaOut(user_id=user_id, limits=limits_of(db, user_id), usage=usage_of(db, user_id))

    @app.get("/api/users/{user_id}/quota", response_model=QuotaOut, tags=["accounts"])
    def read_quota(user_id: int, db: DB) -> QuotaOut:
        """A user's limits (-1: unlimited) and usage this month (admins: anyone; a user: their own)."""
        who = auth.caller()
        if who is not None and who.user_id is not None and not who.is_admin and who.user_id != user_id:
            raise NotFound(f"no user {user_id}", "id")
        return out(db, user_id)

    @app.put("/api/users/{user_id}/quota", response_model=QuotaOut, tags=["accounts"])
    def write_quota(user_id: int, body: QuotaIn, db: DB) -> QuotaOut:
        if db.get(User, user_id) is None:
            raise NotFound(f"no user {user_id}", "id")
        row = db.get(UserQuota, user_id) or UserQuota(user_id=user_id)
        for kind in KINDS:
            value = getattr(body, kind)
            if value is None:
                continue
            if value < UNLIMITED:
                raise FieldError(f"{kind} must be -1 (unlimited) or a limit ≥ 0", kind)
            setattr(row, kind, value)
        db.add(row)
        db.commit()
        return out(db, user_id)

"""Storage: SQLAlchemy 2 ORM models and the Alembic migrations that create them.

The code is database-agnostic (SQLite embedded by default; the next issue adds PostgreSQL by
URL): enums are stored as strings, JSON columns use SQLAlchemy's generic JSON type, times are
timezone-aware UTC. `open_database` migrates to the newest schema before anything else runs.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, sessionmaker

from deepracer.sim.race import EVALUATION_OFF_TRACK_PENALTY_S, EVALUATION_TRIALS

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class ModelStatus(enum.StrEnum):
    QUEUED = "queued"
    INITIALISING = "initialising"
    TRAINING = "training"
    STOPPING = "stopping"
    READY = "ready"
    FAILED = "failed"


class EvaluationStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class JobKind(enum.StrEnum):
    TRAIN = "train"
    EVALUATE = "evaluate"


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone; put UTC back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if isinstance(value, datetime) and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    pass


class Model(Base):
    __tablename__ = "models"

    # a name is unique per owner (two racers may both have `my-model`); files live under the id
    __table_args__ = (UniqueConstraint("owner_key", "name", name="uq_models_owner_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    owner_key: Mapped[int] = mapped_column(Integer, default=0)  # the owner's user id; 0: no account (single user)
    storage_bytes: Mapped[int] = mapped_column(BigInteger, default=0)  # its folder, measured when a job ends
    description: Mapped[str] = mapped_column(String(255), default="")
    track: Mapped[str] = mapped_column(String(128))
    direction: Mapped[str] = mapped_column(String(32), default="counterclockwise")
    race_type: Mapped[str] = mapped_column(String(32), default="time_trial")
    algorithm: Mapped[str] = mapped_column(String(16), default="ppo")
    network: Mapped[str] = mapped_column(String(32), default="small")
    action_space_type: Mapped[str] = mapped_column(String(16))
    action_space: Mapped[Any] = mapped_column(JSON)
    hyperparameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    reward_function: Mapped[str] = mapped_column(Text)
    max_minutes: Mapped[int] = mapped_column(Integer, default=10)
    max_steps: Mapped[int | None] = mapped_column(Integer, nullable=True)
    clone_of: Mapped[int | None] = mapped_column(ForeignKey("models.id", ondelete="SET NULL"), nullable=True)
    source: Mapped[str] = mapped_column(String(16), default="created")  # created | cloned | imported
    status: Mapped[str] = mapped_column(String(16), default=ModelStatus.QUEUED, index=True)
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    trained_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    best_progress: Mapped[float | None] = mapped_column(Float, nullable=True)
    best_lap_time_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    evaluations: Mapped[list[Evaluation]] = relationship(back_populates="model", cascade="all, delete-orphan",
                                                         passive_deletes=True)


class Evaluation(Base):
    __tablename__ = "evaluations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    track: Mapped[str] = mapped_column(String(128))
    direction: Mapped[str] = mapped_column(String(32), default="counterclockwise")
    race_type: Mapped[str] = mapped_column(String(32), default="time_trial")
    trials: Mapped[int] = mapped_column(Integer, default=EVALUATION_TRIALS)
    off_track_penalty_s: Mapped[float] = mapped_column(Float, default=EVALUATION_OFF_TRACK_PENALTY_S)
    status: Mapped[str] = mapped_column(String(16), default=EvaluationStatus.QUEUED, index=True)
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # deepracer evaluate --json
    has_video: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    model: Mapped[Model] = relationship(back_populates="evaluations")


class Job(Base):
    """One `deepracer train` / `deepracer evaluate` process (a training resumed is a new job)."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    model_id: Mapped[int | None] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True,
                                                 nullable=True)
    evaluation_id: Mapped[int | None] = mapped_column(ForeignKey("evaluations.id", ondelete="CASCADE"),
                                                      nullable=True)
    state: Mapped[str] = mapped_column(String(16), default=JobState.QUEUED, index=True)
    resume: Mapped[bool] = mapped_column(Boolean, default=False)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    log_path: Mapped[str] = mapped_column(Text)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    stop_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the job runner's writes
        # writers wait for each other rather than fail: with 5 s, 5 of 100 racers submitting at once
        # got a 500 on a machine at load 20 (deepracer bench league); 30 s, none
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()


def migrate(url: str) -> None:
    """`alembic upgrade head` on `url`, with the migrations shipped in this package."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(cfg, "head")


def open_database(url: str) -> sessionmaker:
    """Migrate, then a session factory bound to `url`."""
    migrate(url)
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        _sqlite_pragmas(engine)
    return sessionmaker(engine, expire_on_commit=False)

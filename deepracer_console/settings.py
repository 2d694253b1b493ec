"""The console's settings: one source for every default (CLI flags map onto these)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_UPLOAD_LIMIT_BYTES = 200 * 1024**2
DEFAULT_STOP_TIMEOUT_S = 60.0  # a clean stop saves a checkpoint and exports the model; then SIGKILL
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "deepracer" / "console"


def default_max_jobs() -> int:
    return max(1, (os.cpu_count() or 1) // 2)


@dataclass
class Settings:
    data_dir: Path = field(default_factory=default_data_dir)
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    database_url: str | None = None  # default: sqlite:///DATA/console.db
    max_jobs: int = field(default_factory=default_max_jobs)
    upload_limit_bytes: int = DEFAULT_UPLOAD_LIMIT_BYTES
    stop_timeout_s: float = DEFAULT_STOP_TIMEOUT_S
    reward_timeout_s: float | None = None  # per reward call in training (None: deepracer train's default)
    envs_per_job: int = 1  # environments per training process (the job runner spreads the cores over jobs)
    poll_interval_s: float = 0.25  # how often the job runner looks at its processes and the queue
    web_dist: Path | None = None  # default: deepracer_console/web/dist
    # -- the event server (docs/event-server.md) --
    sandbox: str = "auto"  # auto: bwrap when it works | bwrap: required | none: unsandboxed (--unsafe-single-user)
    job_memory_mb: int | None = None  # per job process (None: sandbox.DEFAULT_MEMORY_MB)
    job_wall_limit_s: float | None = None  # None: each job's own budget + a margin (sandbox.wall_limit_s)
    unsafe_single_user: bool = False  # no accounts, no sandbox, loopback only
    # -- scale-out (docs/event-server.md, Ray) --
    ray_address: str | None = None  # --ray: jobs run as tasks on this Ray cluster (None: the embedded runner)
    shared_storage: Path | None = None  # --shared-storage: models/ and tracks/ here, on storage every node mounts
    job_cpus: float | None = None  # CPU share per job: cgroup cpu limit, Ray's num_cpus (None: by job, jobs.cpu_share)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).expanduser().resolve()
        if self.shared_storage is not None:
            self.shared_storage = Path(self.shared_storage).expanduser().resolve()

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'console.db'}"

    @property
    def files_dir(self) -> Path:
        """Where the jobs' files live: the shared storage (Ray), else the data folder."""
        return self.shared_storage or self.data_dir

    @property
    def models_dir(self) -> Path:
        return self.files_dir / "models"

    @property
    def tracks_dir(self) -> Path:
        return self.files_dir / "tracks"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def dist_dir(self) -> Path:
        return self.web_dist or Path(__file__).resolve().parent / "web" / "dist"

    def make_dirs(self) -> None:
        for folder in (self.data_dir, self.models_dir, self.tracks_dir, self.uploads_dir):
            folder.mkdir(parents=True, exist_ok=True)

"""Console fixtures: an app on a temporary data folder (TestClient) and a real `deepracer console`
process on a free 127.0.0.1 port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from deepracer_console.app import create_app
from deepracer_console.settings import Settings

REPO = Path(__file__).resolve().parents[2]
BUNDLED_MODEL = REPO / "models" / "deepracer-default.tar.gz"


CONSOLE_TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """An SQLAlchemy warning in a console test fails it: each one found so far was a real fault
    (a flush that deleted rows in the wrong order, so a DELETE matched none)."""
    for item in items:
        if CONSOLE_TESTS in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.filterwarnings("error::sqlalchemy.exc.SAWarning"))


@pytest.fixture
def database_at(tmp_path: Path) -> Callable[[str], tuple[str, Any]]:
    """make(revision) -> (url, engine): a new SQLite database migrated to that revision only, for a
    test to fill as an older console left it before `open_database` upgrades it to head."""
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    from deepracer_console.db import MIGRATIONS_DIR

    def make(revision: str) -> tuple[str, Any]:
        url = f"sqlite:///{tmp_path / f'at-{revision}.db'}"
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.set_main_option("sqlalchemy.url", url)
        command.upgrade(cfg, revision)
        return url, sa.create_engine(url)

    return make


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", max_jobs=1, web_dist=tmp_path / "dist")


@pytest.fixture
def client(settings: Settings) -> Iterator:
    """The API without the job runner: requests are checked and stored, no process starts."""
    from fastapi.testclient import TestClient

    with TestClient(create_app(settings, start_jobs=False)) as c:
        yield c


class ConsoleProcess:
    def __init__(self, data: Path, extra: list[str] | None = None) -> None:
        self.data = data
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data.parent / f"console-{self.port}.log"
        self.extra = extra or []
        self.proc: subprocess.Popen | None = None

    def start(self) -> ConsoleProcess:
        self.data.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, DEEPRACER_TRACKS_DIR=str(self.data / "tracks"))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "deepracer.cli", "console", "--data", str(self.data), "--port", str(self.port),
             "--max-jobs", "1", "--stop-timeout", "60", *self.extra],
            stdout=self.log.open("ab"), stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the console exited: {self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/api/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"the console did not answer within 60 s: {self.log.read_text()}")

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # as Ctrl-C: the runner stops its jobs cleanly
            try:
                self.proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60)


@pytest.fixture
def console_process(tmp_path: Path) -> Iterator[ConsoleProcess]:
    proc = ConsoleProcess(tmp_path / "data")
    yield proc
    if proc.proc is not None:
        proc.stop()


def wait_for(check, timeout: float, what: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")

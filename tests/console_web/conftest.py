"""Browser tests of the console's pages: the real `deepracer console` on a free 127.0.0.1 port
with a temporary data folder, driven by Playwright through Debian's chromium.

Skipped with the reason when chromium, Playwright or the built pages (make console-web) are
missing; under CI=1 those are install failures and the tests FAIL instead.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from browser import launch_chromium, require_chromium

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page

REPO = Path(__file__).resolve().parents[2]
DIST_INDEX = REPO / "deepracer_console" / "web" / "dist" / "index.html"
START_TIMEOUT_S = 90.0


def missing(reason: str) -> None:
    """Skip with the reason, or fail under CI (a missing tool there is a broken install)."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI=1: the Makefile/.ci/run must provide it)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def deepracer_command() -> list[str]:
    exe = Path(sys.executable).with_name("deepracer")
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "deepracer.cli"]


@dataclass
class Console:
    url: str
    data: Path
    log: Path
    process: subprocess.Popen

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def _wait_healthy(console: Console) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if console.process.poll() is not None:
            pytest.fail(f"deepracer console exited with {console.process.returncode}:\n{console.log_tail()}")
        try:
            with urllib.request.urlopen(f"{console.url}/api/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    pytest.fail(f"deepracer console did not answer /api/health within {START_TIMEOUT_S:.0f} s:\n{console.log_tail()}")


@pytest.fixture(scope="session")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    if not DIST_INDEX.is_file():
        missing(f"{DIST_INDEX} is missing: build the pages with `make console-web`")
    data = tmp_path_factory.mktemp("console-data")
    port = free_port()
    log = data.parent / f"console-{port}.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*deepracer_command(), "console", "--data", str(data), "--host", "127.0.0.1", "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
    server = Console(url=f"http://127.0.0.1:{port}", data=data, log=log, process=process)
    try:
        _wait_healthy(server)
        yield server
    finally:
        keep = os.environ.get("CONSOLE_SCREENSHOTS")
        if keep:  # the server's log beside the screenshots, for a failed run
            Path(keep).mkdir(parents=True, exist_ok=True)
            (Path(keep) / "console-server.log").write_text(server.log_tail(200_000))
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # its own session: the server and its jobs
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


# Module scope, not session: Playwright's sync API runs an event loop while it is open, and the
# other browser tests (the car's page, the analysis report) start their own sync_playwright().
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = launch_chromium(p, ["--disable-quic"])
        yield launched
        launched.close()


@dataclass
class ConsoleErrors:
    """Errors the browser reported; a test fails on any it did not announce as expected."""

    errors: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        """Expect failed requests to URLs matching `pattern` (e.g. a refused upload's 4xx)."""
        self.allowed.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]


@pytest.fixture
def page(browser: Browser, console: Console, tmp_path: Path) -> Iterator[Page]:
    context = browser.new_context(base_url=console.url, viewport={"width": 1400, "height": 1000},
                                  accept_downloads=True)
    context.set_default_timeout(20_000)
    pg = context.new_page()
    errors = ConsoleErrors()

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error":
            url = (msg.location or {}).get("url", "")
            errors.errors.append(f"{msg.text} [{url}]")

    pg.on("console", on_console)
    pg.on("pageerror", lambda exc: errors.errors.append(f"page error: {exc}"))
    pg.console_errors = errors  # the test announces expected failures here
    yield pg
    context.close()
    unexpected = errors.unexpected()
    assert not unexpected, "the browser reported errors:\n" + "\n".join(unexpected)

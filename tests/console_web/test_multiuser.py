"""The event server in a real browser: a real `deepracer console` on a free 127.0.0.1 port with
accounts (the first admin made with `deepracer console admin create`, the others through the
API), jobs in the bubblewrap sandbox, driven by Playwright through Debian's chromium.

- a racer is sent to the login page and back, logs in, trains a tiny model through the wizard,
  submits to a race and sees their place on the leaderboard and the big screen;
- a racer cannot open another racer's model page (a "no model" message, none of its data);
- an admin creates a user, changes a role, pauses and resets a password on the users page;
- a facilitator creates a race with the form and sees its invite link.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from browser import launch_chromium, require_chromium

from deepracer.paths import bundled_model
from tests.console_web.conftest import (
    DIST_INDEX,
    ConsoleErrors,
    deepracer_command,
    free_port,
    missing,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page

# a tiny training and two race evaluations on a shared 2-core machine
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

START_TIMEOUT_S = 90.0
JOB_TIMEOUT_MS = 300_000
PASSWORD = "correct-horse-battery"
ADMIN = "boss"


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


class Api:
    """One account's session against the console's JSON API (cookie + X-CSRF-Token)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.csrf: str | None = None

    def call(self, method: str, path: str, body: Any = None, expect: int | None = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.csrf and method != "GET":
            headers["X-CSRF-Token"] = self.csrf
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with self.opener.open(request, timeout=60) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        try:
            out = json.loads(raw) if raw else None
        except ValueError:
            out = raw.decode(errors="replace")
        if expect is not None:
            assert status == expect, f"{method} {path}: {status} {out}"
        return status, out

    def login(self, username: str, password: str = PASSWORD) -> Api:
        _, out = self.call("POST", "/api/auth/login", {"username": username, "password": password}, expect=200)
        self.csrf = out["csrf_token"]
        return self

    def upload(self, path: str, file: Path) -> Any:
        """multipart/form-data with one `file` field (the import endpoint)."""
        boundary = "----deepracer-test-boundary"
        payload = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file.name}\"\r\n"
                   "Content-Type: application/gzip\r\n\r\n").encode() + file.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}", "Accept": "application/json"}
        if self.csrf:
            headers["X-CSRF-Token"] = self.csrf
        request = urllib.request.Request(self.url + path, data=payload, headers=headers, method="POST")
        with self.opener.open(request, timeout=120) as response:
            return json.loads(response.read())


@dataclass
class EventConsole:
    url: str
    data: Path
    log: Path
    process: subprocess.Popen
    users: dict[str, int] = field(default_factory=dict)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def api(self, username: str | None = None) -> Api:
        client = Api(self.url)
        return client.login(username) if username else client


def _wait_healthy(server: EventConsole) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"deepracer console exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(f"{server.url}/api/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    pytest.fail(f"deepracer console did not answer /api/health within {START_TIMEOUT_S:.0f} s:\n{server.log_tail()}")


@pytest.fixture(scope="module")
def event(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EventConsole]:
    """A console with accounts: admin `boss` (CLI), facilitator `fac`, racers `alice` and `bob`."""
    if not DIST_INDEX.is_file():
        missing(f"{DIST_INDEX} is missing: build the pages with `make console-web`")
    if shutil.which("bwrap") is None:
        missing("bubblewrap (bwrap) is not installed: the console needs its sandbox for accounts (apt-get install bubblewrap)")
    data = tmp_path_factory.mktemp("event-data")
    subprocess.run([*deepracer_command(), "console", "admin", "create", ADMIN, "--data", str(data),
                    "--password", PASSWORD], check=True, capture_output=True, timeout=120)
    port = free_port()
    log = data.parent / f"event-console-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*deepracer_command(), "console", "--data", str(data), "--host", "127.0.0.1", "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True,
        )
    server = EventConsole(url=f"http://127.0.0.1:{port}", data=data, log=log, process=process)
    try:
        _wait_healthy(server)
        admin = server.api(ADMIN)
        for name, role in (("fac", "race_facilitator"), ("alice", "racer"), ("bob", "racer")):
            _, user = admin.call("POST", "/api/users", {"username": name, "password": PASSWORD, "role": role}, expect=201)
            server.users[name] = user["id"]
        yield server
    finally:
        keep = os.environ.get("CONSOLE_SCREENSHOTS")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            (Path(keep) / "event-console-server.log").write_text(server.log_tail(200_000))
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = launch_chromium(p, ["--disable-quic"])
        yield launched
        launched.close()


@pytest.fixture
def open_page(browser: Browser, event: EventConsole) -> Iterator[Callable[[], Page]]:
    """New browser contexts (one per person at the event); each fails the test on unexpected errors."""
    contexts: list[tuple[Any, ConsoleErrors]] = []

    def make() -> Page:
        context = browser.new_context(base_url=event.url, viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(20_000)
        pg = context.new_page()
        errors = ConsoleErrors()

        def on_console(msg: ConsoleMessage) -> None:
            if msg.type == "error":
                errors.errors.append(f"{msg.text} [{(msg.location or {}).get('url', '')}]")

        pg.on("console", on_console)
        pg.on("pageerror", lambda exc: errors.errors.append(f"page error: {exc}"))
        pg.console_errors = errors
        contexts.append((context, errors))
        return pg

    yield make
    problems = []
    for context, errors in contexts:
        context.close()
        problems += errors.unexpected()
    assert not problems, "the browser reported errors:\n" + "\n".join(problems)


def login(page: Page, username: str, password: str = PASSWORD) -> None:
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in", exact=True).click()


CAR_TOKEN = "asset-tag-7f3k9q"  # the car console's password


class InMemoryCar:
    """The car's ROS side (inference_node's `model` parameter) in memory; HTTP, sessions, CSRF, upload
    checks and the models folder above it are the real device console app (deepracer.device_console)."""

    def __init__(self) -> None:
        self.model = ""

    def active_model(self) -> str:
        return self.model

    def mode(self) -> str:
        return "stopped"

    def load_model(self, path: str) -> None:
        from deepracer.model.package import load_model_package

        if path:
            load_model_package(path)
        self.model = path


@contextlib.contextmanager
def car_console(folder: Path) -> Iterator[tuple[str, Path, InMemoryCar]]:
    """The car's device console on a free 127.0.0.1 port: (url, its models folder, its backend)."""
    import uvicorn

    from deepracer.device_console.app import ConsoleSettings
    from deepracer.device_console.app import create_app as car_app
    from deepracer.device_console.auth import PasswordCheck, write_password_file
    from deepracer.device_console.model_store import ModelStore

    backend, models = InMemoryCar(), folder / "models"
    settings = ConsoleSettings(password=PasswordCheck.from_file(write_password_file(folder / "pw", CAR_TOKEN)),
                               models=ModelStore(models))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(car_app(backend, settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the car console did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", models, backend
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def shot(page: Page, name: str) -> None:
    """A full-page screenshot into $CONSOLE_SCREENSHOTS, when it is set (for a person to look at)."""
    folder = os.environ.get("CONSOLE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"multiuser-{name}.png"), full_page=True)


def format_ms(ms: int) -> str:
    """As the pages show a time: mm:ss.sss."""
    return f"{ms // 60000:02d}:{(ms % 60000) / 1000:06.3f}"


def race_body(name: str, **extra: Any) -> dict[str, Any]:
    closes = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    return {"name": name, "track": "reinvent2018", "closes_at": closes, "ranking": "BEST_LAP_TIME",
            "minimum_laps": 1, "laps": 1, **extra}


def test_racer_logs_in_trains_submits_and_sees_their_place(event: EventConsole, open_page: Callable[[], Page]) -> None:
    expect = _expect()
    package = bundled_model()
    if not package.is_file():
        missing(f"{package} (the bundled model) is missing")
    race = event.api("fac").call("POST", "/api/races", race_body("league-night"), expect=201)[1]
    page = open_page()
    page.console_errors.allow(r"/api/models/\d+/live\]")  # 404 until the simulator's first frame

    # -- any page without a session: the login page, then back to where the racer was going
    page.goto("/models")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fmodels$"))
    login(page, "alice", "wrong-password")
    expect(page.get_by_test_id("login-error")).to_contain_text("wrong username or password")
    shot(page, "01-login-refused")
    page.console_errors.allow(r"status of 401 .*\[.*/api/auth/login\]")
    login(page, "alice")
    expect(page).to_have_url(re.compile(r"/models$"))
    expect(page.get_by_role("heading", name="Your models")).to_be_visible()
    expect(page.locator("#top-nav").get_by_role("button", name="alice (Racer)")).to_be_visible()  # who and their role
    expect(page.get_by_text("No models")).to_be_visible()  # a new racer sees none of anybody's

    # -- train: the wizard with a tiny steps budget (state-changing calls carry the CSRF token)
    page.get_by_role("button", name="Create model").first.click()
    page.get_by_label("Model name", exact=True).fill("alices-first")
    maximum_time = page.get_by_label("Maximum time", exact=True)
    episodes = page.get_by_label("Number of experience episodes between each policy-updating iteration", exact=True)
    for _ in range(8):
        if episodes.is_visible():
            episodes.fill("5")  # small iterations: the tiny budget still finishes one, and its evaluation  # every step's defaults are good: Next to the reward function's step
        next_button = page.get_by_role("button", name="Next", exact=True)
        if maximum_time.is_visible() or next_button.count() == 0:
            break
        next_button.click()
        page.wait_for_timeout(300)
    maximum_time.fill("5")
    page.get_by_text("Maximum steps (this console's extension)").click()
    page.get_by_role("spinbutton", name=re.compile(r"^Maximum steps")).fill("1000")
    page.get_by_role("button", name="Create model").click()
    expect(page.get_by_role("heading", name="alices-first")).to_be_visible()
    trained_id = int(page.url.rstrip("/").rsplit("/", 1)[-1])
    expect(page.get_by_text("Ready", exact=True).first).to_be_visible(timeout=JOB_TIMEOUT_MS)

    # the bundled model (it drives laps) imported as alice's second model, for a ranked run
    alice = event.api("alice")
    imported = alice.upload("/api/models/import", package)["model"]
    imported_id = imported["id"]

    # -- the race: listed for racers, no "Create race" for them
    page.get_by_role("link", name="Races").click()
    races = page.get_by_test_id("races-table")
    expect(races.get_by_role("link", name="league-night")).to_be_visible()
    expect(page.get_by_role("button", name="Create race")).to_have_count(0)
    races.get_by_role("link", name="league-night").click()
    expect(page.get_by_role("heading", name="league-night")).to_be_visible()
    expect(page.get_by_test_id("your-place")).to_contain_text("no ranked entry yet")

    # the bundled model first (one job at a time on 2 cores: its lap gives her place quickly), then
    # the model she just trained
    for model in (imported["name"], "alices-first"):
        page.get_by_role("button", name="Model to submit").click()
        page.get_by_role("option", name=re.compile(f"^{re.escape(model)}")).click()
        page.get_by_role("button", name="Submit model").click()
        expect(page.get_by_test_id("my-submission").first).to_contain_text(re.compile(r"Queued|Running|Completed"))
    mine = page.get_by_test_id("my-submission")
    expect(mine).to_have_count(2)  # newest first: the trained model's, then the bundled one's

    # the bundled model's lap is ranked: alice's place, her row, its lap times and video
    place = page.get_by_test_id("your-place")
    expect(place).to_contain_text(re.compile(r"Your place: 1 of 1 · \d\d:\d\d\.\d{3} \(leading\)"), timeout=JOB_TIMEOUT_MS)
    board = page.get_by_test_id("leaderboard")
    row = board.locator("tbody tr").first
    expect(row).to_contain_text("alice (you)")
    expect(row.locator("td").nth(4)).to_have_text(re.compile(r"^\d\d:\d\d\.\d{3}"))  # the lap times
    expect(mine.nth(1)).to_contain_text(re.compile(r"Completed.*rank 1, \d\d:\d\d\.\d{3}"))
    shot(page, "02-race-your-place")
    _, lb = alice.call("GET", f"/api/races/{race['id']}/leaderboard", expect=200)
    assert [e["racer"] for e in lb["entries"]] == ["alice"], lb
    ranked = lb["entries"][0]
    assert ranked["video_url"], ranked
    _, evaluations = alice.call("GET", f"/api/models/{imported_id}/evaluations", expect=200)
    assert evaluations and evaluations[0]["status"] == "completed", evaluations
    # the trained model's submission is a real evaluation job of its own, next in line; its run is
    # not waited for (a barely trained car may drive to the time-up, 20 simulated minutes)
    expect(mine.nth(0)).to_contain_text(re.compile(r"Running|Completed"), timeout=JOB_TIMEOUT_MS)
    _, trained_evals = alice.call("GET", f"/api/models/{trained_id}/evaluations", expect=200)
    assert len(trained_evals) == 1 and trained_evals[0]["status"] in ("running", "completed"), trained_evals
    assert (trained_evals[0]["track"], trained_evals[0]["trials_requested"]) == ("reinvent2018", 1), trained_evals
    row.get_by_role("button", name="Video of alice's run").click()
    video = page.get_by_test_id("entry-video")
    expect(video).to_be_visible()
    page.wait_for_function("v => v.readyState >= 1 && v.duration > 0", arg=video.element_handle(), timeout=30_000)
    page.keyboard.press("Escape")

    # -- the big screen: no chrome, no login, the same leaderboard in large type
    screen = open_page()
    screen.goto(f"/races/{race['id']}/big-screen")
    big = screen.get_by_test_id("big-leaderboard")
    expect(big.locator("tbody tr").first).to_contain_text("alice")
    expect(big.locator("tbody tr").first).to_contain_text(re.compile(r"\d\d:\d\d\.\d{3}"))
    expect(screen.locator("#top-nav")).to_have_count(0)
    expect(screen.get_by_test_id("big-screen-updated")).to_contain_text("refreshes every 5 s")
    expect(screen.get_by_test_id("latest-video")).to_be_visible()
    font = screen.evaluate("() => parseFloat(getComputedStyle(document.querySelector('[data-testid=big-leaderboard]')).fontSize)")
    assert font >= 30, font  # large type: 2.6vw of a 1400 px window
    shot(screen, "03-big-screen")

    # the trained model's run is not needed any more: deleting the model stops its job (the machine
    # is shared with the next tests)
    page.console_errors.allow(r"status of 404 .*\[.*/api/evaluations/\d+\]")  # the page polled its run
    alice.call("DELETE", f"/api/models/{trained_id}", expect=204)

    # -- logout from the top navigation: the session ends, the next page asks for a login
    page.locator("#top-nav").get_by_role("button", name=re.compile("^alice")).click()
    page.get_by_role("menuitem", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto("/models")
    expect(page).to_have_url(re.compile(r"/login\?next="))


def test_racer_cannot_open_another_racers_model(event: EventConsole, open_page: Callable[[], Page]) -> None:
    expect = _expect()
    package = bundled_model()
    if not package.is_file():
        missing(f"{package} (the bundled model) is missing")
    alice = event.api("alice")
    upload = event.data.parent / "bobs-secret-car.tar.gz"
    shutil.copyfile(package, upload)
    bob = event.api("bob")
    secret_id = bob.upload("/api/models/import", upload)["model"]["id"]
    assert alice.call("GET", f"/api/models/{secret_id}")[0] == 404

    page = open_page()
    page.console_errors.allow(rf"status of 404 .*\[.*/api/models/{secret_id}(/.*)?\]")
    page.goto(f"/models/{secret_id}")
    login(page, "alice")
    expect(page).to_have_url(re.compile(f"/models/{secret_id}$"))  # back where she was going
    alert = page.get_by_text("Could not load the model")
    expect(alert).to_be_visible()
    expect(page.get_by_text(re.compile(f"no model {secret_id}"))).to_be_visible()
    expect(page.get_by_text("bobs-secret-car")).to_have_count(0)
    expect(page.get_by_role("button", name="Download")).to_have_count(0)
    page.goto("/models")
    expect(page.get_by_role("heading", name="Your models")).to_be_visible()
    expect(page.get_by_test_id("models-table").get_by_text("bobs-secret-car")).to_have_count(0)


def test_admin_manages_users(event: EventConsole, open_page: Callable[[], Page]) -> None:
    expect = _expect()
    page = open_page()
    page.goto("/users")
    login(page, ADMIN)
    expect(page.get_by_role("heading", name="Users", exact=True)).to_be_visible()
    table = page.get_by_test_id("users-table")
    expect(table.get_by_text("alice", exact=True)).to_be_visible()

    # create a racer, who can log in at once
    page.get_by_label("New user's username", exact=True).fill("carol")
    page.get_by_label("New user's password", exact=True).fill("short")
    page.get_by_role("button", name="Create user").click()
    page.console_errors.allow(r"status of 4\d\d .*\[.*/api/users(/\d+)?\]")
    expect(page.get_by_text("the password needs at least 8 characters")).to_be_visible()
    page.get_by_label("New user's password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_test_id("users-notice")).to_contain_text("User carol created (Racer)")
    row = table.locator("tr", has_text="carol")
    expect(row).to_be_visible()
    carol = event.api("carol")
    assert carol.call("GET", "/api/auth/me", expect=200)[1]["user"]["role"] == "racer"

    # make carol a facilitator: her session ends (roles change with a new login)
    row.get_by_role("button", name="Role of carol").click()
    page.get_by_role("option", name="Race facilitator").click()
    expect(page.get_by_test_id("users-notice")).to_contain_text("carol is now Race facilitator")
    assert carol.call("GET", "/api/users")[0] == 401
    assert event.api("carol").call("GET", "/api/auth/me", expect=200)[1]["user"]["role"] == "race_facilitator"

    # pause: carol's open page is sent to the login page at its next call (401); she cannot log in
    carols = open_page()
    carols.goto("/models")
    login(carols, "carol")
    expect(carols.get_by_role("heading", name="Your models")).to_be_visible()
    row.get_by_role("button", name="Pause carol").click()
    expect(page.get_by_test_id("users-notice")).to_contain_text("carol is paused")
    carols.console_errors.allow(r"status of 401 .*\[.*/api/models\]")
    expect(carols).to_have_url(re.compile(r"/login\?next=%2Fmodels$"), timeout=15_000)  # the list polls every 3 s
    login(carols, "carol")
    expect(carols.get_by_test_id("login-error")).to_contain_text("paused")
    carols.console_errors.allow(r"status of 403 .*\[.*/api/auth/login\]")
    expect(row.get_by_text("Paused")).to_be_visible()
    assert Api(event.url).call("POST", "/api/auth/login", {"username": "carol", "password": PASSWORD})[0] == 403
    row.get_by_role("button", name="Unpause carol").click()
    expect(row.get_by_text("Active")).to_be_visible()

    # reset her password
    row.get_by_role("button", name="Reset the password of carol").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("New password", exact=True).fill("another-password-1")
    dialog.get_by_role("button", name="Reset password").click()
    expect(page.get_by_test_id("users-notice")).to_contain_text("The password of carol was reset")
    assert Api(event.url).call("POST", "/api/auth/login", {"username": "carol", "password": PASSWORD})[0] == 401
    Api(event.url).login("carol", "another-password-1")

    # her quota: the limits and this month's usage; a new limit is saved
    row.get_by_role("button", name="Quota of carol").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text(re.compile(r"Used: 0 of unlimited")).first).to_be_visible()
    dialog.get_by_label("Models", exact=True).fill("2")
    dialog.get_by_role("button", name="Save quota").click()
    expect(page.get_by_test_id("users-notice")).to_contain_text("The quota of carol was saved")
    shot(page, "04-users")
    _, quota = event.api(ADMIN).call("GET", f"/api/users/{_user_id(event, 'carol')}/quota", expect=200)
    assert quota["limits"]["models"] == 2, quota

    # carol's own account page: her role and her quota with this month's usage
    carols = open_page()
    carols.goto("/models")
    login(carols, "carol", "another-password-1")
    carols.locator("#top-nav").get_by_role("button", name=re.compile("^carol")).click()
    carols.get_by_role("menuitem", name="Your account and quota").click()
    expect(carols.get_by_role("heading", name="Your account")).to_be_visible()
    expect(carols.get_by_text("Race facilitator", exact=True)).to_be_visible()
    expect(carols.get_by_test_id("my-quota")).to_contain_text("0 of 2")  # models: her own limit

    # the usage table: every user's usage against the limit in force; its CSV export
    usage_row = page.get_by_test_id("usage-table").locator("tr", has_text="carol")
    expect(usage_row).to_contain_text("0 / 2")  # models: none of her 2
    export = page.get_by_role("link", name="Export CSV")
    href = export.get_attribute("href")
    assert href and href.startswith("/api/quotas/usage.csv?month="), href
    csv = page.request.get(href)  # the page's session cookie
    assert csv.status == 200 and "text/csv" in csv.headers["content-type"], (csv.status, csv.headers)
    lines = csv.text().splitlines()
    header = lines[0].split(",")
    rows = {line.split(",")[0]: dict(zip(header, line.split(","), strict=True)) for line in lines[1:]}
    assert rows["carol"]["models_limit"] == "2" and rows["carol"]["role"] == "race_facilitator", lines

    # a racer on the admins' page: 403, no accounts shown
    racer = open_page()
    racer.goto("/users")
    login(racer, "bob")
    expect(racer.get_by_test_id("forbidden")).to_contain_text("403")
    expect(racer.get_by_test_id("users-table")).to_have_count(0)


def _user_id(event: EventConsole, name: str) -> int:
    _, users = event.api(ADMIN).call("GET", "/api/users", expect=200)
    return next(u["id"] for u in users if u["username"] == name)


def test_facilitator_creates_a_private_race(event: EventConsole, open_page: Callable[[], Page]) -> None:
    expect = _expect()
    page = open_page()
    page.goto("/races/create")
    login(page, "fac")
    expect(page.get_by_role("heading", name="Create race")).to_be_visible()
    page.get_by_label("Race name", exact=True).fill("staff-cup")
    page.get_by_role("button", name="Track").click()
    page.get_by_role("option", name=re.compile("^reinvent2018")).click()
    page.get_by_text("Average of N consecutive laps").click()
    page.get_by_label("Minimum laps", exact=True).fill("2")
    page.get_by_role("button", name="Laps per attempt").click()
    page.get_by_role("option", name="5", exact=True).click()
    page.get_by_label("Off-track penalty", exact=True).fill("3")
    page.get_by_label("Submissions per day", exact=True).fill("5")
    page.get_by_text("Private (invite link only)").click()
    shot(page, "05-create-race")
    page.get_by_role("button", name="Create race").click()
    expect(page.get_by_role("heading", name="staff-cup")).to_be_visible()
    expect(page.get_by_text("Average of 2 consecutive laps").first).to_be_visible()
    invite = page.get_by_test_id("invite-link")
    expect(invite).to_contain_text(re.compile(r"/races/\d+\?invite=\S+"))
    link = re.search(r"(/races/\d+\?invite=\S+)", invite.inner_text()).group(1)  # type: ignore[union-attr]
    race_id = int(re.search(r"/races/(\d+)", link).group(1))  # type: ignore[union-attr]
    _, race = event.api("fac").call("GET", f"/api/races/{race_id}", expect=200)
    assert (race["ranking"], race["minimum_laps"], race["laps"], race["off_track_penalty_s"],
            race["submissions_per_day"], race["private"]) == ("AVG_LAP_TIME", 2, 5, 3.0, 5, True), race

    # a racer does not see it in the list; with the invite link she does, and so does the big screen
    racer = open_page()
    racer.console_errors.allow(rf"status of 404 .*\[.*/api/races/{race_id}(/leaderboard)?\]")
    racer.goto("/races")
    expect(racer.get_by_test_id("races-table").locator("tbody")).to_be_visible()
    expect(racer.get_by_test_id("races-table").get_by_text("staff-cup")).to_have_count(0)
    racer.goto(f"/races/{race_id}")
    expect(racer.get_by_test_id("race-error")).to_contain_text(f"no race {race_id}")
    racer.goto(link)
    expect(racer.get_by_role("heading", name="staff-cup")).to_be_visible()
    racer.goto("/races")  # this browser remembers the invitation: the race is in her list now
    invited = racer.get_by_test_id("races-table").locator("tr", has_text="staff-cup")
    expect(invited).to_contain_text("Private (invited)")
    invited.get_by_role("link", name="staff-cup").click()
    expect(racer.get_by_role("heading", name="staff-cup")).to_be_visible()
    racer.goto(link.replace(f"/races/{race_id}", f"/races/{race_id}/big-screen"))
    expect(racer.get_by_test_id("big-screen")).to_contain_text("staff-cup")


def test_facilitator_runs_the_timekeeper_of_a_physical_race(event: EventConsole, open_page: Callable[[], Page]) -> None:
    """Create a physical race with the form, queue two racers, upload alice's model to a car (the
    real car console on 127.0.0.1), run her attempt: laps by the button, by the keyboard and by a
    hardware lap timer's POST, a reset that makes a lap invalid (0 resets allowed), off track and
    undo, pause, a lap invalidated by hand, end; the leaderboard ranks her best valid lap."""
    expect = _expect()
    page = open_page()
    page.console_errors.allow(r"status of 409 .*\[.*/api/races/\d+/attempts/\d+/events\]")  # a refused press
    page.goto("/races")  # public: no "Create race" without a login
    expect(page.get_by_role("heading", name="Races")).to_be_visible()
    expect(page.get_by_role("button", name="Create race")).to_have_count(0)
    page.locator("#top-nav").get_by_role("link", name="Log in").click()
    login(page, "fac")
    expect(page).to_have_url(re.compile(r"/races$"))  # back where he was
    page.get_by_role("button", name="Create race").click()
    page.get_by_label("Race name", exact=True).fill("track-night")
    page.get_by_role("button", name="Track").click()
    page.get_by_role("option", name=re.compile("^reinvent2018")).click()
    page.get_by_text("Best lap time", exact=True).click()
    page.get_by_role("button", name="Laps per attempt").click()
    page.get_by_role("option", name="1", exact=True).click()
    page.get_by_label("Minimum laps", exact=True).fill("1")
    page.get_by_label("Resets allowed", exact=True).fill("0")  # per lap: a lap with a reset is invalid
    page.get_by_text("Physical race (timekeeper)").click()
    page.get_by_label("Race time", exact=True).fill("300")
    page.get_by_role("button", name="Create race").click()
    expect(page.get_by_role("heading", name="track-night")).to_be_visible()
    race_id = int(re.search(r"/races/(\d+)", page.url).group(1))  # type: ignore[union-attr]
    page.get_by_role("button", name="Timekeeper").click()
    expect(page.get_by_role("heading", name=re.compile("Timekeeper: track-night"))).to_be_visible()

    # the queue: alice (with her model for the car) and bob; bob moved to the front and back
    package = bundled_model()
    if not package.is_file():
        missing(f"{package} (the bundled model) is missing")
    upload = event.data.parent / "alices-car.tar.gz"
    shutil.copyfile(package, upload)
    alices_model = event.api("alice").upload("/api/models/import", upload)["model"]
    page.reload()
    for name in ("alice", "bob"):
        page.get_by_label("Racer's username", exact=True).fill(name)
        if name == "alice":
            page.get_by_role("button", name=re.compile(r"^Their model")).click()
            page.get_by_role("option", name=re.compile(f"^{alices_model['name']} \\(model {alices_model['id']}\\)")).click()
        page.get_by_role("button", name="Add to queue").click()
        expect(page.get_by_test_id("racer-queue").get_by_text(name, exact=True)).to_be_visible()
    expect(page.get_by_test_id("racer-queue").get_by_text(alices_model["name"])).to_be_visible()

    # her model goes to the car on the track, through the car's own console (a real one, on 127.0.0.1)
    with car_console(event.data.parent / "car") as (car_url, car_models, car_backend):
        page.get_by_text("Register a car").click()
        page.get_by_label("Car name", exact=True).fill("car-3")
        page.get_by_label("Car address", exact=True).fill(car_url)
        page.get_by_label("Car token", exact=True).fill(CAR_TOKEN)
        page.get_by_role("button", name="Register car").click()
        expect(page.get_by_test_id("car-message")).to_contain_text("Car car-3 registered")
        page.get_by_role("button", name="Upload alice's model to the car").click()
        expect(page.get_by_test_id("car-message")).to_contain_text(re.compile(r"is on car-3 as \S+"), timeout=60_000)
        stored = [p for p in car_models.iterdir() if (p / "model.onnx").is_file()]
        assert len(stored) == 1 and car_backend.model == str(stored[0]), (stored, car_backend.model)
        page.get_by_role("button", name="Check car").click()
        expect(page.get_by_test_id("car-message")).to_contain_text(f"car-3 answers: active model {stored[0]}")
    page.get_by_role("button", name="Move bob up").click()
    expect(page.get_by_role("button", name="Next racer: bob")).to_be_visible()
    page.get_by_role("button", name="Move bob down").click()
    page.get_by_role("button", name="Next racer: alice").click()
    expect(page.get_by_test_id("on-track")).to_have_text("alice")
    expect(page.get_by_text("Ready to start")).to_be_visible()

    laps = page.get_by_test_id("attempt-laps")
    page.get_by_role("button", name="Start", exact=True).click()
    expect(page.get_by_text("Running", exact=True)).to_be_visible()
    page.wait_for_timeout(1200)
    page.get_by_test_id("lap-button").click()  # lap 1: the button
    expect(page.get_by_test_id("lap-count")).to_have_text("1")
    page.get_by_test_id("shortcuts").click()  # focus off the buttons: keys go to the page
    page.wait_for_timeout(900)
    page.keyboard.press("l")  # lap 2: the keyboard
    expect(page.get_by_test_id("lap-count")).to_have_text("2")
    page.keyboard.press("o")
    expect(page.get_by_test_id("off-tracks")).to_have_text("1")
    page.keyboard.press("u")  # undo the off-track
    expect(page.get_by_test_id("off-tracks")).to_have_text("0")
    page.keyboard.press("r")
    expect(page.get_by_test_id("resets")).to_have_text("1")
    page.wait_for_timeout(600)
    page.keyboard.press("Space")  # lap 3, with a reset: invalid (0 allowed)
    expect(page.get_by_test_id("lap-count")).to_have_text("3")
    rows = laps.locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("Valid")
    expect(rows.nth(1)).to_contain_text("Valid")
    expect(rows.nth(2)).to_contain_text("Invalid")
    # a hardware lap timer posts lap 4 with the race's token: the page shows it (it polls)
    page.get_by_role("button", name="Make a timer token").click()
    token_text = page.get_by_test_id("timer-token").inner_text()
    lap_url, token = re.search(r"POST (\S+) with Authorization: Bearer (\S+)", token_text).groups()  # type: ignore[union-attr]
    request = urllib.request.Request(lap_url, data=b"{}", method="POST",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
    expect(page.get_by_test_id("lap-count")).to_have_text("4")
    expect(rows.nth(3)).to_contain_text("Lap timer")
    expect(rows.nth(3)).to_contain_text("Valid")
    page.get_by_test_id("shortcuts").click()
    page.keyboard.press("p")
    expect(page.get_by_text("Paused", exact=True)).to_be_visible()
    page.keyboard.press("p")
    expect(page.get_by_text("Running", exact=True)).to_be_visible(timeout=15_000)  # a loaded CI machine
    laps.get_by_role("button", name="Invalidate lap 1").click()  # the timekeeper saw a cut
    expect(rows.nth(0)).to_contain_text("Invalid")
    # the leaderboard on the same page names it invalid, not unfinished
    expect(page.get_by_test_id("leaderboard")).to_contain_text("(invalid)", timeout=15_000)
    shot(page, "06-timekeeper")
    page.get_by_test_id("shortcuts").click()
    page.keyboard.press("e")
    expect(page.get_by_text("Race is over")).to_be_visible()
    expect(page.get_by_role("button", name="Next racer: bob")).to_be_visible()

    # what the server kept, and the leaderboard: her best valid lap (lap 2)
    fac = event.api("fac")
    _, attempts = fac.call("GET", f"/api/races/{race_id}/attempts", expect=200)
    attempt = next(a for a in attempts if a["racer"] == "alice")
    assert [lap["is_valid"] for lap in attempt["laps"]] == [False, True, False, True], attempt
    assert [lap["resets"] for lap in attempt["laps"]] == [0, 0, 1, 0], attempt
    assert [lap["auto_timer"] for lap in attempt["laps"]] == [False, False, False, True], attempt
    best = min(attempt["laps"][1]["time_ms"], attempt["laps"][3]["time_ms"])
    assert attempt["state"] == "race_is_over" and attempt["score_ms"] == best, attempt
    assert 800 <= attempt["laps"][1]["time_ms"] <= 30_000, attempt
    board = page.get_by_test_id("leaderboard")
    row = board.locator("tbody tr").first
    expect(row).to_contain_text("alice")
    expect(row).to_contain_text(format_ms(best))
    _, lb = Api(event.url).call("GET", f"/api/races/{race_id}/leaderboard", expect=200)  # public
    assert [(e["racer"], e["score_ms"]) for e in lb["entries"]] == [("alice", attempt["score_ms"])], lb


def test_facilitator_sees_owners_submits_only_own_models_and_deletes_a_race(
        event: EventConsole, open_page: Callable[[], Page]) -> None:
    expect = _expect()
    package = bundled_model()
    if not package.is_file():
        missing(f"{package} (the bundled model) is missing")
    upload = event.data.parent / "alices-owned-car.tar.gz"
    shutil.copyfile(package, upload)
    event.api("alice").upload("/api/models/import", upload)
    closes = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    _, race = event.api("fac").call("POST", "/api/races", {"name": "doomed-cup", "track": "reinvent2018",
                                                            "closes_at": closes}, expect=201)
    page = open_page()
    page.goto("/models")
    login(page, "fac")
    row = page.get_by_test_id("models-table").locator("tr", has_text="alices-owned-car")
    expect(page.get_by_test_id("models-table").get_by_role("columnheader", name="Owner")).to_be_visible()
    expect(row.locator("td").last).to_have_text("alice")  # the Owner column
    page.goto(f"/races/{race['id']}")
    expect(page.get_by_role("heading", name="doomed-cup")).to_be_visible()
    page.get_by_role("button", name="Model to submit").click()
    expect(page.get_by_role("option", name=re.compile("alices-owned-car"))).to_have_count(0)  # not hers to submit
    page.keyboard.press("Escape")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("delete-race").click()
    expect(page).to_have_url(re.compile(r"/races$"))
    assert event.api("fac").call("GET", f"/api/races/{race['id']}")[0] == 404

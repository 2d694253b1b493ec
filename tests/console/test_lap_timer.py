"""`deepracer lap-timer`: DREM's debounce across sensors, and the timer on gpiozero's mock pins posting
to a real console (uvicorn on a 127.0.0.1 port) — exact lap times from the timer's stamps, laps
queued while the console is down and delivered once it is up, a wrong token refused for good."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import free_port, wait_for
from fastapi.testclient import TestClient

from deepracer.lap_timer import Delivery, LapDetector, LapPoster, LapTimer
from deepracer_console import auth
from deepracer_console.app import create_app
from deepracer_console.db import open_database
from deepracer_console.settings import Settings

PASSWORD = "correct horse battery"


def test_detector_debounces_across_sensors() -> None:
    d = LapDetector((17, 27), debounce_ms=2000, session="s1")
    first = d.crossing(17, at_ms=10_000)
    assert first is not None and (first.lapNumber, first.sensorLapCount, first.event_id) == (1, 1, "s1-1")
    assert d.crossing(27, at_ms=10_030) is None  # the same car over the second sensor
    assert d.crossing(17, at_ms=11_999) is None
    second = d.crossing(27, at_ms=12_000)
    assert second is not None and (second.gpio, second.lapNumber, second.sensorLapCount) == (27, 2, 1)
    assert second.to_json() == {"event": "lap", "timestamp": 12_000, "gpio": 27, "lapNumber": 2,
                                "sensorLapCount": 1, "event_id": "s1-2"}
    with pytest.raises(ValueError, match="GPIO22"):
        d.crossing(22, at_ms=20_000)


class ConsoleServer:
    def __init__(self, app) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        wait_for(lambda: self.server.started, 20, "the console to start", 0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def pins() -> Iterator:
    from gpiozero import Device
    from gpiozero.pins.mock import MockFactory

    Device.pin_factory = MockFactory()
    yield Device.pin_factory
    Device.pin_factory.reset()
    Device.pin_factory = None


@pytest.mark.integration
def test_timer_on_mock_pins_posts_to_a_real_console(tmp_path: Path, monkeypatch, pins) -> None:
    from argon2 import PasswordHasher

    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    settings = Settings(data_dir=tmp_path / "data", max_jobs=1, web_dist=tmp_path / "dist", sandbox="none")
    settings.make_dirs()
    with open_database(settings.db_url).begin() as db:
        for name, role in (("fac", auth.Role.RACE_FACILITATOR), ("alice", auth.Role.RACER)):
            auth.create_user(db, name, PASSWORD, role)
    app = create_app(settings, start_jobs=False)
    fac = TestClient(app)
    fac.headers["X-CSRF-Token"] = fac.post("/api/auth/login", json={"username": "fac", "password": PASSWORD}
                                           ).json()["csrf_token"]
    closes = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    rid = fac.post("/api/races", json={"name": "pi-night", "track": "reinvent2018", "closes_at": closes,
                                       "ranking": "BEST_LAP_TIME", "minimum_laps": 1, "laps": 1,
                                       "physical": True}).json()["id"]
    token = fac.post(f"/api/races/{rid}/timer-token").json()["token"]
    fac.post(f"/api/races/{rid}/queue", json={"username": "alice"})
    aid = fac.post(f"/api/races/{rid}/attempts", json={}).json()["id"]

    console = ConsoleServer(app)  # not started yet: the Wi-Fi is down
    delivered: list[Delivery] = []
    poster = LapPoster(console.url, rid, token, on_delivered=delivered.append).start()
    clock = [1_764_590_000_000]
    timer = LapTimer(poster, (17, 27), 2000, detector=LapDetector((17, 27), 2000, clock=lambda: clock[0]))
    try:
        def cross(pin: int, at_ms: int) -> None:
            clock[0] = at_ms
            pins.pin(pin).drive_high()
            pins.pin(pin).drive_low()

        t0 = clock[0]
        cross(17, t0)  # starts the race
        cross(27, t0 + 40)  # the same pass over the second sensor: debounced
        cross(27, t0 + 11_234)
        cross(17, t0 + 21_000)
        time.sleep(1.0)
        assert poster.pending == 3 and delivered == []  # queued while the console cannot be reached
        console.start()
        wait_for(lambda: poster.pending == 0, 30, "the queued laps to be delivered", 0.1)
        assert [d.status for d in delivered] == [200, 200, 200]
        state = fac.get(f"/api/races/{rid}/attempts/{aid}").json()
        assert state["state"] == "running"
        assert [(lap["time_ms"], lap["auto_timer"]) for lap in state["laps"]] == [(11_234, True), (9_766, True)]
        # a wrong token is refused for good: reported, not retried forever
        wrong = LapPoster(console.url, rid, "not-the-token", on_delivered=delivered.append).start()
        wrong.send(LapDetector((17,), session="w").crossing(17, at_ms=t0 + 30_000))  # type: ignore[arg-type]
        wait_for(lambda: wrong.pending == 0, 20, "the refusal", 0.1)
        wrong.close()
        assert delivered[-1].status == 401 and "token" in delivered[-1].answer["detail"]
        assert len(fac.get(f"/api/races/{rid}/attempts/{aid}").json()["laps"]) == 2
    finally:
        timer.close()
        poster.close(timeout=2)
        console.stop()


def test_cli_refuses_without_a_token(tmp_path: Path, monkeypatch, capsys) -> None:
    from deepracer.cli import main

    monkeypatch.delenv("DEEPRACER_TIMER_TOKEN", raising=False)
    assert main(["lap-timer", "--server", "http://127.0.0.1:9", "--race", "1"]) != 0
    assert "no timer token" in capsys.readouterr().err
    assert main(["lap-timer", "--server", "http://127.0.0.1:9", "--race", "1", "--token-file",
                 str(tmp_path / "missing")]) != 0
    assert "cannot read the timer token" in capsys.readouterr().err

"""Physical races on a real PostgreSQL server (the fixture of test_postgresql.py): migration 0005's
tables, concurrent timekeeper presses (the retry on a taken seq), the lap timer and the leaderboard."""

from __future__ import annotations

import contextlib
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from test_postgresql import postgres_url  # noqa: F401 (the fixture)

from deepracer_console import auth, physical_api
from deepracer_console.app import create_app
from deepracer_console.db import open_database
from deepracer_console.settings import Settings

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery"


def test_physical_race_on_postgresql(postgres_url: str, tmp_path: Path, monkeypatch) -> None:  # noqa: F811
    from argon2 import PasswordHasher

    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    # writers of one process take turns (a lock); without it they collide as two server processes
    # would, and the unique (attempt, seq) makes the later one retry
    monkeypatch.setattr(physical_api, "_WRITE_LOCK", contextlib.nullcontext())
    settings = Settings(data_dir=tmp_path / "data", max_jobs=1, web_dist=tmp_path / "dist", sandbox="none",
                        database_url=postgres_url)
    settings.make_dirs()
    with open_database(postgres_url).begin() as db:
        for name, role in (("pfac", auth.Role.RACE_FACILITATOR), ("pracer", auth.Role.RACER)):
            auth.create_user(db, name, PASSWORD, role)
    app = create_app(settings, start_jobs=False)

    def login(name: str) -> TestClient:
        c = TestClient(app)
        r = c.post("/api/auth/login", json={"username": name, "password": PASSWORD})
        assert r.status_code == 200, r.text
        c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        return c

    fac = login("pfac")
    closes = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    race = fac.post("/api/races", json={"name": "pg-track-night", "track": "reinvent2018", "closes_at": closes,
                                        "ranking": "BEST_LAP_TIME", "minimum_laps": 1, "laps": 1, "physical": True})
    assert race.status_code == 201, race.text
    rid = race.json()["id"]
    fac.post(f"/api/races/{rid}/queue", json={"username": "pracer"})
    aid = fac.post(f"/api/races/{rid}/attempts", json={}).json()["id"]
    token = fac.post(f"/api/races/{rid}/timer-token").json()["token"]
    timer = TestClient(app)
    assert timer.post(f"/api/races/{rid}/timer/laps", json={"timestamp": 1_000},
                      headers={"Authorization": f"Bearer {token}"}).json()["state"] == "running"
    errors: list[str] = []

    def hammer() -> None:
        c = login("pfac")
        for _ in range(5):
            r = c.post(f"/api/races/{rid}/attempts/{aid}/events", json={"action": "reset"})
            if r.status_code != 200:
                errors.append(r.text)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and fac.get(f"/api/races/{rid}/attempts/{aid}").json()["resets"] == 20
    lap = timer.post(f"/api/races/{rid}/timer/laps", json={"timestamp": 12_345, "event_id": "a"},
                     headers={"Authorization": f"Bearer {token}"}).json()
    assert lap["lap"]["time_ms"] == 11_345 and lap["lap"]["resets"] == 20
    assert fac.post(f"/api/races/{rid}/attempts/{aid}/events", json={"action": "end"}).json()["state"] == \
        "race_is_over"
    board = TestClient(app).get(f"/api/races/{rid}/leaderboard").json()
    assert [(e["racer"], e["score_ms"]) for e in board["entries"]] == [("pracer", 11_345)]

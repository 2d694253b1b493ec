"""League night: the leaderboard cache serves the same answer as the database until a submission
finishes (then the new one, at once), private races stay private through it; and
`deepracer bench league --json` (a small version) runs a real console, answers every
leaderboard request and loses no submission."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from deepracer_console import auth
from deepracer_console.app import create_app
from deepracer_console.db import Evaluation, EvaluationStatus, open_database
from deepracer_console.settings import Settings

PASSWORD = "correct horse battery"


def login(app, name: str) -> TestClient:
    c = TestClient(app)
    r = c.post("/api/auth/login", json={"username": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return c


def test_leaderboard_cache_is_invalidated_when_a_submission_finishes(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", max_jobs=1, web_dist=tmp_path / "dist", sandbox="none")
    settings.make_dirs()
    sessions = open_database(settings.db_url)
    with sessions.begin() as db:
        auth.create_user(db, "fac", PASSWORD, auth.Role.RACE_FACILITATOR)
        auth.create_user(db, "alice", PASSWORD, auth.Role.RACER)
    app = create_app(settings, start_jobs=False)
    fac, alice, stranger = login(app, "fac"), login(app, "alice"), TestClient(app)
    closes = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    race = fac.post("/api/races", json={"name": "cup", "track": "reinvent2018", "closes_at": closes,
                                        "ranking": "BEST_LAP_TIME", "minimum_laps": 1, "laps": 1}).json()
    secret = fac.post("/api/races", json={"name": "staff", "track": "reinvent2018", "closes_at": closes,
                                          "private": True}).json()
    model = alice.post("/api/models", json={"name": "car", "track": "reinvent2018", "max_minutes": 1}).json()
    package = app.state.console.storage.package_dir(model["id"])
    package.mkdir(parents=True)
    (package / "model.onnx").write_bytes(b"not loaded: no job runs in this test")
    boards = app.state.console.leaderboards
    path = f"/api/races/{race['id']}/leaderboard"
    assert stranger.get(path).json()["entries"] == []
    hits = boards.hits
    assert stranger.get(path).json()["pending"] == 0 and boards.hits == hits + 1  # served from the cache
    sub = alice.post(f"/api/races/{race['id']}/submissions", json={"model_id": model["id"]}).json()
    assert stranger.get(path).json()["pending"] == 1  # a new submission: the cache let go at once
    with app.state.console.sessions.begin() as db:  # the job runner records the finished run
        e = db.get(Evaluation, sub["evaluation_id"])
        e.status, e.has_video = EvaluationStatus.COMPLETED, True
        e.result = {"trials": [{"trial": 1, "progress": 100.0, "lap_time_s": 11.25, "elapsed_s": 11.25,
                                "off_track": 0, "resets": 0}], "summary": {}}
    board = stranger.get(path).json()
    assert board["pending"] == 0 and [(p["racer"], p["score_ms"]) for p in board["entries"]] == [("alice", 11_250)]
    assert board["entries"][0]["video_url"].endswith(f"/submissions/{sub['id']}/video")
    assert stranger.get(path).json() == board  # the same bytes again, from the cache
    # private: the cached board is not a way around the invite
    private = f"/api/races/{secret['id']}/leaderboard"
    assert fac.get(private).status_code == 200  # cached now
    assert stranger.get(private).status_code == 404 and alice.get(private).status_code == 404
    token = fac.get(f"/api/races/{secret['id']}").json()["invite_link"].split("invite=")[1]
    assert stranger.get(private, params={"invite": token}).status_code == 200
    assert stranger.get(private, params={"invite": "wrong"}).status_code == 404
    assert stranger.get("/api/races/999/leaderboard").status_code == 404


@pytest.mark.integration
@pytest.mark.timeout(300)
def test_bench_league_small_loses_nothing() -> None:
    argv = [sys.executable, "-m", "deepracer.cli", "bench", "league", "--json", "--racers", "8", "--clients", "16",
            "--duration", "2", "--interval", "0.2", "--saturate", "1"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=280)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    assert out["racers"] == 8 and out["leaderboard_entries"] == 8
    for phase in ("leaderboard", "leaderboard_back_to_back"):
        figures = out[phase]
        assert {"clients", "requests", "errors", "p50_ms", "p99_ms", "requests_per_s"} <= set(figures)
        assert figures["clients"] == 16 and figures["errors"] == 0 and figures["requests"] > 0
        assert 0 < figures["p50_ms"] <= figures["p99_ms"]
    subs = out["submissions"]
    assert subs["answers"] == {"201": 8} and subs["accepted"] == 8
    assert subs["stored"] == 8 and subs["with_evaluation_and_job"] == 8 and subs["lost"] == 0

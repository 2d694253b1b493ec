"""Races: facilitators create them (DROA's fields and rules), racers submit their own ready models,
the leaderboard ranks by the race's rule; private races need the invite; a real submission is an
evaluation job with the race's settings and the fixed seed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import BUNDLED_MODEL, wait_for
from fastapi.testclient import TestClient
from sqlalchemy import select

from deepracer_console import auth
from deepracer_console.app import create_app
from deepracer_console.db import Evaluation, EvaluationStatus, open_database
from deepracer_console.races import RACE_SEED
from deepracer_console.settings import Settings

PASSWORD = "correct horse battery"


def _app(tmp_path: Path, start_jobs: bool = False):
    settings = Settings(data_dir=tmp_path / "data", max_jobs=1, web_dist=tmp_path / "dist")
    settings.make_dirs()
    sessions = open_database(settings.db_url)
    with sessions.begin() as db:
        for name, role in (("fac", auth.Role.RACE_FACILITATOR), ("alice", auth.Role.RACER),
                           ("bob", auth.Role.RACER)):
            auth.create_user(db, name, PASSWORD, role)
    return create_app(settings, start_jobs=start_jobs)


def login(app, name: str) -> TestClient:
    c = TestClient(app)
    r = c.post("/api/auth/login", json={"username": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return c


def race_body(**kw) -> dict:
    closes = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    return {"name": "league-night", "track": "reinvent2018", "closes_at": closes, "ranking": "BEST_LAP_TIME",
            "minimum_laps": 1, "laps": 1, **kw}


def import_model(client: TestClient, name: str) -> int:
    with BUNDLED_MODEL.open("rb") as f:
        r = client.post("/api/models/import", files={"file": (f"{name}.tar.gz", f.read())}, data={"name": name})
    assert r.status_code == 201, r.text
    return r.json()["model"]["id"]


@pytest.fixture
def app(tmp_path: Path) -> Iterator:
    if not BUNDLED_MODEL.is_file():
        pytest.skip(f"{BUNDLED_MODEL} is missing")
    yield _app(tmp_path)


def test_create_submit_rank(app) -> None:
    fac, alice, bob, stranger = login(app, "fac"), login(app, "alice"), login(app, "bob"), TestClient(app)
    assert alice.post("/api/races", json=race_body()).status_code == 403
    bad = fac.post("/api/races", json=race_body(ranking="TOTAL_TIME", minimum_laps=3, laps=5))
    assert bad.status_code == 422 and bad.json()["field"] == "laps"
    past = fac.post("/api/races", json=race_body(closes_at=(datetime.now(UTC) - timedelta(hours=1)).isoformat()))
    assert past.status_code == 422 and past.json()["field"] == "closes_at"
    race = fac.post("/api/races", json=race_body(submissions_per_day=2)).json()
    assert race["is_open"] and race["invite_link"] and race["off_track_penalty_s"] == 1.0  # DROA's default
    assert "invite_link" not in stranger.get(f"/api/races/{race['id']}").json() or \
        stranger.get(f"/api/races/{race['id']}").json()["invite_link"] is None
    a_model, b_model = import_model(alice, "alices-car"), import_model(bob, "bobs-car")
    # a racer submits only their own model
    r = bob.post(f"/api/races/{race['id']}/submissions", json={"model_id": a_model})
    assert r.status_code == 404 and "alices-car" not in r.text
    assert stranger.post(f"/api/races/{race['id']}/submissions", json={"model_id": b_model}).status_code == 401
    subs = [alice.post(f"/api/races/{race['id']}/submissions", json={"model_id": a_model}).json() for _ in range(2)]
    assert all(s["status"] == "queued" for s in subs)
    limit = alice.post(f"/api/races/{race['id']}/submissions", json={"model_id": a_model})
    assert limit.status_code == 429 and "2 a day" in limit.json()["detail"]
    b_sub = bob.post(f"/api/races/{race['id']}/submissions", json={"model_id": b_model}).json()
    board = stranger.get(f"/api/races/{race['id']}/leaderboard").json()
    assert board["entries"] == [] and board["pending"] == 3
    # the evaluations end (as the job runner would record them): alice 12.0 s then 10.5 s, bob 10.5 s later
    sessions = app.state.console.sessions

    def finish(evaluation_id: int, lap_s: float | None) -> None:
        trial = {"trial": 1, "status": "Lap complete" if lap_s else "Off track", "progress": 100.0 if lap_s else 40.0,
                 "lap_time_s": lap_s, "elapsed_s": lap_s or 20.0, "off_track": 1, "resets": 1}
        with sessions.begin() as db:
            e = db.get(Evaluation, evaluation_id)
            e.status, e.result = EvaluationStatus.COMPLETED, {"trials": [trial], "summary": {}}

    finish(subs[0]["evaluation_id"], 12.0)
    finish(subs[1]["evaluation_id"], 10.5)
    finish(b_sub["evaluation_id"], 10.5)
    board = stranger.get(f"/api/races/{race['id']}/leaderboard").json()
    assert [(e["rank"], e["racer"], e["score_ms"], e["gap_ms"]) for e in board["entries"]] == [
        (1, "alice", 10_500, 0), (2, "bob", 10_500, 0)]  # a tie goes to the earlier submission
    assert board["entries"][0]["laps"] == [{"time_ms": 10_500, "completed": True, "off_track": 1, "invalid": False}]
    assert board["pending"] == 0


def test_private_race_needs_the_invite(app) -> None:
    fac, alice, stranger = login(app, "fac"), login(app, "alice"), TestClient(app)
    race = fac.post("/api/races", json=race_body(name="staff-only", private=True)).json()
    token = race["invite_link"].split("invite=")[1]
    assert stranger.get(f"/api/races/{race['id']}/leaderboard").status_code == 404
    assert alice.get(f"/api/races/{race['id']}").status_code == 404
    assert [r["name"] for r in alice.get("/api/races").json()] == []
    assert alice.get(f"/api/races/{race['id']}?invite={token}").json()["name"] == "staff-only"
    assert stranger.get(f"/api/races/{race['id']}/leaderboard?invite={token}").status_code == 200
    model = import_model(alice, "alices-car")
    assert alice.post(f"/api/races/{race['id']}/submissions", json={"model_id": model}).status_code == 404
    ok = alice.post(f"/api/races/{race['id']}/submissions", json={"model_id": model, "invite": token})
    assert ok.status_code == 201


@pytest.mark.integration
@pytest.mark.timeout(600)
def test_a_submission_is_a_real_evaluation_with_the_fixed_seed(tmp_path: Path) -> None:
    if not BUNDLED_MODEL.is_file():
        pytest.skip(f"{BUNDLED_MODEL} is missing")
    app = _app(tmp_path, start_jobs=True)
    with TestClient(app):
        fac, alice = login(app, "fac"), login(app, "alice")
        race = fac.post("/api/races", json=race_body(name="real-one", ranking="AVG_LAP_TIME")).json()
        model = import_model(alice, "alices-car")
        sub = alice.post(f"/api/races/{race['id']}/submissions", json={"model_id": model}).json()

        def done() -> bool:
            e = alice.get(f"/api/evaluations/{sub['evaluation_id']}").json()
            return e["status"] in ("completed", "failed")

        wait_for(done, 500, "the race submission's evaluation", interval=2)
        e = alice.get(f"/api/evaluations/{sub['evaluation_id']}").json()
        assert e["status"] == "completed", e["failure_reason"]
        assert e["trials_requested"] == 1 and e["off_track_penalty_s"] == 1.0
        storage = app.state.console.storage
        log = (storage.evaluation_dir(model, sub["evaluation_id"]) / "evaluate.log").read_text()
        assert f"--seed {RACE_SEED}" in log and "--trials 1" in log and "--off-track-penalty 1.0" in log
        board = TestClient(app).get(f"/api/races/{race['id']}/leaderboard").json()
        assert board["pending"] == 0
        lap = e["trials"][0]
        if lap["progress"] >= 100:
            assert board["entries"][0]["score_ms"] == round(lap["lap_time_s"] * 1000)
        else:
            assert board["entries"] == []  # no completed lap: not ranked (the sentinel)


def _finish(app, evaluation_id: int, lap_s: float) -> None:
    trial = {"trial": 1, "status": "Lap complete", "progress": 100.0, "lap_time_s": lap_s, "elapsed_s": lap_s,
             "off_track": 0, "resets": 0}
    with app.state.console.sessions.begin() as db:
        e = db.get(Evaluation, evaluation_id)
        e.status, e.result = EvaluationStatus.COMPLETED, {"trials": [trial], "summary": {}}


def test_my_submissions_from_any_browser_and_all_for_facilitators(app) -> None:
    with app.state.console.sessions.begin() as db:
        auth.create_user(db, "root", PASSWORD, auth.Role.ADMIN)
    fac, alice, bob, root, stranger = (login(app, "fac"), login(app, "alice"), login(app, "bob"),
                                       login(app, "root"), TestClient(app))
    race = fac.post("/api/races", json=race_body()).json()
    url = f"/api/races/{race['id']}/submissions"
    a_model = import_model(alice, "alices-car")
    a_sub = alice.post(url, json={"model_id": a_model}).json()
    # the models show their owner's name (the pages show it to facilitators and admins)
    assert fac.get(f"/api/models/{a_model}").json()["owner"] == "alice"
    assert [m["owner"] for m in root.get("/api/models").json()] == ["alice"]
    assert bob.get(f"/api/models/{a_model}").status_code == 404
    b_sub = bob.post(url, json={"model_id": import_model(bob, "bobs-car")}).json()
    _finish(app, a_sub["evaluation_id"], 11.25)
    # alice from another browser (a new session) sees her submission with its score and laps, not bob's
    mine = login(app, "alice").get(url).json()
    assert [s["id"] for s in mine] == [a_sub["id"]]
    assert mine[0]["status"] == "completed" and mine[0]["laps"][0]["time_ms"] == 11_250
    assert [s["id"] for s in bob.get(url).json()] == [b_sub["id"]]
    assert [s["id"] for s in bob.get(url + "?mine=true").json()] == [b_sub["id"]]
    for who in (fac, root):  # facilitators and admins list every racer's
        assert sorted(s["racer"] for s in who.get(url).json()) == ["alice", "bob"]
        assert who.get(url + "?mine=true").json() == []
    assert stranger.get(url).status_code == 401
    assert alice.get("/api/races/999/submissions").status_code == 404
    # a private race: a racer without the invite learns nothing
    private = fac.post("/api/races", json=race_body(name="staff", private=True)).json()
    assert bob.get(f"/api/races/{private['id']}/submissions").status_code == 404


def test_facilitators_edit_a_race_ranking_fixed_once_it_has_runs(app) -> None:
    fac, alice, stranger = login(app, "fac"), login(app, "alice"), TestClient(app)
    race = fac.post("/api/races", json=race_body()).json()
    url = f"/api/races/{race['id']}"
    assert alice.patch(url, json={"name": "mine-now"}).status_code == 403
    assert stranger.patch(url, json={"name": "mine-now"}).status_code == 401
    # no runs yet: everything may change, checked as on create
    r = fac.patch(url, json={"ranking": "AVG_LAP_TIME", "minimum_laps": 3, "laps": 3, "off_track_penalty_s": 2})
    assert r.status_code == 200 and r.json()["ranking"] == "AVG_LAP_TIME" and r.json()["laps"] == 3
    bad = fac.patch(url, json={"closes_at": (datetime.now(UTC) - timedelta(days=30)).isoformat()})
    assert bad.status_code == 422 and bad.json()["field"] == "closes_at"
    assert fac.patch(url, json={"surprise": 1}).status_code == 422
    sub = alice.post(f"{url}/submissions", json={"model_id": import_model(alice, "alices-car")}).json()
    _finish(app, sub["evaluation_id"], 10.0)
    # with a run: the ranking settings are refused naming the field, the others still change
    r = fac.patch(url, json={"laps": 5})
    assert r.status_code == 409 and r.json()["field"] == "laps" and "ranking" in r.json()["detail"]
    assert fac.patch(url, json={"off_track_penalty_s": 5}).json()["field"] == "off_track_penalty_s"
    assert fac.patch(url, json={"laps": 3}).status_code == 200  # unchanged values are no change
    later = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    r = fac.patch(url, json={"name": "league-final", "closes_at": later, "submissions_per_day": 9})
    assert r.status_code == 200 and r.json()["name"] == "league-final" and r.json()["submissions_per_day"] == 9


def test_deleting_a_race_stops_its_jobs_and_drops_its_leaderboard(app) -> None:
    fac, alice, stranger = login(app, "fac"), login(app, "alice"), TestClient(app)
    race = fac.post("/api/races", json=race_body()).json()
    url = f"/api/races/{race['id']}"
    model = import_model(alice, "alices-car")
    done = alice.post(f"{url}/submissions", json={"model_id": model}).json()
    _finish(app, done["evaluation_id"], 10.0)
    queued = alice.post(f"{url}/submissions", json={"model_id": model}).json()
    assert stranger.get(f"{url}/leaderboard").json()["entries"]  # cached now
    assert alice.delete(url).status_code == 403 and stranger.delete(url).status_code == 401
    assert fac.delete(url).status_code == 204
    assert stranger.get(f"{url}/leaderboard").status_code == 404
    assert fac.get(url).status_code == 404 and fac.delete(url).status_code == 404
    from deepracer_console.jobs import Job, JobState

    with app.state.console.sessions() as db:
        job = db.scalars(select(Job).where(Job.evaluation_id == queued["evaluation_id"])).one()
        assert job.state == JobState.FAILED and "deleted" in (job.failure_reason or "")
        assert db.get(Evaluation, queued["evaluation_id"]).status == EvaluationStatus.FAILED
    assert alice.get(f"/api/models/{model}").status_code == 200  # the models stay

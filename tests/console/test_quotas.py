"""Quotas: global defaults an admin sets, per-user overrides, minutes reserved when a job is queued
and finalised to the minutes it ran, storage, the usage table and its CSV; model names unique per
owner; migration 0006 on an existing database."""

from __future__ import annotations

import csv
import functools
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import select

from deepracer_console import auth, quotas
from deepracer_console.app import create_app
from deepracer_console.db import Job, JobState, Model, open_database
from deepracer_console.settings import Settings

PASSWORD = "correct horse battery"
BODY = {"track": "reinvent2018", "max_minutes": 10}


def login(app, name: str) -> TestClient:
    c = TestClient(app)
    r = c.post("/api/auth/login", json={"username": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return c


def setup(tmp_path: Path) -> tuple[Settings, dict[str, int]]:
    settings = Settings(data_dir=tmp_path / "data", max_jobs=1, web_dist=tmp_path / "dist", sandbox="none")
    settings.make_dirs()
    sessions = open_database(settings.db_url)
    with sessions.begin() as db:
        users = [auth.User(username=name, password_hash=password_hash(), role=role) for name, role in
                 (("admin", auth.Role.ADMIN), ("alice", auth.Role.RACER), ("bob", auth.Role.RACER))]
        db.add_all(users)
        db.flush()
        ids = {u.username: u.id for u in users}
    return settings, ids


@functools.cache
def password_hash() -> str:
    return auth.hash_password(PASSWORD)  # argon2 is slow on purpose: one hash for every account here


def end_job(app, model_id: int, ran_minutes: float, state: JobState = JobState.FINISHED) -> None:
    """What the job runner does when a job ends, after it ran `ran_minutes` (its log last written then)."""
    sessions = app.state.console.sessions
    with sessions.begin() as db:
        job = db.scalars(select(Job).where(Job.model_id == model_id)).one()
        started = datetime.now(UTC) - timedelta(minutes=ran_minutes)
        job.started_at = started
        log = Path(job.log_path)
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("training...\n")
    with sessions.begin() as db:
        job = db.scalars(select(Job).where(Job.model_id == model_id)).one()
        job.state, job.finished_at = state, datetime.now(UTC)


def test_quota_refuses_with_the_usage(tmp_path: Path) -> None:
    settings, ids = setup(tmp_path)
    app = create_app(settings, start_jobs=False)
    admin, alice, bob = login(app, "admin"), login(app, "alice"), login(app, "bob")
    q = alice.get(f"/api/users/{ids['alice']}/quota").json()
    assert q["limits"] == quotas.DEFAULT_LIMITS and q["usage"]["models"] == 0  # DROA's default: unlimited
    assert bob.get(f"/api/users/{ids['alice']}/quota").status_code == 404  # not bob's business
    assert alice.put(f"/api/users/{ids['alice']}/quota", json={"models": 5}).status_code == 403
    r = admin.put(f"/api/users/{ids['alice']}/quota", json={"training_minutes_per_month": 25, "models": 5})
    assert r.status_code == 200 and r.json()["limits"]["training_minutes_per_month"] == 25
    assert admin.put(f"/api/users/{ids['alice']}/quota", json={"models": -5}).status_code == 422
    assert alice.post("/api/models", json={**BODY, "name": "one"}).status_code == 201
    assert alice.post("/api/models", json={**BODY, "name": "two"}).status_code == 201
    over = alice.post("/api/models", json={**BODY, "name": "three"})
    assert over.status_code == 429
    assert "training minutes per month 20 used + 10 asked > 25 allowed" in over.json()["detail"]
    assert "models 2/5" in over.json()["detail"] and "storage MB 0/unlimited" in over.json()["detail"]
    assert [m["name"] for m in alice.get("/api/models").json()] == ["two", "one"]  # nothing half-made
    assert alice.post("/api/models", json={**BODY, "name": "small", "max_minutes": 5}).status_code == 201
    usage = admin.get(f"/api/users/{ids['alice']}/quota").json()["usage"]
    assert usage["training_minutes_per_month"] == 25 and usage["models"] == 3 and usage["concurrent_jobs"] == 3
    assert bob.post("/api/models", json={**BODY, "name": "bobs"}).status_code == 201  # bob has no limits
    assert admin.post("/api/models", json={**BODY, "name": "admins"}).status_code == 201
    assert admin.get(f"/api/users/{ids['admin']}/quota").json()["usage"]["models"] == 1


def test_global_defaults_apply_until_a_user_has_an_override(tmp_path: Path) -> None:
    settings, ids = setup(tmp_path)
    app = create_app(settings, start_jobs=False)
    admin, alice, bob = login(app, "admin"), login(app, "alice"), login(app, "bob")
    assert admin.get("/api/quotas/defaults").json()["limits"] == quotas.DEFAULT_LIMITS
    assert alice.put("/api/quotas/defaults", json={"models": 1}).status_code == 403
    assert admin.put("/api/quotas/defaults", json={"models": None}).status_code == 422  # a default is a number
    assert admin.put("/api/quotas/defaults", json={"concurrent_jobs": -2}).json()["field"] == "concurrent_jobs"
    r = admin.put("/api/quotas/defaults", json={"models": 1, "concurrent_jobs": 4})
    assert r.status_code == 200 and r.json()["limits"]["models"] == 1 and r.json()["builtin"]["models"] == -1
    assert admin.put(f"/api/users/{ids['bob']}/quota", json={"models": 3}).status_code == 200
    assert alice.post("/api/models", json={**BODY, "name": "first"}).status_code == 201
    over = alice.post("/api/models", json={**BODY, "name": "second"})
    assert over.status_code == 429 and "models 1 used + 1 asked > 1 allowed" in over.json()["detail"]
    for name in ("b1", "b2", "b3"):
        assert bob.post("/api/models", json={**BODY, "name": name}).status_code == 201
    q = bob.get(f"/api/users/{ids['bob']}/quota").json()
    assert q["limits"]["models"] == 3 and q["overrides"]["models"] == 3 and q["limits"]["concurrent_jobs"] == 4
    # null: back to the default
    r = admin.put(f"/api/users/{ids['bob']}/quota", json={"models": None})
    assert r.json()["overrides"]["models"] is None and r.json()["limits"]["models"] == 1
    assert bob.post("/api/models", json={**BODY, "name": "b4"}).status_code == 429
    # the defaults are kept in the database: a new console reads them
    again = login(create_app(settings, start_jobs=False), "alice")
    assert again.get(f"/api/users/{ids['alice']}/quota").json()["limits"]["models"] == 1


def test_minutes_are_finalised_to_what_the_job_ran_and_counted_per_month(tmp_path: Path) -> None:
    settings, ids = setup(tmp_path)
    app = create_app(settings, start_jobs=False)
    admin, alice = login(app, "admin"), login(app, "alice")
    admin.put(f"/api/users/{ids['alice']}/quota", json={"training_minutes_per_month": 15})
    model = alice.post("/api/models", json={**BODY, "name": "short"}).json()
    quota = alice.get(f"/api/users/{ids['alice']}/quota").json()
    assert quota["usage"]["training_minutes_per_month"] == 10 and quota["usage"]["concurrent_jobs"] == 1  # reserved
    assert alice.post("/api/models", json={**BODY, "name": "refused"}).status_code == 429  # 10 + 10 > 15
    end_job(app, model["id"], ran_minutes=3.0)  # stopped after 3 of its 10 minutes
    usage = alice.get(f"/api/users/{ids['alice']}/quota").json()["usage"]
    assert 2.9 <= usage["training_minutes_per_month"] <= 3.2 and usage["concurrent_jobs"] == 0
    assert alice.post("/api/models", json={**BODY, "name": "now-it-fits"}).status_code == 201  # 3 + 10 <= 15
    # deleting a model does not give its minutes back
    assert alice.delete(f"/api/models/{model['id']}").status_code == 204
    assert alice.get(f"/api/users/{ids['alice']}/quota").json()["usage"]["training_minutes_per_month"] >= 12.9
    # a job never started uses nothing; a queued job stopped before it started is finalised to 0
    second = next(m for m in alice.get("/api/models").json() if m["name"] == "now-it-fits")
    assert alice.post(f"/api/models/{second['id']}/stop").status_code == 200
    assert 2.9 <= alice.get(f"/api/users/{ids['alice']}/quota").json()["usage"]["training_minutes_per_month"] <= 3.2
    # nor does a model deleted while its job was queued
    queued = alice.post("/api/models", json={**BODY, "name": "deleted-queued"}).json()
    assert alice.delete(f"/api/models/{queued['id']}").status_code == 204
    usage = alice.get(f"/api/users/{ids['alice']}/quota").json()["usage"]
    assert 2.9 <= usage["training_minutes_per_month"] <= 3.2 and usage["concurrent_jobs"] == 0
    # the minutes are per calendar month (UTC): last month's records do not count now
    with app.state.console.sessions.begin() as db:
        for record in db.scalars(select(quotas.UsageRecord)).all():
            record.created_at = record.created_at - timedelta(days=40)
    now = alice.get(f"/api/users/{ids['alice']}/quota").json()
    assert now["usage"]["training_minutes_per_month"] == 0
    earlier = datetime.now(UTC) - timedelta(days=40)
    past = alice.get(f"/api/users/{ids['alice']}/quota", params={"month": f"{earlier:%Y-%m}"}).json()
    assert past["month"] == f"{earlier:%Y-%m}" and past["usage"]["training_minutes_per_month"] > 2.9
    assert alice.get(f"/api/users/{ids['alice']}/quota", params={"month": "2026-13"}).status_code == 422


def test_evaluation_minutes_and_a_capped_reservation(tmp_path: Path) -> None:
    settings, ids = setup(tmp_path)
    app = create_app(settings, start_jobs=False)
    alice = login(app, "alice")
    model = alice.post("/api/models", json={**BODY, "name": "long", "max_minutes": 5}).json()
    end_job(app, model["id"], ran_minutes=8.0)  # ran past its budget: finalised to min(reserved, used)
    usage = alice.get(f"/api/users/{ids['alice']}/quota").json()["usage"]
    assert usage["training_minutes_per_month"] == 5


def test_storage_quota_counts_the_users_folders(tmp_path: Path) -> None:
    settings, ids = setup(tmp_path)
    app = create_app(settings, start_jobs=False)
    admin, alice, bob = login(app, "admin"), login(app, "alice"), login(app, "bob")
    admin.put(f"/api/users/{ids['alice']}/quota", json={"storage_mb": 2})
    model = alice.post("/api/models", json={**BODY, "name": "big"}).json()
    folder = settings.models_dir / str(model["id"])
    (folder / "training" / "checkpoints").mkdir(parents=True)
    (folder / "training" / "checkpoints" / "latest.zip").write_bytes(b"\0" * (3 * quotas.MIB))
    end_job(app, model["id"], ran_minutes=1.0)  # measured when its job ends
    usage = alice.get(f"/api/users/{ids['alice']}/quota").json()["usage"]
    assert 3.0 <= usage["storage_mb"] <= 3.1, usage
    over = alice.post("/api/models", json={**BODY, "name": "more"})
    assert over.status_code == 429 and "storage MB 3" in over.json()["detail"] and "2 allowed" in over.json()["detail"]
    assert bob.post("/api/models", json={**BODY, "name": "more"}).status_code == 201  # bob's storage is his own
    # deleting frees it at once
    assert alice.delete(f"/api/models/{model['id']}").status_code == 204
    assert alice.get(f"/api/users/{ids['alice']}/quota").json()["usage"]["storage_mb"] == 0
    assert alice.post("/api/models", json={**BODY, "name": "more"}).status_code == 201
    # a model never measured (e.g. from before migration 0006) is measured when the console starts
    mine = next(m for m in alice.get("/api/models").json() if m["name"] == "more")
    (settings.models_dir / str(mine["id"]) / "video.webm").write_bytes(b"\0" * quotas.MIB)
    restarted = login(create_app(settings, start_jobs=False), "alice")
    assert restarted.get(f"/api/users/{ids['alice']}/quota").json()["usage"]["storage_mb"] >= 1.0


def test_usage_table_and_csv_for_admins(tmp_path: Path) -> None:
    settings, ids = setup(tmp_path)
    app = create_app(settings, start_jobs=False)
    admin, alice, stranger = login(app, "admin"), login(app, "alice"), TestClient(app)
    admin.put("/api/quotas/defaults", json={"training_minutes_per_month": 600})
    admin.put(f"/api/users/{ids['bob']}/quota", json={"models": 2})
    alice.post("/api/models", json={**BODY, "name": "a", "max_minutes": 7})
    for path in ("/api/quotas/usage", "/api/quotas/usage.csv"):
        assert alice.get(path).status_code == 403 and stranger.get(path).status_code == 401
    table = admin.get("/api/quotas/usage").json()
    rows = {u["username"]: u for u in table["users"]}
    assert table["month"] == f"{datetime.now(UTC):%Y-%m}" and set(rows) == {"admin", "alice", "bob"}
    assert rows["alice"]["usage"]["training_minutes_per_month"] == 7 and rows["alice"]["usage"]["models"] == 1
    assert rows["alice"]["limits"]["training_minutes_per_month"] == 600 and rows["bob"]["limits"]["models"] == 2
    r = admin.get("/api/quotas/usage.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"] and ".csv" in r.headers["content-disposition"]
    lines = list(csv.reader(io.StringIO(r.text)))
    assert lines[0] == quotas.CSV_COLUMNS
    body = {line[0]: dict(zip(lines[0], line, strict=True)) for line in lines[1:]}
    assert set(body) == {"admin", "alice", "bob"}
    assert body["alice"]["training_minutes_per_month_used"] == "7"
    assert body["alice"]["training_minutes_per_month_limit"] == "600" and body["alice"]["models_used"] == "1"
    assert body["bob"]["models_limit"] == "2" and body["bob"]["storage_mb_limit"] == "unlimited"
    assert body["alice"]["role"] == "racer" and body["alice"]["month"] == table["month"]


def test_model_names_are_unique_per_owner(tmp_path: Path) -> None:
    settings, ids = setup(tmp_path)
    app = create_app(settings, start_jobs=False)
    alice, bob, admin = login(app, "alice"), login(app, "bob"), login(app, "admin")
    a = alice.post("/api/models", json={**BODY, "name": "my-model"})
    b = bob.post("/api/models", json={**BODY, "name": "my-model"})
    assert a.status_code == 201 and b.status_code == 201, (a.text, b.text)
    again = alice.post("/api/models", json={**BODY, "name": "my-model"})
    assert again.status_code == 409 and again.json()["field"] == "name"
    assert a.json()["training_folder"] != b.json()["training_folder"]  # files under the id, never the name
    assert (a.json()["owner_id"], b.json()["owner_id"]) == (ids["alice"], ids["bob"])  # admins tell them apart
    assert [m["name"] for m in bob.get("/api/models").json()] == ["my-model"]
    assert sorted(m["id"] for m in admin.get("/api/models").json()) == sorted([a.json()["id"], b.json()["id"]])


def test_migration_0006_keeps_existing_data(database_at) -> None:
    """A database made by revision 0005: owners, -1 overrides and jobs become owner_key, defaults, the ledger."""
    url, engine = database_at("0005")
    now = datetime.now(UTC).replace(tzinfo=None)
    with engine.begin() as c:
        for uid, name in ((1, "alice"), (2, "bob")):
            c.execute(sa.text("INSERT INTO users (id, username, password_hash, role, paused, created_at) "
                              "VALUES (:i, :n, 'x', 'racer', 0, :t)"), {"i": uid, "n": name, "t": now})
        for mid, name, minutes in ((1, "alices-model", 10), (2, "bobs-model", 30)):
            c.execute(sa.text(
                "INSERT INTO models (id, name, description, track, direction, race_type, algorithm, network, "
                "action_space_type, action_space, hyperparameters, reward_function, max_minutes, source, status, "
                "trained_seconds, created_at) VALUES (:i, :n, '', 'oval', 'counterclockwise', 'time_trial', 'ppo', "
                "'small', 'discrete', '[]', '{}', '', :m, 'created', 'ready', 0, :t)"), {"i": mid, "n": name, "m": minutes,
                                                                                    "t": now})
            c.execute(sa.text("INSERT INTO model_owners (model_id, user_id) VALUES (:i, :i)"), {"i": mid})
        c.execute(sa.text("INSERT INTO jobs (kind, model_id, state, resume, log_path, created_at, started_at, "
                          "finished_at) VALUES ('train', 1, 'finished', 0, 'x.log', :t, :s, :t)"),
                  {"t": now, "s": now - timedelta(minutes=4)})
        c.execute(sa.text("INSERT INTO user_quotas VALUES (1, -1, -1, -1, 5)"))
    engine.dispose()
    sessions = open_database(url)  # upgrades to head
    with sessions() as db:
        assert {m.name: m.owner_key for m in db.scalars(select(Model)).all()} == {"alices-model": 1, "bobs-model": 2}
        assert quotas.overrides_of(db, 1) == {"training_minutes_per_month": None, "evaluation_minutes_per_month": None,
                                              "concurrent_jobs": None, "models": 5, "storage_mb": None}
        usage = quotas.usage_of(db, 1)
        assert usage["training_minutes_per_month"] == 4 and usage["models"] == 1
    with sessions.begin() as db:  # bob may now have a model named as alice's
        db.add(Model(name="alices-model", owner_key=2, track="oval", action_space_type="discrete", action_space=[],
                     hyperparameters={}, reward_function=""))
    try:
        with sessions.begin() as db:
            db.add(Model(name="alices-model", owner_key=2, track="oval", action_space_type="discrete",
                         action_space=[], hyperparameters={}, reward_function=""))
    except sa.exc.IntegrityError:
        pass
    else:
        raise AssertionError("the same owner got two models of one name")

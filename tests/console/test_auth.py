"""Accounts: login, sessions, CSRF, throttling, and every API route called as each role and as a
stranger (IDOR): nothing of another racer's leaks."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from deepracer_console import auth
from deepracer_console.app import create_app
from deepracer_console.db import Evaluation, open_database
from deepracer_console.settings import Settings

PASSWORD = "correct horse battery"
GOOD = {"name": "alices-model", "track": "reinvent2018", "max_minutes": 10}


@pytest.fixture
def app_with_users(tmp_path: Path) -> Iterator:
    settings = Settings(data_dir=tmp_path / "data", max_jobs=1, web_dist=tmp_path / "dist", sandbox="none")
    settings.make_dirs()
    sessions = open_database(settings.db_url)
    with sessions.begin() as db:
        for name, role in (("admin", auth.Role.ADMIN), ("fac", auth.Role.RACE_FACILITATOR),
                           ("alice", auth.Role.RACER), ("bob", auth.Role.RACER)):
            auth.create_user(db, name, PASSWORD, role)
    app = create_app(settings, start_jobs=False)
    yield app


def login(app, name: str) -> TestClient:
    c = TestClient(app)
    r = c.post("/api/auth/login", json={"username": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user"]["username"] == name and body["csrf_token"]
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    c.headers["X-CSRF-Token"] = body["csrf_token"]
    return c


def test_login_logout_csrf_throttle_pause(app_with_users) -> None:
    app = app_with_users
    stranger = TestClient(app)
    assert stranger.get("/api/models").status_code == 401
    assert stranger.get("/api/auth/me").json() == {"logged_in": False, "single_user": False, "user": None,
                                                   "csrf_token": None}
    assert stranger.post("/api/auth/login", json={"username": "alice", "password": "wrong-one"}).status_code == 401
    alice = login(app, "alice")
    assert alice.get("/api/auth/me").json()["user"]["role"] == "racer"
    # a reloaded page gets the session's CSRF token back from /api/auth/me (the cookie is HttpOnly)
    assert alice.get("/api/auth/me").json()["csrf_token"] == alice.headers["X-CSRF-Token"]
    # CSRF: a state change with the session but without the token is refused
    token = alice.headers.pop("X-CSRF-Token")
    assert alice.post("/api/models", json=GOOD).status_code == 403
    alice.headers["X-CSRF-Token"] = "not-the-token"
    assert alice.post("/api/models", json=GOOD).status_code == 403
    alice.headers["X-CSRF-Token"] = token
    assert alice.post("/api/models", json=GOOD).status_code == 201
    # logout revokes the session server-side: the old cookie no longer works
    old_cookie = dict(alice.cookies)
    assert alice.post("/api/auth/logout").status_code == 204
    replay = TestClient(app, cookies=old_cookie)
    assert replay.get("/api/models").status_code == 401
    # throttling: five failed attempts a minute per username and address, then 429 even for the right one
    for _ in range(auth.LOGIN_ATTEMPTS - 1):
        assert stranger.post("/api/auth/login", json={"username": "carl", "password": "nope-nope"}).status_code == 401
    assert stranger.post("/api/auth/login", json={"username": "bob", "password": PASSWORD}).status_code == 200
    assert stranger.post("/api/auth/login", json={"username": "carl", "password": "nope-nope"}).status_code == 401
    assert stranger.post("/api/auth/login", json={"username": "carl", "password": "nope-nope"}).status_code == 429
    # admins pause a user: their sessions end and they cannot log in
    alice = login(app, "alice")
    admin = login(app, "admin")
    users = {u["username"]: u for u in admin.get("/api/users").json()}
    assert set(users) == {"admin", "fac", "alice", "bob"} and "password_hash" not in users["alice"]
    assert admin.put(f"/api/users/{users['alice']['id']}", json={"paused": True}).json()["paused"] is True
    assert alice.get("/api/models").status_code == 401
    r = TestClient(app).post("/api/auth/login", json={"username": "alice", "password": PASSWORD})
    assert r.status_code == 403 and "paused" in r.json()["detail"]
    # the admin creates a user; a weak password is refused with the field
    r = admin.post("/api/users", json={"username": "carol", "password": "short", "role": "racer"})
    assert r.status_code == 422 and r.json()["field"] == "password"
    r = admin.post("/api/users", json={"username": "carol", "password": PASSWORD, "role": "race_facilitator"})
    assert r.status_code == 201 and r.json()["role"] == "race_facilitator"
    assert login(app, "bob").post("/api/users", json={"username": "x", "password": PASSWORD}).status_code == 403


def _fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)(:path)?\}", lambda m: values.get(m.group(1), "1"), path)


def test_every_route_as_every_role_and_a_stranger(app_with_users) -> None:
    app = app_with_users
    alice, bob, fac, admin = (login(app, n) for n in ("alice", "bob", "fac", "admin"))
    model = alice.post("/api/models", json=GOOD).json()
    sessions = app.state.console.sessions
    with sessions.begin() as db:
        e = Evaluation(model_id=model["id"], track="reinvent2018", trials=1)
        db.add(e)
        db.flush()
        evaluation_id = e.id
    values = {"model_id": str(model["id"]), "evaluation_id": str(evaluation_id), "name": "reinvent2018",
              "path": "index.html", "user_id": "1", "race_id": "1"}
    routes = [(m, r.path) for r in app.routes if isinstance(r, APIRoute) and r.path.startswith("/api")
              for m in r.methods if m != "HEAD"]
    assert len(routes) > 25
    missing = [r for r in routes if r not in auth.ROUTE_POLICY]
    assert not missing, f"API routes without an authorization policy: {missing}"
    stranger = TestClient(app)
    for method, path in routes:
        url = _fill(path, values)
        policy = auth.ROUTE_POLICY[(method, path)]
        if policy != auth.Policy.PUBLIC:
            assert stranger.request(method, url).status_code == 401, (method, path)
        if path.startswith("/api/auth/"):
            continue  # login/logout/me: tested above (a logout here would end bob's session)
        # bob (another racer) never sees alice's things
        got = bob.request(method, url, json={} if method in auth.UNSAFE else None)
        if "{model_id}" in path or "{evaluation_id}" in path:
            assert got.status_code in (404, 422), (method, path, got.status_code, got.text[:200])
            assert "alices-model" not in got.text
        if policy in (auth.Policy.ADMIN, auth.Policy.FACILITATOR):
            assert got.status_code == 403, (method, path, got.status_code)
            assert fac.request(method, url, json={}).status_code != 401
    assert bob.get("/api/models").json() == []
    assert [m["name"] for m in alice.get("/api/models").json()] == ["alices-model"]
    assert [m["name"] for m in admin.get("/api/models").json()] == ["alices-model"]
    assert alice.get(f"/api/evaluations/{evaluation_id}").status_code == 200
    # a racer cannot clone another racer's model (its weights)
    r = bob.post("/api/models", json={**GOOD, "name": "bobs-clone", "clone_of": model["id"]})
    assert r.status_code == 404 and "alices-model" not in r.text
    assert bob.delete(f"/api/models/{model['id']}").status_code == 404
    # a facilitator sees every model but changes only their own
    assert fac.get(f"/api/models/{model['id']}").status_code == 200
    assert fac.post(f"/api/models/{model['id']}/stop").status_code == 404
    assert fac.delete(f"/api/models/{model['id']}").status_code == 404
    assert alice.get(f"/api/models/{model['id']}").status_code == 200  # still there


def test_single_user_on_loopback_without_accounts(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", max_jobs=1, web_dist=tmp_path / "dist", sandbox="none")
    with TestClient(create_app(settings, start_jobs=False)) as c:
        assert c.get("/api/auth/me").json()["single_user"] is True
        assert c.post("/api/models", json=GOOD).status_code == 201


@pytest.mark.integration
def test_admin_create_then_the_server_requires_login(console_process, tmp_path: Path) -> None:
    import subprocess
    import sys

    from deepracer_console.server import check_host

    data = console_process.data
    r = subprocess.run([sys.executable, "-m", "deepracer.cli", "console", "admin", "create", "teacher", "--data",
                        str(data), "--password", PASSWORD], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    again = subprocess.run([sys.executable, "-m", "deepracer.cli", "console", "admin", "create", "teacher",
                            "--data", str(data), "--password", PASSWORD], capture_output=True, text=True, timeout=120)
    assert again.returncode != 0 and "exists already" in again.stderr
    check_host("0.0.0.0", accounts_exist=True)  # accounts exist: other addresses may be served
    console_process.start()
    with console_process.api() as api:
        assert api.get("/api/models").status_code == 401
        assert api.get("/api/health").status_code == 200
        r = api.post("/api/auth/login", json={"username": "teacher", "password": PASSWORD})
        assert r.status_code == 200 and r.json()["user"]["role"] == "admin"
        api.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        assert api.get("/api/models").json() == []
        assert api.post("/api/users", json={"username": "student1", "password": PASSWORD}).status_code == 201

"""Quotas: an admin sets a racer's limits; a job over quota is refused (429) with the usage shown."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from deepracer_console import auth
from deepracer_console.app import create_app
from deepracer_console.db import open_database
from deepracer_console.settings import Settings

PASSWORD = "correct horse battery"


def login(app, name: str) -> TestClient:
    c = TestClient(app)
    r = c.post("/api/auth/login", json={"username": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return c


def test_quota_refuses_with_the_usage(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", max_jobs=1, web_dist=tmp_path / "dist", sandbox="none")
    settings.make_dirs()
    sessions = open_database(settings.db_url)
    with sessions.begin() as db:
        admin_id = auth.create_user(db, "admin", PASSWORD, auth.Role.ADMIN).id
        alice_id = auth.create_user(db, "alice", PASSWORD, auth.Role.RACER).id
        auth.create_user(db, "bob", PASSWORD, auth.Role.RACER)
    app = create_app(settings, start_jobs=False)
    admin, alice, bob = login(app, "admin"), login(app, "alice"), login(app, "bob")
    q = alice.get(f"/api/users/{alice_id}/quota").json()
    assert q["limits"]["models"] == -1 and q["usage"]["models"] == 0  # DROA's default: unlimited
    assert bob.get(f"/api/users/{alice_id}/quota").status_code == 404  # not bob's business
    assert alice.put(f"/api/users/{alice_id}/quota", json={"models": 5}).status_code == 403
    r = admin.put(f"/api/users/{alice_id}/quota", json={"training_minutes_per_month": 25, "models": 5})
    assert r.status_code == 200 and r.json()["limits"]["training_minutes_per_month"] == 25
    assert admin.put(f"/api/users/{alice_id}/quota", json={"models": -5}).status_code == 422
    body = {"track": "reinvent2018", "max_minutes": 10}
    assert alice.post("/api/models", json={**body, "name": "one"}).status_code == 201
    assert alice.post("/api/models", json={**body, "name": "two"}).status_code == 201
    over = alice.post("/api/models", json={**body, "name": "three"})
    assert over.status_code == 429
    assert "training minutes per month 20 used + 10 asked > 25 allowed" in over.json()["detail"]
    assert "models 2/5" in over.json()["detail"]
    assert [m["name"] for m in alice.get("/api/models").json()] == ["two", "one"]  # nothing half-made
    assert alice.post("/api/models", json={**body, "name": "small", "max_minutes": 5}).status_code == 201
    usage = admin.get(f"/api/users/{alice_id}/quota").json()["usage"]
    assert usage["training_minutes_per_month"] == 25 and usage["models"] == 3 and usage["concurrent_jobs"] == 3
    assert bob.post("/api/models", json={**body, "name": "bobs"}).status_code == 201  # bob has no limits
    assert admin.post("/api/models", json={**body, "name": "admins"}).status_code == 201
    assert admin.get(f"/api/users/{admin_id}/quota").json()["usage"]["models"] == 1

"""The console on a real PostgreSQL server (Debian's), started by the test on a free 127.0.0.1 port:
the same models and migrations, the API's core paths, accounts and owner checks."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import free_port
from fastapi.testclient import TestClient

from deepracer_console import auth
from deepracer_console.app import create_app
from deepracer_console.db import Evaluation, Model, open_database
from deepracer_console.settings import Settings

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery"
TRIAL = {"trial": 1, "status": "Lap complete", "progress": 100.0, "lap_time_s": 12.5, "elapsed_s": 12.5,
         "off_track": 0, "resets": 0}


def _pg_bin() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(versions[-1]).parent if versions else None


def _missing(reason: str) -> None:
    if os.environ.get("CI"):  # any non-empty CI (.ci/run sets CI=true)
        pytest.fail(f"CI=1: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    bindir = _pg_bin()
    if bindir is None:
        _missing("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    try:
        import psycopg
    except ModuleNotFoundError:
        _missing("psycopg is not installed (pip install -e '.[console]')")
    as_user: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="deepracer-pg-"))
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        try:
            pg = pwd.getpwnam("postgres")
        except KeyError:
            _missing("running as root and there is no 'postgres' user to run the server as")
        os.chown(root, pg.pw_uid, pg.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, sock, port = root / "data", root / "sock", free_port()
    subprocess.run([*as_user, "mkdir", str(sock)], check=True)
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                    "--no-sync", "-E", "UTF8"], check=True, capture_output=True, timeout=120)
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {sock} -c fsync=off -c full_page_writes=off"
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w",
                    "-t", "60", "start"], check=True, capture_output=True, timeout=120)
    try:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname=postgres", autocommit=True) as c:
            c.execute("CREATE DATABASE console")
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/console"
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                       capture_output=True, timeout=120)
        shutil.rmtree(root, ignore_errors=True)


def test_console_api_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", max_jobs=1, web_dist=tmp_path / "dist", sandbox="none",
                        database_url=postgres_url)
    settings.make_dirs()
    sessions = open_database(postgres_url)
    open_database(postgres_url)  # migrating again changes nothing
    with sessions.begin() as db:
        auth.create_user(db, "alice", PASSWORD, auth.Role.RACER)
        auth.create_user(db, "bob", PASSWORD, auth.Role.RACER)
        auth.create_user(db, "admin", PASSWORD, auth.Role.ADMIN)
    app = create_app(settings, start_jobs=False)

    def login(name: str) -> TestClient:
        c = TestClient(app)
        r = c.post("/api/auth/login", json={"username": name, "password": PASSWORD})
        assert r.status_code == 200, r.text
        c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        return c

    alice, bob, admin = login("alice"), login("bob"), login("admin")
    assert alice.get("/api/health").json()["database"] == "postgresql"
    r = alice.post("/api/models", json={"name": "on-postgres", "track": "reinvent2018", "max_minutes": 10,
                                        "hyperparameters": {"lr": 0.0001}})
    assert r.status_code == 201, r.text
    model = r.json()
    assert model["status"] == "queued" and model["hyperparameters"]["lr"] == 0.0001
    dup = alice.post("/api/models", json={"name": "on-postgres", "track": "reinvent2018"})
    assert dup.status_code == 409 and dup.json()["field"] == "name"
    assert [m["name"] for m in alice.get("/api/models?sort=name&order=asc").json()] == ["on-postgres"]
    assert alice.get("/api/models?q=POSTGRES").json()[0]["id"] == model["id"]  # ilike on PostgreSQL
    assert bob.get("/api/models").json() == []
    assert bob.get(f"/api/models/{model['id']}").status_code == 404
    assert admin.get(f"/api/models/{model['id']}").json()["name"] == "on-postgres"
    with sessions.begin() as db:
        row = db.get(Model, model["id"])
        assert row is not None and row.created_at.tzinfo is not None  # UTC kept on PostgreSQL too
        e = Evaluation(model_id=row.id, track="reinvent2018", trials=2, result={"trials": [TRIAL]})
        db.add(e)
        db.flush()
        eid = e.id
    assert alice.get(f"/api/evaluations/{eid}").json()["trials"][0]["lap_time_s"] == 12.5
    assert bob.get(f"/api/evaluations/{eid}").status_code == 404
    assert alice.post("/api/auth/logout").status_code == 204
    assert alice.get("/api/models").status_code == 401
    assert login("alice").delete(f"/api/models/{model['id']}").status_code == 204
    with sessions() as db:
        assert db.get(Model, model["id"]) is None

"""`deepracer console backup` / `restore`: accounts, models and their files come back; a restore
never writes over a data folder in use."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import test_postgresql
from fastapi.testclient import TestClient

from deepracer_console import auth
from deepracer_console.app import create_app
from deepracer_console.db import open_database
from deepracer_console.settings import Settings

PASSWORD = "correct horse battery"
postgres_url = test_postgresql.postgres_url  # the real PostgreSQL server that test starts (a fixture)


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deepracer.cli", "console", *args], capture_output=True, text=True,
                          timeout=120)


def test_backup_and_restore(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = Settings(data_dir=data, web_dist=tmp_path / "dist", sandbox="none")
    settings.make_dirs()
    with open_database(settings.db_url).begin() as db:
        auth.create_user(db, "teacher", PASSWORD, auth.Role.ADMIN)
    with TestClient(create_app(settings, start_jobs=False)) as c:
        token = c.post("/api/auth/login", json={"username": "teacher", "password": PASSWORD}).json()["csrf_token"]
        c.headers["X-CSRF-Token"] = token
        model = c.post("/api/models", json={"name": "kept", "track": "reinvent2018"}).json()
    archive = tmp_path / "backup.tar.gz"
    r = cli("backup", str(archive), "--data", str(data))
    assert r.returncode == 0, r.stderr
    assert not cli("restore", str(archive), "--data", str(data)).returncode == 0  # not over a folder in use
    again = tmp_path / "restored"
    r = cli("restore", str(archive), "--data", str(again))
    assert r.returncode == 0, r.stderr
    reward = again / "models" / str(model["id"]) / "inputs" / "reward_function.py"
    assert reward.read_text() == (data / "models" / str(model["id"]) / "inputs" / "reward_function.py").read_text()
    restored = Settings(data_dir=again, web_dist=tmp_path / "dist", sandbox="none")
    with TestClient(create_app(restored, start_jobs=False)) as c:
        assert c.get("/api/models").status_code == 401  # the accounts came back too
        r = c.post("/api/auth/login", json={"username": "teacher", "password": PASSWORD})
        assert r.status_code == 200
        assert [m["name"] for m in c.get("/api/models").json()] == ["kept"]
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not a tarball")
    r = cli("restore", str(bad), "--data", str(tmp_path / "other"))
    assert r.returncode != 0 and "cannot restore" in r.stderr


def _make_data(settings: Settings) -> dict:
    settings.make_dirs()
    with open_database(settings.db_url).begin() as db:
        auth.create_user(db, "teacher", PASSWORD, auth.Role.ADMIN)
    with TestClient(create_app(settings, start_jobs=False)) as c:
        token = c.post("/api/auth/login", json={"username": "teacher", "password": PASSWORD}).json()["csrf_token"]
        c.headers["X-CSRF-Token"] = token
        return c.post("/api/models", json={"name": "kept", "track": "reinvent2018"}).json()


def _logs_in_and_lists(settings: Settings) -> list[str]:
    with TestClient(create_app(settings, start_jobs=False)) as c:
        r = c.post("/api/auth/login", json={"username": "teacher", "password": PASSWORD})
        assert r.status_code == 200, r.text
        return [m["name"] for m in c.get("/api/models").json()]


def test_backup_and_restore_with_shared_storage(tmp_path: Path) -> None:
    """With --shared-storage (Ray) the models and tracks there are backed up and restored there."""
    settings = Settings(data_dir=tmp_path / "data", shared_storage=tmp_path / "shared", web_dist=tmp_path / "dist",
                        sandbox="none")
    model = _make_data(settings)
    reward = tmp_path / "shared" / "models" / str(model["id"]) / "inputs" / "reward_function.py"
    assert reward.is_file() and not (tmp_path / "data" / "models").exists()
    archive = tmp_path / "backup.tar.gz"
    r = cli("backup", str(archive), "--data", str(tmp_path / "data"), "--shared-storage", str(tmp_path / "shared"))
    assert r.returncode == 0, r.stderr
    r = cli("restore", str(archive), "--data", str(tmp_path / "data2"), "--shared-storage", str(tmp_path / "shared"))
    assert r.returncode != 0 and "not empty" in r.stderr  # never over the shared storage in use
    r = cli("restore", str(archive), "--data", str(tmp_path / "data2"), "--shared-storage", str(tmp_path / "shared2"))
    assert r.returncode == 0, r.stderr
    again = tmp_path / "shared2" / "models" / str(model["id"]) / "inputs" / "reward_function.py"
    assert again.read_text() == reward.read_text()
    assert not (tmp_path / "data2" / "models").exists()
    restored = Settings(data_dir=tmp_path / "data2", shared_storage=tmp_path / "shared2", web_dist=tmp_path / "dist",
                        sandbox="none")
    assert _logs_in_and_lists(restored) == ["kept"]


@pytest.mark.integration
def test_backup_and_restore_postgresql(postgres_url: str, tmp_path: Path) -> None:
    """pg_dump into the archive, pg_restore into a new empty database; refusals name the problem."""
    import psycopg
    from sqlalchemy.engine import make_url

    settings = Settings(data_dir=tmp_path / "data", database_url=postgres_url, web_dist=tmp_path / "dist",
                        sandbox="none")
    model = _make_data(settings)
    archive = tmp_path / "pg.tar.gz"
    r = cli("backup", str(archive), "--data", str(tmp_path / "data"), "--database", postgres_url)
    assert r.returncode == 0, r.stderr
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert {"database.pgdump", "backup.json"} <= names and "console.db" not in names
    assert f"models/{model['id']}/inputs/reward_function.py" in names

    u = make_url(postgres_url)
    with psycopg.connect(f"host={u.host} port={u.port} user={u.username} dbname=postgres", autocommit=True) as c:
        c.execute("CREATE DATABASE restored")
    target = postgres_url.rsplit("/", 1)[0] + "/restored"
    r = cli("restore", str(archive), "--data", str(tmp_path / "data2"))
    assert r.returncode != 0 and "holds a PostgreSQL database" in r.stderr and "--database" in r.stderr
    r = cli("restore", str(archive), "--data", str(tmp_path / "data2"), "--database", postgres_url)
    assert r.returncode != 0 and "not empty" in r.stderr  # never over the database in use
    assert not (tmp_path / "data2").exists() or not any((tmp_path / "data2").iterdir())
    r = cli("restore", str(archive), "--data", str(tmp_path / "data2"), "--database", target)
    assert r.returncode == 0, r.stderr
    restored = Settings(data_dir=tmp_path / "data2", database_url=target, web_dist=tmp_path / "dist", sandbox="none")
    assert _logs_in_and_lists(restored) == ["kept"]  # accounts and models came back in PostgreSQL
    again = tmp_path / "data2" / "models" / str(model["id"]) / "inputs" / "reward_function.py"
    assert again.is_file()
    sqlite_archive = tmp_path / "sqlite.tar.gz"
    lite = Settings(data_dir=tmp_path / "lite", web_dist=tmp_path / "dist", sandbox="none")
    _make_data(lite)
    assert cli("backup", str(sqlite_archive), "--data", str(tmp_path / "lite")).returncode == 0
    r = cli("restore", str(sqlite_archive), "--data", str(tmp_path / "data3"), "--database", target)
    assert r.returncode != 0 and "holds an SQLite database" in r.stderr

"""`deepracer console backup` / `restore`: accounts, models and their files come back; a restore
never writes over a data folder in use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from deepracer_console import auth
from deepracer_console.app import create_app
from deepracer_console.db import open_database
from deepracer_console.settings import Settings

PASSWORD = "correct horse battery"


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

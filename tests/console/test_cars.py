"""Cars: the registry (facilitators register and change, admins delete; the token is encrypted at
rest and never returned), and uploading a racer's model to a car through the REAL car console
app (deepracer.device_console) served on a 127.0.0.1 port: login, upload, select; wrong token,
unreachable car and a car that refuses the model answer 502 naming the car."""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import BUNDLED_MODEL, free_port
from fastapi.testclient import TestClient

from deepracer_console import auth
from deepracer_console.app import create_app
from deepracer_console.db import open_database
from deepracer_console.settings import Settings

PASSWORD = "correct horse battery"
CAR_TOKEN = "asset-tag-7f3k9q"  # the car console's password


@pytest.fixture
def app(tmp_path: Path, monkeypatch) -> Iterator:
    from argon2 import PasswordHasher

    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))  # fast
    settings = Settings(data_dir=tmp_path / "data", max_jobs=1, web_dist=tmp_path / "dist", sandbox="none")
    settings.make_dirs()
    sessions = open_database(settings.db_url)
    with sessions.begin() as db:
        for name, role in (("admin", auth.Role.ADMIN), ("fac", auth.Role.RACE_FACILITATOR),
                           ("alice", auth.Role.RACER)):
            auth.create_user(db, name, PASSWORD, role)
    yield create_app(settings, start_jobs=False)


def login(app, name: str) -> TestClient:
    c = TestClient(app)
    r = c.post("/api/auth/login", json={"username": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return c


def test_registry_roles_validation_and_the_token_kept_secret(app, tmp_path: Path) -> None:
    fac, admin, alice, stranger = login(app, "fac"), login(app, "admin"), login(app, "alice"), TestClient(app)
    r = fac.post("/api/cars", json={"name": "car-1", "address": "http://10.0.0.11:8080/", "token": CAR_TOKEN})
    assert r.status_code == 201, r.text
    car = r.json()
    assert car["address"] == "http://10.0.0.11:8080" and car["token_hint"] == CAR_TOKEN[-2:]
    seen = [r.text]
    for bad, field in (({"name": "car 2", "address": "http://x", "token": "t"}, "name"),
                       ({"name": "car-2", "address": "ftp://x", "token": "t"}, "address"),
                       ({"name": "car-2", "address": "http://x/api", "token": "t"}, "address"),
                       ({"name": "car-2", "address": "http://me:pw@x", "token": "t"}, "address"),
                       ({"name": "car-2", "address": "http://x:99999", "token": "t"}, "address"),
                       ({"name": "car-2", "address": "http://x", "token": ""}, "token"),
                       ({"name": "car-2", "address": "http://x", "token": "t", "colour": "red"}, "colour"),
                       ({"name": "car-1", "address": "http://x", "token": "t"}, "name")):
        got = fac.post("/api/cars", json=bad)
        assert got.status_code in (409, 422) and got.json()["field"] == field, (bad, got.text)
    other = fac.post("/api/cars", json={"name": "car-2", "address": "http://10.0.0.12:8080", "token": "tok-tok-2"})
    taken = fac.put(f"/api/cars/{other.json()['id']}", json={"name": "car-1"})
    assert taken.status_code == 409 and taken.json()["field"] == "name"
    for bad, field in (({"address": "car-1.local"}, "address"), ({"token": " x "}, "token"), ({"name": ""}, "name")):
        got = fac.put(f"/api/cars/{other.json()['id']}", json=bad)
        assert got.status_code == 422 and got.json()["field"] == field, (bad, got.text)
    seen += [fac.get("/api/cars").text, admin.get(f"/api/cars/{car['id']}").text]
    updated = fac.put(f"/api/cars/{car['id']}", json={"address": "https://car-1.local:8443", "token": "new-token-42"})
    assert updated.status_code == 200 and updated.json()["token_hint"] == "42"
    seen.append(updated.text)
    assert all(CAR_TOKEN not in text and "new-token-42" not in text for text in seen)
    # encrypted at rest, with a key that is only in the data folder (owner-only)
    db_bytes = b"".join(p.read_bytes() for p in (tmp_path / "data").glob("*.db*"))
    assert b"new-token-42" not in db_bytes and CAR_TOKEN.encode() not in db_bytes
    key = tmp_path / "data" / "car-tokens.key"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    # who may do what: racers and strangers nothing; facilitators everything but delete (DREM: admins)
    cid = car["id"]
    calls = [("GET", "/api/cars", None), ("POST", "/api/cars", {"name": "x", "address": "http://x", "token": "t"}),
             ("GET", f"/api/cars/{cid}", None), ("PUT", f"/api/cars/{cid}", {"name": "y"}),
             ("DELETE", f"/api/cars/{cid}", None), ("POST", f"/api/cars/{cid}/check", None),
             ("POST", f"/api/cars/{cid}/model", {"model_id": 1})]
    for method, url, body in calls:
        assert stranger.request(method, url, json=body).status_code == 401, url
        got = alice.request(method, url, json=body)
        assert got.status_code == 403 and CAR_TOKEN not in got.text, url
    assert fac.delete(f"/api/cars/{cid}").status_code == 403
    assert admin.delete(f"/api/cars/{cid}").status_code == 204
    assert fac.get(f"/api/cars/{cid}").status_code == 404


# -- the real car console ----------------------------------------------------------------------------

class InMemoryCar:
    """The car's ROS side (inference_node's `model` parameter) kept in memory, as the car console's own
    tests do; everything above it — HTTP, sessions, CSRF, upload checks, the models folder — is the real
    device console app."""

    def __init__(self) -> None:
        self.model = ""
        self.refuse: str | None = None

    def active_model(self) -> str:
        return self.model

    def mode(self) -> str:
        return "stopped"

    def load_model(self, path: str) -> None:
        from deepracer.device_console.backend import BackendError
        from deepracer.model.package import load_model_package

        if self.refuse:
            raise BackendError(self.refuse)
        if path:
            load_model_package(path)
        self.model = path


class CarServer:
    def __init__(self, folder: Path) -> None:
        import uvicorn

        from deepracer.device_console.app import ConsoleSettings
        from deepracer.device_console.app import create_app as car_app
        from deepracer.device_console.auth import PasswordCheck, write_password_file
        from deepracer.device_console.model_store import ModelStore

        self.backend = InMemoryCar()
        self.models = folder / "models"
        settings = ConsoleSettings(password=PasswordCheck.from_file(write_password_file(folder / "pw", CAR_TOKEN)),
                                   models=ModelStore(self.models))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(car_app(self.backend, settings), host="127.0.0.1",
                                                    port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> CarServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "the car console did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def import_model(client: TestClient, name: str) -> int:
    with BUNDLED_MODEL.open("rb") as f:
        r = client.post("/api/models/import", files={"file": (f"{name}.tar.gz", f.read())}, data={"name": name})
    assert r.status_code == 201, r.text
    return r.json()["model"]["id"]


@pytest.mark.integration
def test_upload_the_next_racers_model_to_a_real_car_console(app, tmp_path: Path) -> None:
    if not BUNDLED_MODEL.is_file():
        pytest.fail(f"{BUNDLED_MODEL} is missing (it is part of the repository)")
    fac, alice = login(app, "fac"), login(app, "alice")
    model_id = import_model(alice, "alices-car")
    with CarServer(tmp_path / "car") as car:
        cid = fac.post("/api/cars", json={"name": "car-3", "address": car.url, "token": CAR_TOKEN}).json()["id"]
        check = fac.post(f"/api/cars/{cid}/check")
        assert check.status_code == 200, check.text
        assert check.json()["reachable"] and check.json()["models"] == []  # a car with no model of its own yet
        r = fac.post(f"/api/cars/{cid}/model", json={"model_id": model_id})
        assert r.status_code == 200, r.text
        assert r.json()["name_on_car"] == "alice-alices-car" and r.json()["active"] == "alice-alices-car"
        stored = car.models / "alice-alices-car"
        assert (stored / "model.onnx").is_file() and (stored / "model_metadata.json").is_file()
        assert car.backend.model == str(stored)  # inference_node was told to load it
        assert "alice-alices-car" in fac.post(f"/api/cars/{cid}/check").json()["models"]
        again = fac.post(f"/api/cars/{cid}/model", json={"model_id": model_id, "select": False})
        assert again.status_code == 200  # a second upload replaces it on the car
        # the car refuses to load it: 502 with the car's reason
        car.backend.refuse = "inference_node: the model needs a LIDAR this car does not have"
        refused = fac.post(f"/api/cars/{cid}/model", json={"model_id": model_id})
        assert refused.status_code == 502 and "car-3" in refused.json()["detail"]
        assert "LIDAR" in refused.json()["detail"] and refused.json()["field"] == "car"
        car.backend.refuse = None
        # a wrong token: 502 naming the car and saying why
        fac.put(f"/api/cars/{cid}", json={"token": "not-the-password"})
        wrong = fac.post(f"/api/cars/{cid}/model", json={"model_id": model_id})
        assert wrong.status_code == 502 and "car-3" in wrong.json()["detail"] and "wrong password" in \
            wrong.json()["detail"]
        assert fac.post(f"/api/cars/{cid}/check").status_code == 502
    # the car is gone (nothing listens on its port any more)
    gone = fac.post(f"/api/cars/{cid}/model", json={"model_id": model_id})
    assert gone.status_code == 502 and "car-3" in gone.json()["detail"] and "unreachable" in gone.json()["detail"]
    # an untrained model is refused before any car is asked
    untrained = alice.post("/api/models", json={"name": "fresh", "track": "reinvent2018", "max_minutes": 5}).json()
    r = fac.post(f"/api/cars/{cid}/model", json={"model_id": untrained["id"]})
    assert r.status_code == 409 and r.json()["field"] == "model_id"
    assert fac.post(f"/api/cars/{cid}/model", json={"model_id": 999}).json()["field"] == "model_id"

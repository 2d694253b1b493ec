"""The car's web console without ROS: auth, CSRF, throttling, every control endpoint, uploads."""

from __future__ import annotations

import io
import stat
import tarfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from fake_backend import FakeCar
from fastapi.testclient import TestClient

from deepracer.device_console.app import ConsoleSettings, create_app
from deepracer.device_console.auth import (
    CSRF_HEADER,
    SESSION_COOKIE,
    LoginThrottle,
    PasswordCheck,
    write_password_file,
)
from deepracer.device_console.model_store import ModelStore
from deepracer.model.reference_net import make_fixed_package
from deepracer.model.tarball import pack_model

PASSWORD = "correct-horse-battery"


@pytest.fixture
def car() -> FakeCar:
    return FakeCar()


@pytest.fixture
def settings(tmp_path) -> ConsoleSettings:
    pw = write_password_file(tmp_path / "console-password", PASSWORD)
    return ConsoleSettings(password=PasswordCheck.from_file(pw), models=ModelStore(tmp_path / "models", max_upload_bytes=2_000_000))


@pytest.fixture
def client(car, settings) -> TestClient:
    return TestClient(create_app(car, settings), client=("10.0.0.7", 5000))


def login(client: TestClient) -> dict[str, str]:
    r = client.post("/api/login", json={"password": PASSWORD})
    assert r.status_code == 200, r.text
    return {CSRF_HEADER: r.json()["csrf_token"]}


@pytest.fixture(scope="module")
def good_model(tmp_path_factory) -> Path:
    folder = make_fixed_package(tmp_path_factory.mktemp("pkg") / "fixed-model", [0.1, 0.2, 0.3, 0.2, 0.2])
    return pack_model(folder, tmp_path_factory.mktemp("tar") / "fixed-model.tar.gz")


def tar_with(files: dict[str, bytes], path: Path) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


# -- auth ---------------------------------------------------------------------------------------


def api_routes(app) -> list[tuple[str, str]]:
    out = []
    for route in app.routes:
        path = getattr(route, "path", "")
        if not path.startswith("/api/") or path in ("/api/login", "/api/openapi.json", "/api/docs", "/api/docs/oauth2-redirect"):
            continue
        for method in route.methods - {"HEAD", "OPTIONS"}:
            out.append((method, path.replace("{name}", "bundled")))
    return out


def test_every_api_endpoint_refuses_without_a_session(client, car):
    routes = api_routes(client.app)
    assert {("POST", "/api/mode"), ("POST", "/api/estop"), ("POST", "/api/teleop"), ("GET", "/api/camera"),
            ("POST", "/api/models"), ("PUT", "/api/calibration"), ("POST", "/api/calibration/pulse")} <= set(routes)
    for method, path in routes:
        r = client.request(method, path, json={"mode": "manual", "throttle": 1, "steering": 0, "scale": 1,
                                               "name": "x", "on": True, "throttle_us": 1600, "steering_us": 1500})
        assert r.status_code == 401, (method, path, r.status_code)
    assert car.drive_mode.value == "stopped" and not car.teleops and not car.estop_pressed and not car.calibration_mode


def test_a_forged_cookie_is_no_session(client, car):
    client.cookies.set(SESSION_COOKIE, "guessed")
    assert client.post("/api/mode", json={"mode": "manual"}, headers={CSRF_HEADER: "x"}).status_code == 401
    assert client.get("/api/camera/frame.jpg").status_code == 401


def test_wrong_password_is_refused_and_right_one_gives_a_session_cookie(client):
    assert client.post("/api/login", json={"password": "nope"}).status_code == 401
    r = client.post("/api/login", json={"password": PASSWORD})
    assert r.status_code == 200 and len(r.json()["csrf_token"]) >= 32
    cookie = r.headers["set-cookie"]
    assert SESSION_COOKIE in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert client.get("/api/status").json()["mode"] == "stopped"


def test_state_changes_need_the_csrf_token(client, car):
    headers = login(client)
    assert client.post("/api/mode", json={"mode": "manual"}).status_code == 403
    assert client.post("/api/mode", json={"mode": "manual"}, headers={CSRF_HEADER: "wrong"}).status_code == 403
    assert car.drive_mode.value == "stopped"
    assert client.post("/api/mode", json={"mode": "manual"}, headers=headers).status_code == 200
    assert car.drive_mode.value == "manual"


def test_logout_ends_the_session(client):
    headers = login(client)
    assert client.post("/api/logout", headers=headers).status_code == 200
    assert client.get("/api/status").status_code == 401


def test_login_is_throttled_per_address(car, settings):
    settings.throttle = LoginThrottle(max_failures=3, window_s=60, lockout_s=30)
    attacker = TestClient(create_app(car, settings), client=("10.0.0.66", 1))
    for _ in range(3):
        assert attacker.post("/api/login", json={"password": "guess"}).status_code == 401
    r = attacker.post("/api/login", json={"password": PASSWORD})  # even the right one, while locked out
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    other = TestClient(create_app(car, settings), client=("10.0.0.8", 1))
    assert other.post("/api/login", json={"password": PASSWORD}).status_code == 200


def test_global_throttle_slows_many_addresses():
    throttle = LoginThrottle(max_failures=100, max_failures_all=4, window_s=60)
    for i in range(4):
        throttle.failed(f"10.0.0.{i}", now=100.0)
    assert throttle.retry_after("10.9.9.9", now=101.0) > 0
    assert throttle.retry_after("10.9.9.9", now=161.0) == 0


def test_password_file_is_an_argon2_hash_readable_only_by_its_owner(tmp_path):
    path = write_password_file(tmp_path / "pw", PASSWORD)
    text = path.read_text()
    assert text.startswith("$argon2id$") and PASSWORD not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    check = PasswordCheck.from_file(path)
    assert check.verify(PASSWORD) and not check.verify(PASSWORD + "x")


def test_security_headers(client):
    r = client.get("/")
    assert r.status_code == 200 and "deepracer" in r.text
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    assert "https://" not in r.text  # nothing from a CDN


# -- driving ------------------------------------------------------------------------------------


def test_teleop_maps_the_stick_to_speed_and_steering_once_per_request(client, car, settings):
    headers = login(client)
    r = client.post("/api/teleop", json={"throttle": 0.5, "steering": -1.0}, headers=headers)
    assert r.status_code == 200
    assert car.teleops == [(0.5 * settings.manual_max_speed_mps, -settings.max_steering_deg)]
    for bad in ({"throttle": 2, "steering": 0}, {"throttle": "nan", "steering": 0}, {"steering": 0}):
        assert client.post("/api/teleop", json=bad, headers=headers).status_code == 422
    assert len(car.teleops) == 1  # nothing repeated or invented by the server


def test_estop_latches_and_release_needs_a_mode(client, car):
    headers = login(client)
    client.post("/api/mode", json={"mode": "autonomous"}, headers=headers)
    assert client.post("/api/estop", headers=headers).status_code == 200  # no body = press
    assert car.estop_pressed and car.drive_mode.value == "stopped"
    assert client.get("/api/status").json()["estop_pressed"] is True
    client.post("/api/estop", json={"pressed": False}, headers=headers)
    assert not car.estop_pressed and car.drive_mode.value == "stopped"


def test_mode_and_max_speed_are_validated(client, car):
    headers = login(client)
    assert client.post("/api/mode", json={"mode": "turbo"}, headers=headers).status_code == 422
    assert client.post("/api/max_speed", json={"scale": 1.5}, headers=headers).status_code == 422
    assert client.post("/api/max_speed", json={"scale": 0.4}, headers=headers).status_code == 200
    assert car.scale == 0.4 and car.drive_mode.value == "stopped"


def test_camera_frame_is_a_jpeg_with_the_overlay_in_autonomous_mode(client, car):
    headers = login(client)
    plain = client.get("/api/camera/frame.jpg")
    assert plain.headers["content-type"] == "image/jpeg"
    img = cv2.imdecode(np.frombuffer(plain.content, np.uint8), cv2.IMREAD_UNCHANGED)
    assert img.shape[:2] == (120, 160)
    client.post("/api/mode", json={"mode": "autonomous"}, headers=headers)
    drawn = cv2.imdecode(np.frombuffer(client.get("/api/camera/frame.jpg").content, np.uint8), cv2.IMREAD_COLOR)
    assert drawn.shape[:2] == (240, 320)  # drawn at twice the size, in colour
    assert (np.abs(drawn[..., 2].astype(int) - drawn[..., 0].astype(int)) > 60).any()  # the yellow arrow/text


# -- models -------------------------------------------------------------------------------------


def test_bad_upload_is_refused_with_the_reason_and_keeps_the_store(client, car, settings, tmp_path, good_model):
    headers = login(client)
    r = client.post("/api/models", files={"file": ("good.tar.gz", good_model.read_bytes())}, headers=headers)
    assert r.status_code == 201, r.text
    bad = tar_with({"bad/model_metadata.json": b"{not json"}, tmp_path / "bad.tar.gz")
    r = client.post("/api/models", files={"file": ("bad.tar.gz", bad.read_bytes())}, headers=headers)
    assert r.status_code == 422
    assert "bad.tar.gz" in r.json()["detail"] and "model_metadata.json" in r.json()["detail"]
    names = [m["name"] for m in client.get("/api/models").json()["models"]]
    assert "good" in names and "bad" not in names
    evil = tar_with({"../../escape.txt": b"x"}, tmp_path / "evil.tar.gz")
    r = client.post("/api/models", files={"file": ("evil.tar.gz", evil.read_bytes())}, headers=headers)
    assert r.status_code == 422 and "outside" in r.json()["detail"]
    assert not (tmp_path / "escape.txt").exists()
    assert sorted(p.name for p in settings.models.folder.iterdir()) == ["good"]  # no staging left behind


def test_oversized_upload_is_refused(client, settings):
    headers = login(client)
    big = b"\0" * (settings.models.max_upload_bytes + 100_000)
    r = client.post("/api/models?filename=big.tar.gz", content=big, headers=headers | {"content-type": "application/gzip"})
    assert r.status_code == 413
    r = client.post("/api/models", files={"file": ("big.tar.gz", big)}, headers=headers)
    assert r.status_code == 413
    assert not settings.models.folder.exists() or not any(settings.models.folder.iterdir())


def test_upload_select_and_delete(client, car, good_model):
    headers = login(client)
    raw = client.post("/api/models?filename=racer-1.tar.gz", content=good_model.read_bytes(),
                      headers=headers | {"content-type": "application/gzip"})
    assert raw.status_code == 201, raw.text
    assert client.post("/api/models?filename=racer-1.tar.gz", content=good_model.read_bytes(),
                       headers=headers | {"content-type": "application/gzip"}).status_code == 409  # exists
    assert client.post("/api/models/select", json={"name": "racer-1"}, headers=headers).status_code == 200
    assert car.model.endswith("racer-1")
    listed = {m["name"]: m for m in client.get("/api/models").json()["models"]}
    assert listed["racer-1"]["active"] and listed["racer-1"]["valid"]
    assert client.delete("/api/models/racer-1", headers=headers).status_code == 409  # active
    assert client.post("/api/models/select", json={"name": "nope"}, headers=headers).status_code == 404
    car.model = "/elsewhere"
    assert client.delete("/api/models/racer-1", headers=headers).status_code == 200
    assert "racer-1" not in {m["name"] for m in client.get("/api/models").json()["models"]}


def test_unusable_model_names_are_refused(client, good_model):
    headers = login(client)
    for name in ("bundled.tar.gz", ".hidden.tar.gz", "a b.tar.gz", "model.zip"):
        r = client.post(f"/api/models?filename={name}", content=good_model.read_bytes(),
                        headers=headers | {"content-type": "application/gzip"})
        assert r.status_code == 422, (name, r.text)


# -- calibration --------------------------------------------------------------------------------


def test_calibration_steps_pulses_and_save(client, car):
    headers = login(client)
    report = client.get("/api/calibration").json()
    assert [s["key"] for s in report["steps"]][:3] == ["steering.center_us", "steering.left_us", "steering.right_us"]
    assert client.post("/api/calibration/pulse", json={"throttle_us": 1500, "steering_us": 1600}, headers=headers).status_code == 409
    client.post("/api/mode", json={"mode": "manual"}, headers=headers)
    assert client.post("/api/calibration/mode", json={"on": True}, headers=headers).status_code == 200
    assert car.drive_mode.value == "stopped"  # nothing drives while calibrating
    assert client.post("/api/calibration/pulse", json={"throttle_us": 1500, "steering_us": 1620}, headers=headers).status_code == 200
    assert client.post("/api/calibration/pulse", json={"throttle_us": 3000, "steering_us": 1620}, headers=headers).status_code == 422
    cal = report["calibration"]
    cal["steering"]["center_us"] = 1620
    bad = {**cal, "throttle": {**cal["throttle"], "forward_us": cal["throttle"]["neutral_us"]}}
    r = client.put("/api/calibration", json={"calibration": bad}, headers=headers)
    assert r.status_code == 422 and "throttle" in r.json()["detail"]
    assert not car.saved
    assert client.put("/api/calibration", json={"calibration": cal}, headers=headers).status_code == 200
    assert car.calibration.steering.center_us == 1620 and car.pulses == [(1500, 1620)]


def test_openapi_documents_the_api(client):
    paths = client.get("/api/openapi.json").json()["paths"]
    for path in ("/api/login", "/api/status", "/api/mode", "/api/estop", "/api/max_speed", "/api/models",
                 "/api/models/select", "/api/calibration", "/api/camera", "/api/teleop"):
        assert path in paths
    assert "put" in paths["/api/calibration"] and "get" in paths["/api/calibration"]

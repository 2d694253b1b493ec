"""device_console_node in the real car graph (synthetic camera, inference, control, emulated PCA9685),
composed with real rclpy, driven over real HTTP: teleop, the watchdog when the client vanishes,
e-stop, camera stream, model select, calibration saved through the servo node."""

from __future__ import annotations

import itertools
import json
import os
import time

import pytest

rclpy = pytest.importorskip("rclpy")
httpx = pytest.importorskip("httpx")

from deepracer.control.calibration import Calibration, backup_path, load, save  # noqa: E402
from deepracer.device_console.auth import CSRF_HEADER, write_password_file  # noqa: E402
from deepracer.device_console.stream import BOUNDARY  # noqa: E402
from deepracer.graph import NodeSpec, drive_graph  # noqa: E402
from deepracer.hardware.emulated.pca9685 import emulated_pca9685  # noqa: E402
from deepracer.model.reference_net import make_fixed_package  # noqa: E402
from deepracer_nodes.graph_runner import GraphRunner  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.integration]
PASSWORD = "a-test-password"
_bus = itertools.count(2000 + os.getpid() % 1000 * 10)
CONTROL_TIMEOUT_S = 0.25


def console_spec(**params) -> NodeSpec:
    return NodeSpec("device_console_node", "device_console_node", "deepracer_nodes.device_console_node",
                    "DeviceConsoleNode", params)


@pytest.fixture
def car(ros_context, tmp_path):
    """The composed car graph + console on a free port; yields (graph, base url, chip, files)."""
    bus = next(_bus)
    chip = emulated_pca9685(bus)
    cal_file = save(Calibration(), tmp_path / "calibration.yaml")
    # straight ahead at 1 m/s: action 0 of a one-action space, so autonomous really drives
    model = make_fixed_package(tmp_path / "straight", [1.0, 0.0, 0.0, 0.0, 0.0])
    pw = write_password_file(tmp_path / "console-password", PASSWORD)
    specs = drive_graph(camera_node={"device": "synthetic", "fps": 30.0},
                        inference_node={"model": str(model)},
                        control_node={"command_timeout": CONTROL_TIMEOUT_S},
                        servo_node={"backend": "emulated", "i2c_bus": bus, "calibration_file": str(cal_file)},
                        device_console_node={"host": "127.0.0.1", "port": 0, "password_file": str(pw),
                                             "models_dir": str(tmp_path / "models")})
    assert [s.name for s in specs][-1] == "device_console_node"  # part of the car's graph
    ns = f"/t_console_{os.getpid()}_{bus}"
    with GraphRunner(specs, namespace=ns, context=ros_context) as graph:
        node = graph.nodes["device_console_node"]
        assert node.url, "the web console did not start"
        yield graph, node.url.rstrip("/"), chip, {"calibration": cal_file, "models": tmp_path / "models"}


def login(url: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=10.0)
    r = client.post("/api/login", json={"password": PASSWORD})
    assert r.status_code == 200, r.text
    client.headers[CSRF_HEADER] = r.json()["csrf_token"]
    return client


def wait_for(predicate, timeout: float = 10.0, step: float = 0.01):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def throttle(chip) -> float | None:
    return chip.pulse_us(0)


def test_boots_stopped_and_the_status_shows_the_graph(car):
    graph, url, chip, _ = car
    client = login(url)
    st = wait_for(lambda: (s := client.get("/api/status").json())["mode"] != "unknown" and s["camera"]["fps"] and s)
    assert st["mode"] == "stopped" and st["max_speed_scale"] == 1.0
    assert st["nodes"] == {"camera_node": True, "inference_node": True, "control_node": True, "servo_node": True}
    assert st["camera"]["width"] == 160 and st["camera"]["fps"] > 10
    assert st["active_model"].endswith("straight")
    assert st["pwm"]["throttle_us"] == pytest.approx(1500, abs=5) and st["pwm"]["backend"] == "emulated"
    assert httpx.get(url + "/api/status").status_code == 401


def test_joystick_drives_and_a_vanished_client_leaves_neutral_within_the_watchdog(car):
    graph, url, chip, _ = car
    client = login(url)
    assert client.post("/api/mode", json={"mode": "manual"}).json()["mode"] == "manual"
    end = time.monotonic() + 1.0
    while time.monotonic() < end:  # the page: 20 Hz while the stick is held
        assert client.post("/api/teleop", json={"throttle": 0.8, "steering": 0.0}).status_code == 200
        time.sleep(0.05)
    assert throttle(chip) > 1550  # driving forward
    gone = time.monotonic()
    client.close()  # the phone vanishes mid-drive: no release message, no more commands
    assert wait_for(lambda: abs(throttle(chip) - 1500) < 5, timeout=2.0)
    stopped_after = time.monotonic() - gone
    assert stopped_after < CONTROL_TIMEOUT_S + 0.2, f"neutral only after {stopped_after:.2f} s"
    time.sleep(0.5)
    assert abs(throttle(chip) - 1500) < 5  # and nothing re-sends the last command


def test_estop_stops_a_driving_car_and_latches(car):
    graph, url, chip, _ = car
    client = login(url)
    client.post("/api/mode", json={"mode": "autonomous"})
    assert wait_for(lambda: throttle(chip) > 1550), "the straight-ahead model should drive in autonomous mode"
    assert client.post("/api/estop", json={"pressed": True}).status_code == 200
    assert wait_for(lambda: abs(throttle(chip) - 1500) < 5, timeout=1.0)
    client.post("/api/mode", json={"mode": "autonomous"})  # a mode alone does not re-arm while pressed
    time.sleep(0.5)
    assert abs(throttle(chip) - 1500) < 5
    assert client.get("/api/status").json()["estop_pressed"] is True
    # control_node's warning reaches the status panel's log, from this car's namespace only
    errors = wait_for(lambda: [e for e in client.get("/api/status").json()["errors"] if "estop" in e["message"]])
    assert errors and errors[-1]["node"].endswith("control_node") and errors[-1]["level"] == "WARN"
    client.post("/api/estop", json={"pressed": False})
    client.post("/api/mode", json={"mode": "autonomous"})
    assert wait_for(lambda: throttle(chip) > 1550)
    client.post("/api/max_speed", json={"scale": 0.0})
    assert wait_for(lambda: abs(throttle(chip) - 1500) < 5, timeout=2.0)


def test_camera_stream_sends_frames_with_capture_stamps(car):
    graph, url, chip, _ = car
    client = login(url)
    parts, delays = 0, []
    with client.stream("GET", "/api/camera") as r:
        assert r.status_code == 200 and BOUNDARY in r.headers["content-type"]
        buf = b""
        start = time.monotonic()
        for chunk in r.iter_bytes():
            buf += chunk
            while b"\r\n\r\n" in buf:
                head, rest = buf.split(b"\r\n\r\n", 1)
                headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
                size = int(headers["Content-Length"])
                if len(rest) < size + 2:
                    break
                assert rest[:2] == b"\xff\xd8"  # a JPEG
                delays.append(time.time() - float(headers["X-Frame-Stamp"]))
                parts += 1
                buf = rest[size + 2:]
            if parts >= 30 or time.monotonic() - start > 10:
                break
    elapsed = time.monotonic() - start
    assert parts >= 30 and parts / elapsed > 12, f"{parts} frames in {elapsed:.1f} s"
    assert sorted(delays)[len(delays) // 2] < 0.5  # capture -> here, median


def test_model_select_through_inference_node_and_a_bad_one_keeps_the_old(car, tmp_path):
    graph, url, chip, files = car
    client = login(url)
    from deepracer.model.tarball import pack_model

    other = pack_model(make_fixed_package(tmp_path / "left", [0.0, 1.0, 0.0, 0.0, 0.0]), tmp_path / "left.tar.gz")
    r = client.post("/api/models", files={"file": ("left.tar.gz", other.read_bytes())})
    assert r.status_code == 201, r.text
    assert client.post("/api/models/select", json={"name": "left"}).status_code == 200
    assert graph.nodes["inference_node"].get_parameter("model").value == str(files["models"] / "left")
    wait_for(lambda: client.get("/api/status").json()["active_model"].endswith("left"))
    # a stored package broken on disk afterwards: inference_node refuses, the old model stays
    (files["models"] / "left" / "model.onnx").write_bytes(b"garbage")
    r = client.post("/api/models/select", json={"name": "left"})
    assert r.status_code == 409 and "model.onnx" in r.json()["detail"]
    assert graph.nodes["inference_node"].policy.name == "left"


def test_calibration_steps_move_the_wheels_and_save_through_the_servo_node(car):
    graph, url, chip, files = car
    client = login(url)
    report = client.get("/api/calibration").json()
    assert report["file"] == str(files["calibration"])
    assert client.post("/api/calibration/pulse", json={"throttle_us": 1500, "steering_us": 1650}).status_code == 409
    assert client.post("/api/calibration/mode", json={"on": True}).status_code == 200
    client.post("/api/calibration/pulse", json={"throttle_us": 1500, "steering_us": 1650})
    assert wait_for(lambda: abs(chip.pulse_us(1) - 1650) < 5, timeout=2.0)  # the wheels follow, live
    client.post("/api/calibration/pulse", json={"throttle_us": 1580, "steering_us": 1650})
    assert wait_for(lambda: abs(throttle(chip) - 1580) < 5, timeout=2.0)
    # the page stops repeating (closed): the servo's own watchdog stops the motor, keeps the steering
    assert wait_for(lambda: abs(throttle(chip) - 1500) < 5, timeout=2.0)
    cal = report["calibration"]
    cal["steering"]["center_us"] = 1650
    cal["throttle"]["forward_us"] = 1640
    r = client.put("/api/calibration", json={"calibration": cal})
    assert r.status_code == 200, r.text
    assert load(files["calibration"]).steering.center_us == 1650
    assert load(backup_path(files["calibration"])).steering.center_us == Calibration().steering.center_us
    client.post("/api/calibration/mode", json={"on": False})
    assert json.loads(json.dumps(client.get("/api/calibration").json()))["calibration"]["steering"]["center_us"] == 1650


def test_without_a_password_file_there_is_no_web_server(ros_context, tmp_path):
    with GraphRunner([console_spec(port=0, password_file=str(tmp_path / "missing"))], context=ros_context,
                     namespace=f"/t_nopw_{os.getpid()}") as graph:
        assert graph.nodes["device_console_node"].url is None


def test_disabled_by_parameter(ros_context):
    with GraphRunner([console_spec(enabled=False, port=0)], context=ros_context, namespace=f"/t_off_{os.getpid()}") as g:
        assert g.nodes["device_console_node"].server is None



@pytest.mark.skipif(__import__("shutil").which("openssl") is None, reason="openssl is not installed")
def test_https_with_a_self_signed_certificate_and_a_secure_cookie(ros_context, tmp_path):
    import subprocess

    key, cert = tmp_path / "console.key", tmp_path / "console.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=deepracer",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    pw = write_password_file(tmp_path / "pw", PASSWORD)
    spec = console_spec(port=0, password_file=str(pw), tls_cert=str(cert), tls_key=str(key))
    with GraphRunner([spec], context=ros_context, namespace=f"/t_tls_{os.getpid()}") as graph:
        url = graph.nodes["device_console_node"].url
        assert url.startswith("https://")
        with httpx.Client(base_url=url, verify=False, timeout=10) as client:
            r = client.post("/api/login", json={"password": PASSWORD})
            assert r.status_code == 200 and "Secure" in r.headers["set-cookie"]
        with pytest.raises(httpx.HTTPError):  # plain HTTP on the HTTPS port gets no page
            httpx.get(url.replace("https://", "http://") + "api/status", timeout=5).raise_for_status()


def test_status_says_plainly_what_is_down(ros_context, tmp_path):
    pw = write_password_file(tmp_path / "pw", PASSWORD)
    spec = console_spec(port=0, password_file=str(pw), watch_nodes=["camera_node", "servo_node"])
    with GraphRunner([spec], context=ros_context, namespace=f"/t_down_{os.getpid()}") as graph:
        client = login(graph.nodes["device_console_node"].url.rstrip("/"))
        st = wait_for(lambda: (s := client.get("/api/status").json())["problems"] and s, timeout=5)
        assert st["nodes"] == {"camera_node": False, "servo_node": False}
        assert "camera_node is not running" in st["problems"] and "servo_node is not running" in st["problems"]
        assert "no camera frames yet" in st["problems"]
        assert st["mode"] == "unknown"  # no control_node to ask
        r = client.post("/api/mode", json={"mode": "manual"})
        assert r.status_code == 503 and "control_node" in r.json()["detail"]
        assert client.get("/api/calibration").status_code == 503

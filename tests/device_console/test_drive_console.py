"""`deepracer drive --console-port` (one process per node, as the systemd unit runs it): the page
answers, drives the car's graph and the graph stops cleanly; a missing password file is a clear error."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest
import yaml

pytest.importorskip("rclpy")

from deepracer.control.calibration import Calibration, save
from deepracer.device_console.auth import CSRF_HEADER, write_password_file
from deepracer.model.reference_net import make_fixed_package

pytestmark = [pytest.mark.ros, pytest.mark.integration]
PASSWORD = "drive-console-password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def car_config(tmp_path) -> str:
    model = make_fixed_package(tmp_path / "straight", [1.0, 0.0, 0.0, 0.0, 0.0])
    cal = save(Calibration(), tmp_path / "calibration.yaml")
    params = {"camera_node": {"device": "synthetic", "fps": 30.0}, "inference_node": {"model": str(model)},
              "servo_node": {"backend": "emulated", "calibration_file": str(cal)},
              "device_console_node": {"models_dir": str(tmp_path / "models")}}
    config = tmp_path / "car.yaml"
    config.write_text(yaml.safe_dump({n: {"ros__parameters": v} for n, v in params.items()}))
    return str(config)


def test_drive_with_the_console_in_its_own_process(tmp_path):
    port = free_port()
    pw = write_password_file(tmp_path / "pw", PASSWORD)
    proc = subprocess.Popen([sys.executable, "-m", "deepracer.cli", "drive", "--config", car_config(tmp_path), "--processes",
                             "--namespace", f"t_drive_console_{os.getpid()}", "--console-port", str(port),
                             "--console-host", "127.0.0.1", "--console-password-file", str(pw)],
                            stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        client = None
        deadline = time.monotonic() + 60
        while client is None and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read()[-3000:]
            try:
                r = httpx.post(url + "/api/login", json={"password": PASSWORD}, timeout=2)
                client = httpx.Client(base_url=url, cookies=r.cookies, headers={CSRF_HEADER: r.json()["csrf_token"]})
            except httpx.HTTPError:
                time.sleep(0.3)
        assert client is not None, "no web console from deepracer drive"
        end = time.monotonic() + 30
        while time.monotonic() < end:
            st = client.get("/api/status").json()
            if st["mode"] != "unknown" and all(st["nodes"].values()) and st["camera"]["fps"]:
                break
            time.sleep(0.3)
        assert st["mode"] == "stopped" and all(st["nodes"].values()), st
        assert client.post("/api/mode", json={"mode": "autonomous"}).status_code == 200
        end = time.monotonic() + 10
        while time.monotonic() < end and not ((client.get("/api/status").json()["pwm"].get("throttle_us") or 0) > 1550):
            time.sleep(0.1)
        assert client.get("/api/status").json()["pwm"]["throttle_us"] > 1550  # the model drives through the page's mode
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    assert proc.returncode == 0, err[-3000:]


def test_a_missing_password_file_leaves_the_page_off_but_the_car_drives(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "deepracer.cli", "drive", "--config", car_config(tmp_path),
                             "--namespace", f"t_drive_nopw_{os.getpid()}", "--console-port", "0",
                             "--console-password-file", str(tmp_path / "nope")], stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any("running" in line for line in lines):
            lines.append(proc.stderr.readline())
        text = "".join(lines)
        assert "console password file not found" in text and "nope" in text and "the web page stays off" in text
        assert proc.poll() is None, text  # the graph runs
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0

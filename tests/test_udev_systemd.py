"""udev rules, the systemd unit (systemd-analyze verify) and `deepracer install-system`."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys

import pytest
import yaml

from deepracer.cli import main
from deepracer.commands.install_system import deepracer_executable
from deepracer.control.calibration import Calibration, Steering, Throttle, save
from deepracer.hardware.emulated.sysfs import EmulatedSysfsPwm
from deepracer.paths import REPO_ROOT

UNIT = REPO_ROOT / "systemd" / "deepracer-drive.service"
RULES = REPO_ROOT / "udev" / "99-deepracer.rules"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


def unit_entries(text: str) -> list[tuple[str, str]]:
    return [tuple(line.split("=", 1)) for line in text.splitlines() if "=" in line and not line.startswith("#")]


def verify(path) -> subprocess.CompletedProcess:
    return subprocess.run([SYSTEMD_ANALYZE, "verify", str(path)], capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed on this machine")
def test_unit_passes_systemd_analyze_verify_but_for_the_missing_executable():
    result = verify(UNIT)
    problems = [line for line in (result.stdout + result.stderr).splitlines()
                if line.strip() and "/usr/local/bin/deepracer is not executable" not in line]
    assert problems == []


@pytest.fixture
def installed(tmp_path, capsys):
    prefix = tmp_path / "root"
    assert main(["install-system", "--prefix", str(prefix), "--user", "racer"]) == 0
    return prefix, capsys.readouterr().out


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed on this machine")
def test_installed_unit_passes_verify(installed):
    prefix, _ = installed
    result = verify(prefix / "etc/systemd/system/deepracer-drive.service")
    assert result.returncode == 0, result.stdout + result.stderr


def test_unit_runs_as_a_user_restarts_and_keeps_ros_on_the_car(installed):
    prefix, _ = installed
    entries = unit_entries((prefix / "etc/systemd/system/deepracer-drive.service").read_text())
    values = {}
    for key, value in entries:
        values.setdefault(key, []).append(value)
    assert values["User"] == ["racer"] and values["Group"] == ["racer"]
    assert values["Restart"] == ["on-failure"]
    assert "dev-deepracer-camera.device" in values["After"][0]
    assert any(v.startswith("-/etc/deepracer/deepracer.env") for v in values["EnvironmentFile"])
    assert "ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST" in values["Environment"]
    assert "ROS_LOCALHOST_ONLY=1" in values["Environment"]
    assert "servo neutral" in values["ExecStopPost"][0]
    assert values["ExecStart"][0].split()[0] == deepracer_executable()  # this install's, not /usr/local/bin
    env = (prefix / "etc/deepracer/deepracer.env").read_text()
    assert "ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST" in env and "DEEPRACER_MODEL=" in env
    assert yaml.safe_load((prefix / "etc/deepracer/drive.yaml").read_text())["servo_node"]


def test_exec_stop_post_command_leaves_neutral_with_the_service_config(installed, tmp_path):
    """The unit's own ExecStopPost line, with the servo backend taken from the drive config."""
    prefix, _ = installed
    unit = (prefix / "etc/systemd/system/deepracer-drive.service").read_text()
    command = next(v for k, v in unit_entries(unit) if k == "ExecStopPost")
    cal = save(Calibration(50, Steering(1800, 1450, 1100, 30), Throttle(1350, 1470, 1650, 2)), tmp_path / "c.yaml")
    with EmulatedSysfsPwm(tmp_path / "pwm", {0: 2}) as tree:
        config = yaml.safe_load((prefix / "etc/deepracer/drive.yaml").read_text())
        config["servo_node"]["ros__parameters"].update(backend="sysfs", sysfs_root=str(tree.root),
                                                        calibration_file=str(cal))
        drive_yaml = tmp_path / "drive.yaml"
        drive_yaml.write_text(yaml.safe_dump(config))
        argv = shlex.split(command.replace("${DEEPRACER_CONFIG}", str(drive_yaml)))
        result = subprocess.run([sys.executable, "-m", "deepracer.cli", *argv[1:]], capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 0, result.stderr
        assert tree.pulse_us(0) == 1470 and tree.pulse_us(1) == 1450


def test_dry_run_prints_every_action_and_changes_nothing(tmp_path, capsys):
    prefix = tmp_path / "root"
    prefix.mkdir()
    assert main(["install-system", "--dry-run", "--prefix", str(prefix)]) == 0
    out = capsys.readouterr().out
    assert list(prefix.iterdir()) == []
    for name in ("99-deepracer.rules", "deepracer-drive.service", "deepracer.env", "drive.yaml"):
        assert f"would write: {prefix}" in out and name in out
    assert main(["install-system", "--dry-run"]) == 0  # on this host: also the commands, none run
    out = capsys.readouterr().out
    for command in ("groupadd --system -f pwm", "useradd --system", "usermod -aG video,i2c,gpio,pwm,dialout deepracer",
                    "udevadm control --reload", "systemctl daemon-reload", "systemctl enable deepracer-drive.service"):
        assert f"would run: {command}" in out or command in out


def test_reinstall_keeps_edited_settings(installed, capsys):
    prefix, _ = installed
    env = prefix / "etc/deepracer/deepracer.env"
    env.write_text("DEEPRACER_MODEL=/home/racer/models/fast\n")
    assert main(["install-system", "--prefix", str(prefix)]) == 0
    assert env.read_text() == "DEEPRACER_MODEL=/home/racer/models/fast\n"
    assert "keep:" in capsys.readouterr().out


UDEV_KEYS = {"SUBSYSTEM", "SUBSYSTEMS", "KERNEL", "ACTION", "ATTR", "ATTRS", "ENV", "SYMLINK", "GROUP", "MODE", "TAG",
             "RUN"}
MATCH_ONLY = {"SUBSYSTEM", "SUBSYSTEMS", "KERNEL", "ACTION", "ATTRS"}
ASSIGN_ONLY = {"SYMLINK", "GROUP", "MODE", "TAG", "RUN"}
TOKEN = re.compile(r'\s*([A-Z]+)(\{[^}]+\})?(==|!=|\+=|:=|=)"([^"]*)"\s*(,|$)')


def udev_rules() -> list[dict[str, str]]:
    rules = []
    for line in RULES.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        rule, pos = {}, 0
        while pos < len(line):
            m = TOKEN.match(line, pos)
            assert m, f"cannot parse udev rule at {line[pos:]!r}"
            key, attr, op, value = m.group(1), m.group(2) or "", m.group(3), m.group(4)
            assert key in UDEV_KEYS, key
            if key in MATCH_ONLY:
                assert op in ("==", "!="), line
            elif key in ASSIGN_ONLY:
                assert op in ("=", "+=", ":="), line
            rule[f"{key}{attr}{op}"] = value
            pos = m.end()
        rules.append(rule)
    return rules


def test_udev_rules_name_the_camera_and_servo_and_grant_groups():
    rules = udev_rules()
    camera = next(r for r in rules if r.get("SUBSYSTEM==") == "video4linux")
    assert camera["SYMLINK+="] == "deepracer/camera" and camera["GROUP="] == "video"
    servo = next(r for r in rules if r.get("SUBSYSTEM==") == "tty")
    assert servo["SYMLINK+="] == "deepracer/servo" and servo["ATTRS{idVendor}=="] == "1ffb"
    groups = {r.get("SUBSYSTEM=="): r.get("GROUP=") for r in rules}
    assert groups["i2c-dev"] == "i2c" and groups["gpio"] == "gpio"
    pwm = next(r for r in rules if r.get("SUBSYSTEM==") == "pwm")
    assert "chgrp -R pwm" in pwm["RUN+="]

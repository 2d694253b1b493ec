"""`deepracer install-system`: the web console's password (asked or generated, stored hashed 0600)
and the optional self-signed HTTPS certificate."""

from __future__ import annotations

import re
import shutil
import stat

import pytest

from deepracer.cli import main
from deepracer.device_console.auth import PasswordCheck

PASSWORD_FILE = "etc/deepracer/console-password"


def printed_password(out: str) -> str:
    m = re.search(r"web console password \(write it down; only its hash is stored\): (\S+)", out)
    assert m, out
    return m.group(1)


def test_install_generates_prints_and_stores_only_the_hash(tmp_path, capsys):
    prefix = tmp_path / "root"
    assert main(["install-system", "--prefix", str(prefix), "--user", "racer"]) == 0
    out = capsys.readouterr().out
    password = printed_password(out)
    stored = prefix / PASSWORD_FILE
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert password not in stored.read_text() and stored.read_text().startswith("$argon2id$")
    assert PasswordCheck.from_file(stored).verify(password)
    unit = (prefix / "etc/systemd/system/deepracer-drive.service").read_text()
    assert "--console-password-file ${DEEPRACER_CONSOLE_PASSWORD_FILE}" in unit
    assert "Environment=DEEPRACER_CONSOLE_PASSWORD_FILE=/etc/deepracer/console-password" in unit

    # a reinstall keeps it; --console-password-reset makes a new one
    assert main(["install-system", "--prefix", str(prefix)]) == 0
    assert "keeping the installed password" in capsys.readouterr().out
    assert PasswordCheck.from_file(stored).verify(password)
    assert main(["install-system", "--prefix", str(prefix), "--console-password-reset"]) == 0
    new = printed_password(capsys.readouterr().out)
    assert new != password and PasswordCheck.from_file(stored).verify(new)
    assert not PasswordCheck.from_file(stored).verify(password)


def test_dry_run_shows_the_password_step_and_writes_nothing(tmp_path, capsys):
    prefix = tmp_path / "root"
    prefix.mkdir()
    assert main(["install-system", "--dry-run", "--prefix", str(prefix), "--console-https"]) == 0
    out = capsys.readouterr().out
    assert f"would write: {prefix / PASSWORD_FILE}" in out and "would generate a web console password" in out
    assert "would run: openssl req -x509" in out
    assert list(prefix.iterdir()) == []


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_https_makes_a_certificate_once_and_the_unit_uses_it(tmp_path, capsys):
    prefix = tmp_path / "root"
    assert main(["install-system", "--prefix", str(prefix), "--console-https", "--console-port", "8443"]) == 0
    cert, key = prefix / "etc/deepracer/console.crt", prefix / "etc/deepracer/console.key"
    assert cert.read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    unit = (prefix / "etc/systemd/system/deepracer-drive.service").read_text()
    assert "Environment=DEEPRACER_CONSOLE_CERT=/etc/deepracer/console.crt" in unit
    assert "Environment=DEEPRACER_CONSOLE_KEY=/etc/deepracer/console.key" in unit
    assert "Environment=DEEPRACER_CONSOLE_PORT=8443" in unit
    before = cert.read_bytes()
    capsys.readouterr()
    assert main(["install-system", "--prefix", str(prefix), "--console-https"]) == 0
    assert f"keep: {cert}" in capsys.readouterr().out and cert.read_bytes() == before


def test_device_console_password_command_stores_a_hash(tmp_path, capsys):
    path = tmp_path / "pw"
    assert main(["device-console", "password", "--file", str(path), "--generate"]) == 0
    password = printed_password(capsys.readouterr().out)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and PasswordCheck.from_file(path).verify(password)

"""`deepracer install-system`: udev rules, the systemd unit and a service user, so the car drives at boot.

Also the password of the car's web page (device_console_node): asked on a terminal (empty =
generate one), generated and printed otherwise, stored only as an argon2 hash in
/etc/deepracer/console-password (mode 0600, owned by the service user; kept if present;
`--console-password-reset` replaces it). `--console-https` adds a self-signed certificate.

Every action is printed; --dry-run prints them and changes nothing. With --prefix other
than / the files are written under that prefix (an image being built, a test) and the
commands that act on the running system (groupadd, useradd, udevadm, systemctl) are skipped.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

GROUPS = ("video", "i2c", "gpio", "pwm", "dialout")
UNIT = "deepracer-drive.service"
RULES = "99-deepracer.rules"
PACKAGED_EXECUTABLE = "/usr/local/bin/deepracer"
CONSOLE_PASSWORD = "etc/deepracer/console-password"
CONSOLE_CERT = "etc/deepracer/console.crt"
CONSOLE_KEY = "etc/deepracer/console.key"
CONSOLE_PORT = 8080


@dataclass
class Action:
    describe: str
    path: Path | None = None  # write `content` here
    content: str | None = None
    mode: int = 0o644
    keep_existing: bool = False  # configuration the user may have edited
    argv: list[str] | None = None  # or run this
    owner: str | None = None  # chown the written file to this user (on the host)
    creates: Path | None = None  # argv: skip when this file exists


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="print every action, change nothing")
    parser.add_argument("--user", default="deepracer", help="the non-root user the service runs as (default deepracer)")
    parser.add_argument("--prefix", default="/", help="install under this root (default /)")
    parser.add_argument("--no-enable", action="store_true", help="install, but do not enable the unit")
    parser.add_argument("--console-password-reset", action="store_true",
                        help="set a new web console password even if one is installed")
    parser.add_argument("--console-https", action="store_true",
                        help="serve the web console over HTTPS with a self-signed certificate (made once)")
    parser.add_argument("--console-port", type=int, default=None,
                        help=f"web console port (default {CONSOLE_PORT}; the unit listens on all interfaces)")


def deepracer_executable() -> str:
    """The `deepracer` next to this Python (a venv), else on PATH, else the packaged location."""
    candidate = Path(sys.executable).with_name("deepracer")
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return shutil.which("deepracer") or PACKAGED_EXECUTABLE


def render_unit(text: str, user: str, executable: str, https: bool = False, port: int | None = None) -> str:
    text = text.replace(PACKAGED_EXECUTABLE, executable)
    if https:  # the unit's own (empty) defaults name the certificate made by --console-https
        text = text.replace("Environment=DEEPRACER_CONSOLE_CERT=\n", f"Environment=DEEPRACER_CONSOLE_CERT=/{CONSOLE_CERT}\n")
        text = text.replace("Environment=DEEPRACER_CONSOLE_KEY=\n", f"Environment=DEEPRACER_CONSOLE_KEY=/{CONSOLE_KEY}\n")
    if port is not None:
        text = text.replace(f"Environment=DEEPRACER_CONSOLE_PORT={CONSOLE_PORT}\n", f"Environment=DEEPRACER_CONSOLE_PORT={port}\n")
    return text.replace("User=deepracer", f"User={user}").replace("Group=deepracer", f"Group={user}")


def console_password(prefix: Path, reset: bool, dry_run: bool) -> tuple[str | None, bool]:
    """(the new password or None to keep the installed one, generated?). Asks on a terminal."""
    import getpass

    from deepracer.device_console.auth import generate_password
    from deepracer.errors import ConfigError

    if (prefix / CONSOLE_PASSWORD).exists() and not reset:
        return None, False
    if dry_run or not sys.stdin.isatty():
        return generate_password(), True
    first = getpass.getpass("web console password for this car (at least 8 characters; Enter = generate one): ")
    if not first:
        return generate_password(), True
    if len(first) < 8:
        raise ConfigError("the web console password needs at least 8 characters")
    if getpass.getpass("again: ") != first:
        raise ConfigError("the two passwords differ; nothing was installed")
    return first, False


def plan(prefix: Path, user: str, enable: bool = True, password: str | None = None, https: bool = False,
         port: int | None = None) -> list[Action]:
    from deepracer.paths import config_file, share_dir

    share = share_dir()
    on_host = prefix.resolve() == Path("/")
    actions: list[Action] = []
    if on_host:
        for group in GROUPS:
            actions.append(Action(f"create group {group} (if missing)", argv=["groupadd", "--system", "-f", group]))
        actions.append(Action(f"create system user {user} (if missing)", argv=[
            "sh", "-c", f"id -u {user} >/dev/null 2>&1 || useradd --system --user-group --home-dir /var/lib/deepracer "
            f"--create-home --shell /usr/sbin/nologin {user}"]))
        actions.append(Action(f"add {user} to {','.join(GROUPS)}", argv=["usermod", "-aG", ",".join(GROUPS), user]))
    rules = (share / "udev" / RULES).read_text(encoding="utf-8")
    unit = render_unit((share / "systemd" / UNIT).read_text(encoding="utf-8"), user, deepracer_executable(), https, port)
    actions += [
        Action(f"install udev rules {RULES}", prefix / "etc/udev/rules.d" / RULES, rules),
        Action(f"install systemd unit {UNIT}", prefix / "etc/systemd/system" / UNIT, unit),
        Action("install settings deepracer.env (kept if present)", prefix / "etc/deepracer/deepracer.env",
               (share / "systemd" / "deepracer.env").read_text(encoding="utf-8"), keep_existing=True),
        Action("install node parameters drive.yaml (kept if present)", prefix / "etc/deepracer/drive.yaml",
               config_file("drive.yaml").read_text(encoding="utf-8"), keep_existing=True),
    ]
    if password is not None:
        from deepracer.device_console.auth import hash_password

        actions.append(Action("store the web console password (argon2 hash, mode 0600)", prefix / CONSOLE_PASSWORD,
                              hash_password(password) + "\n", mode=0o600, owner=user if on_host else None))
    if https:
        key, cert = prefix / CONSOLE_KEY, prefix / CONSOLE_CERT
        actions.append(Action("make a self-signed certificate for the web console (once)", argv=[
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650", "-subj", "/CN=deepracer",
            "-addext", "subjectAltName=DNS:deepracer,DNS:deepracer.local,IP:192.168.0.1",
            "-keyout", str(key), "-out", str(cert)], creates=cert))
        actions.append(Action("web console key readable by the service only", argv=["chmod", "600", str(key)]))
        if on_host:
            actions.append(Action(f"web console key owned by {user}", argv=["chown", f"{user}:{user}", str(key)]))
    if on_host:
        actions += [
            Action("reload udev rules", argv=["udevadm", "control", "--reload"]),
            Action("apply them to present devices", argv=["udevadm", "trigger"]),
            Action("reload systemd", argv=["systemctl", "daemon-reload"]),
        ]
        if enable:
            actions.append(Action(f"enable {UNIT} at boot", argv=["systemctl", "enable", UNIT]))
    return actions


def run(args: argparse.Namespace) -> int:
    from deepracer.errors import ConfigError, DeepRacerError

    prefix = Path(args.prefix)
    on_host = prefix.resolve() == Path("/")
    if on_host and not args.dry_run and os.geteuid() != 0:
        raise ConfigError("installing into / needs root: sudo deepracer install-system (or --dry-run, or --prefix DIR)")
    if not on_host:
        print(f"prefix {prefix}: writing files only; skipping groupadd/useradd/udevadm/systemctl")
    tag = "would " if args.dry_run else ""
    password, generated = console_password(prefix, args.console_password_reset, args.dry_run)
    actions = plan(prefix, args.user, enable=not args.no_enable, password=password, https=args.console_https,
                   port=args.console_port)
    for action in actions:
        if action.argv is not None:
            if action.creates is not None and action.creates.exists():
                print(f"keep: {action.creates} (exists)    # {action.describe}")
                continue
            print(f"{tag}run: {shlex.join(action.argv)}    # {action.describe}")
            if action.creates is not None and not args.dry_run:
                action.creates.parent.mkdir(parents=True, exist_ok=True)
            if not args.dry_run:
                result = subprocess.run(action.argv, capture_output=True, text=True)
                if result.returncode != 0:
                    raise DeepRacerError(f"{action.describe} failed: {' '.join(action.argv)}: {result.stderr.strip()}")
            continue
        assert action.path is not None and action.content is not None
        if action.keep_existing and action.path.exists():
            print(f"keep: {action.path} (exists)    # {action.describe}")
            continue
        print(f"{tag}write: {action.path}    # {action.describe}")
        if not args.dry_run:
            action.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = action.path.with_name(action.path.name + ".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, action.mode)  # never readable by others
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(action.content)
            tmp.chmod(action.mode)
            if action.owner is not None:
                shutil.chown(tmp, action.owner, action.owner)
            os.replace(tmp, action.path)
    if password is None:
        print(f"web console: keeping the installed password ({prefix / CONSOLE_PASSWORD}); "
              "--console-password-reset sets a new one")
    elif generated and not args.dry_run:
        print(f"web console password (write it down; only its hash is stored): {password}")
    elif generated:
        print("would generate a web console password and print it once")
    if not args.dry_run:
        scheme = "https" if args.console_https else "http"
        print(f"web console: {scheme}://<this car's address>:{args.console_port or CONSOLE_PORT}/ (docs/real-car.md)")
        print(f"done. Start now: systemctl start {UNIT}; logs: journalctl -u {UNIT.removesuffix('.service')} -f")
    return 0

"""`deepracer install-system`: udev rules, the systemd unit and a service user, so the car drives at boot.

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


@dataclass
class Action:
    describe: str
    path: Path | None = None  # write `content` here
    content: str | None = None
    mode: int = 0o644
    keep_existing: bool = False  # configuration the user may have edited
    argv: list[str] | None = None  # or run this


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="print every action, change nothing")
    parser.add_argument("--user", default="deepracer", help="the non-root user the service runs as (default deepracer)")
    parser.add_argument("--prefix", default="/", help="install under this root (default /)")
    parser.add_argument("--no-enable", action="store_true", help="install, but do not enable the unit")


def deepracer_executable() -> str:
    """The `deepracer` next to this Python (a venv), else on PATH, else the packaged location."""
    candidate = Path(sys.executable).with_name("deepracer")
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return shutil.which("deepracer") or PACKAGED_EXECUTABLE


def render_unit(text: str, user: str, executable: str) -> str:
    text = text.replace(PACKAGED_EXECUTABLE, executable)
    return text.replace("User=deepracer", f"User={user}").replace("Group=deepracer", f"Group={user}")


def plan(prefix: Path, user: str, enable: bool = True) -> list[Action]:
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
    unit = render_unit((share / "systemd" / UNIT).read_text(encoding="utf-8"), user, deepracer_executable())
    actions += [
        Action(f"install udev rules {RULES}", prefix / "etc/udev/rules.d" / RULES, rules),
        Action(f"install systemd unit {UNIT}", prefix / "etc/systemd/system" / UNIT, unit),
        Action("install settings deepracer.env (kept if present)", prefix / "etc/deepracer/deepracer.env",
               (share / "systemd" / "deepracer.env").read_text(encoding="utf-8"), keep_existing=True),
        Action("install node parameters drive.yaml (kept if present)", prefix / "etc/deepracer/drive.yaml",
               config_file("drive.yaml").read_text(encoding="utf-8"), keep_existing=True),
    ]
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
    for action in plan(prefix, args.user, enable=not args.no_enable):
        if action.argv is not None:
            print(f"{tag}run: {shlex.join(action.argv)}    # {action.describe}")
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
            tmp.write_text(action.content, encoding="utf-8")
            tmp.chmod(action.mode)
            os.replace(tmp, action.path)
    if not args.dry_run:
        print(f"done. Start now: systemctl start {UNIT}; logs: journalctl -u {UNIT.removesuffix('.service')} -f")
    return 0

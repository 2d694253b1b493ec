"""`deepracer device-console password`: set the password of the car's web page without install-system
(a car run from a checkout with `deepracer drive`, a laptop with `deepracer sim --console-port`).

Asks on a terminal (Enter = generate one), generates and prints one otherwise; stores only the
argon2 hash, mode 0600, in --file (default: $DEEPRACER_CONSOLE_PASSWORD_FILE, the installed
/etc/deepracer/console-password, else ~/.config/deepracer/console-password).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    pw = sub.add_parser("password", help="set the web console password (stored as an argon2 hash)")
    pw.add_argument("--file", default=None, help="password file (default: the one device_console_node reads)")
    pw.add_argument("--generate", action="store_true", help="generate and print one, do not ask")


def run(args: argparse.Namespace) -> int:
    from deepracer.device_console.auth import (
        default_password_file,
        generate_password,
        write_password_file,
    )
    from deepracer.errors import ConfigError

    path = Path(args.file).expanduser() if args.file else default_password_file()
    password, generated = "", False
    if not args.generate and sys.stdin.isatty():
        password = getpass.getpass("new web console password (at least 8 characters; Enter = generate one): ")
        if password and getpass.getpass("again: ") != password:
            raise ConfigError("the two passwords differ; nothing changed")
    if not password:
        password, generated = generate_password(), True
    write_password_file(path, password)
    if generated:
        print(f"web console password (write it down; only its hash is stored): {password}")
    print(f"stored in {path}")
    return 0

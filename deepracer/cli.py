"""The `deepracer` command. Each subcommand lives in `deepracer/commands/<name>.py`.

A command module defines `add_arguments(parser)` and `run(args) -> int`, and imports
its heavy dependencies (rclpy, torch, matplotlib) inside `run`, so that `deepracer
--help` and the car's commands start fast and work without the training extras.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from deepracer import __version__
from deepracer.errors import DeepRacerError

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "sim": ("deepracer.commands.sim", "run the car's node graph on the simulator"),
    "drive": ("deepracer.commands.drive", "run the car's node graph (like drive.launch.py)"),
    "train": ("deepracer.commands.train", "train a policy with a DeepRacer reward function"),
    "evaluate": ("deepracer.commands.evaluate", "evaluate a model package on a track"),
    "race": ("deepracer.commands.race", "race model packages: a local leaderboard"),
    "analyze": ("deepracer.commands.analyze", "plots and summary from training/evaluation logs"),
    "reward": ("deepracer.commands.reward", "check a reward function (validate)"),
    "model": ("deepracer.commands.model", "inspect, check, run and pack model packages"),
    "tracks": ("deepracer.commands.tracks", "list and show tracks"),
    "calibrate": ("deepracer.commands.calibrate", "calibrate steering and throttle (or the camera: calibrate camera)"),
    "camera": ("deepracer.commands.camera", "camera profiles: list, show, make from a calibration, check"),
    "servo": ("deepracer.commands.servo", "write PWM pulses directly (neutral, pulse)"),
    "bench": ("deepracer.commands.bench", "benchmarks: latency, sim, train"),
    "console": ("deepracer.commands.console", "the DeepRacer console in a browser: create, train, evaluate models"),
    "device-console": ("deepracer.commands.device_console", "the car's own web page: set its password"),
    "lap-timer": ("deepracer.commands.lap_timer", "a Raspberry Pi lap timer (GPIO sensors) for the console's physical races"),
    "install-system": ("deepracer.commands.install_system", "install udev rules and systemd units"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The full parser, or with `only` the parser of that one command (fast start-up:
    `deepracer servo neutral` runs in systemd's ExecStopPost and should not import torch)."""
    parser = argparse.ArgumentParser(
        prog="deepracer", description="Open, local DeepRacer-style car software, simulator and trainer."
    )
    parser.add_argument("--version", action="version", version=f"deepracer {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module_name, help_text) in COMMANDS.items():
        if only is not None and name != only:
            sub.add_parser(name, help=help_text)
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name != module_name:
                raise
            continue  # command not built yet
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    first = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(first if first in COMMANDS else None).parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except DeepRacerError as err:
        print(f"deepracer {args.command}: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print(f"deepracer {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

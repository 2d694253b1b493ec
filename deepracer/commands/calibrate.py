"""`deepracer calibrate`: the interactive wizard, and get/set/reset of the calibration file.

    deepracer calibrate                              # wizard through the running servo node (ROS)
    deepracer calibrate --backend pca9685 [...]      # wizard straight to a PWM backend (node stopped)
    deepracer calibrate get   [--file FILE] [--json]
    deepracer calibrate set   [--file FILE] throttle.neutral_us=1460 steering.max_angle_deg=28
    deepracer calibrate reset [--file FILE]
    deepracer calibrate camera [--images DIR | --device DEV] [--model pinhole|fisheye] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from deepracer.commands.servo import add_backend_arguments


def _file_arg(parser: argparse.ArgumentParser, suppress: bool = False) -> None:
    parser.add_argument("--file", metavar="FILE", default=argparse.SUPPRESS if suppress else None,
                        help="calibration file (default: $DEEPRACER_CALIBRATION, /var/lib/deepracer/calibration.yaml "
                             "for the service user, else ~/.config/deepracer/calibration.yaml)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__.splitlines()[0]
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = "\n".join(__doc__.splitlines()[2:])
    _file_arg(parser)
    parser.add_argument("--servo-node", default="/servo_node",
                        help="wizard through ROS: full name of the running servo node (default /servo_node)")
    add_backend_arguments(parser, default_backend=None, calibration_flag=False)
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.add_parser("wizard", help="the interactive wizard (the default)")
    get = sub.add_parser("get", help="print the calibration; exits 2 if the file is missing, corrupt or invalid")
    _file_arg(get, suppress=True)
    get.add_argument("--json", action="store_true")
    setp = sub.add_parser("set", help="change values (dotted keys); refused if the result would be invalid")
    _file_arg(setp, suppress=True)
    setp.add_argument("assignments", nargs="+", metavar="KEY=VALUE", help="e.g. throttle.neutral_us=1460")
    reset = sub.add_parser("reset", help="write the default calibration (the previous file becomes .bak)")
    _file_arg(reset, suppress=True)
    from deepracer.commands.camera import add_calibrate_arguments

    add_calibrate_arguments(sub.add_parser("camera", help="calibrate the camera with a chessboard (camera_info YAML)"))


def run(args: argparse.Namespace) -> int:
    from deepracer.control import calibration as calib
    from deepracer.errors import ConfigError

    action = args.action or "wizard"
    if action == "camera":
        from deepracer.commands.camera import run_calibrate

        return run_calibrate(args)
    path = calib.default_path() if args.file is None else Path(args.file).expanduser()
    if action == "get":
        cal = calib.load(path)
        if args.json:
            print(json.dumps(cal.to_dict(), indent=2))
        else:
            print(f"# {path}")
            for key, value in calib.flat_values(cal).items():
                print(f"{key} = {value:g}")
        return 0
    if action == "set":
        cal = calib.load(path) if path.exists() else calib.Calibration()
        changes = {}
        for item in args.assignments:
            key, sep, value = item.partition("=")
            if not sep:
                raise ConfigError(f"{item!r}: expected KEY=VALUE, e.g. throttle.neutral_us=1460")
            changes[key.strip()] = value.strip()
        calib.save(cal.with_values(changes, path), path)
        print(f"saved {path}")
        return 0
    if action == "reset":
        calib.save(calib.Calibration(), path)
        print(f"reset {path} to the defaults (previous good file kept as {calib.backup_path(path)})")
        return 0
    return _wizard(args, path)


def _wizard(args: argparse.Namespace, path) -> int:
    from deepracer.control import calibration as calib
    from deepracer.control.calibration_wizard import CalibrationWizard, Quit, read_keys

    keys = read_keys(sys.stdin)
    if args.backend is None:  # through the running servo node
        import rclpy
        from rclpy.signals import SignalHandlerOptions

        from deepracer_nodes.calibration_node import CalibrationClient, run_wizard

        # Ctrl-C must stay a KeyboardInterrupt with ROS still up, so calibration mode is switched off.
        rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
        client = None
        try:
            client = CalibrationClient(args.servo_node)
            return 0 if run_wizard(client, keys) else 1
        finally:
            if client is not None:
                client.close()
            rclpy.try_shutdown()

    from deepracer.commands.servo import open_output

    args.calibration = str(path)
    output, loaded = open_output(args)
    start = loaded.calibration
    print(f"calibrating {args.backend} directly (file {path}); stop the servo node first")
    sink = _DirectSink(output)
    try:
        cal = CalibrationWizard(start, sink, keys).run()
        calib.save(cal, path)
        output.mapping.calibration, output.mapping.throttle_locked = cal, False
        print(f"saved to {path}")
        return 0
    except Quit:
        print("quit: nothing saved")
        return 1
    finally:
        output.neutral()  # with the calibration now in the file (the new one once saved)
        output.close()


class _DirectSink:
    def __init__(self, output) -> None:
        self.output = output

    def show(self, throttle_us: float, steering_us: float) -> None:
        from deepracer.control.servo_mapping import Pulses

        self.output.write(Pulses(throttle_us, steering_us), raw=True)

"""`deepracer servo neutral|pulse`: write PWM directly and exit.

systemd's ExecStopPost runs `deepracer servo neutral ...` so that even a killed servo node
leaves the car stopped. `pulse` writes one pulse, clamped to the calibration.
"""

from __future__ import annotations

import argparse
import sys

from deepracer.hardware.pwm import BACKENDS, BackendOptions


def add_backend_arguments(parser: argparse.ArgumentParser, default_backend: str | None = "pca9685",
                          calibration_flag: bool = True) -> None:
    """--backend and the backend-specific flags (shared with `deepracer calibrate --backend ...`); the
    defaults are servo_node's (deepracer.node_params.ServoNodeParams)."""
    from deepracer.node_params import ServoNodeParams

    d = ServoNodeParams()
    g = parser.add_argument_group("PWM backend")
    g.add_argument("--backend", choices=BACKENDS, default=default_backend, help=f"PWM backend (default {default_backend})")
    g.add_argument("--config", metavar="FILE", help="take the servo_node parameters (backend, calibration_file, "
                   "channels, i2c_bus, ...) from this ROS 2 params file, e.g. the drive.yaml the service runs; "
                   "flags given explicitly win")
    if calibration_flag:
        g.add_argument("--calibration", metavar="FILE", help="calibration file (default: $DEEPRACER_CALIBRATION, "
                       "/var/lib/deepracer/calibration.yaml for the service, else ~/.config/deepracer/calibration.yaml)")
    g.add_argument("--throttle-channel", type=int, default=d.throttle_channel,
                   help=f"default {d.throttle_channel} (DeepRacer)")
    g.add_argument("--steering-channel", type=int, default=d.steering_channel,
                   help=f"default {d.steering_channel} (DeepRacer)")
    g.add_argument("--i2c-bus", type=int, default=d.i2c_bus, help=f"pca9685: I2C bus number (default {d.i2c_bus})")
    g.add_argument("--i2c-address", type=lambda s: int(s, 0), default=d.i2c_address,
                   help="pca9685: I2C address (default 0x40)")
    g.add_argument("--sysfs-root", default=d.sysfs_root, help=f"sysfs: PWM class directory (default {d.sysfs_root})")
    g.add_argument("--pwmchip", type=int, default=d.pwmchip, help="sysfs: pwmchipN (default 0)")
    g.add_argument("--pins", default=",".join(map(str, d.gpio_pins)),
                   help="gpiozero: GPIO pin per channel, comma-separated (default 18,19: channel 0 -> GPIO18)")
    g.add_argument("--port", default=d.serial_port, help=f"serial: Maestro port or pyserial URL (default {d.serial_port})")
    g.add_argument("--baud", type=int, default=d.baud, help=f"serial: baud rate (default {d.baud})")


# servo_node parameter -> flag dest, for --config
CONFIG_KEYS = {"backend": "backend", "calibration_file": "calibration", "throttle_channel": "throttle_channel",
               "steering_channel": "steering_channel", "i2c_bus": "i2c_bus", "i2c_address": "i2c_address",
               "sysfs_root": "sysfs_root", "pwmchip": "pwmchip", "gpio_pins": "pins", "serial_port": "port",
               "baud": "baud"}


def apply_config(args: argparse.Namespace, parser_defaults: dict) -> None:
    """Fill flags left at their defaults from the servo_node section of --config."""
    if not getattr(args, "config", None):
        return
    from deepracer.graph import load_params_file

    params = load_params_file(args.config).get("servo_node", {})
    for key, dest in CONFIG_KEYS.items():
        if key in params and hasattr(args, dest) and getattr(args, dest) == parser_defaults.get(dest):
            value = params[key]
            setattr(args, dest, ",".join(map(str, value)) if key == "gpio_pins" else (None if value == "" else value))


def backend_options(args: argparse.Namespace) -> BackendOptions:
    from deepracer.errors import ConfigError

    try:
        pins = [int(p) for p in str(args.pins).split(",") if p.strip()]
    except ValueError:
        raise ConfigError(f"--pins {args.pins!r}: expected comma-separated GPIO numbers") from None
    return BackendOptions(args.backend, args.i2c_bus, args.i2c_address, args.sysfs_root, args.pwmchip, pins,
                          args.port, args.baud)


def open_output(args: argparse.Namespace, announce: bool = True):
    """(ServoOutput, LoadedCalibration) for the flags; the calibration falls back safely."""
    from deepracer.control import calibration
    from deepracer.control.servo_mapping import ServoMapping
    from deepracer.hardware.pwm import open_backend
    from deepracer.hardware.pwm.output import ServoOutput

    path = args.calibration or calibration.default_path()
    loaded = calibration.load_for_driving(path)
    if loaded.problem and announce:
        print(f"warning: {loaded.problem}", file=sys.stderr)
    channels = [args.throttle_channel, args.steering_channel]
    backend = open_backend(backend_options(args), loaded.calibration.frequency_hz, channels)
    mapping = ServoMapping(loaded.calibration, throttle_locked=loaded.throttle_locked)
    return ServoOutput(backend, mapping, args.throttle_channel, args.steering_channel), loaded


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    neutral = sub.add_parser("neutral", help="neutral throttle and centred steering")
    add_backend_arguments(neutral)
    pulse = sub.add_parser("pulse", help="one pulse on one channel, clamped to the calibration")
    pulse.add_argument("--channel", choices=("steering", "throttle"), required=True)
    pulse.add_argument("--us", type=float, required=True, help="pulse width in microseconds")
    add_backend_arguments(pulse)


def run(args: argparse.Namespace) -> int:
    probe = argparse.ArgumentParser()
    add_backend_arguments(probe)
    apply_config(args, vars(probe.parse_args([])))
    output, _ = open_output(args)
    try:
        if args.action == "neutral":
            written = output.neutral()
            print(f"neutral: throttle {written.throttle_us:g} µs, steering {written.steering_us:g} µs ({args.backend})")
        else:
            written_us = output.write_role(args.channel, args.us)
            note = "" if written_us == args.us else f" (clamped from {args.us:g} to the calibration)"
            print(f"{args.channel}: {written_us:g} µs{note} ({args.backend})")
    finally:
        output.close()
    return 0

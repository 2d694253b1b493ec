"""`deepracer drive`: the car's node graph (camera -> inference -> control -> servo) without launch_ros.

The same graph as `ros2 launch deepracer drive.launch.py` (both built by deepracer.graph.drive_graph).
Composed in one process by default (lowest latency, see docs/latency.md); `--processes` runs one
process per node with respawn, like the launch file. Ctrl-C / SIGTERM stop it cleanly, however many
arrive: nodes are destroyed (the servo writes neutral) or, with --processes, get SIGINT then
SIGTERM; exit 0.
"""

from __future__ import annotations

import argparse
import signal
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="ROS 2 params file (default: config/drive.yaml)")
    parser.add_argument("--processes", action="store_true", help="one process per node (respawned after a crash)")
    parser.add_argument("--namespace", metavar="NS", default="", help="prefix for every node and topic")
    parser.add_argument("--model", metavar="PKG", default="", help="model package (directory or .tar.gz)")
    add_console_arguments(parser, "port of the car's web page (default: the config's, 8080)",
                          host_default="the config's, 0.0.0.0 in config/drive.yaml")


def add_console_arguments(parser: argparse.ArgumentParser, port_help: str, host_default: str) -> None:
    """The car's web page (device_console_node, docs/device-console.md); `deepracer sim` has them too."""
    parser.add_argument("--console-port", type=int, metavar="PORT", default=None, help=port_help)
    parser.add_argument("--console-host", metavar="ADDR", default=None, help=f"address it listens on (default: {host_default})")
    parser.add_argument("--console-password-file", metavar="FILE", default=None,
                        help="its password (argon2 hash; default: the installed one, see `deepracer device-console password`)")


def run(args: argparse.Namespace) -> int:
    from deepracer.errors import ConfigError
    from deepracer.graph import drive_graph, drive_overrides
    from deepracer_nodes.console_graph import check_password_file, console_overrides
    from deepracer_nodes.graph_runner import GraphRunner

    try:
        check_password_file(args.console_password_file)
    except ConfigError as err:  # the car drives without its web page; it never stays parked for it
        print(f"deepracer drive: warning: {err}; the web page stays off", file=sys.stderr, flush=True)
    console = console_overrides(args.console_port, args.console_host, args.console_password_file)
    specs = drive_graph(args.config, **(drive_overrides(args.model) | ({"device_console_node": console} if console else {})))
    runner = GraphRunner(specs, processes=args.processes, namespace=args.namespace,
                         on_event=lambda msg: print(f"deepracer drive: {msg}", file=sys.stderr, flush=True))
    stop_signal: list[int] = []

    def on_signal(signum, frame):
        stop_signal.append(signum)
        runner.request_stop()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with runner:
            print("deepracer drive: running; Ctrl-C stops", file=sys.stderr, flush=True)
            runner.wait()
    finally:
        for sig, handler in previous.items():
            # A program on its way out ignores late signals (a second Ctrl-C, systemd's SIGINT to the
            # whole control group): Python's default handler would turn one that arrives after the
            # clean shutdown into a KeyboardInterrupt or an exit by signal (-2). A caller that had
            # its own handler gets it back.
            signal.signal(sig, signal.SIG_IGN if handler in (signal.default_int_handler, signal.SIG_DFL) else handler)
    if stop_signal:
        print(f"deepracer drive: stopped ({signal.Signals(stop_signal[0]).name})", file=sys.stderr)
        return 0
    print("deepracer drive: the node graph stopped on its own", file=sys.stderr)
    return 1

"""`deepracer bench latency|sim|train|console|league|...`: each benchmark lives beside the code it measures."""

from __future__ import annotations

import argparse
import importlib
import json
import sys

BENCHES = {
    "latency": ("deepracer_nodes.bench_latency", "camera -> inference -> control -> servo latency at 30 fps"),
    "sim": ("deepracer.sim.bench", "simulator env steps per second (render, physics, race state, reward)"),
    "train": ("deepracer.train.bench", "minutes until the policy first completes a lap"),
    "console": ("deepracer_console.bench", "console: page load, model list, iteration-to-API delay, live view"),
    "league": ("deepracer_console.bench_league",
               "event server: leaderboard under 200 concurrent clients; 100 racers submitting at once"),
    "lap": ("deepracer.sim.lap_bench", "racing reference: pure pursuit, the vehicle's limit line and a model, per track"),
    "randomized": ("deepracer.sim.randomized_bench",
                   "laps a model completes with the simulator's domain randomisation, tracks x seeds"),
    "device-console": ("deepracer_nodes.bench_console",
                       "camera -> PWM latency without and with the car's web page streaming; frame-to-browser delay"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="bench", metavar="BENCH")
    sub.required = True
    for name, (module_name, help_text) in BENCHES.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--json", action="store_true", help="print the result as JSON")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name not in (module_name, *module_name.split(".")[:2]):
                raise
            p.set_defaults(_bench=None)
            continue
        module.add_arguments(p)
        p.set_defaults(_bench=module.run)


def run(args: argparse.Namespace) -> int:
    if args._bench is None:
        print(f"bench {args.bench} is not available in this install", file=sys.stderr)
        return 2
    result = args._bench(args)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:>24}: {value}")
    return 0

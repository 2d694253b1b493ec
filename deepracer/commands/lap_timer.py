"""`deepracer lap-timer`: a Raspberry Pi with sensors across the finish line as the console's hardware
lap timer (DREM's timer: GPIO17/27, rising edge, 2 s debounce across the sensors). Each crossing is
POSTed to the console's physical race (docs/event-server.md, "The hardware lap timer").

    deepracer lap-timer --server http://console:8000 --race 7 --token-file ~/timer-token

The token is the one `POST /api/races/{id}/timer-token` showed (read from a file or
$DEEPRACER_TIMER_TOKEN, never from the command line, where `ps` would show it).
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from deepracer.lap_timer import DEFAULT_DEBOUNCE_MS, DEFAULT_PINS

    parser.add_argument("--server", required=True, help="the console's address, e.g. http://10.0.0.2:8000")
    parser.add_argument("--race", type=int, required=True, help="the physical race's id")
    parser.add_argument("--token-file", type=Path, default=None,
                        help="file holding the race's timer token (default: $DEEPRACER_TIMER_TOKEN)")
    parser.add_argument("--pins", type=int, nargs="+", default=list(DEFAULT_PINS),
                        help=f"BCM GPIO numbers of the sensors (default: {' '.join(map(str, DEFAULT_PINS))})")
    parser.add_argument("--debounce-ms", type=int, default=DEFAULT_DEBOUNCE_MS,
                        help=f"crossings closer than this (any sensor) are one lap (default: {DEFAULT_DEBOUNCE_MS})")
    parser.add_argument("--pull-up", action="store_true", help="sensors pull the pin low when they see the car")


def run(args: argparse.Namespace) -> int:
    from deepracer.errors import ConfigError
    from deepracer.lap_timer import LapPoster, LapTimer

    if args.token_file is not None:
        try:
            token = args.token_file.expanduser().read_text(encoding="utf-8").strip()
        except OSError as err:
            raise ConfigError(f"{args.token_file}: cannot read the timer token: {err.strerror}") from None
    else:
        token = os.environ.get("DEEPRACER_TIMER_TOKEN", "").strip()
    if not token:
        raise ConfigError("no timer token: --token-file FILE or $DEEPRACER_TIMER_TOKEN (a facilitator makes one "
                          "with POST /api/races/{id}/timer-token)")
    if not args.server.startswith(("http://", "https://")):
        raise ConfigError(f"--server {args.server!r}: give the console's http:// or https:// address")
    if args.debounce_ms < 0:
        raise ConfigError("--debounce-ms must be 0 or more")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    poster = LapPoster(args.server, args.race, token).start()
    timer = LapTimer(poster, args.pins, args.debounce_ms, pull_up=args.pull_up)
    print(f"lap timer: GPIO {', '.join(map(str, timer.pins))} -> {poster.url} (Ctrl-C stops)", flush=True)
    try:
        timer.run()
    except KeyboardInterrupt:
        pass
    finally:
        poster.close(timeout=5.0)
    if poster.pending:
        print(f"lap timer: {poster.pending} lap(s) not delivered", flush=True)
        return 1
    return 0

"""`deepracer bench league`: a league night on one machine, measured on a real `deepracer console`
process on a free 127.0.0.1 port with a temporary data folder.

The data folder is seeded with `--racers` accounts, each with a ready model and a finished
submission of it to one open race (a leaderboard of that many entries). Then:

- leaderboard: `--clients` clients (one keep-alive connection each) poll
  `GET /api/races/{id}/leaderboard` for `--duration` seconds, each every `--interval` seconds
  (staggered), as that many people watching the leaderboard page; p50, p99, requests/s, errors.
  `--interval 0` makes them ask back to back (closed loop): the server's throughput at that
  concurrency, where latency is concurrency / throughput (Little's law);
- submissions: every racer logs in, then all of them `POST /api/races/{id}/submissions` at once;
  the bench counts the answers, then reads the database: every accepted submission must be
  stored with its evaluation and a job (`lost` = accepted - stored; it must be 0).

The figures are medians/percentiles of every request; the client runs on the same two cores as
the server, so they include its share of the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from deepracer_console.bench import _Console

PASSWORD = "league-night-password"  # nobody logs in with it: the bench opens the sessions itself


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--racers", type=int, default=100,
                        help="accounts, leaderboard entries and simultaneous submissions (default 100)")
    parser.add_argument("--clients", type=int, default=200, help="concurrent leaderboard clients (default 200)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of leaderboard polling (default 20)")
    parser.add_argument("--interval", type=float, default=1.0,
                        help="seconds between one client's requests (default 1; 0: back to back)")
    parser.add_argument("--saturate", type=float, default=5.0, metavar="S",
                        help="also S seconds back to back (interval 0) for the throughput (default 5; 0: skip)")
    parser.add_argument("--keep", action="store_true", help="keep the data folder (and the console's log) after")


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 2) if values else None


def seed(data: Path, racers: int) -> tuple[int, dict[str, tuple[str, str, int]]]:
    """Accounts, ready models and one finished submission each to an open race: the race's id and
    per racer (session cookie, csrf token, model id), as if each had logged in (argon2 is slow on
    purpose; logging in is not what is measured)."""
    from deepracer_console import auth
    from deepracer_console import defaults as d
    from deepracer_console.db import (
        Evaluation,
        EvaluationStatus,
        Model,
        ModelStatus,
        open_database,
        utcnow,
    )
    from deepracer_console.races import Race, RaceSubmission
    from deepracer_console.settings import Settings
    from deepracer_console.storage import Storage

    settings = Settings(data_dir=data)
    settings.make_dirs()
    storage = Storage(settings)
    sessions = open_database(settings.db_url)
    rng = random.Random(2018)
    password_hash = auth.hash_password(PASSWORD)  # one hash for all: argon2 is slow on purpose
    guard = auth.Auth(sessions, data, single_user_allowed=True)
    logins: dict[str, tuple[str, str, int]] = {}
    now = utcnow()
    with sessions.begin() as db:
        race = Race(name="league-night", track="reinvent2018", opens_at=now - timedelta(minutes=1),
                    closes_at=now + timedelta(days=1), ranking="TOTAL_TIME", minimum_laps=3, laps=3,
                    off_track_penalty_s=1.0, resets=10_000, submissions_per_day=99, private=False,
                    invite_token="bench")
        db.add(race)
        db.flush()
        for i in range(racers):
            user = auth.User(username=f"racer-{i:03d}", password_hash=password_hash, role=auth.Role.RACER)
            db.add(user)
            db.flush()
            model = Model(name="my-model", owner_key=user.id, description="seeded by deepracer bench league", track="reinvent2018",
                          algorithm="ppo", network="small", action_space_type="discrete",
                          action_space=d.default_action_space(), hyperparameters=d.HYPERPARAMETERS["ppo"],
                          reward_function=d.reward_example(d.DEFAULT_REWARD_EXAMPLE), status=ModelStatus.READY,
                          source="imported")
            db.add(model)
            db.flush()
            db.add(auth.ModelOwner(model_id=model.id, user_id=user.id))
            cookie, csrf = guard.open_session(db, user)
            logins[user.username] = (cookie, csrf, model.id)
            package = storage.package_dir(model.id)
            package.mkdir(parents=True, exist_ok=True)
            # never loaded by the bench's measurement: a submission's evaluation of it fails at once
            (package / "model.onnx").write_bytes(b"placeholder model of deepracer bench league\n")
            trials = []
            for t in range(3):
                off = rng.randint(0, 3)
                lap = round(rng.uniform(9.0, 14.0) + off * 1.0, 3)
                trials.append({"trial": t + 1, "progress": 100.0, "lap_time_s": lap, "elapsed_s": lap,
                               "off_track": off, "resets": off, "status": "Lap complete"})
            evaluation = Evaluation(model_id=model.id, track=race.track, trials=3, off_track_penalty_s=1.0,
                                    status=EvaluationStatus.COMPLETED, result={"trials": trials, "summary": {}},
                                    finished_at=now)
            db.add(evaluation)
            db.flush()
            db.add(RaceSubmission(race_id=race.id, user_id=user.id, racer=user.username, model_id=model.id,
                                  evaluation_id=evaluation.id, created_at=now - timedelta(seconds=racers - i)))
        race_id = race.id
    sessions.kw["bind"].dispose()
    return race_id, logins


class _Connection:
    """One keep-alive HTTP/1.1 connection for GETs: asyncio streams and httptools' response parser.
    A load generator that costs the shared cores little (httpx spends several ms of CPU a request,
    which on two cores would measure the client, not the server)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> tuple[int, bytes]:
        import httptools

        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        # as a browser asks: keep-alive, and gzip accepted
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                          "Accept-Encoding: gzip\r\n\r\n".encode())
        body: list[bytes] = []
        headers: dict[bytes, bytes] = {}
        done = asyncio.Event()

        class Events:
            def on_header(self, name: bytes, value: bytes) -> None:
                headers[name.lower()] = value.lower()

            def on_body(self, chunk: bytes) -> None:
                body.append(chunk)

            def on_message_complete(self) -> None:
                done.set()

        parser = httptools.HttpResponseParser(Events())
        while not done.is_set():
            chunk = await self.reader.read(65536)
            if not chunk:
                await self.close()
                raise ConnectionError("the server closed the connection")
            parser.feed_data(chunk)
        if headers.get(b"connection") == b"close":
            await self.close()
        data = b"".join(body)
        if headers.get(b"content-encoding") == b"gzip":
            import gzip

            data = gzip.decompress(data)
        return parser.get_status_code(), data

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


async def _poll(url: str, path: str, clients: int, duration: float, interval: float) -> dict[str, Any]:
    from urllib.parse import urlsplit

    where = urlsplit(url)
    times: list[float] = []
    errors: dict[str, int] = {}
    connected = 0
    all_connected = asyncio.Event()
    clock: dict[str, float] = {}

    async def client(k: int) -> None:
        nonlocal connected
        c = _Connection(where.hostname or "127.0.0.1", where.port or 80)
        try:
            await c.get(path)  # the connection is open before the clock starts (not counted)
        finally:
            connected += 1
            if connected == clients:
                clock["start"] = time.perf_counter() + 0.1
                clock["end"] = clock["start"] + duration
                all_connected.set()
        await all_connected.wait()
        await asyncio.sleep(max(0.0, clock["start"] - time.perf_counter()) + (interval * k / clients if interval else 0))
        while (t0 := time.perf_counter()) < clock["end"]:
            try:
                status, body = await asyncio.wait_for(c.get(path), 30)
                key = None if status == 200 and body.startswith(b"{") else f"HTTP {status}"
            except (TimeoutError, OSError, ValueError) as err:
                key = type(err).__name__
                await c.close()
            t1 = time.perf_counter()
            if key is None:
                times.append((t1 - t0) * 1000)
            else:
                errors[key] = errors.get(key, 0) + 1
            if interval:
                await asyncio.sleep(max(0.0, interval - (t1 - t0)))
        await c.close()

    await asyncio.gather(*(client(k) for k in range(clients)))
    wall = time.perf_counter() - clock["start"]
    return {"clients": clients, "interval_s": interval, "duration_s": round(wall, 1), "requests": len(times),
            "errors": sum(errors.values()), "error_kinds": errors, "p50_ms": _pct(times, 50),
            "p99_ms": _pct(times, 99), "max_ms": round(max(times), 2) if times else None,
            "requests_per_s": round(len(times) / wall, 1)}


async def _submit_all(url: str, race_id: int, logins: dict[str, tuple[str, str, int]]) -> dict[str, Any]:
    import httpx

    from deepracer_console.auth import COOKIE, CSRF_HEADER

    clients: list[tuple[httpx.AsyncClient, int]] = []
    try:
        for cookie, csrf, model_id in logins.values():
            c = httpx.AsyncClient(base_url=url, timeout=120, cookies={COOKIE: cookie}, headers={CSRF_HEADER: csrf})
            clients.append((c, model_id))
        await asyncio.gather(*(c.get("/api/auth/me") for c, _ in clients))  # connected, before the clock starts
        go = asyncio.Event()
        times: list[float] = []
        answers: dict[str, int] = {}
        accepted: list[int] = []

        async def submit(c: httpx.AsyncClient, model_id: int) -> None:
            await go.wait()
            t0 = time.perf_counter()
            try:
                r = await c.post(f"/api/races/{race_id}/submissions", json={"model_id": model_id})
                key = str(r.status_code)
                if r.status_code == 201:
                    accepted.append(int(r.json()["id"]))
            except httpx.HTTPError as err:
                key = type(err).__name__
            times.append((time.perf_counter() - t0) * 1000)
            answers[key] = answers.get(key, 0) + 1

        tasks = [asyncio.create_task(submit(c, model_id)) for c, model_id in clients]
        await asyncio.sleep(0.2)
        t = time.perf_counter()
        go.set()
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - t
    finally:
        await asyncio.gather(*(c.aclose() for c, _ in clients))
    return {"racers": len(logins), "answers": answers, "accepted": len(accepted), "accepted_ids": accepted,
            "p50_ms": _pct(times, 50), "p99_ms": _pct(times, 99), "all_answered_s": round(wall, 2)}


def stored_submissions(data: Path, race_id: int, ids: list[int]) -> dict[str, int]:
    """Of the accepted submission ids: how many are in the database with their evaluation and a job."""
    from sqlalchemy import select

    from deepracer_console.db import Evaluation, Job, open_database
    from deepracer_console.races import RaceSubmission
    from deepracer_console.settings import Settings

    sessions = open_database(Settings(data_dir=data).db_url)
    try:
        with sessions() as db:
            rows = db.execute(select(RaceSubmission.id, Evaluation.id, Job.id)
                              .join(Evaluation, Evaluation.id == RaceSubmission.evaluation_id)
                              .join(Job, Job.evaluation_id == Evaluation.id)
                              .where(RaceSubmission.race_id == race_id, RaceSubmission.id.in_(ids))).all()
    finally:
        sessions.kw["bind"].dispose()
    return {"stored": len({r[0] for r in rows}), "with_evaluation_and_job": len({r[0] for r in rows if r[2]})}


def run(args: argparse.Namespace) -> dict[str, Any]:
    import httpx

    data = Path(tempfile.mkdtemp(prefix="deepracer-bench-league-"))
    t0 = time.monotonic()
    race_id, logins = seed(data, args.racers)
    print(f"seeded {args.racers} racers in {time.monotonic() - t0:.1f} s", file=sys.stderr)
    console = _Console(data)
    try:
        with httpx.Client(base_url=console.url, timeout=60) as client:
            console.wait(client)
            board = client.get(f"/api/races/{race_id}/leaderboard")
            board.raise_for_status()
            entries = len(board.json()["entries"])
        path = f"/api/races/{race_id}/leaderboard"
        out: dict[str, Any] = {"racers": args.racers, "leaderboard_entries": entries,
                               "load_average_1min_before": round(os.getloadavg()[0], 2), "cpus": os.cpu_count()}
        print(f"leaderboard: {args.clients} clients, one request each every {args.interval:g} s, "
              f"{args.duration:g} s", file=sys.stderr)
        out["leaderboard"] = asyncio.run(_poll(console.url, path, args.clients, args.duration, args.interval))
        if args.saturate > 0:
            print(f"leaderboard: {args.clients} clients back to back, {args.saturate:g} s", file=sys.stderr)
            out["leaderboard_back_to_back"] = asyncio.run(_poll(console.url, path, args.clients, args.saturate, 0.0))
        print(f"submissions: {args.racers} racers at once", file=sys.stderr)
        subs = asyncio.run(_submit_all(console.url, race_id, logins))
        ids = subs.pop("accepted_ids")
        found = stored_submissions(data, race_id, ids)
        subs |= found | {"lost": subs["accepted"] - found["with_evaluation_and_job"],
                         "refused_or_failed": args.racers - subs["accepted"]}
        out["submissions"] = subs
        return out
    finally:
        t0 = time.monotonic()
        console.stop()
        print(f"console stopped in {time.monotonic() - t0:.1f} s", file=sys.stderr)
        if args.keep:
            print(f"data folder kept: {data} (console log: {console.log})", file=sys.stderr)
        else:
            shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    print(json.dumps(run(parser.parse_args()), indent=2))

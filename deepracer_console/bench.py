"""`deepracer bench console`: the console's speed, measured on a real `deepracer console` process
on a free localhost port with a temporary data folder.

- page load p95: the HTML page and every asset it references, fetched in turn (ms);
- `GET /api/models` p99 with 200 models in the database (ms);
- iteration-to-API delay p95: from a training iteration's metrics file being written to the
  iteration being visible in `GET /api/models/{id}/metrics`, polled every 0.1 s (s; target <= 2);
- live-view frames per second while it is watched (new frames seen at 10 requests/s);
- training steps/s watched / unwatched (target >= 0.9), from `deepracer train`'s own figure,
  runs alternating so that the shared machine's load hits both alike; these runs have 100
  episodes per iteration, so that no evaluation (whose length depends on how well the policy
  drives) falls inside the step budget and the figure is training alone.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--steps", type=int, default=1500, help="environment steps per training run (default 1500)")
    parser.add_argument("--rounds", type=int, default=2, help="pairs of unwatched/watched runs (default 2)")
    parser.add_argument("--requests", type=int, default=300, help="GET /api/models requests (default 300)")
    parser.add_argument("--page-loads", type=int, default=50, help="page loads (default 50)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _seed_models(data: Path, n: int) -> None:
    """n ready models straight into the database (no training: the list is what is measured)."""
    from deepracer_console import defaults as d
    from deepracer_console.db import Model, ModelStatus, open_database
    from deepracer_console.settings import Settings

    sessions = open_database(Settings(data_dir=data).db_url)
    with sessions.begin() as db:
        for i in range(n):
            db.add(Model(name=f"bench-{i:03d}", description="seeded by deepracer bench console", track="reinvent2018",
                         algorithm="ppo", network="small", action_space_type="discrete",
                         action_space=d.default_action_space(), hyperparameters=d.HYPERPARAMETERS["ppo"],
                         reward_function=d.reward_example(d.DEFAULT_REWARD_EXAMPLE), status=ModelStatus.READY,
                         best_progress=float(i % 100), best_lap_time_s=10.0 + i % 7))


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


class _Console:
    def __init__(self, data: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data / "bench-console.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "deepracer.cli", "console", "--data", str(data), "--port", str(self.port),
             "--max-jobs", "1"], stdout=self.log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)

    def wait(self, client: Any) -> None:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the console exited: {self.log.read_text()}")
            try:
                if client.get("/api/health").status_code == 200:
                    return
            except Exception:
                pass
            time.sleep(0.3)
        raise SystemExit("the console did not start within 90 s")

    def stop(self) -> None:
        import signal

        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _page_loads(client: Any, n: int) -> dict[str, Any]:
    index = client.get("/")
    assets = sorted(set(re.findall(r'(?:src|href)="(/assets/[^"]+)"', index.text)))
    if not assets:
        return {"page_load_ms_p95": None, "page_note": "the pages are not built (make console-web)"}
    times = []
    for _ in range(n):
        t = time.perf_counter()
        for path in ["/", *assets]:
            r = client.get(path)
            r.raise_for_status()
        times.append((time.perf_counter() - t) * 1000)
    size = sum(len(client.get(p).content) for p in ["/", *assets])
    return {"page_load_ms_p50": _pct(times, 50), "page_load_ms_p95": _pct(times, 95), "page_assets": len(assets),
            "page_bytes": size}


def _list_models(client: Any, n: int) -> dict[str, Any]:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        r = client.get("/api/models")
        r.raise_for_status()
        times.append((time.perf_counter() - t) * 1000)
    return {"models_listed": len(r.json()), "list_models_ms_p50": _pct(times, 50), "list_models_ms_p99": _pct(times, 99)}


def _train(client: Any, data: Path, name: str, steps: int, watched: bool, episodes: int) -> dict[str, Any]:
    body = {"name": name, "track": "reinvent2018", "max_minutes": 30, "max_steps": steps,
            "hyperparameters": {"num_episodes_between_training": episodes}}
    r = client.post("/api/models", json=body)
    r.raise_for_status()
    model_id = r.json()["id"]
    metrics_file = data / "models" / str(model_id) / "training" / "metrics" / "iterations.json"
    delays: list[float] = []
    frames: list[bytes] = []
    watch_s = [0.0]
    done = threading.Event()

    def watch() -> None:
        seen: set[int] = set()
        start = None
        while not done.is_set():
            r = client.get(f"/api/models/{model_id}/live")
            if r.status_code == 200:
                start = start or time.monotonic()
                key = hash(r.content)
                if key not in seen:
                    seen.add(key)
                    frames.append(b"")
                watch_s[0] = time.monotonic() - start
            time.sleep(0.1)

    watcher = threading.Thread(target=watch, daemon=True) if watched else None
    if watcher:
        watcher.start()
    known = 0
    while True:
        m = client.get(f"/api/models/{model_id}/metrics").json()
        now = time.time()
        if len(m["iterations"]) > known:
            if known and metrics_file.exists():  # the first poll after a start has no reference point
                delays.append(max(0.0, now - metrics_file.stat().st_mtime))
            known = len(m["iterations"])
        if m["status"] in ("ready", "failed"):
            break
        time.sleep(0.1)
    done.set()
    if watcher:
        watcher.join()
    log = client.get(f"/api/models/{model_id}/logs", params={"tail": 100}).text
    match = re.search(r'"steps_per_s": ([0-9.]+)', log)
    if m["status"] not in ("ready", "failed") or not match:
        raise SystemExit(f"bench training {name} ended {m['status']}:\n{log[-2000:]}")
    return {"steps_per_s": float(match.group(1)), "delays": delays,
            "fps": len(frames) / watch_s[0] if watched and watch_s[0] > 1 else None}


def run(args: argparse.Namespace) -> dict[str, Any]:
    import httpx

    data = Path(tempfile.mkdtemp(prefix="deepracer-bench-console-"))
    _seed_models(data, 200)
    console = _Console(data)
    try:
        with httpx.Client(base_url=console.url, timeout=120) as client:
            console.wait(client)
            out: dict[str, Any] = {}
            out |= _page_loads(client, args.page_loads)
            out |= _list_models(client, args.requests)
            unwatched, watched, fps = [], [], []
            for i in range(args.rounds):
                unwatched.append(_train(client, data, f"unwatched-{i}", args.steps, False, 100)["steps_per_s"])
                w = _train(client, data, f"watched-{i}", args.steps, True, 100)
                watched.append(w["steps_per_s"])
                if w["fps"]:
                    fps.append(w["fps"])
                print(f"round {i + 1}: {unwatched[-1]} steps/s unwatched, {watched[-1]} watched, "
                      f"{w['fps'] or 0:.1f} fps", file=sys.stderr)
            # iterations of 5 episodes: several metrics updates to time, watched as the page would
            try:
                delays = _train(client, data, "iterations", 2 * args.steps, True, 5)["delays"]
            except SystemExit as err:  # keep the figures measured so far
                print(err, file=sys.stderr)
                delays = []
            out |= {
                "iteration_to_api_s_p50": _pct(delays, 50), "iteration_to_api_s_p95": _pct(delays, 95),
                "iteration_samples": len(delays),
                "live_view_fps": round(float(np.median(fps)), 2) if fps else None,
                "train_steps_per_s_unwatched": unwatched, "train_steps_per_s_watched": watched,
                "watched_over_unwatched": round(float(np.median(watched) / np.median(unwatched)), 3)
                if watched and unwatched else None,
                "steps_per_run": args.steps,
            }
            return out
    finally:
        console.stop()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    print(json.dumps(run(parser.parse_args()), indent=2))

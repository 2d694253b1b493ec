"""`deepracer bench device-console`: does the car's web page slow the camera -> PWM path, and how
fresh is the picture on the phone?

The same graph and probe as `deepracer bench latency` (synthetic camera at `--fps` ->
inference_node with the DeepRacer-sized reference CNN -> control_node -> servo_node on the
emulated PCA9685), measured twice in one run: without device_console_node, and with it
while `--viewers` clients watch the MJPEG stream. The viewers are processes of their own
(like a phone, they do not share the graph's GIL); each logs in, streams for the measured
time and records, per frame, now - the frame's capture stamp (X-Frame-Stamp: camera_node
stamps with the wall clock) = frame-to-browser delay, and its frame rate.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

PASSWORD = "bench-console-password"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=10.0, help="measurement time per run (after warm-up)")
    parser.add_argument("--fps", type=float, default=30.0, help="camera frame rate")
    parser.add_argument("--viewers", type=int, default=1, help="browsers streaming the camera at once")
    parser.add_argument("--executor", choices=["auto", "single", "multi", "events"], default="auto")
    parser.add_argument("--mode", choices=["composed", "processes"], default="composed",
                        help="the graph in one process (as deepracer drive) or one process per node")


def viewer_main() -> None:
    """A viewer process: log in, stream `seconds` of MJPEG, print fps and delays as JSON."""
    import httpx

    url, seconds, warmup = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    client = httpx.Client(base_url=url, timeout=30.0)
    client.post("/api/login", json={"password": PASSWORD}).raise_for_status()
    delays: list[float] = []
    frames = 0
    start = time.monotonic()
    measuring_since = None
    with client.stream("GET", "/api/camera") as r:
        buf = b""
        for chunk in r.iter_bytes():
            buf += chunk
            while b"\r\n\r\n" in buf:
                head, rest = buf.split(b"\r\n\r\n", 1)
                headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:] if ": " in line)
                size = int(headers["Content-Length"])
                if len(rest) < size + 2:
                    break
                now = time.time()
                buf = rest[size + 2:]
                if time.monotonic() - start < warmup:
                    continue
                if measuring_since is None:
                    measuring_since = time.monotonic()
                frames += 1
                delays.append((now - float(headers["X-Frame-Stamp"])) * 1000.0)
            if measuring_since is not None and time.monotonic() - measuring_since >= seconds:
                break
    elapsed = time.monotonic() - (measuring_since or time.monotonic())
    print(json.dumps({"frames": frames, "seconds": elapsed, "delays_ms": delays}))


_VIEWER_CODE = "from deepracer_nodes.bench_console import viewer_main; viewer_main()"


def _latency(args: argparse.Namespace, model: Path, workdir: Path, console: bool, label: str) -> dict[str, Any]:
    from deepracer.device_console.auth import write_password_file
    from deepracer.errors import DeepRacerError
    from deepracer_nodes.bench_latency import _PROBE_CODE, _wait_with_progress, bench_specs
    from deepracer_nodes.console_graph import CONSOLE_NODE, console_spec
    from deepracer_nodes.graph_runner import GraphRunner

    namespace = f"/bench_console_{os.getpid()}_{'with' if console else 'without'}"
    specs = [s for s in bench_specs(model, args.fps, "servo", workdir) if s.name != CONSOLE_NODE]
    if console:
        pw = write_password_file(workdir / "console-password", PASSWORD)
        specs.append(console_spec(port=0, password_file=str(pw), models_dir=str(workdir / "models")))
    viewers: list[subprocess.Popen] = []
    with GraphRunner(specs, processes=args.mode == "processes", namespace=namespace, executor=args.executor,
                     on_event=lambda m: None) as graph:
        probe = subprocess.Popen([sys.executable, "-c", _PROBE_CODE, namespace, "servo", str(args.seconds), str(args.fps)],
                                 stdout=subprocess.PIPE, text=True)
        if console:
            url = _console_url(graph, args.mode)
            # the probe warms up (discovery, model load) for a few s, then measures `seconds`: the
            # viewers stream all along and keep only what they see in the same window, roughly
            viewers = [subprocess.Popen([sys.executable, "-c", _VIEWER_CODE, url, str(args.seconds), "4.0"],
                                        stdout=subprocess.PIPE, text=True) for _ in range(max(0, args.viewers))]
        try:
            _wait_with_progress(probe, graph, args.seconds, label)
            out, _ = probe.communicate(timeout=90.0 + args.seconds)
            views = [json.loads(v.communicate(timeout=60.0 + args.seconds)[0].strip().splitlines()[-1]) for v in viewers]
        finally:
            for proc in [probe, *viewers]:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    try:
        result = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise DeepRacerError(f"device-console bench ({label}): the latency probe printed no result") from None
    if "error" in result:
        raise DeepRacerError(f"device-console bench ({label}): {result['error']}")
    summary = {k: result[k] for k in ("p50_ms", "p99_ms", "max_ms", "frames", "matched", "dropped")}
    if console:
        delays = np.concatenate([np.asarray(v["delays_ms"]) for v in views]) if views else np.zeros(0)
        summary["viewers"] = len(views)
        summary["stream_fps"] = [round(v["frames"] / v["seconds"], 2) if v["seconds"] else 0.0 for v in views]
        if delays.size:
            summary["frame_to_browser_p50_ms"] = round(float(np.percentile(delays, 50)), 2)
            summary["frame_to_browser_p99_ms"] = round(float(np.percentile(delays, 99)), 2)
            summary["frame_to_browser_frames"] = int(delays.size)
    return summary


def _console_url(graph, mode: str) -> str:
    if mode == "processes":
        raise SystemExit("--mode processes: the console's port is not visible from here; use composed")
    node = graph.nodes["device_console_node"]
    if not node.url:
        raise SystemExit("the web console did not start")
    return node.url.rstrip("/")


def run(args: argparse.Namespace) -> dict[str, Any]:
    from deepracer_nodes.bench_latency import _reference_model

    with tempfile.TemporaryDirectory(prefix="deepracer-bench-console-") as tmp:
        workdir = Path(tmp)
        model = _reference_model(workdir)
        without = _latency(args, model, workdir, console=False, label="without console")
        with_console = _latency(args, model, workdir, console=True, label=f"with console, {args.viewers} viewer(s)")
    return {"fps": args.fps, "seconds": args.seconds, "mode": args.mode, "executor": args.executor,
            "without_console": without, "with_console": with_console}

"""`deepracer bench latency`: frame available -> command written, through the real car graph.

Frames come at `--fps` from the synthetic camera source through the real camera_node ->
inference_node (the DeepRacer-sized reference CNN) -> control_node (autonomous) ->
servo_node (emulated PCA9685) when it is installed, else up to `cmd_vel` (`"endpoint"` says
which). Frame available = the capture stamp (taken right after the source delivers the
frame, before resize, conversion and publishing). Command written = the servo's
`written_at` in `servo/pulses`, or the arrival of `cmd_vel` at a probe node.

Correlation by time/order: a command belongs to the newest frame captured before it (frames
are 1/fps apart, latency a few ms), each frame to at most one command. A frame without a
command is a dropped frame; a policy command that never reached the endpoint is a dropped
command.

Each matched frame is split into hops (`"hops"` in the JSON, p50/p99/mean and share of the mean
total), from the nodes' own clocks (one wall clock, all on this machine):
- camera: capture -> the image is in inference_node's callback (resize/convert, publish, transport);
- inference: image in -> policy/cmd_vel published (decode, preprocess, onnxruntime: `onnx` alone);
- control: policy/cmd_vel published -> cmd_vel in servo_node's callback (control_node, two transports);
- servo: cmd_vel in -> PWM written (mapping, the PCA9685 register writes).
Without servo_node (endpoint cmd_vel) "control" ends at the probe and there is no servo hop.

The default run is 2,000 frames per mode (67 s at 30 fps), so p99 is the 20th-worst frame, not
the 3rd as in a 300-frame run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

MODES = ("composed", "processes")
DEFAULT_FRAMES = 2000
HOPS = ("camera", "inference", "control", "servo")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mode", choices=[*MODES, "both"], default="both", help="graph in one process, separate processes, or both")
    parser.add_argument("--frames", type=int, default=DEFAULT_FRAMES,
                        help=f"frames to measure per mode, after warm-up (default {DEFAULT_FRAMES}: a stable p99)")
    parser.add_argument("--seconds", type=float, default=None, help="measurement time per mode instead of --frames")
    parser.add_argument("--fps", type=float, default=30.0, help="camera frame rate")
    parser.add_argument("--executor", choices=["auto", "single", "multi", "events"], default="auto",
                        help="composed mode: rclpy executor (auto = events where available, else single)")
    parser.add_argument("--endpoint", choices=["auto", "cmd_vel", "servo"], default="auto",
                        help="measure to the servo's PWM write (auto: when servo_node is installed) or to cmd_vel")


@dataclass
class Records:
    """What the probe saw, in wall-clock nanoseconds."""

    frames: list[int] = field(default_factory=list)  # capture stamps (camera_info)
    policy: list[int] = field(default_factory=list)  # policy/cmd_vel arrivals
    commands: list[int] = field(default_factory=list)  # endpoint times (cmd_vel arrival or servo written_at)
    policy_ms: list[float] = field(default_factory=list)  # frame -> policy/cmd_vel, as inference_node reports it
    # per frame (capture stamp in µs) -> (received_ms, latency_ms, inference_ms) from policy/action
    actions: dict[int, tuple[float, float, float]] = field(default_factory=dict)
    received: dict[int, int] = field(default_factory=dict)  # endpoint time -> servo's cmd_vel arrival (ns)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def clear(self) -> None:
        with self.lock:
            self.frames.clear()
            self.policy.clear()
            self.commands.clear()
            self.policy_ms.clear()
            self.actions.clear()
            self.received.clear()


def correlate(frames: list[int], commands: list[int], period_ns: int) -> tuple[list[float], int, int]:
    """(latencies in ms of matched frame->command pairs, frames without a command, surplus commands).

    A command belongs to the newest frame stamped at or before it; a second command for the
    same frame is surplus. Frames in the last period are ignored (their command may still be
    on its way), as are commands before the first frame.
    """
    pairs, dropped, surplus = match(frames, commands, period_ns)
    return [(c - f) / 1e6 for f, c in pairs], dropped, surplus


def match(frames: list[int], commands: list[int], period_ns: int) -> tuple[list[tuple[int, int]], int, int]:
    """correlate()'s matching: ((frame, command) pairs in frame order, dropped frames, surplus commands)."""
    frames = sorted(frames)
    commands = sorted(commands)
    if not frames:
        return [], 0, 0
    cutoff = (commands[-1] if commands else frames[-1]) - period_ns
    counted = [f for f in frames if f <= cutoff] or frames[:0]
    matched: dict[int, int] = {}
    surplus = 0
    i = 0
    for c in commands:
        while i + 1 < len(frames) and frames[i + 1] <= c:
            i += 1
        if frames[i] > c:
            continue  # before the first frame
        if frames[i] in matched:
            surplus += 1
        else:
            matched[frames[i]] = c
    pairs = [(f, matched[f]) for f in counted if f in matched]
    dropped = sum(1 for f in counted if f not in matched)
    return pairs, dropped, surplus


def _action_for(actions: dict[int, tuple[float, float, float]], frame_ns: int) -> tuple[float, float, float] | None:
    key = round(frame_ns / 1000)
    return next((actions[k] for k in (key, key - 1, key + 1) if k in actions), None)


def hop_times(pairs: list[tuple[int, int]], actions: dict[int, tuple[float, float, float]],
              received: dict[int, int]) -> dict[str, list[float]]:
    """Per matched frame, the ms spent in each hop (module docstring); frames whose policy/action
    the probe missed are left out of the split."""
    hops: dict[str, list[float]] = {name: [] for name in (*HOPS, "onnx", "total")}
    for frame, command in pairs:
        action = _action_for(actions, frame)
        if action is None:
            continue
        received_ms, latency_ms, inference_ms = action
        total = (command - frame) / 1e6
        servo_in = received.get(command)
        control = ((servo_in - frame) / 1e6 if servo_in else total) - latency_ms
        if control < 0:
            # the command left before this frame's decision: it answered an earlier frame (matching by
            # time misattributes when a frame takes longer than the camera period), so no split
            continue
        hops["camera"].append(received_ms)
        hops["inference"].append(latency_ms - received_ms)
        hops["onnx"].append(inference_ms)
        hops["control"].append(control)
        if servo_in:
            hops["servo"].append((command - servo_in) / 1e6)
        hops["total"].append(total)
    return {k: v for k, v in hops.items() if v}


def _stats(values: list[float], total_mean: float) -> dict[str, float]:
    a = np.asarray(values)
    return {"p50_ms": round(float(np.percentile(a, 50)), 3), "p99_ms": round(float(np.percentile(a, 99)), 3),
            "mean_ms": round(float(a.mean()), 3), "share": round(float(a.mean() / total_mean), 3) if total_mean else 0.0}


def summarize(records: Records, fps: float, seconds: float, endpoint: str) -> dict[str, Any]:
    with records.lock:
        frames, commands, policy = list(records.frames), list(records.commands), list(records.policy)
        policy_ms = np.asarray(records.policy_ms or [math.nan])
        actions, received = dict(records.actions), dict(records.received)
    pairs, dropped_frames, surplus = match(frames, commands, int(1e9 / fps))
    latencies = [(c - f) / 1e6 for f, c in pairs]
    lat = np.asarray(latencies) if latencies else np.asarray([math.nan])
    hops = hop_times(pairs, actions, received)
    total_mean = float(np.mean(hops["total"])) if "total" in hops else 0.0
    dropped_commands = max(0, len(policy) - len(commands))
    return {
        "endpoint": endpoint,
        "fps": fps,
        "seconds": round(seconds, 2),
        "frames": len(frames),
        "commands": len(commands),
        "matched": len(latencies),
        "dropped_frames": dropped_frames,
        "dropped_commands": dropped_commands,
        "dropped": dropped_frames + dropped_commands,
        "surplus_commands": surplus,
        "p50_ms": round(float(np.percentile(lat, 50)), 3),
        "p99_ms": round(float(np.percentile(lat, 99)), 3),
        "max_ms": round(float(np.max(lat)), 3),
        "mean_ms": round(float(np.mean(lat)), 3),
        # where the time goes: frame -> policy/cmd_vel published (camera, transport, inference)
        "to_policy_p50_ms": round(float(np.percentile(policy_ms, 50)), 3),
        "to_policy_p99_ms": round(float(np.percentile(policy_ms, 99)), 3),
        # camera -> inference -> control -> servo, per matched frame (`onnx` is part of inference)
        "hops": {name: _stats(v, total_mean) for name, v in hops.items() if name != "total"},
        "hops_frames": len(hops.get("total", [])),
    }


def _reference_model(folder: Path) -> Path:
    from deepracer.model.reference_net import make_reference_package

    return Path(make_reference_package(folder / "reference_model"))


def _servo_available() -> bool:
    try:
        import deepracer_nodes.servo_node  # noqa: F401
    except ModuleNotFoundError:
        return False
    return True


def bench_specs(model: Path, fps: float, endpoint: str, workdir: Path) -> list:
    from deepracer.graph import drive_graph

    overrides: dict[str, dict[str, Any]] = {
        "camera_node": {"device": "synthetic", "fps": float(fps), "capture_width": 640, "capture_height": 480},
        "inference_node": {"model": str(model), "num_threads": 1},
        "control_node": {"mode": "autonomous"},
        "servo_node": {"backend": "emulated", "calibration_file": str(workdir / "calibration.yaml")},
    }
    if endpoint == "servo":  # a calibrated car: the throttle is not locked at neutral
        from deepracer.control.calibration import Calibration, save

        save(Calibration(), workdir / "calibration.yaml")
    # the camera -> PWM path only (the car's web page has its own bench: `deepracer bench console`)
    path = ("camera_node", "inference_node", "control_node") + (("servo_node",) if endpoint == "servo" else ())
    return [s for s in drive_graph(**overrides) if s.name in path]


class Probe:
    """A node of its own (own context, own executor thread) recording what the graph does; see probe_main."""

    def __init__(self, namespace: str, endpoint: str) -> None:
        import rclpy
        from geometry_msgs.msg import Twist
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.signals import SignalHandlerOptions
        from sensor_msgs.msg import CameraInfo
        from std_msgs.msg import String

        from deepracer.messages import PolicyAction, PulseReason, ServoPulses

        self.records = Records()
        self.context = Context()
        rclpy.init(context=self.context, args=[], signal_handler_options=SignalHandlerOptions.NO)
        self.node = rclpy.create_node("latency_probe", namespace=namespace, context=self.context)
        r = self.records

        def on_frame(msg: CameraInfo) -> None:
            with r.lock:
                r.frames.append(msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec)

        def on_policy(_msg: Twist) -> None:
            with r.lock:
                r.policy.append(time.time_ns())

        def on_cmd_vel(_msg: Twist) -> None:
            now = time.time_ns()
            with r.lock:
                r.commands.append(now)

        def on_action(msg: String) -> None:
            a = PolicyAction.from_json(msg.data)
            with r.lock:
                r.policy_ms.append(a.latency_ms)
                r.actions[round(a.frame_stamp * 1e6)] = (a.received_ms, a.latency_ms, a.inference_ms)

        def on_pulses(msg: String) -> None:
            p = ServoPulses.from_json(msg.data)
            if p.reason == PulseReason.COMMAND:
                written = int(p.written_at * 1e9)
                with r.lock:
                    r.commands.append(written)
                    if p.received_at:
                        r.received[written] = int(p.received_at * 1e9)

        self.node.create_subscription(CameraInfo, "camera/camera_info", on_frame, 50)
        self.node.create_subscription(Twist, "policy/cmd_vel", on_policy, 50)
        self.node.create_subscription(String, "policy/action", on_action, 50)
        if endpoint == "servo":
            self.node.create_subscription(String, "servo/pulses", on_pulses, 50)
        else:
            self.node.create_subscription(Twist, "cmd_vel", on_cmd_vel, 50)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while not self._stop.is_set():
            self.executor.spin_once(timeout_sec=0.05)

    def close(self) -> None:
        import rclpy

        self._stop.set()
        self._thread.join(timeout=2.0)
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)


_PROBE_CODE = "from deepracer_nodes.bench_latency import probe_main; probe_main()"


def probe_main() -> None:
    """The probe process: warm up, record for `seconds`, print the summary as JSON.

    A process of its own, so that in composed mode the probe does not compete with the
    graph for the GIL (which would inflate the composed figures).
    """
    namespace, endpoint, seconds, fps = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    probe = Probe(namespace, endpoint)
    try:
        deadline = time.monotonic() + 60.0
        while not probe.records.commands:  # warm-up: discovery, model load, first frames
            if time.monotonic() > deadline:
                print(json.dumps({"error": f"no command reached {endpoint} within 60 s"}))
                return
            time.sleep(0.1)
        time.sleep(1.0)
        probe.records.clear()
        start = time.monotonic()
        time.sleep(seconds)
        result = summarize(probe.records, fps, time.monotonic() - start, endpoint)
    finally:
        probe.close()
    print(json.dumps(result))


def measure(mode: str, args: argparse.Namespace, model: Path, endpoint: str, workdir: Path) -> dict[str, Any]:
    import subprocess

    from deepracer.errors import DeepRacerError
    from deepracer_nodes.graph_runner import GraphRunner

    namespace = f"/bench_latency_{os.getpid()}_{mode}"
    seconds = args.seconds if args.seconds is not None else args.frames / args.fps
    specs = bench_specs(model, args.fps, endpoint, workdir)
    with GraphRunner(specs, processes=(mode == "processes"), namespace=namespace,
                     executor=args.executor, on_event=lambda m: None) as graph:
        probe = subprocess.Popen([sys.executable, "-c", _PROBE_CODE, namespace, endpoint, str(seconds), str(args.fps)],
                                 stdout=subprocess.PIPE, text=True)
        try:
            _wait_with_progress(probe, graph, seconds, f"latency {mode}")
            out, _ = probe.communicate(timeout=90.0 + seconds)
        finally:
            if probe.poll() is None:
                probe.kill()
                probe.wait()
    try:
        result = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise DeepRacerError(f"latency bench ({mode}): the probe printed no result") from None
    if "error" in result:
        raise DeepRacerError(f"latency bench ({mode}): {result['error']}")
    result["mode"] = mode
    if mode == "composed":
        result["executor"] = args.executor
    return result


def _wait_with_progress(probe, graph, seconds: float, label: str) -> None:
    """Until the probe is done (warm-up + `seconds`), with a progress bar; stops early if the graph dies."""
    try:
        from tqdm import tqdm
    except ModuleNotFoundError:
        tqdm = None
    bar = tqdm(total=round(seconds) + 3, desc=label, unit="s", file=sys.stderr, leave=False) if tqdm else None
    while probe.poll() is None and graph.running:
        time.sleep(1.0)
        if bar is not None and bar.n < bar.total:
            bar.update(1)
    if bar is not None:
        bar.close()


def run(args: argparse.Namespace) -> dict[str, Any]:
    endpoint = args.endpoint
    if endpoint == "auto":
        endpoint = "servo" if _servo_available() else "cmd_vel"
    modes = MODES if args.mode == "both" else (args.mode,)
    with tempfile.TemporaryDirectory(prefix="deepracer-bench-latency-") as tmp:
        workdir = Path(tmp)
        model = _reference_model(workdir)
        results = {mode: measure(mode, args, model, endpoint, workdir) for mode in modes}
    if len(results) == 1:
        return next(iter(results.values()))
    return {"endpoint": endpoint, "fps": args.fps, **results}

"""The car's web console in a graph: its NodeSpec, and `deepracer sim --console-port` (the simulator
graph driven from the browser until Ctrl-C).

In the simulator the car boots stopped, as on the car, and runs until stopped (no lap limit);
sim_node stands in for the camera, and a servo_node on the emulated PCA9685 listens to the
same `cmd_vel`, so the page's PWM status and calibration steps work as on the car (the
calibration file goes to the sim's output folder, never the user's real one).
"""

from __future__ import annotations

import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from deepracer.graph import NodeSpec

CONSOLE_NODE = "device_console_node"
DEFAULT_PORT = 8080
SIM_WATCH = ["sim_node", "inference_node", "control_node", "servo_node"]


def console_spec(**parameters: Any) -> NodeSpec:
    return NodeSpec(CONSOLE_NODE, "device_console_node", "deepracer_nodes.device_console_node", "DeviceConsoleNode",
                    dict(parameters))


def console_overrides(port: int | None, host: str | None, password_file: str | None) -> dict[str, Any]:
    """device_console_node parameters from the CLI flags (only those given)."""
    out: dict[str, Any] = {}
    if port is not None:
        out["port"] = int(port)
    if host:
        out["host"] = host
    if password_file:
        out["password_file"] = str(Path(password_file).expanduser())
    return out


def check_password_file(password_file: str | None) -> None:
    """A password file named on the command line must exist (ConfigError naming it, before anything starts)."""
    if password_file and not Path(password_file).expanduser().is_file():
        from deepracer.errors import ConfigError

        raise ConfigError("console password file not found (make one: deepracer device-console password --file FILE)",
                          Path(password_file).expanduser())


def sim_console_specs(port: int, host: str = "127.0.0.1", password_file: str = "", calibration_file: str = "",
                      model: str = "", track: str = "", seed: int = 0, randomize: bool = False,
                      config: str | None = None, models_dir: str = "") -> list[NodeSpec]:
    from deepracer.graph import sim_graph

    specs = sim_graph(config, sim_node={"track": track, "seed": int(seed), "randomize": bool(randomize), "max_laps": 0,
                                        "max_time": 0.0, "lock_step": False},
                      inference_node={"model": model}, control_node={"mode": "stopped"})
    specs.append(NodeSpec("servo_node", "servo_node", "deepracer_nodes.servo_node", "ServoNode",
                          {"backend": "emulated", "calibration_file": calibration_file, "use_sim_time": False}))
    specs.append(console_spec(enabled=True, host=host, port=int(port), password_file=password_file,
                              models_dir=models_dir, watch_nodes=SIM_WATCH, use_sim_time=False))
    return specs


def run_sim_console(port: int, host: str = "127.0.0.1", password_file: str | None = None, out: str = "sim-output",
                    model: str | None = None, track: str | None = None, seed: int = 0, randomize: bool = False,
                    processes: bool = False, namespace: str = "") -> int:
    """`deepracer sim --console-port PORT`: serve the simulated car until SIGINT/SIGTERM."""
    from deepracer.control.calibration import Calibration, save
    from deepracer.device_console.auth import (
        default_password_file,
        generate_password,
        write_password_file,
    )
    from deepracer_nodes.graph_runner import GraphRunner
    from deepracer_nodes.sim_runner import resolve_model

    model_path = resolve_model(model, allow_fallback=False)[0] if model else ""  # "" = the bundled model
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    cal_file = out_dir / "sim-calibration.yaml"
    if not cal_file.exists():
        save(Calibration(), cal_file)
    tmp = None
    password_note = ""
    pw_file = Path(password_file).expanduser() if password_file else default_password_file()
    if not pw_file.exists():
        if password_file:
            from deepracer.errors import ConfigError

            raise ConfigError("console password file not found", pw_file)
        # A throw-away simulator: a fresh password for this run, printed once, hashed on disk.
        tmp = tempfile.TemporaryDirectory(prefix="deepracer-console-")
        password = generate_password()
        pw_file = write_password_file(Path(tmp.name) / "console-password", password)
        password_note = f" password {password}"
    specs = sim_console_specs(port, host, str(pw_file), str(cal_file), model_path, track or "", seed, randomize)
    runner = GraphRunner(specs, processes=processes, namespace=namespace,
                         on_event=lambda msg: print(f"deepracer sim: {msg}", file=sys.stderr, flush=True))
    stop: list[int] = []

    def on_signal(signum, frame):
        stop.append(signum)
        runner.request_stop()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with runner:
            shown = "localhost" if host in ("127.0.0.1", "::1") else host
            print(f"deepracer sim: web console on http://{shown}:{port}/{password_note} "
                  f"(model {Path(model_path).name if model_path else 'bundled'}; the car starts stopped; Ctrl-C ends)",
                  file=sys.stderr, flush=True)
            runner.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if tmp is not None:
            tmp.cleanup()
    return 0 if stop else 1

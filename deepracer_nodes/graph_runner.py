"""Run a node graph (a list of deepracer.graph.NodeSpec) without launch_ros.

Two ways, one interface:

    with GraphRunner(specs, processes=False, namespace="", context=None) as g:
        g.nodes["control_node"]          # composed: the node objects, one executor thread

- composed (default): every node class is instantiated in this process with its parameters as
  `parameter_overrides` and its name/remappings as per-node `--ros-args`, and one executor spins
  them on a background thread. Single-threaded by default: it measured faster than the
  multi-threaded executor for this graph (docs/latency.md); the camera captures on its own thread.
- processes: each node is `python -c <run module.main()> --ros-args -r __node:=NAME
  [-r __ns:=NS] [-r from:=to] --params-file FILE` (the params file is generated), like
  `ros2 launch` does with the console scripts; a process that exits is restarted after its
  spec's `respawn_delay` when the spec says `respawn`, as launch_ros does with the same spec.

Shutdown is clean either way: composed nodes are destroyed (their destroy_node paths run, so
the servo writes neutral); processes get SIGINT, then SIGTERM, then SIGKILL after timeouts.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from deepracer.errors import ConfigError
from deepracer.graph import NodeSpec
from deepracer_nodes.executors import EXECUTORS, new_executor

log = logging.getLogger(__name__)

# The child runs the module's main() whether or not the module has a __main__ guard.
_CHILD_CODE = "import importlib, sys; sys.exit(importlib.import_module(sys.argv[1]).main())"


def normalize_namespace(namespace: str) -> str:
    ns = namespace.strip().strip("/")
    return f"/{ns}" if ns else ""


def node_ros_args(spec: NodeSpec, namespace: str = "") -> list[str]:
    """`--ros-args` renaming the node and applying its remappings (namespace only if given)."""
    args = ["--ros-args", "-r", f"__node:={spec.name}"]
    ns = normalize_namespace(namespace)
    if ns:
        args += ["-r", f"__ns:={ns}"]
    for src, dst in spec.remappings.items():
        args += ["-r", f"{src}:={dst}"]
    return args


def write_params_file(spec: NodeSpec, folder: str | Path) -> Path:
    """A ROS 2 params file for one node process (`/**` = the only node in that process)."""
    path = Path(folder) / f"{spec.name}.params.yaml"
    path.write_text(yaml.safe_dump({"/**": {"ros__parameters": dict(spec.parameters)}}, sort_keys=True), encoding="utf-8")
    return path


def process_command(spec: NodeSpec, params_file: str | Path, namespace: str = "", python: str | None = None) -> list[str]:
    """The argv that runs `spec` as its own process."""
    return [python or sys.executable, "-c", _CHILD_CODE, spec.module, *node_ros_args(spec, namespace),
            "--params-file", str(params_file)]


def node_class(spec: NodeSpec) -> type:
    try:
        module = importlib.import_module(spec.module)
    except ModuleNotFoundError as err:
        raise ConfigError(f"{spec.name}: node module {spec.module} is not installed ({err})") from err
    try:
        return getattr(module, spec.node_class)
    except AttributeError:
        raise ConfigError(f"{spec.name}: {spec.module} has no class {spec.node_class}") from None


class GraphRunner:
    def __init__(self, specs: list[NodeSpec], processes: bool = False, namespace: str = "", context: Any = None,
                 executor: str = "auto", respawn_delay: float | None = None, sigint_timeout: float = 5.0,
                 sigterm_timeout: float = 3.0, env: dict[str, str] | None = None,
                 on_event: Callable[[str], None] | None = None) -> None:
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ConfigError(f"node names must be unique in a graph: {names}")
        self.specs = list(specs)
        self.use_processes = processes
        self.namespace = normalize_namespace(namespace)
        self.context = context
        if executor not in EXECUTORS:
            raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, not {executor!r}")
        self.executor_kind = executor
        self.respawn_delay = respawn_delay  # None: each spec's (the launch file's value); tests shorten it
        self.sigint_timeout = sigint_timeout
        self.sigterm_timeout = sigterm_timeout
        self.env = env
        self.on_event = on_event or (lambda msg: log.info("%s", msg))
        self.nodes: dict[str, Any] = {}
        self.processes: dict[str, subprocess.Popen] = {}
        self.respawns: dict[str, int] = {s.name: 0 for s in specs}
        self.executor: Any = None
        self._own_context = False
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._reported: set[str] = set()  # processes whose final exit code was reported

    # -- lifecycle -------------------------------------------------------------------
    def __enter__(self) -> GraphRunner:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def start(self) -> None:
        try:
            self._start_processes() if self.use_processes else self._start_composed()
        except BaseException:
            self.shutdown()
            raise

    def shutdown(self) -> None:
        """Idempotent: stop the executor and destroy the nodes, or signal the processes."""
        self._stopping.set()
        if self.use_processes:
            self._stop_processes()
        else:
            self._stop_composed()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)
        self._thread = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def request_stop(self) -> None:
        """Make wait() return; safe to call from a signal handler. shutdown() does the work."""
        self._stopping.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until shutdown() is called (e.g. from a signal handler) or `timeout`; True if stopped."""
        return self._stopping.wait(timeout)

    @property
    def running(self) -> bool:
        return not self._stopping.is_set()

    # -- composed --------------------------------------------------------------------
    def _start_composed(self) -> None:
        import rclpy
        from rclpy.context import Context
        from rclpy.parameter import Parameter

        if self.context is None:
            from rclpy.signals import SignalHandlerOptions

            # Signals stay with the caller (`deepracer drive` turns them into request_stop()),
            # so nodes are destroyed on a live context and their exit paths can still publish.
            self.context = Context()
            rclpy.init(context=self.context, args=[], signal_handler_options=SignalHandlerOptions.NO)
            self._own_context = True
        for spec in self.specs:
            cls = node_class(spec)
            overrides = [Parameter(k, value=v) for k, v in spec.parameters.items()]
            node = cls(context=self.context, namespace=self.namespace or None, parameter_overrides=overrides,
                       cli_args=node_ros_args(spec), use_global_arguments=False)
            self.nodes[spec.name] = node
        self.executor = new_executor(self.executor_kind, self.context)
        for node in self.nodes.values():
            self.executor.add_node(node)
        self._thread = threading.Thread(target=self._spin, name="graph_executor", daemon=True)
        self._thread.start()
        self.on_event(f"composed {', '.join(self.nodes)} in one process ({self.executor_kind} executor)")

    def _spin(self) -> None:
        from rclpy.executors import ExternalShutdownException

        try:
            while not self._stopping.is_set() and self.context.ok():
                self.executor.spin_once(timeout_sec=0.1)
                failed = self._failed_node()
                if failed:  # e.g. the servo's PWM fault: its main() would exit 1 for a restart
                    self.on_event(f"{failed[0]} failed ({failed[1]}): stopping the graph")
                    break
        except ExternalShutdownException:
            pass
        except Exception as err:  # a node callback raised: the graph stops, safely
            self.on_event(f"executor stopped: {type(err).__name__}: {err}")
            log.exception("executor failed")
        self._stopping.set()  # wait() returns when the context was shut down from outside, too

    def _failed_node(self) -> tuple[str, object] | None:
        """(name, error) of a node whose `failed` future is done (servo_node after a hardware fault)."""
        for name, node in self.nodes.items():
            failed = getattr(node, "failed", None)
            if failed is not None and failed.done():
                return name, failed.result()
        return None

    def _stop_composed(self) -> None:
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)
            self._thread = None
        if self.executor is not None:
            self.executor.shutdown(timeout_sec=2.0)
            self.executor = None
        for name, node in reversed(list(self.nodes.items())):  # servo (last) first: neutral while others still exist
            try:
                node.destroy_node()
            except Exception as err:
                self.on_event(f"{name}: destroy failed: {err}")
        self.nodes.clear()
        if self._own_context and self.context is not None and self.context.ok():
            import rclpy

            rclpy.shutdown(context=self.context)
            self._own_context = False

    # -- processes -------------------------------------------------------------------
    def _spawn(self, spec: NodeSpec) -> subprocess.Popen:
        assert self._tmp is not None
        params = write_params_file(spec, self._tmp.name)
        env = dict(os.environ if self.env is None else self.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        return subprocess.Popen(process_command(spec, params, self.namespace), env=env)

    def _start_processes(self) -> None:
        for spec in self.specs:
            node_class(spec)  # fail early, in this process, with a clear message
        self._tmp = tempfile.TemporaryDirectory(prefix="deepracer-graph-")
        for spec in self.specs:
            self.processes[spec.name] = self._spawn(spec)
        self._thread = threading.Thread(target=self._monitor, name="graph_monitor", daemon=True)
        self._thread.start()
        self.on_event(f"started {', '.join(f'{n} (pid {p.pid})' for n, p in self.processes.items())}")

    def _monitor(self) -> None:
        died_at: dict[str, float] = {}
        while not self._stopping.wait(0.1):
            for spec in self.specs:
                proc = self.processes.get(spec.name)
                if proc is None or proc.poll() is None:
                    continue
                if not spec.respawn:
                    if spec.name not in died_at:
                        self.on_event(f"{spec.name} exited with {proc.returncode} (no respawn)")
                        died_at[spec.name] = float("inf")
                    continue
                delay = spec.respawn_delay if self.respawn_delay is None else self.respawn_delay
                if spec.name not in died_at:
                    self.on_event(f"{spec.name} exited with {proc.returncode}; respawning in {delay:g} s")
                    died_at[spec.name] = time.monotonic()
                if time.monotonic() - died_at[spec.name] >= delay and not self._stopping.is_set():
                    self.processes[spec.name] = self._spawn(spec)
                    self.respawns[spec.name] += 1
                    del died_at[spec.name]

    def _stop_processes(self) -> None:
        """SIGINT, then SIGTERM, then SIGKILL after their timeouts; reports every exit code."""
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)
            self._thread = None
        live = {n: p for n, p in self.processes.items() if p.poll() is None}
        for sig, timeout in ((signal.SIGINT, self.sigint_timeout), (signal.SIGTERM, self.sigterm_timeout)):
            if not live:
                break
            for proc in live.values():
                if proc.poll() is None:
                    proc.send_signal(sig)
            deadline = time.monotonic() + timeout
            for name, proc in live.items():
                try:
                    proc.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    self.on_event(f"{name} did not stop on {sig.name}")
            live = {n: p for n, p in live.items() if p.poll() is None}
        for name, proc in live.items():
            self.on_event(f"{name}: killing")
            proc.kill()
            proc.wait()
        for name, proc in self.processes.items():
            if proc.returncode is not None and name not in self._reported:
                self.on_event(f"{name} exited with {proc.returncode}")
                self._reported.add(name)

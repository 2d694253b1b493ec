"""Executors for the deepracer nodes, and the `main()` every node shares.

rclpy's EventsExecutor (a C++ event queue, experimental in rclpy, Kilted and newer) wakes
once per event instead of rebuilding a wait set per message: camera-to-servo p50 3.0 vs
5.0 ms and p99 4.4 vs 7.0 ms on the latency bench (docs/latency.md). Older distros on a
car (Humble, Jazzy) fall back to the SingleThreadedExecutor.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

EXECUTORS = ("auto", "single", "multi", "events")


def make_executor_class(kind: str):
    """single: rclpy's SingleThreadedExecutor; multi: MultiThreadedExecutor; events: rclpy's
    EventsExecutor (a C++ event queue: no wait-set rebuilt per message; measured p50 3.0 vs
    5.0 ms camera-to-servo, docs/latency.md). auto = events where this rclpy has it (Kilted
    and newer), else single (Humble and Jazzy on a car)."""
    if kind in ("events", "auto"):
        try:
            from rclpy.experimental import EventsExecutor

            return EventsExecutor
        except ImportError:
            if kind == "events":
                raise
    from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor

    return MultiThreadedExecutor if kind == "multi" else SingleThreadedExecutor


def new_executor(kind: str, context: Any):
    cls = make_executor_class(kind)
    if cls.__name__ != "EventsExecutor":
        return cls(context=context)
    # rclpy's EventsExecutor calls faulthandler.enable(), which needs sys.stderr to be a real
    # file; under a captured or redirected stderr (pytest, a GUI) give it the process's own.
    saved = sys.stderr
    try:
        sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        sys.stderr = sys.__stderr__
    try:
        return cls(context=context)
    finally:
        sys.stderr = saved


class StopSignals:
    """SIGINT and SIGTERM become a stop request, never an exception.

    rclpy's own handler shuts the context down on the first SIGINT and lets Python's default
    handler raise KeyboardInterrupt on the next one, wherever the main thread is: inside an
    EventsExecutor callback that aborts the process (pybind11 error_already_set, exit -6),
    inside destroy_node() it cuts the servo's neutral write short. `ros2 launch` forwards the
    terminal's SIGINT to nodes that already got it from the process group (and systemd's
    KillMode=control-group does the same), so two signals in quick succession are normal.
    Here every signal only sets an event, so the exit path runs once, to the end.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.event = threading.Event()
        self.received: list[int] = []

    def install(self) -> StopSignals:
        for sig in self.SIGNALS:
            signal.signal(sig, self._on_signal)
        return self

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.received.append(signum)  # list.append and Event.set are safe in a Python signal handler
        self.event.set()

    def is_set(self) -> bool:
        return self.event.is_set()

    def ignore_from_now_on(self) -> None:
        """After the exit work: Python's finalization puts SIG_DFL back for signals it handled,
        so a late SIGINT (launch forwarding the one the process group already got) would kill the
        process with -2 after a clean exit. Ignored signals stay ignored; SIGKILL still works."""
        for sig in self.SIGNALS:
            signal.signal(sig, signal.SIG_IGN)


def exit_code(node: Any) -> int | None:
    """The exit code a node asks for, or None to keep spinning: a done `failed` future (a fault it
    cannot recover from, servo_node's PWM) is 1; a done `exit_request` future (sim_node when its
    race is over) holds the code."""
    failed = getattr(node, "failed", None)
    if failed is not None and failed.done():
        return 1
    request = getattr(node, "exit_request", None)
    if request is not None and request.done():
        return int(request.result())
    return None


def spin_node(node_cls: type, args: list[str] | None = None, executor_kind: str = "auto") -> None:
    """Run one node in its own process (`ros2 run`, `ros2 launch`, `deepracer drive --processes`).

    Signal handlers come first (before rclpy and the node exist), so a SIGINT during start-up
    is a stop request too. The node's exit work (destroy_node: the servo writes neutral) runs
    exactly once, on a live context, whatever signals follow. Exit 0 after a stop request,
    1 after a configuration error at start or a node fault (so systemd/launch restart it).
    """
    import rclpy
    from rclpy.executors import ExternalShutdownException
    from rclpy.signals import SignalHandlerOptions

    from deepracer.errors import DeepRacerError

    stop = StopSignals().install()
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    node = None
    executor = None
    code = 0
    try:
        if not stop.is_set():
            node = node_cls()
            executor = new_executor(executor_kind, node.context)
            executor.add_node(node)
        # spin_once in a loop, not spin(): it returns at least every 0.1 s to look at the stop
        # request (EventsExecutor.spin() also keeps running after a shutdown from outside)
        while node is not None and not stop.is_set() and exit_code(node) is None and rclpy.ok(context=node.context):
            executor.spin_once(timeout_sec=0.1)
        if node is not None:
            code = exit_code(node) or 0
    except ExternalShutdownException:
        pass
    except DeepRacerError as err:  # bad parameters or hardware at start: say so, exit non-zero
        rclpy.logging.get_logger(getattr(node_cls, "NODE_NAME", node_cls.__name__)).fatal(str(err))
        code = 1
    finally:
        if executor is not None:
            executor.shutdown(timeout_sec=1.0)
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
        stop.ignore_from_now_on()
    if code:
        raise SystemExit(code)

"""Executors for the deepracer nodes, and the `main()` every node shares.

rclpy's EventsExecutor (a C++ event queue, experimental in rclpy, Kilted and newer) wakes
once per event instead of rebuilding a wait set per message: camera-to-servo p50 3.0 vs
5.0 ms and p99 4.4 vs 7.0 ms on the latency bench (docs/latency.md). Older distros on a
car (Humble, Jazzy) fall back to the SingleThreadedExecutor.
"""

from __future__ import annotations

import sys
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


def spin_node(node_cls: type, args: list[str] | None = None) -> None:
    """Run one node in its own process (`ros2 run`, `ros2 launch`, `deepracer drive --processes`).

    SIGINT and SIGTERM shut the context down; destroy_node() then does the node's exit work.
    """
    import rclpy
    from rclpy.executors import ExternalShutdownException

    rclpy.init(args=args)
    node = node_cls()
    executor = new_executor("auto", node.context)
    executor.add_node(node)
    try:
        # spin_once in a loop, not spin(): rclpy's EventsExecutor.spin() keeps running (at 100 %
        # CPU) after the context is shut down by a signal; spin_once raises as it should.
        while rclpy.ok(context=node.context):
            executor.spin_once(timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()

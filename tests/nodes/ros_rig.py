"""Shared pieces of the real-rclpy node tests: an executor that spins until something happens,
a rig (node under test + a probe node on one executor), a probe node on its own, and the
fixture body that makes rigs and closes them at the end.

Imported as `from ros_rig import ...`: pytest puts the test file's folder on sys.path.
"""

from __future__ import annotations

import time

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter


class Spinner:
    """A single-threaded executor over some nodes, with spin_until/spin_for."""

    default_timeout = 5.0  # seconds spin_until waits unless told
    step = 0.01  # spin_once timeout

    def __init__(self, ctx, *nodes):
        self.executor = SingleThreadedExecutor(context=ctx)
        for node in nodes:
            self.executor.add_node(node)

    def spin_until(self, predicate, timeout: float | None = None) -> bool:
        end = time.monotonic() + (self.default_timeout if timeout is None else timeout)
        while time.monotonic() < end:
            if predicate():
                return True
            self.executor.spin_once(timeout_sec=self.step)
        return bool(predicate())

    def spin_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=self.step)

    def close(self):
        self.executor.shutdown()


class Rig(Spinner):
    """`node_class` in namespace `ns` with `params` as parameter overrides, and a node "probe"
    in the same namespace for the test's publishers and subscriptions, on one executor."""

    def __init__(self, ctx, node_class, ns: str, params: dict):
        self.ns = ns
        self.node = node_class(context=ctx, namespace=ns,
                               parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])
        self.probe = rclpy.create_node("probe", context=ctx, namespace=ns)
        super().__init__(ctx, self.node, self.probe)

    def close(self):
        super().close()
        self.node.destroy_node()
        self.probe.destroy_node()


class ProbeNode(Spinner):
    """A node of its own (`self.node`) listening to a running graph."""

    def __init__(self, ctx, name: str, ns: str):
        self.node = rclpy.create_node(name, context=ctx, namespace=ns)
        super().__init__(ctx, self.node)

    def close(self):
        super().close()
        self.node.destroy_node()


def make_rigs(rig_class, *args):
    """Body of a fixture: yields `make(**kw)` -> rig_class(*args, **kw), closes every rig made."""
    made = []

    def make(**kw):
        made.append(rig_class(*args, **kw))
        return made[-1]

    yield make
    for rig in made:
        rig.close()

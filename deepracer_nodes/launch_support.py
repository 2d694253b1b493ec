"""NodeSpec -> launch_ros `Node(...)` keyword arguments, shared by launch/*.launch.py.

Kept free of launch/launch_ros imports so it is importable (and tested) where they are not
installed; the launch files pass the result to `launch_ros.actions.Node(**kwargs)`.
GraphRunner starts the same executables, names, parameters and remappings without launch_ros.
"""

from __future__ import annotations

from typing import Any

from deepracer.graph import NodeSpec, drive_overrides
from deepracer.paths import PACKAGE

SIGTERM_TIMEOUT_S = "5"  # launch: SIGINT first, SIGTERM after this, so exit paths (servo neutral) run


def node_kwargs(spec: NodeSpec, namespace: str = "") -> dict[str, Any]:
    """Keyword arguments for launch_ros.actions.Node running `spec` like GraphRunner does."""
    kwargs: dict[str, Any] = {
        "package": PACKAGE,
        "executable": spec.executable,
        "name": spec.name,
        "namespace": namespace.strip().strip("/"),
        "parameters": [dict(spec.parameters)],
        "remappings": list(spec.remappings.items()),
        "respawn": spec.respawn,
        "output": "screen",
        "emulate_tty": True,
        "sigterm_timeout": SIGTERM_TIMEOUT_S,
    }
    if spec.respawn:
        kwargs["respawn_delay"] = spec.respawn_delay
    return kwargs


def launch_nodes(specs: list[NodeSpec], namespace: str = "") -> list[dict[str, Any]]:
    return [node_kwargs(spec, namespace) for spec in specs]


# the launch arguments that map onto node parameters are deepracer.graph's (the CLI's too)
overrides_from_launch_args = drive_overrides

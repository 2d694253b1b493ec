"""Declare a node's ROS parameters from its params dataclass (deepracer.node_params): one source."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node

from deepracer.errors import ConfigError

T = TypeVar("T")


def declare(node: Node, cls: type[T], ignore_override: bool = False) -> T:
    """Every field of `cls` as a parameter with the field's default; the values as a `cls`.

    Dynamic typing, as users write params files: `fps: 30` is as good as 30.0; values are then
    coerced to the field's type (a wrong one is a ConfigError naming the node and parameter)."""
    loose = ParameterDescriptor(dynamic_typing=True)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        default = cls().__getattribute__(f.name)
        value = node.declare_parameter(f.name, default, loose, ignore_override=ignore_override).value
        try:
            values[f.name] = _coerce(value, default)
        except (TypeError, ValueError):
            raise ConfigError(f"{node.get_name()}: parameter {f.name} must be like {default!r}, not {value!r}") from None
    return cls(**values)


def _coerce(value: Any, default: Any) -> Any:
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise TypeError
        return value
    if isinstance(default, float):
        return float(value)
    if isinstance(default, int):
        if isinstance(value, float) and not value.is_integer():
            raise ValueError
        return int(value)
    if isinstance(default, list):
        return [type(default[0])(v) for v in value] if default else list(value)
    return str(value) if isinstance(default, str) else value

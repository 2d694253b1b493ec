"""Waiting for an emulated device running on its own thread to reach a state."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

Device = TypeVar("Device")


def wait_for(device: Device, predicate: Callable[[Device], object], timeout: float = 3.0) -> bool:
    """Poll `predicate(device)` every 10 ms until it holds or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate(device):
            return True
        time.sleep(0.01)
    return bool(predicate(device))

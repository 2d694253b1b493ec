"""The computer's own health for the status panel: CPU temperature, load, battery (where Linux shows one).

Read from sysfs (`root` is a temp folder in tests): thermal zones in millidegrees, power
supplies of type Battery with `capacity` in percent. The stock DeepRacer's battery is not
visible to Linux, so "no battery source" is a normal answer.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return None


def cpu_temperature_c(root: str | Path = "/") -> float | None:
    """The hottest thermal zone, °C; None where the kernel shows none (containers, some laptops)."""
    temps = []
    for zone in sorted(Path(root, "sys/class/thermal").glob("thermal_zone*")):
        raw = _read(zone / "temp")
        if raw is not None and raw.lstrip("-").isdigit():
            temps.append(int(raw) / 1000.0)
    return max(temps) if temps else None


def battery(root: str | Path = "/") -> dict[str, Any] | None:
    for supply in sorted(Path(root, "sys/class/power_supply").glob("*")):
        if _read(supply / "type") != "Battery":
            continue
        capacity = _read(supply / "capacity")
        return {"name": supply.name, "percent": int(capacity) if capacity and capacity.isdigit() else None,
                "status": _read(supply / "status")}
    return None


def system_snapshot(root: str | Path = "/") -> dict[str, Any]:
    try:
        load = list(os.getloadavg())
    except OSError:
        load = None
    return {"cpu_temperature_c": cpu_temperature_c(root), "load_average": load, "cpu_count": os.cpu_count(),
            "battery": battery(root)}

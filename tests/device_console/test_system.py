"""CPU temperature and battery for the status panel, read from a temp-dir sysfs."""

from __future__ import annotations

from deepracer.device_console.system import battery, cpu_temperature_c, system_snapshot


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_hottest_zone_and_the_battery(tmp_path):
    write(tmp_path / "sys/class/thermal/thermal_zone0/temp", "48500\n")
    write(tmp_path / "sys/class/thermal/thermal_zone1/temp", "61250\n")
    write(tmp_path / "sys/class/power_supply/AC/type", "Mains\n")
    write(tmp_path / "sys/class/power_supply/BAT0/type", "Battery\n")
    write(tmp_path / "sys/class/power_supply/BAT0/capacity", "73\n")
    write(tmp_path / "sys/class/power_supply/BAT0/status", "Discharging\n")
    assert cpu_temperature_c(tmp_path) == 61.25
    assert battery(tmp_path) == {"name": "BAT0", "percent": 73, "status": "Discharging"}
    snap = system_snapshot(tmp_path)
    assert snap["cpu_count"] >= 1 and len(snap["load_average"]) == 3


def test_none_where_the_kernel_shows_nothing(tmp_path):
    write(tmp_path / "sys/class/thermal/thermal_zone0/temp", "garbage")
    assert cpu_temperature_c(tmp_path) is None and battery(tmp_path) is None

"""Calibration file: validation, atomic save with last good copy, fallback and throttle lock."""

from __future__ import annotations

import pytest

from deepracer.control import calibration as cal_mod
from deepracer.control.calibration import (
    Calibration,
    Steering,
    Throttle,
    backup_path,
    load,
    load_for_driving,
    save,
)
from deepracer.errors import CalibrationError

GOOD = """\
frequency_hz: 50
steering: {left_us: 1800, center_us: 1480, right_us: 1150, max_angle_deg: 25}
throttle: {reverse_us: 1620, neutral_us: 1500, forward_us: 1300, top_speed_mps: 2.0}
"""


def test_loads_a_reversed_esc(tmp_path):
    path = tmp_path / "calibration.yaml"
    path.write_text(GOOD)
    cal = load(path)
    assert cal.steering.center_us == 1480
    assert cal.throttle.forward_us < cal.throttle.neutral_us
    assert cal.throttle_range() == (1300, 1620)


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("steering.left_us", 2600, "outside 500-2500"),
        ("throttle.neutral_us", 400, "outside 500-2500"),
        ("steering.right_us", 1900, "left_us equals steering.right_us"),
        ("throttle.reverse_us", 1700, "opposite sides"),
        ("frequency_hz", 30, "outside 40-400"),
        ("frequency_hz", 450, "outside 40-400"),
        ("steering.max_angle_deg", 0, "max_angle_deg must be positive"),
        ("throttle.top_speed_mps", -1, "top_speed_mps must be positive"),
        ("steering.center_us", 2000, "not between"),
        ("throttle.forward_us", "fast", "expected a number"),
    ],
)
def test_validation(key, value, message):
    with pytest.raises(CalibrationError, match=message):
        Calibration().with_values({key: value})


def test_unknown_and_missing_keys_are_named(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(GOOD.replace("top_speed_mps", "top_speed"))
    with pytest.raises(CalibrationError, match="throttle.top_speed"):
        load(path)
    with pytest.raises(CalibrationError, match="unknown key 'steering.centre_us'"):
        Calibration().with_values({"steering.centre_us": 1500})


def test_corrupt_file_error_names_the_path(tmp_path):
    path = tmp_path / "calibration.yaml"
    path.write_text("frequency_hz: [50\nsteering: {")
    with pytest.raises(CalibrationError) as err:
        load(path)
    assert str(path) in str(err.value) and "corrupt" in str(err.value)


def test_save_is_atomic_and_keeps_the_last_good_copy(tmp_path):
    path = tmp_path / "sub" / "calibration.yaml"
    first = Calibration()
    save(first, path)
    assert not backup_path(path).exists()
    second = first.with_values({"throttle.neutral_us": 1460})
    save(second, path)
    assert load(path).throttle.neutral_us == 1460
    assert load(backup_path(path)).throttle.neutral_us == 1500
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_save_refuses_invalid_and_leaves_the_file(tmp_path):
    path = tmp_path / "calibration.yaml"
    save(Calibration(), path)
    before = path.read_bytes()
    bad = Calibration(50, Steering(1500, 1500, 1500, 30), Throttle())
    with pytest.raises(CalibrationError, match=str(path)):
        save(bad, path)
    assert path.read_bytes() == before


def test_a_corrupt_file_never_replaces_the_last_good_copy(tmp_path):
    path = tmp_path / "calibration.yaml"
    save(Calibration(), path)
    save(Calibration().with_values({"steering.center_us": 1510}), path)  # .bak = center 1500
    path.write_text("garbage: [")
    save(Calibration().with_values({"steering.center_us": 1520}), path)
    assert load(backup_path(path)).steering.center_us == 1500


def test_driving_falls_back_to_the_last_good_copy(tmp_path):
    path = tmp_path / "calibration.yaml"
    path.write_text(GOOD)
    save(Calibration(), path)  # GOOD becomes the .bak
    path.write_text("{{{ not yaml")
    loaded = load_for_driving(path)
    assert not loaded.throttle_locked
    assert loaded.source == backup_path(path)
    assert loaded.calibration.steering.center_us == 1480
    assert str(path) in loaded.problem


@pytest.mark.parametrize("content", [None, "steering: {", "frequency_hz: 50\n"])
def test_without_a_usable_file_the_throttle_is_locked(tmp_path, content):
    path = tmp_path / "calibration.yaml"
    if content is not None:
        path.write_text(content)
    loaded = load_for_driving(path)
    assert loaded.throttle_locked
    assert loaded.source is None
    assert str(path) in loaded.problem


def test_default_path_override(monkeypatch, tmp_path):
    monkeypatch.setenv("DEEPRACER_CALIBRATION", str(tmp_path / "x.yaml"))
    assert cal_mod.default_path() == tmp_path / "x.yaml"
    monkeypatch.delenv("DEEPRACER_CALIBRATION")
    assert cal_mod.default_path(service=True) == cal_mod.SERVICE_CALIBRATION
    assert cal_mod.default_path(service=False).name == "calibration.yaml"

"""`deepracer calibrate get|set|reset --file FILE`."""

from __future__ import annotations

import pytest

from deepracer.cli import main
from deepracer.control.calibration import backup_path, load


def test_reset_get_set_round_trip(tmp_path, capsys):
    f = tmp_path / "calibration.yaml"
    assert main(["calibrate", "reset", "--file", str(f)]) == 0
    assert main(["calibrate", "set", "--file", str(f), "throttle.neutral_us=1460", "steering.max_angle_deg=28"]) == 0
    cal = load(f)
    assert cal.throttle.neutral_us == 1460 and cal.steering.max_angle_deg == 28
    assert load(backup_path(f)).throttle.neutral_us == 1500
    capsys.readouterr()
    assert main(["calibrate", "get", "--file", str(f)]) == 0
    assert "throttle.neutral_us = 1460" in capsys.readouterr().out


def test_set_that_would_be_invalid_is_refused_and_leaves_the_file(tmp_path, capsys):
    f = tmp_path / "calibration.yaml"
    main(["calibrate", "reset", "--file", str(f)])
    before = f.read_bytes()
    assert main(["calibrate", "set", "--file", str(f), "throttle.forward_us=1450"]) == 2
    assert main(["calibrate", "set", "--file", str(f), "throttle.speed=3"]) == 2
    assert main(["calibrate", "set", "--file", str(f), "steering.left_us"]) == 2
    err = capsys.readouterr().err
    assert "opposite sides" in err and "unknown key 'throttle.speed'" in err and "KEY=VALUE" in err
    assert f.read_bytes() == before


@pytest.mark.parametrize("content", ["steering: [1500", "frequency_hz: 50\nsteering: {}\n", None])
def test_get_on_a_corrupt_invalid_or_missing_file_exits_nonzero_naming_it(tmp_path, capsys, content):
    f = tmp_path / "calibration.yaml"
    if content is not None:
        f.write_text(content)
    assert main(["calibrate", "get", "--file", str(f)]) == 2
    assert str(f) in capsys.readouterr().err


def test_set_on_a_corrupt_file_is_refused(tmp_path, capsys):
    f = tmp_path / "calibration.yaml"
    f.write_text("steering: [1500")
    assert main(["calibrate", "set", "--file", str(f), "throttle.neutral_us=1460"]) == 2
    assert f.read_text() == "steering: [1500"
    assert str(f) in capsys.readouterr().err


def test_set_json_get(tmp_path, capsys, monkeypatch):
    f = tmp_path / "x" / "c.yaml"
    monkeypatch.setenv("DEEPRACER_CALIBRATION", str(f))
    assert main(["calibrate", "set", "frequency_hz=60"]) == 0  # default path from the environment
    capsys.readouterr()
    assert main(["calibrate", "get", "--json"]) == 0
    assert '"frequency_hz": 60.0' in capsys.readouterr().out

"""The calibration wizard driven by scripted keys: injected stdin against the emulated PCA9685,
and a real terminal (pty) against the emulated sysfs tree in another process."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time

import pytest

from deepracer.cli import main
from deepracer.control.calibration import Calibration, load, save
from deepracer.control.calibration_wizard import CalibrationWizard, Quit, read_keys
from deepracer.hardware.emulated.pca9685 import emulated_pca9685
from deepracer.hardware.emulated.sysfs import EmulatedSysfsPwm

# Starting from the defaults (steering 1900/1500/1100, throttle 1400/1500/1600):
SCRIPT = (
    "++\n"  # centre 1520
    "-----\n"  # full left 1850
    "+\n"  # full right 1110
    "25\n"  # 25° at full lock
    "[[\n"  # neutral 1498
    "n"  # the wheels turned backwards: a reversed ESC
    "--\n"  # max forward: starts 100 µs below neutral (1398) -> 1378
    "\x1b[C\n"  # max reverse: starts at 1598, right arrow -> 1608
    "2.5\n"  # 2.5 m/s at max forward
    "y"  # save
)
EXPECTED = {"center_us": 1520, "left_us": 1850, "right_us": 1110, "max_angle_deg": 25,
            "neutral_us": 1498, "forward_us": 1378, "reverse_us": 1608, "top_speed_mps": 2.5}


def check(cal: Calibration) -> None:
    got = {**cal.steering.__dict__, **cal.throttle.__dict__}
    assert got == pytest.approx(EXPECTED)


class Recorder:
    def __init__(self):
        self.shown = []

    def show(self, throttle_us, steering_us):
        self.shown.append((throttle_us, steering_us))


def test_wizard_core_moves_the_wheels_live_and_returns_the_calibration():
    sink = Recorder()
    out = io.StringIO()
    cal = CalibrationWizard(Calibration(), sink, read_keys(io.StringIO(SCRIPT)), out).run()
    check(cal)
    assert (1500, 1510) in sink.shown and (1500, 1520) in sink.shown  # steering nudged, throttle at rest
    assert (1578, 1520) in sink.shown  # the direction probe: 80 µs above the new neutral
    assert (1378, 1520) in sink.shown and (1608, 1520) in sink.shown
    assert sink.shown[-1] == (1498, 1520)  # ends at the new neutral and centre
    assert "Full LEFT" in out.getvalue()


@pytest.mark.parametrize("script", ["+\nq", "", SCRIPT[:-1] + "n", "\x03"])
def test_quitting_saves_nothing_and_leaves_neutral(script):
    sink = Recorder()
    with pytest.raises(Quit):
        CalibrationWizard(Calibration(), sink, read_keys(io.StringIO(script)), io.StringIO()).run()
    assert sink.shown[-1][0] in (1498, 1500)


def test_back_key_returns_to_the_previous_step():
    sink = Recorder()
    script = "+\nb" + "+\n" + SCRIPT[3:]  # centre 1510, back, +10 again from 1510 -> 1520
    check(CalibrationWizard(Calibration(), sink, read_keys(io.StringIO(script)), io.StringIO()).run())


def test_direct_wizard_on_the_emulated_pca9685_saves_atomically(tmp_path, monkeypatch, capsys):
    f = tmp_path / "calibration.yaml"
    save(Calibration(), f)
    chip = emulated_pca9685(4001)
    monkeypatch.setattr(sys, "stdin", io.StringIO(SCRIPT))
    assert main(["calibrate", "--file", str(f), "--backend", "emulated", "--i2c-bus", "4001"]) == 0
    check(load(f))
    assert load(f.with_name("calibration.yaml.bak")) == Calibration()
    steering = [round(w.pulse_us) for w in chip.writes if w.channel == 1]
    throttle = [round(w.pulse_us) for w in chip.writes if w.channel == 0]
    assert 1850 in [s + d for s in steering for d in (-2, -1, 0, 1, 2)]  # within a count
    assert any(abs(t - 1578) <= 3 for t in throttle)  # direction probe reached the ESC
    assert abs(chip.pulse_us(0) - 1498) < 5 and abs(chip.pulse_us(1) - 1520) < 5  # neutral at the end
    assert "saved to" in capsys.readouterr().out


def test_direct_wizard_quit_keeps_the_file(tmp_path, monkeypatch):
    f = tmp_path / "calibration.yaml"
    save(Calibration(), f)
    before = f.read_bytes()
    monkeypatch.setattr(sys, "stdin", io.StringIO("+++\nq"))
    assert main(["calibrate", "--file", str(f), "--backend", "emulated", "--i2c-bus", "4002"]) == 1
    assert f.read_bytes() == before
    assert abs(emulated_pca9685(4002).pulse_us(1) - 1500) < 5


def test_wizard_in_a_real_terminal_against_sysfs(tmp_path):
    f = save(Calibration(), tmp_path / "calibration.yaml")
    master, slave = os.openpty()
    with EmulatedSysfsPwm(tmp_path / "pwm", {0: 2}) as tree:
        proc = subprocess.Popen(
            [sys.executable, "-m", "deepracer.cli", "calibrate", "--file", str(f), "--backend", "sysfs",
             "--sysfs-root", str(tree.root)],
            stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        os.close(slave)
        try:
            assert tree.wait_for(lambda t: t.pulse_us(1) is not None, timeout=30)
            time.sleep(0.2)  # the wizard has switched the terminal to cbreak mode
            for ch in SCRIPT:
                os.write(master, ch.encode())
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
            os.close(master)
        assert proc.returncode == 0, err
        check(load(f))
        assert tree.pulse_us(0) == 1498 and tree.pulse_us(1) == 1520
        assert tree.errors == []
        assert "Throttle direction" in out

"""`deepracer servo neutral|pulse` on each backend's emulated device."""

from __future__ import annotations

import subprocess
import sys

import pytest

from deepracer.cli import main
from deepracer.control.calibration import Calibration, Steering, Throttle, save
from deepracer.hardware.emulated.maestro import EmulatedMaestroPty
from deepracer.hardware.emulated.pca9685 import emulated_pca9685
from deepracer.hardware.emulated.sysfs import EmulatedSysfsPwm

CAL = Calibration(50, Steering(1800, 1450, 1100, 30), Throttle(1350, 1480, 1650, 2.0))


@pytest.fixture
def cal_file(tmp_path):
    return save(CAL, tmp_path / "calibration.yaml")


def test_neutral_and_clamped_pulse_on_the_emulated_pca9685(cal_file, capsys):
    base = ["--backend", "emulated", "--i2c-bus", "3001", "--calibration", str(cal_file)]
    chip = emulated_pca9685(3001)
    assert main(["servo", "pulse", "--channel", "throttle", "--us", "2400", *base]) == 0
    assert chip.pulse_us(0) == pytest.approx(1650, abs=5)  # clamped to forward_us
    assert "clamped" in capsys.readouterr().out
    assert main(["servo", "pulse", "--channel", "steering", "--us", "1200", *base]) == 0
    assert chip.pulse_us(1) == pytest.approx(1200, abs=5)
    assert main(["servo", "neutral", *base]) == 0
    assert chip.pulse_us(0) == pytest.approx(1480, abs=5) and chip.pulse_us(1) == pytest.approx(1450, abs=5)
    assert chip.prescale == 121


def test_neutral_on_sysfs_with_swapped_channels_and_100hz(tmp_path):
    cal = save(Calibration(100, CAL.steering, CAL.throttle), tmp_path / "c.yaml")
    with EmulatedSysfsPwm(tmp_path / "pwm", {1: 4}) as tree:
        rc = main(["servo", "neutral", "--backend", "sysfs", "--sysfs-root", str(tree.root), "--pwmchip", "1",
                   "--throttle-channel", "3", "--steering-channel", "2", "--calibration", str(cal)])
        assert rc == 0
        assert tree.pulse_us(3, chip=1) == 1480 and tree.pulse_us(2, chip=1) == 1450
        assert tree.state(3, chip=1).period_ns == 10_000_000


def test_neutral_on_gpiozero_mock_pins(cal_file):
    from gpiozero import Device
    from gpiozero.pins.mock import MockFactory, MockPWMPin

    saved, Device.pin_factory = Device.pin_factory, MockFactory(pin_class=MockPWMPin)
    try:
        factory = Device.pin_factory
        assert main(["servo", "neutral", "--backend", "gpiozero", "--pins", "12,13", "--calibration", str(cal_file)]) == 0
        pins = {n: factory.pin(n) for n in (12, 13)}
        # the command closes its devices when it exits (the output stops); the pins keep their history
        assert [s.state for s in pins[12].states][-2] * 1e6 / 50 == pytest.approx(1480)
        assert [s.state for s in pins[13].states][-2] * 1e6 / 50 == pytest.approx(1450)
    finally:
        Device.pin_factory.reset()
        Device.pin_factory = saved


def test_neutral_on_a_maestro_through_a_pty_from_another_process(cal_file):
    with EmulatedMaestroPty() as maestro:
        result = subprocess.run(
            [sys.executable, "-m", "deepracer.cli", "servo", "neutral", "--backend", "serial", "--port", maestro.port,
             "--calibration", str(cal_file)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert maestro.wait_for(lambda m: m.pulse_us(0) == 1480 and m.pulse_us(1) == 1450)


def test_uncalibrated_neutral_still_works_and_says_why(tmp_path, capsys):
    missing = tmp_path / "none.yaml"
    assert main(["servo", "neutral", "--backend", "emulated", "--i2c-bus", "3002", "--calibration", str(missing)]) == 0
    assert str(missing) in capsys.readouterr().err
    assert emulated_pca9685(3002).pulse_us(0) == pytest.approx(1500, abs=5)
    assert main(["servo", "pulse", "--channel", "throttle", "--us", "1900", "--backend", "emulated",
                 "--i2c-bus", "3002", "--calibration", str(missing)]) == 0
    assert emulated_pca9685(3002).pulse_us(0) == pytest.approx(1500, abs=5)  # throttle locked


def test_missing_device_exits_2_with_the_path(tmp_path, cal_file, capsys):
    assert main(["servo", "neutral", "--backend", "sysfs", "--sysfs-root", str(tmp_path / "nothing"),
                 "--calibration", str(cal_file)]) == 2
    assert "pwmchip0" in capsys.readouterr().err

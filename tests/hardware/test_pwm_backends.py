"""Each PWM backend against its emulated device, decoding what was actually written."""

from __future__ import annotations

import pytest

from deepracer.errors import HardwareError
from deepracer.hardware.emulated.maestro import EmulatedMaestroPty, MaestroDecoder
from deepracer.hardware.emulated.pca9685 import EmulatedPca9685, emulated_pca9685
from deepracer.hardware.emulated.sysfs import EmulatedSysfsPwm
from deepracer.hardware.pwm import BackendOptions, open_backend
from deepracer.hardware.pwm.gpio import GpiozeroPwm
from deepracer.hardware.pwm.maestro import MaestroPwm
from deepracer.hardware.pwm.pca9685 import Pca9685, prescale_for
from deepracer.hardware.pwm.sysfs import SysfsPwm

# ---------------------------------------------------------------- PCA9685


def test_pca9685_sets_prescale_121_and_307_counts_for_1500us_at_50hz():
    chip = EmulatedPca9685()
    assert chip.sleeping  # power-on state
    pwm = Pca9685(chip.bus(), 0x40, 50.0)
    assert chip.prescale == 121
    assert not chip.sleeping
    assert chip.frequency_hz == pytest.approx(50.0, abs=0.05)
    pwm.set_pulse_us(0, 1500)
    assert chip.counts(0) == (0, 307)
    assert chip.pulse_us(0) == pytest.approx(1500, abs=5)  # one count is 4.9 µs
    pwm.set_pulse_us(15, 1000)
    pwm.set_pulse_us(1, 2000)
    assert chip.pulse_us(15) == pytest.approx(1000, abs=5)
    assert chip.pulse_us(1) == pytest.approx(2000, abs=5)
    assert [w.channel for w in chip.writes] == [0, 15, 1]


@pytest.mark.parametrize("freq, prescale", [(50, 121), (60, 101), (100, 60), (330, 17)])
def test_pca9685_prescale_for_other_frequencies(freq, prescale):
    assert prescale_for(freq) == prescale
    chip = EmulatedPca9685()
    Pca9685(chip.bus(), 0x40, freq).set_pulse_us(3, 1200)
    assert chip.prescale == prescale
    assert chip.pulse_us(3) == pytest.approx(1200, abs=1e6 / freq / 4096 + 0.5)


def test_emulated_chip_ignores_prescale_while_awake():
    chip = EmulatedPca9685()
    bus = chip.bus()
    bus.write_byte_data(0x40, 0x00, 0x20)  # wake up
    bus.write_byte_data(0x40, 0xFE, 121)
    assert chip.prescale == 0x1E  # what a driver skipping the sleep step would get


def test_pca9685_retries_i2c_errors_then_reports_the_fault():
    chip = EmulatedPca9685()
    pwm = Pca9685(chip.bus(), 0x40, 50.0)
    chip.fail_next = 2  # two transient errors: recovered
    pwm.set_pulse_us(0, 1600)
    assert chip.pulse_us(0) == pytest.approx(1600, abs=5)
    chip.fail_next = 10  # a dead bus: bounded retries, then a HardwareError
    with pytest.raises(HardwareError, match="failed 3 times"):
        pwm.set_pulse_us(0, 1400)
    assert chip.fail_next == 7
    assert chip.pulse_us(0) == pytest.approx(1600, abs=5)


def test_pca9685_wrong_address_is_a_hardware_error():
    chip = EmulatedPca9685(address=0x41)
    with pytest.raises(HardwareError, match="0x40"):
        Pca9685(chip.bus(), 0x40, 50.0)


def test_emulated_backend_needs_no_options_and_is_readable_in_process():
    backend = open_backend(BackendOptions(backend="emulated", i2c_bus=97), 50.0, [0, 1])
    backend.set_pulse_us(1, 1700)
    assert emulated_pca9685(97).pulse_us(1) == pytest.approx(1700, abs=5)


# ---------------------------------------------------------------- sysfs


@pytest.fixture
def sysfs_tree(tmp_path):
    with EmulatedSysfsPwm(tmp_path / "pwm", {0: 4}) as tree:
        yield tree


def test_sysfs_exports_sets_period_and_duty(sysfs_tree):
    pwm = SysfsPwm(sysfs_tree.root, 0, 50.0, [0, 1])
    assert (sysfs_tree.root / "pwmchip0" / "pwm0").is_dir()
    assert (sysfs_tree.root / "pwmchip0" / "pwm1").is_dir()
    assert sysfs_tree.pulse_us(0) is None  # not enabled before a pulse is chosen
    pwm.set_pulse_us(0, 1500)
    pwm.set_pulse_us(1, 1234.5)
    assert sysfs_tree.wait_for(lambda t: t.pulse_us(1) is not None)
    assert sysfs_tree.state(0).period_ns == 20_000_000
    assert sysfs_tree.pulse_us(0) == 1500
    assert sysfs_tree.pulse_us(1) == pytest.approx(1234.5)
    assert sysfs_tree.errors == []


def test_sysfs_reuses_an_exported_channel_with_a_longer_duty(sysfs_tree):
    SysfsPwm(sysfs_tree.root, 0, 50.0, [0]).set_pulse_us(0, 1900)
    assert sysfs_tree.wait_for(lambda t: t.pulse_us(0) == 1900)
    # 400 Hz: the period (2.5 ms) must not be set below the current duty (1.9 ms fits, 2.6 would not)
    pwm = SysfsPwm(sysfs_tree.root, 0, 400.0, [0])
    pwm.set_pulse_us(0, 1500)
    assert sysfs_tree.wait_for(lambda t: t.state(0).period_ns == 2_500_000 and t.pulse_us(0) == 1500)
    assert sysfs_tree.errors == []


def test_emulated_kernel_rejects_duty_above_period(sysfs_tree):
    SysfsPwm(sysfs_tree.root, 0, 50.0, [2]).set_pulse_us(2, 1500)
    assert sysfs_tree.wait_for(lambda t: t.history and t.history[-1].pulse_us == 1500)  # the kernel has seen it
    (sysfs_tree.root / "pwmchip0" / "pwm2" / "duty_cycle").write_text("30000000\n")
    assert sysfs_tree.wait_for(lambda t: t.errors)
    assert "duty_cycle 30000000 > period 20000000" in sysfs_tree.errors[0]
    assert sysfs_tree.wait_for(lambda t: t.pulse_us(2) == 1500)  # reverted


def test_sysfs_missing_chip_names_the_path(tmp_path):
    with pytest.raises(HardwareError, match="pwmchip3"):
        SysfsPwm(tmp_path, 3, 50.0, [0])


# ---------------------------------------------------------------- gpiozero


def test_gpiozero_backend_duty_cycles_on_mock_pwm_pins():
    from gpiozero.pins.mock import MockFactory, MockPWMPin

    factory = MockFactory(pin_class=MockPWMPin)
    pwm = GpiozeroPwm([18, 19], 50.0, pin_factory=factory)
    try:
        pwm.set_pulse_us(0, 1500)
        pwm.set_pulse_us(1, 1100)
        pin18, pin19 = factory.pin(18), factory.pin(19)
        assert pin18.frequency == 50
        assert pin18.state * 1e6 / pin18.frequency == pytest.approx(1500)
        assert pin19.state * 1e6 / pin19.frequency == pytest.approx(1100)
        with pytest.raises(HardwareError, match="channel 2"):
            pwm.set_pulse_us(2, 1500)
    finally:
        pwm.close()
        factory.reset()


# ---------------------------------------------------------------- serial (Maestro)


def test_maestro_compact_protocol_over_loop_url():
    import serial

    port = serial.serial_for_url("loop://", timeout=0.2)
    pwm = MaestroPwm(port, 50.0)
    pwm.set_pulse_us(0, 1500)
    pwm.set_pulse_us(5, 1000.25)
    raw = port.read(8)
    assert raw[:4] == bytes([0x84, 0, 6000 & 0x7F, 6000 >> 7])
    decoder = MaestroDecoder()
    decoder.feed(raw)
    assert decoder.pulse_us(0) == 1500
    assert decoder.pulse_us(5) == 1000.25
    assert decoder.errors == []


def test_maestro_over_a_pty():
    with EmulatedMaestroPty() as maestro:
        pwm = open_backend(BackendOptions(backend="serial", serial_port=maestro.port), 50.0, [0, 1])
        pwm.set_pulse_us(1, 1750)
        assert maestro.wait_for(lambda m: m.pulse_us(1) == 1750)
        pwm.close()


def test_maestro_missing_port_is_a_hardware_error(tmp_path):
    with pytest.raises(HardwareError, match="nope"):
        MaestroPwm.open(str(tmp_path / "nope"))


def test_servo_output_never_writes_a_nan_pulse_as_a_full_one():
    """Raw (calibration-mode) pulses: NaN would clamp to 2500 µs; it must be the rest pulse."""
    from deepracer.control.calibration import Calibration, Steering, Throttle
    from deepracer.control.servo_mapping import Pulses, ServoMapping
    from deepracer.hardware.pwm.output import ServoOutput

    chip = EmulatedPca9685()
    cal = Calibration(50, Steering(1900, 1520, 1100, 30), Throttle(1400, 1480, 1600, 1.0))
    out = ServoOutput(Pca9685(chip.bus(), 0x40, 50), ServoMapping(cal), 0, 1)
    nan = float("nan")
    for raw in (True, False):
        assert out.write(Pulses(nan, nan), raw=raw) == Pulses(1480, 1520)
        assert (chip.pulse_us(0), chip.pulse_us(1)) == pytest.approx((1480, 1520), abs=5)
    assert out.write_role("throttle", nan, raw=True) == 1480
    assert out.write_role("steering", float("inf"), raw=True) == 1520
    assert out.write(Pulses(3000, 100), raw=True) == Pulses(2500, 500)  # finite: still the hardware range

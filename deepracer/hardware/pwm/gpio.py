"""Raspberry Pi GPIO PWM through gpiozero: channel i drives GPIO `pins[i]`.

The pulse width becomes a duty cycle at the calibration's frequency. Which pin factory
gpiozero uses decides the timing quality: lgpio/RPi.GPIO are software-timed (jitter makes
servos twitch); pigpio is DMA-timed. For a PCA9685 HAT use the pca9685 backend instead.
Tests pass gpiozero's MockFactory(pin_class=MockPWMPin).
"""

from __future__ import annotations

from deepracer.errors import HardwareError
from deepracer.hardware.pwm.base import PwmBackend


class GpiozeroPwm(PwmBackend):
    name = "gpiozero"

    def __init__(self, pins: list[int], frequency_hz: float = 50.0, pin_factory=None) -> None:
        super().__init__(frequency_hz)
        try:
            from gpiozero import PWMOutputDevice
        except ImportError as err:
            raise HardwareError("the gpiozero backend needs gpiozero (pip install gpiozero)") from err
        self.pins = list(pins)
        self.devices = []
        try:
            for pin in self.pins:
                self.devices.append(
                    PWMOutputDevice(pin, initial_value=0, frequency=int(round(frequency_hz)), pin_factory=pin_factory)
                )
        except Exception as err:  # gpiozero raises its own hierarchy (BadPinFactory, PinInvalidPin, ...)
            self.close()
            raise HardwareError(f"cannot open GPIO pins {self.pins}: {err}") from err

    def set_pulse_us(self, channel: int, pulse_us: float) -> None:
        if not 0 <= channel < len(self.devices):
            raise HardwareError(f"gpiozero backend: channel {channel} has no pin (gpio_pins={self.pins})")
        self.devices[channel].value = max(0.0, min(1.0, pulse_us * self.frequency_hz / 1e6))

    def close(self) -> None:
        for device in self.devices:
            device.close()
        self.devices = []

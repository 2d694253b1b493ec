"""PWM backends, chosen by name: pca9685, sysfs, gpiozero, serial (Pololu Maestro), emulated.

`open_backend(options, frequency_hz, channels)` imports only the library the chosen backend
needs, so a car with a PCA9685 does not need gpiozero or pyserial.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from deepracer.errors import ConfigError
from deepracer.hardware.pwm.base import PwmBackend

BACKENDS = ("pca9685", "sysfs", "gpiozero", "serial", "emulated")


@dataclass
class BackendOptions:
    backend: str = "pca9685"
    i2c_bus: int = 1
    i2c_address: int = 0x40
    sysfs_root: str = "/sys/class/pwm"
    pwmchip: int = 0
    gpio_pins: list[int] = field(default_factory=lambda: [18, 19])  # channel i -> GPIO gpio_pins[i]
    serial_port: str = "/dev/deepracer/servo"
    baud: int = 9600


def open_backend(options: BackendOptions, frequency_hz: float, channels: list[int]) -> PwmBackend:
    """An opened backend for `channels` at `frequency_hz`. Raises HardwareError if the device fails."""
    name = options.backend
    if name == "pca9685":
        from deepracer.hardware.pwm.pca9685 import Pca9685

        return Pca9685.open(options.i2c_bus, options.i2c_address, frequency_hz)
    if name == "emulated":
        from deepracer.hardware.emulated.pca9685 import emulated_pca9685
        from deepracer.hardware.pwm.pca9685 import Pca9685

        device = emulated_pca9685(options.i2c_bus, options.i2c_address)
        backend = Pca9685(device.bus(), options.i2c_address, frequency_hz)
        backend.name = "emulated"
        return backend
    if name == "sysfs":
        from deepracer.hardware.pwm.sysfs import SysfsPwm

        return SysfsPwm(options.sysfs_root, options.pwmchip, frequency_hz, channels)
    if name == "gpiozero":
        from deepracer.hardware.pwm.gpio import GpiozeroPwm

        return GpiozeroPwm(options.gpio_pins, frequency_hz)
    if name == "serial":
        from deepracer.hardware.pwm.maestro import MaestroPwm

        return MaestroPwm.open(options.serial_port, options.baud, frequency_hz)
    raise ConfigError(f"unknown PWM backend {name!r}; choose one of {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "BackendOptions", "PwmBackend", "open_backend"]

"""Emulated devices at the device boundary, so tests and benchmarks run the real drivers:
a PCA9685 behind a fake SMBus, a sysfs PWM tree that behaves like the kernel's, a Pololu
Maestro on the other end of a pty or pyserial's loop://. gpiozero brings its own MockFactory.
"""

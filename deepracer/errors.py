"""Errors a user can act on. The CLI prints them as one line and exits non-zero."""

from __future__ import annotations

from pathlib import Path


class DeepRacerError(Exception):
    """Base class: `str(err)` names the problem and, where there is one, the file."""

    exit_code = 2

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        super().__init__(f"{path}: {message}" if path is not None else message)


class ModelPackageError(DeepRacerError):
    """A model package (directory or tarball) that cannot be used."""


class CalibrationError(DeepRacerError):
    """A calibration file that is missing, corrupt or invalid."""


class TrackError(DeepRacerError):
    """An unknown track name or a malformed route file."""


class RewardFunctionError(DeepRacerError):
    """A reward function that cannot be loaded, raises, or returns a bad value."""


class LogFormatError(DeepRacerError):
    """A training or evaluation log that cannot be read."""


class HardwareError(DeepRacerError):
    """A device that cannot be opened or keeps failing."""


class ConfigError(DeepRacerError):
    """A configuration file or option that does not make sense."""

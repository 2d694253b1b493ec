"""Errors the API turns into 4xx JSON bodies: {"detail": ..., "field": ...}."""

from __future__ import annotations


class ConsoleError(Exception):
    status_code = 400

    def __init__(self, detail: str, field: str | None = None, status_code: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        if status_code is not None:
            self.status_code = status_code


class FieldError(ConsoleError):
    """A request field with a value the console does not accept."""

    status_code = 422


class NotFound(ConsoleError):
    status_code = 404


class Conflict(ConsoleError):
    status_code = 409

"""Helpers for the analysis tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2].parent / "shared"


def shared_path(*parts: str) -> Path:
    """A file in ../shared, or skip with the reason (module-scoped fixtures cannot use `shared`)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI"):  # CI has ../shared: a missing file there is a broken checkout
            pytest.fail(f"{path} is absent (CI=1)")
        pytest.skip(f"{path} is absent: the DeepRacer reference files in ../shared are not checked out here")
    return path

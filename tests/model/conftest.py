"""Model packages built once per session (the reference network is 23 MB)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from deepracer.model.reference_net import make_reference_package


@pytest.fixture(scope="session")
def reference_package(tmp_path_factory) -> Path:
    return make_reference_package(tmp_path_factory.mktemp("ref") / "reference")


@pytest.fixture
def reference_copy(reference_package, tmp_path) -> Path:
    """A private copy a test may break."""
    return Path(shutil.copytree(reference_package, tmp_path / "pkg"))

"""What the tests know about their environment: the repository, ../shared, and the CI=1 rule.

A plain module (not conftest.py: several folders have a conftest, and `from conftest import`
would take whichever was imported first), imported as `from testenv import ...`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
IN_CI = bool(os.environ.get("CI"))


def skip_or_fail(reason: str) -> None:
    """Skip with the reason; under CI=1 (where every tool and file is provided) fail instead, so a
    broken install never hides behind a skip."""
    if IN_CI:
        pytest.fail(f"CI=1: {reason}", pytrace=False)
    pytest.skip(reason)

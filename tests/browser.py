"""Playwright through Debian's chromium, for the browser tests (console pages, the car's page, the
analysis report).

A plain module like testenv.py (not a conftest), imported as `from browser import ...`.
Without chromium or the playwright package a test is skipped with the reason; under CI=1
(where the Makefile/.ci/run provide both) it fails instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from testenv import skip_or_fail

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def require_chromium() -> None:
    """Skip (or fail under CI=1) unless chromium and the playwright package are installed."""
    if not CHROMIUM.is_file():
        skip_or_fail(f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        skip_or_fail("the playwright Python package is not installed (make setup-train)")


def launch_chromium(playwright: Playwright, extra_args: Sequence[str] = ()) -> Browser:
    """Headless chromium from `sync_playwright()`; call require_chromium() first."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *extra_args])

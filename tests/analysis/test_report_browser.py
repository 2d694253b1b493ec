"""The report page in a real browser (Playwright driving Debian's chromium): it loads with no
console errors, every figure is there, the summary reads as sentences (no JSON, no null, no
15-digit floats) and the tables sort on a click. Screenshots are kept in the test's tmp folder."""

from __future__ import annotations

import functools
import os
import re
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from analysis_helpers import shared_path
from browser import launch_chromium, require_chromium
from log_layouts import console_export

from deepracer.analysis.report import analyze
from deepracer.sim.track_library import import_routes

pytestmark = pytest.mark.integration

@pytest.fixture(scope="module")
def browser():
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """The report on an AWS console log folder, the user's library holding DeepRacer's routes."""
    tmp = tmp_path_factory.mktemp("browser")
    lib = tmp / "library"
    old = os.environ.get("DEEPRACER_TRACKS_DIR")
    os.environ["DEEPRACER_TRACKS_DIR"] = str(lib)
    try:
        import_routes(shared_path("tracks"))
        logs = console_export(shared_path("deepracer-logs", "drfc-sample"), tmp / "console", iterations=27)
        analyze(logs, tmp / "report", quiet=True)
    finally:
        if old is None:
            os.environ.pop("DEEPRACER_TRACKS_DIR", None)
        else:
            os.environ["DEEPRACER_TRACKS_DIR"] = old
    return tmp / "report"


@pytest.fixture(scope="module")
def served(report):
    """The report folder over HTTP on 127.0.0.1 (as the console serves it)."""
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(report))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    server.shutdown()
    server.server_close()


@pytest.fixture
def page(browser, served):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.problems = []  # type: ignore[attr-defined]
    pg.on("console", lambda m: pg.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.problems.append(f"page error: {e}"))
    pg.on("requestfailed", lambda r: pg.problems.append(f"request failed: {r.url}"))
    pg.on("response", lambda r: pg.problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    pg.goto(served, wait_until="load")
    yield pg
    context.close()


def test_page_loads_without_errors_and_every_figure_is_there(page):
    images = page.evaluate("Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth])")
    assert len(images) >= 9
    missing = [src for src, complete, width in images if not complete or width == 0]
    assert not missing, missing
    assert page.problems == []
    # the console's reward graph comes first, then trajectories over the track
    assert images[0][0] == "training_curves.png"
    assert {"track_speed.png", "track_action.png", "track_reward.png", "training_laps.png", "evaluation_laps.png",
            "action_histogram.png"} <= {src for src, _, _ in images}


def test_summary_screenshot_reads_as_sentences(page, report):
    summary = page.locator("#summary")
    shot = summary.screenshot(path=str(report / "summary-screenshot.png"))
    page.screenshot(path=str(report / "page-screenshot.png"), full_page=False)
    assert len(shot) > 5000  # something drawn, not an empty box
    text = summary.inner_text()
    assert "null" not in text and "None" not in text and "NaN" not in text
    assert "{" not in text and not re.search(r'"\w+":', text), text
    assert not re.search(r"\d\.\d{5,}", text), text
    for words in ("reinvent_base, counter-clockwise", "540 episodes in 27 iterations", "Best lap",
                  "training 12.212 s", "evaluation 13.801 s", "3 trials in 1 run,", "Completion"):
        assert words in text, words
    assert summary.bounding_box()["height"] < 400  # a headline, not a wall


def test_tables_sort_on_a_click(page):
    table = page.locator("table.sortable").first  # completed laps
    header = table.locator("th", has_text="lap time (s)")
    header.click()
    values = _values(table, "lap time (s)")
    assert values == sorted(values) and len(values) == 42 + 3
    assert header.get_attribute("aria-sort") == "ascending"
    header.click()
    values = _values(table, "lap time (s)")
    assert values == sorted(values, reverse=True)
    shown = table.locator("tbody tr").first.inner_text()
    assert not re.search(r"\d\.\d{4,}", shown), shown  # rounded for reading; data-v keeps the exact value
    assert page.problems == []


def _values(table, title: str) -> list[float]:
    heads = table.locator("th").all_inner_texts()
    column = next(i for i, h in enumerate(heads) if h.strip().startswith(title))
    cells = table.locator(f"tbody tr td:nth-child({column + 1})")
    return [float(v) for v in cells.evaluate_all("cells => cells.map(c => c.dataset.v)")]

"""End to end, as a new user of `deepracer console` in a browser: create a model through the
wizard with the default reward function, watch the training graph gain points and the live
view show frames, stop it, evaluate it, read the results row, download the model package and
check it with `deepracer model check`, clone it (a server refusal shows next to its field),
and see a malicious tarball and a bad route file refused with the server's reason.

The training is tiny (the console's max-steps extension), so the whole run stays short.
Screenshots go to $CONSOLE_SCREENSHOTS (default: the test's temp folder).
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import tarfile
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page

from tests.console_web.conftest import Console, deepracer_command

# one training, one evaluation and a clone on a shared 2-core machine: more than the default 300 s cap
pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

MODEL = "e2e-first-model"
CLONE = "e2e-first-clone"
TRAIN_STEPS = "4000"  # the stop condition; the test stops training well before it
# A user-visible wait: training, evaluation and the first frames on a shared 2-core machine.
JOB_TIMEOUT_MS = 240_000


def shot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def malicious_tarball(path: Path) -> Path:
    """A model 'package' whose member climbs out of the extraction folder."""
    with tarfile.open(path, "w:gz") as tar:
        payload = b'{"action_space": []}'
        info = tarfile.TarInfo("../../escaped/model_metadata.json")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    return path


def model_state(console: Console, model_id: str) -> str:
    """What the API says about a model, and its job log's end: for a failure message."""
    out = []
    for path in (f"/api/models/{model_id}", f"/api/models/{model_id}/logs"):
        try:
            with urllib.request.urlopen(console.url + path, timeout=10) as response:
                out.append(response.read().decode(errors="replace")[-3000:])
        except OSError as err:
            out.append(f"{path}: {err}")
    return "\n".join(out)


def wizard_next(page: Page) -> None:
    page.get_by_role("button", name="Next", exact=True).click()


def test_new_user_trains_evaluates_downloads_clones(page: Page, console: Console, shots: Path, tmp_path: Path) -> None:
    started = time.monotonic()

    def phase(name: str) -> None:  # where the time goes (pytest -s shows it)
        print(f"console e2e: {time.monotonic() - started:6.1f} s {name}", file=sys.stderr)
    expect = _expect()
    page.console_errors.allow(r"/api/models/\d+/live\]")  # 404 until the simulator's first frame
    page.console_errors.allow(r"status of 4\d\d .*\[.*/api/models/import\]")  # the refused tarball
    page.console_errors.allow(r"status of 4\d\d .*\[.*/api/tracks\]")  # the refused route file
    page.console_errors.allow(r"status of 4\d\d .*\[.*/api/models\]")  # the clone's duplicate name

    # -- Your models: empty for a new user
    page.goto("/")
    expect(page.get_by_role("heading", name="Your models")).to_be_visible()
    expect(page.get_by_text("No models")).to_be_visible()

    # -- Create model, step 1: name, description, track (with pictures), direction
    page.get_by_role("button", name="Create model").first.click()
    expect(page.get_by_text("Specify the model name and environment").first).to_be_visible()
    page.get_by_label("Model name", exact=True).fill("bad name!")
    wizard_next(page)
    expect(page.get_by_text("letters, numbers and hyphens").first).to_be_visible()
    page.get_by_label("Model name", exact=True).fill(MODEL)
    page.get_by_label(re.compile(r"^Training job description")).fill("first model from the browser test")
    cards = page.get_by_test_id("track-cards")
    expect(cards.locator("img").first).to_be_visible()
    assert cards.get_by_text(re.compile(r"Length \d+\.\d+ m · width \d\.\d+ m")).count() >= 1
    shot(page, shots, "01-wizard-track")
    wizard_next(page)

    # -- step 2: race type
    expect(page.get_by_text("Time trial").first).to_be_visible()
    wizard_next(page)

    # -- step 3: algorithm and hyperparameters (DeepRacer's PPO defaults and ranges)
    expect(page.get_by_text("Gradient descent batch size").first).to_be_visible()
    expect(page.get_by_label("Learning rate", exact=True)).to_have_value("0.0003")
    episodes = page.get_by_label("Number of experience episodes between each policy-updating iteration", exact=True)
    episodes.fill("200")
    wizard_next(page)
    expect(page.get_by_text("Must be at most 100.")).to_be_visible()  # checked before the server sees it
    episodes.fill("5")  # small iterations: the graph gains points quickly
    page.get_by_label("Number of epochs", exact=True).fill("3")
    wizard_next(page)

    # -- step 4: action space, discrete, drawn as a fan; edited row by row
    fan = page.get_by_test_id("action-space-fan")
    expect(fan).to_be_visible()
    expect(fan.get_by_test_id("action-ray")).to_have_count(10)  # DeepRacer's default: 5 steering x 2 speeds
    page.get_by_role("button", name="Steering angle granularity").click()
    page.get_by_role("option", name="3", exact=True).click()
    expect(fan.get_by_test_id("action-ray")).to_have_count(6)
    page.get_by_label("Speed of action 0", exact=True).fill("0.7")
    shot(page, shots, "02-wizard-action-space")
    wizard_next(page)

    # -- step 5: network
    expect(page.get_by_text("3-layer CNN").first).to_be_visible()
    wizard_next(page)

    # -- step 6: reward function (code editor), Validate with an error on its line, stop condition
    editor = page.get_by_test_id("reward-editor")
    expect(editor.locator(".ace_gutter").first).to_be_visible()  # line numbers
    expect(editor.locator(".ace_keyword").first).to_be_visible()  # Python highlighting
    default_reward = page.evaluate("() => document.querySelector('.ace_editor').env.editor.getValue()")
    assert "def reward_function(params)" in default_reward
    editor.locator(".ace_content").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text("def reward_function(params):\n    speed = params['speed']\nreturn speedd\n")
    page.get_by_role("button", name="Validate").click()
    result = page.get_by_test_id("reward-validation")
    expect(result).to_contain_text("did not pass validation")
    expect(result).to_contain_text(re.compile(r"Line \d+"))
    expect(editor.locator(".ace_gutter-cell.ace_error")).to_have_count(1)  # the error on its line
    shot(page, shots, "03-wizard-reward-error")
    page.get_by_role("button", name="Reset").click()
    page.get_by_role("button", name="Validate").click()
    expect(result).to_contain_text("passed validation", timeout=30_000)
    page.get_by_label("Maximum time", exact=True).fill("5")
    page.get_by_text("Maximum steps (this console's extension)").click()
    page.get_by_role("spinbutton", name=re.compile(r"^Maximum steps")).fill(TRAIN_STEPS)
    page.get_by_role("button", name="Create model").click()

    phase("wizard done")

    # -- Model page: status, training graph gaining points, live view frames
    expect(page.get_by_role("heading", name=MODEL)).to_be_visible()
    model_url = page.url
    model_id = model_url.rstrip("/").rsplit("/", 1)[-1]
    live = page.get_by_test_id("live-status")
    try:
        expect(live).to_contain_text(re.compile(r"Live: ([3-9]|\d\d+) frames"), timeout=JOB_TIMEOUT_MS)
    except AssertionError as err:
        raise AssertionError(f"no live frames; the model and its job log:\n{model_state(console, model_id)}") from err
    expect(page.get_by_test_id("live-frame")).to_be_visible()
    reward_graph = page.get_by_test_id("reward-graph")
    expect(reward_graph.get_by_text("No iterations yet")).to_have_count(0, timeout=JOB_TIMEOUT_MS)
    # the average-reward line gains points as iterations finish: at least two (a segment)
    line = reward_graph.locator("svg g[class*='awsui_series'] path").first
    expect(line).to_have_attribute("d", re.compile(r"^M.*L"), timeout=JOB_TIMEOUT_MS)
    shot(page, shots, "04-model-training")

    phase("graph has 2 points, live frames")

    # -- Stop training: the model becomes ready with its best checkpoint
    page.get_by_role("button", name="Stop training").click()
    expect(page.get_by_text("Ready", exact=True).first).to_be_visible(timeout=JOB_TIMEOUT_MS)

    phase("stopped, ready")

    # -- Evaluate: one trial, results row with trial, time, progress, status; a video
    page.get_by_role("button", name="Evaluate", exact=True).click()
    page.get_by_label("Number of trials", exact=True).fill("1")
    # A barely trained car leaves the track again and again; with a penalty per reset its trial reaches
    # the 20-minute limit (elapsed = driving + penalties) in a few simulated minutes, not twenty.
    page.get_by_label("Off-track penalty", exact=True).fill("5")
    page.get_by_role("button", name="Start evaluation").click()
    expect(page.get_by_test_id("evaluations-table").get_by_text("Completed")).to_be_visible(timeout=JOB_TIMEOUT_MS)
    results = page.get_by_test_id("evaluation-results")
    row = results.locator("tbody tr").first
    expect(row.locator("td").nth(0)).to_have_text("1", timeout=JOB_TIMEOUT_MS)
    cells = [c.strip() for c in row.locator("td").all_inner_texts()]
    assert re.fullmatch(r"\d\d:\d\d\.\d{3}", cells[1]), cells  # time
    assert re.fullmatch(r"\d+(\.\d)?%", cells[3]), cells  # progress
    assert cells[6] in {"Lap complete", "Off track", "Crashed", "Immobilized", "Reversed", "Time up"}, cells
    video = page.get_by_test_id("evaluation-video")
    expect(video).to_be_visible()
    # the browser can play it: its metadata loads and it lasts as long as the trial, roughly
    page.wait_for_function("v => v.readyState >= 1 && v.duration > 0", arg=video.element_handle(), timeout=30_000)
    shot(page, shots, "05-model-evaluation")

    phase("evaluated")

    # -- Download the model package and check it as a car would load it
    page.get_by_role("button", name="Download").click()
    with page.expect_download() as download_info:
        page.get_by_role("menuitem", name="Model package (.tar.gz)").click()
    package = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(package)
    check = subprocess.run([*deepracer_command(), "model", "check", str(package)],
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    # ... and the whole training folder, in DeepRacer-for-Cloud's layout
    page.get_by_role("button", name="Download").click()
    with page.expect_download() as download_info:
        page.get_by_role("menuitem", name="Training folder (.tar.gz)").click()
    folder = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(folder)
    with tarfile.open(folder) as tar:
        names = tar.getnames()
    assert any(n.endswith("reward_function.py") for n in names), names[:20]
    assert any("/metrics/" in f"/{n}" for n in names), names[:20]

    # -- Log analysis report inside the page, and the job's log
    page.get_by_role("tab", name="Log analysis").click()
    frame = page.frame_locator("[data-testid=report-frame]")
    expect(frame.locator("body")).to_contain_text(re.compile(r"reward|progress", re.I), timeout=60_000)
    shot(page, shots, "06-model-analysis")
    page.get_by_role("tab", name="Logs").click()
    expect(page.get_by_test_id("job-log")).to_contain_text("deepracer.cli train")

    phase("package checked, report, log")

    # -- Clone: the wizard starts from this model; the action space stays; a duplicate name is
    #    refused by the server and the message shows next to the name field
    page.get_by_role("tab", name="Training").click()
    page.get_by_role("button", name="Clone").click()
    expect(page.get_by_label("Model name", exact=True)).to_have_value(f"{MODEL}-clone")
    page.get_by_label("Model name", exact=True).fill(MODEL)
    for _ in range(3):
        wizard_next(page)
    expect(page.get_by_label("Speed of action 0", exact=True)).to_be_disabled()  # the action space stays
    expect(page.get_by_test_id("action-space-fan").get_by_test_id("action-ray")).to_have_count(6)
    wizard_next(page)
    wizard_next(page)
    page.get_by_role("spinbutton", name=re.compile(r"^Maximum steps")).fill("300")
    page.get_by_role("button", name="Clone model").click()
    name_field = page.get_by_label("Model name", exact=True)
    expect(name_field).to_be_visible()
    expect(page.get_by_text(re.compile(r"already|exists|taken", re.I)).first).to_be_visible()
    shot(page, shots, "07-clone-refused-name")
    name_field.fill(CLONE)  # the wizard went back to the name's step
    for _ in range(5):
        wizard_next(page)
    page.get_by_role("button", name="Clone model").click()
    expect(page.get_by_role("heading", name=CLONE)).to_be_visible()
    expect(page.get_by_text(f"(from model {model_id})")).to_be_visible()
    page.get_by_role("button", name="Stop training").click()  # enough: it started from the weights
    expect(page.get_by_role("button", name="Stop training")).to_have_count(0, timeout=JOB_TIMEOUT_MS)

    phase("cloned")

    # -- Import: a malicious tarball is refused with the server's reason
    page.goto("/models/import")
    evil = malicious_tarball(tmp_path / "evil.tar.gz")
    page.locator("input[type=file]").set_input_files(str(evil))
    page.get_by_role("button", name="Import model").click()
    refusal = page.get_by_text(re.compile(r"outside|unsafe|escape|\.\./", re.I)).first
    expect(refusal).to_be_visible()
    shot(page, shots, "08-import-refused")
    assert not (console.data.parent / "escaped").exists()
    # ... while the training folder downloaded above comes back in as a ready model
    page.locator("input[type=file]").set_input_files(str(folder))
    page.get_by_role("textbox", name=re.compile(r"^Model name")).fill("e2e-imported-folder")
    page.get_by_role("button", name="Import model").click()
    expect(page.get_by_role("heading", name="e2e-imported-folder")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Ready", exact=True).first).to_be_visible()
    expect(page.get_by_text("imported", exact=True)).to_be_visible()

    phase("imports")

    # -- Tracks: pictures, and a bad route file refused by name
    page.get_by_role("link", name="Tracks").click()
    expect(page.get_by_test_id("tracks").locator("img").first).to_be_visible()
    bad = tmp_path / "not-a-route.npy"
    bad.write_bytes(b"this is not a numpy file")
    page.locator("input[type=file]").set_input_files(str(bad))
    page.get_by_role("button", name="Upload track").click()
    expect(page.get_by_text(re.compile(r"not-a-route")).last).to_be_visible()
    expect(page.get_by_text(re.compile(r"not-a-route.*(npy|route|array|read)|(npy|route|array).*not-a-route", re.I)).first).to_be_visible()

    # -- Your models: both, sortable and filterable; delete the clone with a confirmation
    page.get_by_role("link", name="Your models").click()
    table = page.get_by_test_id("models-table")
    expect(table.get_by_role("link", name=MODEL, exact=True)).to_be_visible()
    expect(table.get_by_role("link", name=CLONE)).to_be_visible()
    expect(table.get_by_role("link", name="e2e-imported-folder")).to_be_visible()
    page.get_by_placeholder("Find models").fill("clone")
    expect(table.locator("tbody tr")).to_have_count(1)
    shot(page, shots, "09-models-filtered")
    page.get_by_placeholder("Find models").fill("")
    table.get_by_role("link", name=CLONE).click()
    expect(page.get_by_role("button", name="Delete")).to_be_enabled(timeout=JOB_TIMEOUT_MS)
    page.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(page.get_by_role("heading", name="Your models")).to_be_visible()
    expect(table.get_by_role("link", name=CLONE)).to_have_count(0)
    phase("done")


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect

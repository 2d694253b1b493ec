"""The console's pages without a training run (quick): import a model package and see it ready
to evaluate, upload a DeepRacer route and see it in the library and in the wizard, the wizard's
SAC/continuous action space and its example reward functions, and delete with a confirmation."""

from __future__ import annotations

import json
import os
import re
import shutil
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page

from deepracer.paths import bundled_model
from tests.conftest import shared_path
from tests.console_web.conftest import Console

pytestmark = pytest.mark.integration


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def test_import_package_then_delete(page: Page, console: Console, tmp_path: Path) -> None:
    expect = _expect()
    package = bundled_model()
    if not package.is_file():
        pytest.skip(f"{package} is not a tarball")
    upload = tmp_path / "imported-car.tar.gz"
    shutil.copyfile(package, upload)

    page.goto("/models/import")
    page.locator("input[type=file]").set_input_files(str(upload))
    page.get_by_role("button", name="Import model").click()
    expect(page.get_by_role("heading", name="imported-car")).to_be_visible()
    expect(page.get_by_text("Ready", exact=True).first).to_be_visible()
    expect(page.get_by_text("imported", exact=True)).to_be_visible()  # the model's source
    expect(page.get_by_role("button", name="Evaluate", exact=True)).to_be_enabled()
    fan = page.get_by_test_id("action-space-fan")
    assert fan.get_by_test_id("action-ray").count() + fan.get_by_test_id("action-space-sector").count() >= 1

    page.get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("cannot be undone")
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("heading", name="imported-car")).to_be_visible()  # nothing deleted
    page.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(page.get_by_role("heading", name="Your models")).to_be_visible()
    expect(page.get_by_test_id("models-table").get_by_role("link", name="imported-car")).to_have_count(0)


def test_upload_route_and_use_it_in_the_wizard(page: Page, console: Console, tmp_path: Path) -> None:
    expect = _expect()
    route = tmp_path / "Bowtie_track.npy"
    shutil.copyfile(shared_path("tracks", "Bowtie_track.npy"), route)

    page.goto("/tracks")
    page.locator("input[type=file]").set_input_files(str(route))
    page.get_by_role("button", name="Upload track").click()
    expect(page.get_by_text(re.compile(r"Track \S*Bowtie\S* added: \d+\.\d\d m long"))).to_be_visible()
    card = page.get_by_test_id("tracks").locator("li", has_text=re.compile("Bowtie"))
    expect(card.get_by_text("Uploaded")).to_be_visible()
    image = card.locator("img")
    expect(image).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())

    # the new track is a choice of the wizard, with its picture
    page.goto("/models/create")
    cards = page.get_by_test_id("track-cards")
    expect(cards.get_by_text(re.compile("Bowtie")).first).to_be_visible()


def test_wizard_sac_continuous_and_examples(page: Page, console: Console) -> None:
    expect = _expect()
    page.goto("/models/create")
    page.get_by_label("Model name", exact=True).fill("sac-model")
    page.get_by_role("button", name="Next", exact=True).click()
    page.get_by_role("button", name="Next", exact=True).click()
    page.get_by_text("SAC", exact=True).click()
    expect(page.get_by_text("SAC alpha (α) value").first).to_be_visible()
    expect(page.get_by_label("SAC alpha (α) value", exact=True)).to_have_value("0.2")
    page.get_by_role("button", name="Next", exact=True).click()
    # SAC trains a continuous action space: discrete is not offered
    expect(page.get_by_role("radio", name=re.compile("Discrete action space"))).to_be_disabled()
    expect(page.get_by_test_id("action-space-sector")).to_be_visible()
    expect(page.get_by_label("Minimum speed", exact=True)).to_have_value("1")
    page.get_by_label("Minimum speed", exact=True).fill("3")  # above the maximum (2)
    page.get_by_role("button", name="Next", exact=True).click()
    expect(page.get_by_text("The maximum speed must be above the minimum.")).to_be_visible()
    page.get_by_label("Minimum speed", exact=True).fill("0.5")
    page.get_by_role("button", name="Next", exact=True).click()
    # DeepRacer's two networks and ours; the first small network only for its models' clones
    expect(page.get_by_text(re.compile("5-layer CNN")).first).to_be_visible()
    expect(page.get_by_text(re.compile("^Small CNN \\(this project")).first).to_be_visible()
    expect(page.get_by_text("Small CNN, first version")).to_have_count(0)
    page.get_by_role("button", name="Next", exact=True).click()
    page.get_by_role("button", name="Reward function examples").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("Time trial - stay inside the two borders")).to_be_visible()
    dialog.get_by_role("button", name="Use code: Time trial - stay inside the two borders").click()
    source = page.evaluate("() => document.querySelector('.ace_editor').env.editor.getValue()")
    assert "all_wheels_on_track" in source
    page.get_by_label("Maximum time", exact=True).fill("0")
    page.get_by_role("button", name="Create model").click()
    expect(page.get_by_text("Must be at least 1.")).to_be_visible()


def test_a_clone_of_a_first_small_network_model_keeps_that_network(page: Page, console: Console) -> None:
    """New models are not offered the first small network (small-v1, legacy); a clone of a model
    trained with it is: the tile is there, chosen, and fixed like the rest of a clone's network."""
    expect = _expect()
    body = {"name": "first-small", "track": "oval", "network": "small-v1", "max_minutes": 1, "max_steps": 200}
    request = urllib.request.Request(f"{console.url}/api/models", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        model_id = json.loads(response.read())["id"]
    page.goto(f"/models/create?clone={model_id}")
    expect(page.get_by_label("Model name", exact=True)).to_have_value("first-small-clone")
    for _ in range(4):
        page.get_by_role("button", name="Next", exact=True).click()
    tile = page.get_by_role("radio", name=re.compile("Small CNN, first version"))
    expect(tile).to_be_checked()
    expect(tile).to_be_disabled()
    expect(page.get_by_role("radio", name=re.compile("^Small CNN \\(this project"))).to_be_disabled()
    folder = os.environ.get("CONSOLE_SCREENSHOTS")  # for a person to look at
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / "wizard-clone-first-small-network.png"), full_page=True)


FAILING_REWARD = """def reward_function(params):
    if params['steps'] > 20:
        raise ValueError('reward broke on purpose')
    return 1.0
"""


def test_failed_model_shows_its_reason(page: Page, console: Console) -> None:
    """A reward function that passes the checks but raises while training: the model fails, and the
    list and the model page say why (the server's reason names the line and the error)."""
    expect = _expect()
    body = {"name": "fails-on-purpose", "track": "oval", "reward_function": FAILING_REWARD,
            "max_minutes": 1, "max_steps": 400}
    request = urllib.request.Request(f"{console.url}/api/models", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        model_id = json.loads(response.read())["id"]

    page.goto("/models")
    row = page.get_by_test_id("models-table").locator("tr", has_text="fails-on-purpose")
    expect(row.get_by_text(re.compile(r"Failed: .*reward broke on purpose"))).to_be_visible(timeout=180_000)
    row.get_by_role("link", name="fails-on-purpose").click()
    expect(page).to_have_url(re.compile(f"/models/{model_id}$"))
    reason = page.get_by_test_id("failure-reason")
    expect(reason).to_contain_text("line 3")
    expect(reason).to_contain_text("ValueError: reward broke on purpose")
    expect(page.get_by_role("button", name="Clone")).to_be_disabled()  # only a ready model is cloned

"""The console's race types in the browser: the wizard's race type step (object avoidance with its
options and the sensors, checked before the next step), the object-avoidance example validated with
objects on the track, the model created with them; the evaluation form's race options."""

from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page

from tests.console_web.conftest import Console

pytestmark = pytest.mark.integration


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def test_wizard_object_avoidance_with_stereo_and_lidar(page: Page, console: Console) -> None:
    expect = _expect()
    page.console_errors.allow(r"/api/models/\d+/live\]")  # 404 until the simulator's first frame
    page.goto("/models/create")
    page.get_by_label("Model name", exact=True).fill("oa-stereo")
    page.get_by_role("button", name="Next", exact=True).click()
    page.get_by_text("Object avoidance", exact=True).click()
    page.get_by_label("Number of objects", exact=True).fill("9")
    page.get_by_role("button", name="Next", exact=True).click()
    expect(page.get_by_text("Enter a whole number from 1 to 6.")).to_be_visible()  # checked before moving on
    page.get_by_label("Number of objects", exact=True).fill("2")
    page.get_by_text("Randomize object locations", exact=False).click()
    page.get_by_text("Stereo camera", exact=True).click()
    page.get_by_text("LiDAR (sectors)", exact=True).click()
    for _ in range(4):
        page.get_by_role("button", name="Next", exact=True).click()
    page.get_by_role("button", name="Reward function examples").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name=re.compile("Use code: Object avoidance")).click()
    page.get_by_role("button", name="Validate").click()
    expect(page.get_by_test_id("reward-validation")).to_contain_text("passed validation", timeout=60_000)
    page.get_by_label("Maximum time", exact=True).fill("1")
    page.get_by_role("button", name="Create model").click()
    expect(page.get_by_role("heading", name="oa-stereo")).to_be_visible()
    models = json.loads(page.request.get("/api/models").text())
    model = json.loads(page.request.get(f"/api/models/{next(m['id'] for m in models if m['name'] == 'oa-stereo')}").text())
    assert model["race_type"] == "object_avoidance" and model["race"] == {"objects": 2, "randomize_objects": True}
    assert model["sensor"] == ["STEREO_CAMERAS", "SECTOR_LIDAR"]
    assert "objects_location" in model["reward_function"]
    # the console's job trains it: an object-avoidance race, the stereo pair and the LiDAR sectors
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        metrics = json.loads(page.request.get(f"/api/models/{model['id']}/metrics").text())
        if metrics["iterations"] or metrics["status"] in ("failed", "ready"):
            break
        time.sleep(2)
    assert metrics["status"] != "failed", json.loads(page.request.get(f"/api/models/{model['id']}").text())
    assert metrics["iterations"], "no training iteration within 240 s"
    package = console.data / "models" / str(model["id"]) / "training" / "model" / "model_metadata.json"
    assert json.loads(package.read_text())["onnx"]["lidar"]["sensor"] == "SECTOR_LIDAR"
    page.get_by_role("button", name="Stop training").click()
    expect(page.get_by_role("button", name="Stop training")).to_have_count(0, timeout=120_000)

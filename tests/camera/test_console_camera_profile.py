"""The console's Create model takes a camera profile: the training inputs record it (so the trainer
renders through it and the package keeps it), the model shows it, a bad name is a 422 naming the field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from deepracer.camera_profile import AWS_SIM, CameraProfile
from deepracer.model.metadata import ModelMetadata


@pytest.fixture
def settings(tmp_path: Path):
    from deepracer_console.settings import Settings

    return Settings(data_dir=tmp_path / "data", max_jobs=1, web_dist=tmp_path / "dist")


@pytest.fixture
def client(settings) -> Iterator:
    from fastapi.testclient import TestClient

    from deepracer_console.app import create_app

    with TestClient(create_app(settings, start_jobs=False)) as c:
        yield c


GOOD = {"name": "wide-or-not", "track": "reinvent2018", "max_minutes": 10}


def test_defaults_list_the_built_in_profiles(client) -> None:
    d = client.get("/api/defaults").json()
    assert d["camera_profile"] == "car"
    assert {p["name"]: p["hfov_deg"] for p in d["camera_profiles"]} == {"aws-sim": 64.7, "car": 120.0}


def test_create_records_the_profile_in_the_training_inputs(client, settings) -> None:
    r = client.post("/api/models", json=GOOD | {"camera_profile": "aws-sim"})
    assert r.status_code == 201, r.text
    m = r.json()
    assert m["camera_profile"] == "aws-sim"
    inputs = settings.models_dir / str(m["id"]) / "inputs" / "model_metadata.json"
    assert CameraProfile.from_dict(json.loads(inputs.read_text())["camera_profile"]) == AWS_SIM
    # the trainer reads that file as the action space: the profile reaches the envs and the package
    assert ModelMetadata.from_file(inputs).camera_profile == AWS_SIM
    plain = client.post("/api/models", json=GOOD | {"name": "plain"}).json()
    assert plain["camera_profile"] == "car"


def test_an_unknown_profile_is_refused_by_field(client) -> None:
    r = client.post("/api/models", json=GOOD | {"camera_profile": "fisheye-200"})
    assert r.status_code == 422
    assert r.json()["field"] == "camera_profile" and "fisheye-200" in r.json()["detail"]

"""The camera profile travels in the model package: record, pack, check, info."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deepracer.camera_profile import AWS_SIM, CAR
from deepracer.cli import main as cli
from deepracer.model.metadata import ModelMetadata
from deepracer.model.package import check_model_package, load_model_package, record_camera_profile
from deepracer.model.reference_net import make_fixed_package
from deepracer.model.tarball import pack_model


@pytest.fixture
def package(tmp_path) -> Path:
    return make_fixed_package(tmp_path / "pkg", [0.1, 0.2, 0.4, 0.2, 0.1])


def test_profile_round_trips_through_record_pack_check_and_info(package, tmp_path, capsys):
    record_camera_profile(package, AWS_SIM)
    tarball = pack_model(package, tmp_path / "pkg.tar.gz")
    assert check_model_package(tarball) == []
    loaded = load_model_package(tarball).metadata.camera_profile
    assert loaded == AWS_SIM  # every field, through JSON and the tarball
    assert cli(["model", "info", str(tarball), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["camera_profile"]["name"] == "aws-sim"
    assert info["camera_profile"]["field_of_view"]["horizontal_deg"] == pytest.approx(64.744, abs=0.01)


def test_package_without_a_profile_still_loads_and_says_so(package):
    pkg = load_model_package(package)
    assert pkg.metadata.camera_profile is None and pkg.describe()["camera_profile"] is None
    assert "camera_profile" not in json.loads((package / "model_metadata.json").read_text())


def test_a_bad_profile_block_is_a_package_problem_naming_the_field(package):
    meta = json.loads((package / "model_metadata.json").read_text())
    meta["camera_profile"] = AWS_SIM.to_dict() | {"intrinsics": {"fx": -5, "fy": 500, "cx": 319.5, "cy": 239.5}}
    (package / "model_metadata.json").write_text(json.dumps(meta))
    problems = check_model_package(package)
    assert len(problems) == 1 and "model_metadata.json" in problems[0]
    assert "camera_profile" in problems[0] and "intrinsics.fx must be positive" in problems[0]


def test_metadata_keeps_deepracer_keys_and_the_profile_side_by_side():
    meta = ModelMetadata.from_dict({"action_space": [{"steering_angle": 0, "speed": 1}],
                                    "camera_profile": CAR.to_dict(), "custom": 1})
    again = ModelMetadata.from_dict(json.loads(json.dumps(meta.to_dict())))
    assert again.camera_profile == CAR and again.extra == {"custom": 1}


def test_model_pack_records_a_profile_and_info_shows_it(package, tmp_path, capsys):
    out = tmp_path / "out.tar.gz"
    assert cli(["model", "pack", str(package), "--camera-profile", "car", "-o", str(out)]) == 0
    assert "recorded camera profile 'car'" in capsys.readouterr().out
    assert cli(["model", "check", str(out)]) == 0
    assert cli(["model", "info", str(out)]) == 0
    assert "camera       'car': plumb_bob 160x120 -> 160x120, HFOV 120.0°" in capsys.readouterr().out
    assert load_model_package(out).metadata.camera_profile == CAR
    assert cli(["model", "pack", str(package), "--camera-profile", "fisheye-thing", "-o", str(out)]) == 2
    assert "unknown camera profile 'fisheye-thing'" in capsys.readouterr().err

"""`deepracer model import` records the camera an AWS-trained model saw: aws-sim unless told otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from deepracer.cli import main
from deepracer.model.package import load_model_package


@pytest.fixture
def fake_import(monkeypatch):
    """The TensorFlow conversion replaced by a package writer (tests/model/test_tf_import* cover the conversion)."""
    from deepracer.model import tf_import
    from deepracer.model.reference_net import make_reference_package

    def convert(source: Any, out: Any, checkpoint: Any = None, force: bool = False) -> dict[str, Any]:
        make_reference_package(Path(out), seed=1)
        return {"package": str(out), "graph": "model.pb", "training_algorithm": "clipped_ppo",
                "action_space_type": "discrete", "sensor": ["FRONT_FACING_CAMERA"], "input_shape": [1, 120, 160, 1],
                "pixels_0_255": True, "policy_width": 5, "check_frames": 1, "max_abs_diff_vs_tensorflow": 0.0,
                "tf2onnx": "-", "tensorflow": "-", "seconds": 0}

    monkeypatch.setattr(tf_import, "import_model", convert)


def test_import_records_aws_sim_by_default(fake_import, tmp_path, capsys):
    assert main(["model", "import", str(tmp_path / "src.tar.gz"), "--out", str(tmp_path / "pkg")]) == 0
    assert "'aws-sim' recorded" in capsys.readouterr().out
    assert load_model_package(tmp_path / "pkg").metadata.camera_profile.name == "aws-sim"


def test_import_camera_profile_override_and_bad_name(fake_import, tmp_path):
    assert main(["model", "import", "x", "--out", str(tmp_path / "pkg"), "--camera-profile", "car"]) == 0
    assert load_model_package(tmp_path / "pkg").metadata.camera_profile.name == "car"
    assert main(["model", "import", "x", "--out", str(tmp_path / "bad"), "--camera-profile", "nope"]) != 0
    assert not (tmp_path / "bad").exists()  # refused before converting

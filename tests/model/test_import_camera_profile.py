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


def test_recording_a_profile_keeps_every_other_key_of_the_metadata(tmp_path):
    """Recording the camera profile rewrites model_metadata.json: the onnx block's own keys
    (an import's `converted_from`) and unknown top-level keys must survive it."""
    import json

    from deepracer.camera_profile import resolve_profile
    from deepracer.model.package import record_camera_profile

    meta = {"action_space": [{"steering_angle": 0, "speed": 1}], "action_space_type": "discrete",
            "sensor": ["FRONT_FACING_CAMERA"], "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
            "training_algorithm": "clipped_ppo", "version": "5", "my_note": "kept",
            "onnx": {"output": {"kind": "probabilities"}, "converted_from": {"policy_tensor": "x/ppo_head_0/policy"}}}
    (tmp_path / "model_metadata.json").write_text(json.dumps(meta))
    (tmp_path / "model.onnx").write_bytes(b"")
    record_camera_profile(tmp_path, resolve_profile("aws-sim"))
    after = json.loads((tmp_path / "model_metadata.json").read_text())
    assert after["onnx"]["converted_from"] == {"policy_tensor": "x/ppo_head_0/policy"}
    assert after["my_note"] == "kept"
    assert after["camera_profile"]["name"] == "aws-sim"

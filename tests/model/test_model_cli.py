"""`deepracer model info|check|predict|pack` as a user runs them."""

from __future__ import annotations

import json

import cv2
import numpy as np

from deepracer.cli import main
from deepracer.model.reference_net import make_brightness_package


def test_info_json_describes_the_package(reference_package, capsys):
    assert main(["model", "info", str(reference_package), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["action_space_type"] == "discrete" and len(info["action_space"]) == 5
    assert info["input"]["tensor_shape"] == [1, 1, 120, 160] and info["output"]["num_outputs"] == 5


def test_info_text_lists_actions(reference_package, capsys):
    assert main(["model", "info", str(reference_package)]) == 0
    out = capsys.readouterr().out
    assert "steering  -30.00 deg" in out and "NCHW [1, 1, 120, 160]" in out


def test_check_ok_and_problems(reference_copy, capsys):
    assert main(["model", "check", str(reference_copy)]) == 0
    assert "OK" in capsys.readouterr().out
    (reference_copy / "model.onnx").write_bytes(b"junk")
    (reference_copy / "model_metadata.json").write_text("{\n,")
    assert main(["model", "check", str(reference_copy)]) != 0
    err = capsys.readouterr().err
    assert "2 problem(s)" in err and "model.onnx" in err and "line 2" in err


def test_info_on_a_broken_package_exits_2_naming_the_file(reference_copy, capsys):
    (reference_copy / "model_metadata.json").unlink()
    assert main(["model", "info", str(reference_copy)]) == 2
    assert "model_metadata.json is missing" in capsys.readouterr().err


def test_predict_reads_an_image_file(tmp_path, capsys):
    pkg = make_brightness_package(tmp_path / "b")
    cv2.imwrite(str(tmp_path / "white.png"), np.full((480, 640, 3), 255, np.uint8))
    assert main(["model", "predict", str(pkg), "--image", str(tmp_path / "white.png"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["steering_angle"] == 30 and result["speed"] == 0.6 and result["index"] == 4
    assert result["inference_ms"] >= 0


def test_predict_with_a_missing_image_is_an_error(reference_package, tmp_path, capsys):
    assert main(["model", "predict", str(reference_package), "--image", str(tmp_path / "nope.png")]) == 2
    assert "nope.png" in capsys.readouterr().err


def test_pack_then_load_the_tarball(reference_package, tmp_path, capsys):
    out = tmp_path / "m.tar.gz"
    assert main(["model", "pack", str(reference_package), "-o", str(out)]) == 0
    assert out.is_file()
    assert main(["model", "check", str(out)]) == 0


def test_predict_repeat_reports_latency_percentiles(tmp_path, capsys):
    pkg = make_brightness_package(tmp_path / "b")
    cv2.imwrite(str(tmp_path / "gray.png"), np.full((120, 160), 128, np.uint8))
    assert main(["model", "predict", str(pkg), "--image", str(tmp_path / "gray.png"), "--repeat", "30", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["runs"] == 30 and result["index"] == 2
    assert 0 < result["inference_ms_p50"] <= result["inference_ms_p99"]

"""Loading and validating model packages: folders, tarballs, DeepRacer's metadata, broken packages."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest

from deepracer.errors import ModelPackageError
from deepracer.model.metadata import InputSpec, ModelMetadata
from deepracer.model.package import check_model_package, load_model_package
from deepracer.model.policy import OnnxPolicy
from deepracer.model.reference_net import (
    build_reference_model,
    make_fixed_package,
    make_reference_package,
)


def _tar(src: Path, out: Path, arcname: str) -> Path:
    with tarfile.open(out, "w:gz") as tar:
        tar.add(src, arcname=arcname)
    return out


def test_reference_package_loads_with_its_onnx_block(reference_package):
    pkg = load_model_package(reference_package)
    assert pkg.name == "reference"
    assert pkg.onnx_path == reference_package / "model.onnx"
    assert pkg.input_spec.shape() == (1, 1, 120, 160)
    assert pkg.input_spec.scale == pytest.approx(1 / 255)
    assert pkg.metadata.action_space_type == "discrete" and pkg.metadata.num_outputs == 5
    assert pkg.output_spec.kind == "probabilities"
    assert check_model_package(reference_package) == []


@pytest.mark.parametrize("arcname", [".", "mymodel"], ids=["files-at-top", "one-top-level-folder"])
def test_tarball_loads_from_top_or_one_folder(reference_package, tmp_path, arcname):
    tgz = _tar(reference_package, tmp_path / "car-model.tar.gz", arcname)
    pkg = load_model_package(tgz)
    assert pkg.name == "car-model"
    assert pkg.onnx_path.is_file() and pkg.onnx_path.parent == pkg.root
    d = OnnxPolicy(pkg).predict(np.zeros((120, 160), np.uint8))
    assert d.index in range(5)


def test_extracted_tarball_is_removed_with_the_package(reference_package, tmp_path):
    import gc

    pkg = load_model_package(_tar(reference_package, tmp_path / "m.tar.gz", "."))
    root = pkg.root
    assert root.is_dir()
    del pkg
    gc.collect()
    assert not root.exists()


@pytest.mark.parametrize("name", ["model_metadata.json", "model_metadata_cont.json", "model_metadata_sac.json"])
def test_deepracer_metadata_files_load_as_they_are(shared, name):
    meta = ModelMetadata.from_file(shared("deepracer-formats", name))
    assert meta.input is None  # DeepRacer's files have no onnx block
    if name == "model_metadata.json":
        assert meta.action_space_type == "discrete"
        assert [(a.steering_angle, a.speed) for a in meta.actions] == [(-30, 0.6), (-15, 0.6), (0, 0.6), (15, 0.6), (30, 0.6)]
    else:
        assert meta.action_space_type == "continuous"
        r = meta.continuous
        assert (r.steering_low, r.steering_high, r.speed_low, r.speed_high) == (-30, 30, 1, 2)
    assert meta.training_algorithm == ("sac" if "sac" in name else "clipped_ppo")


@pytest.mark.parametrize("name", ["model_metadata.json", "model_metadata_cont.json", "model_metadata_sac.json"])
def test_deepracer_metadata_drives_a_package_with_inferred_input(shared, tmp_path, name):
    """DeepRacer's metadata file as it is + a network: the input is inferred from the ONNX shape."""
    import onnx

    src = shared("deepracer-formats", name)
    meta = ModelMetadata.from_file(src)
    pkg_dir = tmp_path / "pkg"
    pkg_dir.mkdir()
    onnx.save(build_reference_model(meta.num_outputs, continuous=meta.action_space_type == "continuous"),
              str(pkg_dir / "model.onnx"))
    shutil.copy(src, pkg_dir / "model_metadata.json")
    pkg = load_model_package(pkg_dir)
    assert pkg.metadata.input is None
    assert pkg.input_spec.shape() == (1, 1, 120, 160)
    assert pkg.input_spec.scale == 1.0  # DeepRacer's networks take raw pixel values
    d = OnnxPolicy(pkg).predict(np.full((120, 160), 90, np.uint8))
    if meta.action_space_type == "continuous":
        assert -30 <= d.steering_angle <= 30 and 1 <= d.speed <= 2 and d.index is None
    else:
        assert d.index in range(5)


def test_trainer_export_block_is_honoured(tmp_path):
    """The onnx block the trainer writes (NCHW 120x160 gray, scale 1/255, probabilities)."""
    meta = ModelMetadata.from_dict({
        "action_space": [{"steering_angle": -20, "speed": 1.0}, {"steering_angle": 20, "speed": 2.0}],
        "action_space_type": "discrete",
        "onnx": {"input": {"layout": "NCHW", "height": 120, "width": 160, "channels": 1,
                           "color_order": "gray", "scale": 1 / 255},
                 "output": {"kind": "probabilities"}},
    })
    make_reference_package(tmp_path / "p", metadata=meta)
    written = json.loads((tmp_path / "p" / "model_metadata.json").read_text())
    assert written["onnx"]["input"]["scale"] == pytest.approx(1 / 255)
    pkg = load_model_package(tmp_path / "p")
    assert pkg.output_spec.kind == "probabilities" and pkg.metadata.num_outputs == 2
    assert OnnxPolicy(pkg).predict(np.zeros((480, 640, 3), np.uint8)).speed in (1.0, 2.0)


def test_missing_files_are_both_reported(tmp_path):
    (tmp_path / "empty").mkdir()
    problems = check_model_package(tmp_path / "empty")
    assert len(problems) == 2
    assert any("model_metadata.json is missing" in p for p in problems)
    assert any("model.onnx is missing" in p for p in problems)
    with pytest.raises(ModelPackageError, match="model.onnx is missing"):
        load_model_package(tmp_path / "empty")


def test_nonexistent_path_is_named(tmp_path):
    with pytest.raises(ModelPackageError, match="not found") as err:
        load_model_package(tmp_path / "nope")
    assert "nope" in str(err.value)


def test_invalid_json_names_file_and_line(reference_copy):
    (reference_copy / "model_metadata.json").write_text('{\n  "action_space": [\n    {"speed": 1,}\n  ]\n}\n')
    [problem] = check_model_package(reference_copy)
    assert "model_metadata.json" in problem and "line 3" in problem


def test_action_space_that_does_not_fit_the_network(reference_copy):
    meta = json.loads((reference_copy / "model_metadata.json").read_text())
    meta["action_space"] = meta["action_space"][:3]
    (reference_copy / "model_metadata.json").write_text(json.dumps(meta))
    [problem] = check_model_package(reference_copy)
    assert "3 discrete actions needs 3 outputs" in problem and "gives 5" in problem


def test_continuous_space_needs_two_outputs(reference_copy):
    meta = json.loads((reference_copy / "model_metadata.json").read_text())
    meta["action_space_type"] = "continuous"
    meta["action_space"] = {"steering_angle": {"low": -30, "high": 30}, "speed": {"low": 1, "high": 2}}
    meta["onnx"]["output"]["kind"] = "continuous"
    (reference_copy / "model_metadata.json").write_text(json.dumps(meta))
    [problem] = check_model_package(reference_copy)
    assert "continuous action space needs 2 outputs" in problem and "gives 5" in problem


def test_input_block_disagreeing_with_the_network(reference_copy):
    meta = json.loads((reference_copy / "model_metadata.json").read_text())
    meta["onnx"]["input"]["width"] = 320
    (reference_copy / "model_metadata.json").write_text(json.dumps(meta))
    [problem] = check_model_package(reference_copy)
    assert "model_metadata.json" in problem and "[1, 1, 120, 320]" in problem and "[1, 1, 120, 160]" in problem


def test_input_that_is_not_4d(tmp_path):
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 19200])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 19200])
    model = helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "flat", [x], [y]),
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    pkg = tmp_path / "flat"
    pkg.mkdir()
    import onnx

    onnx.save(model, str(pkg / "model.onnx"))
    meta = ModelMetadata.from_dict({"action_space": [{"steering_angle": 0, "speed": 1}]})
    meta.write(pkg / "model_metadata.json")
    [problem] = check_model_package(pkg)
    assert "model.onnx" in problem and "4-D" in problem and "[1, 19200]" in problem


def test_onnx_file_onnxruntime_cannot_load(reference_copy):
    (reference_copy / "model.onnx").write_bytes(b"this is not a protobuf")
    [problem] = check_model_package(reference_copy)
    assert "model.onnx" in problem and "onnxruntime cannot load" in problem


def test_every_problem_is_listed_at_once(reference_copy):
    (reference_copy / "model.onnx").write_bytes(b"")
    (reference_copy / "model_metadata.json").write_text("{]")
    problems = check_model_package(reference_copy)
    assert len(problems) == 2


def test_problems_inside_a_tarball_name_the_tarball(reference_copy, tmp_path):
    (reference_copy / "model_metadata.json").write_text("{")
    tgz = _tar(reference_copy, tmp_path / "broken.tar.gz", "broken")
    [problem] = check_model_package(tgz)
    assert str(tmp_path / "broken.tar.gz" / "broken" / "model_metadata.json") in problem


def test_nhwc_network_without_onnx_block_is_inferred(tmp_path):
    """A network taking N,H,W,C (TensorFlow's layout, as DeepRacer's converted models do)."""
    spec = InputSpec(layout="NHWC", height=60, width=80, channels=3, color_order="bgr", scale=1.0, name="obs")
    make_fixed_package(tmp_path / "p", [0, 0, 0, 1, 0], spec=spec)
    meta = json.loads((tmp_path / "p" / "model_metadata.json").read_text())
    del meta["onnx"]
    (tmp_path / "p" / "model_metadata.json").write_text(json.dumps(meta))
    pkg = load_model_package(tmp_path / "p")
    assert pkg.input_spec.layout == "NHWC" and pkg.input_spec.channels == 3
    assert (pkg.input_spec.height, pkg.input_spec.width) == (60, 80)
    assert OnnxPolicy(pkg).predict(np.zeros((120, 160), np.uint8)).steering_angle == 15.0


def test_a_plain_file_is_not_a_package(tmp_path):
    f = tmp_path / "model.onnx"
    f.write_bytes(b"x")
    [problem] = check_model_package(f)
    assert "not a model package" in problem


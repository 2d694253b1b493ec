"""`deepracer model import`: DeepRacer's TensorFlow frozen graphs -> model packages.

The graphs are built here in DeepRacer's layout (rl_coach's tensor names, the shallow CNN
with the /255 inside the graph, softmax or tanh policy heads) and saved as frozen GraphDefs
the way the console's download (`agent/model.pb`) and DeepRacer-for-Cloud (`model_N.pb`)
hold them. TensorFlow comes with `make setup-tf`: without it these tests skip, except under
CI=1, where a missing TensorFlow is a broken install and fails.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from tf_graphs import (
    CAMERA,
    POLICY,
    build_graph,
    console_tarball,
    frames,
    metadata,
    tensorflow_or_skip,
    tf_policy,
)

from deepracer.cli import main

pytestmark = pytest.mark.integration

SHARED_FORMATS = Path(__file__).resolve().parents[2].parent / "shared" / "deepracer-formats"


@pytest.fixture(scope="module")
def tf():
    return tensorflow_or_skip()


def run_import(capsys, *argv: str) -> tuple[int, dict | None, str]:
    code = main(["model", "import", *argv, "--json"])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if code == 0 else None), captured.err


# -- the console's download ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def discrete_import(tf, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("console")
    tarball = console_tarball(tmp, lambda p: build_graph(tf, p, n_out=5, seed=3), metadata())
    out = tmp / "imported"
    assert main(["model", "import", str(tarball), "--out", str(out)]) == 0
    return tarball, out, tmp / "my-model-files" / "agent" / "model.pb"


def test_console_tarball_imports_and_onnx_equals_tensorflow(tf, discrete_import):
    from deepracer.model.package import load_model_package
    from deepracer.model.policy import OnnxPolicy

    _, out, pb = discrete_import
    pkg = load_model_package(out)
    spec = pkg.input_spec
    # described as DeepRacer feeds the graph: NHWC 120x160 gray, raw pixels (the graph divides by 255)
    assert (spec.layout, spec.height, spec.width, spec.channels, spec.color_order) == ("NHWC", 120, 160, 1, "gray")
    assert spec.scale == 1.0 and spec.shape() == (1, 120, 160, 1)
    assert pkg.output_spec.kind == "probabilities" and pkg.metadata.num_outputs == 5
    assert pkg.metadata.actions[4].steering_angle == 30 and pkg.metadata.actions[2].speed == 1.6

    f = frames()
    expected = tf_policy(tf, pb, f)
    policy = OnnxPolicy(pkg)
    got = np.stack([policy.run(frame) for frame in f])
    assert got.shape == expected.shape == (6, 5)
    assert np.max(np.abs(got - expected)) < 1e-5
    assert expected.std(axis=0).max() > 1e-3  # the frames really move the policy: not a constant network
    # the car's decision (argmax) is TensorFlow's, on every frame
    assert [policy.predict(frame).index for frame in f] == list(np.argmax(expected, axis=1))
    # a 640x480 BGR camera frame goes through the same preprocessing and gives a valid action
    bgr = np.dstack([np.kron(f[0], np.ones((4, 4), np.uint8))] * 3)
    assert policy.predict(bgr).index in range(5)


def test_imported_package_passes_model_check_and_records_its_origin(discrete_import, capsys):
    tarball, out, _ = discrete_import
    assert main(["model", "check", str(out)]) == 0
    assert "OK" in capsys.readouterr().out
    data = json.loads((out / "model_metadata.json").read_text())
    origin = data["onnx"]["converted_from"]
    assert origin["graph"] == f"{tarball}/agent/model.pb"
    assert origin["input_tensor"] == CAMERA.format(head="main", sensor="FRONT_FACING_CAMERA")
    assert origin["policy_tensor"] == POLICY.format(head="main")
    assert origin["max_abs_diff_vs_tensorflow"] < 1e-5
    assert sorted(p.name for p in out.iterdir()) == ["model.onnx", "model_metadata.json"]


@pytest.mark.ros
def test_imported_package_drives_deepracer_sim(discrete_import, capsys):
    pytest.importorskip("rclpy")
    _, out, _ = discrete_import
    assert main(["sim", "--model", str(out), "--lock-step", "--max-seconds", "3", "--no-video", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["driver"] == "model" and result["model"] == str(out)
    assert result["steps"] >= 40  # every frame of 3 s at 15 Hz answered by the imported network


def test_inference_runs_through_model_predict(discrete_import, capsys, tmp_path):
    import cv2

    _, out, _ = discrete_import
    image = tmp_path / "cam.png"
    cv2.imwrite(str(image), frames(1, seed=7)[0])
    assert main(["model", "predict", str(out), "--image", str(image), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["index"] in range(5) and len(result["raw"]) == 5
    assert abs(sum(result["raw"]) - 1.0) < 1e-4  # softmax probabilities


# -- DeepRacer-for-Cloud folders, continuous and legacy heads ---------------------------------------


@pytest.mark.parametrize(("sensor", "head", "algorithm"), [
    ("FRONT_FACING_CAMERA", "main", "clipped_ppo"),
    ("observation", "main", "clipped_ppo"),  # the legacy camera name
    ("FRONT_FACING_CAMERA", "policy", "sac"),  # SAC's head
])
def test_drfc_folder_continuous_takes_the_best_checkpoint(tf, tmp_path, capsys, sensor, head, algorithm):
    from deepracer.model.policy import OnnxPolicy

    folder = tmp_path / "model"
    for ckpt, seed in ((3, 30), (7, 70)):
        build_graph(tf, folder / f"model_{ckpt}.pb", continuous=True, sensor=sensor, head=head, dense=64, seed=seed)
    (folder / "model_metadata.json").write_text(json.dumps(metadata(continuous=True, sensor=sensor,
                                                                    algorithm=algorithm)))
    (folder / "deepracer_checkpoints.json").write_text(json.dumps(
        {"best_checkpoint": {"name": "3_Step-4500.ckpt"}, "last_checkpoint": {"name": "7_Step-9800.ckpt"}}))
    code, report, err = run_import(capsys, str(folder), "--out", str(tmp_path / "pkg"))
    assert code == 0, err
    assert report["graph"].endswith("model_3.pb") and report["action_space_type"] == "continuous"
    assert report["policy_width"] == 2 and report["max_abs_diff_vs_tensorflow"] < 1e-5

    f = frames(4)
    expected = tf_policy(tf, folder / "model_3.pb", f, head=head, sensor=sensor)
    policy = OnnxPolicy(str(tmp_path / "pkg"))
    got = np.stack([policy.run(frame) for frame in f])
    assert np.max(np.abs(got - expected)) < 1e-5
    d = policy.predict(f[0])  # decoded onto the metadata's ranges, as the car does
    s, v = np.clip(expected[0], -1, 1)
    assert d.steering_angle == pytest.approx(-30 + (s + 1) * 30, abs=1e-3)
    assert d.speed == pytest.approx(0.5 + (v + 1) * 0.75, abs=1e-4)


def test_drfc_folder_checkpoint_option_and_newest_without_checkpoint_file(tf, tmp_path, capsys):
    folder = tmp_path / "model"
    for ckpt in (2, 11):
        build_graph(tf, folder / f"model_{ckpt}.pb", dense=32, seed=ckpt)
    (folder / "model_metadata.json").write_text(json.dumps(metadata()))
    code, report, err = run_import(capsys, str(folder), "--out", str(tmp_path / "newest"))
    assert code == 0, err
    assert report["graph"].endswith("model_11.pb")
    code, report, err = run_import(capsys, str(folder), "--out", str(tmp_path / "two"), "--checkpoint", "2")
    assert code == 0, err
    assert report["graph"].endswith("model_2.pb")
    assert main(["model", "import", str(folder), "--out", str(tmp_path / "x"), "--checkpoint", "5"]) == 2
    assert "model_5.pb" in capsys.readouterr().err


def test_the_shared_drfc_metadata_files_import_as_they_are(tf, tmp_path, capsys):
    if not SHARED_FORMATS.is_dir():
        if os.environ.get("CI"):  # any non-empty CI (.ci/run sets CI=true)
            pytest.fail(f"{SHARED_FORMATS} is absent under CI=1")
        pytest.skip(f"{SHARED_FORMATS} is absent")
    for name, continuous in (("model_metadata.json", False), ("model_metadata_cont.json", True)):
        meta = json.loads((SHARED_FORMATS / name).read_text())
        n = 2 if continuous else len(meta["action_space"])
        folder = tmp_path / name
        build_graph(tf, folder / "model.pb", n_out=n, continuous=continuous, dense=32)
        shutil.copy(SHARED_FORMATS / name, folder / "model_metadata.json")
        code, report, err = run_import(capsys, str(folder / "model.pb"), "--out", str(tmp_path / f"pkg-{name}"))
        assert code == 0, err
        assert report["policy_width"] == n and report["source_kind"] == "file"


# -- refusals, by name ---------------------------------------------------------------------------


def test_graph_without_deepracer_tensors_is_refused_by_name(tf, tmp_path, capsys):
    tarball = console_tarball(tmp_path, lambda p: build_graph(tf, p, input_name="input_1", dense=16), metadata())
    out = tmp_path / "out"
    assert main(["model", "import", str(tarball), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{tarball}/agent/model.pb" in err
    assert "main_level/agent/main/online/network_0" in err and "input_1" in err  # what was expected, what is there
    assert not out.exists()


def test_graph_without_policy_tensor_is_refused_by_name(tf, tmp_path, capsys):
    pb = build_graph(tf, tmp_path / "m" / "model.pb", output_name="logits_out", dense=16)
    (pb.parent / "model_metadata.json").write_text(json.dumps(metadata()))
    assert main(["model", "import", str(pb), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert str(pb) in err and "ppo_head_0/policy" in err


def test_metadata_that_does_not_fit_the_head_is_refused_by_name(tf, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    tarball = console_tarball(tmp_path, lambda p: build_graph(tf, p, n_out=7, dense=16), metadata())
    assert main(["model", "import", str(tarball), "--out", str(out), "--force"]) == 2
    err = capsys.readouterr().err
    assert f"{tarball}/model_metadata.json" in err and "action_space" in err
    assert "5 discrete actions" in err and "gives 7 values" in err and POLICY.format(head="main") in err
    assert (out / "keep.txt").read_text() == "mine"  # nothing of the refused import was written

    cont = console_tarball(tmp_path, lambda p: build_graph(tf, p, n_out=5, dense=16), metadata(continuous=True),
                           name="cont")
    assert main(["model", "import", str(cont), "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "continuous needs 2 policy values" in err and f"{cont}/model_metadata.json" in err


def test_unsupported_sensor_and_non_graph_files_are_refused(tf, tmp_path, capsys):
    pb = build_graph(tf, tmp_path / "lidar" / "model.pb", dense=16)
    (pb.parent / "model_metadata.json").write_text(json.dumps(metadata() | {"sensor": ["FRONT_FACING_CAMERA",
                                                                                       "LIDAR"]}))
    assert main(["model", "import", str(pb), "--out", str(tmp_path / "o1")]) == 2
    assert "sensor LIDAR is not supported" in capsys.readouterr().err

    junk = tmp_path / "junk" / "model.pb"
    junk.parent.mkdir()
    junk.write_bytes(b"\x00\xffnot a protobuf at all" * 10)
    (junk.parent / "model_metadata.json").write_text(json.dumps(metadata()))
    assert main(["model", "import", str(junk), "--out", str(tmp_path / "o2")]) == 2
    err = capsys.readouterr().err
    assert str(junk) in err and "GraphDef" in err


def test_existing_output_is_kept_and_missing_pieces_are_named(tf, tmp_path, capsys):
    folder = tmp_path / "model"
    build_graph(tf, folder / "model.pb", dense=16)
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.onnx").write_text("an earlier import")
    assert main(["model", "import", str(folder), "--out", str(out)]) == 2
    assert "exists and is not empty" in capsys.readouterr().err
    assert (out / "model.onnx").read_text() == "an earlier import"
    assert main(["model", "import", str(folder), "--out", str(tmp_path / "o")]) == 2  # no metadata
    assert "model_metadata.json is missing" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["model", "import", str(empty), "--out", str(tmp_path / "o")]) == 2
    assert "no frozen graph found" in capsys.readouterr().err


def test_without_tensorflow_the_error_says_how_to_get_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DEEPRACER_TF_PYTHON", str(tmp_path / "no-such-python"))
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.pb").write_bytes(b"x")
    (folder / "model_metadata.json").write_text(json.dumps(metadata()))
    assert main(["model", "import", str(folder), "--out", str(tmp_path / "o")]) == 2
    assert "DEEPRACER_TF_PYTHON" in capsys.readouterr().err

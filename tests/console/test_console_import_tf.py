"""The console's Import model takes DeepRacer's TensorFlow models (the physical-car download,
DeepRacer-for-Cloud model folders): `deepracer model import` converts them in a sandboxed process.

The graphs are built in DeepRacer's layout by tests/tf_graphs.py (as tests/model/test_tf_import.py
builds them). Without TensorFlow (`make setup-tf`) these skip, except under CI=1, where they fail.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from tf_graphs import build_graph, console_tarball, metadata, tensorflow_or_skip

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tf():
    return tensorflow_or_skip()


def test_physical_car_download_imports_as_a_ready_model_whose_package_passes_check(tf, client, tmp_path: Path):
    tarball = console_tarball(tmp_path, lambda p: build_graph(tf, p, n_out=5, dense=32, seed=3), metadata(),
                              name="aws-car-model")
    r = client.post("/api/models/import", files={"file": (tarball.name, tarball.read_bytes())})
    assert r.status_code == 201, r.text
    body = r.json()
    model = body["model"]
    assert body["layout"] == "deepracer_on_aws" and body["kind"] == "package"
    assert model["status"] == "ready" and model["source"] == "imported" and model["has_package"]
    assert model["name"] == "aws-car-model" and model["action_space_type"] == "discrete"
    assert [a["steering_angle"] for a in model["action_space"]] == [-30, -15, 0, 15, 30]

    package = client.get(f"/api/models/{model['id']}/package")
    assert package.status_code == 200
    out = tmp_path / "downloaded.tar.gz"
    out.write_bytes(package.content)
    check = subprocess.run([sys.executable, "-m", "deepracer.cli", "model", "check", str(out)],
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stderr
    with tarfile.open(out) as tar:
        names = tar.getnames()
        meta = json.loads(tar.extractfile(next(n for n in names if n.endswith("model_metadata.json"))).read())
    assert not any(n.endswith(".pb") for n in names)  # the ONNX package, not the TensorFlow graph
    assert meta["sensor"] == ["FRONT_FACING_CAMERA"]
    assert meta["onnx"]["converted_from"]["policy_tensor"].endswith("ppo_head_0/policy")


def test_drfc_folder_takes_track_reward_and_hyperparameters(tf, client, tmp_path: Path):
    root = tmp_path / "rl-deepracer-sagemaker"
    build_graph(tf, root / "model" / "model_4.pb", continuous=True, dense=32, seed=4)
    (root / "model" / "model_metadata.json").write_text(json.dumps(metadata(continuous=True)))
    (root / "model" / "deepracer_checkpoints.json").write_text(json.dumps(
        {"best_checkpoint": {"name": "4_Step-100.ckpt"}, "last_checkpoint": {"name": "4_Step-100.ckpt"}}))
    (root / "reward_function.py").write_text("def reward_function(params):\n    return 1.0\n")
    (root / "ip").mkdir()
    (root / "ip" / "hyperparameters.json").write_text(json.dumps({"batch_size": 64, "lr": 0.0003}))
    (root / "training_params.yaml").write_text('WORLD_NAME: "reinvent2018_cw"\nRACE_TYPE: "TIME_TRIAL"\n')
    tarball = tmp_path / "drfc.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(root, root.name)
    r = client.post("/api/models/import", files={"file": (tarball.name, tarball.read_bytes())})
    assert r.status_code == 201, r.text
    body = r.json()
    model = body["model"]
    assert body["layout"] == "drfc" and body["kind"] == "training_folder" and model["status"] == "ready"
    assert model["action_space_type"] == "continuous"
    assert model["track"] == "reinvent2018" and model["direction"] == "clockwise"
    detail = client.get(f"/api/models/{model['id']}").json()
    assert detail["hyperparameters"]["batch_size"] == 64 and "return 1.0" in detail["reward_function"]


def test_graph_without_deepracer_tensors_is_refused_by_name_and_nothing_kept(tf, client, settings, tmp_path: Path):
    tarball = console_tarball(tmp_path, lambda p: build_graph(tf, p, input_name="input_1", dense=16), metadata(),
                              name="keras-export")
    r = client.post("/api/models/import", files={"file": (tarball.name, tarball.read_bytes())})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert "keras-export.tar.gz" in detail and "TensorFlow" in detail
    assert "main_level/agent/main/online/network_0" in detail and "input_1" in detail  # wanted, and what is there
    assert client.get("/api/models").json() == []
    assert list((settings.data_dir / "uploads").iterdir()) == []


def test_without_tensorflow_the_refusal_names_the_extra(client, tmp_path: Path, monkeypatch):
    from deepracer.model import tf_import

    monkeypatch.delenv(tf_import.TF_PYTHON_ENV, raising=False)
    real = tf_import.importlib.util.find_spec
    monkeypatch.setattr(tf_import.importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorflow" else real(name, *a))
    folder = tmp_path / "m"
    (folder / "agent").mkdir(parents=True)
    (folder / "agent" / "model.pb").write_bytes(b"x")
    (folder / "model_metadata.json").write_text(json.dumps(metadata()))
    tarball = tmp_path / "car.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(folder, "car")
    r = client.post("/api/models/import", files={"file": (tarball.name, tarball.read_bytes())})
    assert r.status_code == 422 and "make setup-tf" in r.json()["detail"] and "tf-import" in r.json()["detail"]
    assert client.get("/api/models").json() == []

"""The console's JSON API on a temporary data folder: fields checked and named, nothing saved
half-way, uploads refused with the reason, pages served (TestClient; no job runs here)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
from conftest import BUNDLED_MODEL

GOOD = {"name": "my-model", "track": "reinvent2018", "max_minutes": 10}


def test_health_and_openapi(client) -> None:
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and health["database"] == "sqlite"
    spec = client.get("/api/openapi.json").json()
    for path in ("/api/health", "/api/tracks", "/api/models", "/api/models/{model_id}", "/api/models/{model_id}/metrics",
                 "/api/models/{model_id}/stop", "/api/models/{model_id}/evaluations", "/api/evaluations/{evaluation_id}",
                 "/api/models/{model_id}/package", "/api/models/import", "/api/reward/validate",
                 "/api/models/{model_id}/live", "/api/models/{model_id}/report", "/api/defaults"):
        assert path in spec["paths"], path
    docs = client.get("/api/docs").text
    assert "openapi.json" in docs and "cdn" not in docs.lower() and "https://" not in docs


def test_database_is_migrated(client, settings) -> None:
    import sqlite3

    with sqlite3.connect(settings.data_dir / "console.db") as db:
        from alembic.script import ScriptDirectory

        from deepracer_console.db import MIGRATIONS_DIR

        head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
        assert db.execute("select version_num from alembic_version").fetchone() == (head,)


def test_defaults_are_deepracers(client) -> None:
    d = client.get("/api/defaults").json()
    assert d["hyperparameters"]["ppo"] == {"batch_size": 64, "num_epochs": 10, "lr": 0.0003, "beta_entropy": 0.01,
                                           "discount_factor": 0.99, "loss_type": "huber",
                                           "num_episodes_between_training": 20, "exploration_type": "categorical"}
    assert d["hyperparameters"]["sac"]["sac_alpha"] == 0.2
    assert d["max_minutes"]["default"] == 10 and d["max_minutes"]["max"] == 1440
    speeds = sorted({a["speed"] for a in d["discrete_default"]})
    assert len(d["discrete_default"]) == 10 and speeds == [0.5, 1.0]  # the console's default preset
    assert d["continuous"]["default"] == {"steering_angle": {"low": -10.0, "high": 10.0},
                                          "speed": {"low": 1.0, "high": 2.0}}
    assert "time_trial" in d["race_types"]
    examples = {e["name"]: e["source"] for e in d["reward_examples"]}
    assert "def reward_function(params)" in examples[d["reward_example"]]


def test_tracks_with_pictures(client) -> None:
    tracks = client.get("/api/tracks").json()
    names = [t["name"] for t in tracks]
    assert "reinvent2018" in names
    t = tracks[0]
    assert t["length_m"] > 5 and 0.3 < t["width_m"] < 2 and t["directions"] == ["counterclockwise", "clockwise"]
    png = client.get(t["image_url"])
    assert png.status_code == 200 and png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"
    assert client.get("/api/tracks/nope/image").status_code == 404


def test_upload_route(client, tmp_path: Path) -> None:
    from deepracer.sim import load_track

    buf = io.BytesIO()
    np.save(buf, load_track("oval").to_route() * 1.5)
    r = client.post("/api/tracks", files={"file": ("big-oval.npy", buf.getvalue())})
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "big-oval"
    assert "big-oval" in [t["name"] for t in client.get("/api/tracks").json()]
    bad = client.post("/api/tracks", files={"file": ("broken.npy", b"not numpy at all")})
    assert bad.status_code == 422 and "broken.npy" in bad.json()["detail"] and bad.json()["field"] == "file"
    buf = io.BytesIO()
    np.save(buf, np.zeros((10, 3)))
    bad = client.post("/api/tracks", files={"file": ("narrow.npy", buf.getvalue())})
    assert bad.status_code == 422 and "narrow.npy" in bad.json()["detail"]
    assert "narrow" not in [t["name"] for t in client.get("/api/tracks").json()]


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"name": "has space"}, "name", "letters, digits"),
    ({"name": "x" * 65}, "name", "1-64"),
    ({"description": "semi;colon"}, "description", "description"),
    ({"track": "atlantis"}, "track", "unknown track"),
    ({"direction": "sideways"}, "direction", "counterclockwise"),
    ({"race_type": "demolition_derby"}, "race_type", "not available"),
    ({"algorithm": "dqn"}, "algorithm", "PPO or SAC"),
    ({"network": "resnet"}, "network", "shallow, deep, small"),
    ({"hyperparameters": {"lr": 0.5}}, "hyperparameters.lr", "between"),
    ({"hyperparameters": {"batch_size": 100}}, "hyperparameters.batch_size", "one of"),
    ({"hyperparameters": {"num_epochs": 2}}, "hyperparameters.num_epochs", "between"),
    ({"hyperparameters": {"warp": 9}}, "hyperparameters.warp", "unknown hyperparameter"),
    ({"action_space": [{"steering_angle": 0, "speed": 1}]}, "action_space", "2-30 actions"),
    ({"action_space": [{"steering_angle": 0, "speed": 1}, {"steering_angle": 45, "speed": 1}]},
     "action_space[1].steering_angle", "between -30 and 30"),
    ({"action_space": {"steering_angle": {"low": 10, "high": -10}, "speed": {"low": 1, "high": 2}}},
     "action_space.steering_angle.low", "between -30 and 0"),
    ({"algorithm": "sac", "action_space": [{"steering_angle": 0, "speed": 1}, {"steering_angle": 9, "speed": 1}]},
     "action_space_type", "continuous"),
    ({"algorithm": "sac", "action_space": {"steering_angle": {"low": -10, "high": 10}, "speed": {"low": 1, "high": 2}},
      "hyperparameters": {"num_episodes_between_training": 20}}, "hyperparameters.num_episodes_between_training",
     "must be 1"),
    ({"reward_function": "  "}, "reward_function", "empty"),
    ({"reward_function": "x" * 140_001}, "reward_function", "140000"),
    ({"max_minutes": 2000}, "max_minutes", "between"),
    ({"max_minutes": 0}, "max_minutes", "between"),
    ({"max_steps": 5}, "max_steps", "at least 100"),
    ({"colour": "red"}, "colour", "unknown field"),
    ({"max_minutes": "ten"}, "max_minutes", "integer"),
    ({"clone_of": 99}, "id", "no model 99"),
])
def test_bad_fields_are_named_and_nothing_is_saved(client, settings, change, field, words) -> None:
    r = client.post("/api/models", json=GOOD | change)
    assert r.status_code in (404, 422), r.text
    body = r.json()
    assert body["field"] == field, body
    assert words.lower() in body["detail"].lower(), body
    assert client.get("/api/models").json() == []
    assert not any(settings.models_dir.iterdir())


def test_not_json_is_refused(client) -> None:
    r = client.post("/api/models", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and "JSON" in r.json()["detail"]


def test_create_stores_the_inputs_and_queues(client, settings) -> None:
    r = client.post("/api/models", json=GOOD | {"description": "first try", "direction": "clockwise"})
    assert r.status_code == 201, r.text
    m = r.json()
    assert m["status"] == "queued" and m["direction"] == "clockwise" and m["action_space_type"] == "discrete"
    assert m["hyperparameters"]["lr"] == 0.0003 and "follow" in m["reward_function"].lower()
    inputs = settings.models_dir / str(m["id"]) / "inputs"
    meta = json.loads((inputs / "model_metadata.json").read_text())
    assert len(meta["action_space"]) == 10 and meta["training_algorithm"] == "clipped_ppo"
    assert json.loads((inputs / "hyperparameters.json").read_text())["num_episodes_between_training"] == 20
    assert (inputs / "reward_function.py").read_text() == m["reward_function"]
    again = client.post("/api/models", json=GOOD)
    assert again.status_code == 409 and again.json()["field"] == "name"
    assert client.get(f"/api/models/{m['id']}").json()["name"] == "my-model"
    metrics = client.get(f"/api/models/{m['id']}/metrics").json()
    assert metrics["iterations"] == [] and metrics["status"] == "queued"
    assert client.get(f"/api/models/{m['id']}/live").status_code == 404
    assert client.get(f"/api/models/{m['id']}/package").status_code == 404
    assert client.post(f"/api/models/{m['id']}/evaluations", json={}).status_code == 409


def test_continuous_sac_and_explicit_actions(client) -> None:
    sac = client.post("/api/models", json=GOOD | {"name": "sac-one", "algorithm": "SAC", "action_space": {
        "steering_angle": {"low": -20, "high": 20}, "speed": {"low": 0.5, "high": 3}}})
    assert sac.status_code == 201, sac.text
    assert sac.json()["hyperparameters"]["num_episodes_between_training"] == 1
    assert sac.json()["hyperparameters"]["loss_type"] == "mean squared error"
    rows = [{"steering_angle": s, "speed": 1.5} for s in (-20, 0, 20)]
    r = client.post("/api/models", json=GOOD | {"name": "three", "action_space": rows})
    assert r.status_code == 201 and [a["steering_angle"] for a in r.json()["action_space"]] == [-20, 0, 20]


def test_the_three_networks(client) -> None:
    networks = {n["name"]: n for n in client.get("/api/defaults").json()["networks"]}
    assert networks["shallow"]["label"].startswith("3-layer") and networks["deep"]["label"].startswith("5-layer")
    # the first small network is there for its models' clones; the page offers it to them only
    assert [name for name, n in networks.items() if n.get("legacy")] == ["small-v1"]
    for name in networks:
        r = client.post("/api/models", json=GOOD | {"name": f"net-{name}", "network": name})
        assert r.status_code == 201 and r.json()["network"] == name


def test_list_sorts_and_filters(client) -> None:
    for name, track in (("b-model", "oval"), ("a-model", "hairpins"), ("c-model", "oval")):
        assert client.post("/api/models", json={"name": name, "track": track}).status_code == 201
    names = [m["name"] for m in client.get("/api/models", params={"sort": "name", "order": "asc"}).json()]
    assert names == ["a-model", "b-model", "c-model"]
    assert [m["name"] for m in client.get("/api/models").json()] == ["c-model", "a-model", "b-model"]  # newest first
    assert {m["name"] for m in client.get("/api/models", params={"q": "oval"}).json()} == {"b-model", "c-model"}
    assert len(client.get("/api/models", params={"status": "queued"}).json()) == 3
    assert client.get("/api/models", params={"status": "ready"}).json() == []
    assert client.get("/api/models", params={"sort": "colour"}).json()["field"] == "sort"


def test_delete(client, settings) -> None:
    m = client.post("/api/models", json=GOOD).json()
    assert client.delete(f"/api/models/{m['id']}").status_code == 204
    assert client.get(f"/api/models/{m['id']}").status_code == 404
    assert not (settings.models_dir / str(m["id"])).exists()


# -- import -------------------------------------------------------------------------------------------


def _tar(path: Path, members: list[tuple[str, str, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, kind, data in members:
            info = tarfile.TarInfo(name)
            if kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize(("members", "words"), [
    ([("../../escaped.txt", "file", b"x")], "outside the archive"),
    ([("model/model.onnx", "symlink", b"")], "link"),
    ([("/tmp/deepracer-console-absolute.txt", "file", b"x")], "absolute path"),
    ([("model/agent/model.pb", "file", b"x"), ("model/model_metadata.json", "file", b"{}")], "TensorFlow"),
    ([("readme.txt", "file", b"hello")], "neither a model package"),
    ([("model.onnx", "file", b"garbage"), ("model_metadata.json", "file",
                                            b'{"action_space": [{"steering_angle": 0, "speed": 1}]}')], "onnx"),
])
def test_malicious_or_bad_imports_are_refused(client, settings, tmp_path: Path, members, words) -> None:
    upload = _tar(tmp_path / "upload.tar.gz", members)
    r = client.post("/api/models/import", files={"file": ("upload.tar.gz", upload.read_bytes())})
    assert r.status_code == 422, r.text
    assert words.lower() in r.json()["detail"].lower() and "upload.tar.gz" in r.json()["detail"]
    assert client.get("/api/models").json() == []
    assert list((settings.data_dir / "uploads").iterdir()) == []  # nothing kept
    assert not (tmp_path.parent / "escaped.txt").exists() and not Path("/tmp/deepracer-console-absolute.txt").exists()


def test_oversized_upload_is_refused(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from deepracer_console.app import create_app
    from deepracer_console.settings import Settings

    settings = Settings(data_dir=tmp_path / "data", upload_limit_bytes=1024, web_dist=tmp_path / "dist")
    with TestClient(create_app(settings, start_jobs=False)) as client:
        r = client.post("/api/models/import", files={"file": ("big.tar.gz", b"\0" * 5000)})
        assert r.status_code == 413 and "limit" in r.json()["detail"]
        assert list((settings.data_dir / "uploads").iterdir()) == []


def test_import_package_and_download_it(client, tmp_path: Path) -> None:
    r = client.post("/api/models/import", files={"file": ("deepracer-default.tar.gz", BUNDLED_MODEL.read_bytes())})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["kind"] == "package" and body["model"]["status"] == "ready" and body["model"]["has_package"]
    assert body["model"]["name"] == "deepracer-default"
    again = client.post("/api/models/import", files={"file": ("deepracer-default.tar.gz", BUNDLED_MODEL.read_bytes())})
    assert again.json()["model"]["name"] == "deepracer-default-2"
    package = client.get(f"/api/models/{body['model']['id']}/package")
    assert package.status_code == 200
    out = tmp_path / "downloaded.tar.gz"
    out.write_bytes(package.content)
    check = subprocess.run([sys.executable, "-m", "deepracer.cli", "model", "check", str(out)],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    clone = client.post("/api/models", json=GOOD | {"clone_of": body["model"]["id"]})
    assert clone.status_code == 422 and clone.json()["field"] == "clone_of"


# -- reward validation ---------------------------------------------------------------------------------


def test_validate_good_reward(client) -> None:
    source = client.get("/api/defaults").json()["reward_examples"][0]["source"]
    r = client.post("/api/reward/validate", json={"reward_function": source, "track": "oval"}).json()
    assert r["ok"] and r["error"] is None and len(r["situations"]) > 10


@pytest.mark.parametrize(("source", "line", "words"), [
    ("def reward_function(params):\n    return params[\n", 2, "syntax error"),
    ("import os\ndef reward_function(params):\n    return 1.0\n", 1, "import of 'os'"),
    ("def reward_function(params):\n    open('/etc/passwd')\n    return 1.0\n", 2, "open()"),
    ("def reward_function(params):\n    x = 1\n    return params['no_such_key']\n", 3, "KeyError"),
    ("def reward_function(params):\n    return 'fast'\n", 2, "not a number"),
    ("def reward(params):\n    return 1.0\n", None, "no function named reward_function"),
])
def test_validate_shows_the_error_and_its_line(client, source, line, words) -> None:
    r = client.post("/api/reward/validate", json={"reward_function": source}).json()
    assert not r["ok"] and words in r["error"], r
    assert r["line"] == line
    assert "/tmp" not in r["error"]  # the server's temporary path is not shown


def test_validate_reward_that_never_returns(client) -> None:
    source = "def reward_function(params):\n    while True:\n        pass\n"
    r = client.post("/api/reward/validate", json={"reward_function": source}).json()
    assert not r["ok"] and "did not return within 5 s" in r["error"] and r["line"] == 2


# -- pages ---------------------------------------------------------------------------------------------


def test_pages_when_not_built(client) -> None:
    r = client.get("/")
    assert r.status_code == 200 and "make console-web" in r.text


def test_pages_and_spa_fallback(settings) -> None:
    from fastapi.testclient import TestClient

    from deepracer_console.app import create_app

    dist = settings.dist_dir
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<html><body>console page</body></html>")
    (dist / "assets" / "app.js").write_text("console.log('hi')")
    with TestClient(create_app(settings, start_jobs=False)) as client:
        assert "console page" in client.get("/").text
        assert "console page" in client.get("/models/12").text  # the page's own router takes it
        js = client.get("/assets/app.js")
        assert js.status_code == 200 and "immutable" in js.headers["cache-control"]
        assert client.get("/assets/missing.js").status_code == 404
        assert client.get("/api/nope").status_code == 404 and client.get("/api/nope").json()["field"] == "path"
        assert client.get("/../../etc/passwd").status_code in (200, 404)
        assert "root:" not in client.get("/..%2f..%2fetc/passwd").text


# -- security ------------------------------------------------------------------------------------------


def test_other_addresses_are_refused_until_accounts_exist(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "deepracer.cli", "console", "--host", "0.0.0.0", "--data",
                        str(tmp_path / "d")], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "accounts" in r.stderr and "127.0.0.1" in r.stderr
    assert not (tmp_path / "d").exists()  # refused before anything was written


def test_loopback_addresses_pass() -> None:
    from deepracer_console.server import check_host

    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        check_host(host)

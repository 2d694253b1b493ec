"""The console's race types: the wizard's and the evaluation form's race options and sensors are
checked field by field, stored, and handed to `deepracer train` / `deepracer evaluate`; the
object-avoidance example reward validates with the objects on the track (TestClient; no job runs)."""

from __future__ import annotations

import json

import pytest

GOOD = {"name": "oa-model", "track": "reinvent2018", "max_minutes": 10}
OA = GOOD | {"race_type": "object_avoidance",
             "race": {"objects": 2, "randomize_objects": True, "object_positions": [[20, "inner"], [50, "outer"]]},
             "sensor": ["STEREO_CAMERAS", "SECTOR_LIDAR"]}


def test_an_object_avoidance_model_trains_with_its_options_and_sensors(client, settings) -> None:
    r = client.post("/api/models", json=OA)
    assert r.status_code == 201, r.text
    m = r.json()
    assert m["race_type"] == "object_avoidance" and m["sensor"] == ["STEREO_CAMERAS", "SECTOR_LIDAR"]
    assert m["race"] == {"objects": 2, "object_positions": [[20.0, "inner"], [50.0, "outer"]],
                         "randomize_objects": True}
    inputs = settings.models_dir / str(m["id"]) / "inputs"
    assert json.loads((inputs / "model_metadata.json").read_text())["sensor"] == ["STEREO_CAMERAS", "SECTOR_LIDAR"]
    console = client.app.state.console
    from deepracer_console.db import Model

    with console.sessions() as db:
        argv = console.runner.train_argv(db.get(Model, m["id"]), resume=False)
    tail = argv[argv.index("--race-type"):]
    assert tail[:9] == ["--race-type", "object_avoidance", "--objects", "2", "--object-positions", "20,inner;50,outer",
                        "--randomize-objects", "--steps" if "--steps" in tail else "--minutes", tail[8]]
    # the command line is one `deepracer train` takes
    import argparse

    from deepracer.commands import train
    from deepracer.commands._race_args import race_config_from_args

    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    race = race_config_from_args(parser.parse_args(argv[argv.index("train") + 1:]))
    assert race.obstacles.randomize and [lane for _, lane in race.obstacles.positions] == [1, -1]


def test_a_head_to_bot_evaluation_gets_its_options(client, settings) -> None:
    m = client.post("/api/models", json=GOOD).json()
    package = client.app.state.console.storage.package_dir(m["id"])
    package.mkdir(parents=True, exist_ok=True)
    (package / "model.onnx").write_bytes(b"onnx")  # enough for the form; no job runs here
    body = {"race_type": "head_to_bot", "trials": 3,
            "race": {"bots": 2, "bot_speed": 0.6, "bot_lane_change": True, "lane_change_min_s": 2,
                     "lane_change_max_s": 4, "collision_penalty_s": 3}}
    r = client.post(f"/api/models/{m['id']}/evaluations", json=body)
    assert r.status_code == 201, r.text
    e = r.json()
    assert e["race"]["bots"] == 2 and e["race"]["collision_penalty_s"] == 3
    console = client.app.state.console
    from deepracer_console.db import Evaluation

    with console.sessions() as db:
        argv = console.runner.evaluate_argv(db.get(Evaluation, e["id"]))
    joined = " ".join(argv)
    assert ("--race-type head_to_bot --bots 2 --bot-speed 0.6 --bot-lane-change-min 2 --bot-lane-change-max 4 "
            "--bot-lane-change --collision-penalty 3") in joined
    assert client.get(f"/api/models/{m['id']}/evaluations").json()[0]["race"] == e["race"]


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"race": {"objects": 9}}, "race.objects", "1-6"),
    ({"race": {"bots": 2}}, "race.bots", "not an option of a object_avoidance race"),
    ({"race": {"object_positions": [[3, "inner"]]}}, "race.object_positions[0]", "7-90"),
    ({"race": {"object_positions": [[20, "inner"], [25, "outer"]]}}, "race.object_positions", "13 % apart"),
    ({"race": {"object_positions": [[20, "middle"]]}}, "race.object_positions[0]", "inner or outer"),
    ({"race": {"teleport": True}}, "race.teleport", "unknown field"),
    ({"sensor": ["FRONT_FACING_CAMERA", "STEREO_CAMERAS"]}, "sensor", "exactly one camera"),
    ({"sensor": ["RADAR"]}, "sensor", "not one of"),
    ({"sensor": ["FRONT_FACING_CAMERA", "LIDAR"], "hyperparameters": {"stack_size": 3}},
     "hyperparameters.stack_size", "front camera alone"),
])
def test_bad_race_options_and_sensors_are_named_and_nothing_is_saved(client, settings, change, field, words) -> None:
    r = client.post("/api/models", json=GOOD | {"race_type": "object_avoidance"} | change)
    assert r.status_code == 422, r.text
    body = r.json()
    assert field in (body.get("field") or "") or field in body["detail"], body
    assert words.lower() in body["detail"].lower(), body
    assert client.get("/api/models").json() == []


def test_a_clone_keeps_its_models_sensors(client) -> None:
    from deepracer_console.db import Model

    source = client.post("/api/models", json=OA).json()
    console = client.app.state.console
    with console.sessions.begin() as db:
        db.get(Model, source["id"]).status = "ready"
    best = console.storage.training_dir(source["id"]) / "checkpoints" / "best.zip"
    best.parent.mkdir(parents=True, exist_ok=True)
    best.write_bytes(b"checkpoint")
    other = client.post("/api/models", json=GOOD | {"name": "clone-a", "clone_of": source["id"],
                                                     "sensor": ["FRONT_FACING_CAMERA"]})
    assert other.status_code == 422 and other.json()["field"] == "sensor"
    clone = client.post("/api/models", json=GOOD | {"name": "clone-b", "clone_of": source["id"]})
    assert clone.status_code == 201, clone.text
    assert clone.json()["sensor"] == ["STEREO_CAMERAS", "SECTOR_LIDAR"]


def test_the_object_avoidance_example_validates_with_objects_on_the_track(client) -> None:
    examples = {e["name"]: e["source"] for e in client.get("/api/defaults").json()["reward_examples"]}
    source = examples["object_avoidance"]
    time_trial = client.post("/api/reward/validate", json={"reward_function": source, "track": "oval"}).json()
    assert not time_trial["ok"] and "IndexError" in time_trial["error"]  # no objects in a time trial, as DeepRacer
    r = client.post("/api/reward/validate", json={"reward_function": source, "track": "oval",
                                                  "race_type": "object_avoidance"}).json()
    assert r["ok"], r

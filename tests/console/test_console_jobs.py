"""The console as a new user meets it: a real `deepracer console` process on a free localhost
port trains, shows the graph and the live view, stops, evaluates, packs, clones, resumes after
a restart, and fails a job whose reward never returns with the reason. Training is kept tiny
(max_steps, 5 episodes per iteration)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ConsoleProcess, wait_for

pytestmark = pytest.mark.integration

QUICK = {"track": "oval", "max_minutes": 5, "hyperparameters": {"num_episodes_between_training": 5}}


def status(api, model_id: int) -> str:
    return api.get(f"/api/models/{model_id}").json()["status"]


def test_create_train_watch_stop_evaluate_download_clone(console_process: ConsoleProcess, tmp_path: Path) -> None:
    console_process.start()
    api = console_process.api()
    r = api.post("/api/models", json=QUICK | {"name": "first-model"})  # the default reward function
    assert r.status_code == 201, r.text
    model = r.json()
    assert model["status"] == "queued"

    # the graph gains points while it trains, the live view shows frames
    wait_for(lambda: status(api, model["id"]) == "training", 120, "training to start")
    wait_for(lambda: len(api.get(f"/api/models/{model['id']}/metrics").json()["iterations"]) >= 2, 240,
             "two iterations in the training graph")
    point = api.get(f"/api/models/{model['id']}/metrics").json()["iterations"][0]
    assert point["episodes"] == 5 and point["evaluation_progress"] is not None and point["average_progress"] > 0

    def frame() -> bytes | None:
        r = api.get(f"/api/models/{model['id']}/live")
        return r.content if r.status_code == 200 else None

    jpeg = wait_for(frame, 60, "a live frame")
    assert jpeg[:3] == b"\xff\xd8\xff" and r.status_code
    import cv2
    import numpy as np

    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape[0] == 240 and 300 < image.shape[1] < 1200  # camera beside the top-down view

    # Stop training: clean, the best model kept
    assert api.post(f"/api/models/{model['id']}/stop").json()["status"] == "stopping"
    wait_for(lambda: status(api, model["id"]) in ("ready", "failed"), 120, "the stop")
    detail = api.get(f"/api/models/{model['id']}").json()
    assert detail["status"] == "ready", detail["failure_reason"]
    assert detail["has_package"] and detail["best_progress"] is not None and detail["trained_seconds"] > 0
    assert "stopped_because" in api.get(f"/api/models/{model['id']}/logs").text

    # Evaluate: results table with a lap time, and a video
    r = api.post(f"/api/models/{model['id']}/evaluations", json={"trials": 3, "off_track_penalty_s": 1.0})
    assert r.status_code == 201, r.text
    ev = r.json()

    def evaluated() -> dict | None:
        e = api.get(f"/api/evaluations/{ev['id']}").json()
        return e if e["status"] in ("completed", "failed") else None

    e = wait_for(evaluated, 400, "the evaluation")
    assert e["status"] == "completed", e["failure_reason"]
    assert [t["trial"] for t in e["trials"]] == [1, 2, 3]
    assert all({"lap_time_s", "progress", "off_track", "status"} <= set(t) for t in e["trials"])
    # a car trained for two iterations may lap or not (circling on the track ends in time_up): the
    # table must say which, consistently
    assert all((t["lap_time_s"] is not None) == (t["status"] == "lap_complete") for t in e["trials"]), e["trials"]
    laps = [t["lap_time_s"] for t in e["trials"] if t["lap_time_s"]]
    video = api.get(e["video_url"])
    assert video.status_code == 200 and video.headers["content-type"] == "video/webm" and len(video.content) > 10_000
    assert [x["id"] for x in api.get(f"/api/models/{model['id']}/evaluations").json()] == [ev["id"]]
    listed = next(m for m in api.get("/api/models").json() if m["id"] == model["id"])
    if laps:  # the list's best lap is the best of the training's and the evaluations'
        assert listed["best_lap_time_s"] is not None and listed["best_lap_time_s"] <= min(laps) + 0.01

    # Download the car's package; deepracer model check accepts it
    package = tmp_path / "first-model.tar.gz"
    package.write_bytes(api.get(f"/api/models/{model['id']}/package").content)
    check = subprocess.run([sys.executable, "-m", "deepracer.cli", "model", "check", str(package)],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    folder = api.get(f"/api/models/{model['id']}/training-folder")
    assert folder.status_code == 200 and len(folder.content) > 1000

    # the log analysis report, inside the page
    report = api.get(f"/api/models/{model['id']}/report", timeout=300)
    assert report.status_code == 200 and "<img" in report.text, report.text[:500]
    first_image = report.text.split("<img", 1)[1].split('src="', 1)[1].split('"', 1)[0] if 'src="' in report.text \
        else report.text.split("<img", 1)[1].split("src='", 1)[1].split("'", 1)[0]
    assert api.get(f"/api/models/{model['id']}/report/{first_image}").status_code == 200

    # Clone: new reward, hyperparameters and track; starts from the trained weights
    reward = "def reward_function(params):\n    return float(params['speed'])\n"
    r = api.post("/api/models", json={"name": "first-model-clone", "clone_of": model["id"], "track": "hairpins",
                                      "direction": "clockwise", "reward_function": reward, "max_minutes": 1,
                                      "max_steps": 300, "hyperparameters": {"num_episodes_between_training": 5,
                                                                            "lr": 0.0001}})
    assert r.status_code == 201, r.text
    clone = r.json()
    assert clone["source"] == "cloned" and clone["action_space"] == detail["action_space"]
    wait_for(lambda: status(api, clone["id"]) in ("ready", "failed"), 300, "the clone's training")
    log = api.get(f"/api/models/{clone['id']}/logs").text
    assert "--pretrained" in log and "hairpins_cw" in log
    assert status(api, clone["id"]) == "ready", api.get(f"/api/models/{clone['id']}").json()["failure_reason"]

    # Delete
    assert api.delete(f"/api/models/{clone['id']}").status_code == 204
    assert api.get(f"/api/models/{clone['id']}").status_code == 404
    assert not (console_process.data / "models" / str(clone["id"])).exists()


def test_reward_that_never_returns_fails_the_job_with_the_reason(console_process: ConsoleProcess) -> None:
    console_process.extra = ["--reward-timeout", "0.5"]
    console_process.start()
    api = console_process.api()
    # passes validation (fewer than 40 steps), hangs in training
    reward = ("def reward_function(params):\n    if params['steps'] >= 40:\n        while True:\n"
              "            pass\n    return 1.0\n")
    model = api.post("/api/models", json=QUICK | {"name": "hangs", "reward_function": reward}).json()
    wait_for(lambda: status(api, model["id"]) == "failed", 240, "the job to fail")
    reason = api.get(f"/api/models/{model['id']}").json()["failure_reason"]
    assert reason.startswith("reward_function.py: line "), reason  # the user's file, not the server's path
    assert "did not return within 0.5 s" in reason and "steps=40" in reason, reason
    assert int(reason.split("line ")[1].split(":")[0]) in (3, 4)  # inside the loop


def test_restart_resumes_training(console_process: ConsoleProcess) -> None:
    console_process.start()
    api = console_process.api()
    model = api.post("/api/models", json=QUICK | {"name": "survivor", "max_minutes": 3}).json()
    wait_for(lambda: len(api.get(f"/api/models/{model['id']}/metrics").json()["iterations"]) >= 1, 240,
             "a first iteration")
    assert console_process.stop() == 0  # Ctrl-C on the console: its training is stopped cleanly
    restarted = ConsoleProcess(console_process.data)
    restarted.start()
    try:
        api = restarted.api()
        seen: list[str] = []

        def resumed() -> bool:
            seen.append(status(api, model["id"]))
            return seen[-1] in ("initialising", "training")

        try:
            wait_for(resumed, 60, "the training to resume")
        except AssertionError as err:
            detail = api.get(f"/api/models/{model['id']}").json()
            log = api.get(f"/api/models/{model['id']}/logs").text[-3000:]
            raise AssertionError(f"{err}; statuses {sorted(set(seen))}; failure_reason {detail.get('failure_reason')!r}; log tail:\n{log}") from None
        log = api.get(f"/api/models/{model['id']}/logs").text
        assert "--resume" in log
        assert api.post(f"/api/models/{model['id']}/stop").status_code == 200
        wait_for(lambda: status(api, model["id"]) in ("ready", "failed"), 120, "the stop")
        assert status(api, model["id"]) == "ready"
    finally:
        restarted.stop()

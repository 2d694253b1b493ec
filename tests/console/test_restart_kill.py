"""Reliability: the console is killed with SIGKILL while a training runs, a race submission is being
evaluated and more submissions (and a model) are being posted; started again on the same data
folder, it has lost no accepted submission, holds no half-written record, and every job that was
running is resumed (training from its checkpoint) or failed with its reason; the submissions then
run to an end."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from conftest import BUNDLED_MODEL, ConsoleProcess, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1500)]

QUICK = {"track": "oval", "max_minutes": 4, "hyperparameters": {"num_episodes_between_training": 5}}


def rows(db: Path, sql: str, *args) -> list[tuple]:
    with sqlite3.connect(db, timeout=30) as c:
        return c.execute(sql, args).fetchall()


def check_no_half_written_record(data: Path) -> None:
    db = data / "console.db"
    assert rows(db, "PRAGMA integrity_check") == [("ok",)]
    # a submission always has its evaluation, an evaluation of a submission its job(s)
    assert rows(db, "SELECT s.id FROM race_submissions s LEFT JOIN evaluations e ON e.id = s.evaluation_id "
                    "WHERE e.id IS NULL") == []
    assert rows(db, "SELECT e.id FROM evaluations e WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE "
                    "j.evaluation_id = e.id)") == []
    # a model row has its inputs and a job (created) or its package (imported); no folder without a row
    models = dict(rows(db, "SELECT id, source FROM models"))
    for model_id, source in models.items():
        folder = data / "models" / str(model_id)
        if source == "imported":
            assert (folder / "training" / "model" / "model.onnx").is_file(), model_id
        else:
            for name in ("reward_function.py", "model_metadata.json", "hyperparameters.json"):
                assert (folder / "inputs" / name).is_file(), (model_id, name)
            assert rows(db, "SELECT count(*) FROM jobs WHERE model_id = ?", model_id)[0][0] >= 1
    on_disk = {int(p.name) for p in (data / "models").iterdir() if p.name.isdigit()}
    assert on_disk <= set(models), f"folders without a model row: {sorted(on_disk - set(models))}"
    # every job has its minutes in the quota ledger, finalised once the job ended
    assert rows(db, "SELECT j.id FROM jobs j LEFT JOIN quota_usage u ON u.job_id = j.id WHERE u.id IS NULL") == []
    assert rows(db, "SELECT j.id FROM jobs j JOIN quota_usage u ON u.job_id = j.id WHERE j.state IN "
                    "('finished', 'failed') AND u.used_minutes IS NULL") == []


def test_sigkill_during_training_and_submissions_loses_nothing(tmp_path: Path) -> None:
    if not BUNDLED_MODEL.is_file():
        pytest.skip(f"{BUNDLED_MODEL} is missing")
    data = tmp_path / "data"
    first = ConsoleProcess(data, extra=["--max-jobs", "2"]).start()
    api = first.api()
    with BUNDLED_MODEL.open("rb") as f:
        r = api.post("/api/models/import", files={"file": ("racer.tar.gz", f.read())}, data={"name": "racer"})
    assert r.status_code == 201, r.text
    ready = r.json()["model"]["id"]
    closes = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    race = api.post("/api/races", json={"name": "night", "track": "reinvent2018", "closes_at": closes,
                                        "ranking": "BEST_LAP_TIME", "minimum_laps": 1, "laps": 1}).json()
    submit = f"/api/races/{race['id']}/submissions"
    training = api.post("/api/models", json=QUICK | {"name": "trainee"}).json()
    accepted = [api.post(submit, json={"model_id": ready}).json()["id"] for _ in range(2)]
    wait_for(lambda: len(api.get(f"/api/models/{training['id']}/metrics").json()["iterations"]) >= 1, 400,
             "the training's first iteration", interval=1)
    wait_for(lambda: any(e["status"] == "running" for e in (api.get(f"/api/evaluations/{s}").json() for s in
                                                            _evaluations(api, race["id"]))), 120,
             "a submission being evaluated", interval=0.5)

    # more submissions and a model posted at the moment of the kill
    answers: list[tuple[str, int | None]] = []

    def post(kind: str) -> None:
        try:
            with httpx.Client(base_url=first.url, timeout=30) as c:
                r = (c.post(submit, json={"model_id": ready}) if kind == "submission" else
                     c.post("/api/models", json=QUICK | {"name": f"late-{threading.get_ident()}"}))
            answers.append((kind, r.json()["id"] if r.status_code == 201 else None))
        except httpx.HTTPError:
            answers.append((kind, None))  # cut off by the kill: it may or may not exist, but whole

    threads = [threading.Thread(target=post, args=(k,)) for k in ["submission"] * 6 + ["model"] * 2]
    for t in threads:
        t.start()
        time.sleep(0.03)
    assert first.proc is not None
    os.kill(first.proc.pid, signal.SIGKILL)  # kill -9 on the server, mid-flight
    first.proc.wait(timeout=30)
    for t in threads:
        t.join(timeout=60)
    accepted += [i for kind, i in answers if kind == "submission" and i is not None]
    print(f"at the kill: {sum(1 for _, i in answers if i)} of {len(answers)} posts accepted, the rest cut off")
    killed_at = datetime.now(UTC)

    second = ConsoleProcess(data, extra=["--max-jobs", "2"]).start()
    try:
        api = second.api()
        check_no_half_written_record(data)
        db = data / "console.db"
        stored = {sid for (sid,) in rows(db, "SELECT id FROM race_submissions WHERE race_id = ?", race["id"])}
        assert set(accepted) <= stored, f"accepted but lost: {sorted(set(accepted) - stored)}"
        # every job of before the kill: finished, failed with its reason, or still queued; none left running
        for job_id, state, reason, started in rows(db, "SELECT id, state, failure_reason, started_at FROM jobs"):
            if state == "failed":
                assert reason, f"job {job_id} failed without a reason"
            if state == "running":
                assert datetime.fromisoformat(started).replace(tzinfo=UTC) >= killed_at - timedelta(seconds=1), \
                    f"job {job_id} still marked running from before the kill"
        # the training: resumed from its checkpoint, or failed with the reason
        detail = api.get(f"/api/models/{training['id']}").json()
        resumed = rows(db, "SELECT count(*) FROM jobs WHERE model_id = ? AND kind = 'train' AND resume = 1",
                       training["id"])[0][0]
        if detail["status"] == "failed":
            assert detail["failure_reason"], detail
            print(f"NOTE: the training was failed, not resumed: {detail['failure_reason']}")
        else:
            assert resumed == 1 and detail["status"] in ("queued", "initialising", "training"), detail
            wait_for(lambda: "--resume" in api.get(f"/api/models/{training['id']}/logs").text, 120,
                     "the resumed training's command line")
        # stop the trainings (quick), then every submission runs to an end
        for m in api.get("/api/models").json():
            if m["status"] in ("queued", "initialising", "training"):
                api.post(f"/api/models/{m['id']}/stop")

        def all_ended() -> bool:
            return all(api.get(f"/api/evaluations/{e}").json()["status"] in ("completed", "failed")
                       for e in _evaluations(api, race["id"]))

        wait_for(all_ended, 900, "every submission's evaluation to end", interval=3)
        for e in _evaluations(api, race["id"]):
            ev = api.get(f"/api/evaluations/{e}").json()
            assert ev["status"] == "completed" or ev["failure_reason"], ev
        board = api.get(f"/api/races/{race['id']}/leaderboard").json()
        assert board["pending"] == 0
        check_no_half_written_record(data)
    finally:
        second.stop()


def _evaluations(api: httpx.Client, race_id: int) -> list[int]:
    """The evaluation ids of the race's submissions (single-user mode: the local user's)."""
    evaluations = []
    for m in api.get("/api/models").json():
        if m["source"] == "imported":
            evaluations += [e["id"] for e in api.get(f"/api/models/{m['id']}/evaluations").json()]
    return evaluations

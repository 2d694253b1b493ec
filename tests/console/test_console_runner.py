"""The job runner's safety paths with stand-in processes: a job that ignores Ctrl-C is killed with
its whole process group after the stop timeout; a job lost with the console is failed with the
reason (no checkpoint) or queued again with --resume (checkpoint)."""

from __future__ import annotations

import time
from pathlib import Path

from conftest import wait_for
from fastapi.testclient import TestClient

from deepracer_console.app import create_app
from deepracer_console.db import Job, JobKind, JobState, Model
from deepracer_console.jobs import MARKER_ENV, JobRunner, job_marker
from deepracer_console.settings import Settings

GOOD = {"name": "stubborn", "track": "oval"}


def _job_processes(data: Path, job_id: int) -> list[int]:
    """Live processes carrying the job's marker (inside a sandbox too: its environment travels)."""
    marker = f"{MARKER_ENV}={job_marker(data, job_id)}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0") and \
                    (entry / "stat").read_text().split()[2] != "Z":
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def test_a_job_that_ignores_sigint_is_killed_with_its_group(tmp_path: Path, monkeypatch) -> None:
    # a leader that ignores Ctrl-C and a child of it that would outlive a kill of the leader alone
    argv = ["/bin/sh", "-c", "trap '' INT; /bin/sleep 300 & echo st''arted; wait"]
    monkeypatch.setattr(JobRunner, "train_argv", lambda self, model, resume: argv)
    settings = Settings(data_dir=tmp_path / "data", stop_timeout_s=1.0, poll_interval_s=0.1, max_jobs=1,
                        web_dist=tmp_path / "dist")
    with TestClient(create_app(settings)) as client:
        model = client.post("/api/models", json=GOOD).json()
        wait_for(lambda: "started" in client.get(f"/api/models/{model['id']}/logs").text, 30, "the job to start")
        wait_for(lambda: client.get(f"/api/models/{model['id']}").json()["status"] == "initialising", 10,
                 "the state stored")
        with client.app.state.console.sessions() as db:
            job_id = db.query(Job).one().id
        assert len(_job_processes(settings.data_dir, job_id)) >= 2
        assert client.post(f"/api/models/{model['id']}/stop").json()["status"] == "stopping"
        time.sleep(0.5)
        assert _job_processes(settings.data_dir, job_id), "gone before the stop timeout: it had no chance to save"
        wait_for(lambda: client.get(f"/api/models/{model['id']}").json()["status"] == "failed", 30, "the kill")
        detail = client.get(f"/api/models/{model['id']}").json()
        assert "no model was exported" in detail["failure_reason"]
        wait_for(lambda: not _job_processes(settings.data_dir, job_id), 10, "every process of the group to be gone")


def test_lost_jobs_are_failed_with_the_reason_or_resumed(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", web_dist=tmp_path / "dist")
    app = create_app(settings, start_jobs=False)
    console = app.state.console
    with TestClient(app) as client:
        lost = client.post("/api/models", json=GOOD | {"name": "lost"}).json()
        kept = client.post("/api/models", json=GOOD | {"name": "kept"}).json()
    with console.sessions.begin() as db:
        for job in db.query(Job).all():
            job.state, job.pid = JobState.RUNNING, 999_999_999  # the console died while they ran
            db.get(Model, job.model_id).status = "training"
    checkpoint = console.storage.training_dir(kept["id"]) / "checkpoints" / "latest.zip"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"checkpoint")
    console.runner.recover()
    with console.sessions() as db:
        lost_model, kept_model = db.get(Model, lost["id"]), db.get(Model, kept["id"])
        assert lost_model.status == "failed" and "before its first checkpoint" in lost_model.failure_reason
        assert kept_model.status == "queued"
        resumed = db.query(Job).filter(Job.model_id == kept["id"], Job.state == JobState.QUEUED).one()
        assert resumed.resume and resumed.kind == JobKind.TRAIN
        argv = console.runner.train_argv(kept_model, resume=True)
        assert "--resume" in argv and "--minutes" in argv


def test_delete_stops_a_running_job_first(tmp_path: Path, monkeypatch) -> None:
    argv = ["/bin/sh", "-c", "echo st''arted; exec /bin/sleep 300"]
    monkeypatch.setattr(JobRunner, "train_argv", lambda self, model, resume: argv)
    settings = Settings(data_dir=tmp_path / "data", stop_timeout_s=1.0, poll_interval_s=0.1, max_jobs=1,
                        web_dist=tmp_path / "dist")
    with TestClient(create_app(settings)) as client:
        model = client.post("/api/models", json=GOOD).json()
        wait_for(lambda: "started" in client.get(f"/api/models/{model['id']}/logs").text, 30, "the job to start")
        with client.app.state.console.sessions() as db:
            job_id = db.query(Job).one().id
        assert _job_processes(settings.data_dir, job_id), client.get(f"/api/models/{model['id']}/logs").text
        assert client.delete(f"/api/models/{model['id']}").status_code == 204
        assert not _job_processes(settings.data_dir, job_id)
        assert client.get(f"/api/models/{model['id']}").status_code == 404
        assert not (settings.models_dir / str(model["id"])).exists()
        assert client.get("/api/health").json()["jobs_running"] == 0

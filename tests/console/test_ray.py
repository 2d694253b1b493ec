"""`deepracer console --ray`: a Ray head that the test starts on 127.0.0.1 (2 CPUs), a real console
process driving it. A tiny model trains and is evaluated as Ray tasks in the sandbox, its files land
in the shared storage and nowhere else, hostile reward functions fail with their named reasons, a
Stop cancels the task and its sandboxed processes, and a console killed with SIGKILL comes back
to resume its training from the checkpoint."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ConsoleProcess, free_port, wait_for
from testenv import skip_or_fail

from deepracer_console import sandbox as sbx
from deepracer_console.jobs import MARKER_ENV, job_marker
from deepracer_console.ray_runner import RAY_LOCAL_ONLY_ENV

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

TINY = {"track": "oval", "hyperparameters": {"num_episodes_between_training": 5}}


@pytest.fixture(scope="module")
def ray_head() -> Iterator[str]:
    """A one-node Ray cluster on 127.0.0.1 (2 CPUs), stopped with its whole process group at the end."""
    if importlib.util.find_spec("ray") is None:
        skip_or_fail("ray is not installed (pip install -e '.[ray]'; make setup-train installs it)")
    problem = sbx.probe()
    if problem is not None:
        skip_or_fail(f"no working sandbox here: {problem}")
    ray_bin = Path(sys.executable).with_name("ray")
    temp = Path(tempfile.mkdtemp(prefix="dr-ray-"))  # short: Ray's socket paths must fit in 107 bytes
    port = free_port()
    log = temp / "head.log"
    env = dict(os.environ, **{RAY_LOCAL_ONLY_ENV: "0"}, RAY_USAGE_STATS_ENABLED="0")
    head = subprocess.Popen(
        [str(ray_bin), "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", str(port),
         "--num-cpus", "2", "--include-dashboard", "false", "--disable-usage-stats", "--temp-dir", str(temp / "t"),
         "--dashboard-agent-listen-port", str(free_port()), "--ray-client-server-port", str(free_port())],
        stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        wait_for(lambda: "Ray runtime started" in log.read_text(errors="replace") or head.poll() is not None, 120,
                 "the Ray head to start")
        assert head.poll() is None, log.read_text(errors="replace")
        yield f"127.0.0.1:{port}"
    finally:
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(head.pid, sig)
            except ProcessLookupError:
                break
            try:
                head.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(head.pid, signal.SIGKILL)  # raylet, GCS and workers share the head's group
        except ProcessLookupError:
            pass
        shutil.rmtree(temp, ignore_errors=True)


def _console(tmp_path: Path, address: str, name: str = "data") -> ConsoleProcess:
    shared = tmp_path / "shared"
    return ConsoleProcess(tmp_path / name, ["--ray", address, "--shared-storage", str(shared), "--max-jobs", "2",
                                           "--stop-timeout", "60"])


def _jobs(data: Path, model_id: int) -> list[tuple]:
    with sqlite3.connect(data / "console.db") as db:
        return db.execute("SELECT id, kind, state, pid, exit_code, resume, failure_reason FROM jobs "
                          "WHERE model_id = ? ORDER BY id", (model_id,)).fetchall()


def _job_processes(data: Path, job_id: int) -> list[int]:
    marker = f"{MARKER_ENV}={job_marker(data.resolve(), job_id)}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0") and \
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                pids.append(int(entry.name))
        except (OSError, IndexError):
            continue
    return pids


def _ancestors(pid: int) -> list[tuple[int, str]]:
    out = []
    while pid > 1:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            break
        out.append((pid, cmd))
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return out


def status(api, model_id: int) -> str:
    return api.get(f"/api/models/{model_id}").json()["status"]


def test_train_evaluate_and_hostile_rewards_on_ray(ray_head: str, tmp_path: Path) -> None:
    console = _console(tmp_path, ray_head).start()
    try:
        api = console.api()
        health = api.get("/api/health").json()
        assert health["job_runner"] == "ray" and health["max_jobs"] == 2, health  # 2 CPUs, 1 per job
        good = api.post("/api/models", json=TINY | {"name": "on-ray", "max_steps": 300})
        assert good.status_code == 201, good.text
        good_id = good.json()["id"]
        shared = tmp_path / "shared"
        secret = shared / "models" / str(good_id) / "inputs" / "reward_function.py"
        assert secret.is_file()  # the inputs are written to the shared storage
        hostile = {
            "reads-console-db": (f"def reward_function(params):\n    return float(len(open("
                                 f"{str(console.data / 'console.db')!r}, 'rb').read()))\n",
                                 "sandbox: file outside its folder not accessible"),
            "reads-other": (f"def reward_function(params):\n    return float(len(open({str(secret)!r}).read()))\n",
                            "sandbox: file outside its folder not accessible"),
            "socket": (f"import socket\ndef reward_function(params):\n    socket.create_connection(('127.0.0.1', "
                       f"{console.port}), timeout=2)\n    return 1.0\n", "sandbox: network access refused"),
        }
        ids = {}
        for name, (source, _) in hostile.items():
            r = api.post("/api/models", json=TINY | {"name": name, "max_steps": 300, "reward_function": source})
            assert r.status_code == 201, r.text
            ids[name] = r.json()["id"]

        # the good job's processes run under a Ray worker, not under the console, in its CPU share
        wait_for(lambda: _jobs(console.data, good_id) and _job_processes(console.data, _jobs(console.data, good_id)[0][0]),
                 120, "the training's processes")
        job_id = _jobs(console.data, good_id)[0][0]
        pids = _job_processes(console.data, job_id)
        chain = _ancestors(pids[0])
        assert any(cmd.startswith("ray::") for _, cmd in chain), chain
        assert console.proc is not None and console.proc.pid not in [p for p, _ in chain]
        if sbx.cgroups().v1.get("cpu") is not None:
            lines = [ln.split(":", 2) for ln in Path(f"/proc/{pids[0]}/cgroup").read_text().splitlines()]
            path = next(p for _, controllers, p in lines if "cpu" in controllers.split(","))
            folder = sbx.CGROUP_V1["cpu"] / path.lstrip("/")
            assert folder.name.startswith(sbx.CGROUP_PREFIX), lines
            assert (folder / "cpu.cfs_quota_us").read_text().strip() == str(sbx.CPU_PERIOD_US)  # 1 CPU

        def all_done() -> bool:
            return all(status(api, i) in ("ready", "failed") for i in [good_id, *ids.values()])

        wait_for(all_done, 500, "the four trainings to end", interval=2)
        model = api.get(f"/api/models/{good_id}").json()
        assert model["status"] == "ready", model["failure_reason"]
        for name, (_, reason) in hostile.items():
            got = api.get(f"/api/models/{ids[name]}").json()
            assert got["status"] == "failed" and reason in (got["failure_reason"] or ""), (name, got)

        # the files are in the shared storage, none in the console's data folder; the records say how it went
        training = shared / "models" / str(good_id) / "training"
        assert (training / "model" / "model.onnx").is_file() and (training / "model" / "model_metadata.json").is_file()
        assert not (console.data / "models").exists() or not any((console.data / "models").iterdir())
        log = api.get(f"/api/models/{good_id}/logs").text
        assert f"[ray] job {job_id} on node" in log and "1 CPU" in log and "[exit code 0]" in log
        ((jid, kind, state, pid, code, resume, reason),) = _jobs(console.data, good_id)
        assert (kind, state, pid, code, resume, reason) == ("train", "finished", None, 0, 0, None)

        # evaluate it: a Ray task too (then its video); results and files in the shared storage
        r = api.post(f"/api/models/{good_id}/evaluations", json={"trials": 1, "off_track_penalty_s": 1.0})
        assert r.status_code == 201, r.text
        ev = r.json()

        def evaluated() -> dict | None:
            e = api.get(f"/api/evaluations/{ev['id']}").json()
            return e if e["status"] in ("completed", "failed") else None

        e = wait_for(evaluated, 400, "the evaluation", interval=2)
        assert e["status"] == "completed", e["failure_reason"]
        assert [t["trial"] for t in e["trials"]] == [1] and e["trials"][0]["progress"] is not None
        folder = shared / "models" / str(good_id) / "evaluations" / str(ev["id"])
        assert (folder / "result.json").is_file() and (folder / "video.webm").is_file()
        assert (folder / "evaluate.log").read_text().count("[ray] job") == 2  # the evaluation, then its video
        assert api.get(e["video_url"]).status_code == 200
        assert api.get("/api/health").json()["jobs_running"] == 0
    finally:
        console.stop()


def test_stop_and_a_killed_console_on_ray(ray_head: str, tmp_path: Path) -> None:
    console = _console(tmp_path, ray_head).start()
    api = console.api()
    try:
        stopped = api.post("/api/models", json=TINY | {"name": "stopped", "max_minutes": 10}).json()
        survivor = api.post("/api/models", json=TINY | {"name": "survivor", "max_minutes": 10}).json()
        checkpoint = tmp_path / "shared" / "models" / str(survivor["id"]) / "training" / "checkpoints" / "latest.zip"
        wait_for(lambda: len(api.get(f"/api/models/{stopped['id']}/metrics").json()["iterations"]) >= 1, 300,
                 "a first iteration", interval=2)
        job_id = _jobs(console.data, stopped["id"])[0][0]
        assert _job_processes(console.data, job_id)
        assert api.post(f"/api/models/{stopped['id']}/stop").json()["status"] == "stopping"
        wait_for(lambda: status(api, stopped["id"]) in ("ready", "failed"), 120, "the stop")
        detail = api.get(f"/api/models/{stopped['id']}").json()
        assert detail["status"] == "ready", detail["failure_reason"]  # stopped cleanly: the model kept
        assert "stopped_because" in api.get(f"/api/models/{stopped['id']}/logs").text
        wait_for(lambda: not _job_processes(console.data, job_id), 30, "the stopped job's processes to end")

        wait_for(checkpoint.is_file, 300, "the survivor's first checkpoint", interval=2)
        survivor_job = _jobs(console.data, survivor["id"])[0][0]
        assert _job_processes(console.data, survivor_job)
        assert console.proc is not None
        console.proc.kill()  # SIGKILL: no clean stop; Ray ends the dead console's tasks and their sandboxes
        console.proc.wait()
        wait_for(lambda: not _job_processes(console.data, survivor_job), 60,
                 "the killed console's job to end with it")
    finally:
        console.stop()

    restarted = _console(tmp_path, ray_head).start()
    try:
        api = restarted.api()
        wait_for(lambda: status(api, survivor["id"]) in ("initialising", "training"), 60, "the training to resume")
        jobs = _jobs(restarted.data, survivor["id"])
        assert len(jobs) == 2 and jobs[0][2] == "failed" and "console stopped" in jobs[0][6], jobs
        assert jobs[1][5] == 1  # resume
        wait_for(lambda: _job_processes(restarted.data, jobs[1][0]), 60, "the resumed job's processes")
        assert "--resume" in api.get(f"/api/models/{survivor['id']}/logs").text
        time.sleep(5)
        assert api.post(f"/api/models/{survivor['id']}/stop").status_code == 200
        wait_for(lambda: status(api, survivor["id"]) in ("ready", "failed"), 120, "the stop")
        assert status(api, survivor["id"]) == "ready", api.get(f"/api/models/{survivor['id']}").json()
        wait_for(lambda: not _job_processes(restarted.data, jobs[1][0]), 30, "its processes to end")
    finally:
        restarted.stop()

"""User code runs in the bubblewrap sandbox: hostile reward functions each fail with a named
reason (another user's folder, writing outside, a socket to 127.0.0.1, a fork bomb, 8 GB, never
returning) while the console and the other jobs carry on; Validate runs in the sandbox too."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import wait_for

from deepracer_console import sandbox as sbx
from deepracer_console.settings import Settings

pytestmark = pytest.mark.integration


def _need_bwrap() -> None:
    problem = sbx.probe()
    if problem is not None:
        if os.environ.get("CI"):  # any non-empty CI (.ci/run sets CI=true)
            pytest.fail(f"CI=1 and no working sandbox: {problem}")
        pytest.skip(f"no working sandbox here: {problem}")


@pytest.fixture
def box(tmp_path: Path) -> sbx.Sandbox:
    _need_bwrap()
    data = tmp_path / "data"
    (data / "models" / "1").mkdir(parents=True)
    (data / "models" / "2").mkdir(parents=True)
    (data / "models" / "2" / "secret.txt").write_text("model 2's reward function")
    (data / "tracks").mkdir()
    box = sbx.Sandbox(data, data / "tracks")
    box.prepare([data / "models" / "1"], 1)
    return box


def _run(box: sbx.Sandbox, code: str, timeout: float = 60) -> tuple[int, str, str | None]:
    job = box.data_dir / "models" / "1"
    argv = box.wrap([sys.executable, "-c", code], [job], 1)
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, preexec_fn=box.preexec(timeout),
                          start_new_session=True)
    return proc.returncode, proc.stdout, sbx.explain(proc.stderr, proc.returncode)


def test_the_job_writes_its_own_folder_only(box: sbx.Sandbox, tmp_path: Path) -> None:
    own = box.data_dir / "models" / "1" / "out.txt"
    code, out, _ = _run(box, f"open({str(own)!r}, 'w').write('ok'); print('written')")
    assert code == 0 and out.strip() == "written" and own.read_text() == "ok"
    code, _, why = _run(box, f"open({str(box.data_dir / 'models' / '2' / 'secret.txt')!r}).read()")
    assert code != 0 and why == "sandbox: file outside its folder not accessible"
    for target in (box.data_dir / "evil.txt", Path(sbx.__file__).with_name("evil.txt")):
        code, _, why = _run(box, f"open({str(target)!r}, 'w').write('x')")
        assert code != 0 and why == "sandbox: write outside its folder refused (read-only)", (target, why)
        assert not target.exists()
    _run(box, f"open({str(tmp_path / 'evil.txt')!r}, 'w').write('x')")  # its /tmp is its own
    assert not (tmp_path / "evil.txt").exists()


def test_no_network_and_limits(box: sbx.Sandbox) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        code, _, why = _run(box, f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=5)")
        assert code != 0 and why == "sandbox: network access refused (no network in the sandbox)"
        server.settimeout(0.5)
        with pytest.raises(TimeoutError):
            server.accept()  # nothing reached the host's loopback
    code, _, why = _run(box, "import numpy as np; x = np.ones(8 * 1024**3 // 8); print(x.sum())")
    assert code != 0 and why == "sandbox: memory limit reached"
    started = time.monotonic()
    code, _, why = _run(box, "import os\nwhile True:\n    os.fork()\n", timeout=120)
    assert code != 0 and why == "sandbox: process limit reached"
    assert time.monotonic() - started < 120
    time.sleep(0.5)
    uid = str(sbx.SANDBOX_UID_BASE + 1)
    left = subprocess.run(["ps", "-o", "pid=", "-u", uid], capture_output=True, text=True).stdout.split()
    assert not left or os.geteuid() != 0, f"fork bomb processes outlived their sandbox: {left}"


def test_console_refuses_to_require_a_missing_sandbox(tmp_path: Path) -> None:
    assert sbx.probe("no-such-bwrap-binary") is not None
    assert "bubblewrap" in (sbx.probe("no-such-bwrap-binary") or "")


HOSTILE = {
    "reads-other": ("def reward_function(params):\n    return float(len(open({secret!r}).read()))\n",
                    "sandbox: file outside its folder not accessible"),
    "writes-outside": ("def reward_function(params):\n    open({outside!r}, 'w').write('x')\n    return 1.0\n",
                       "outside its folder"),
    "socket": ("import socket\ndef reward_function(params):\n"
               "    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n    return 1.0\n",
               "sandbox: network access refused"),
    # copies of a trainer: the process limit, or the job's memory limit first (cgroup)
    "fork-bomb": ("import os\ndef reward_function(params):\n    while True:\n        os.fork()\n",
                  ("sandbox: process limit reached", "sandbox: killed (the job's memory limit")),
    "eight-gb": ("def reward_function(params):\n    x = bytearray(8 * 1024**3)\n    return float(len(x))\n",
                 "sandbox: memory limit reached"),
}
TINY = {"max_steps": 2000, "hyperparameters": {"num_episodes_between_training": 5}}


@pytest.mark.timeout(900)
def test_hostile_reward_functions_fail_with_a_named_reason(tmp_path: Path) -> None:
    _need_bwrap()
    from fastapi.testclient import TestClient

    from deepracer_console.app import create_app

    settings = Settings(data_dir=tmp_path / "data", max_jobs=3, web_dist=tmp_path / "dist", sandbox="bwrap")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.1)
    with TestClient(create_app(settings)) as api:
        # the well-behaved job trains on while the others fail (a budget it cannot finish during the test)
        good = api.post("/api/models", json={"name": "good", "track": "reinvent2018", **TINY,
                                             "max_steps": 10_000_000})
        assert good.status_code == 201, good.text
        good_id = good.json()["id"]
        secret = str(settings.models_dir / str(good_id) / "inputs" / "reward_function.py")
        outside = str(settings.data_dir / "planted.txt")
        ids = {}
        for name, (source, _) in HOSTILE.items():
            r = api.post("/api/models", json={"name": name, "track": "reinvent2018", **TINY,
                                              "reward_function": source.format(
                                                  secret=secret, outside=outside, port=listener.getsockname()[1])})
            assert r.status_code == 201, r.text
            ids[name] = r.json()["id"]

        def finished() -> bool:
            return all(api.get(f"/api/models/{i}").json()["status"] == "failed" for i in ids.values())

        wait_for(finished, 700, "every hostile job to fail", interval=2)
        for name, (_, reason) in HOSTILE.items():
            got = api.get(f"/api/models/{ids[name]}").json()["failure_reason"] or ""
            reasons = reason if isinstance(reason, tuple) else (reason,)
            assert any(r in got for r in reasons), (name, got)
        good_model = api.get(f"/api/models/{good_id}").json()
        assert good_model["status"] in ("initialising", "training"), good_model["failure_reason"]
        assert api.get("/api/health").json()["status"] == "ok"
        assert not Path(outside).exists()
        with pytest.raises(TimeoutError):
            listener.accept()
        # Validate runs the user's code in the sandbox too (the static rules are not the only guard)
        peek = ("import random\ndef reward_function(params):\n"
                f"    return float(len(random._os.listdir({str(settings.models_dir)!r})))\n")
        v = api.post("/api/reward/validate", json={"reward_function": peek}).json()
        assert not v["ok"] and "No such file or directory" in (v["error"] or ""), v
        assert api.delete(f"/api/models/{good_id}").status_code == 204
    listener.close()


@pytest.mark.timeout(600)
def test_a_job_that_never_returns_meets_the_wall_clock_limit(tmp_path: Path) -> None:
    _need_bwrap()
    from fastapi.testclient import TestClient

    from deepracer_console.app import create_app

    settings = Settings(data_dir=tmp_path / "data", max_jobs=1, web_dist=tmp_path / "dist", sandbox="bwrap",
                        job_wall_limit_s=45, reward_timeout_s=10_000)
    # hangs while the trainer loads it (each reward call has its own limit; loading is the job's)
    forever = "import time\ntime.sleep(10**6)\ndef reward_function(params):\n    return 1.0\n"
    with TestClient(create_app(settings)) as api:
        r = api.post("/api/models", json={"name": "forever", "track": "reinvent2018", **TINY,
                                          "reward_function": forever})
        assert r.status_code == 201, r.text

        def failed() -> dict | None:
            m = api.get(f"/api/models/{r.json()['id']}").json()
            return m if m["status"] == "failed" else None

        model = wait_for(failed, 300, "the wall-clock limit to end the job", interval=2)
        assert model["failure_reason"].startswith("sandbox: wall-clock limit reached"), model
        assert api.get("/api/health").json()["status"] == "ok"

"""The Ray runner's worker-side pieces without a cluster: what a task does with its job's process
(Stop and kill requests, the signal mask a Ray worker would pass on) and how a restarted console
stops what is left of its old jobs on a node (by the job marker)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import free_port, wait_for

from deepracer_console import ray_runner as rr
from deepracer_console.jobs import MARKER_ENV

# a job that saves on SIGINT (exit 130 after writing a file), as the trainer does
SAVES_ON_INT = ("import signal, sys, time, pathlib\n"
                "def stop(*_):\n    pathlib.Path(sys.argv[1]).write_text('saved')\n    sys.exit(130)\n"
                "signal.signal(signal.SIGINT, stop)\nprint('ready', flush=True)\n"
                "while True:\n    time.sleep(0.05)\n")
IGNORES_INT = ("import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nprint('ready', flush=True)\n"
               "while True:\n    time.sleep(0.05)\n")


def _start(code: str, *args: str, env: dict[str, str] | None = None, preexec=None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, start_new_session=True,
                            env=dict(os.environ) | (env or {}), preexec_fn=preexec)


def test_a_stop_request_reaches_the_job_and_it_saves(tmp_path: Path) -> None:
    saved, control = tmp_path / "saved", tmp_path / "control"
    proc = _start(SAVES_ON_INT, str(saved))
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
    threading.Timer(0.3, lambda: control.write_text("INT")).start()
    assert rr._supervise(proc, control) == 130
    assert saved.read_text() == "saved"


def test_a_kill_request_ends_a_job_that_ignores_stop(tmp_path: Path) -> None:
    control = tmp_path / "control"
    proc = _start(IGNORES_INT)
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
    control.write_text("INT")
    threading.Timer(1.0, lambda: control.write_text("KILL")).start()
    started = time.monotonic()
    assert rr._supervise(proc, control) == -signal.SIGKILL
    assert 0.9 < time.monotonic() - started < 10


def test_the_job_does_not_inherit_a_blocked_sigint(tmp_path: Path) -> None:
    """A Ray worker's thread blocks SIGINT; a child started from it would never see a Stop."""
    saved = tmp_path / "saved"
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        proc = _start(SAVES_ON_INT, str(saved), preexec=rr._clean_signals(None))
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
    blocked = next(ln for ln in Path(f"/proc/{proc.pid}/status").read_text().splitlines() if ln.startswith("SigBlk"))
    assert int(blocked.split()[1], 16) & (1 << (signal.SIGINT - 1)) == 0, blocked
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=10) == 130 and saved.read_text() == "saved"


def test_a_restart_stops_what_is_left_of_its_jobs_on_a_node(tmp_path: Path) -> None:
    saved = tmp_path / "saved"
    ours = f"{tmp_path}/data#7"
    left = _start(SAVES_ON_INT, str(saved), env={MARKER_ENV: ours})
    stubborn = _start(IGNORES_INT, env={MARKER_ENV: f"{tmp_path}/data#8"})
    other = _start(IGNORES_INT, env={MARKER_ENV: f"{tmp_path}/other-console#7"})  # not this console's
    try:
        for p in (left, stubborn):
            assert p.stdout is not None and p.stdout.readline().strip() == b"ready"
        wait_for(lambda: len(rr._processes_with({ours, f"{tmp_path}/data#8"})) == 2, 10, "the markers to show")
        found = rr.reap([ours, f"{tmp_path}/data#8", f"{tmp_path}/data#9"], stop_timeout_s=2.0)
        assert found == sorted([ours, f"{tmp_path}/data#8"])
        assert left.wait(timeout=10) == 130 and saved.read_text() == "saved"  # stopped cleanly: it saved
        assert stubborn.wait(timeout=10) == -signal.SIGKILL  # after the stop timeout
        assert other.poll() is None  # another console's job is left alone
    finally:
        for p in (left, stubborn, other):
            if p.poll() is None:
                p.kill()
                p.wait()


def test_bad_ray_settings_are_refused_with_what_to_do(tmp_path: Path) -> None:
    from deepracer.errors import ConfigError
    from deepracer_console.settings import Settings

    with pytest.raises(ConfigError, match="--ray needs --shared-storage PATH"):
        rr.check_cluster(Settings(data_dir=tmp_path / "data", ray_address="127.0.0.1:6379"))
    with pytest.raises(ConfigError, match=r"nothing answers there .*ray start --head --port"):
        rr._reachable(f"127.0.0.1:{free_port()}")  # at once, not after Ray's minutes of retries
    with pytest.raises(ConfigError, match="not HOST:PORT"):
        rr._reachable("head:port")

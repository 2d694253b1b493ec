"""A job's CPU share (sandbox Limits.cpus, --job-cpus, a Ray task's num_cpus) is enforced by the
cgroup cpu controller where the console may create cgroups: a busy job given 0.3 CPU gets about
0.3 CPU, however idle the machine is."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from testenv import skip_or_fail

from deepracer_console import sandbox as sbx

pytestmark = pytest.mark.integration

BUSY = ("import time\nend = time.monotonic() + {seconds}\n"
        "while time.monotonic() < end:\n    pass\nprint(time.process_time())\n")


def _cpu_controller() -> Path | None:
    groups = sbx.cgroups()
    if groups.v2:
        return sbx.CGROUP_V2 if "cpu" in (sbx.CGROUP_V2 / "cgroup.subtree_control").read_text().split() else None
    return groups.v1.get("cpu")


def test_a_job_gets_its_cpu_share_and_no_more(tmp_path: Path) -> None:
    problem = sbx.probe()
    if problem is not None:
        skip_or_fail(f"no working sandbox here: {problem}")
    root = _cpu_controller()
    if root is None:
        pytest.skip("the cgroup cpu controller is not writable here (the share applies where it is)")
    data = tmp_path / "data"
    job = data / "models" / "1"
    job.mkdir(parents=True)
    box = sbx.Sandbox(data, None, sbx.Limits(cpus=0.3))
    name = f"cpu-test-{time.monotonic_ns()}"
    seconds = 3.0
    argv, preexec = box.command([sys.executable, "-c", BUSY.format(seconds=seconds)], [job], 1,
                                wall_s=60, cgroup_name=name)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=preexec,
                            start_new_session=True)
    try:
        folder = root / f"{sbx.CGROUP_PREFIX}{name}"
        deadline = time.monotonic() + 20.0  # bwrap and the job's cgroup can take seconds on a loaded machine
        while time.monotonic() < deadline and not (folder / "cgroup.procs").is_file():
            time.sleep(0.05)
        if root == sbx.CGROUP_V2:
            assert (folder / "cpu.max").read_text().split() == ["30000", str(sbx.CPU_PERIOD_US)]
            assert (folder / "cpu.weight").read_text().strip() == "30"
        else:
            assert (folder / "cpu.cfs_quota_us").read_text().strip() == "30000"
            assert (folder / "cpu.shares").read_text().strip() == str(round(1024 * 0.3))
        assert str(proc.pid) in (folder / "cgroup.procs").read_text().split()  # bwrap itself, and all below it
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    used = float(out.strip())
    # a busy loop would use the whole CPU (3 s) on an idle core; capped at 0.3 CPU it gets ~0.9 s
    assert used < 0.3 * seconds * 1.5, f"the busy job used {used:.2f} s of CPU in {seconds} s"
    # an ended job's cgroup is removed with the next job's; cgroup v1 refuses the rmdir while the
    # job's last processes are still being reaped, so the next cleanup gets it
    deadline = time.monotonic() + 10.0
    sbx.JobCgroups.cleanup()
    while folder.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
        sbx.JobCgroups.cleanup()
    assert not folder.exists()

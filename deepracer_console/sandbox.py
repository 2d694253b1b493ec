"""Untrusted user code (reward functions, uploaded models) runs in a bubblewrap sandbox.

Every training, evaluation and reward-validation process of the console is wrapped by
`Sandbox.wrap`: Debian's `bwrap` gives it

- no network (its own, empty network namespace), its own pid, IPC and UTS namespaces; the
  whole sandbox dies with the console (`--die-with-parent`; the pid namespace's init takes
  every process inside with it);
- the system read-only (`--ro-bind / /`), a private `/tmp` and `/dev/shm` (small tmpfs), and
  the console's data folder hidden (a tmpfs over it) except the job's own model folder
  (read-write) and the track library (read-only): other users' models, the database and the
  uploads are not there to read;
- rlimits set before bwrap starts and inherited by everything inside: CPU seconds, address
  space (memory), file size, and processes. RLIMIT_NPROC is not enforced for root, so when the
  console runs as root the job drops to a uid of its own inside the sandbox (SANDBOX_UID_BASE
  + model id) after bwrap has set up its mounts, and its folder is handed to that uid;
- a wall-clock limit that the job runner enforces (it kills the whole process group).

Not `--new-session`: the runner already starts each job in a session of its own without a
controlling terminal (so TIOCSTI has nothing to inject into), and keeping the job in the
runner's process group is what lets Stop (SIGINT to the group) reach the trainer so that it
saves its checkpoint. bwrap itself ignores SIGINT (set before exec); a tiny wrapper inside puts
the default back before it executes the job.

Without a working bwrap the console refuses to serve several users (see `probe` and
server.check_host); `--unsafe-single-user` runs jobs unsandboxed on a trusted laptop.
"""

from __future__ import annotations

import enum
import functools
import logging
import os
import re
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from deepracer_console.settings import Settings

log = logging.getLogger("deepracer_console.sandbox")

SANDBOX_UID_BASE = 200_000  # uids above every normal account; model N's jobs run as BASE + N (root only)
VALIDATION_SLOT = 0  # the uid slot for Validate runs (models start at id 1)
DEFAULT_MEMORY_MB = 4096  # address space per process; a tiny training peaks near 1.1 GB (torch + SB3)
DEFAULT_PROCS = 96  # processes/threads per sandbox uid (as root) or above the user's current count
DEFAULT_FILE_MB = 4096  # largest file a job may write
DEFAULT_TMP_MB = 512  # the private /tmp and /dev/shm (tmpfs: RAM, so bounded)
WALL_MARGIN_S = 600.0  # start-up, the final export and the video on top of a job's own budget
WALL_MARKER = "[sandbox] wall-clock limit"
_WRAPPER = ("import os,signal,sys\n"
            "signal.signal(signal.SIGINT, signal.SIG_DFL)\n"
            "u, g = int(sys.argv[1]), int(sys.argv[2])\n"
            "if u >= 0:\n"
            "    os.setgroups([]); os.setgid(g); os.setuid(u)\n"
            "os.execv(sys.argv[3], sys.argv[3:])\n")


class SandboxMode(enum.StrEnum):
    BWRAP = "bwrap"
    NONE = "none"  # --unsafe-single-user: jobs run as the console's user, unconfined


@dataclass(frozen=True)
class Limits:
    memory_mb: int = DEFAULT_MEMORY_MB
    procs: int = DEFAULT_PROCS
    file_mb: int = DEFAULT_FILE_MB
    tmp_mb: int = DEFAULT_TMP_MB
    cpu_s: int | None = None  # None: wall-clock limit × cores
    cpus: float | None = None  # the job's CPU share (cgroup cpu controller; None: no share set)


def probe(bwrap: str = "bwrap") -> str | None:
    """None when bubblewrap works here, else why not (shown when the console refuses to start)."""
    path = shutil.which(bwrap)
    if path is None:
        return ("bubblewrap (bwrap) is not installed; install it (Debian/Ubuntu: apt-get install bubblewrap) "
                "or, on a machine only you use, start with --unsafe-single-user")
    try:
        version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"{path} --version failed: {err}"
    if version.returncode != 0:
        return f"{path} --version failed: {version.stderr.strip()}"
    with tempfile.TemporaryDirectory(prefix="deepracer-sandbox-probe-") as tmp:
        box = Sandbox(Path(tmp) / "data", None, bwrap=path)
        work = Path(tmp) / "data" / "job"
        box.prepare([work], VALIDATION_SLOT)
        argv = box.wrap([sys.executable, "-c", "open('ok', 'w').write('ok')"], writable=[work],
                        uid_slot=VALIDATION_SLOT)
        try:
            run = subprocess.run(argv, capture_output=True, text=True, timeout=60, preexec_fn=box.preexec(60.0))
        except (OSError, subprocess.TimeoutExpired) as err:
            return f"a trivial sandboxed process failed: {err}"
        if run.returncode == 0 and not (work / "ok").is_file():
            return "a sandboxed process could not write to its own folder"
    if run.returncode != 0:
        return (f"bubblewrap cannot create a sandbox here ({run.stderr.strip() or f'exit {run.returncode}'}); "
                "user namespaces may be disabled (sysctl kernel.unprivileged_userns_clone=1) or the "
                "container forbids them")
    return None


class Sandbox:
    """How the console wraps a job's command line (bwrap) and limits it (rlimits)."""

    def __init__(self, data_dir: Path, tracks_dir: Path | None, limits: Limits | None = None,
                 mode: SandboxMode = SandboxMode.BWRAP, bwrap: str = "bwrap", hidden: Sequence[Path] = ()) -> None:
        self.data_dir = Path(data_dir)
        # more folders hidden like the data folder, where they exist (the shared storage of Ray jobs)
        self.hidden = [Path(p) for p in hidden if Path(p) != Path(data_dir)]
        self.tracks_dir = Path(tracks_dir) if tracks_dir else None
        self.limits = limits or Limits()
        self.mode = mode
        self.bwrap = shutil.which(bwrap) or bwrap
        self.as_root = os.geteuid() == 0

    @property
    def enabled(self) -> bool:
        return self.mode == SandboxMode.BWRAP

    def uid_for(self, uid_slot: int) -> int:
        """The uid a job runs as inside the sandbox (-1: the console's own, not root)."""
        return SANDBOX_UID_BASE + uid_slot if self.as_root else -1

    def prepare(self, writable: Sequence[Path], uid_slot: int, premade: Sequence[Path] = ()) -> None:
        """Hand the job's folders to its sandbox uid (root only), so it can write there and nowhere else.

        `premade`: folders inside them that the console itself writes to while the job runs (made
        now, so that they belong to the job rather than to the console)."""
        uid = self.uid_for(uid_slot)
        if not self.enabled or uid < 0:
            return
        for folder in premade:
            folder.mkdir(parents=True, exist_ok=True)
        for top in writable:
            top.mkdir(parents=True, exist_ok=True)
            os.lchown(top, uid, uid)
            for root, dirs, files in os.walk(top):
                for name in dirs + files:
                    os.lchown(os.path.join(root, name), uid, uid)

    def _exposed(self) -> list[Path]:
        """Folders the job must read that sit below a folder others cannot enter (e.g. python under /root)."""
        import deepracer

        wanted = {Path(sys.base_prefix), Path(sys.prefix), Path(deepracer.__file__).resolve().parents[1],
                  Path(sys.executable).resolve().parent.parent}
        return sorted(p.resolve() for p in wanted)

    def wrap(self, argv: Sequence[str], writable: Sequence[Path], uid_slot: int,
             readable: Sequence[Path] = (), cwd: Path | None = None) -> list[str]:
        if not self.enabled:
            return list(argv)
        tmp_size = str(self.limits.tmp_mb * 1024**2)
        cmd = [self.bwrap, "--die-with-parent", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
               "--unshare-cgroup-try"]
        if not self.as_root:
            cmd.append("--unshare-user")  # unprivileged bwrap needs its user namespace
        cmd += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
                "--perms", "1777", "--size", tmp_size, "--tmpfs", "/tmp",
                "--perms", "1777", "--size", tmp_size, "--tmpfs", "/dev/shm"]
        tmpfs: list[Path] = [Path("/tmp")]

        def parents_open(path: Path) -> list[str]:
            # bwrap creates missing parents 0700 inside a tmpfs: the job's uid could not enter them
            out: list[str] = []
            for parent in reversed(path.parents):
                if any(parent != t and t in parent.parents for t in tmpfs):
                    out += ["--perms", "0755", "--dir", str(parent)]
            return out

        def mount_tmpfs(path: Path) -> list[str]:
            out = parents_open(path) + ["--perms", "0755", "--tmpfs", str(path)]
            tmpfs.append(path)
            return out

        def bind(kind: str, path: Path) -> list[str]:
            return parents_open(path) + [kind, str(path), str(path)]

        if self.as_root:
            # the job drops to its own uid: folders only root may enter get a tmpfs over them,
            # with just what the interpreter needs bound back (read-only)
            exposed = self._exposed()
            for path in exposed:
                for parent in reversed(path.parents):
                    if parent != Path("/") and not (os.stat(parent).st_mode & stat.S_IXOTH) and parent not in tmpfs:
                        cmd += mount_tmpfs(parent)
                        for p in exposed:
                            if parent in p.parents:
                                cmd += bind("--ro-bind", p)
        covered = sorted([self.data_dir, *(p for p in self.hidden if p.is_dir())], key=lambda p: len(p.parts))
        for path in covered:
            cmd += mount_tmpfs(path)
        if self.tracks_dir is not None and self.tracks_dir.is_dir():
            cmd += bind("--ro-bind", self.tracks_dir)
        for path in readable:
            cmd += bind("--ro-bind", Path(path))
        for path in writable:
            cmd += bind("--bind", Path(path))
        for path in covered:
            cmd += ["--remount-ro", str(path)]  # the tmpfs over the data folder: nothing to write there
        home = str(cwd or (writable[0] if writable else "/tmp"))
        cmd += ["--chdir", home, "--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp",
                "--setenv", "MPLCONFIGDIR", "/tmp"]
        uid = self.uid_for(uid_slot)
        if uid >= 0:
            cmd += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]  # for the wrapper's drop, then gone
        cmd += ["--", sys.executable, "-c", _WRAPPER, str(uid), str(uid), *argv]
        return cmd

    def command(self, argv: Sequence[str], writable: Sequence[Path], uid_slot: int, readable: Sequence[Path] = (),
                premade: Sequence[Path] = (), wall_s: float | None = None, cgroup_name: str | None = None,
                cpus: float | None = None) -> tuple[list[str], Callable[[], None] | None]:
        """A job's command line and preexec: its folders prepared, wrapped, its limits (the job runners')."""
        if not self.enabled:
            return list(argv), None
        self.prepare(writable, uid_slot, premade)
        return (self.wrap(argv, writable, uid_slot, readable=readable),
                self.preexec(wall_s, cgroup_name=cgroup_name, cpus=cpus))

    def preexec(self, wall_s: float | None, cgroup_name: str | None = None,
                cpus: float | None = None) -> Callable[[], None] | None:
        """The rlimits, set in the child before bwrap runs (inherited by everything in the sandbox),
        and the job's cgroups (memory and processes of the whole job, its CPU share) where they are available."""
        if not self.enabled:
            return None
        lim = self.limits
        cpus = cpus if cpus is not None else lim.cpus
        groups = cgroups().create(cgroup_name, lim.memory_mb * 1024**2, lim.procs, cpus=cpus) \
            if cgroup_name and cgroups().available else []
        cpu = lim.cpu_s or int((wall_s or 24 * 3600) * max(1, os.cpu_count() or 1)) + 60
        procs = lim.procs if self.as_root else lim.procs + _threads_of_user(os.getuid())

        def apply() -> None:
            for group in groups:
                (group / "cgroup.procs").write_text(str(os.getpid()))
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 30))
            resource.setrlimit(resource.RLIMIT_AS, (lim.memory_mb * 1024**2,) * 2)
            resource.setrlimit(resource.RLIMIT_FSIZE, (lim.file_mb * 1024**2,) * 2)
            resource.setrlimit(resource.RLIMIT_NPROC, (procs, procs))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # bwrap outlives a Stop; the wrapper restores it

        return apply


CGROUP_V2 = Path("/sys/fs/cgroup")
CGROUP_V1 = {"memory": Path("/sys/fs/cgroup/memory"), "pids": Path("/sys/fs/cgroup/pids"),
             "cpu": Path("/sys/fs/cgroup/cpu")}
CPU_PERIOD_US = 100_000  # cpu.max's / cfs_period_us's period: a job of N CPUs runs N × this per period
CGROUP_PREFIX = "deepracer-job-"


class JobCgroups:
    """Per-job memory and process limits in cgroups, where the console may create them (else none).

    rlimits bound each process; a cgroup bounds the job as a whole (a fork bomb of trainer copies
    would otherwise fill the machine's memory before the process limit stops it). A job given a
    CPU share (`cpus`) gets it from the cpu controller: at most that many CPUs (cpu.max, v1
    cfs_quota_us) and that weight against the other jobs when the CPUs are busy (cpu.weight, v1
    cpu.shares)."""

    def __init__(self) -> None:
        self.v2 = (CGROUP_V2 / "cgroup.controllers").is_file() and os.access(CGROUP_V2, os.W_OK)
        self.v1 = {k: p for k, p in CGROUP_V1.items() if p.is_dir() and os.access(p, os.W_OK)}

    @property
    def available(self) -> bool:
        return self.v2 or bool(self.v1)

    def create(self, name: str, memory_bytes: int, pids: int, cpus: float | None = None) -> list[Path]:
        """The job's cgroup folders (made now; the job joins them in its preexec)."""
        self.cleanup()
        made: list[Path] = []
        try:
            if self.v2:
                d = CGROUP_V2 / f"{CGROUP_PREFIX}{name}"
                d.mkdir(exist_ok=True)
                (d / "memory.max").write_text(str(memory_bytes))
                (d / "memory.swap.max").write_text("0") if (d / "memory.swap.max").exists() else None
                (d / "pids.max").write_text(str(pids))
                if cpus is not None and (d / "cpu.max").exists():  # the cpu controller is enabled for children
                    (d / "cpu.max").write_text(f"{max(1000, round(cpus * CPU_PERIOD_US))} {CPU_PERIOD_US}")
                    (d / "cpu.weight").write_text(str(min(10000, max(1, round(100 * cpus)))))
                elif cpus is not None:
                    log.info("no CPU share for job %s: the cgroup cpu controller is not enabled here", name)
                made.append(d)
            else:
                if "memory" in self.v1:
                    d = self.v1["memory"] / f"{CGROUP_PREFIX}{name}"
                    d.mkdir(exist_ok=True)
                    (d / "memory.limit_in_bytes").write_text(str(memory_bytes))
                    made.append(d)
                if "pids" in self.v1:
                    d = self.v1["pids"] / f"{CGROUP_PREFIX}{name}"
                    d.mkdir(exist_ok=True)
                    if (d / "pids.max").exists():
                        (d / "pids.max").write_text(str(pids))
                        made.append(d)
                if cpus is not None and "cpu" in self.v1:
                    d = self.v1["cpu"] / f"{CGROUP_PREFIX}{name}"
                    d.mkdir(exist_ok=True)
                    (d / "cpu.cfs_period_us").write_text(str(CPU_PERIOD_US))
                    (d / "cpu.cfs_quota_us").write_text(str(max(1000, round(cpus * CPU_PERIOD_US))))
                    (d / "cpu.shares").write_text(str(max(2, round(1024 * cpus))))
                    made.append(d)
        except OSError as err:  # a controller we may not use: rlimits still apply
            log.warning("cgroup limits not applied to job %s: %s", name, err)
        return made

    @staticmethod
    def cleanup() -> None:
        """Remove the cgroups of jobs that have ended (rmdir fails while processes remain)."""
        for root in [CGROUP_V2, *CGROUP_V1.values()]:
            for d in root.glob(f"{CGROUP_PREFIX}*") if root.is_dir() else ():
                try:
                    d.rmdir()
                except OSError:
                    pass


@functools.cache
def cgroups() -> JobCgroups:
    return JobCgroups()


@functools.cache
def cached_probe() -> str | None:
    return probe()


class SandboxUnavailable(RuntimeError):
    pass


def for_settings(settings: Settings) -> Sandbox:
    """The console's sandbox: bwrap when it works (`sandbox="auto"`), required (`"bwrap"`) or off (`"none"`)."""
    mode = SandboxMode.NONE if settings.unsafe_single_user or settings.sandbox == "none" else SandboxMode.BWRAP
    if mode == SandboxMode.BWRAP:
        problem = cached_probe()
        if problem is not None:
            if settings.sandbox == "bwrap":
                raise SandboxUnavailable(problem)
            log.warning("jobs run WITHOUT a sandbox: %s", problem)
            mode = SandboxMode.NONE
    limits = Limits(memory_mb=settings.job_memory_mb or DEFAULT_MEMORY_MB)
    hidden = [settings.shared_storage] if settings.shared_storage is not None else []
    return Sandbox(settings.data_dir, settings.tracks_dir, limits, mode, hidden=hidden)


def _threads_of_user(uid: int) -> int:
    """RLIMIT_NPROC counts every thread of the user, so an unprivileged console adds its own count."""
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += len(os.listdir(entry / "task"))
            except OSError:
                continue
    return count


def wall_limit_s(kind: str, max_minutes: float | None, max_steps: int | None, evaluation_s: float) -> float:
    """A job's wall-clock limit: its own budget plus a margin (a steps-limited training: one day)."""
    if kind == "evaluate":
        return evaluation_s + WALL_MARGIN_S
    if max_steps:
        return 24 * 3600.0
    return float(max_minutes or 0) * 60.0 + WALL_MARGIN_S


_NAMED: list[tuple[re.Pattern[str], str]] = [
    (re.compile(re.escape(WALL_MARKER) + r"[^\n]*"), "wall-clock limit reached"),
    (re.compile(r"MemoryError|Cannot allocate memory|std::bad_alloc|out of memory", re.I),
     "memory limit reached"),
    (re.compile(r"Resource temporarily unavailable|BlockingIOError|can't start new thread", re.I),
     "process limit reached"),
    (re.compile(r"Network is unreachable|Connection refused|Name or service not known|"
                r"Temporary failure in name resolution|Cannot assign requested address", re.I),
     "network access refused (no network in the sandbox)"),
    (re.compile(r"Read-only file system", re.I), "write outside its folder refused (read-only)"),
    (re.compile(r"No such file or directory|Permission denied", re.I),
     "file outside its folder not accessible"),
    (re.compile(r"File size limit exceeded", re.I), "file size limit reached"),
]


def explain(log_tail: str, exit_code: int) -> str | None:
    """Which sandbox limit stopped a job, named for the user (None: not the sandbox)."""
    if WALL_MARKER in log_tail:
        return "sandbox: wall-clock limit reached"
    if exit_code == -signal.SIGXCPU:
        return "sandbox: CPU time limit reached"
    if exit_code == -signal.SIGXFSZ:
        return "sandbox: file size limit reached"
    for pattern, name in _NAMED[1:]:
        if pattern.search(log_tail):
            return f"sandbox: {name}"
    if exit_code in (137, -signal.SIGKILL):
        return "sandbox: killed (the job's memory limit, or a forced stop)"
    return None

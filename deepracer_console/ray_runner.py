"""Jobs on a Ray cluster: `deepracer console --ray ADDRESS --shared-storage PATH` (docs/event-server.md).

The console stays the only place that decides: it queues, schedules, polls and reads results, as
the embedded runner does (`jobs.JobRunner`, whose code this shares). What changes is where a job's
process runs: each training or evaluation (and its video) is one Ray task, `run_job`, that asks
for the job's CPU share (`num_cpus`) and starts the same `deepracer train` / `deepracer evaluate`
command in the same bubblewrap sandbox (`sandbox.py`), set up on the worker by the worker (its
bwrap, its cgroups, its uid). Everything a job reads or writes is on the shared storage: models/
and tracks/ live under `--shared-storage`, which every node mounts at the same path; the console's
data folder (database, secret key, uploads) stays on the console's machine and is hidden from
jobs on every node as it is at home.

- Stop: SIGINT for the job = `ray.cancel` of its task (KeyboardInterrupt in the task, which passes
  SIGINT to the job's process group so the trainer saves its checkpoint); a kill (after the stop
  timeout, the wall-clock limit, a delete) is a request in the control folder that the task obeys
  within `POLL_S`, and if the task itself does not answer, a forced cancel: Ray kills the worker
  and bwrap's --die-with-parent takes the sandbox with it.
- A console that dies takes its tasks with it (Ray ends a driver's tasks). On the next start
  `recover` first looks on every node for processes of jobs still marked running (by the job
  marker in their environment), stops them as the embedded runner does, then resumes each from
  its checkpoint or fails it with the reason.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from deepracer.errors import ConfigError
from deepracer_console import sandbox as sbx
from deepracer_console.db import Job, JobKind, JobState
from deepracer_console.jobs import MARKER_ENV, JobRunner
from deepracer_console.settings import Settings
from deepracer_console.storage import Storage

log = logging.getLogger("deepracer_console.ray")

RAY_NAMESPACE = "deepracer-console"
POLL_S = 0.2  # how often a task looks at its process and its control file
FORCE_CANCEL_AFTER_S = 15.0  # a kill the task has not carried out by then: Ray kills its worker
CLUSTER_CPUS_TTL_S = 5.0  # how long the cluster's CPU count is trusted
CHECK_TIMEOUT_S = 120.0  # per node, at start-up
CONNECT_TIMEOUT_S = 5.0  # the head's port must answer this fast
CONTROL_DIR = "ray-control"  # in the shared storage, outside every job's sandbox
# Ray turns 127.0.0.1 into the machine's outward address unless told that the cluster is this
# machine alone (the variable's name is Ray's; it is not only about Windows and macOS)
RAY_LOCAL_ONLY_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


# -- what travels to the worker and back (typed records, pickled by Ray) ------------------------------
@dataclass(frozen=True)
class TaskSpec:
    job_id: int
    argv: list[str]
    python: str  # the console's interpreter in argv; the worker puts its own in its place
    log_path: str
    stdout_path: str | None
    control_path: str
    cwd: str
    env: dict[str, str]  # added to the worker's environment (the job marker, the track library)
    cpus: float
    sandboxed: bool
    files_dir: str  # the shared storage: hidden in the sandbox except the job's folders
    hidden: list[str]  # more folders hidden where a node has them (the console's data folder)
    tracks_dir: str | None
    writable: list[str] = field(default_factory=list)
    readable: list[str] = field(default_factory=list)
    premade: list[str] = field(default_factory=list)
    uid_slot: int = 0
    wall_s: float | None = None
    memory_mb: int = sbx.DEFAULT_MEMORY_MB
    cgroup_name: str | None = None


@dataclass(frozen=True)
class TaskResult:
    exit_code: int
    node_id: str
    pid: int | None


@dataclass(frozen=True)
class NodeCheck:
    node_id: str
    address: str
    problem: str | None


# -- on the worker ------------------------------------------------------------------------------------
def _killpg(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _node_id() -> str:
    import ray

    return ray.get_runtime_context().get_node_id()


def _control(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def _supervise(proc: subprocess.Popen, control: Path) -> int:
    """Wait for the job's process; pass on Stop (ray.cancel -> KeyboardInterrupt) and kill requests."""
    sent: set[int] = set()

    def send(sig: int) -> None:
        if sig not in sent:
            sent.add(sig)
            _killpg(proc.pid, sig)

    while True:
        try:
            while proc.poll() is None:
                request = _control(control)
                if request == "KILL":
                    send(signal.SIGKILL)
                elif request == "INT":
                    send(signal.SIGINT)
                time.sleep(POLL_S)
            return proc.returncode
        except KeyboardInterrupt:  # the console's Stop: the trainer saves its checkpoint on SIGINT
            send(signal.SIGINT)


def _clean_signals(inner: Any) -> Any:
    """The child's signals as a shell would give them: a Ray worker blocks SIGINT (the mask is
    inherited through exec, so the trainer would never see a Stop) and ignores SIGQUIT."""

    def preexec() -> None:
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        if inner is not None:
            inner()  # the sandbox's: limits, cgroups, and SIGINT ignored by bwrap (its wrapper restores it)

    return preexec


def run_job(spec: TaskSpec) -> TaskResult:
    """One process of a job on this node, sandboxed as at home; its output in the job's log."""
    node = _node_id()
    control = Path(spec.control_path)
    proc: subprocess.Popen | None = None
    with open(spec.log_path, "ab", buffering=0) as log_file:
        log_file.write(f"[ray] job {spec.job_id} on node {node} ({socket.gethostname()}), {spec.cpus:g} CPU, "
                       f"worker pid {os.getpid()}\n".encode())
        argv = [sys.executable if a == spec.python else a for a in spec.argv]
        preexec = None
        if spec.sandboxed:
            problem = sbx.cached_probe()
            if problem is not None:
                log_file.write(f"deepracer console: no sandbox on Ray node {node}: {problem}\n".encode())
                return TaskResult(1, node, None)
            box = sbx.Sandbox(Path(spec.files_dir), Path(spec.tracks_dir) if spec.tracks_dir else None,
                              sbx.Limits(memory_mb=spec.memory_mb), hidden=[Path(p) for p in spec.hidden])
            argv, preexec = box.command(argv, [Path(p) for p in spec.writable], spec.uid_slot,
                                        readable=[Path(p) for p in spec.readable],
                                        premade=[Path(p) for p in spec.premade], wall_s=spec.wall_s,
                                        cgroup_name=spec.cgroup_name, cpus=spec.cpus)
        stdout_file = open(spec.stdout_path, "wb") if spec.stdout_path else None
        try:
            proc = subprocess.Popen(argv, stdout=stdout_file or log_file, stderr=log_file, stdin=subprocess.DEVNULL,
                                    cwd=spec.cwd, env=dict(os.environ) | spec.env, start_new_session=True,
                                    preexec_fn=_clean_signals(preexec))
            return TaskResult(_supervise(proc, control), node, proc.pid)
        finally:
            if proc is not None and proc.poll() is None:  # leaving early: nothing of the job outlives its task
                _killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            if stdout_file is not None:
                stdout_file.close()


def _processes_with(markers: set[str]) -> dict[int, str]:
    """pid -> marker of every live process on this node that carries one of the job markers."""
    wanted = {f"{MARKER_ENV}={m}".encode(): m for m in markers}
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            env = (entry / "environ").read_bytes().split(b"\0")
            if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
        except (OSError, IndexError):
            continue
        for item in env:
            if item in wanted:
                found[int(entry.name)] = wanted[item]
    return found


def reap(markers: list[str], stop_timeout_s: float) -> list[str]:
    """Stop what is left on this node of jobs a previous console ran: SIGINT (the trainer saves), then
    SIGKILL after the stop timeout. Returns the markers that were found."""
    found = _processes_with(set(markers))
    groups = {os.getpgid(pid) for pid in found if _exists(pid)}
    for pgid in groups:
        _killpg(pgid, signal.SIGINT)
    deadline = time.monotonic() + stop_timeout_s
    while _processes_with(set(markers)) and time.monotonic() < deadline:
        time.sleep(0.5)
    for pid in _processes_with(set(markers)):
        _killpg(pid, signal.SIGKILL)
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return sorted(set(found.values()))


def _exists(pid: int) -> bool:
    try:
        os.getpgid(pid)
    except OSError:
        return False
    return True


def check_node(probe_path: str, token: str, sandboxed: bool) -> NodeCheck:
    """On one node: does it see the shared storage (the console's probe file), does the sandbox work?"""
    node = _node_id()
    address = socket.gethostname()
    try:
        seen = Path(probe_path).read_text(encoding="utf-8")
    except OSError as err:
        return NodeCheck(node, address, f"cannot read the shared storage ({err})")
    if seen != token:
        return NodeCheck(node, address, f"{probe_path} differs from the console's: not the same shared storage")
    if sandboxed:
        problem = sbx.cached_probe()
        if problem is not None:
            return NodeCheck(node, address, f"no sandbox: {problem}")
    return NodeCheck(node, address, None)


# -- in the console -----------------------------------------------------------------------------------
def connect(address: str) -> Any:
    """ray.init on the cluster at `address` (host:port, or auto); returns the ray module."""
    from deepracer_console.server import is_loopback

    host = address.removeprefix("ray://").rsplit(":", 1)[0].strip("[]")
    if is_loopback(host):
        os.environ.setdefault(RAY_LOCAL_ONLY_ENV, "0")  # read when ray is imported
    try:
        import ray
    except ModuleNotFoundError:
        raise ConfigError("--ray needs Ray in the console's Python: pip install -e '.[ray]' "
                          "(make setup-train installs it)") from None
    if not ray.is_initialized():
        _reachable(address)
        try:
            ray.init(address=address, namespace=RAY_NAMESPACE, log_to_driver=False, logging_level=logging.WARNING)
        except Exception as err:  # ConnectionError, version mismatch, ...: all the same to the user
            raise ConfigError(f"--ray {address}: cannot connect to the Ray cluster: {err}") from None
    return ray


def _reachable(address: str) -> None:
    """A quick TCP look at the head's port: ray.init would retry for minutes before it says anything."""
    if address == "auto" or address.startswith("ray://") or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except ValueError:
        raise ConfigError(f"--ray {address}: not HOST:PORT (the head's address, e.g. 10.0.0.5:6379)") from None
    except OSError as err:
        raise ConfigError(f"--ray {address}: nothing answers there ({err.strerror or err}); is the Ray head running "
                          f"(ray start --head --port {port})?") from None


@functools.cache
def _remote(fn: Any) -> Any:
    import ray

    return ray.remote(fn)


def _on_node(ray: Any, node_id: str) -> Any:
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    return NodeAffinitySchedulingStrategy(node_id=node_id, soft=False)


def alive_nodes(ray: Any) -> list[dict[str, Any]]:
    return [n for n in ray.nodes() if n.get("Alive")]


def check_cluster(settings: Settings) -> list[NodeCheck]:
    """At start-up: the cluster answers, has CPUs, and each node sees the shared storage and has the
    sandbox (unless --unsafe-single-user). Raises ConfigError naming the nodes that do not."""
    if settings.shared_storage is None:
        raise ConfigError("--ray needs --shared-storage PATH: a folder every Ray node mounts at the same path, "
                          "where the jobs read and write their models")
    ray = connect(settings.ray_address or "auto")
    control = settings.files_dir / CONTROL_DIR
    control.mkdir(parents=True, exist_ok=True)
    probe = control / f"probe-{secrets.token_hex(8)}"
    token = secrets.token_hex(16)
    probe.write_text(token, encoding="utf-8")
    try:
        nodes = alive_nodes(ray)
        refs = [_remote(check_node).options(num_cpus=0, scheduling_strategy=_on_node(ray, n["NodeID"]))
                .remote(str(probe), token, _workers_sandboxed(settings)) for n in nodes]
        results: list[NodeCheck] = []
        for node, ref in zip(nodes, refs, strict=True):
            try:
                results.append(ray.get(ref, timeout=CHECK_TIMEOUT_S))
            except Exception as err:
                results.append(NodeCheck(node["NodeID"], node.get("NodeManagerAddress", "?"),
                                         f"did not answer the check: {err}"))
    finally:
        probe.unlink(missing_ok=True)
    bad = [r for r in results if r.problem]
    if bad:
        raise ConfigError("--ray: these Ray nodes cannot run the console's jobs: " + "; ".join(
            f"node {r.node_id[:12]} ({r.address}): {r.problem}" for r in bad))
    if ray.cluster_resources().get("CPU", 0) <= 0:
        raise ConfigError(f"--ray {settings.ray_address}: the cluster has no CPUs for jobs")
    return results


def _workers_sandboxed(settings: Settings) -> bool:
    """On the workers the sandbox is required unless the console was told --unsafe-single-user."""
    return not (settings.unsafe_single_user or settings.sandbox == "none")


class RayTask:
    """A job's process running as a Ray task: what the job runner needs of a Popen."""

    def __init__(self, ray: Any, ref: Any, control: Path, log_file: Any) -> None:
        self.ray, self.ref, self.control, self.log_file = ray, ref, control, log_file
        self.pid: int | None = None  # on another machine, perhaps: never signalled from here
        self.returncode: int | None = None
        self.node_id: str | None = None
        self._cancelled = False
        self._kill_at: float | None = None
        self._forced = False

    def poll(self) -> int | None:
        if self.returncode is not None:
            return self.returncode
        ready, _ = self.ray.wait([self.ref], timeout=0)
        if ready:
            self.returncode = self._collect()
            return self.returncode
        if self._kill_at is not None and not self._forced and time.monotonic() - self._kill_at > FORCE_CANCEL_AFTER_S:
            log.warning("a Ray task did not carry out its kill: cancelling it by force")
            self._forced = True
            self.ray.cancel(self.ref, force=True)
        return None

    def _note(self, text: str) -> None:
        try:
            self.log_file.write(f"{text}\n".encode())
        except (OSError, ValueError):
            pass

    def _collect(self) -> int:
        from ray.exceptions import RayError, TaskCancelledError

        try:
            result: TaskResult = self.ray.get(self.ref)
        except TaskCancelledError:
            self._note("[ray] the task was cancelled before its process started")
            return -signal.SIGINT
        except RayError as err:
            if self._forced:
                self._note("[ray] the task was killed (it did not stop in time)")
                return -signal.SIGKILL
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            self._note(f"deepracer console: the Ray task of this job failed ({type(err).__name__}): {first}")
            return 1
        self.pid, self.node_id = result.pid, result.node_id
        return result.exit_code

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            code = self.poll()
            if code is not None:
                return code
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired("ray task", timeout or 0.0)
            if self._forced and self._kill_at is not None and time.monotonic() - self._kill_at > 4 * FORCE_CANCEL_AFTER_S:
                self._note("[ray] the task did not end after a forced cancel; giving up on it")
                self.returncode = -signal.SIGKILL
                return self.returncode
            left = 1.0 if deadline is None else max(0.01, min(1.0, deadline - time.monotonic()))
            self.ray.wait([self.ref], timeout=left)

    def signal(self, sig: int) -> None:
        """SIGINT: ray.cancel (the task passes SIGINT on); SIGKILL: the control file, then a forced cancel."""
        try:
            self.control.write_text("KILL" if sig == signal.SIGKILL else "INT", encoding="utf-8")
        except OSError as err:
            log.warning("cannot write %s: %s", self.control, err)
        if sig == signal.SIGKILL:
            self._kill_at = self._kill_at or time.monotonic()
        elif not self._cancelled:
            self._cancelled = True
            self.ray.cancel(self.ref)


class RayRunner(JobRunner):
    """The job runner with each job's processes as Ray tasks (see the module's docstring)."""

    kind = "ray"

    def __init__(self, settings: Settings, sessions: sessionmaker, storage: Storage) -> None:
        super().__init__(settings, sessions, storage)
        self.control_dir = settings.files_dir / CONTROL_DIR
        self._cpus = (0.0, -1e9)  # the cluster's CPUs, when they were read
        self.ray: Any = None
        # cgroups of two consoles on one node must not meet: the console's data folder in the name
        self._tag = hashlib.sha1(str(settings.data_dir).encode()).hexdigest()[:8]

    def start(self) -> None:
        self.ray = connect(self.settings.ray_address or "auto")
        self.control_dir.mkdir(parents=True, exist_ok=True)
        super().start()

    def shutdown(self) -> None:
        super().shutdown()  # SIGINT (ray.cancel) to every job, wait for them to save, as at home
        if self.ray is not None and self.ray.is_initialized():
            self.ray.shutdown()

    # -- scheduling ------------------------------------------------------------------------------------
    def cluster_cpus(self) -> float:
        value, when = self._cpus
        if time.monotonic() - when > CLUSTER_CPUS_TTL_S and self.ray is not None:
            try:
                value = float(self.ray.cluster_resources().get("CPU", 0.0))
            except Exception as err:  # the head is unreachable for a moment: keep what we knew
                log.warning("cannot read the Ray cluster's resources: %s", err)
            self._cpus = (value, time.monotonic())
        return value

    def capacity(self) -> int:
        """As many jobs as the cluster's CPUs hold at each job's share; --max-jobs caps it."""
        if self.ray is None:
            return self.settings.max_jobs if self.settings.max_jobs > 0 else 0
        share = max(self.cpu_share(JobKind.TRAIN), self.cpu_share(JobKind.EVALUATE))
        slots = int(self.cluster_cpus() // share)
        return min(self.settings.max_jobs, slots) if self.settings.max_jobs > 0 else slots

    # -- a job's process as a Ray task -----------------------------------------------------------------
    def _start_process(self, job: Job, argv: list[str], log_file: Any,
                       stdout_path: Path | None = None) -> tuple[Any, Any]:
        sandboxed = _workers_sandboxed(self.settings) and job.model_id is not None
        writable, readable, premade = self._folders(job) if job.model_id is not None else ([], [], [])
        env = {k: v for k, v in self._env(job.id).items() if os.environ.get(k) != v}
        control = self.control_dir / f"{job.id}"
        control.unlink(missing_ok=True)
        cpus = self.cpu_share(job.kind)
        spec = TaskSpec(
            job_id=job.id, argv=list(argv), python=sys.executable, log_path=str(job.log_path),
            stdout_path=str(stdout_path) if stdout_path else None, control_path=str(control),
            cwd=str(self.settings.files_dir), env=env, cpus=cpus, sandboxed=sandboxed,
            files_dir=str(self.settings.files_dir), hidden=[str(self.settings.data_dir)],
            tracks_dir=str(self.settings.tracks_dir), writable=[str(p) for p in writable],
            readable=[str(p) for p in readable], premade=[str(p) for p in premade],
            uid_slot=job.model_id or sbx.VALIDATION_SLOT, wall_s=self._wall_limit(job),
            memory_mb=self.sandbox.limits.memory_mb, cgroup_name=f"{self._tag}-{job.id}")
        ref = _remote(run_job).options(num_cpus=cpus, max_retries=0, retry_exceptions=False,
                                       name=f"deepracer-job-{job.id}").remote(spec)
        return RayTask(self.ray, ref, control, log_file), None

    def _signal(self, proc: Any, sig: int) -> None:
        proc.signal(sig)

    # -- a console restart ------------------------------------------------------------------------------
    def recover(self) -> None:
        """Stop what is left anywhere in the cluster of the jobs marked running, then resume or fail
        them with the reason (JobRunner.recover)."""
        with self.sessions() as db:
            ids = db.scalars(select(Job.id).where(Job.state == JobState.RUNNING)).all()
        if ids and self.ray is not None:
            markers = [self.marker(i) for i in ids]
            refs = [_remote(reap).options(num_cpus=0, scheduling_strategy=_on_node(self.ray, n["NodeID"]))
                    .remote(markers, self.settings.stop_timeout_s) for n in alive_nodes(self.ray)]
            for ref in refs:
                try:
                    found = self.ray.get(ref, timeout=self.settings.stop_timeout_s + CHECK_TIMEOUT_S)
                except Exception as err:
                    log.warning("a Ray node did not answer the search for old jobs: %s", err)
                    continue
                for marker in found:
                    log.info("job %s was still running in the cluster: stopped", marker)
        super().recover()

"""The job runner: a queue of `deepracer train` / `deepracer evaluate` processes with a limit on
how many run at once.

Each job is a process of its own in its own process group (start_new_session), its stdout and
stderr in the job's log file, its state written to the database as it changes. A thread looks
at the processes and the queue every `poll_interval_s`.

- Stop = SIGINT to the process group: `deepracer train` stops as on Ctrl-C (saves the latest
  checkpoint, keeps the best model package); after `stop_timeout_s` the group is killed.
- Console shutdown stops running trainings the same clean way and leaves them marked running;
- on start-up a job marked running whose process is gone is resumed (training: `--resume` from
  its latest checkpoint, with what is left of its time or step budget) or, without a checkpoint,
  marked failed with the reason; an evaluation is queued again. Nothing is lost silently.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from deepracer_console import metrics
from deepracer_console import sandbox as sbx
from deepracer_console.db import (
    Evaluation,
    EvaluationStatus,
    Job,
    JobKind,
    JobState,
    Model,
    ModelStatus,
    utcnow,
)
from deepracer_console.settings import Settings
from deepracer_console.storage import Storage

log = logging.getLogger("deepracer_console.jobs")

EVALUATION_SECONDS = 20 * 60  # DeepRacer on AWS's evaluation time limit
MARKER_ENV = "DEEPRACER_CONSOLE_JOB"  # set in every job's environment: which job a process is
RACE_FILE = "race.json"  # a model's inputs/ or an evaluation's folder: the race type's checked options


def write_race_options(folder: Path, options: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / RACE_FILE).write_text(json.dumps(options, indent=2) + "\n", encoding="utf-8")


def read_race_options(folder: Path) -> dict[str, Any]:
    """The options written at creation ({} when there are none: DeepRacer's defaults)."""
    try:
        data = json.loads((folder / RACE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@dataclass
class _Running:
    job_id: int
    proc: subprocess.Popen
    log_file: Any
    phase: str = "main"  # evaluation: "main" (deepracer evaluate), then "video"
    stdout_file: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


def _killpg(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def job_marker(data_dir: Path, job_id: int) -> str:
    """MARKER_ENV's value: the console's data folder and the job (ids repeat across consoles)."""
    return f"{data_dir}#{job_id}"


def _is_our_job(pid: int, marker: str) -> bool:
    """Is `pid` still the process of the job with `marker` (and not a recycled pid)?"""
    try:
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    return f"{MARKER_ENV}={marker}".encode() in env


class JobRunner:
    """The embedded runner: jobs are processes of this machine. ray_runner.RayRunner runs the same
    jobs as Ray tasks; both share everything here but how a process starts, is signalled and ends."""

    kind = "embedded"

    def __init__(self, settings: Settings, sessions: sessionmaker, storage: Storage) -> None:
        self.settings = settings
        self.sessions = sessions
        self.storage = storage
        self.running: dict[int, _Running] = {}
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.shutting_down = False
        self.sandbox = sbx.for_settings(settings)

    # -- life cycle --------------------------------------------------------------------------
    def start(self) -> None:
        self.recover()
        self._thread = threading.Thread(target=self._loop, name="job-runner", daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        """Stop the running jobs cleanly and leave them to be resumed on the next start.

        The runner's thread must outlive its jobs: it forked them, and bwrap's --die-with-parent
        (PR_SET_PDEATHSIG) SIGKILLs a sandbox the moment the *thread* that forked it ends, so
        joining it first killed every training before its SIGINT could save a checkpoint. The
        lock keeps the thread's tick from taking the stopped jobs' exits for ordinary endings."""
        self.shutting_down = True
        with self._lock:
            for r in list(self.running.values()):
                self._signal(r.proc, signal.SIGINT)
            deadline = time.monotonic() + self.settings.stop_timeout_s
            for r in list(self.running.values()):
                try:
                    r.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    self._signal(r.proc, signal.SIGKILL)
                    r.proc.wait()
                r.log_file.close()
                if r.stdout_file is not None:
                    r.stdout_file.close()
            self.running.clear()  # their rows stay `running`: recover() resumes them
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def wake(self) -> None:
        self._wake.set()

    def marker(self, job_id: int) -> str:
        return job_marker(self.settings.data_dir, job_id)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # the runner must outlive any one bad job
                log.exception("job runner tick failed")
            self._wake.wait(self.settings.poll_interval_s)
            self._wake.clear()

    # -- queueing ------------------------------------------------------------------------------
    def queue_training(self, db: Session, model: Model, resume: bool = False) -> Job:
        job = Job(kind=JobKind.TRAIN, model_id=model.id, state=JobState.QUEUED, resume=resume,
                  log_path=str(self.storage.log_path(model.id, f"train-{int(time.time() * 1000)}")))
        model.status = ModelStatus.QUEUED
        model.failure_reason = None
        db.add(job)
        db.flush()
        self.wake()
        return job

    def queue_evaluation(self, db: Session, evaluation: Evaluation) -> Job:
        job = Job(kind=JobKind.EVALUATE, model_id=evaluation.model_id, evaluation_id=evaluation.id,
                  state=JobState.QUEUED,
                  log_path=str(self.storage.evaluation_dir(evaluation.model_id, evaluation.id) / "evaluate.log"))
        evaluation.status = EvaluationStatus.QUEUED
        db.add(job)
        db.flush()
        self.wake()
        return job

    def counts(self) -> tuple[int, int]:
        with self.sessions() as db:
            running = len(db.scalars(select(Job.id).where(Job.state == JobState.RUNNING)).all())
            queued = len(db.scalars(select(Job.id).where(Job.state == JobState.QUEUED)).all())
        return running, queued

    # -- stop / delete ---------------------------------------------------------------------------
    def stop_model(self, db: Session, model: Model) -> None:
        """Stop training: a queued job is cancelled, a running one gets SIGINT (then SIGKILL)."""
        jobs = db.scalars(select(Job).where(Job.model_id == model.id, Job.kind == JobKind.TRAIN,
                                            Job.state.in_([JobState.QUEUED, JobState.RUNNING]))).all()
        for job in jobs:
            if job.state == JobState.QUEUED:
                job.state, job.finished_at = JobState.FINISHED, utcnow()
                job.failure_reason = "stopped before it started"
                self._finish_model(db, model, job, stopped=True)
            else:
                job.stop_requested_at = utcnow()
                model.status = ModelStatus.STOPPING
                with self._lock:
                    r = self.running.get(job.id)
                    if r is not None:
                        self._signal(r.proc, signal.SIGINT)
                    elif job.pid and _is_our_job(job.pid, self.marker(job.id)):
                        _killpg(job.pid, signal.SIGINT)
        self.wake()

    def kill_model_jobs(self, db: Session, model_id: int, timeout_s: float = 10.0) -> None:
        """Before a delete: every job of the model stopped (SIGINT, then SIGKILL after timeout_s)."""
        jobs = db.scalars(select(Job).where(Job.model_id == model_id,
                                            Job.state.in_([JobState.QUEUED, JobState.RUNNING]))).all()
        with self._lock:
            for job in jobs:
                job.state = JobState.FAILED
                job.failure_reason = "model deleted"
                r = self.running.pop(job.id, None)
                if r is None:
                    continue
                self._stop_and_close(r, timeout_s)

    def _stop_and_close(self, r: Any, timeout_s: float) -> None:
        """A running job stopped (SIGINT, then SIGKILL after timeout_s) and its log files closed."""
        self._signal(r.proc, signal.SIGINT)
        try:
            r.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self._signal(r.proc, signal.SIGKILL)
            r.proc.wait()
        r.log_file.close()
        if r.stdout_file is not None:
            r.stdout_file.close()

    def kill_evaluation_jobs(self, db: Session, evaluation_ids: list[int], reason: str,
                             timeout_s: float = 10.0) -> None:
        """Before a race is deleted: its submissions' evaluation jobs cancelled or stopped (SIGINT,
        then SIGKILL after timeout_s), marked failed with the reason."""
        if not evaluation_ids:
            return
        jobs = db.scalars(select(Job).where(Job.evaluation_id.in_(evaluation_ids),
                                            Job.state.in_([JobState.QUEUED, JobState.RUNNING]))).all()
        with self._lock:
            for job in jobs:
                job.state, job.finished_at = JobState.FAILED, utcnow()
                job.failure_reason = reason
                evaluation = db.get(Evaluation, job.evaluation_id)
                if evaluation is not None:
                    evaluation.status = EvaluationStatus.FAILED
                r = self.running.pop(job.id, None)
                if r is None:
                    continue
                self._stop_and_close(r, timeout_s)

    # -- recovery ----------------------------------------------------------------------------------
    def recover(self) -> None:
        """Jobs left `running` by a previous console: resume, re-queue or fail them with a reason."""
        with self.sessions.begin() as db:
            for job in db.scalars(select(Job).where(Job.state == JobState.RUNNING)).all():
                if job.pid and _alive(job.pid) and _is_our_job(job.pid, self.marker(job.id)):
                    # the console died but its job did not: stop it cleanly, then resume it
                    _killpg(job.pid, signal.SIGINT)
                    deadline = time.monotonic() + self.settings.stop_timeout_s
                    while _alive(job.pid) and time.monotonic() < deadline:
                        time.sleep(0.2)
                    if _alive(job.pid):
                        _killpg(job.pid, signal.SIGKILL)
                job.state, job.finished_at = JobState.FAILED, utcnow()
                job.failure_reason = "the console stopped while this job ran"
                if job.kind == JobKind.TRAIN:
                    model = db.get(Model, job.model_id)
                    if model is None:
                        continue
                    folder = self.storage.training_dir(model.id)
                    if job.stop_requested_at is not None:
                        self._finish_model(db, model, job, stopped=True)
                    elif (folder / "checkpoints" / "latest.zip").is_file():
                        self._account_time(model, job)
                        self.queue_training(db, model, resume=True)
                        log.info("model %s: training resumed after a console restart", model.name)
                    else:
                        model.status = ModelStatus.FAILED
                        model.failure_reason = ("the console stopped while this model trained, before its "
                                                "first checkpoint was saved; clone or create it again")
                        model.finished_at = utcnow()
                else:
                    evaluation = db.get(Evaluation, job.evaluation_id)
                    if evaluation is not None:
                        self.queue_evaluation(db, evaluation)

    # -- the loop's work ---------------------------------------------------------------------------
    def tick(self) -> None:
        with self._lock:
            for job_id, r in list(self.running.items()):
                code = r.proc.poll()
                if code is None:
                    self._watch(job_id, r)
                    continue
                self._on_exit(job_id, r, code)
            if self.shutting_down:
                return
            self._start_queued()

    def _watch(self, job_id: int, r: _Running) -> None:
        with self.sessions.begin() as db:
            job = db.get(Job, job_id)
            if job is None:
                return
            if self._over_wall_limit(db, job, r):
                return
            if job.stop_requested_at is not None:
                waited = (utcnow() - job.stop_requested_at).total_seconds()
                if waited > self.settings.stop_timeout_s and not r.extra.get("killed"):
                    log.warning("job %s did not stop in %.0f s: killing its process group", job_id, waited)
                    self._signal(r.proc, signal.SIGKILL)
                    r.extra["killed"] = True
            if job.kind != JobKind.TRAIN:
                return
            model = db.get(Model, job.model_id)
            if model is None:
                return
            folder = self.storage.training_dir(model.id)
            if model.status == ModelStatus.INITIALISING and (folder / "training-simtrace").is_dir() and any(
                    (folder / "training-simtrace").iterdir()):
                model.status = ModelStatus.TRAINING
            now = time.monotonic()
            if now - r.extra.get("best_at", 0.0) > 2.0:
                r.extra["best_at"] = now
                progress, lap = metrics.best(folder)
                if progress is not None:
                    model.best_progress, model.best_lap_time_s = progress, lap

    def capacity(self) -> int:
        """How many jobs may run at once."""
        return self.settings.max_jobs

    def cpu_share(self, kind: str) -> float:
        """The CPUs a job may use: --job-cpus, else a training's environments, an evaluation's one."""
        if self.settings.job_cpus is not None:
            return self.settings.job_cpus
        return float(max(1, self.settings.envs_per_job)) if kind == JobKind.TRAIN else 1.0

    def _start_queued(self) -> None:
        free = self.capacity() - len(self.running)
        if free <= 0:
            return
        with self.sessions.begin() as db:
            queued = db.scalars(select(Job).where(Job.state == JobState.QUEUED).order_by(Job.id).limit(free)).all()
            for job in queued:
                try:
                    self._launch(db, job)
                except Exception as err:  # a job that cannot start fails; the queue goes on
                    log.exception("job %s cannot start", job.id)
                    job.state, job.finished_at, job.failure_reason = JobState.FAILED, utcnow(), str(err)
                    self._fail_owner(db, job, f"cannot start: {err}")

    def _env(self, job_id: int) -> dict[str, str]:
        env = dict(os.environ)
        env[MARKER_ENV] = self.marker(job_id)
        env["DEEPRACER_TRACKS_DIR"] = str(self.settings.tracks_dir)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _spawn(self, job: Job, argv: list[str], stdout_path: Path | None = None) -> _Running:
        Path(job.log_path).parent.mkdir(parents=True, exist_ok=True)
        log_file = open(job.log_path, "ab", buffering=0)
        log_file.write(f"$ {' '.join(argv)}\n".encode())
        proc, stdout_file = self._start_process(job, argv, log_file, stdout_path)
        return _Running(job.id, proc, log_file, stdout_file=stdout_file)

    def _start_process(self, job: Job, argv: list[str], log_file: Any,
                       stdout_path: Path | None = None) -> tuple[Any, Any]:
        """One process of the job (sandboxed), its output in the log: (the process, its stdout file)."""
        stdout_file = open(stdout_path, "wb") if stdout_path else None
        argv, preexec = self._sandboxed(job, argv)
        proc = subprocess.Popen(argv, stdout=stdout_file or log_file, stderr=log_file, stdin=subprocess.DEVNULL,
                                cwd=self.settings.data_dir, env=self._env(job.id), start_new_session=True,
                                preexec_fn=preexec)
        return proc, stdout_file

    def _signal(self, proc: Any, sig: int) -> None:
        """A signal to the job's whole process group (Stop: SIGINT; then SIGKILL)."""
        _killpg(proc.pid, sig)

    # -- the sandbox (deepracer_console/sandbox.py) ------------------------------------------------
    def _folders(self, job: Job) -> tuple[list[Path], list[Path], list[Path]]:
        """(writable, readable, premade) folders of the job's sandbox: its model folder (training) or
        its evaluation folder writable."""
        assert job.model_id is not None
        model_dir = self.storage.model_dir(job.model_id)
        if job.kind == JobKind.TRAIN:
            from deepracer.train.live import LIVE_DIR

            # premade: the viewer's watch file
            return [model_dir], [], [self.storage.training_dir(job.model_id) / LIVE_DIR]
        return [Path(job.log_path).parent], [model_dir], []

    def _sandboxed(self, job: Job, argv: list[str]) -> tuple[list[str], Any]:
        """The job's command inside bubblewrap, with its limits (a CPU share only when --job-cpus says)."""
        if not self.sandbox.enabled or job.model_id is None:
            return argv, None
        writable, readable, premade = self._folders(job)
        return self.sandbox.command(argv, writable, job.model_id, readable=readable, premade=premade,
                                    wall_s=self._wall_limit(job), cgroup_name=str(job.id),
                                    cpus=self.settings.job_cpus)

    def _wall_limit(self, job: Job) -> float:
        if self.settings.job_wall_limit_s is not None:
            return self.settings.job_wall_limit_s
        with self.sessions() as db:
            model = db.get(Model, job.model_id) if job.model_id else None
        return sbx.wall_limit_s(job.kind, model.max_minutes if model else None, model.max_steps if model else None,
                                EVALUATION_SECONDS)

    def _over_wall_limit(self, db: Session, job: Job, r: _Running) -> bool:
        """A job past its wall-clock limit is killed with its group; its reason names the limit."""
        if job.started_at is None or r.extra.get("wall_killed") or not self.sandbox.enabled:
            return False
        limit = r.extra.setdefault("wall_s", self._wall_limit(job))
        if (utcnow() - job.started_at).total_seconds() <= limit:
            return False
        r.log_file.write(f"\n{sbx.WALL_MARKER} of {limit:.0f} s reached: the job is killed\n".encode())
        self._signal(r.proc, signal.SIGKILL)
        r.extra["wall_killed"] = True
        return True

    def _launch(self, db: Session, job: Job) -> None:
        if job.kind == JobKind.TRAIN:
            model = db.get(Model, job.model_id)
            assert model is not None
            argv = self.train_argv(model, job.resume)
            r = self._spawn(job, argv)
            model.status = ModelStatus.INITIALISING
            model.started_at = model.started_at or utcnow()
        else:
            evaluation = db.get(Evaluation, job.evaluation_id)
            assert evaluation is not None
            out = self.storage.evaluation_dir(evaluation.model_id, evaluation.id)
            out.mkdir(parents=True, exist_ok=True)
            r = self._spawn(job, self.evaluate_argv(evaluation), stdout_path=out / "result.json")
            evaluation.status = EvaluationStatus.RUNNING
        job.state, job.pid, job.started_at = JobState.RUNNING, r.proc.pid, utcnow()
        self.running[job.id] = r

    # -- command lines -----------------------------------------------------------------------------
    def train_argv(self, model: Model, resume: bool) -> list[str]:
        from deepracer_console.validation import race_argv, supported_race_types

        inputs = self.storage.inputs_dir(model.id)
        argv = [sys.executable, "-m", "deepracer.cli", "train",
                "--reward", str(inputs / "reward_function.py"),
                "--track", self.storage.track_spec(model.track, model.direction),
                "--action-space", str(inputs / "model_metadata.json"),
                "--hyperparameters", str(inputs / "hyperparameters.json"),
                "--algorithm", model.algorithm, "--network", model.network,
                "--envs", str(self.settings.envs_per_job), "--no-progress", "--json",
                "--out", str(self.storage.training_dir(model.id))]
        if model.race_type != "time_trial" and model.race_type in supported_race_types():
            argv += ["--race-type", model.race_type]
            argv += race_argv(read_race_options(inputs), penalties=False)  # training: a crash ends the episode
        if model.max_steps:
            done = metrics.steps_done(self.storage.training_dir(model.id)) if resume else 0
            argv += ["--steps", str(max(1, model.max_steps - done))]
        else:
            left = model.max_minutes - (model.trained_seconds if resume else 0.0) / 60.0
            argv += ["--minutes", f"{max(0.1, left):.3f}"]
        if resume:
            argv.append("--resume")
        else:
            pretrained = inputs / "pretrained.zip"
            if pretrained.is_file():
                argv += ["--pretrained", str(pretrained)]
        if self.settings.reward_timeout_s is not None:
            argv += ["--reward-timeout", str(self.settings.reward_timeout_s)]
        return argv

    def evaluate_argv(self, evaluation: Evaluation) -> list[str]:
        from deepracer_console.validation import race_argv, supported_race_types

        argv = [sys.executable, "-m", "deepracer.cli", "evaluate",
                "--model", str(self.storage.package_dir(evaluation.model_id)),
                "--track", self.storage.track_spec(evaluation.track, evaluation.direction),
                "--trials", str(evaluation.trials), "--off-track-penalty", str(evaluation.off_track_penalty_s),
                # DeepRacer on AWS puts a car back on the track as often as needed (NUMBER_OF_RESETS 10000)
                "--resets", "10000",
                # and gives the whole evaluation 20 minutes
                "--max-trial-seconds", f"{EVALUATION_SECONDS / evaluation.trials:g}",
                "--out", str(self.storage.evaluation_dir(evaluation.model_id, evaluation.id)), "--json"]
        if evaluation.race_type != "time_trial" and evaluation.race_type in supported_race_types():
            argv += ["--race-type", evaluation.race_type]
            argv += race_argv(read_race_options(self.storage.evaluation_dir(evaluation.model_id, evaluation.id)))
        from deepracer_console.races import race_evaluate_args

        argv += race_evaluate_args(self.sessions, evaluation.id)  # a race submission: the race's fixed seed
        return argv

    # -- endings -------------------------------------------------------------------------------------
    def _tail(self, path: str, lines: int = 30) -> str:
        try:
            text = Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])

    def _reason(self, path: str, code: int) -> str:
        named = sbx.explain(self._tail(path, 60), code) if self.sandbox.enabled else None
        reason = self._plain_reason(path, code)
        return f"{named}: {reason}" if named else reason

    def _plain_reason(self, path: str, code: int) -> str:
        tail = self._tail(path, 60).splitlines()
        errors = [ln for ln in tail if ": error: " in ln or ln.startswith(("Error", "deepracer"))]
        if errors:
            return errors[-1].split(": error: ", 1)[-1]
        if code < 0:
            return f"the process was killed by signal {-code}"
        return (tail[-1] if tail else f"exit code {code}")[:2000]

    def _on_exit(self, job_id: int, r: _Running, code: int) -> None:
        if r.phase == "main" and r.stdout_file is not None:
            r.stdout_file.close()
            r.stdout_file = None
        with self.sessions.begin() as db:
            job = db.get(Job, job_id)
            if job is None or job.state != JobState.RUNNING:  # deleted meanwhile
                self.running.pop(job_id, None)
                r.log_file.close()
                return
            if job.kind == JobKind.EVALUATE and r.phase == "main" and code == 0:
                evaluation = db.get(Evaluation, job.evaluation_id)
                if evaluation is not None:
                    out = self.storage.evaluation_dir(evaluation.model_id, evaluation.id)
                    try:
                        evaluation.result = json.loads((out / "result.json").read_text(encoding="utf-8"))
                    except (OSError, ValueError) as err:
                        code = 1
                        r.log_file.write(f"cannot read the evaluation result: {err}\n".encode())
                    else:
                        self._update_best_from(db, evaluation)
                        # the trials are known: show them now, then draw the video
                        argv = [sys.executable, "-m", "deepracer_console.video", str(out),
                                self.storage.track_spec(evaluation.track, evaluation.direction)]
                        r.log_file.write(f"$ {' '.join(argv)}\n".encode())
                        r.proc, _ = self._start_process(job, argv, r.log_file)
                        r.phase = "video"
                        job.pid = r.proc.pid
                        return
            self.running.pop(job_id, None)
            r.log_file.write(f"[exit code {code}]\n".encode())
            r.log_file.close()
            job.exit_code, job.finished_at = code, utcnow()
            if job.kind == JobKind.TRAIN:
                model = db.get(Model, job.model_id)
                if model is not None:
                    self._account_time(model, job)
                    stopped = job.stop_requested_at is not None
                    job.state = JobState.FINISHED if code in (0, 130) or stopped else JobState.FAILED
                    if job.state == JobState.FAILED:
                        # the user's file is reward_function.py, wherever the console keeps it
                        job.failure_reason = self._reason(job.log_path, code).replace(
                            f"{self.storage.inputs_dir(model.id)}/", "")
                    self._finish_model(db, model, job, stopped=stopped)
            else:
                evaluation = db.get(Evaluation, job.evaluation_id)
                if evaluation is None:
                    return
                evaluation.finished_at = utcnow()
                if r.phase == "video":
                    job.state = JobState.FINISHED
                    evaluation.status = EvaluationStatus.COMPLETED
                    video = self.storage.evaluation_dir(evaluation.model_id, evaluation.id) / "video.webm"
                    evaluation.has_video = code == 0 and video.is_file()
                else:
                    job.state = JobState.FAILED
                    job.failure_reason = self._reason(job.log_path, code)
                    evaluation.status = EvaluationStatus.FAILED
                    evaluation.failure_reason = job.failure_reason

    def _account_time(self, model: Model, job: Job) -> None:
        """Training time so far: the trainer's own count (state.json), else this job's duration."""
        wall = metrics.trained_seconds(self.storage.training_dir(model.id))
        if wall is not None:
            model.trained_seconds = wall
        elif job.started_at is not None:
            end = job.finished_at or utcnow()
            model.trained_seconds = float(model.trained_seconds or 0.0) + max(
                0.0, (end - job.started_at).total_seconds())

    def _finish_model(self, db: Session, model: Model, job: Job, stopped: bool) -> None:
        folder = self.storage.training_dir(model.id)
        progress, lap = metrics.best(folder)
        if progress is not None:
            model.best_progress, model.best_lap_time_s = progress, lap
        model.finished_at = utcnow()
        if job.state == JobState.FAILED:
            model.status, model.failure_reason = ModelStatus.FAILED, job.failure_reason
        elif (folder / "model" / "model.onnx").is_file():
            model.status, model.failure_reason = ModelStatus.READY, None
        else:
            model.status = ModelStatus.FAILED
            model.failure_reason = ("stopped before training started: no model was exported" if stopped else
                                    "training ended without exporting a model (no evaluation finished)")

    def _update_best_from(self, db: Session, evaluation: Evaluation) -> None:
        model = db.get(Model, evaluation.model_id)
        summary = (evaluation.result or {}).get("summary") or {}
        if model is None or not summary:
            return
        lap = summary.get("best_lap_time_s")
        progress = summary.get("mean_progress")
        if lap is not None and (model.best_lap_time_s is None or lap < model.best_lap_time_s):
            model.best_lap_time_s = lap
        if progress is not None and (model.best_progress is None or progress > model.best_progress):
            model.best_progress = progress

    def _fail_owner(self, db: Session, job: Job, reason: str) -> None:
        if job.kind == JobKind.TRAIN:
            model = db.get(Model, job.model_id)
            if model is not None:
                model.status, model.failure_reason, model.finished_at = ModelStatus.FAILED, reason, utcnow()
        else:
            evaluation = db.get(Evaluation, job.evaluation_id)
            if evaluation is not None:
                evaluation.status, evaluation.failure_reason = EvaluationStatus.FAILED, reason


def make_runner(settings: Settings, sessions: sessionmaker, storage: Storage) -> JobRunner:
    """The embedded runner, or the Ray runner with --ray (deepracer_console/ray_runner.py)."""
    if settings.ray_address:
        from deepracer_console.ray_runner import RayRunner

        return RayRunner(settings, sessions, storage)
    return JobRunner(settings, sessions, storage)

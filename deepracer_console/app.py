"""The console's web application: `create_app(settings)`.

JSON API under /api (OpenAPI at /api/openapi.json, Swagger UI at /api/docs served from the
swagger-ui assets vendored in this package, never a CDN); the pages from web/dist at every
other path (single-page app: unknown paths get index.html). Errors are JSON
`{"detail": ..., "field": ...}` naming the field at fault.
"""


import asyncio
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response
from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer, object_session
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException

from deepracer import __version__
from deepracer_console import auth, metrics, reward_check
from deepracer_console import defaults as d
from deepracer_console import validation as v
from deepracer_console.db import Evaluation, EvaluationStatus, Model, ModelStatus, open_database
from deepracer_console.errors import Conflict, ConsoleError, FieldError, NotFound
from deepracer_console.imports import Upload, check_package, copy_into, recognise, safe_name
from deepracer_console.jobs import make_runner, read_race_options, write_race_options
from deepracer_console.schemas import (
    ErrorOut,
    EvaluationCreate,
    EvaluationOut,
    Health,
    ImportOut,
    MetricsOut,
    ModelCreate,
    ModelDetail,
    ModelOut,
    RewardValidate,
    RewardValidation,
    StopOut,
    TrackOut,
)
from deepracer_console.settings import Settings
from deepracer_console.storage import Storage
from deepracer_console.tracks import Tracks

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut}, 404: {"model": ErrorOut}, 409: {"model": ErrorOut}, 413: {"model": ErrorOut},
    422: {"model": ErrorOut},
}
_MODEL_LIST = TypeAdapter(list[ModelOut])
SORT_KEYS = ("created_at", "name", "status", "track", "algorithm", "best_progress", "best_lap_time_s")
CHUNK = 1024 * 1024
ANALYZE_TIMEOUT_S = 300.0


class Console:
    """What the routes share: settings, database, storage, tracks, job runner."""

    def __init__(self, settings: Settings) -> None:
        settings.make_dirs()
        self.settings = settings
        self.sessions = open_database(settings.db_url)
        self.storage = Storage(settings)
        with self.sessions() as db:  # files a killed console left without their database row
            self.storage.remove_orphans(db.scalars(select(Model.id)).all())
        self.tracks = Tracks(settings.tracks_dir, settings.data_dir / "cache")
        self.runner = make_runner(settings, self.sessions, self.storage)  # embedded, or Ray with --ray

    def db(self) -> Iterator[Session]:
        with self.sessions() as session:
            yield session


def create_app(settings: Settings | None = None, start_jobs: bool = True) -> FastAPI:
    settings = settings or Settings()
    console = Console(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if start_jobs:
            console.runner.start()
        yield
        if start_jobs:
            await asyncio.to_thread(console.runner.shutdown)

    app = FastAPI(title="DeepRacer console (local)", version=__version__, lifespan=lifespan,
                  openapi_url="/api/openapi.json", docs_url=None, redoc_url=None,
                  description="The JSON API the console's pages use; scripts can drive the console with it.")
    app.state.console = console
    DB = Annotated[Session, Depends(console.db)]

    # -- errors ------------------------------------------------------------------------------------
    @app.exception_handler(ConsoleError)
    async def console_error(_request: Request, err: ConsoleError) -> JSONResponse:
        return JSONResponse({"detail": err.detail, "field": err.field}, status_code=err.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, err: RequestValidationError) -> JSONResponse:
        first = err.errors()[0] if err.errors() else {}
        loc = [str(x) for x in first.get("loc", ()) if x not in ("body", "query", "path", "form")]
        field = ".".join(loc) or None
        message = first.get("msg", "invalid request")
        if first.get("type") == "extra_forbidden":
            message = "unknown field"
        if first.get("type") == "json_invalid":
            message, field = "the request body is not valid JSON", None
        return JSONResponse({"detail": f"{field}: {message}" if field else message, "field": field},
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, err: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": str(err.detail), "field": None}, status_code=err.status_code)

    # -- helpers -----------------------------------------------------------------------------------
    def get_model(db: Session, model_id: int) -> Model:
        model = db.get(Model, model_id)
        if model is None or not auth.may_see_model(db, model.id):  # another racer's model: as if not there
            raise NotFound(f"no model {model_id}", "id")
        return model

    def model_out(m: Model) -> ModelOut:
        return ModelOut(
            id=m.id, name=m.name, description=m.description, track=m.track, direction=m.direction,
            race_type=m.race_type, algorithm=m.algorithm, network=m.network, action_space_type=m.action_space_type,
            action_space=m.action_space, hyperparameters=m.hyperparameters, max_minutes=m.max_minutes,
            max_steps=m.max_steps, clone_of=m.clone_of, source=m.source, status=m.status,
            failure_reason=m.failure_reason, trained_seconds=round(m.trained_seconds or 0.0, 1),
            best_progress=m.best_progress, best_lap_time_s=m.best_lap_time_s, created_at=m.created_at,
            started_at=m.started_at, finished_at=m.finished_at,
            has_package=(console.storage.package_dir(m.id) / "model.onnx").is_file(), owner_id=m.owner_key or None,
            owner=_owner_name(m),
        )

    def _owner_name(m: Model) -> str | None:
        session = object_session(m)
        owner = session.get(auth.User, m.owner_key) if session is not None and m.owner_key else None
        return owner.username if owner is not None else None

    def model_detail(m: Model) -> ModelDetail:
        base = f"/api/models/{m.id}"
        return ModelDetail(**model_out(m).model_dump(), reward_function=m.reward_function,
                           race=read_race_options(console.storage.inputs_dir(m.id)), sensor=_model_sensors(m),
                           camera_profile=_model_camera_profile(m),
                           training_folder=str(console.storage.training_dir(m.id)), log_url=f"{base}/logs",
                           live_url=f"{base}/live", package_url=f"{base}/package")

    def evaluation_out(e: Evaluation) -> EvaluationOut:
        result = e.result or {}
        return EvaluationOut(
            id=e.id, model_id=e.model_id, track=e.track, direction=e.direction, race_type=e.race_type,
            trials_requested=e.trials, off_track_penalty_s=e.off_track_penalty_s, status=e.status,
            failure_reason=e.failure_reason, trials=result.get("trials", []), summary=result.get("summary"),
            video_url=f"/api/evaluations/{e.id}/video" if e.has_video else None, created_at=e.created_at,
            finished_at=e.finished_at, race=read_race_options(console.storage.evaluation_dir(e.model_id, e.id)),
        )

    def _model_sensors(m: Model) -> list[str]:
        """The model's sensor list: its training inputs' (or its package's) model_metadata.json."""
        for folder in (console.storage.inputs_dir(m.id), console.storage.package_dir(m.id)):
            try:
                sensor = json.loads((folder / "model_metadata.json").read_text(encoding="utf-8")).get("sensor")
            except (OSError, ValueError, AttributeError):
                continue
            if isinstance(sensor, list) and sensor:
                return [str(x) for x in sensor]
        return ["FRONT_FACING_CAMERA"]

    def _model_camera_profile(m: Model) -> str:
        """The camera profile's name in the model's training inputs' (or package's) model_metadata.json."""
        for folder in (console.storage.inputs_dir(m.id), console.storage.package_dir(m.id)):
            try:
                block = json.loads((folder / "model_metadata.json").read_text(encoding="utf-8")).get("camera_profile")
            except (OSError, ValueError, AttributeError):
                continue
            if isinstance(block, dict) and isinstance(block.get("name"), str):
                return block["name"]
        return "car"

    # -- health, defaults, tracks ----------------------------------------------------------------------
    @app.get("/api/health", response_model=Health, tags=["console"])
    def health() -> Health:
        running, queued = console.runner.counts()
        return Health(version=__version__, database=console.sessions.kw["bind"].dialect.name,
                      jobs_running=running, jobs_queued=queued, max_jobs=console.runner.capacity(),
                      job_runner=console.runner.kind,
                      web_built=(settings.dist_dir / "index.html").is_file())

    @app.get("/api/defaults", tags=["console"])
    def get_defaults() -> dict[str, Any]:
        """DeepRacer's defaults and allowed ranges for every field of Create model and Evaluate."""
        out = d.as_json()
        out["race_types"] = list(v.supported_race_types())
        from deepracer.camera_profile import BUILTIN_PROFILES

        out["camera_profiles"] = [{"name": p.name, "description": p.description,
                                   "hfov_deg": round(p.field_of_view.horizontal_deg, 1)} for p in BUILTIN_PROFILES.values()]
        out["camera_profile"] = "car"
        return out

    @app.get("/api/tracks", response_model=list[TrackOut], tags=["tracks"])
    def get_tracks() -> list[TrackOut]:
        return console.tracks.list()

    @app.post("/api/tracks", response_model=TrackOut, status_code=201, responses=ERRORS, tags=["tracks"])
    def post_track(file: Annotated[UploadFile, File(description="a DeepRacer route .npy")],
                   name: Annotated[str | None, Form()] = None) -> TrackOut:
        data = file.file.read(16 * 1024**2 + 1)
        if len(data) > 16 * 1024**2:
            raise FieldError(f"{file.filename}: too big for a route file (limit 16 MB)", "file", 413)
        return console.tracks.upload(file.filename or "", data, name or None)

    @app.get("/api/tracks/{name}/image", response_class=FileResponse, tags=["tracks"],
             responses={200: {"content": {"image/png": {}}}, 404: {"model": ErrorOut}})
    def track_image(name: str) -> FileResponse:
        return FileResponse(console.tracks.image(name), media_type="image/png")

    # -- reward ----------------------------------------------------------------------------------------
    @app.post("/api/reward/validate", response_model=RewardValidation, tags=["reward"])
    def validate_reward(body: RewardValidate) -> RewardValidation:
        """The Validate button: the console's rules, then a short drive in a separate process."""
        source = v.check_reward_source(body.reward_function)
        spec = None
        if body.track:
            console.tracks.check(body.track)
            spec = console.storage.track_spec(body.track, v.check_direction(body.direction))
        return reward_check.validate(source, settings.uploads_dir, spec, console.runner._env(0),
                                     sandbox=console.runner.sandbox,
                                     race_type=v.check_race_type(body.race_type) if body.race_type else None)

    # -- models ----------------------------------------------------------------------------------------
    @app.get("/api/models", response_model=list[ModelOut], tags=["models"])
    def list_models(db: DB, sort: Annotated[str, Query(description=f"one of {', '.join(SORT_KEYS)}")] = "created_at",
                    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
                    status: Annotated[str | None, Query(description="only models with this status")] = None,
                    q: Annotated[str | None, Query(description="text in the name, description or track")] = None,
                    ) -> Response:
        if sort not in SORT_KEYS:
            raise FieldError(f"sort must be one of {', '.join(SORT_KEYS)}", "sort")
        column = getattr(Model, sort)
        query = select(Model).order_by(column.desc() if order == "desc" else column.asc(), Model.id.desc())
        query = auth.visible_models(query)  # a racer lists their own models
        if status:
            if status not in set(ModelStatus):
                raise FieldError(f"status must be one of {', '.join(ModelStatus)}", "status")
            query = query.where(Model.status == status)
        if q:
            like = f"%{q}%"
            query = query.where(Model.name.ilike(like) | Model.description.ilike(like) | Model.track.ilike(like))
        rows = db.scalars(query.options(defer(Model.reward_function))).all()  # the list never shows the source
        # serialised once here (FastAPI would validate the list against response_model a second time)
        return Response(_MODEL_LIST.dump_json([model_out(m) for m in rows]), media_type="application/json")

    @app.post("/api/models", response_model=ModelDetail, status_code=201, responses=ERRORS, tags=["models"])
    def create_model(body: ModelCreate, db: DB) -> ModelDetail:
        """Create model (the wizard's fields) and queue its training."""
        source = get_model(db, body.clone_of) if body.clone_of is not None else None
        name = v.check_name(body.name)
        description = v.check_description(body.description)
        track = console.tracks.check(body.track)
        direction = v.check_direction(body.direction)
        race_type = v.check_race_type(body.race_type)
        algorithm = v.check_algorithm(body.algorithm)
        network = v.check_network(body.network)
        if source is not None:
            if source.status != ModelStatus.READY:
                raise FieldError(f"model {source.name!r} is {source.status}; only a ready model can be cloned",
                                 "clone_of")
            best = console.storage.training_dir(source.id) / "checkpoints" / "best.zip"
            if not best.is_file():
                best = best.with_name("latest.zip")
            if not best.is_file():
                raise FieldError(f"model {source.name!r} has no training checkpoint to start from (an imported "
                                 "model cannot be cloned)", "clone_of")
            if algorithm != source.algorithm or network != source.network:
                raise FieldError("a clone keeps its model's algorithm and network", "algorithm"
                                 if algorithm != source.algorithm else "network")
            space_type, space = source.action_space_type, source.action_space
            if body.action_space is not None and v.check_action_space(
                    body.action_space, body.action_space_type, algorithm) != (space_type, space):
                raise FieldError("a clone keeps its model's action space", "action_space")
        else:
            space_type, space = v.check_action_space(body.action_space, body.action_space_type, algorithm)
        hp = v.check_hyperparameters(body.hyperparameters, algorithm)
        race = v.check_race_options(race_type, body.race.model_dump(exclude_none=True) if body.race else None)
        sensor = v.check_sensors(body.sensor, hp)
        if source is not None:  # DeepRacer: a clone keeps its model's sensors
            kept = _model_sensors(source)
            if body.sensor is not None and sensor != kept:
                raise FieldError("a clone keeps its model's sensors", "sensor")
            sensor = kept
        from deepracer.camera_profile import BUILTIN_PROFILES

        if body.camera_profile is not None and body.camera_profile not in BUILTIN_PROFILES:
            raise FieldError(f"unknown camera profile {body.camera_profile!r}; the console offers "
                             f"{', '.join(BUILTIN_PROFILES)}", "camera_profile")
        camera = BUILTIN_PROFILES.get(body.camera_profile or (_model_camera_profile(source) if source else "car"),
                                      BUILTIN_PROFILES["car"])
        reward = v.check_reward_source(body.reward_function)
        max_minutes = v.check_max_minutes(body.max_minutes)
        max_steps = v.check_max_steps(body.max_steps)
        if db.scalar(select(Model.id).where(Model.name == name, Model.owner_key == users.owner_key())) is not None:
            raise Conflict(f"you have a model named {name!r} already", "name")
        quotas.check_training(db, max_minutes)  # over quota: 429 with the usage
        model = Model(name=name, description=description, track=track, direction=direction, race_type=race_type,
                      algorithm=algorithm, network=network, action_space_type=space_type, action_space=space,
                      hyperparameters=hp, reward_function=reward, max_minutes=max_minutes, max_steps=max_steps,
                      clone_of=source.id if source else None, source="cloned" if source else "created",
                      status=ModelStatus.QUEUED, owner_key=users.owner_key())
        try:
            db.add(model)
            db.flush()
            auth.record_owner(db, model.id)
            metadata = {"action_space": space, "action_space_type": space_type, "sensor": sensor,
                        "neural_network": d.NETWORKS[network]["neural_network"],
                        "training_algorithm": "sac" if algorithm == "sac" else "clipped_ppo", "version": "5",
                        "camera_profile": camera.to_dict()}  # the trainer renders through it, the package keeps it
            console.storage.write_inputs(model.id, reward, metadata, hp)
            write_race_options(console.storage.inputs_dir(model.id), race)
            if source is not None:
                shutil.copyfile(best, console.storage.inputs_dir(model.id) / "pretrained.zip")
            console.runner.queue_training(db, model)
            db.commit()
        except IntegrityError:
            db.rollback()
            console.storage.remove(model.id) if model.id else None
            raise Conflict(f"a model named {name!r} exists already", "name") from None
        except BaseException:
            db.rollback()
            if model.id:
                console.storage.remove(model.id)
            raise
        console.runner.wake()
        return model_detail(model)

    @app.get("/api/models/{model_id}", response_model=ModelDetail, responses=ERRORS, tags=["models"])
    def read_model(model_id: int, db: DB) -> ModelDetail:
        return model_detail(get_model(db, model_id))

    @app.delete("/api/models/{model_id}", status_code=204, responses=ERRORS, tags=["models"])
    def delete_model(model_id: int, db: DB) -> Response:
        """Delete a model and its files; a running job is stopped first."""
        model = get_model(db, model_id)
        console.runner.kill_model_jobs(db, model.id)
        db.delete(model)
        db.commit()
        console.storage.remove(model_id)
        return Response(status_code=204)

    @app.post("/api/models/{model_id}/stop", response_model=StopOut, responses=ERRORS, tags=["models"])
    def stop_model(model_id: int, db: DB) -> StopOut:
        """Stop training as Ctrl-C stops `deepracer train`: the best model is kept."""
        model = get_model(db, model_id)
        if model.status not in (ModelStatus.QUEUED, ModelStatus.INITIALISING, ModelStatus.TRAINING,
                                ModelStatus.STOPPING):
            raise Conflict(f"model {model.name!r} is {model.status}, not training", "status")
        console.runner.stop_model(db, model)
        db.commit()
        return StopOut(id=model.id, status=model.status)

    @app.get("/api/models/{model_id}/metrics", response_model=MetricsOut, responses=ERRORS, tags=["models"])
    def model_metrics(model_id: int, db: DB) -> MetricsOut:
        """The training graph: per iteration, average reward and progress in training and evaluation."""
        model = get_model(db, model_id)
        folder = console.storage.training_dir(model.id)
        points, per = metrics.iterations(folder)
        return MetricsOut(model_id=model.id, status=model.status, iterations=points, episodes_per_iteration=per,
                          updated_at=metrics.updated_at(folder))

    @app.get("/api/models/{model_id}/live", responses={200: {"content": {"image/jpeg": {}}}, 404: {"model": ErrorOut}},
             tags=["models"])
    def live_frame(model_id: int, db: DB) -> Response:
        """The latest live frame (camera beside the top-down view); asking for it keeps frames coming."""
        from deepracer.train.live import FRAME_FILE, LIVE_DIR, watch

        model = get_model(db, model_id)
        folder = console.storage.training_dir(model.id)
        if model.status in (ModelStatus.INITIALISING, ModelStatus.TRAINING):
            watch(folder)
        frame = folder / LIVE_DIR / FRAME_FILE
        try:
            data = frame.read_bytes()
        except OSError:
            raise NotFound("no live frame yet (frames come while the model trains and someone watches)",
                           "live") from None
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    @app.get("/api/models/{model_id}/logs", response_class=PlainTextResponse, responses=ERRORS, tags=["models"])
    def model_logs(model_id: int, db: DB, tail: Annotated[int, Query(ge=1, le=100_000)] = 200) -> PlainTextResponse:
        """The last `tail` lines of the model's job logs (training, then its evaluations)."""
        model = get_model(db, model_id)
        files = sorted(console.storage.logs_dir(model.id).glob("*.log"), key=lambda p: p.stat().st_mtime)
        text = "".join(f"==> {p.name} <==\n{p.read_text(encoding='utf-8', errors='replace')}\n" for p in files)
        return PlainTextResponse("\n".join(text.splitlines()[-tail:]) + "\n")

    # -- evaluations -----------------------------------------------------------------------------------
    @app.post("/api/models/{model_id}/evaluations", response_model=EvaluationOut, status_code=201,
              responses=ERRORS, tags=["evaluations"])
    def create_evaluation(model_id: int, body: EvaluationCreate, db: DB) -> EvaluationOut:
        model = get_model(db, model_id)
        if not (console.storage.package_dir(model.id) / "model.onnx").is_file():
            raise Conflict(f"model {model.name!r} has no trained model to evaluate yet", "model")
        quotas.check_evaluation(db)
        track = console.tracks.check(body.track or model.track)
        race_type = v.check_race_type(body.race_type)
        race = v.check_race_options(race_type, body.race.model_dump(exclude_none=True) if body.race else None)
        evaluation = Evaluation(model_id=model.id, track=track,
                                direction=v.check_direction(body.direction or model.direction),
                                race_type=race_type, trials=v.check_trials(body.trials),
                                off_track_penalty_s=v.check_penalty(body.off_track_penalty_s))
        db.add(evaluation)
        db.flush()
        write_race_options(console.storage.evaluation_dir(model.id, evaluation.id), race)
        console.runner.queue_evaluation(db, evaluation)
        db.commit()
        return evaluation_out(evaluation)

    @app.get("/api/models/{model_id}/evaluations", response_model=list[EvaluationOut], responses=ERRORS,
             tags=["evaluations"])
    def list_evaluations(model_id: int, db: DB) -> list[EvaluationOut]:
        model = get_model(db, model_id)
        rows = db.scalars(select(Evaluation).where(Evaluation.model_id == model.id).order_by(Evaluation.id.desc()))
        return [evaluation_out(e) for e in rows.all()]

    def get_evaluation(db: Session, evaluation_id: int) -> Evaluation:
        evaluation = db.get(Evaluation, evaluation_id)
        if evaluation is None or not auth.may_see_model(db, evaluation.model_id):
            raise NotFound(f"no evaluation {evaluation_id}", "id")
        return evaluation

    @app.get("/api/evaluations/{evaluation_id}", response_model=EvaluationOut, responses=ERRORS,
             tags=["evaluations"])
    def read_evaluation(evaluation_id: int, db: DB) -> EvaluationOut:
        return evaluation_out(get_evaluation(db, evaluation_id))

    @app.get("/api/evaluations/{evaluation_id}/video", response_class=FileResponse,
             responses={200: {"content": {"video/webm": {}}}, 404: {"model": ErrorOut}}, tags=["evaluations"])
    def evaluation_video(evaluation_id: int, db: DB) -> FileResponse:
        """The trials as a video (WebM/VP8: camera beside the top-down view)."""
        e = get_evaluation(db, evaluation_id)
        path = console.storage.evaluation_dir(e.model_id, e.id) / "video.webm"
        if e.status != EvaluationStatus.COMPLETED or not path.is_file():
            raise NotFound("no video (yet) for this evaluation", "video")
        return FileResponse(path, media_type="video/webm")

    # -- report ----------------------------------------------------------------------------------------
    def make_report(model: Model) -> Path:
        folder = console.storage.training_dir(model.id)
        out = console.storage.report_dir(model.id)
        index = out / "index.html"
        newest = max((p.stat().st_mtime for p in [folder / "metrics", *folder.glob("metrics/*")] if p.exists()),
                     default=0.0)
        if index.is_file() and index.stat().st_mtime >= newest:
            return index
        if not folder.is_dir():
            raise NotFound("no training logs to analyse yet", "report")
        tmp = Path(tempfile.mkdtemp(prefix="report-", dir=settings.uploads_dir))
        argv = [sys.executable, "-m", "deepracer.cli", "analyze", str(folder), "--out", str(tmp), "--quiet",
                "--track", console.storage.track_spec(model.track, model.direction)]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=ANALYZE_TIMEOUT_S,
                                  env=console.runner._env(0), start_new_session=True)
            if proc.returncode != 0 or not (tmp / "index.html").is_file():
                tail = (proc.stderr.strip().splitlines() or ["deepracer analyze failed"])[-1]
                raise ConsoleError(f"the log analysis failed: {tail}", "report", 500)
            shutil.rmtree(out, ignore_errors=True)
            tmp.replace(out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return index

    @app.get("/api/models/{model_id}/report", response_class=HTMLResponse, responses=ERRORS, tags=["models"])
    def model_report(model_id: int, db: DB) -> HTMLResponse:
        """The `deepracer analyze` HTML report of this model (made on demand, remade when training moved on)."""
        model = get_model(db, model_id)
        html = make_report(model).read_text(encoding="utf-8")
        base = f'<base href="/api/models/{model.id}/report/">'
        html = html.replace("<head>", f"<head>{base}", 1) if "<head>" in html else base + html
        return HTMLResponse(html)

    @app.get("/api/models/{model_id}/report/{path:path}", responses=ERRORS, tags=["models"])
    def report_file(model_id: int, path: str, db: DB) -> Response:
        model = get_model(db, model_id)
        if not path:
            return model_report(model_id, db)
        root = console.storage.report_dir(model.id).resolve()
        target = (root / path).resolve()
        if root not in target.parents or not target.is_file():
            raise NotFound(f"no report file {path!r}", "path")
        return FileResponse(target)

    # -- downloads -------------------------------------------------------------------------------------
    @app.get("/api/models/{model_id}/package", response_class=FileResponse, responses=ERRORS, tags=["models"])
    def download_package(model_id: int, db: DB) -> FileResponse:
        """The car's model package (.tar.gz of model.onnx + model_metadata.json, as `deepracer model pack`)."""
        from deepracer.model.tarball import pack_model

        model = get_model(db, model_id)
        package = console.storage.package_dir(model.id)
        if not (package / "model.onnx").is_file():
            raise NotFound(f"model {model.name!r} has no model package yet", "package")
        out = console.storage.model_dir(model.id) / "downloads" / f"{model.name}.tar.gz"
        newest = max(p.stat().st_mtime for p in package.iterdir())
        if not out.is_file() or out.stat().st_mtime < newest:
            try:
                pack_model(package, out)
            except Exception as err:
                raise ConsoleError(f"cannot pack the model: {err}", "package", 500) from err
        return FileResponse(out, media_type="application/gzip", filename=f"{model.name}.tar.gz")

    @app.get("/api/models/{model_id}/training-folder", response_class=FileResponse, responses=ERRORS,
             tags=["models"])
    def download_training_folder(model_id: int, db: DB) -> FileResponse:
        """The whole training folder (DeepRacer-for-Cloud layout) as .tar.gz."""
        model = get_model(db, model_id)
        folder = console.storage.training_dir(model.id)
        if not folder.is_dir():
            raise NotFound(f"model {model.name!r} has no training folder yet", "training_folder")
        fd, tmp_name = tempfile.mkstemp(prefix="training-", suffix=".tar.gz", dir=settings.uploads_dir)
        with open(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            for path in sorted(folder.rglob("*")):
                if path.is_file() and not path.is_symlink() and path.parent.name != "live":
                    tar.add(path, arcname=f"{model.name}/{path.relative_to(folder).as_posix()}")
            inputs = console.storage.inputs_dir(model.id) / "reward_function.py"
            if inputs.is_file() and not (folder / "reward_function.py").is_file():
                tar.add(inputs, arcname=f"{model.name}/reward_function.py")
        return FileResponse(tmp_name, media_type="application/gzip", filename=f"{model.name}-training.tar.gz",
                            background=BackgroundTask(Path(tmp_name).unlink, missing_ok=True))

    # -- import ----------------------------------------------------------------------------------------
    @app.post("/api/models/import", response_model=ImportOut, status_code=201, responses=ERRORS, tags=["models"])
    def import_model(db: DB, file: Annotated[UploadFile, File(description="model package or training folder .tar.gz")],
                     name: Annotated[str | None, Form()] = None, track: Annotated[str | None, Form()] = None,
                     description: Annotated[str, Form()] = "") -> ImportOut:
        """Import model: a bad or malicious upload is refused with the reason and nothing is kept."""
        filename = file.filename or "upload"
        upload = Upload(settings.uploads_dir, settings.upload_limit_bytes)
        model: Model | None = None
        try:
            quotas.check_import(db)
            while chunk := file.file.read(CHUNK):
                upload.write(chunk)
            rec = recognise(upload.extract(filename), filename, sandbox=console.runner.sandbox)
            problems = check_package(rec.package)
            if problems:
                raise FieldError(f"{filename}: not a usable model package: {'; '.join(problems)}", "file")
            from deepracer.model.metadata import ModelMetadata

            meta = ModelMetadata.from_dict(rec.metadata)
            wanted = v.check_name(name) if name else safe_name(filename.removesuffix(".gz").removesuffix(".tar")
                                                               .removesuffix(".tgz"))
            final = wanted
            n = 2
            while db.scalar(select(Model.id).where(Model.name == final, Model.owner_key == users.owner_key())) is not None:
                if name:
                    raise Conflict(f"a model named {name!r} exists already", "name")
                final = f"{wanted[:60]}-{n}"
                n += 1
            from deepracer.sim import DEFAULT_TRACK
            from deepracer_console.imports import known_track

            algorithm = "sac" if meta.training_algorithm == "sac" else "ppo"
            trained = known_track(rec.world_name, console.tracks.names())  # training_params.yaml
            network = next((k for k, x in d.NETWORKS.items() if x["neural_network"] == meta.neural_network), "small")
            model = Model(
                name=final, description=v.check_description(description),
                track=console.tracks.check(track) if track else (trained or (DEFAULT_TRACK,))[0],
                direction=(trained[1] if trained and not track else None) or d.DEFAULT_DIRECTION,
                algorithm=algorithm, network=network, action_space_type=meta.action_space_type,
                action_space=meta.to_dict()["action_space"], hyperparameters=rec.hyperparameters or {},
                reward_function=rec.reward_function or "", max_minutes=d.DEFAULT_MAX_MINUTES, source="imported",
                status=ModelStatus.READY, owner_key=users.owner_key(),
            )
            db.add(model)
            db.flush()
            auth.record_owner(db, model.id)
            copy_into(rec, console.storage.training_dir(model.id))
            progress, lap = metrics.best(console.storage.training_dir(model.id))
            model.best_progress, model.best_lap_time_s = progress, lap
            model.storage_bytes = console.storage.folder_bytes(model.id)  # the storage quota counts it
            db.commit()
            return ImportOut(model=model_out(model), kind=rec.kind, layout=rec.layout)
        except BaseException:
            db.rollback()
            if model is not None and model.id:
                console.storage.remove(model.id)
            raise
        finally:
            upload.cleanup()

    # -- accounts, roles, races (deepracer_console/users.py, races.py; docs/event-server.md) ------------
    from deepracer_console import quotas, races, users

    users.install(app, console)
    races.install(app, console)
    # physical races: the timekeeper, the lap timer, cars (physical_api.py, cars.py)
    from deepracer_console import cars, physical_api

    physical_api.install(app, console)
    cars.install(app, console)
    quotas.install(app, console)

    # -- the pages -------------------------------------------------------------------------------------
    dist = settings.dist_dir

    @app.get("/api/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        return HTMLResponse(_API_DOCS)

    @app.api_route("/api/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    def api_not_found(path: str) -> Response:
        raise NotFound(f"no API path /api/{path}", "path")

    @app.get("/{path:path}", include_in_schema=False)
    def pages(path: str) -> Response:
        index = dist / "index.html"
        if not index.is_file():
            return HTMLResponse(_NOT_BUILT.format(dist=dist), status_code=200)
        if path:
            root = dist.resolve()
            target = (root / path).resolve()
            if root in target.parents and target.is_file():
                cache = "public, max-age=31536000, immutable" if path.startswith("assets/") else "no-cache"
                return FileResponse(target, headers={"Cache-Control": cache})
            if path.startswith("assets/"):
                raise NotFound(f"no asset {path}", "path")
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    return app


_NOT_BUILT = """<!doctype html><html><head><meta charset="utf-8"><title>DeepRacer console</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>DeepRacer console</h1>
<p>The server runs, but the pages are not built: <code>{dist}/index.html</code> is missing.</p>
<p>Build them with <code>make console-web</code> (or start everything with <code>make console</code>),
then reload this page.</p>
<p>The JSON API works meanwhile: <a href="/api/health">/api/health</a>,
<a href="/api/openapi.json">/api/openapi.json</a>, <a href="/api/docs">/api/docs</a>.</p>
</body></html>
"""

# A small, dependency-free API index built from the OpenAPI document (no CDN, no Swagger UI bundle).
_API_DOCS = """<!doctype html><html><head><meta charset="utf-8"><title>DeepRacer console API</title>
<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}code{background:#eee;padding:0 .3em}
.op{margin:.6em 0;padding:.4em;border-left:4px solid #888}.m{font-weight:bold;display:inline-block;width:5em}</style>
</head><body><h1>DeepRacer console API</h1>
<p>The OpenAPI document: <a href="/api/openapi.json">/api/openapi.json</a> (load it into any OpenAPI tool).</p>
<div id="ops">loading…</div>
<script>
fetch('/api/openapi.json').then(r => r.json()).then(spec => {
  const out = [];
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const e = s => String(s ?? '').replace(/[&<>]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;'}[c]));
      out.push(`<div class="op"><span class="m">${method.toUpperCase()}</span><code>${e(path)}</code>
        — ${e(op.summary)}<br><small>${e(op.description)}</small></div>`);
    }
  }
  document.getElementById('ops').innerHTML = out.join('');
});
</script></body></html>
"""


def dump_openapi(settings: Settings) -> str:
    return json.dumps(create_app(settings, start_jobs=False).openapi(), indent=2)

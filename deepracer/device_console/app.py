"""The car's web console: a FastAPI app over a `CarBackend`, ROS-free.

    app = create_app(backend, ConsoleSettings(password=PasswordCheck.from_file(...), models=ModelStore(...)))

Every /api route except login needs a session cookie; every state-changing one also needs
the session's CSRF token in `X-CSRF-Token`. The page (static/) is plain HTML/JS served from
the package, nothing from a CDN. The API is described at /api/openapi.json (docs/device-console.md).

Safety: the server never repeats a drive command on its own. The page sends teleop many times
a second while the stick is held and zero on release; when it stops sending (tab closed,
Wi-Fi lost) control_node's watchdog (`command_timeout`) and the servo's own bring neutral.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.formparsers import MultiPartException, MultiPartParser

from deepracer.control.calibration_wizard import DIRECTION_PROBE_US, STEPS
from deepracer.control.drive_modes import Mode
from deepracer.device_console.auth import (
    CSRF_HEADER,
    SESSION_COOKIE,
    LoginThrottle,
    PasswordCheck,
    Session,
    SessionStore,
    csrf_ok,
)
from deepracer.device_console.backend import BackendError, CarBackend
from deepracer.device_console.model_store import ModelStore
from deepracer.device_console.stream import BOUNDARY, FrameEncoder, mjpeg_part
from deepracer.errors import DeepRacerError, ModelPackageError

STATIC = resources.files("deepracer.device_console") / "static"
API_TITLE = "deepracer car console"


@dataclass
class ConsoleSettings:
    password: PasswordCheck
    models: ModelStore
    secure_cookie: bool = False  # True behind HTTPS: the cookie never travels in clear
    manual_max_speed_mps: float = 1.0  # full stick forward, before max_speed_scale
    max_steering_deg: float = 30.0  # full stick sideways
    stream_max_fps: float = 30.0
    jpeg_quality: int = 80
    sessions: SessionStore = field(default_factory=SessionStore)
    throttle: LoginThrottle = field(default_factory=LoginThrottle)


# -- request bodies (they are the OpenAPI schema) -------------------------------------------------


class LoginBody(BaseModel):
    password: str = Field(max_length=256)


class ModeBody(BaseModel):
    mode: Mode


class EstopBody(BaseModel):
    pressed: bool = True  # false releases it; the car moves again only after a mode is set


class MaxSpeedBody(BaseModel):
    scale: float = Field(ge=0.0, le=1.0, description="control_node max_speed_scale, 0..1")


class TeleopBody(BaseModel):
    throttle: float = Field(ge=-1.0, le=1.0, description="-1 full reverse .. 1 full forward")
    steering: float = Field(ge=-1.0, le=1.0, description="-1 full right .. 1 full left (REP-103: + is left)")


class SelectBody(BaseModel):
    name: str = Field(max_length=64)


class CalibrationModeBody(BaseModel):
    on: bool


class PulseBody(BaseModel):
    throttle_us: float = Field(ge=500.0, le=2500.0)
    steering_us: float = Field(ge=500.0, le=2500.0)


class CalibrationBody(BaseModel):
    calibration: dict[str, Any] = Field(description="frequency_hz, steering {...}, throttle {...} as in the file")


# -- the app ---------------------------------------------------------------------------------------


def _session(request: Request) -> Session:
    found = request.app.state.settings.sessions.get(request.cookies.get(SESSION_COOKIE))
    if found is None:
        raise HTTPException(401, "log in first (POST /api/login)")
    return found


def _csrf(request: Request, s: Annotated[Session, Depends(_session)]) -> Session:
    if not csrf_ok(s, request.headers.get(CSRF_HEADER)):
        raise HTTPException(403, f"missing or wrong {CSRF_HEADER} header (from the login response)")
    return s


Viewer = Annotated[Session, Depends(_session)]  # logged in
Actor = Annotated[Session, Depends(_csrf)]  # logged in, and the request carries the session's CSRF token



def create_app(backend: CarBackend, settings: ConsoleSettings) -> FastAPI:
    app = FastAPI(title=API_TITLE, version="1", openapi_url="/api/openapi.json", docs_url="/api/docs",
                  redoc_url=None, description="The car's own web console: drive modes, teleop, e-stop, models, "
                  "calibration, camera. Log in with POST /api/login; send the returned csrf_token in "
                  f"{CSRF_HEADER} with every POST/PUT/DELETE.")
    app.state.backend = backend
    app.state.settings = settings
    encoder = FrameEncoder(settings.jpeg_quality)
    app.state.encoder = encoder

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable):
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Content-Security-Policy",
                                    "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; "
                                    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
        if request.url.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(BackendError)
    async def backend_error(request: Request, err: BackendError):
        return JSONResponse({"detail": str(err)}, status_code=503 if err.unavailable else 409)

    # -- page --------------------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(str(STATIC / "index.html"), media_type="text/html")

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    # -- session -----------------------------------------------------------------------------------
    @app.post("/api/login", summary="Log in with the car's password; returns the CSRF token")
    def login(body: LoginBody, request: Request, response: Response) -> dict[str, Any]:
        address = request.client.host if request.client else "?"
        wait = settings.throttle.retry_after(address)
        if wait > 0:
            raise HTTPException(429, f"too many wrong passwords: try again in {math.ceil(wait)} s",
                                headers={"Retry-After": str(math.ceil(wait))})
        if not settings.password.verify(body.password):
            settings.throttle.failed(address)
            raise HTTPException(401, "wrong password")
        settings.throttle.succeeded(address)
        s = settings.sessions.create()
        response.set_cookie(SESSION_COOKIE, s.token, httponly=True, samesite="strict", secure=settings.secure_cookie,
                            max_age=int(settings.sessions.max_age_s), path="/")
        return {"csrf_token": s.csrf_token}

    @app.post("/api/logout")
    def logout(s: Actor, response: Response) -> dict[str, bool]:
        settings.sessions.delete(s.token)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return {"ok": True}

    @app.get("/api/session", summary="The current session's CSRF token (for a reloaded page)")
    def get_session(s: Viewer) -> dict[str, Any]:
        return {"csrf_token": s.csrf_token, "manual_max_speed_mps": settings.manual_max_speed_mps,
                "max_steering_deg": settings.max_steering_deg}

    # -- status and driving ------------------------------------------------------------------------
    @app.get("/api/status")
    def status(s: Viewer) -> dict[str, Any]:
        return backend.status().to_json()

    @app.post("/api/mode", summary="stopped | manual | autonomous (control_node's services)")
    def mode(body: ModeBody, s: Actor) -> dict[str, Any]:
        return {"mode": body.mode.value, "message": backend.set_mode(body.mode)}

    @app.post("/api/estop", summary="E-stop (latching): zero output until released AND a mode is set again")
    def estop(s: Actor, body: EstopBody | None = None) -> dict[str, Any]:
        pressed = True if body is None else body.pressed
        backend.estop(pressed)
        return {"estop_pressed": pressed}

    @app.post("/api/max_speed", summary="control_node's max_speed_scale (0..1)")
    def max_speed(body: MaxSpeedBody, s: Actor) -> dict[str, Any]:
        backend.set_max_speed(body.scale)
        return {"max_speed_scale": body.scale}

    @app.post("/api/teleop", summary="One manual command; send it many times a second while driving")
    def teleop(body: TeleopBody, s: Actor) -> dict[str, Any]:
        speed = body.throttle * settings.manual_max_speed_mps
        steering = body.steering * settings.max_steering_deg
        backend.teleop(speed, steering)
        return {"speed_mps": speed, "steering_deg": steering}

    # -- camera ------------------------------------------------------------------------------------
    def overlay():
        st = backend.policy_overlay()
        return st if st is not None and _autonomous(backend) else None

    @app.get("/api/camera", summary="MJPEG stream of camera/image_raw (policy overlay in autonomous mode)",
             response_class=StreamingResponse)
    async def camera(request: Request, s: Viewer, fps: float | None = None) -> StreamingResponse:
        period = 1.0 / min(settings.stream_max_fps, fps or settings.stream_max_fps)

        async def parts() -> AsyncIterator[bytes]:
            last_seq = -1
            loop = asyncio.get_running_loop()
            next_at = 0.0
            while True:
                if await request.is_disconnected():
                    return
                # a worker thread sleeps until the node has a new frame: no polling, no encoding without news
                frame = await run_in_threadpool(backend.wait_frame, last_seq, 1.0)
                now = loop.time()
                if frame is None:
                    continue
                if now < next_at:  # faster than the viewer asked for: skip this one
                    last_seq = frame.seq
                    continue
                last_seq, next_at = frame.seq, now + period * 0.9  # a little slack: never halve the rate
                jpeg = await run_in_threadpool(encoder.jpeg, frame, overlay())
                yield mjpeg_part(jpeg, frame)

        return StreamingResponse(parts(), media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @app.get("/api/camera/frame.jpg", summary="The newest camera frame as one JPEG")
    def camera_frame(s: Viewer) -> Response:
        frame = backend.latest_frame()
        if frame is None:
            raise HTTPException(503, "no camera frame yet (is camera_node / sim_node running?)")
        return Response(encoder.jpeg(frame, overlay()), media_type="image/jpeg",
                        headers={"X-Frame-Seq": str(frame.seq), "X-Frame-Stamp": f"{frame.stamp:.6f}"})

    # -- models ------------------------------------------------------------------------------------
    @app.get("/api/models")
    def models(s: Viewer) -> dict[str, Any]:
        active = backend.active_model()
        listed = [m.to_json(active) for m in settings.models.list()]
        return {"models": listed, "active": active, "folder": str(settings.models.folder)}

    @app.post("/api/models", summary="Upload a model package (.tar.gz): multipart field `file`, "
              "or the raw archive with ?filename=NAME.tar.gz", status_code=201)
    async def upload(request: Request, s: Actor, filename: str | None = None, overwrite: bool = False) -> dict[str, Any]:
        limit = settings.models.max_upload_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit + 64 * 1024:
            raise HTTPException(413, f"upload is {declared} bytes; the limit is {limit} bytes")
        tmp = Path(tempfile.mkstemp(prefix="deepracer-upload-", suffix=".part")[1])
        try:
            name, form_overwrite = await _receive(request, tmp, limit, filename)
            try:
                stored = await run_in_threadpool(settings.models.add, tmp, name, overwrite or form_overwrite)
            except FileExistsError as err:
                raise HTTPException(409, str(err)) from None
            except ModelPackageError as err:
                raise HTTPException(422, f"model refused: {err}") from None
            return stored.to_json(backend.active_model())
        finally:
            tmp.unlink(missing_ok=True)

    @app.post("/api/models/select", summary="Make a stored model the active one (inference_node loads it)")
    def select(body: SelectBody, s: Actor) -> dict[str, Any]:
        try:
            model = settings.models.get(body.name)
        except KeyError:
            raise HTTPException(404, f"no model named {body.name!r} on the car") from None
        backend.load_model("" if model.bundled else str(model.path))
        return {"active": body.name}

    @app.delete("/api/models/{name}")
    def delete(name: str, s: Actor) -> dict[str, Any]:
        try:
            model = settings.models.get(name)
        except KeyError:
            raise HTTPException(404, f"no model named {name!r} on the car") from None
        active = backend.active_model()
        if model.is_active(active):
            raise HTTPException(409, f"{name} is the active model: select another one first")
        try:
            settings.models.delete(name)
        except PermissionError as err:
            raise HTTPException(403, str(err)) from None
        return {"deleted": name}

    # -- calibration -------------------------------------------------------------------------------
    @app.get("/api/calibration", summary="The servo node's calibration and the wizard's steps")
    def get_calibration(s: Viewer) -> dict[str, Any]:
        report = backend.get_calibration()
        report["steps"] = [{"key": st.key, "title": st.title, "kind": st.kind} for st in STEPS]
        report["direction_probe_us"] = DIRECTION_PROBE_US
        return report

    @app.put("/api/calibration", summary="Save a calibration (validated; written atomically, last good copy kept)")
    def put_calibration(body: CalibrationBody, s: Actor) -> dict[str, Any]:
        from deepracer.control.calibration import Calibration
        from deepracer.errors import CalibrationError

        try:
            Calibration.from_dict(body.calibration)
        except CalibrationError as err:
            raise HTTPException(422, str(err)) from None
        backend.save_calibration(body.calibration)
        return backend.get_calibration()

    @app.post("/api/calibration/mode", summary="Calibration mode on/off (servo/raw honoured only while on)")
    def calibration_mode(body: CalibrationModeBody, s: Actor) -> dict[str, Any]:
        if body.on:
            backend.set_mode(Mode.STOPPED)  # nothing drives while the wheels are being calibrated
        backend.set_calibration_mode(body.on)
        return {"calibration_mode": body.on}

    @app.post("/api/calibration/pulse", summary="Show raw pulses now (the page repeats it while a step is open)")
    def calibration_pulse(body: PulseBody, s: Actor) -> dict[str, Any]:
        backend.calibration_pulse(body.throttle_us, body.steering_us)
        return {"throttle_us": body.throttle_us, "steering_us": body.steering_us}

    return app


def _autonomous(backend: CarBackend) -> bool:
    try:
        return backend.mode() == Mode.AUTONOMOUS.value
    except DeepRacerError:
        return False


class _TooLarge(Exception):
    pass


async def _limited(stream: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    total = 0
    async for chunk in stream:
        total += len(chunk)
        if total > limit:
            raise _TooLarge()
        yield chunk


async def _receive(request: Request, dest: Path, limit: int, filename: str | None) -> tuple[str, bool]:
    """Write the uploaded archive to `dest` (never more than `limit` bytes): (the user's file name, overwrite)."""
    overwrite = False
    kind = request.headers.get("content-type", "")
    try:
        if kind.startswith("multipart/form-data"):
            parser = MultiPartParser(request.headers, _limited(request.stream(), limit + 64 * 1024),
                                     max_files=1, max_fields=4, max_part_size=1024)
            form = await parser.parse()
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise HTTPException(400, "multipart upload needs a file field named `file`")
            name = upload.filename or filename or ""
            with dest.open("wb") as out:
                while chunk := await upload.read(1024 * 1024):
                    out.write(chunk)
            await form.close()
            flag = form.get("overwrite")
            overwrite = isinstance(flag, str) and flag.lower() in ("1", "true", "yes", "on")
        else:
            name = filename or ""
            with dest.open("wb") as out:
                async for chunk in _limited(request.stream(), limit):
                    out.write(chunk)
    except _TooLarge:
        raise HTTPException(413, f"upload is larger than the limit of {limit} bytes") from None
    except MultiPartException as err:
        raise HTTPException(400, f"bad multipart upload: {err.message}") from None
    if dest.stat().st_size > limit:
        raise HTTPException(413, f"upload is larger than the limit of {limit} bytes")
    if not name:
        raise HTTPException(400, "name the file: multipart `file` with a filename, or ?filename=NAME.tar.gz")
    return name, overwrite

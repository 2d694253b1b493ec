"""Accounts of the event server: roles, password hashes, sessions, CSRF, login throttling, and the
authorization of every API route.

- Roles as DeepRacer on AWS: racer, race facilitator, admin (`Role`).
- Passwords: argon2id (argon2-cffi's PasswordHasher, its default parameters).
- Sessions: a random id in a signed (itsdangerous), HttpOnly, SameSite=Lax cookie (Secure over
  HTTPS), backed by the `sessions` table, so logout and pausing a user revoke it at once.
- CSRF: login returns `csrf_token`; every state-changing call made with a session cookie sends it
  back in `X-CSRF-Token`.
- Login attempts: at most LOGIN_ATTEMPTS per LOGIN_WINDOW_S per username + client address (429).
- Authorization in two layers: `ROUTE_POLICY` says who may call each API route (a route
  without an entry is refused to everyone but admins, and a test checks every route has one);
  object checks (`may_see_model`) make another racer's model, evaluation, log, video or
  download a 404, as if it did not exist.

Single-user mode (no accounts in the database, console on a loopback address): every route is
open, as before accounts existed. As soon as one account exists, everything but PUBLIC routes
needs a login.
"""

from __future__ import annotations

import contextvars
import enum
import hmac
import os
import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import Boolean, ForeignKey, Integer, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from deepracer_console.db import Base, UTCDateTime, utcnow

COOKIE = "deepracer_console_session"
CSRF_HEADER = "x-csrf-token"
SESSION_MAX_AGE_S = 12 * 3600  # a class or an event day
LOGIN_ATTEMPTS = 5
LOGIN_WINDOW_S = 60.0
SECRET_FILE = "secret.key"
USERNAME_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$"
PASSWORD_MIN = 8
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


class Role(enum.StrEnum):
    RACER = "racer"
    RACE_FACILITATOR = "race_facilitator"
    ADMIN = "admin"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32), default=Role.RACER)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LoginSession(Base):
    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ModelOwner(Base):
    """Who owns a model (a table of its own so the models table stays as the console made it)."""

    __tablename__ = "model_owners"

    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)


_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def check_password(password: str) -> str:
    from deepracer_console.errors import FieldError

    if not isinstance(password, str) or len(password) < PASSWORD_MIN:
        raise FieldError(f"the password needs at least {PASSWORD_MIN} characters", "password")
    if len(password) > 1024:
        raise FieldError("the password is longer than 1024 characters", "password")
    return password


def check_username(name: str) -> str:
    import re

    from deepracer_console.errors import FieldError

    if not isinstance(name, str) or not re.match(USERNAME_PATTERN, name):
        raise FieldError("a username is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
                         "username")
    return name


def create_user(db: Session, username: str, password: str, role: Role) -> User:
    from deepracer_console.errors import Conflict

    username = check_username(username)
    if db.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"a user named {username!r} exists already", "username")
    user = User(username=username, password_hash=hash_password(check_password(password)), role=Role(role))
    db.add(user)
    db.flush()
    return user


def count_users(sessions: sessionmaker) -> int:
    with sessions() as db:
        return int(db.scalar(select(func.count(User.id))) or 0)


def load_secret(data_dir: Path) -> str:
    """The cookie-signing key, made once per data folder (readable by the console's user only)."""
    path = Path(data_dir) / SECRET_FILE
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        key = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(key + "\n")
        return key


# -- who is asking ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Caller:
    user_id: int | None  # None: single-user mode (the laptop's only user)
    username: str
    role: Role
    session_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def manages_races(self) -> bool:
        return self.role in (Role.ADMIN, Role.RACE_FACILITATOR)


LOCAL = Caller(None, "local", Role.ADMIN)
_caller: contextvars.ContextVar[Caller | None] = contextvars.ContextVar("deepracer_console_caller", default=None)
_method: contextvars.ContextVar[str] = contextvars.ContextVar("deepracer_console_method", default="GET")


def caller() -> Caller | None:
    """Who makes the current request (None: nobody logged in, on a PUBLIC route)."""
    return _caller.get()


def may_see_model(db: Session, model_id: int) -> bool:
    """Racers see their own models only; facilitators see every model but change only their own;
    admins everything."""
    who = caller()
    if who is None:
        return False
    if who.user_id is None or who.is_admin or (who.manages_races and _method.get() not in UNSAFE):
        return True
    owner = db.get(ModelOwner, model_id)
    return owner is not None and owner.user_id == who.user_id


def visible_models(query: Any) -> Any:
    """`select(Model)` narrowed to what the caller may see."""
    from deepracer_console.db import Model

    who = caller()
    if who is not None and (who.user_id is None or who.manages_races):
        return query
    uid = who.user_id if who is not None else -1
    return query.where(Model.id.in_(select(ModelOwner.model_id).where(ModelOwner.user_id == uid)))


def record_owner(db: Session, model_id: int) -> None:
    who = caller()
    if who is not None and who.user_id is not None:
        db.add(ModelOwner(model_id=model_id, user_id=who.user_id))


# -- route policies ----------------------------------------------------------------------------------

class Policy(enum.StrEnum):
    PUBLIC = "public"  # anyone, logged in or not
    USER = "user"  # any logged-in account (object checks narrow it further)
    FACILITATOR = "facilitator"  # race facilitators and admins
    ADMIN = "admin"


ROUTE_POLICY: dict[tuple[str, str], Policy] = {
    ("GET", "/api/health"): Policy.PUBLIC,
    ("POST", "/api/auth/login"): Policy.PUBLIC,
    ("POST", "/api/auth/logout"): Policy.PUBLIC,
    ("GET", "/api/auth/me"): Policy.PUBLIC,
    ("GET", "/api/defaults"): Policy.USER,
    ("GET", "/api/tracks"): Policy.USER,
    ("POST", "/api/tracks"): Policy.FACILITATOR,  # the track library is everyone's
    ("GET", "/api/tracks/{name}/image"): Policy.USER,
    ("POST", "/api/reward/validate"): Policy.USER,
    ("GET", "/api/models"): Policy.USER,
    ("POST", "/api/models"): Policy.USER,
    ("GET", "/api/models/{model_id}"): Policy.USER,
    ("DELETE", "/api/models/{model_id}"): Policy.USER,
    ("POST", "/api/models/{model_id}/stop"): Policy.USER,
    ("GET", "/api/models/{model_id}/metrics"): Policy.USER,
    ("GET", "/api/models/{model_id}/live"): Policy.USER,
    ("GET", "/api/models/{model_id}/logs"): Policy.USER,
    ("POST", "/api/models/{model_id}/evaluations"): Policy.USER,
    ("GET", "/api/models/{model_id}/evaluations"): Policy.USER,
    ("GET", "/api/evaluations/{evaluation_id}"): Policy.USER,
    ("GET", "/api/evaluations/{evaluation_id}/video"): Policy.USER,
    ("GET", "/api/models/{model_id}/report"): Policy.USER,
    ("GET", "/api/models/{model_id}/report/{path:path}"): Policy.USER,
    ("GET", "/api/models/{model_id}/package"): Policy.USER,
    ("GET", "/api/models/{model_id}/training-folder"): Policy.USER,
    ("POST", "/api/models/import"): Policy.USER,
    ("GET", "/api/users"): Policy.ADMIN,
    ("POST", "/api/users"): Policy.ADMIN,
    ("PUT", "/api/users/{user_id}"): Policy.ADMIN,
    ("GET", "/api/users/{user_id}/quota"): Policy.USER,  # their own (quotas.py), admins: anyone's
    ("PUT", "/api/users/{user_id}/quota"): Policy.ADMIN,
    ("GET", "/api/quotas/defaults"): Policy.ADMIN,
    ("PUT", "/api/quotas/defaults"): Policy.ADMIN,
    ("GET", "/api/quotas/usage"): Policy.ADMIN,
    ("GET", "/api/quotas/usage.csv"): Policy.ADMIN,
    ("GET", "/api/races"): Policy.PUBLIC,  # the list shows public races to strangers (races.py filters)
    ("POST", "/api/races"): Policy.FACILITATOR,
    ("GET", "/api/races/{race_id}"): Policy.PUBLIC,
    ("POST", "/api/races/{race_id}/submissions"): Policy.USER,
    ("GET", "/api/races/{race_id}/submissions"): Policy.USER,  # a racer's own; all for facilitators
    ("PATCH", "/api/races/{race_id}"): Policy.FACILITATOR,
    ("DELETE", "/api/races/{race_id}"): Policy.FACILITATOR,
    ("GET", "/api/races/{race_id}/leaderboard"): Policy.PUBLIC,  # unless private (races.py)
    ("GET", "/api/races/{race_id}/submissions/{submission_id}/video"): Policy.PUBLIC,  # as the leaderboard
    ("GET", "/api/docs"): Policy.PUBLIC,  # the API index page (the OpenAPI document itself is open too)
    **{(m, "/api/{path:path}"): Policy.PUBLIC for m in ("GET", "POST", "PUT", "PATCH", "DELETE")},  # JSON 404
}
OPEN_PATHS = ("/api/openapi.json",)


def route_of(app: Any, scope: Scope) -> tuple[str, str] | None:
    for route in app.routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            path = getattr(route, "path", "")
            return scope["method"], path
    return None


class Throttle:
    """Failed login attempts per key (username + address) in a sliding window."""

    def __init__(self, limit: int = LOGIN_ATTEMPTS, window_s: float = LOGIN_WINDOW_S) -> None:
        self.limit, self.window_s = limit, window_s
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            hits = self._hits[key]
            while hits and now - hits[0] > self.window_s:
                hits.popleft()
            return len(hits) < self.limit

    def failed(self, key: str) -> None:
        with self._lock:
            self._hits[key].append(time.monotonic())


class Auth:
    """The console's sessions: cookie signing, the session table, whether accounts are required."""

    def __init__(self, sessions: sessionmaker, data_dir: Path, single_user_allowed: bool) -> None:
        self.sessions = sessions
        self.signer = URLSafeTimedSerializer(load_secret(data_dir), salt="deepracer-console-session")
        self.single_user_allowed = single_user_allowed
        self.accounts_exist = count_users(sessions) > 0
        self.throttle = Throttle()

    @property
    def single_user(self) -> bool:
        return self.single_user_allowed and not self.accounts_exist

    def open_session(self, db: Session, user: User) -> tuple[str, str]:
        """A new session: (cookie value, csrf token)."""
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        db.add(LoginSession(id=sid, user_id=user.id, csrf_token=csrf))
        return self.signer.dumps(sid), csrf

    def caller_from_cookie(self, cookie: str | None) -> tuple[Caller | None, str | None]:
        """(who, csrf token) for a session cookie, or (None, None)."""
        if not cookie:
            return None, None
        try:
            sid = self.signer.loads(cookie, max_age=SESSION_MAX_AGE_S)
        except BadSignature:
            return None, None
        with self.sessions() as db:
            row = db.get(LoginSession, sid)
            if row is None or row.revoked:
                return None, None
            user = db.get(User, row.user_id)
            if user is None or user.paused:
                return None, None
            return Caller(user.id, user.username, Role(user.role), sid), row.csrf_token

    def revoke_user(self, db: Session, user_id: int) -> None:
        for row in db.scalars(select(LoginSession).where(LoginSession.user_id == user_id)).all():
            row.revoked = True


def _cookie(scope: Scope) -> str | None:
    from http.cookies import SimpleCookie

    for name, value in scope.get("headers", []):
        if name == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:
                return None
            if COOKIE in jar:
                return jar[COOKIE].value
    return None


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope.get("headers", []):
        if name == wanted:
            return value.decode("latin-1")
    return None


class AuthMiddleware:
    """Who asks (session cookie), whether they may call this route, and CSRF on state changes."""

    def __init__(self, app: ASGIApp, fastapi_app: Any, auth: Auth) -> None:
        self.app = app
        self.fastapi_app = fastapi_app
        self.auth = auth
        self._routes: dict[tuple[str, str], tuple[str, str] | None] = {}  # (method, path) -> its route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api") or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        import asyncio

        cookie = _cookie(scope)
        if self.auth.single_user:
            who, csrf = LOCAL, None
        elif not cookie:  # nobody logged in (e.g. the public leaderboard): no database to ask
            who, csrf = None, None
        else:
            who, csrf = await asyncio.to_thread(self.auth.caller_from_cookie, cookie)
        key = (scope["method"], scope["path"])
        if key not in self._routes:  # matching every route is a large part of a cheap request
            if len(self._routes) > 4096:
                self._routes.clear()
            self._routes[key] = route_of(self.fastapi_app, scope)
        route = self._routes[key]
        policy = ROUTE_POLICY.get(route) if route else None
        if policy is None:
            policy = Policy.ADMIN  # a route nobody wrote a policy for: admins only (and a test fails)
        problem = None
        if policy != Policy.PUBLIC and who is None:
            problem = (401, "log in first (POST /api/auth/login)")
        elif policy == Policy.FACILITATOR and not who.manages_races:  # type: ignore[union-attr]
            problem = (403, "only race facilitators and admins may do this")
        elif policy == Policy.ADMIN and not who.is_admin:  # type: ignore[union-attr]
            problem = (403, "only admins may do this")
        elif (scope["method"] in UNSAFE and csrf is not None and route != ("POST", "/api/auth/login")
              and not hmac.compare_digest(_header(scope, CSRF_HEADER.encode()) or "", csrf)):
            problem = (403, f"missing or wrong {CSRF_HEADER} header (the csrf_token the login gave)")
        if problem is not None:
            from starlette.responses import JSONResponse

            await JSONResponse({"detail": problem[1], "field": None}, status_code=problem[0])(scope, receive, send)
            return
        token, method = _caller.set(who), _method.set(scope["method"])
        try:
            await self.app(scope, receive, send)
        finally:
            _caller.reset(token)
            _method.reset(method)

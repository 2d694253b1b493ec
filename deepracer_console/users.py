"""Login, logout, who am I, and the admins' user management (`install(app, console)`)."""


from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from deepracer_console import auth
from deepracer_console.auth import COOKIE, SESSION_MAX_AGE_S, Auth, AuthMiddleware, Role, User
from deepracer_console.errors import ConsoleError, FieldError, NotFound


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str
    password: str


class UserOut(BaseModel):
    id: int | None
    username: str
    role: Role
    paused: bool = False


class LoginOut(BaseModel):
    user: UserOut
    csrf_token: str


class Me(BaseModel):
    logged_in: bool
    single_user: bool
    user: UserOut | None = None
    csrf_token: str | None = None  # the session's token again, so a reloaded page can keep sending it


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str
    password: str
    role: Role = Role.RACER


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str | None = None
    role: Role | None = None
    paused: bool | None = None


def owner_key() -> int:
    """The namespace of a new model's name: the caller's user id (0 without accounts). Names are
    unique per owner; two racers may both call a model `my-model`."""
    who = auth.caller()
    return who.user_id if who is not None and who.user_id is not None else 0


def user_out(u: User) -> UserOut:
    return UserOut(id=u.id, username=u.username, role=Role(u.role), paused=u.paused)


class TooManyAttempts(ConsoleError):
    def __init__(self) -> None:
        super().__init__(f"too many login attempts; wait a minute (at most {auth.LOGIN_ATTEMPTS} a minute)",
                         "username", 429)


def install(app: FastAPI, console: Any) -> Auth:
    """The auth routes and the middleware that checks every request."""
    from deepracer_console.server import is_loopback

    settings = console.settings
    guard = Auth(console.sessions, settings.data_dir, single_user_allowed=is_loopback(settings.host))
    console.auth = guard
    router = app  # routes straight on the app (an included router is not in app.routes for the policy check)

    def db() -> Iterator[Session]:
        with console.sessions() as session:
            yield session

    DB = Annotated[Session, Depends(db)]

    @router.post("/api/auth/login", response_model=LoginOut, tags=["accounts"])
    def login(body: Login, request: Request, response: Response, db: DB) -> LoginOut:
        """Log in: sets the session cookie; send `csrf_token` back as X-CSRF-Token on changes."""
        address = request.client.host if request.client else "?"
        key = f"{body.username.lower()}|{address}"
        if not guard.throttle.allow(key):
            raise TooManyAttempts()
        user = db.scalar(select(User).where(User.username == body.username))
        if user is None or not auth.verify_password(user.password_hash, body.password):
            guard.throttle.failed(key)
            raise ConsoleError("wrong username or password", "password", 401)
        if user.paused:
            raise ConsoleError(f"the account {user.username!r} is paused; ask an admin", "username", 403)
        cookie, csrf = guard.open_session(db, user)
        db.commit()
        response.set_cookie(COOKIE, cookie, max_age=SESSION_MAX_AGE_S, httponly=True, samesite="lax",
                            secure=request.url.scheme == "https", path="/")
        return LoginOut(user=user_out(user), csrf_token=csrf)

    @router.post("/api/auth/logout", status_code=204)
    def logout(request: Request, db: DB) -> Response:
        who, _ = guard.caller_from_cookie(request.cookies.get(COOKIE))
        if who is not None and who.session_id is not None:
            row = db.get(auth.LoginSession, who.session_id)
            if row is not None:
                row.revoked = True
                db.commit()
        out = Response(status_code=204)
        out.delete_cookie(COOKIE, path="/")
        return out

    @router.get("/api/auth/me", response_model=Me)
    def me(request: Request) -> Me:
        if guard.single_user:
            return Me(logged_in=True, single_user=True,
                      user=UserOut(id=None, username=auth.LOCAL.username, role=auth.LOCAL.role))
        who, csrf = guard.caller_from_cookie(request.cookies.get(COOKIE))
        if who is None:
            return Me(logged_in=False, single_user=False)
        return Me(logged_in=True, single_user=False, user=UserOut(id=who.user_id, username=who.username,
                                                                 role=who.role), csrf_token=csrf)

    @router.get("/api/users", response_model=list[UserOut])
    def list_users(db: DB) -> list[UserOut]:
        return [user_out(u) for u in db.scalars(select(User).order_by(User.id)).all()]

    @router.post("/api/users", response_model=UserOut, status_code=201)
    def create(body: UserCreate, db: DB) -> UserOut:
        user = auth.create_user(db, body.username, body.password, body.role)
        db.commit()
        guard.accounts_exist = True
        return user_out(user)

    @router.put("/api/users/{user_id}", response_model=UserOut)
    def update(user_id: int, body: UserUpdate, db: DB) -> UserOut:
        """Reset the password, pause (or resume) the account, change the role; sessions end on each."""
        user = db.get(User, user_id)
        if user is None:
            raise NotFound(f"no user {user_id}", "id")
        who = auth.caller()
        if who is not None and who.user_id == user.id and (body.paused or (body.role and body.role != Role.ADMIN)):
            raise FieldError("an admin cannot pause or demote their own account", "role" if body.role else "paused")
        if body.password is not None:
            user.password_hash = auth.hash_password(auth.check_password(body.password))
        if body.role is not None:
            user.role = body.role
        if body.paused is not None:
            user.paused = body.paused
        if body.password is not None or body.paused or body.role is not None:
            guard.revoke_user(db, user.id)
        db.commit()
        return user_out(user)

    app.add_middleware(AuthMiddleware, fastapi_app=app, auth=guard)
    return guard


def admin_create(settings: Any, name: str, password: str | None) -> int:
    """`deepracer console admin create NAME`: the first (or another) admin account."""
    import getpass

    from deepracer.errors import ConfigError
    from deepracer_console.db import open_database

    if password is None:
        password = getpass.getpass(f"password for {name}: ")
        if getpass.getpass("again: ") != password:
            raise ConfigError("the two passwords differ")
    settings.make_dirs()
    sessions = open_database(settings.db_url)
    try:
        with sessions.begin() as db:
            user = auth.create_user(db, name, password, Role.ADMIN)
    except ConsoleError as err:
        raise ConfigError(err.detail) from None
    print(f"admin {user.username!r} created (data: {settings.data_dir})")
    return 0

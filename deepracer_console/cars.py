"""The cars of an event (DREM's car registry, shared/deepracer-facts.md §12) and "upload the next
racer's model to the car" through the car's own web console (car_client.py).

A car is a name, the address of its device console (http(s)://host[:port]) and its token (the
device console's password). The token is encrypted (Fernet, from `cryptography`) with a key kept
in the data folder (`car-tokens.key`, mode 0600), not in the database, so a copy of the database
alone does not give the cars away; the API never returns it, only its last two characters.
Facilitators and admins register and change cars; only admins delete them (as DREM).
"""


import os
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken
from fastapi import Depends, FastAPI
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from deepracer_console import auth
from deepracer_console import validation as v
from deepracer_console.auth import ModelOwner, Policy, User
from deepracer_console.car_client import CarClient, CarError
from deepracer_console.db import Model
from deepracer_console.errors import Conflict, ConsoleError, FieldError, NotFound
from deepracer_console.physical import Car

KEY_FILE = "car-tokens.key"
TOKEN_MAX = 256
CAR_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")  # the car's model names (device console)

POLICY: dict[tuple[str, str], Policy] = {
    ("GET", "/api/cars"): Policy.FACILITATOR,
    ("POST", "/api/cars"): Policy.FACILITATOR,
    ("GET", "/api/cars/{car_id}"): Policy.FACILITATOR,
    ("PUT", "/api/cars/{car_id}"): Policy.FACILITATOR,
    ("DELETE", "/api/cars/{car_id}"): Policy.ADMIN,  # DREM: car deletion is admin-only
    ("POST", "/api/cars/{car_id}/check"): Policy.FACILITATOR,
    ("POST", "/api/cars/{car_id}/model"): Policy.FACILITATOR,
}


class CarCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    address: str
    token: str


class CarUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    address: str | None = None
    token: str | None = None


class CarOut(BaseModel):
    id: int
    name: str
    address: str
    token_hint: str  # the token's last two characters ("" for a short one); never the token
    created_at: datetime


class CarCheck(BaseModel):
    car: CarOut
    reachable: bool
    active: str | None
    models: list[str]


class CarUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model_id: int
    select: bool = True  # make it the car's active model


class CarUploadOut(BaseModel):
    car: CarOut
    model_id: int
    name_on_car: str
    active: str | None


class TokenVault:
    """Encrypts car tokens with a Fernet key made once per data folder."""

    def __init__(self, data_dir: Path) -> None:
        path = Path(data_dir) / KEY_FILE
        try:
            key = path.read_bytes().strip()
        except FileNotFoundError:
            key = Fernet.generate_key()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(key + b"\n")
        self._fernet = Fernet(key)

    def seal(self, token: str) -> str:
        return self._fernet.encrypt(token.encode("utf-8")).decode("ascii")

    def open(self, sealed: str, car: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise Conflict(f"car {car!r}: its token cannot be decrypted with this data folder's {KEY_FILE}; "
                           "set the token again (PUT /api/cars/{id})", "token") from None


def check_car_name(name: str) -> str:
    if not isinstance(name, str) or not CAR_NAME_RE.match(name):
        raise FieldError("a car name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
                         "name")
    return name


def check_address(address: str) -> str:
    """http(s)://host[:port] of the car's device console; nothing else (no path, user or query)."""
    problem = "address must be http://HOST[:PORT] or https://HOST[:PORT] (the car's console, e.g. " \
              "http://10.0.0.13:8080)"
    try:
        parts = urlsplit(address.strip())
        port = parts.port
    except (ValueError, AttributeError):
        raise FieldError(problem, "address") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password \
            or parts.path not in ("", "/") or parts.query or parts.fragment or len(address) > 255:
        raise FieldError(problem, "address")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def check_token(token: str) -> str:
    if not isinstance(token, str) or not 1 <= len(token) <= TOKEN_MAX or token != token.strip():
        raise FieldError(f"token must be the car's console password: 1-{TOKEN_MAX} characters, no surrounding "
                         "spaces", "token")
    return token


def hint(token: str) -> str:
    return token[-2:] if len(token) >= 8 else ""


def car_out(car: Car) -> CarOut:
    return CarOut(id=car.id, name=car.name, address=car.address, token_hint=car.token_hint,
                  created_at=car.created_at)


def name_on_car(racer: str, model_name: str) -> str:
    """The model's name in the car's models folder: racer-model, as the car's console accepts names."""
    raw = re.sub(r"[^A-Za-z0-9._-]", "-", f"{racer}-{model_name}").lstrip("._-") or "model"
    return raw[:64]


def install(app: FastAPI, console: Any) -> None:
    auth.ROUTE_POLICY.update(POLICY)
    vault = TokenVault(console.settings.data_dir)
    console.car_tokens = vault

    def db() -> Iterator[Session]:
        with console.sessions() as session:
            yield session

    DB = Annotated[Session, Depends(db)]

    def get_car(db: Session, car_id: int) -> Car:
        car = db.get(Car, car_id)
        if car is None:
            raise NotFound(f"no car {car_id}", "car_id")
        return car

    def client(car: Car) -> CarClient:
        return CarClient(car.name, car.address, vault.open(car.token_secret, car.name))

    def unique(db: Session, name: str, car_id: int | None = None) -> None:
        other = db.scalar(select(Car.id).where(Car.name == name))
        if other is not None and other != car_id:
            raise Conflict(f"a car named {name!r} exists already", "name")

    @app.get("/api/cars", response_model=list[CarOut], tags=["cars"])
    def list_cars(db: DB) -> list[CarOut]:
        return [car_out(c) for c in db.scalars(select(Car).order_by(Car.name)).all()]

    @app.post("/api/cars", response_model=CarOut, status_code=201, tags=["cars"])
    def create_car(body: CarCreate, db: DB) -> CarOut:
        """Register a car: its name, its console's address and its console password (the token)."""
        name, address, token = check_car_name(body.name), check_address(body.address), check_token(body.token)
        unique(db, name)
        who = auth.caller()
        car = Car(name=name, address=address, token_secret=vault.seal(token), token_hint=hint(token),
                  created_by=who.user_id if who else None)
        db.add(car)
        db.commit()
        return car_out(car)

    @app.get("/api/cars/{car_id}", response_model=CarOut, tags=["cars"])
    def read_car(car_id: int, db: DB) -> CarOut:
        return car_out(get_car(db, car_id))

    @app.put("/api/cars/{car_id}", response_model=CarOut, tags=["cars"])
    def update_car(car_id: int, body: CarUpdate, db: DB) -> CarOut:
        car = get_car(db, car_id)
        if body.name is not None:
            name = check_car_name(body.name)
            unique(db, name, car.id)  # before the change: a flush of a taken name would fail in the database
            car.name = name
        if body.address is not None:
            car.address = check_address(body.address)
        if body.token is not None:
            token = check_token(body.token)
            car.token_secret, car.token_hint = vault.seal(token), hint(token)
        db.commit()
        return car_out(car)

    @app.delete("/api/cars/{car_id}", status_code=204, tags=["cars"])
    def delete_car(car_id: int, db: DB) -> None:
        db.delete(get_car(db, car_id))
        db.commit()

    @app.post("/api/cars/{car_id}/check", response_model=CarCheck, tags=["cars"])
    def check_car(car_id: int, db: DB) -> CarCheck:
        """Log in to the car's console and list its models (502 naming the car when that fails)."""
        car = get_car(db, car_id)
        try:
            with client(car) as c:
                listed = c.models()
        except CarError as err:
            raise ConsoleError(str(err), "car", 502) from None
        return CarCheck(car=car_out(car), reachable=True, active=listed.get("active"),
                        models=[str(m.get("name")) for m in listed.get("models", []) if isinstance(m, dict)])

    @app.post("/api/cars/{car_id}/model", response_model=CarUploadOut, tags=["cars"])
    def upload_model(car_id: int, body: CarUpload, db: DB) -> CarUploadOut:
        """Upload a model's package to the car and (by default) select it: the next racer's model."""
        from deepracer.model.tarball import pack_model

        car = get_car(db, car_id)
        model = db.get(Model, body.model_id)
        if model is None:
            raise NotFound(f"no model {body.model_id}", "model_id")
        package = console.storage.package_dir(model.id)
        if not (package / "model.onnx").is_file():
            raise Conflict(f"model {model.name!r} has no model package yet (not trained)", "model_id")
        owner = db.get(ModelOwner, model.id)
        user = db.get(User, owner.user_id) if owner else None
        on_car = name_on_car(user.username if user else "local", v.check_name(model.name))
        out = console.storage.model_dir(model.id) / "downloads" / f"{model.name}.tar.gz"
        newest = max(p.stat().st_mtime for p in package.iterdir())
        if not out.is_file() or out.stat().st_mtime < newest:
            try:
                pack_model(package, out)
            except Exception as err:
                raise ConsoleError(f"cannot pack the model: {err}", "model_id", 500) from err
        try:
            with client(car) as c:
                c.upload_model(out, on_car, overwrite=True)
                active = c.select_model(on_car).get("active") if body.select else c.models().get("active")
        except CarError as err:
            raise ConsoleError(str(err), "car", 502) from None
        return CarUploadOut(car=car_out(car), model_id=model.id, name_on_car=on_car, active=active)

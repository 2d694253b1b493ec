"""A client of a car's own web console (deepracer.device_console, docs/device-console.md): log in
with the car's password, upload a model package, select it.

    with CarClient("car-3", "http://10.0.0.13:8080", password) as car:
        car.upload_model(Path("alice-fast.tar.gz"), "alice-fast")
        car.select_model("alice-fast")

Every failure is a CarError whose message names the car and its address and says what went
wrong (unreachable, wrong password, the car refused the model, ...); the API answers it with 502.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 60.0  # an upload of a 200 MB model over the event's Wi-Fi; selecting loads the model


class CarError(Exception):
    def __init__(self, car: str, address: str, problem: str, status_code: int | None = None) -> None:
        super().__init__(f"car {car!r} ({address}): {problem}")
        self.car, self.address, self.problem, self.status_code = car, address, problem, status_code


class CarClient:
    def __init__(self, name: str, address: str, password: str, *, verify_tls: bool = True,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.name, self.address = name, address.rstrip("/")
        self._password = password
        self._csrf: str | None = None
        self._http = httpx.Client(base_url=self.address, verify=verify_tls, transport=transport,
                                  timeout=httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
                                  follow_redirects=False)

    def __enter__(self) -> CarClient:
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- calls -----------------------------------------------------------------------------------------
    def login(self) -> None:
        r = self._request("POST", "/api/login", json={"password": self._password}, logged_in=False)
        if r.status_code == 401:
            raise CarError(self.name, self.address, "the car refused its token (wrong password)", 401)
        if r.status_code == 429:
            raise CarError(self.name, self.address, f"the car throttles logins: {self._detail(r)}", 429)
        self._expect(r, 200, "log in")
        try:
            self._csrf = str(r.json()["csrf_token"])
        except (ValueError, KeyError, TypeError):
            raise CarError(self.name, self.address, "the login answer has no csrf_token: is this a deepracer "
                           "car console?") from None

    def models(self) -> dict[str, Any]:
        """GET /api/models: {models: [...], active, folder}."""
        r = self._request("GET", "/api/models")
        self._expect(r, 200, "list its models")
        return dict(r.json())

    def upload_model(self, package: Path, name: str, overwrite: bool = True) -> dict[str, Any]:
        """POST /api/models with the raw .tar.gz (the car checks it like `deepracer model check`)."""
        with package.open("rb") as f:
            r = self._request("POST", "/api/models", content=f,
                              params={"filename": f"{name}.tar.gz", "overwrite": str(overwrite).lower()},
                              headers={"content-type": "application/gzip"})
        self._expect(r, 201, "take the model")
        return dict(r.json())

    def select_model(self, name: str) -> dict[str, Any]:
        """POST /api/models/select: inference_node loads it (or refuses and keeps the old one)."""
        r = self._request("POST", "/api/models/select", json={"name": name})
        self._expect(r, 200, f"select model {name!r}")
        return dict(r.json())

    # -- plumbing --------------------------------------------------------------------------------------
    def _request(self, method: str, path: str, logged_in: bool = True, **kw: Any) -> httpx.Response:
        if logged_in and self._csrf is None:
            self.login()
        headers = dict(kw.pop("headers", {}) or {})
        if self._csrf is not None and method != "GET":
            headers["X-CSRF-Token"] = self._csrf
        try:
            return self._http.request(method, path, headers=headers, **kw)
        except httpx.TimeoutException:
            raise CarError(self.name, self.address, "the car did not answer in time (is it on and on this "
                           "network?)") from None
        except httpx.TransportError as err:
            raise CarError(self.name, self.address, f"the car is unreachable: {err or type(err).__name__}") from None

    def _expect(self, r: httpx.Response, status: int, doing: str) -> None:
        if r.status_code != status:
            raise CarError(self.name, self.address, f"the car would not {doing}: HTTP {r.status_code} "
                           f"{self._detail(r)}", r.status_code)

    @staticmethod
    def _detail(r: httpx.Response) -> str:
        try:
            body = r.json()
            return str(body.get("detail", body)) if isinstance(body, dict) else str(body)
        except ValueError:
            return r.text[:200]

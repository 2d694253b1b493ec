"""The car's password, login sessions, CSRF tokens and login throttling.

- Password: an argon2id hash (argon2-cffi) in a file, written by `deepracer install-system`
  or `deepracer device-console password`. A file holding a plain password (not starting with
  `$argon2`) is accepted too, for a throw-away simulator setup, and said so in the log.
- Sessions: random opaque tokens kept in memory (a restart logs everyone out), in an
  HttpOnly, SameSite=Strict cookie; each has its own CSRF token that every state-changing
  request sends back in `X-CSRF-Token`.
- Throttling: after `max_failures` wrong passwords from one address within `window_s`,
  that address waits `lockout_s` (HTTP 429 with Retry-After); every address together is
  limited too, so an attacker with many addresses is slowed as well.
"""

from __future__ import annotations

import hmac
import os
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from deepracer.errors import ConfigError
from deepracer.files import atomic_write_text

SESSION_COOKIE = "deepracer_session"
CSRF_HEADER = "X-CSRF-Token"
HASH_PREFIX = "$argon2"
GENERATED_PASSWORD_WORDS = 4  # secrets.token_urlsafe-based: ~ 4 x 6 chars, easy to type on a phone

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise ConfigError("the car's password must have at least 8 characters")
    return _hasher.hash(password)


def generate_password() -> str:
    """Random, readable, typeable on a phone: four groups of six letters/digits."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i
    return "-".join("".join(secrets.choice(alphabet) for _ in range(6)) for _ in range(GENERATED_PASSWORD_WORDS))


def write_password_file(path: str | Path, password: str, owner: tuple[int, int] | None = None) -> Path:
    """Store the argon2 hash with mode 0600 (atomically; `owner` = (uid, gid) to chown to)."""
    return atomic_write_text(path, hash_password(password) + "\n", mode=0o600, owner=owner)


@dataclass(frozen=True)
class PasswordCheck:
    """Verifies a password against the stored hash (or a plain password from a test setup)."""

    stored: str
    hashed: bool

    @classmethod
    def from_file(cls, path: str | Path) -> PasswordCheck:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise ConfigError("console password file not found (deepracer install-system writes it)", path) from None
        except OSError as err:
            raise ConfigError(f"cannot read the console password file: {err.strerror}", path) from err
        if not text:
            raise ConfigError("the console password file is empty", path)
        return cls.from_text(text)

    @classmethod
    def from_text(cls, text: str) -> PasswordCheck:
        return cls(text, text.startswith(HASH_PREFIX))

    def verify(self, password: str) -> bool:
        if not self.hashed:
            return hmac.compare_digest(password.encode(), self.stored.encode())
        try:
            return _hasher.verify(self.stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


@dataclass
class Session:
    token: str
    csrf_token: str
    created: float
    last_seen: float


@dataclass
class SessionStore:
    """In-memory sessions: expire after `idle_s` without a request or `max_age_s` in all."""

    idle_s: float = 3600.0
    max_age_s: float = 12 * 3600.0
    max_sessions: int = 64  # the oldest goes when more log in
    _sessions: dict[str, Session] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def create(self) -> Session:
        now = time.monotonic()
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now, now)
        with self._lock:
            self._expire(now)
            while len(self._sessions) >= self.max_sessions:
                oldest = min(self._sessions.values(), key=lambda s: s.last_seen)
                del self._sessions[oldest.token]
            self._sessions[session.token] = session
        return session

    def get(self, token: str | None) -> Session | None:
        if not token:
            return None
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            session = self._sessions.get(token)
            if session is not None:
                session.last_seen = now
            return session

    def delete(self, token: str | None) -> None:
        with self._lock:
            self._sessions.pop(token or "", None)

    def _expire(self, now: float) -> None:
        dead = [t for t, s in self._sessions.items() if now - s.last_seen > self.idle_s or now - s.created > self.max_age_s]
        for token in dead:
            del self._sessions[token]


def csrf_ok(session: Session, header_value: str | None) -> bool:
    return header_value is not None and hmac.compare_digest(session.csrf_token.encode(), header_value.encode())


@dataclass
class LoginThrottle:
    """Wrong passwords per address (and overall) within a window; retry_after() > 0 = refuse."""

    max_failures: int = 5
    window_s: float = 60.0
    lockout_s: float = 60.0
    max_failures_all: int = 30  # all addresses together, same window
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _all: deque[float] = field(default_factory=deque)
    _locked_until: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def retry_after(self, address: str, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._trim(now)
            wait = self._locked_until.get(address, 0.0) - now
            if len(self._all) >= self.max_failures_all:
                wait = max(wait, self._all[0] + self.window_s - now)
            return max(0.0, wait)

    def failed(self, address: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._trim(now)
            mine = self._failures.setdefault(address, deque())
            mine.append(now)
            self._all.append(now)
            if len(mine) >= self.max_failures:
                self._locked_until[address] = now + self.lockout_s
                mine.clear()

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._failures.pop(address, None)

    def _trim(self, now: float) -> None:
        for q in [*self._failures.values(), self._all]:
            while q and now - q[0] > self.window_s:
                q.popleft()
        for address in [a for a, until in self._locked_until.items() if until <= now]:
            del self._locked_until[address]


SYSTEM_PASSWORD_FILE = Path("/etc/deepracer/console-password")
USER_PASSWORD_FILE = Path("~/.config/deepracer/console-password")


def default_password_file() -> Path:
    """$DEEPRACER_CONSOLE_PASSWORD_FILE, else the installed /etc/deepracer/console-password, else the user's."""
    override = os.environ.get("DEEPRACER_CONSOLE_PASSWORD_FILE")
    if override:
        return Path(override).expanduser()
    if SYSTEM_PASSWORD_FILE.exists():
        return SYSTEM_PASSWORD_FILE
    return USER_PASSWORD_FILE.expanduser()

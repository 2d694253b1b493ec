"""The leaderboard cache: a league night has a few hundred people watching one leaderboard and a
submission finishing every minute or so, so each race's leaderboard JSON is computed once and
served as bytes until something it is made of changes.

Correctness: every commit that wrote a row of a table a leaderboard is made of (`WATCHED`:
races, race_* and attempt_* tables, evaluations) moves a process-wide generation on, *after* the
commit, so a leaderboard computed from the old rows is never stored under the new generation
(a computation stores its result only if the generation it started in is still current). The
job runner and the API write through the same ORM sessions in this process, so a submission
that finishes (its evaluation row changes) invalidates the cache at once. Writes the ORM does
not see (another process on the same PostgreSQL database, hand-made SQL) are covered by
`MAX_AGE_S`: no entry is served older than that.
"""

from __future__ import annotations

import gzip
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

MAX_AGE_S = 10.0
WATCHED_PREFIXES = ("race_", "attempt_")
WATCHED = frozenset({"races", "evaluations"})

_lock = threading.Lock()
_generation = 0


def generation() -> int:
    return _generation


def _bump() -> None:
    global _generation
    with _lock:
        _generation += 1


def _watched(obj: Any) -> bool:
    table = getattr(getattr(obj, "__table__", None), "name", "")
    return table in WATCHED or table.startswith(WATCHED_PREFIXES)


def _after_flush(session: Session, _context: Any) -> None:
    if any(_watched(o) for o in (*session.new, *session.dirty, *session.deleted)):
        session.info["leaderboards_changed"] = True


def _after_commit(session: Session) -> None:
    if session.info.pop("leaderboards_changed", False):
        _bump()


def _after_rollback(session: Session) -> None:
    session.info.pop("leaderboards_changed", None)


event.listen(Session, "after_flush", _after_flush)
event.listen(Session, "after_commit", _after_commit)
event.listen(Session, "after_rollback", _after_rollback)


@dataclass(frozen=True)
class Board:
    """One race's leaderboard as served, with what the visibility check needs."""

    race_id: int
    private: bool
    invite_token: str
    body: bytes  # the JSON
    gzipped: bytes  # the same, gzip-compressed once (browsers accept it; a tenth of the bytes)
    generation: int
    made_at: float


class LeaderboardCache:
    def __init__(self) -> None:
        self._boards: dict[int, Board] = {}
        self.hits = 0
        self.misses = 0

    def get(self, race_id: int) -> Board | None:
        board = self._boards.get(race_id)
        if board is None or board.generation != _generation or time.monotonic() - board.made_at > MAX_AGE_S:
            self.misses += 1
            return None
        self.hits += 1
        return board

    def drop(self, race_id: int) -> None:
        """A deleted race: its board goes at once (not only at the next generation check)."""
        self._boards.pop(race_id, None)

    def put(self, race_id: int, private: bool, invite_token: str, body: bytes, started_in: int) -> Board:
        """Keep the board only if nothing changed while it was computed (`started_in`: generation())."""
        board = Board(race_id, private, invite_token, body, gzip.compress(body, 6), started_in, time.monotonic())
        if started_in == _generation:
            self._boards[race_id] = board
        return board

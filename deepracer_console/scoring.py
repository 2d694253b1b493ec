"""Race scoring as DeepRacer on AWS scores a community race (shared/deepracer-facts.md §10).

Pure functions over lap times (ms, lower wins):
- TOTAL_TIME: the sum of the lap times;
- BEST_LAP_TIME: the fastest completed lap;
- AVG_LAP_TIME: the best mean over windows of `minimum_laps` consecutive completed laps;
- a submission is ranked only when its longest run of consecutive completed laps reaches
  `minimum_laps`; otherwise it scores the sentinel INVALID_MS (86 000 000 ms);
- a racer's place on the leaderboard keeps their best score; ties go to the earlier submission.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

INVALID_MS = 86_000_000  # DROA's rankingScore sentinel for "not ranked"
DEFAULT_MINIMUM_LAPS = 3
DEFAULT_LAPS = 5  # laps driven per submission (DROA's "max laps")
LAP_CHOICES = (1, 2, 3, 5, 10)
DEFAULT_OFF_TRACK_PENALTY_S = 1.0
DEFAULT_SUBMISSIONS_PER_DAY = 99  # DROA: max submissions per user 99


class Ranking(enum.StrEnum):
    TOTAL_TIME = "TOTAL_TIME"
    AVG_LAP_TIME = "AVG_LAP_TIME"
    BEST_LAP_TIME = "BEST_LAP_TIME"


DEFAULT_RANKING = Ranking.TOTAL_TIME


@dataclass(frozen=True)
class Lap:
    time_ms: int
    completed: bool
    off_track: int = 0
    resets: int = 0
    invalid: bool = False  # a physical race's lap the timekeeper invalidated (or a DNF's): not "unfinished"


def laps_from_trials(trials: Iterable[dict[str, Any]]) -> list[Lap]:
    """`deepracer evaluate --json` trials (continuous laps) as laps."""
    out = []
    for t in trials:
        completed = float(t.get("progress") or 0.0) >= 100.0 and t.get("lap_time_s") is not None
        seconds = t.get("lap_time_s") if completed else t.get("elapsed_s")
        out.append(Lap(round(float(seconds or 0.0) * 1000), completed, int(t.get("off_track") or 0),
                       int(t.get("resets") or 0)))
    return out


def max_consecutive(laps: Sequence[Lap]) -> int:
    best = run = 0
    for lap in laps:
        run = run + 1 if lap.completed else 0
        best = max(best, run)
    return best


def score_ms(laps: Sequence[Lap], ranking: Ranking, minimum_laps: int) -> int:
    """The submission's ranking score in ms (INVALID_MS when it does not qualify)."""
    if minimum_laps < 1 or max_consecutive(laps) < minimum_laps:
        return INVALID_MS
    if ranking == Ranking.TOTAL_TIME:
        return sum(lap.time_ms for lap in laps)
    if ranking == Ranking.BEST_LAP_TIME:
        return min(lap.time_ms for lap in laps if lap.completed)
    best = INVALID_MS
    for i in range(len(laps) - minimum_laps + 1):
        window = laps[i:i + minimum_laps]
        if all(lap.completed for lap in window):
            # half up, as JavaScript's Math.round in DeepRacer's own code (not Python's half-to-even)
            best = min(best, math.floor(sum(lap.time_ms for lap in window) / minimum_laps + 0.5))
    return best


def check_race_laps(ranking: Ranking, minimum_laps: int, laps: int) -> str | None:
    """DROA's form rules: TOTAL_TIME drives exactly the minimum laps; otherwise laps ≥ minimum."""
    if laps not in LAP_CHOICES:
        return f"laps must be one of {', '.join(map(str, LAP_CHOICES))}"
    if not 1 <= minimum_laps <= laps:
        return f"minimum_laps must be between 1 and laps ({laps})"
    if ranking == Ranking.TOTAL_TIME and laps != minimum_laps:
        return "a TOTAL_TIME race drives exactly minimum_laps laps (laps must equal minimum_laps)"
    return None


@dataclass(frozen=True)
class Entry:
    submission_id: int
    racer: str
    score_ms: int
    submitted_at: datetime
    laps: list[Lap] = field(default_factory=list)


@dataclass(frozen=True)
class Place:
    rank: int
    entry: Entry
    gap_ms: int  # to the first place


def leaderboard(entries: Iterable[Entry]) -> list[Place]:
    """Each racer's best ranked entry, ordered by score then submission time; unranked left out."""
    best: dict[str, Entry] = {}
    for e in entries:
        if e.score_ms >= INVALID_MS:
            continue
        kept = best.get(e.racer)
        if kept is None or (e.score_ms, e.submitted_at, e.submission_id) < (kept.score_ms, kept.submitted_at,
                                                                             kept.submission_id):
            best[e.racer] = e
    ordered = sorted(best.values(), key=lambda e: (e.score_ms, e.submitted_at, e.submission_id))
    first = ordered[0].score_ms if ordered else 0
    return [Place(i + 1, e, e.score_ms - first) for i, e in enumerate(ordered)]

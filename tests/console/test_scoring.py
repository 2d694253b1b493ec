"""Race scoring mirrors DeepRacer on AWS (ModelPerformanceMetricsHelper / jobFinalizer): totals,
best lap, best window average, the 86 000 000 ms sentinel, a racer's best score, ties to the earlier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from deepracer_console.scoring import (
    INVALID_MS,
    Entry,
    Lap,
    Ranking,
    check_race_laps,
    laps_from_trials,
    leaderboard,
    max_consecutive,
    score_ms,
)


def laps(*times: int | None) -> list[Lap]:
    return [Lap(t, True) if t is not None else Lap(5000, False) for t in times]


def test_total_best_and_average() -> None:
    run = laps(10_000, 9_000, 11_000)
    assert score_ms(run, Ranking.TOTAL_TIME, 3) == 30_000
    assert score_ms(run, Ranking.BEST_LAP_TIME, 3) == 9_000
    assert score_ms(run, Ranking.AVG_LAP_TIME, 3) == 10_000
    # the best window of 2 consecutive completed laps, rounded to whole ms
    assert score_ms(laps(12_000, 9_001, 9_000, None, 8_000), Ranking.AVG_LAP_TIME, 2) == 9_001  # 9000.5 half up
    assert score_ms(laps(12_000, 9_002, 9_001, None, 8_000), Ranking.AVG_LAP_TIME, 2) == 9_002  # 9001.5 half up


def test_sentinel_without_enough_consecutive_laps() -> None:
    broken = laps(9_000, None, 9_000, 9_000)
    assert max_consecutive(broken) == 2
    assert score_ms(broken, Ranking.BEST_LAP_TIME, 3) == INVALID_MS
    assert score_ms(broken, Ranking.BEST_LAP_TIME, 2) == 9_000
    assert score_ms([], Ranking.TOTAL_TIME, 1) == INVALID_MS


def test_laps_from_evaluate_trials() -> None:
    trials = [{"trial": 1, "progress": 100.0, "lap_time_s": 12.3456, "elapsed_s": 12.3456, "off_track": 1},
              {"trial": 2, "progress": 63.0, "lap_time_s": None, "elapsed_s": 20.0, "off_track": 3}]
    got = laps_from_trials(trials)
    assert got == [Lap(12_346, True, 1, 0), Lap(20_000, False, 3, 0)]


def test_leaderboard_best_per_racer_and_ties_to_the_earlier() -> None:
    t0 = datetime(2026, 12, 1, tzinfo=UTC)
    board = leaderboard([
        Entry(1, "ann", 30_000, t0),
        Entry(2, "ben", 29_000, t0 + timedelta(minutes=1)),
        Entry(3, "ann", 28_000, t0 + timedelta(minutes=2)),  # ann's better run counts
        Entry(4, "cat", 29_000, t0 + timedelta(minutes=3)),  # ties ben, later: behind him
        Entry(5, "dan", INVALID_MS, t0),  # not ranked
    ])
    assert [(p.rank, p.entry.racer, p.entry.submission_id, p.gap_ms) for p in board] == [
        (1, "ann", 3, 0), (2, "ben", 2, 1_000), (3, "cat", 4, 1_000)]


def test_droa_form_rules() -> None:
    assert check_race_laps(Ranking.TOTAL_TIME, 3, 3) is None
    assert "equal" in (check_race_laps(Ranking.TOTAL_TIME, 3, 5) or "")
    assert check_race_laps(Ranking.BEST_LAP_TIME, 3, 5) is None
    assert check_race_laps(Ranking.BEST_LAP_TIME, 5, 3) is not None
    assert check_race_laps(Ranking.AVG_LAP_TIME, 3, 4) is not None  # 4 is not one of DROA's choices

"""The Event Manager's timekeeper rules as pure logic: automatic start, time expiry at the next
lap, DNF, validity by resets, undo/toggle, RESUME from over, DREM's summary."""

from __future__ import annotations

import pytest

from deepracer_console.timekeeper import Lap, State, Timekeeper, TimekeeperError, summary


def test_automatic_timer_starts_the_race_and_laps_run_only_while_running() -> None:
    tk = Timekeeper(race_time_ms=60_000)
    with pytest.raises(TimekeeperError):
        tk.capture_lap(0)  # a manual lap before the start
    assert tk.capture_lap(1_000, auto_timer=True) is None and tk.state == State.RUNNING
    lap = tk.capture_lap(11_000, auto_timer=True)
    assert lap is not None and lap.time_ms == 10_000 and lap.is_valid
    tk.pause(15_000)
    assert tk.elapsed_ms(40_000) == 14_000  # paused time does not count
    tk.resume(40_000)
    lap2 = tk.capture_lap(48_000)
    assert lap2 is not None and lap2.time_ms == 12_000  # 4 s before the pause + 8 s after
    assert tk.time_left_ms(48_000) == 60_000 - 22_000


def test_time_up_ends_the_race_only_at_the_next_lap() -> None:
    tk = Timekeeper(race_time_ms=20_000)
    tk.start(0)
    tk.capture_lap(15_000)
    assert tk.time_left_ms(25_000) == 0 and tk.state == State.RUNNING  # the lap in progress goes on
    last = tk.capture_lap(27_000)
    assert last is not None and last.time_ms == 12_000 and tk.state == State.RACE_IS_OVER
    with pytest.raises(TimekeeperError):
        tk.capture_lap(30_000)
    tk.resume(31_000)
    assert tk.state == State.PAUSED  # RESUME from over: paused, the operator decides


def test_resets_validity_dnf_toggle_undo() -> None:
    tk = Timekeeper(resets_per_lap=1)
    tk.start(0)
    tk.reset()
    tk.off_track()
    a = tk.capture_lap(10_000)
    tk.reset()
    tk.reset()
    b = tk.capture_lap(21_000)
    assert a is not None and a.is_valid and a.resets == 1 and a.off_tracks == 1
    assert b is not None and not b.is_valid and b.resets == 2
    assert tk.toggle_valid(b.lap_id).is_valid
    dnf = tk.dnf(25_000)
    assert not dnf.is_valid and dnf.time_ms == 4_000 and tk.state == State.PAUSED
    assert tk.undo_last_lap() == dnf and len(tk.laps) == 2


def test_summary_as_drem() -> None:
    laps = [Lap(1, 10_000, 0, True, True), Lap(2, 9_000, 0, True, True), Lap(3, 9_001, 0, True, True),
            Lap(4, 7_000, 5, False, True), Lap(5, 8_000, 0, True, True)]
    s = summary(laps, window=3)
    assert s.fastest_lap_ms == 8_000  # the invalid 7 s lap does not count
    assert s.fastest_average_ms == 9_334  # (10000 + 9000 + 9001) / 3, half up; no all-valid window after lap 4
    assert s.average_lap_ms == 9_000 and s.valid_laps == 4 and s.invalid_laps == 1
    assert s.most_consecutive_laps == 3
    assert summary([]).fastest_lap_ms is None

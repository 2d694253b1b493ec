"""`deepracer bench latency`: the frame/command correlation, and a short run through the real graph."""

from __future__ import annotations

import argparse

import pytest

from deepracer_nodes.bench_latency import add_arguments, correlate, run

MS = 1_000_000
PERIOD = 33 * MS


def test_each_command_belongs_to_the_newest_frame_before_it():
    frames = [0, PERIOD, 2 * PERIOD, 3 * PERIOD]
    commands = [3 * MS, PERIOD + 5 * MS, 2 * PERIOD + 4 * MS, 3 * PERIOD + 2 * MS]
    latencies, dropped, surplus = correlate(frames, commands, PERIOD)
    assert latencies == pytest.approx([3.0, 5.0, 4.0])  # the last frame is within the final period
    assert (dropped, surplus) == (0, 0)


def test_dropped_frames_and_surplus_commands_are_counted():
    frames = [k * PERIOD for k in range(6)]
    # frame 1 gets no command, frame 3 gets two; one command before the first frame is ignored
    commands = [-MS, 2 * MS, 2 * PERIOD + 2 * MS, 3 * PERIOD + 2 * MS, 3 * PERIOD + 9 * MS, 4 * PERIOD + 1 * MS,
                5 * PERIOD + 40 * MS]
    latencies, dropped, surplus = correlate(frames, commands, PERIOD)
    assert latencies == pytest.approx([2.0, 2.0, 2.0, 1.0, 40.0])  # late, but still the newest frame
    assert (dropped, surplus) == (1, 1)


def test_no_frames_means_nothing_matched():
    assert correlate([], [5 * MS], PERIOD) == ([], 0, 0)


@pytest.mark.ros
def test_short_composed_run_reports_latency_through_the_graph():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    result = run(parser.parse_args(["--mode", "composed", "--seconds", "2"]))
    for key in ("p50_ms", "p99_ms", "max_ms", "frames", "commands", "dropped", "endpoint"):
        assert key in result
    assert result["endpoint"] in ("servo", "cmd_vel")
    assert result["frames"] > 10 and result["matched"] > 0
    assert 0 < result["p50_ms"] <= result["p99_ms"] <= result["max_ms"]

"""`deepracer bench latency`: the frame/command correlation, and a short run through the real graph."""

from __future__ import annotations

import argparse

import pytest

from deepracer_nodes.bench_latency import add_arguments, correlate, hop_times, match, run

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


def test_hops_split_each_matched_frame_and_add_up_to_its_latency():
    frames = [0, PERIOD]
    commands = [9 * MS, PERIOD + 7 * MS]
    pairs, _, _ = match(frames, commands + [2 * PERIOD + 40 * MS], PERIOD)
    # policy/action per frame: (received_ms, latency_ms, inference_ms); the servo got cmd_vel at 8 / 6 ms
    actions = {0: (2.0, 6.0, 3.0), PERIOD // 1000: (1.5, 5.0, 2.5)}
    received = {9 * MS: 8 * MS, PERIOD + 7 * MS: PERIOD + 6 * MS}
    hops = hop_times(pairs, actions, received)
    assert hops["camera"] == pytest.approx([2.0, 1.5]) and hops["inference"] == pytest.approx([4.0, 3.5])
    assert hops["control"] == pytest.approx([2.0, 1.0]) and hops["servo"] == pytest.approx([1.0, 1.0])
    assert hops["onnx"] == pytest.approx([3.0, 2.5]) and hops["total"] == pytest.approx([9.0, 7.0])


def test_a_command_sent_before_the_frames_decision_is_not_split():
    """Matched by time to the newest frame, but it left the servo before that frame's decision was
    out: it answered an earlier frame, so it says nothing about this frame's hops."""
    pairs = [(0, 9 * MS)]
    actions = {0: (2.0, 12.0, 3.0)}  # the decision came at 12 ms
    assert hop_times(pairs, actions, {9 * MS: 8 * MS}) == {}


def test_the_default_run_is_long_enough_for_a_stable_p99():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args([])
    assert args.frames >= 2000 and args.seconds is None  # p99 of 2,000 frames: the 20th-worst, not the 3rd


@pytest.mark.ros
@pytest.mark.integration
def test_short_composed_run_reports_latency_and_its_hops_through_the_graph():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    result = run(parser.parse_args(["--mode", "composed", "--seconds", "3"]))
    assert result["endpoint"] == "servo"  # servo_node is installed: measured to the PWM write
    assert result["frames"] > 30 and result["matched"] > 0
    assert 0 < result["p50_ms"] <= result["p99_ms"] <= result["max_ms"]
    hops = result["hops"]
    assert set(hops) == {"camera", "inference", "control", "servo", "onnx"}
    assert result["hops_frames"] > 0.8 * result["matched"]
    # the four hops are the whole camera -> PWM time: their means add up to the mean latency
    parts = sum(hops[h]["mean_ms"] for h in ("camera", "inference", "control", "servo"))
    assert parts == pytest.approx(result["mean_ms"], rel=0.05)
    assert sum(hops[h]["share"] for h in ("camera", "inference", "control", "servo")) == pytest.approx(1.0, abs=0.02)
    assert 0 < hops["onnx"]["mean_ms"] < hops["inference"]["mean_ms"]  # the network is part of the inference hop

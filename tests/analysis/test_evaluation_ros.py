"""--through-ros: the car's nodes (sim_node -> inference_node -> control_node) drive the same
evaluation as the policy called directly; the same seed gives the same trials."""

from __future__ import annotations

import pytest
from road_follower import make_road_follower

from deepracer.analysis.evaluation import EvaluationResult, evaluate, write_outputs
from deepracer.analysis.simtrace import iter_rows
from deepracer.sim.race import EVALUATION_OFF_TRACK_PENALTY_S
from deepracer_nodes.sim_runner import drive_evaluation

pytestmark = [pytest.mark.ros, pytest.mark.integration]  # real node graphs or processes


@pytest.fixture(scope="module")
def reference_model(tmp_path_factory):
    from deepracer.model.reference_net import make_reference_package

    return make_reference_package(tmp_path_factory.mktemp("model") / "ref", seed=3)


@pytest.fixture(scope="module")
def driving_model(tmp_path_factory):
    return make_road_follower(tmp_path_factory.mktemp("model") / "road", speed=2.5)


def _trials(result: EvaluationResult) -> list[tuple]:
    return [(t.status, round(t.progress, 6), t.lap_time_s, round(t.elapsed_s, 6), t.off_track, t.resets)
            for t in result.trials]


def _assert_same(direct: EvaluationResult, ros: EvaluationResult) -> None:
    assert ros.through_ros and not direct.through_ros
    # the graph's start-up must not make the car stand on the line (control_node's watchdog
    # answering the first frames with zero speed before inference_node did)
    assert ros.start_delay_s == 0
    assert _trials(ros) == _trials(direct)
    # step by step, the car was in the same place
    assert len(ros.samples) == len(direct.samples) > 50
    for (_, a, _), (_, b, _) in zip(ros.samples[1:], direct.samples[1:], strict=True):
        assert (a.x, a.y, a.speed, a.status) == pytest.approx((b.x, b.y, b.speed, b.status), abs=1e-9)
    # ... driven by the same decisions (policy/action through ROS), with the same simulator lap time
    # (sim_node's off-track penalty is the evaluation's)
    for (_, a, _), (_, b, _) in zip(ros.samples, direct.samples, strict=True):
        assert (a.action, a.command) == (b.action, b.command)
        assert a.lap_time_s == pytest.approx(b.lap_time_s, abs=1e-9)


def _action_column(result: EvaluationResult, out) -> list[str]:
    files = write_outputs(result, out, track_length_m=17.7)
    return [row["action"] for row in iter_rows(files["simtrace"])]


def _assert_same_simtrace_actions(direct: EvaluationResult, ros: EvaluationResult, tmp_path) -> None:
    ros_actions, direct_actions = _action_column(ros, tmp_path / "ros"), _action_column(direct, tmp_path / "direct")
    assert ros_actions == direct_actions
    assert ros_actions[0] == "-1" and "-1" not in ros_actions[1:]  # every step after the start has its action
    assert len(set(ros_actions)) > 2


def test_laps_through_ros_equal_direct(driving_model, tmp_path):
    """A model that completes laps: the same lap times, to the simulator step, and the same simtrace actions."""
    direct = evaluate(driving_model, trials=2, seed=0)
    assert [t.status for t in direct.trials] == ["lap_complete", "lap_complete"]
    ros = evaluate(driving_model, trials=2, seed=0, through_ros=True, ros_driver=drive_evaluation)
    _assert_same(direct, ros)
    _assert_same_simtrace_actions(direct, ros, tmp_path)


def test_failures_through_ros_equal_direct(reference_model, tmp_path):
    """An untrained network: off-tracks, resets and penalties come out the same."""
    direct = evaluate(reference_model, trials=3, resets=2, seed=0)
    assert any(t.off_track for t in direct.trials)
    ros = evaluate(reference_model, trials=3, resets=2, seed=0, through_ros=True, ros_driver=drive_evaluation)
    _assert_same(direct, ros)
    _assert_same_simtrace_actions(direct, ros, tmp_path)


def test_off_track_penalty_through_ros_equal_direct(reference_model):
    """A penalty other than sim_node's default reaches sim_node: the same trials both ways."""
    default = evaluate(reference_model, trials=3, resets=2, seed=0)
    direct = evaluate(reference_model, trials=3, resets=2, seed=0, off_track_penalty_s=1.25)
    resets = [t.resets for t in direct.trials]
    assert sum(resets) > 0
    # the same drive, only the penalties differ (default - 1.25 s less per reset)
    less = EVALUATION_OFF_TRACK_PENALTY_S - 1.25
    assert less > 0
    assert [t.status for t in direct.trials] == [t.status for t in default.trials]
    for t, d in zip(direct.trials, default.trials, strict=True):
        assert t.elapsed_s == pytest.approx(d.elapsed_s - less * t.resets, abs=1e-6)
    assert any(a.lap_time_s != pytest.approx(b.lap_time_s)
               for (_, a, _), (_, b, _) in zip(direct.samples, default.samples, strict=True))
    ros = evaluate(reference_model, trials=3, resets=2, seed=0, off_track_penalty_s=1.25, through_ros=True, ros_driver=drive_evaluation)
    assert ros.off_track_penalty_s == 1.25
    _assert_same(direct, ros)

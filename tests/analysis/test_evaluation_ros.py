"""--through-ros: the car's nodes (sim_node -> inference_node -> control_node) drive the same
evaluation as the policy called directly; the same seed gives the same trials."""

from __future__ import annotations

import pytest
from road_follower import make_road_follower

from deepracer.analysis.evaluation import EvaluationResult, evaluate

pytestmark = pytest.mark.ros

STARTUP_RACE = (
    "known graph start-up race (reported): control_node's watchdog answers sim_node's first lock-step "
    "frames with zero speed before inference_node does, so every later policy command lands one frame late"
)


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
    if ros.start_delay_s > 0 and _trials(ros) != _trials(direct):
        # Only a start-up with zero-speed answers can put the graph out of step; anything else fails.
        pytest.xfail(f"{STARTUP_RACE} (the car stood {ros.start_delay_s:.3f} s)")
    assert _trials(ros) == _trials(direct)
    # step by step, the car was in the same place
    assert len(ros.samples) == len(direct.samples) > 50
    for (_, a, _), (_, b, _) in zip(ros.samples[1:], direct.samples[1:], strict=True):
        assert (a.x, a.y, a.speed, a.status) == pytest.approx((b.x, b.y, b.speed, b.status), abs=1e-9)


def test_laps_through_ros_equal_direct(driving_model):
    """A model that completes laps: the same lap times, to the simulator step."""
    direct = evaluate(driving_model, trials=2, seed=0)
    assert [t.status for t in direct.trials] == ["lap_complete", "lap_complete"]
    _assert_same(direct, evaluate(driving_model, trials=2, seed=0, through_ros=True))


def test_failures_through_ros_equal_direct(reference_model):
    """An untrained network: off-tracks, resets and penalties come out the same."""
    direct = evaluate(reference_model, trials=3, resets=2, seed=0)
    assert any(t.off_track for t in direct.trials)
    _assert_same(direct, evaluate(reference_model, trials=3, resets=2, seed=0, through_ros=True))

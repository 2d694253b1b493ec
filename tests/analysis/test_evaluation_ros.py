"""--through-ros: the car's nodes (sim_node -> inference_node -> control_node) drive the same
evaluation as the policy called directly; the same seed gives the same trials."""

from __future__ import annotations

import pytest
from road_follower import make_road_follower

from deepracer.analysis.evaluation import evaluate

pytestmark = pytest.mark.ros


@pytest.fixture(scope="module")
def reference_model(tmp_path_factory):
    from deepracer.model.reference_net import make_reference_package

    return make_reference_package(tmp_path_factory.mktemp("model") / "ref", seed=3)


@pytest.fixture(scope="module")
def driving_model(tmp_path_factory):
    return make_road_follower(tmp_path_factory.mktemp("model") / "road", speed=2.5)


def test_laps_through_ros_equal_direct(driving_model):
    """A model that completes laps: the same lap times, to the simulator step."""
    direct = evaluate(driving_model, trials=2, seed=0)
    ros = evaluate(driving_model, trials=2, seed=0, through_ros=True)
    assert [t.status for t in direct.trials] == ["lap_complete", "lap_complete"]
    assert [t.status for t in ros.trials] == [t.status for t in direct.trials]
    assert [t.lap_time_s for t in ros.trials] == [t.lap_time_s for t in direct.trials]
    assert [t.progress for t in ros.trials] == [100.0, 100.0]
    assert len(ros.samples) == len(direct.samples)
    for (_, a, _), (_, b, _) in zip(ros.samples, direct.samples, strict=True):
        assert (a.x, a.y, a.speed) == pytest.approx((b.x, b.y, b.speed), abs=1e-9)


def test_failures_through_ros_equal_direct(reference_model):
    """An untrained network: off-tracks, resets and penalties come out the same."""
    direct = evaluate(reference_model, trials=3, resets=2, seed=0)
    ros = evaluate(reference_model, trials=3, resets=2, seed=0, through_ros=True)
    assert ros.through_ros and not direct.through_ros
    assert [t.status for t in ros.trials] == [t.status for t in direct.trials]
    assert [t.progress for t in ros.trials] == pytest.approx([t.progress for t in direct.trials], abs=1e-6)
    assert [t.elapsed_s for t in ros.trials] == pytest.approx([t.elapsed_s for t in direct.trials], abs=1e-9)
    assert [t.lap_time_s for t in ros.trials] == [t.lap_time_s for t in direct.trials]
    assert [(t.off_track, t.resets) for t in ros.trials] == [(t.off_track, t.resets) for t in direct.trials]
    # step by step, the car was in the same place
    assert len(ros.samples) == len(direct.samples) > 50
    for (_, a, _), (_, b, _) in zip(ros.samples, direct.samples, strict=True):
        assert (a.x, a.y, a.status) == pytest.approx((b.x, b.y, b.status), abs=1e-9)

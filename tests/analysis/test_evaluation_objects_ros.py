"""Object avoidance through the node graph (sim_node + inference_node + control_node) gives the
direct evaluation's trials, crashes included."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("rclpy")
from deepracer.analysis.evaluation import evaluate
from deepracer.sim.objects import Lane, ObstacleConfig, RaceConfig, RaceType
from deepracer_nodes.sim_runner import drive_evaluation

pytestmark = [pytest.mark.ros, pytest.mark.integration]
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("model, race", [
    ("deepracer-object-avoidance.tar.gz", RaceConfig(RaceType.OBJECT_AVOIDANCE)),
    # a time-trial model meets boxes on its line: crashes, put-backs behind the boxes, penalties
    ("deepracer-default.tar.gz", RaceConfig(RaceType.OBJECT_AVOIDANCE,
                                            ObstacleConfig(positions=((30.0, Lane.OUTER), (70.0, Lane.INNER))),
                                            collision_penalty_s=2.0)),
])
def test_through_ros_equals_direct_with_obstacles(model, race):
    path = ROOT / "models" / model
    if not path.is_file():
        pytest.fail(f"{path} is missing")
    kw = dict(trials=2, resets=20, seed=0, race=race, max_trial_seconds=40)
    direct = evaluate(path, **kw)
    ros = evaluate(path, through_ros=True, ros_driver=drive_evaluation, **kw)
    key = [(t.status, t.crashes, t.resets, t.lap_time_s, round(t.progress, 3)) for t in direct.trials]
    assert [(t.status, t.crashes, t.resets, t.lap_time_s, round(t.progress, 3)) for t in ros.trials] == key
    assert ros.race == direct.race

"""The one schema of the JSON topics (deepracer.messages): what a publisher writes, a reader reads back."""

from __future__ import annotations

import json

import pytest

from deepracer.messages import (
    FAILURES,
    EpisodeStatus,
    MessageError,
    PolicyAction,
    ServoPulses,
    SimStatus,
    StepRecord,
    StopReason,
)

STATUS = {"progress": 12.5, "lap": 1, "lap_time_s": 3.2, "laps": [9.1], "status": "off_track", "off_track": True,
          "off_track_count": 2, "crash_count": 0, "is_crashed": False, "all_wheels_on_track": False, "closest_waypoint": 17, "sim_time": 12.4, "steps": 186,
          "x": 1.0, "y": -0.5, "yaw": 0.3, "steering_deg": 12.0, "speed": 1.4, "frame": 186, "finished": False,
          "finish_reason": "", "track": "reinvent_base"}


def test_sim_status_round_trips_and_ignores_keys_it_does_not_know():
    st = SimStatus.from_json(json.dumps(STATUS | {"objects": [[1, 2]]}))
    assert st.laps == [9.1] and st.status == EpisodeStatus.OFF_TRACK and st.status in FAILURES
    assert json.loads(st.to_json()) == STATUS


def test_a_missing_field_names_the_topic_and_the_field():
    broken = dict(STATUS)
    del broken["sim_time"]
    with pytest.raises(MessageError, match=r"sim/status.*sim_time"):
        SimStatus.from_json(json.dumps(broken))
    with pytest.raises(MessageError, match="policy/action: not JSON"):
        PolicyAction.from_json("{")
    with pytest.raises(MessageError, match="servo/pulses: expected a JSON object"):
        ServoPulses.from_json("[1, 2]")


def test_step_record_carries_the_decision_it_was_given():
    st = SimStatus.from_dict(STATUS)
    decision = PolicyAction(steering_angle=-10.0, speed=2.0, index=4, frame_stamp=12.4)
    step = StepRecord.from_status(st, decision, step=7)
    assert (step.step, step.steer, step.off_track_count, step.action, step.command) == (7, 12.0, 2, 4, (-10.0, 2.0))
    continuous = StepRecord.from_status(st, PolicyAction(steering_angle=1.0, speed=1.0, index=None, frame_stamp=0.0))
    assert continuous.action == -1 and StepRecord.from_status(st).command is None


def test_enums_are_the_strings_on_the_wire():
    assert StopReason.TIME_UP == "time_up" and json.dumps(StopReason.LAPS_DONE) == '"laps_done"'
    assert {str(s) for s in FAILURES} == {"off_track", "reversed", "immobilized"}

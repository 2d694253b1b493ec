"""DeepRacer's reward params, checked by hand on simple positions, and a DeepRacer reward function."""

from __future__ import annotations

import importlib.util
import math

import pytest

from deepracer.sim import SimConfig, Simulator

DOCUMENTED = {
    "all_wheels_on_track", "x", "y", "distance_from_center", "is_left_of_center", "heading", "progress",
    "steps", "speed", "steering_angle", "track_width", "track_length", "waypoints", "closest_waypoints",
    "is_offtrack", "is_crashed", "is_reversed", "closest_objects", "objects_distance", "objects_heading",
    "objects_left_of_center", "objects_location", "objects_speed", "projection_distance",
    "objects_distance_from_center", "object_in_camera",  # in DeepRacer's code, not its docs
}


def oval_sim(**kw) -> Simulator:
    return Simulator(SimConfig(track="oval", **kw))


def test_params_at_a_hand_checked_position():
    sim = oval_sim()
    sim.reset(start_waypoint=5, lateral_m=0.2)  # bottom straight along +x, 0.2 m to the left
    p = sim.reward_params()
    assert set(p) == DOCUMENTED
    wx, wy = sim.track.waypoints[5]
    assert (p["x"], p["y"]) == pytest.approx((wx, wy + 0.2))
    assert p["distance_from_center"] == pytest.approx(0.2)
    assert p["is_left_of_center"] is True
    assert p["heading"] == pytest.approx(0.0, abs=1e-9)
    assert p["closest_waypoints"] == [5, 6]
    assert p["track_width"] == pytest.approx(0.8) and p["track_length"] == pytest.approx(sim.track.length_m)
    assert p["progress"] == 0.0 and p["steps"] == 0 and p["all_wheels_on_track"] is True
    assert p["is_offtrack"] is False and p["is_crashed"] is False and p["is_reversed"] is False
    assert p["objects_location"] == [] and p["closest_objects"] == [0, 0]
    assert p["projection_distance"] == pytest.approx(sim.track.cum[5])
    assert len(p["waypoints"]) == sim.track.n


def test_params_follow_the_drive():
    sim = oval_sim()
    sim.reset(0, lateral_m=-0.1)
    for _ in range(10):
        sim.step(-4.0, 1.5)
    p = sim.reward_params()
    s = sim.state
    assert p["steps"] == 10 and p["speed"] == 1.5 and p["steering_angle"] == -4.0  # the action
    assert p["heading"] == pytest.approx(math.degrees(s.yaw))
    assert p["is_left_of_center"] is False
    assert p["progress"] == pytest.approx(100 * sim.projection.s / sim.track.length_m, abs=1e-6)
    prev_wp, next_wp = p["closest_waypoints"]
    assert next_wp == (prev_wp + 1) % sim.track.n
    # the car lies between its two closest waypoints along the track
    assert sim.track.cum[prev_wp] <= p["projection_distance"] <= sim.track.cum[prev_wp] + sim.track.seg_len[prev_wp]


def test_heading_wraps_to_plus_minus_180():
    sim = oval_sim()
    top = sim.track.n // 2 + 5  # top straight, driven along -x
    sim.reset(top)
    assert abs(sim.reward_params()["heading"]) == pytest.approx(180.0, abs=1e-6)
    assert -180.0 <= sim.reward_params()["heading"] <= 180.0


def test_reversed_direction_flag():
    sim = oval_sim(reverse_direction=True)
    assert sim.reward_params()["is_reversed"] is True


def test_off_track_params():
    sim = oval_sim(off_track="end")
    for _ in range(200):
        if sim.step(30.0, 1.0).status == "off_track":
            break
    p = sim.reward_params()
    assert p["is_offtrack"] is True and p["all_wheels_on_track"] is False
    assert p["distance_from_center"] > p["track_width"] / 2


def test_deepracers_default_reward_function_runs_on_our_params(shared):
    path = shared("deepracer-formats", "reward_function.py")
    spec = importlib.util.spec_from_file_location("dr_reward", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sim = oval_sim()
    sim.reset(5)
    assert module.reward_function(sim.reward_params()) == 1.0  # on the centre line, straight
    sim.reset(5, lateral_m=0.3)
    assert module.reward_function(sim.reward_params()) == pytest.approx(0.1)
    sim.step(20.0, 1.0)
    assert module.reward_function(sim.reward_params()) < 0.1  # steering penalty

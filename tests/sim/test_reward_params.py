"""DeepRacer's reward params, one test per param against ../shared/deepracer-facts.md section 7
(and section 4 for the front point and the PREPARE step), and a DeepRacer reward function."""

from __future__ import annotations

import importlib.util
import math
from types import SimpleNamespace

import numpy as np
import pytest

from deepracer.sim import SimConfig, Simulator
from deepracer.sim.reward_params import in_camera
from deepracer.sim.simulator import DEEPRACER_XY_OFFSET_M, FRONT_POINT_M
from deepracer.sim.track import from_route
from deepracer.sim.vehicle import BASE_LINK_M

# the 27 keys of DeepRacer's simulator (facts sheet section 7)
DEEPRACER_KEYS = {
    "all_wheels_on_track", "x", "y", "distance_from_center", "is_left_of_center", "heading", "progress",
    "steps", "speed", "steering_angle", "track_width", "track_length", "waypoints", "closest_waypoints",
    "is_offtrack", "is_crashed", "is_reversed", "closest_objects", "objects_distance", "objects_heading",
    "objects_left_of_center", "objects_location", "objects_speed", "projection_distance",
    "objects_distance_from_center", "object_in_camera", "sim_time",  # in DeepRacer's code, not its docs
}


def oval_sim(**kw) -> Simulator:
    return Simulator(SimConfig(track="oval", **kw))


def straight_start(sim: Simulator, lateral_m: float = 0.0, heading_offset_rad: float = 0.0) -> tuple[float, float]:
    """Reset on the oval's bottom straight (along +x); returns the waypoint the rear axle is on."""
    sim.reset(start_waypoint=5, lateral_m=lateral_m, heading_offset_rad=heading_offset_rad)
    return sim.track.waypoints[5]


def test_every_deepracer_key_and_no_other():
    p = oval_sim().reward_params()
    assert set(p) == DEEPRACER_KEYS and len(p) == 27


def test_x_y_are_the_front_point_0_14_m_ahead_of_base_link():
    sim = oval_sim()
    wx, wy = straight_start(sim, lateral_m=0.2)
    p = sim.reward_params()
    assert FRONT_POINT_M == pytest.approx(BASE_LINK_M + 0.14) and DEEPRACER_XY_OFFSET_M == 0.14
    # base_link is the middle of the wheelbase (DeepRacer's URDF: rear axle -0.0817, front +0.0823)
    assert BASE_LINK_M == pytest.approx(0.082, abs=1e-3)
    assert (p["x"], p["y"]) == pytest.approx((wx + FRONT_POINT_M, wy + 0.2))
    # turned 90° left: the front point is ahead along the heading, not along the track
    sim.reset(5, heading_offset_rad=math.pi / 2)
    p = sim.reward_params()
    assert (p["x"], p["y"]) == pytest.approx((wx, wy + FRONT_POINT_M))


def test_distance_from_center_is_the_front_points():
    sim = oval_sim()
    straight_start(sim, heading_offset_rad=0.3)  # rear axle on the centre line, nose turned left
    p = sim.reward_params()
    assert p["distance_from_center"] == pytest.approx(FRONT_POINT_M * math.sin(0.3), rel=1e-6)
    straight_start(sim, lateral_m=0.2)
    assert sim.reward_params()["distance_from_center"] == pytest.approx(0.2)


def test_is_left_of_center_is_the_front_points():
    sim = oval_sim()
    straight_start(sim, heading_offset_rad=0.3)
    assert sim.reward_params()["is_left_of_center"] is True
    straight_start(sim, heading_offset_rad=-0.3)
    assert sim.reward_params()["is_left_of_center"] is False
    straight_start(sim, lateral_m=0.1, heading_offset_rad=-0.6)  # axle left of centre, nose right of it
    assert sim.reward_params()["is_left_of_center"] is False


def test_heading_is_the_yaw_in_degrees_wrapped_to_plus_minus_180():
    sim = oval_sim()
    straight_start(sim, heading_offset_rad=0.5)
    assert sim.reward_params()["heading"] == pytest.approx(math.degrees(0.5))
    top = sim.track.n // 2 + 5  # top straight, driven along -x
    sim.reset(top)
    assert abs(sim.reward_params()["heading"]) == pytest.approx(180.0, abs=1e-6)
    sim.reset(top, heading_offset_rad=0.2)  # 180° + 11.5° reads -168.5°
    assert sim.reward_params()["heading"] == pytest.approx(-180.0 + math.degrees(0.2))


def test_progress_is_the_front_points_from_the_episode_start():
    sim = oval_sim()
    straight_start(sim)
    assert sim.reward_params()["progress"] == 0.0
    for _ in range(10):
        sim.step(0.0, 1.5)
    p = sim.reward_params()
    start_front = sim.track.cum[5] + FRONT_POINT_M
    assert p["progress"] == pytest.approx(100 * (p["projection_distance"] - start_front) / sim.track.length_m)
    # and the front point is where the progress is measured: it is DeepRacer's x, y projected
    assert sim.track.project(p["x"], p["y"]).s == pytest.approx(p["projection_distance"])


def test_steps_count_the_prepare_step_as_floats():
    sim = oval_sim()
    sim.reset(0)
    sim.step(0.0, 1.0)
    p = sim.reward_params()
    assert p["steps"] == 2.0 and isinstance(p["steps"], float)  # PREPARE was step 1, the first action step 2
    for _ in range(9):
        sim.step(0.0, 1.0)
    assert sim.reward_params()["steps"] == 11.0


def test_speed_and_steering_angle_are_the_action_before_the_clip():
    sim = oval_sim()
    straight_start(sim)
    for _ in range(15):
        sim.step(45.0, 0.0)  # both outside DeepRacer's clip
    p = sim.reward_params()
    assert p["speed"] == 0.0 and p["steering_angle"] == 45.0
    # the car itself got the clipped action: it creeps at 0.1 m/s with the wheels at 30°
    assert sim.state.speed == pytest.approx(0.1, rel=1e-3) and sim.state.steering_deg == pytest.approx(30.0)


def test_closest_waypoints_are_by_along_track_projection():
    sim = oval_sim()
    tr = sim.track
    # put the front point 80 % of the way from waypoint 5 to 6: Euclidean nearest is 6, DeepRacer's pair [5, 6]
    s_front = tr.cum[5] + 0.8 * tr.seg_len[5]
    x, y, heading = tr.point_at(s_front - FRONT_POINT_M)
    sim.reset(0)
    sim.vehicle.reset(x, y, heading)
    sim.step(0.0, 0.0)
    sim.vehicle.reset(x, y, heading)  # undo the creep of that step, then measure again
    sim._update_race()
    p = sim.reward_params()
    assert p["closest_waypoints"] == [5, 6]
    nearest = int(np.argmin(np.hypot(*(tr.center - (p["x"], p["y"])).T)))
    assert nearest == 6


def test_track_width_is_local_at_the_waypoint_behind():
    # a straight-sided loop whose width grows round the lap: the param follows the car
    t = np.linspace(0, 2 * np.pi, 120, endpoint=False)
    c = np.stack([3 * np.cos(t), 2 * np.sin(t)], axis=1)
    n = np.stack([np.cos(t) * 2, np.sin(t) * 3], axis=1)
    n /= np.hypot(*n.T)[:, None]
    w = 0.6 + 0.4 * (t / t.max())
    track = from_route(np.hstack([c, c - n * w[:, None] / 2, c + n * w[:, None] / 2]), "widening")
    sim = Simulator(SimConfig(track=track))
    for wp in (3, 60, 110):
        sim.reset(wp)
        p = sim.reward_params()
        prev_wp = p["closest_waypoints"][0]
        assert p["track_width"] == pytest.approx(track.widths[prev_wp])
    assert p["track_width"] > 0.9


def test_track_length_and_waypoints_are_the_centre_line():
    sim = oval_sim()
    p = sim.reward_params()
    assert p["track_length"] == pytest.approx(float(np.sum(np.hypot(*np.diff(
        np.vstack([sim.track.center, sim.track.center[:1]]), axis=0).T))))
    assert p["waypoints"] == [tuple(map(float, w)) for w in sim.track.center]  # in driving direction
    rev = oval_sim(reverse_direction=True).reward_params()
    assert rev["waypoints"][0] == p["waypoints"][0] and rev["waypoints"][1] == p["waypoints"][-1]


def test_projection_distance_is_from_the_route_start_not_the_episode_start():
    sim = oval_sim()
    sim.reset(40)
    p = sim.reward_params()
    # the front point is on the tangent, 0.22 m ahead: along a gentle bend a little less along the track
    assert p["projection_distance"] == pytest.approx(sim.track.cum[40] + FRONT_POINT_M, abs=2e-3)
    assert p["progress"] == 0.0


def test_sim_time_is_the_simulators_clock_across_episodes():
    sim = oval_sim()
    assert sim.reward_params()["sim_time"] == 0.0
    for _ in range(10):
        sim.step(0.0, 1.0)
    assert sim.reward_params()["sim_time"] == pytest.approx(10 / 15)
    sim.reset(3)
    sim.step(0.0, 1.0)
    assert sim.reward_params()["sim_time"] == pytest.approx(11 / 15)  # it does not restart
    assert sim.race.sim_time == pytest.approx(1 / 15)  # the episode's own clock does


def test_is_reversed_flag():
    assert oval_sim(reverse_direction=True).reward_params()["is_reversed"] is True
    assert oval_sim().reward_params()["is_reversed"] is False


def test_all_wheels_on_track_and_is_offtrack():
    sim = oval_sim(off_track="end")
    straight_start(sim)
    assert sim.reward_params()["all_wheels_on_track"] is True and sim.reward_params()["is_offtrack"] is False
    saw_some_wheels_off = False
    for _ in range(200):
        race = sim.step(30.0, 1.0)
        p = sim.reward_params()
        if race.status == "off_track":
            break
        saw_some_wheels_off |= not p["all_wheels_on_track"]
        assert p["is_offtrack"] is False  # still a wheel on the road
    assert saw_some_wheels_off
    assert p["is_offtrack"] is True and p["all_wheels_on_track"] is False
    assert p["distance_from_center"] > p["track_width"] / 2


def test_time_trial_object_keys_keep_deepracers_defaults():
    p = oval_sim().reward_params()
    assert p["closest_objects"] == [0, 0] and p["object_in_camera"] is False and p["is_crashed"] is False
    for key in ("objects_location", "objects_distance", "objects_distance_from_center", "objects_heading",
                "objects_left_of_center", "objects_speed"):
        assert p[key] == []


def test_object_in_camera_is_deepracers_frustum():
    """1.13 rad wide, 15° down from 0.13 m up, 0.145 m ahead of base_link: a point on the ground
    2 m ahead is in it, 40° to the side is not (half the width is 32.4°), nor 10 cm before the lens."""
    sim = oval_sim()
    straight_start(sim)
    s = sim.state
    lens_x = s.x + BASE_LINK_M + 0.14529

    def at(dx: float, dy: float) -> bool:
        return in_camera(sim, SimpleNamespace(x=lens_x + dx, y=s.y + dy))

    assert at(2.0, 0.0) and at(2.0, 2.0 * math.tan(0.55)) and at(50.0, 0.0)
    assert not at(2.0, 2.0 * math.tan(math.radians(40)))
    assert not at(0.1, 0.0)  # below the bottom of the view (the ground shows from about 0.15 m)
    assert at(0.3, 0.0)
    assert not at(-1.0, 0.0)  # behind
    assert at(250.0, 0.0) and not at(350.0, 0.0)  # far plane at 300 m


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

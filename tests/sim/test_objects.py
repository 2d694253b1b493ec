"""Object avoidance and head-to-bot in the simulator: placement, bots, collisions, crash rules, params."""

from __future__ import annotations

import math

import numpy as np
import pytest

from deepracer.errors import ConfigError
from deepracer.sim import SimConfig, Simulator
from deepracer.sim.env import DeepRacerEnv
from deepracer.sim.objects import (
    BOX_COLLISION_M,
    RESET_BEHIND_M,
    BotConfig,
    Lane,
    ObjectKind,
    ObstacleConfig,
    RaceType,
    parse_positions,
)


def oa_sim(**obstacles) -> Simulator:
    off = obstacles.pop("off_track", "reset")
    return Simulator(SimConfig(track="oval", race_type=RaceType.OBJECT_AVOIDANCE, off_track=off,
                               obstacles=ObstacleConfig(**obstacles)))


def lane_offset(sim: Simulator, s: float, f: float) -> float:
    """Signed distance from the centre line of the lane point at s."""
    x, y, _, _ = sim.objects.lanes.point(s, f)
    return sim.track.project(x, y).lateral


def test_default_obstacles_are_evenly_spaced_on_alternating_lanes():
    sim = oa_sim()
    boxes = sim.object_list
    length = sim.track.length_m
    assert [o.kind for o in boxes] == [ObjectKind.BOX] * 3
    assert [o.s for o in boxes] == pytest.approx([0.02 * length, (0.02 * length + length - 1.0) / 2, length - 1.0])
    assert [o.lane for o in boxes] == [Lane.INNER, Lane.OUTER, Lane.INNER]
    # lanes run midway between the centre line and a border: about a quarter of the width out
    for o in boxes:
        assert abs(o.lateral) == pytest.approx(sim.track.width_m / 4, abs=0.02)
    # the oval runs counter-clockwise: the inner lane is on the left
    assert boxes[0].lateral > 0 and boxes[1].lateral < 0
    assert (boxes[0].length, boxes[0].width) == BOX_COLLISION_M


def test_explicit_positions_override_the_count_and_parse_from_the_cli_form():
    positions = parse_positions("25,inner; 60,outer")
    assert positions == ((25.0, Lane.INNER), (60.0, Lane.OUTER))
    assert parse_positions("10,1;20,-1") == ((10.0, Lane.INNER), (20.0, Lane.OUTER))
    sim = oa_sim(count=5, positions=positions)
    assert [round(o.s / sim.track.length_m * 100, 6) for o in sim.object_list] == [25.0, 60.0]
    for bad in ("25", "x,inner", "25,middle", ""):
        with pytest.raises(ConfigError):
            parse_positions(bad)
    with pytest.raises(ConfigError, match="1..6 obstacles"):
        oa_sim(count=7)
    with pytest.raises(ConfigError, match="outside 0..100"):
        oa_sim(positions=((120.0, Lane.INNER),))


def test_randomized_obstacles_are_redrawn_every_episode_and_repeat_with_the_seed():
    sim = oa_sim(randomize=True)
    draws = []
    for _ in range(4):
        sim.reset(0)
        draws.append([(round(o.s, 6), o.lane) for o in sim.object_list])
    assert len({tuple(d) for d in draws}) == 4
    again = oa_sim(randomize=True)
    again.reset(0)
    assert [(round(o.s, 6), o.lane) for o in again.object_list] == draws[0]
    fixed = oa_sim()
    before = [o.s for o in fixed.object_list]
    fixed.reset(10)
    assert [o.s for o in fixed.object_list] == before


def drive_at(sim: Simulator, box_index: int, lane: float, speed: float = 1.0, steps: int = 120):
    """Start 1.5 m before a box on the given lane and drive straight along the track."""
    o = sim.objects.items[box_index]
    tr = sim.track
    start_s = o.s - 1.5
    wp = int(np.searchsorted(tr.cum, start_s % tr.length_m, side="right") - 1)
    sim.reset(wp, lateral_m=lane_offset(sim, tr.cum[wp], lane))
    statuses, params = [], []
    for _ in range(steps):
        race = sim.step(0.0, speed)
        statuses.append(race.status)
        params.append(sim.reward_params())
        if sim.done or race.status == "crashed":
            break
    return statuses, params


def test_driving_into_a_box_crashes_and_evaluation_puts_the_car_back_behind_it_in_the_other_lane():
    sim = oa_sim(positions=((60.0, Lane.INNER),))  # the oval's top straight
    box = sim.objects.items[0]
    statuses, params = drive_at(sim, 0, float(Lane.INNER))
    assert statuses[-1] == "crashed"
    assert params[-1]["is_crashed"] is True and not any(p["is_crashed"] for p in params[:-1])
    race = sim.race
    assert race.crash_count == 1
    # put back 1 m behind the box, on the outer lane, at rest, the collision penalty served
    p = sim.track.project(sim.state.x, sim.state.y)
    back = (box.s - p.s) % sim.track.length_m
    assert back == pytest.approx(RESET_BEHIND_M, abs=0.05)
    assert p.lateral == pytest.approx(-box.lateral, abs=0.03)
    assert sim.state.speed == 0.0
    assert race.lap_time_s >= 5.0 + (len(statuses) - 1) / 15 - 1e-6
    # driving on from there in the outer lane passes the box
    for _ in range(60):
        race = sim.step(0.0, 1.0)
        assert race.status != "crashed"
    assert sim.track.project(sim.state.x, sim.state.y).s > box.s + 0.5


def test_the_other_lane_passes_and_training_ends_the_episode_on_a_crash():
    sim = oa_sim(positions=((60.0, Lane.INNER),), off_track="end")
    statuses, _ = drive_at(sim, 0, float(Lane.OUTER), steps=60)
    assert "crashed" not in statuses
    statuses, _ = drive_at(sim, 0, float(Lane.INNER))
    assert statuses[-1] == "crashed" and sim.done


def test_env_terminates_on_a_crash_after_that_steps_reward():
    seen = []

    def reward(params):
        seen.append((params["is_crashed"], list(params["closest_objects"]), len(params["objects_location"])))
        return 1.0

    cfg = SimConfig(race_type=RaceType.OBJECT_AVOIDANCE,
                    obstacles=ObstacleConfig(positions=((60.0, Lane.INNER),)))
    env = DeepRacerEnv(track="oval", randomize=False, reward_function=reward, sim_config=cfg, start=0)
    env.reset(seed=0)
    sim = env.sim
    o = sim.objects.items[0]
    wp = int(np.searchsorted(sim.track.cum, o.s - 1.5, side="right") - 1)
    env.reset(options={"start_waypoint": wp})
    sim.reset(wp, lateral_m=lane_offset(sim, sim.track.cum[wp], 1.0))
    for _ in range(100):
        _, r, terminated, _, info = env.step(np.array([0.0, -0.5]))
        if terminated:
            break
    assert terminated and info["episode_status"] == "crashed" and r == 1.0
    assert seen[-1][0] is True and not any(c for c, _, _ in seen[:-1])
    assert seen[-1][1:] == ([0, 0], 1)


def test_object_params_by_hand():
    sim = oa_sim(positions=((10.0, Lane.INNER), (50.0, Lane.OUTER), (80.0, Lane.INNER)))
    length = sim.track.length_m
    wp = int(np.searchsorted(sim.track.cum, 0.3 * length, side="right") - 1)
    sim.reset(wp)
    p = sim.reward_params()
    assert p["objects_distance"] == pytest.approx([0.1 * length, 0.5 * length, 0.8 * length])
    assert p["closest_objects"] == [0, 1]  # behind: the box at 10 %, ahead: the one at 50 %
    assert p["objects_left_of_center"] == [True, False, True]
    assert p["objects_speed"] == [0.0, 0.0, 0.0] and p["objects_heading"] == [0.0, 0.0, 0.0]
    for (x, y), o in zip(p["objects_location"], sim.object_list, strict=True):
        assert (x, y) == (o.x, o.y)
        assert sim.track.project(x, y).distance == pytest.approx(sim.track.width_m / 4, abs=0.02)
    assert p["is_crashed"] is False
    sim.reset(int(np.searchsorted(sim.track.cum, 0.9 * length, side="right") - 1))
    assert sim.reward_params()["closest_objects"] == [2, 0]  # wraps round the lap


def test_time_trial_params_stay_empty():
    p = Simulator(SimConfig(track="oval")).reward_params()
    assert p["objects_location"] == [] and p["closest_objects"] == [0, 0] and p["is_crashed"] is False


def test_start_next_to_an_object_uses_the_other_lane():
    sim = oa_sim(positions=((1.0, Lane.INNER),))
    sim.reset(0)
    assert sim.track.project(sim.state.x, sim.state.y).lateral == pytest.approx(-sim.objects.items[0].lateral,
                                                                                abs=0.02)


# -- bots ----------------------------------------------------------------------------------
def bot_sim(**bots) -> Simulator:
    return Simulator(SimConfig(track="oval", race_type=RaceType.HEAD_TO_BOT, bots=BotConfig(**bots)))


def test_bots_drive_their_lane_at_their_speed():
    sim = bot_sim(count=2, speed_mps=0.4)
    start = [o.s for o in sim.object_list]
    assert start == pytest.approx([2.0, sim.track.length_m - 1.0])
    for _ in range(30):  # 2 s
        sim.step(0.0, 0.0)
    moved = [(o.s - s0) % sim.track.length_m for o, s0 in zip(sim.object_list, start, strict=True)]
    assert moved == pytest.approx([0.8, 0.8], abs=0.02)
    assert [o.lane for o in sim.object_list] == [Lane.INNER, Lane.OUTER]
    p = sim.reward_params()
    assert p["objects_speed"] == [0.4, 0.4]
    o = sim.object_list[0]
    heading = sim.track.point_at(o.s)[2]
    assert math.cos(p["objects_heading"][0] - heading) > 0.99  # radians, along the track


def test_bots_change_lanes_between_the_minimum_and_maximum_wait():
    sim = bot_sim(count=1, speed_mps=1.0, lane_change=True, lane_change_min_s=1.0, lane_change_max_s=2.0)
    lanes, t_first = [], None
    for step in range(15 * 12):
        sim.step(0.0, 0.0)
        o = sim.object_list[0]
        lanes.append(o.f)
        if t_first is None and o.f < 1.0:
            t_first = (step + 1) / 15
    assert 1.0 <= t_first <= 2.0 + 1 / 15
    assert min(lanes) == -1.0 and lanes.count(-1.0) > 0
    changes = sum(1 for a, b in zip(lanes, lanes[1:], strict=False) if a in (1.0, -1.0) and b != a)
    assert 3 <= changes <= 12  # 12 s: a wait of 1..2 s plus 1 s per change


def test_rear_ending_a_bot_is_a_crash_being_hit_from_behind_pauses_the_bot():
    sim = bot_sim(count=1, speed_mps=0.2)
    bot = sim.objects.items[0]
    tr = sim.track
    wp = int(np.searchsorted(tr.cum, bot.s - 1.0, side="right") - 1)
    sim.reset(wp, lateral_m=lane_offset(sim, tr.cum[wp], bot.f))
    for _ in range(60):
        race = sim.step(0.0, 1.0)
        if race.status == "crashed":
            break
    assert race.status == "crashed"
    # a slow agent in front of a fast bot: the bot is at fault and stops for its penalty
    sim = bot_sim(count=1, speed_mps=1.5)
    bot = sim.objects.items[0]
    wp = int(np.searchsorted(tr.cum, bot.s + 0.6, side="right") - 1)
    sim.reset(wp, lateral_m=lane_offset(sim, tr.cum[wp], bot.f))
    statuses = [sim.step(0.0, 0.1).status for _ in range(30)]
    assert "crashed" not in statuses
    assert sim.objects.items[0].paused_until > 0  # (a reset places the bots afresh)


def test_bot_config_is_checked():
    with pytest.raises(ConfigError, match="bot cars"):
        bot_sim(count=0)
    with pytest.raises(ConfigError, match="bot speed"):
        bot_sim(speed_mps=0.0)
    with pytest.raises(ConfigError, match="race type"):
        Simulator(SimConfig(race_type="drag_race"))


def test_object_in_camera_is_the_next_object_in_view():
    sim = oa_sim(positions=((10.0, Lane.INNER), (60.0, Lane.OUTER)))
    sim.reset(0)  # the box at 10 % is ahead on the straight
    assert sim.reward_params()["object_in_camera"] is True
    wp = int(np.searchsorted(sim.track.cum, 0.4 * sim.track.length_m, side="right") - 1)
    sim.reset(wp, heading_offset_rad=math.pi)  # facing backwards: the next box is behind the camera
    assert sim.reward_params()["object_in_camera"] is False


def test_stationary_bot_cars_as_obstacles():
    sim = oa_sim(count=2, bot_cars=True)
    assert [o.kind for o in sim.object_list] == [ObjectKind.BOT_CAR] * 2
    assert all(o.speed == 0 for o in sim.object_list)
    statuses, params = drive_at(sim, 1, sim.objects.items[1].f)  # rear-ending a standing car is a crash
    assert statuses[-1] == "crashed" and params[-1]["objects_speed"] == [0.0, 0.0]


@pytest.mark.parametrize("race_type", ["object_avoidance", "head_to_bot"])
def test_bench_sim_reports_the_race_type_beside_the_time_trial(capsys, race_type):
    import json

    from deepracer.cli import main

    assert main(["bench", "sim", "--steps", "50", "--repeats", "1", "--race-type", race_type, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["race_type"] == race_type and result["steps_per_s"] > 0
    assert result[race_type]["steps_per_s"] > 0 and result["ratio_to_time_trial"] > 0

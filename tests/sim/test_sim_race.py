"""Race state: laps, progress, off track, reversed, immobilised, the evaluation reset rule."""

from __future__ import annotations

import math

import pytest

from deepracer.sim import SimConfig, Simulator
from deepracer.sim.pure_pursuit import PurePursuitDriver
from deepracer.sim.race import IMMOBILIZED_STEPS, REVERSED_STEPS


def test_a_full_drive_completes_a_lap_and_starts_the_next():
    sim = Simulator(SimConfig(track="oval"))
    driver = PurePursuitDriver(sim.track)
    statuses, halfway = [], None
    for _ in range(2000):
        race = sim.step(*driver.command(sim.state))
        statuses.append(race.status)
        if halfway is None and race.progress >= 50:
            halfway = sim.projection.s
        if race.lap:
            break
    assert race.status == "lap_complete" and race.lap == 1 and race.progress == 100.0
    assert statuses.count("lap_complete") == 1 and "off_track" not in statuses
    assert halfway == pytest.approx(sim.track.length_m / 2, abs=0.5)
    assert race.lap_times == [pytest.approx(race.sim_time)]
    race = sim.step(*driver.command(sim.state))
    assert race.status == "in_progress" and race.progress < 5 and race.lap_time_s < 0.2


def test_progress_starts_from_the_start_waypoint():
    sim = Simulator(SimConfig(track="oval"))
    sim.reset(start_waypoint=60)
    for _ in range(15):
        race = sim.step(0.0, 1.0)
    driven = race.progress / 100 * sim.track.length_m
    assert 0.5 < driven < 1.0  # about 0.8 m in 1 s with the speed lag


def test_off_track_ends_the_run_when_configured_to():
    sim = Simulator(SimConfig(track="oval", off_track="end"))
    sim.reset(0)
    for _ in range(200):
        race = sim.step(30.0, 1.0)  # circles left, off the inner border
        if race.status != "in_progress":
            break
    assert race.status == "off_track" and sim.done and not race.all_wheels_on_track
    # no wheel on the road, as DeepRacer defines off track
    assert not any(sim.map.on_road(x, y) for x, y in sim.vehicle.wheels())
    t = sim.state.t
    assert sim.step(0.0, 1.0).status == "off_track" and sim.state.t == t  # frozen until reset
    sim.reset(0)
    assert sim.race.status == "in_progress" and not sim.done


def test_evaluation_reset_puts_the_car_back_with_a_time_penalty():
    sim = Simulator(SimConfig(track="oval", off_track="reset", off_track_penalty_s=5.0))
    sim.reset(0)
    for _ in range(200):
        race = sim.step(30.0, 1.0)
        if race.status == "off_track":
            break
    assert race.off_track_count == 1
    assert race.lap_time_s == pytest.approx(race.sim_time + 5.0)
    assert sim.track.project(sim.state.x, sim.state.y).distance < 1e-6 and sim.state.speed == 0.0  # centre line, at rest
    assert sim.race.progress == pytest.approx(100 * (sim.projection.s - sim.track.cum[0]) / sim.track.length_m, abs=0.5)
    assert sim.step(0.0, 1.0).status == "in_progress"


def test_driving_the_wrong_way_is_reversed():
    sim = Simulator(SimConfig(track="oval", off_track="end"))
    sim.reset(10, heading_offset_rad=math.pi)
    statuses = [sim.step(0.0, 1.0).status for _ in range(REVERSED_STEPS + 10)]
    assert statuses[-1] == "reversed"
    assert statuses.index("reversed") >= REVERSED_STEPS - 1
    assert sim.race.progress == 0.0


def test_standing_still_is_immobilized():
    # a car stopped by its control node (sim_node: no action clip; an action of 0 would creep at 0.1 m/s)
    sim = Simulator(SimConfig(track="oval", off_track="end", action_clip=False))
    sim.reset(0)
    statuses = [sim.step(0.0, 0.0).status for _ in range(IMMOBILIZED_STEPS)]
    assert statuses[-2] == "in_progress" and statuses[-1] == "immobilized"


def test_a_stopped_car_in_evaluation_is_reported_not_penalised():
    sim = Simulator(SimConfig(track="oval", off_track="reset", off_track_penalty_s=5.0, action_clip=False))
    sim.reset(3)
    x, y = sim.state.x, sim.state.y
    statuses = [sim.step(0.0, 0.0).status for _ in range(2 * IMMOBILIZED_STEPS)]
    assert statuses.count("immobilized") == 2 and not sim.done
    assert sim.race.lap_time_s == pytest.approx(sim.race.sim_time)  # no penalty
    assert (sim.state.x, sim.state.y) == (x, y)
    assert sim.step(0.0, 1.0).status == "in_progress"


def test_advance_keeps_the_fixed_physics_step():
    a = Simulator(SimConfig(track="oval"))
    b = Simulator(SimConfig(track="oval"))
    for _ in range(30):
        a.step(2.0, 1.0)
    for _ in range(60):
        b.advance(1 / 30, 2.0, 1.0)  # two half camera periods each
    assert (b.state.x, b.state.y, b.state.yaw) == pytest.approx((a.state.x, a.state.y, a.state.yaw))
    c = Simulator(SimConfig(track="oval"))
    c.advance(0.01, 5.0, 1.0)  # shorter than a physics step: nothing moves yet
    assert c.state.t == 0.0
    c.advance(0.01, 5.0, 1.0)
    assert c.state.t == pytest.approx(1 / 60)


def test_camera_rate_is_configurable():
    sim = Simulator(SimConfig(track="oval", camera_hz=30.0))
    sim.step(0.0, 1.0)
    assert sim.state.t == pytest.approx(1 / 30)


def test_bad_configuration_is_refused():
    from deepracer.errors import ConfigError

    with pytest.raises(ConfigError, match="camera_hz"):
        Simulator(SimConfig(camera_hz=120.0, physics_hz=60.0))
    with pytest.raises(ConfigError, match="off_track"):
        Simulator(SimConfig(off_track="ignore"))  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["reinvent2018", "oval", "hairpins", "speedway"])
def test_pure_pursuit_completes_a_lap_on_every_built_in_track(name):
    sim = Simulator(SimConfig(track=name, off_track="end"))
    driver = PurePursuitDriver(sim.track)
    for _ in range(3000):
        race = sim.step(*driver.command(sim.state))
        if race.status != "in_progress":
            break
    assert race.status == "lap_complete" and race.off_track_count == 0
    assert sim.track.length_m / race.lap_times[0] > 1.0  # a lap at more than 1 m/s on average


def test_randomised_actuation_latency_delays_the_command():
    from deepracer.sim.simulator import Randomization

    only_latency = Randomization(appearance=False, camera_pose=False, blur_sigma_max=0.0, image_noise_max=0.0,
                                 latency_max_s=0.1, speed_gain=0.0)
    prompt = Simulator(SimConfig(track="oval"))
    prompt.step(0.0, 2.0)
    moved = []
    for seed in range(6):
        sim = Simulator(SimConfig(track="oval", randomize=True, seed=seed, randomization=only_latency))
        x0 = sim.state.x
        sim.step(0.0, 2.0)
        moved.append(sim.state.x - x0)
    assert all(m <= prompt.state.x - prompt.track.center[0, 0] + 1e-12 for m in moved)
    assert min(moved) < 0.5 * (prompt.state.x - prompt.track.center[0, 0])


@pytest.mark.parametrize("name", ["reinvent_base.npy", "Bowtie_track.npy", "2022_reinvent_champ_ccw.npy"])
@pytest.mark.parametrize("reverse", [False, True])
def test_pure_pursuit_laps_deepracer_routes_both_ways(shared, name, reverse):
    sim = Simulator(SimConfig(track=shared("tracks", name), off_track="end", reverse_direction=reverse))
    driver = PurePursuitDriver(sim.track)
    for _ in range(4000):
        race = sim.step(*driver.command(sim.state))
        if race.status != "in_progress":
            break
    assert race.status == "lap_complete"
    assert sim.reward_params()["is_reversed"] is reverse

"""The racing reference: the limit line against closed-form laps, the borders, driving it, bench lap."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

pytest.importorskip("scipy")

from deepracer.cli import main
from deepracer.sim import racing_line as rl
from deepracer.sim.track import from_route, load_track
from deepracer.sim.vehicle import VehicleParams


def circle(rc: float, width: float, n: int = 240):
    """A ring track run counter-clockwise: centre radius rc, constant width."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    c = np.stack([rc * np.cos(t), rc * np.sin(t)], axis=1)
    u = c / rc
    return from_route(np.hstack([c, c - u * width / 2, c + u * width / 2]), "ring")


def analytic_ring(rc: float, width: float, lim: rl.VehicleLimits, margin: float) -> tuple[float, float]:
    """(flying, standing) lap of a ring: the fastest line hugs the inner border (T = 2πR/v with
    v = min(v_max, sqrt(a R)) grows with R), at constant speed. From rest the tyres give a_max
    until v_c (t1 = v_c / a_max after s1 = v_c² / 2 a_max; the wheels' 2.6 ms lag costs about τ
    more, within the tolerance), the rest of the lap at v_c."""
    r = rc - width / 2 + margin
    v = min(lim.max_speed, math.sqrt(lim.max_lateral_accel * r))
    length = 2 * math.pi * r
    t1, s1 = v / lim.max_accel, v * v / (2 * lim.max_accel)
    return length / v, t1 + (length - s1) / v


@pytest.mark.parametrize(("rc", "method"), [(1.0, "min_curvature"), (1.0, "min_time"), (4.0, "min_curvature")])
def test_ring_lap_matches_the_analytic_limit(rc, method):
    """Grip-limited (R = 0.72 m: sqrt(4.9 x 0.72) = 1.88 m/s) and top-speed-limited (R = 3.72 m:
    4 m/s) rings; within 0.5 %."""
    track = circle(rc, 0.76, n=240 if rc < 2 else 400)
    line = rl.compute_racing_line(track, method=method, max_iterations=5)
    flying, standing = analytic_ring(rc, 0.76, line.limits, line.margin_m)
    assert line.flying_lap_s == pytest.approx(flying, rel=5e-3)
    assert line.standing_lap_s == pytest.approx(standing, rel=5e-3)
    r_line = np.hypot(*line.points.T)
    assert r_line == pytest.approx(rc - 0.38 + line.margin_m, abs=3e-3)  # on the inner border's margin


def test_limits_are_read_from_the_vehicle_model():
    p = VehicleParams()
    lim = rl.VehicleLimits.from_params(p)
    assert lim.max_speed == p.max_speed_mps == 4.0 and lim.min_speed == p.min_speed_mps == 0.1  # DeepRacer's clip
    assert lim.max_lateral_accel == lim.max_accel == pytest.approx(4.9)  # the wheels' mu 0.5 times g
    assert lim.max_curvature == pytest.approx(math.tan(math.radians(p.max_steering_deg)) / p.wheelbase_m)
    # a car with half the grip is slower round the same ring, by sqrt(2) where grip limits it
    slow = VehicleParams(max_lateral_accel=p.max_lateral_accel / 2)
    a = rl.compute_racing_line(circle(1.0, 0.76), method="min_curvature")
    b = rl.compute_racing_line(circle(1.0, 0.76), slow, method="min_curvature")
    assert b.flying_lap_s / a.flying_lap_s == pytest.approx(math.sqrt(2), rel=5e-3)


def test_speed_profile_obeys_the_limits():
    track = load_track("reinvent2018")
    line = rl.compute_racing_line(track, method="min_curvature")
    lim = line.limits
    v, k = line.speed, np.abs(line.kappa)
    assert v.max() <= lim.max_speed + 1e-9
    assert np.all(v * v * k <= lim.max_lateral_accel * (1 + 1e-6))
    # longitudinal: never more acceleration or braking than the tyres give (0.2 m/s²: the speed
    # grid of the exact profile is 0.5 mm/s, which near top speed is a visible slope)
    dv2 = np.diff(np.r_[v, v[:1]] ** 2) / (2 * line.ds)
    assert np.all(dv2 <= lim.max_accel + 0.2) and np.all(-dv2 <= lim.max_accel + 0.2)
    assert dv2.max() > 0.9 * lim.max_accel and -dv2.min() > 0.9 * lim.max_accel  # it does use the grip
    assert v.min() >= lim.min_speed
    assert line.standing_speed[0] == 0.0 and line.standing_lap_s > line.flying_lap_s


@pytest.mark.parametrize("rule", list(rl.BorderRule))
def test_line_stays_inside_the_borders_and_beats_the_centre_line(rule):
    track = load_track("oval")
    line = rl.compute_racing_line(track, method="min_curvature", rule=rule)
    assert rl.wheels_on_road(track, line, rule=rule).all()
    assert np.abs(line.kappa).max() <= line.limits.max_curvature
    # the offsets keep the rule's margin from the route's borders (measured on the route itself)
    side = np.array([track.project(x, y).lateral for x, y in line.points])
    seg = [track.project(x, y) for x, y in line.points]
    half = np.array([track.half_widths_at(p.segment, p.t) for p in seg])
    assert np.all(side <= half[:, 0] - line.margin_m + 0.01) and np.all(-side <= half[:, 1] - line.margin_m + 0.01)
    frame = rl.make_frame(track, line.margin_m)
    centre_lap, _ = rl._evaluate(frame, np.zeros(len(frame.s)), line.limits, None)  # the smoothed centre line
    assert line.flying_lap_s < 0.97 * centre_lap


def test_driving_the_line_in_the_simulator_matches_the_computed_time():
    track = circle(1.0, 0.76)
    line = rl.compute_racing_line(track, method="min_curvature")
    lap = rl.drive_line(track, line)
    assert lap.clean and lap.all_wheels_on_fraction == 1.0
    # a 2 s lap that starts on the centre line, 28 cm outside the line, with 15 Hz commands and
    # lap times in 1/15 s steps: within 10 % (the built-in tracks' longer laps: bench lap test)
    assert line.standing_lap_s * 0.99 <= lap.lap_time_s <= line.standing_lap_s * 1.10


def test_stanley_tracking_follows_a_line_that_rides_the_inner_border():
    track = circle(1.0, 0.76)
    line = rl.compute_racing_line(track, method="min_curvature")
    lap = rl.drive_line(track, line, settings=((0.0, 0.0, 4.0),))
    assert lap.clean and lap.params["stanley_gain"] == 4.0 and lap.all_wheels_on_fraction == 1.0
    assert lap.lap_time_s <= line.standing_lap_s * 1.10


def test_pure_pursuit_search_keeps_the_fastest_clean_setting():
    track = load_track("oval")
    best, tried = rl.fastest_pure_pursuit(track, max_speeds=(2.0, 4.0), lateral_accels=(3.0, 8.0),
                                          lookaheads=((0.35, 0.3),))
    assert best.clean and tried >= 3
    from deepracer.sim.pure_pursuit import PurePursuitDriver

    driver = PurePursuitDriver(track, max_speed=2.0, lateral_accel=3.0, lookahead_min_m=0.35, lookahead_gain_s=0.3)
    slow = rl.drive_lap(track, driver.command, driver.reset)
    assert best.lap_time_s < slow.lap_time_s


def test_bench_lap_json_on_one_track(capsys):
    assert main(["bench", "lap", "--tracks", "oval", "--quick", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["vehicle_limits"]["max_speed_mps"] == VehicleParams().max_speed_mps
    (r,) = out["tracks"]
    assert r["track"] == "oval"
    limit, pp, model = r["limit"]["computed_lap_s"], r["pure_pursuit"]["lap_time_s"], r["model"]["lap_time_s"]
    assert 19.05 / 4.0 < limit < 19.05 / 2.0  # no faster than top speed all the way round
    assert r["limit"]["line_meets_rule"] and r["limit"]["driven"]["lap_time_s"] is not None
    assert 0.98 <= r["limit"]["driven_vs_computed"] <= 1.06
    assert r["pure_pursuit_vs_limit"] == pytest.approx(pp / limit, rel=1e-3) and r["pure_pursuit_vs_limit"] >= 0.99
    assert r["model_vs_limit"] == pytest.approx(model / limit, rel=1e-3) and r["model_vs_limit"] > 1.0
    assert r["model"]["status"] == "lap_complete"


def test_bench_lap_names_a_bad_route_file(tmp_path, capsys):
    bad = tmp_path / "route.npy"
    np.save(bad, np.zeros((3, 4)))
    assert main(["bench", "lap", "--tracks", "--routes", str(bad), "--no-model", "--quick"]) == 2
    assert str(bad) in capsys.readouterr().err

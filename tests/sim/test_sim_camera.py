"""The camera image: geometry of the view and determinism of the randomisation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from deepracer.sim import SimConfig, Simulator
from deepracer.sim.camera import Appearance

PLAIN = Appearance(texture_noise=0.0, road_grain=0.0)


def sim_at(s: float, lateral: float = 0.0, yaw_offset: float = 0.0, **cfg) -> Simulator:
    sim = Simulator(SimConfig(track="oval", appearance=PLAIN, **cfg))
    sim.reset(0)
    x, y, heading = sim.track.point_at(s)
    sim.vehicle.reset(x - math.sin(heading) * lateral, y + math.cos(heading) * lateral, heading + yaw_offset)
    return sim


def test_frame_shape_and_type():
    assert sim_at(1.0).render().shape == (120, 160)
    assert sim_at(1.0).render().dtype == np.uint8
    colour = sim_at(1.0, grayscale=False, width=64, height=48).render()
    assert colour.shape == (48, 64, 3)


def test_centred_straight_view_is_symmetric_and_the_centre_line_is_in_the_middle():
    sim = sim_at(0.5, grayscale=False)  # bottom straight of the oval, dashes start at s=0
    frame = sim.render().astype(int)
    near = frame[sim.renderer.first_row + 10:]  # the far horizon shows the other side of the oval
    assert np.abs(near - near[:, ::-1]).mean() < 3.0
    shifted = sim_at(0.5, lateral=0.1, grayscale=False).render().astype(int)[sim.renderer.first_row + 10:]
    assert np.abs(shifted - shifted[:, ::-1]).mean() > 10.0
    yellow = (frame[:, :, 2] > 150) & (frame[:, :, 1] > 150) & (frame[:, :, 0] < 120)
    cols = np.nonzero(yellow)[1]
    assert cols.size > 20
    assert cols.mean() == pytest.approx(79.5, abs=1.5)


def test_sky_above_the_horizon_and_road_below():
    sim = sim_at(0.5)
    frame = sim.render()
    assert sim.renderer.first_row > 20  # pitched down 15 deg with a 120 deg lens: horizon in the upper half
    assert frame[0].min() > 150  # sky is bright
    assert frame[-1, 40] < 80  # dark road under the camera


def test_view_moves_the_right_way_when_the_car_turns_or_shifts():
    def centre_col(sim: Simulator) -> float:
        r0 = sim.renderer.first_row
        road = sim.render()[r0 + 8:r0 + 30] < 80  # dark asphalt a little below the horizon
        return float(np.nonzero(road)[1].mean())

    straight = sim_at(0.5)
    base = straight.render().copy()
    turned = sim_at(0.5, yaw_offset=0.2)
    assert np.abs(turned.render().astype(int) - base).mean() > 5
    # car yawed left: the road appears to the right
    assert centre_col(turned) > centre_col(straight) + 5
    # car moved left of the centre: the road appears to the right too
    assert centre_col(sim_at(0.5, lateral=0.15)) > centre_col(straight) + 5


def test_randomised_frames_are_seeded():
    a = Simulator(SimConfig(track="oval", randomize=True, seed=7))
    b = Simulator(SimConfig(track="oval", randomize=True, seed=7))
    c = Simulator(SimConfig(track="oval", randomize=True, seed=8))
    fa, fb, fc = a.render(), b.render(), c.render()
    assert np.array_equal(fa, fb)
    assert not np.array_equal(fa, fc)
    plain = Simulator(SimConfig(track="oval", randomize=False, seed=7)).render()
    assert not np.array_equal(fa, plain)


def test_training_can_ask_for_floors_like_the_road_and_nothing_else_changes():
    from dataclasses import replace

    from deepracer.sim.camera import LUMA
    from deepracer.sim.simulator import Randomization

    def luma(bgr) -> float:
        return float(np.dot(LUMA, bgr))

    default = Simulator(SimConfig(track="oval", randomize=True, seed=3))
    unchanged = Simulator(SimConfig(track="oval", randomize=True, seed=3,
                                    randomization=replace(Randomization(), floor_like_road=0.0)))
    always = Simulator(SimConfig(track="oval", randomize=True, seed=3,
                                 randomization=replace(Randomization(), floor_like_road=1.0)))
    gaps_default, gaps_always = [], []
    for _ in range(15):
        for sim in (default, unchanged, always):
            sim.reset(0)
        frames = [sim.render() for sim in (default, unchanged, always)]  # (a frame draws its noise crop)
        assert np.array_equal(frames[0], frames[1])  # 0 draws nothing more
        a, d = always.renderer.appearance, default.renderer.appearance
        assert replace(a, background=d.background, road_grain=d.road_grain, walls=d.walls, wall=d.wall,
                       wall_distance_m=d.wall_distance_m) == d  # only the floor (and the world's child draws) differ
        gaps_default.append(abs(luma(d.background) - luma(d.road)))
        gaps_always.append(abs(luma(a.background) - luma(a.road)))
    assert max(gaps_always) < 20 < np.median(gaps_default)  # the floor nearly the road's grey, every episode


def test_top_down_shows_the_car():
    sim = sim_at(0.5)
    img = sim.top_down(size=300)
    assert img.ndim == 3 and img.shape[2] == 3 and max(img.shape[:2]) == 300
    red = (img[:, :, 2] > 200) & (img[:, :, 0] < 60) & (img[:, :, 1] < 60)
    assert red.sum() > 4


def test_fisheye_lens_option():
    from deepracer.errors import ConfigError
    from deepracer.sim.camera import CameraPose

    pin = sim_at(0.5).render()
    sim = sim_at(0.5, camera=CameraPose(projection="fisheye"))
    fish = sim.render().astype(int)
    assert fish.shape == pin.shape and not np.array_equal(fish, pin)
    near = fish[sim.renderer.first_row + 10:]
    assert np.abs(near - near[:, ::-1]).mean() < 3.0  # still centred
    with pytest.raises(ConfigError, match="projection"):
        Simulator(SimConfig(camera=CameraPose(projection="orthographic")))

"""Tracks: the project's own, DeepRacer's routes from ../shared, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from deepracer.errors import TrackError
from deepracer.sim import DEFAULT_TRACK, list_tracks, load_track, track_gen

# From ../shared/tracks/README.md: file -> (centre-line length m, mean width m)
SHARED = {
    "reinvent_base.npy": (17.71, 0.762),
    "reInvent2019_wide.npy": (16.64, 1.067),
    "Oval_track.npy": (19.55, 0.710),
    "Bowtie_track.npy": (17.43, 0.789),
    "Vegas_track.npy": (22.55, 1.067),
    "2022_reinvent_champ_ccw.npy": (33.28, 0.950),
}


@pytest.mark.parametrize("name", sorted(SHARED))
def test_deepracer_routes_load_with_their_length_and_width(shared, name):
    track = load_track(shared("tracks", name))
    length, width = SHARED[name]
    assert track.length_m == pytest.approx(length, abs=0.01)
    assert track.width_m == pytest.approx(width, abs=0.002)
    assert not np.allclose(track.center[0], track.center[-1])  # closing duplicate dropped
    assert track.center.shape == track.inner.shape == track.outer.shape


def test_own_tracks_cover_the_required_kinds():
    rows = {name: (length, width) for name, length, width, _ in list_tracks()}
    assert DEFAULT_TRACK == "reinvent2018" and list_tracks()[0][0] == DEFAULT_TRACK
    assert len(rows) >= 4
    length, width = rows["reinvent2018"]
    assert 17.0 <= length <= 20.0 and width == pytest.approx(0.76, abs=0.01)
    assert rows["speedway"][1] == pytest.approx(1.07, abs=0.01) and rows["speedway"][0] > 30
    assert "oval" in rows and "hairpins" in rows


def test_committed_tracks_are_what_the_generator_makes():
    assert track_gen.main(["--check"]) == 0


def test_generated_routes_are_deepracer_format():
    route = np.load(track_gen.TRACKS_DIR / "reinvent2018.npy")
    assert route.ndim == 2 and route.shape[1] == 6 and route.dtype == np.float64
    assert np.array_equal(route[0], route[-1])  # closed like DeepRacer's
    track = load_track("reinvent2018")
    assert np.array_equal(track.to_route(), route)
    assert len(track.waypoints) == len(route) - 1


def test_unknown_name_lists_the_known_tracks():
    with pytest.raises(TrackError) as err:
        load_track("monaco")
    assert "monaco" in str(err.value) and "reinvent2018" in str(err.value) and "hairpins" in str(err.value)


@pytest.mark.parametrize("array", [np.zeros((10, 4)), np.zeros(12), np.full((10, 6), np.nan)])
def test_malformed_route_names_the_file(tmp_path, array):
    path = tmp_path / "bad.npy"
    np.save(path, array)
    with pytest.raises(TrackError) as err:
        load_track(path)
    assert str(path) in str(err.value)


def test_not_a_npy_file_and_missing_file(tmp_path):
    path = tmp_path / "junk.npy"
    path.write_text("hello")
    with pytest.raises(TrackError, match="junk.npy"):
        load_track(path)
    with pytest.raises(TrackError, match="missing.npy"):
        load_track(tmp_path / "missing.npy")


def test_projection_side_and_distance():
    track = load_track("oval")  # bottom straight runs along +x from (0, 0)
    p = track.project(1.0, 0.2)
    assert p.lateral == pytest.approx(0.2) and p.distance == pytest.approx(0.2)
    assert p.s == pytest.approx(1.0, abs=1e-6)
    assert track.project(1.0, -0.1).lateral == pytest.approx(-0.1)
    # a windowed search near the last index agrees with the full search
    q = track.project(1.0, 0.2, hint=p.segment, window=3)
    assert q.s == pytest.approx(p.s)


def test_reversed_track_swaps_direction():
    track = load_track("oval")
    rev = track.reversed()
    assert rev.length_m == pytest.approx(track.length_m)
    assert rev.project(1.0, 0.2).lateral == pytest.approx(-0.2)

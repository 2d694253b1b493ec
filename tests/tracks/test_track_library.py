"""The user's track library: import DeepRacer's routes, find them by name everywhere, remove them;
directions as DeepRacer names them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from deepracer.cli import main
from deepracer.errors import TrackError
from deepracer.sim import SimConfig, Simulator, load_track
from deepracer.sim.reward_params import reward_params
from deepracer.sim.track import Direction, signed_area
from deepracer.sim.track_library import (
    TrackSource,
    default_library_dir,
    import_routes,
    list_tracks,
    remove_track,
    resolve,
    with_direction,
)


@pytest.fixture
def routes(shared, tmp_path):
    """A copy of ../shared/tracks plus broken files, as a user's routes/ folder might hold."""
    folder = tmp_path / "routes"
    folder.mkdir()
    for p in shared("tracks").glob("*.npy"):
        (folder / p.name).write_bytes(p.read_bytes())
    oval = np.load(folder / "Oval_track.npy")
    np.save(folder / "nan_track.npy", np.where(np.arange(6) == 1, np.nan, oval))
    np.save(folder / "four_columns.npy", oval[:, :4])
    np.save(folder / "open_track.npy", oval[:50])
    np.save(folder / "millimetres.npy", oval * 1000)
    (folder / "notes.npy").write_text("not numpy")
    t = np.linspace(0, 2 * np.pi, 121)
    centre = np.c_[3 * np.sin(t), 3 * np.sin(t) * np.cos(t)]  # a figure of eight: the centre line crosses itself
    normal = np.c_[-np.gradient(centre[:, 1]), np.gradient(centre[:, 0])]
    normal /= np.linalg.norm(normal, axis=1)[:, None]
    np.save(folder / "figure_eight.npy", np.c_[centre, centre + 0.4 * normal, centre - 0.4 * normal])
    return folder


@pytest.fixture
def library(tmp_path, monkeypatch):
    lib = tmp_path / "library"
    monkeypatch.setenv("DEEPRACER_TRACKS_DIR", str(lib))
    return lib


def test_library_dir_from_env_or_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("DEEPRACER_TRACKS_DIR", str(tmp_path / "x"))
    assert default_library_dir() == tmp_path / "x"
    monkeypatch.delenv("DEEPRACER_TRACKS_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_library_dir() == tmp_path / "data" / "deepracer" / "tracks"


def test_import_a_routes_folder_names_each_bad_file_and_imports_the_rest(routes, library):
    result = import_routes(routes)
    assert sorted(t.name for t in result.imported) == sorted(
        ["2022_reinvent_champ_ccw", "Bowtie_track", "Oval_track", "Vegas_track", "reInvent2019_wide", "reinvent_base"])
    reasons = {f.name: why for f, why in result.skipped}
    assert set(reasons) == {"nan_track.npy", "four_columns.npy", "open_track.npy", "millimetres.npy", "notes.npy",
                            "figure_eight.npy"}
    assert "crosses itself" in reasons["figure_eight.npy"]
    assert "NaN" in reasons["nan_track.npy"]
    assert "(N, 6)" in reasons["four_columns.npy"] and "(102, 4)" in reasons["four_columns.npy"]
    assert "not a closed loop" in reasons["open_track.npy"]
    assert "metres" in reasons["millimetres.npy"]
    assert "not a .npy file" in reasons["notes.npy"]
    assert (library / "reinvent_base.npy").read_bytes() == (routes / "reinvent_base.npy").read_bytes()


def test_reimport_is_harmless_and_a_different_file_of_the_same_name_is_refused(routes, library, tmp_path):
    import_routes(routes / "Oval_track.npy")
    again = import_routes(routes / "Oval_track.npy")
    assert not again.imported and "already in the library" in again.skipped[0][1]
    other = tmp_path / "Oval_track.npy"
    np.save(other, np.load(routes / "reinvent_base.npy"))
    refused = import_routes(other)
    assert not refused.imported and "--replace" in refused.skipped[0][1]
    assert load_track("Oval_track").length_m == pytest.approx(19.55, abs=0.01)  # the first one kept
    assert import_routes(other, replace=True).imported
    assert load_track("Oval_track").length_m == pytest.approx(17.71, abs=0.01)  # the cache sees the new file


def test_builtin_names_cannot_be_taken_or_removed(routes, library, tmp_path):
    clash = tmp_path / "oval.npy"
    clash.write_bytes((routes / "Oval_track.npy").read_bytes())
    result = import_routes(clash)
    assert not result.imported and "built-in" in result.skipped[0][1]
    assert import_routes(clash, name="my_oval").imported[0].name == "my_oval"
    with pytest.raises(TrackError, match="built-in"):
        remove_track("oval")


def test_imported_tracks_listed_resolved_and_removed(routes, library):
    import_routes(routes)
    rows = {t.name: t for t in list_tracks()}
    assert rows["reinvent2018"].source is TrackSource.BUILTIN and list_tracks()[0].name == "reinvent2018"
    base = rows["reinvent_base"]
    assert base.source is TrackSource.IMPORTED and base.length_m == pytest.approx(17.71, abs=0.01)
    assert base.width_m == pytest.approx(0.762, abs=0.002) and base.direction is Direction.COUNTERCLOCKWISE
    assert resolve("reinvent_base").source == library / "reinvent_base.npy"
    assert resolve("REINVENT_BASE").name == "reinvent_base"  # case-insensitive when unambiguous
    remove_track("reinvent_base")
    assert "reinvent_base" not in {t.name for t in list_tracks()}
    with pytest.raises(TrackError, match="unknown track 'reinvent_base'.*imported tracks: .*Oval_track"):
        load_track("reinvent_base")


def test_deepracer_routes_run_counterclockwise(shared):
    files = sorted(shared("tracks").glob("*.npy"))
    assert len(files) == 6
    for p in files:
        assert signed_area(np.load(p)[:, :2]) > 0, p.name


def test_clockwise_is_the_reverse_of_counterclockwise_whatever_the_file_order(routes, library, tmp_path):
    import_routes(routes / "reinvent_base.npy")
    ccw = resolve("reinvent_base")
    cw = resolve("reinvent_base", direction="clockwise")
    assert ccw.direction is Direction.COUNTERCLOCKWISE and cw.direction is Direction.CLOCKWISE
    assert cw.name == "reinvent_base_cw" and cw.is_reversed and not ccw.is_reversed
    assert np.array_equal(cw.center[0], ccw.center[0])  # same start line
    assert cw.length_m == pytest.approx(ccw.length_m)
    # DeepRacer's WORLD_NAME suffixes and the cw/ccw aliases
    assert resolve("reinvent_base_cw").direction is Direction.CLOCKWISE
    assert resolve("reinvent_base_ccw").name == "reinvent_base"
    assert resolve("reinvent_base_cw", direction="ccw").direction is Direction.COUNTERCLOCKWISE
    # a file stored clockwise: counterclockwise still means the positive-area order
    flipped = tmp_path / "flipped.npy"
    np.save(flipped, np.load(routes / "reinvent_base.npy")[::-1])
    f = resolve(str(flipped))
    assert f.direction is Direction.CLOCKWISE and not f.is_reversed
    g = resolve(f"{flipped}:counterclockwise")
    assert g.direction is Direction.COUNTERCLOCKWISE and g.is_reversed and g.name == "flipped_ccw"
    with pytest.raises(TrackError, match="unknown direction 'sideways'"):
        resolve("oval", direction="sideways")


def test_with_direction_gives_a_spec_that_resolves_back(routes, library):
    import_routes(routes / "Vegas_track.npy")
    spec = with_direction("oval,Vegas_track", "cw")
    assert spec == "oval_cw,Vegas_track_cw"
    assert [load_track(s).direction for s in spec.split(",")] == [Direction.CLOCKWISE] * 2
    path_spec = with_direction(str(routes / "Bowtie_track.npy"), "clockwise")
    assert path_spec.endswith("Bowtie_track.npy:clockwise") and load_track(path_spec).direction is Direction.CLOCKWISE
    assert with_direction(None, "cw") == "reinvent2018_cw"
    assert with_direction("oval", None) == "oval"


def test_simulator_on_a_clockwise_track_reports_is_reversed_and_drives_clockwise():
    sim = Simulator(SimConfig(track="oval_cw", randomize=False))
    sim.reset(start_waypoint=0)
    params = reward_params(sim)
    assert params["is_reversed"] is True
    wp = np.array(params["waypoints"])
    assert signed_area(wp) < 0  # the waypoints a reward function sees run clockwise
    # reverse_direction on top of a clockwise spec drives counterclockwise again, as the file runs
    back = Simulator(SimConfig(track="oval_cw", randomize=False, reverse_direction=True))
    back.reset(start_waypoint=0)
    assert reward_params(back)["is_reversed"] is False


# -- the CLI -----------------------------------------------------------------------------
def test_cli_import_list_show_remove(routes, library, capsys):
    assert main(["tracks", "import", str(routes)]) == 1  # some files were bad
    out, err = capsys.readouterr()
    assert "imported reinvent_base: 17.71 m" in out and "6 imported, 6 skipped" in out
    assert f"skipped {routes / 'nan_track.npy'}: the route contains NaN" in err
    assert main(["tracks", "import", str(routes / "Oval_track.npy")]) == 0  # already there: fine
    capsys.readouterr()
    assert main(["tracks", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["Vegas_track"]["source"] == "imported" and rows["Vegas_track"]["length_m"] == pytest.approx(22.55)
    assert rows["oval"]["source"] == "builtin"
    assert main(["tracks", "list"]) == 0
    text = capsys.readouterr().out
    assert "reInvent2019_wide" in text and "imported" in text and "16.64" in text
    assert main(["tracks", "show", "reInvent2019_wide", "--direction", "clockwise", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["name"] == "reInvent2019_wide_cw" and info["direction"] == "clockwise"
    assert main(["tracks", "remove", "reInvent2019_wide"]) == 0
    assert main(["tracks", "show", "reInvent2019_wide"]) == 2
    assert "unknown track 'reInvent2019_wide'" in capsys.readouterr().err


def test_cli_tracks_dir_option_and_name(routes, tmp_path, capsys):
    lib = tmp_path / "elsewhere"
    assert main(["tracks", "import", str(routes / "Bowtie_track.npy"), "--name", "bowtie", "--tracks-dir", str(lib)]) == 0
    assert (lib / "bowtie.npy").is_file()
    assert main(["tracks", "import", str(routes), "--name", "x", "--tracks-dir", str(lib)]) == 2
    assert "--name needs a single route file" in capsys.readouterr().err


def test_reward_validate_takes_an_imported_track_and_a_direction(routes, library, capsys):
    import_routes(routes / "reinvent_base.npy")
    reward = routes / "reward.py"
    reward.write_text("def reward_function(params):\n    return 1.0\n")
    assert main(["reward", "validate", str(reward), "--track", "reinvent_base", "--direction", "cw"]) == 0
    assert main(["reward", "validate", str(reward), "--track", "nowhere_track"]) == 2
    assert "unknown track 'nowhere_track'" in capsys.readouterr().err

"""`deepracer tracks list|show` and `deepracer bench sim` through the real CLI entry point."""

from __future__ import annotations

import json

import cv2

from deepracer.cli import main


def test_tracks_list_json(capsys):
    assert main(["tracks", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    names = [r["name"] for r in rows]
    assert names[0] == "reinvent2018" and {"oval", "hairpins", "speedway"} <= set(names)
    assert all(r["length_m"] > 10 and 0.5 < r["width_m"] < 1.2 for r in rows)


def test_tracks_show_a_deepracer_route_with_png(shared, tmp_path, capsys):
    png = tmp_path / "track.png"
    assert main(["tracks", "show", str(shared("tracks", "reinvent_base.npy")), "--png", str(png), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["length_m"] == round(17.71, 0) or abs(info["length_m"] - 17.71) < 0.01
    assert abs(info["width_m"] - 0.762) < 0.002
    img = cv2.imread(str(png))
    assert img is not None and max(img.shape[:2]) == 800


def test_tracks_show_unknown_exits_2_naming_the_known_tracks(capsys):
    assert main(["tracks", "show", "monaco"]) == 2
    err = capsys.readouterr().err
    assert "monaco" in err and "reinvent2018" in err


def test_bench_sim_reports_rates(capsys):
    assert main(["bench", "sim", "--steps", "50", "--repeats", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["steps_per_s"] > 0 and result["render_per_s"] > 0 and result["physics_per_s"] > 0

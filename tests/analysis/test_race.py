"""`deepracer race`: leaderboard order, JSON, and the video of the best lap."""

from __future__ import annotations

import json

import cv2
import pytest
from road_follower import make_road_follower

from deepracer.analysis.race import RaceEntry, leaderboard_table, rank
from deepracer.cli import main
from deepracer.errors import ConfigError


def _e(name: str, completed: int, best: float | None, progress: float) -> RaceEntry:
    return RaceEntry(name, name, 3, completed, [], best, best, 0, 0, progress)


def test_ranking_laps_then_best_time_then_progress():
    entries = rank([_e("slow", 3, 15.0, 100), _e("crashy", 1, 11.0, 60), _e("fast", 3, 12.5, 100),
                    _e("nowhere", 0, None, 10), _e("further", 0, None, 40)])
    assert [e.model for e in entries] == ["fast", "slow", "crashy", "further", "nowhere"]
    assert [e.rank for e in entries] == [1, 2, 3, 4, 5]
    table = leaderboard_table(entries).splitlines()
    assert table[1].split()[:3] == ["1", "fast", "3/3"] and "12.500" in table[1]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from deepracer.model.reference_net import make_reference_package

    root = tmp_path_factory.mktemp("models")
    return [make_road_follower(root / "steady", speed=1.5), make_reference_package(root / "untrained", seed=1),
            make_road_follower(root / "quick", speed=2.5)]


def test_race_json_and_video(models, tmp_path, capsys):
    video = tmp_path / "best.mp4"
    args = ["race", "--models", *map(str, models), "--laps", "2", "--max-lap-seconds", "15", "--json",
            "--video", str(video)]
    assert main(args) == 0
    data = json.loads(capsys.readouterr().out)
    board = data["leaderboard"]
    assert [e["model"] for e in board] == ["quick", "steady", "untrained"]
    assert [e["completed"] for e in board] == [2, 2, 0]
    quick, steady, untrained = board
    assert quick["best_lap_s"] < steady["best_lap_s"]
    assert quick["best_lap_s"] == min(quick["lap_times"])
    assert untrained["best_lap_s"] is None and untrained["lap_times"] == [None, None]
    capture = cv2.VideoCapture(str(video))
    frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    fps = capture.get(cv2.CAP_PROP_FPS)
    ok, frame = capture.read()
    capture.release()
    assert ok and frame.shape[1] > frame.shape[0]  # camera beside the top-down view
    assert frames / fps == pytest.approx(quick["best_lap_s"], abs=0.15)  # the best lap, no more


def test_race_needs_laps(models):
    from deepracer.analysis.race import run_race

    with pytest.raises(ConfigError, match="--laps"):
        run_race([models[0]], laps=0)


def test_race_renders_each_model_through_its_recorded_profile_or_the_override(tmp_path, capsys):
    from deepracer.camera_profile import resolve_profile
    from deepracer.model.package import record_camera_profile
    from deepracer.model.reference_net import make_reference_package

    aws = make_reference_package(tmp_path / "aws", seed=1)
    record_camera_profile(aws, resolve_profile("aws-sim"))
    plain = make_reference_package(tmp_path / "plain", seed=2)
    args = ["race", "--models", str(aws), str(plain), "--laps", "1", "--max-lap-seconds", "2", "--json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["camera_profiles"] == {"aws": "aws-sim", "plain": "car"}
    assert main([*args, "--camera-profile", "car"]) == 0
    assert json.loads(capsys.readouterr().out)["camera_profiles"] == {"aws": "car", "plain": "car"}


def test_head_to_head_each_car_through_its_own_profile(tmp_path, capsys):
    from deepracer.camera_profile import resolve_profile
    from deepracer.model.package import record_camera_profile
    from deepracer.model.reference_net import make_reference_package

    aws = make_reference_package(tmp_path / "aws", seed=1)
    record_camera_profile(aws, resolve_profile("aws-sim"))
    plain = make_reference_package(tmp_path / "plain", seed=2)
    args = ["race", "--head-to-head", str(aws), str(plain), "--laps", "1", "--max-lap-seconds", "2", "--json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["camera_profiles"] == {"aws": "aws-sim", "plain": "car"}
    assert main([*args, "--camera-profile", "aws-sim"]) == 0
    assert json.loads(capsys.readouterr().out)["camera_profiles"] == {"aws": "aws-sim", "plain": "aws-sim"}

"""`deepracer sim` end to end: the real sim_node + inference_node + control_node graph."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest
from testenv import skip_or_fail

pytest.importorskip("rclpy")

from deepracer.cli import main
from deepracer.messages import EpisodeStatus

pytestmark = [pytest.mark.ros, pytest.mark.integration]  # real node graphs or processes


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from deepracer.model.reference_net import make_reference_package

    return make_reference_package(tmp_path_factory.mktemp("model") / "reference")


def _run_json(capsys, *argv: str) -> dict:
    assert main(["sim", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_sim_json_with_a_model_writes_laps_video_and_png(capsys, tmp_path, model_dir):
    out = _run_json(capsys, "--model", str(model_dir), "--lock-step", "--max-seconds", "3",
                    "--video", str(tmp_path / "run.mp4"), "--png", str(tmp_path / "run.png"))
    assert out["driver"] == "model" and out["model"] == str(model_dir)
    assert isinstance(out["laps"], list) and out["laps"]
    lap = out["laps"][0]
    assert set(lap) >= {"lap_time_s", "completed"}
    assert out["completed_laps"] == sum(1 for lap in out["laps"] if lap["completed"])
    assert out["steps"] >= 40  # 3 s at 15 Hz, every frame answered by the model
    assert out["sim_time_s"] == pytest.approx(3.0, abs=0.1)

    video = cv2.VideoCapture(out["video"])
    ok, frame = video.read()
    assert ok and frame.shape[1] > frame.shape[0]  # camera view next to the top-down view
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) >= 40
    video.release()
    png = cv2.imread(out["png"])
    assert png is not None and png.std() > 10


def test_without_any_model_pure_pursuit_stands_in_and_says_so(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPRACER_MODEL", str(tmp_path / "absent.tar.gz"))
    out = _run_json(capsys, "--lock-step", "--laps", "1", "--no-video")
    assert out["driver"] == "pure_pursuit"
    assert "pure-pursuit" in out["note"] and "NOT a model" in out["note"]
    assert out["completed_laps"] == 1 and out["laps"][0]["completed"]
    assert 5.0 < out["laps"][0]["lap_time_s"] < 30.0
    assert out["stop_reason"] == "laps_done"


def test_table_output_labels_the_stand_in(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPRACER_MODEL", str(tmp_path / "absent.tar.gz"))
    assert main(["sim", "--lock-step", "--max-seconds", "2", "--no-video"]) == 0
    text = capsys.readouterr().out
    assert "pure pursuit (stand-in" in text and "lap" in text and "time limit" in text


def test_unknown_track_exits_2_naming_it(capsys):
    assert main(["sim", "--track", "no_such_track", "--lock-step", "--json"]) == 2
    err = capsys.readouterr().err
    assert "no_such_track" in err and "built-in tracks" in err


def test_broken_model_exits_2_naming_the_file(capsys, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.onnx").write_bytes(b"not onnx")
    (broken / "model_metadata.json").write_text("{}")
    assert main(["sim", "--model", str(broken), "--lock-step", "--json"]) == 2
    err = capsys.readouterr().err
    assert str(broken) in err


def test_missing_explicit_model_never_falls_back(capsys, tmp_path):
    assert main(["sim", "--model", str(tmp_path / "nope"), "--lock-step"]) == 2
    assert "not found" in capsys.readouterr().err


def test_export_gazebo(capsys, tmp_path):
    out = _run_json(capsys, "--track", "oval", "--export-gazebo", str(tmp_path / "gz"))
    assert out["track"] == "oval"
    for key in ("world", "bridge"):
        assert (tmp_path / "gz" / f"{'world.sdf' if key == 'world' else 'bridge.yaml'}").is_file()
    assert (tmp_path / "gz" / "models" / "deepracer" / "model.sdf").is_file()


def test_run_sim_graph_lock_step_is_repeatable_and_records_steps(model_dir):
    from deepracer_nodes.sim_runner import run_sim_graph

    runs = [run_sim_graph(model=model_dir, lock_step=True, seed=3, randomize=True, max_seconds=2.0, record=False)
            for _ in range(2)]
    a, b = (r.trajectory for r in runs)
    assert a.shape == b.shape and len(a) >= 30
    np.testing.assert_array_equal(a, b)
    # step 5 is the car 5 camera periods after the start, moving along the track
    start, step = runs[0].steps[0], runs[0].steps[5]
    assert step.step == 5 and step.sim_time == pytest.approx(start.sim_time + 5 / 15, abs=1e-6)
    assert step.status in set(EpisodeStatus) and 0 < step.progress < 100 and step.speed > 0
    assert math.hypot(step.x - start.x, step.y - start.y) > 0.05
    assert runs[0].frames == []  # record=False keeps no frames
    # inference_node's policy/action on every frame, matched to its step by the frame's stamp;
    # the last step ends the run and has no frame to answer
    decisions = [[(s.action, s.command) for s in r.steps] for r in runs]
    assert decisions[0] == decisions[1]
    assert all(s.action >= 0 and s.command is not None for s in runs[0].steps[:-1])
    assert runs[0].steps[-1].action == -1


def test_run_sim_graph_with_one_process_per_node(model_dir):
    from deepracer_nodes.sim_runner import run_sim_graph

    result = run_sim_graph(model=model_dir, lock_step=True, max_seconds=1.0, processes=True, record=False)
    assert result.stop_reason == "time_up"
    assert len(result.steps) >= 15 and result.steps[-1].sim_time == pytest.approx(1.0, abs=0.07)
    assert all(s.action >= 0 for s in result.steps[:-1])  # policy/action across processes, from frame 0 on


def test_a_sim_node_that_cannot_start_is_a_clear_error(model_dir):
    from deepracer.errors import ConfigError
    from deepracer_nodes.sim_runner import run_sim_graph

    with pytest.raises(ConfigError, match="encoding"):
        run_sim_graph(model=model_dir, lock_step=True, max_seconds=1.0, sim_params={"encoding": "yuv422"})


def test_a_car_that_never_finishes_is_stopped_by_the_time_limit(tmp_path):
    from deepracer.model.reference_net import make_fixed_package
    from deepracer_nodes.sim_runner import run_sim_graph

    circler = make_fixed_package(tmp_path / "circler", output=[1.0, 0.0, 0.0, 0.0, 0.0])  # always full right lock
    # under 10 s: each put-back returns the front point to where it left (DeepRacer's rule), so a circling
    # car makes no progress at all and would be reported stuck after stuck_seconds (10 s) instead
    result = run_sim_graph(model=circler, lock_step=True, max_seconds=8.0, record=False)
    assert result.stop_reason == "time_up"
    assert result.completed_laps == 0 and not result.laps[0].completed
    assert result.laps[0].progress < 50  # evaluation resets put it back on track, but it gets nowhere fast
    assert result.off_track_count > 5


def test_a_car_that_does_not_move_is_reported_stuck(tmp_path):
    from deepracer.model.metadata import Action, ModelMetadata
    from deepracer.model.reference_net import make_fixed_package
    from deepracer_nodes.sim_runner import run_sim_graph

    meta = ModelMetadata(action_space_type="discrete", actions=[Action(0.0, 0.0), Action(10.0, 0.0)])
    parked = make_fixed_package(tmp_path / "parked", output=[1.0, 0.0], metadata=meta)
    result = run_sim_graph(model=parked, lock_step=True, max_seconds=60.0, stuck_seconds=3.0, record=False)
    assert result.stop_reason == "stuck"
    assert 3.0 <= result.sim_time_s < 30.0  # 3 s without progress, long before the time limit
    assert result.completed_laps == 0 and result.laps[0].progress == 0


@pytest.fixture
def bundled():
    from deepracer.paths import bundled_model

    path = bundled_model()
    if not path.exists():
        skip_or_fail(f"no bundled model at {path} (models/*.tar.gz is part of the repository)")
    return path


def test_the_readme_job_bundled_model_laps_the_default_track(capsys, bundled, tmp_path):
    out = _run_json(capsys, "--lock-step", "--laps", "1", "--out", str(tmp_path))
    assert out["driver"] == "model" and out["model"] == str(bundled)
    assert out["completed_laps"] == 1 and out["laps"][0]["completed"]
    assert out["stop_reason"] == "laps_done"
    assert (tmp_path / "sim-reinvent2018.mp4").is_file() and (tmp_path / "sim-reinvent2018.png").is_file()


def test_real_time_default_mode_drives_with_the_bundled_model(capsys, bundled):
    out = _run_json(capsys, "--max-seconds", "2", "--no-video")
    assert out["lock_step"] is False and out["stop_reason"] == "time_up"
    assert out["laps"][0]["progress"] > 5  # it moved along the track in 2 s of real time
    # one record per camera step (15 Hz) of the simulated time, the start counted once; how much wall
    # time that took (a loaded machine drops physics backlog) does not change the count
    assert abs(out["steps"] - (round(out["sim_time_s"] * 15) + 1)) <= 1


def test_lock_step_second_lap_longer_than_the_stuck_time_is_not_stuck(capsys):
    """A lap longer than the 10 s stuck time used to end the run as `stuck` right after lap 1:
    the lap_complete status counted the finished lap twice (lap count already up, progress 100)."""
    from deepracer.paths import REPO_ROOT

    bundled = REPO_ROOT / "models" / "deepracer-default.tar.gz"
    out = _run_json(capsys, "--model", str(bundled), "--track", "hairpins", "--laps", "2", "--lock-step", "--no-video")
    assert out["stop_reason"] == "laps_done", out
    assert [lap["completed"] for lap in out["laps"]] == [True, True]
    assert min(lap["lap_time_s"] for lap in out["laps"]) > 10.0  # longer than the stuck time: the case above

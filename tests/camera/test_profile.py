"""Camera profiles: built-ins that describe DeepRacer's and our simulator's camera, files, validation,
the `deepracer camera` command, and the camera check the inference node runs."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import yaml

from deepracer.camera_profile import (
    AWS_SIM,
    BUILTIN_PROFILES,
    CAR,
    CameraProfile,
    CameraProfileWatch,
    DistortionModel,
    Intrinsics,
    Mount,
    camera_check,
    load_profile,
    resolve_profile,
    save_profile,
)
from deepracer.cli import main as cli
from deepracer.errors import ConfigError
from deepracer.hardware.camera_calibration import CameraInfoFile, load_camera_info, save_camera_info


def test_aws_sim_is_deepracers_simulated_camera():
    # deepracer-facts §1: 640x480, HFOV 1.13 rad, ideal pinhole, 160x120 input, fx ≈504.8 / ≈126.2 px
    fov = AWS_SIM.field_of_view
    assert math.radians(fov.horizontal_deg) == pytest.approx(1.13, abs=1e-9)
    assert fov.vertical_deg == pytest.approx(50.9, abs=0.05)
    assert AWS_SIM.intrinsics.fx == pytest.approx(504.8, abs=0.05)
    assert AWS_SIM.output_intrinsics.fx == pytest.approx(126.2, abs=0.05)
    assert (AWS_SIM.intrinsics.width, AWS_SIM.intrinsics.height, AWS_SIM.output_width, AWS_SIM.output_height) == (
        640, 480, 160, 120)
    assert AWS_SIM.intrinsics.distortion_model is DistortionModel.PLUMB_BOB and not any(AWS_SIM.intrinsics.coefficients)
    # optical origin x 0.14529 from base_link, which is 0.081663 ahead of the rear axle; z 0.13033; 15° down
    assert AWS_SIM.mount == Mount(forward_m=pytest.approx(0.226953), height_m=0.13033, pitch_deg=15.0)


def test_car_profile_sees_exactly_what_the_simulator_renders():
    """Every ground pixel of the simulator's default camera lies where the `car` profile's ray hits the ground."""
    from deepracer.sim.camera import CameraModel, CameraPose
    from deepracer.sim.simulator import SimConfig

    cfg, pose = SimConfig(), CameraPose()
    assert (CAR.output_width, CAR.output_height) == (cfg.width, cfg.height)
    assert (CAR.mount.forward_m, CAR.mount.height_m, CAR.mount.pitch_deg) == (pose.forward_m, pose.height_m, pose.pitch_deg)
    assert CAR.intrinsics.distortion_model.projection == pose.projection
    assert CAR.field_of_view.horizontal_deg == pytest.approx(pose.hfov_deg)
    sim = CameraModel(cfg.width, cfg.height, pose)
    v, u = np.mgrid[sim.first_row:cfg.height, 0:cfg.width]
    rays = CAR.output_intrinsics.rays(np.column_stack([u.ravel(), v.ravel()]).astype(float))
    th = math.radians(CAR.mount.pitch_deg)
    fwd = rays[:, 2] * math.cos(th) - rays[:, 1] * math.sin(th)  # camera (x right, y down, z fwd) -> car
    left, up = -rays[:, 0], -rays[:, 2] * math.sin(th) - rays[:, 1] * math.cos(th)
    t = CAR.mount.height_m / -up
    gx, gy = CAR.mount.forward_m + t * fwd, t * left
    near = np.hypot(t * fwd, t * left) < pose.max_range_m * 0.99  # the simulator clips far points
    assert near.sum() > 1000
    np.testing.assert_allclose(gx[near], sim.gx[near], atol=1e-6)
    np.testing.assert_allclose(gy[near], sim.gy[near], atol=1e-6)


def test_profile_files_round_trip_yaml_and_json(tmp_path):
    fish = CameraProfile("my-car", Intrinsics(640, 480, 240.0, 238.0, 322.0, 241.0, DistortionModel.EQUIDISTANT,
                                              (-0.03, 0.01, -0.004, 0.0005)),
                         mount=Mount(0.2, 0.1, 20.0), description="fisheye", source="cal.yaml")
    for name in ("p.yaml", "p.json"):
        assert load_profile(save_profile(fish, tmp_path / name)) == fish
    data = json.loads((tmp_path / "p.json").read_text())
    assert data["field_of_view"]["horizontal_deg"] == pytest.approx(fish.field_of_view.horizontal_deg, abs=1e-3)
    assert data["distortion"] == {"model": "equidistant", "coefficients": [-0.03, 0.01, -0.004, 0.0005]}


@pytest.mark.parametrize("change, message", [
    (lambda d: d["intrinsics"].update(fx=-1), "intrinsics.fx must be positive"),
    (lambda d: d["intrinsics"].update(cx=900), "intrinsics.cx 900.0 is outside the image"),
    (lambda d: d["intrinsics"].pop("fy"), "intrinsics.fy is missing"),
    (lambda d: d["distortion"].update(model="kannala"), "distortion.model must be one of"),
    (lambda d: d["distortion"].update(coefficients=[0, 0]), "plumb_bob needs 5 numbers, not 2"),
    (lambda d: d["distortion"].update(coefficients=[-2.0, 0, 0, 0, 0]), "cannot be inverted at the image edges"),
    (lambda d: d["mount"].update(pitch_deg=95), "mount.pitch_deg must be between -90 and 90"),
    (lambda d: d["mount"].update(height_m="high"), "mount.height_m must be a number, not 'high'"),
    (lambda d: d["output"].update(height=100), "another aspect ratio"),
    (lambda d: d["resolution"].update(width=640.5), "resolution.width must be a whole number"),
    (lambda d: d.update(lens="wide"), "unknown key(s) lens"),
    (lambda d: d.update(name=""), "name: a camera profile needs a non-empty name"),
    (lambda d: d["field_of_view"].update(horizontal_deg=90), "field_of_view.horizontal_deg 90 does not match"),
    (lambda d: d.update(version=7), "version 7 is not supported"),
])
def test_bad_fields_are_named(tmp_path, change, message):
    data = AWS_SIM.to_dict()
    change(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as err:
        load_profile(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_resolve_names_and_files(tmp_path):
    assert resolve_profile("aws-sim") is AWS_SIM and resolve_profile("car") is CAR
    assert resolve_profile(save_profile(AWS_SIM, tmp_path / "x.yaml")) == AWS_SIM
    with pytest.raises(ConfigError, match="unknown camera profile 'aws'.*aws-sim, car"):
        resolve_profile("aws")
    with pytest.raises(ConfigError, match="not found"):
        resolve_profile(tmp_path / "missing.yaml")
    (tmp_path / "broken.yaml").write_text("name: [x\n")
    with pytest.raises(ConfigError, match="broken.yaml: invalid YAML/JSON at line 2"):
        resolve_profile(tmp_path / "broken.yaml")


# -- the check --------------------------------------------------------------------------------------


def check(profile, intr: Intrinsics):
    return camera_check(profile, intr.width, intr.height, intr.matrix.ravel(), intr.distortion_model.value,
                        intr.coefficients)


def test_check_matches_the_same_camera_at_any_resolution():
    for intr in (AWS_SIM.intrinsics, AWS_SIM.output_intrinsics, AWS_SIM.intrinsics.scaled(320, 240)):
        assert check(AWS_SIM, intr).ok


def test_check_tolerance_is_five_degrees_of_horizontal_field_of_view():
    assert check(AWS_SIM, Intrinsics.ideal_pinhole(160, 120, 64.744 + 4.5)).ok
    result = check(AWS_SIM, Intrinsics.ideal_pinhole(160, 120, 64.744 + 5.5))
    assert not result.ok and "horizontal field of view 70.2° vs 64.7° (tolerance 5°)" in result.mismatches[0]


def test_check_names_lens_model_field_of_view_and_aspect():
    fisheye = Intrinsics(640, 480, 330.0, 330.0, 319.5, 239.5, DistortionModel.EQUIDISTANT, (0.0, 0.0, 0.0, 0.0))
    text = check(CAR, fisheye).message("model 'm'")
    assert text.startswith("the camera does not match the camera profile 'car' model 'm' was trained for")
    assert "lens model equidistant (fisheye) vs plumb_bob (pinhole)" in text
    wide = check(AWS_SIM, Intrinsics.ideal_pinhole(160, 90, 64.744))
    assert any("aspect" in m for m in wide.mismatches)


def test_uncalibrated_camera_info_is_not_a_mismatch_but_says_so():
    result = camera_check(AWS_SIM, 160, 120, [0.0] * 9, "", [])
    assert not result.calibrated and not result.ok and result.mismatches == ()
    assert "not calibrated" in result.message() and "deepracer calibrate camera" in result.message()


def test_watch_reports_once_per_camera_and_model_with_warning_on_mismatch():
    watch = CameraProfileWatch()
    wide = CAR.output_intrinsics
    args = (wide.width, wide.height, list(wide.matrix.ravel()), "plumb_bob", [0.0] * 5)
    level, text = watch.update(AWS_SIM, "m", *args)
    assert level == "warning" and "'aws-sim'" in text and "120.0° vs 64.7°" in text
    assert watch.update(AWS_SIM, "m", *args) is None  # same camera, same model: nothing new to log
    level, text = watch.update(CAR, "m2", *args)  # another model, trained for this camera
    assert level == "info" and "matches" in text
    assert watch.update(None, "m3", *args)[0] == "info"


# -- the command ------------------------------------------------------------------------------------


def test_profile_from_calibration_command(tmp_path, capsys):
    cal = CameraInfoFile("front", Intrinsics(640, 480, 300.0, 300.0, 320.0, 240.0, DistortionModel.EQUIDISTANT,
                                              (-0.02, 0.0, 0.0, 0.0)))
    path = save_camera_info(cal, tmp_path / "camera_info.yaml")
    out = tmp_path / "my-car.yaml"
    assert cli(["camera", "profile", "--from-calibration", str(path), "--height-m", "0.11", "--pitch-deg", "20",
                "--forward-m", "0.18", "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    p = load_profile(out)
    assert (p.name, p.intrinsics, p.output_width, p.output_height) == ("my-car", cal.intrinsics, 160, 120)
    assert p.mount == Mount(0.18, 0.11, 20.0)
    assert cli(["camera", "show", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["field_of_view"]["horizontal_deg"] == pytest.approx(
        cal.intrinsics.field_of_view().horizontal_deg, abs=1e-3)
    # the offline check: this calibration against the profile made from it, and against aws-sim
    assert cli(["camera", "check", "--camera-profile", str(out), "--camera-info", str(path)]) == 0
    assert cli(["camera", "check", "--camera-profile", "aws-sim", "--camera-info", str(path)]) == 1
    assert "lens model equidistant" in capsys.readouterr().out
    assert load_camera_info(path) == cal


def test_profile_command_refuses_bad_mounts_naming_the_field(tmp_path, capsys):
    path = save_camera_info(CameraInfoFile("c", AWS_SIM.intrinsics), tmp_path / "c.yaml")
    assert cli(["camera", "profile", "--from-calibration", str(path), "--height-m", "-1", "--pitch-deg", "15",
                "--out", str(tmp_path / "p.yaml")]) == 2
    assert "mount.height_m must be positive" in capsys.readouterr().err and not (tmp_path / "p.yaml").exists()
    assert cli(["camera", "profile", "--from-calibration", str(tmp_path / "none.yaml"), "--height-m", "0.1",
                "--pitch-deg", "15", "--out", str(tmp_path / "p.yaml")]) == 2
    assert "none.yaml: camera calibration file not found" in capsys.readouterr().err


def test_list_shows_the_builtins(capsys):
    assert cli(["camera", "list", "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)) == set(BUILTIN_PROFILES) == {"aws-sim", "car"}
    assert cli(["camera", "list"]) == 0
    assert "HFOV 64.7°" in capsys.readouterr().out

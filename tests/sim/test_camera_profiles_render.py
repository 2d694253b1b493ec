"""The simulator's camera renders through a camera profile: the lens as OpenCV models it, the
profile's grayscale formula, anti-aliased borders, the wall around the track, randomisation
around the profile, and the profile reaching training, evaluation and sim_node."""

from __future__ import annotations

import math
import tarfile
from dataclasses import replace

import cv2
import numpy as np
import pytest

from deepracer.camera_profile import (
    AWS_SIM,
    CAR,
    CameraProfile,
    DistortionModel,
    GrayFormula,
    Intrinsics,
    Mount,
)
from deepracer.errors import ConfigError
from deepracer.paths import REPO_ROOT
from deepracer.sim import SimConfig, Simulator
from deepracer.sim.camera import Appearance, CameraModel, CameraPose, randomize_pose

FLAT = Appearance(texture_noise=0.0, road_grain=0.0)
FISHEYE = CameraProfile("fish", Intrinsics(640, 480, 235.0, 233.0, 322.0, 241.0, DistortionModel.EQUIDISTANT,
                                           (-0.03, 0.01, -0.004, 0.0005)), mount=Mount(0.2, 0.115, 12.0))
DISTORTED = CameraProfile("barrel", Intrinsics(640, 480, 520.0, 515.0, 322.0, 235.6, DistortionModel.PLUMB_BOB,
                                               (-0.28, 0.09, 0.0006, -0.0005, 0.0)), mount=Mount(0.15, 0.1, 20.0))


def ground_pixels(profile: CameraProfile) -> tuple[np.ndarray, np.ndarray, CameraModel]:
    """The simulator's ground points of a profile's camera, back in the camera frame, and the pixels."""
    cam = CameraModel(profile.output_width, profile.output_height, CameraPose.from_profile(profile))
    m = profile.mount
    near = np.hypot(cam.gx - m.forward_m, cam.gy) < 11.9  # beyond max_range_m the points are pulled in
    x, y = cam.gx - m.forward_m, cam.gy  # car frame from the lens; z = -height
    th = math.radians(m.pitch_deg)
    z = np.full_like(x, -m.height_m)
    # car (x fwd, y left, z up) -> camera (x right, y down, z forward), pitched down by th
    pts = np.stack([-y, -x * math.sin(th) - z * math.cos(th), x * math.cos(th) - z * math.sin(th)], axis=1)
    v, u = np.mgrid[cam.first_row:profile.output_height, 0:profile.output_width]
    return pts[near], np.stack([u.ravel(), v.ravel()], axis=1)[near].astype(float), cam


@pytest.mark.parametrize("profile", [AWS_SIM, CAR, FISHEYE, DISTORTED], ids=lambda p: p.name)
def test_every_ground_pixel_sees_where_opencv_projects_its_ground_point(profile):
    pts, pixels, cam = ground_pixels(profile)
    # OpenCV's fisheye model takes theta = atan(r / z): it is defined in front of the lens only
    # (the fisheye's image corners look more than 90° off its axis; there theta continues)
    front = pts[:, 2] > 0.05
    pts, pixels = pts[front], pixels[front]
    assert len(pts) > 3000
    lens = profile.output_intrinsics
    if lens.distortion_model.is_fisheye:
        img, _ = cv2.fisheye.projectPoints(pts.reshape(-1, 1, 3), np.zeros(3), np.zeros(3), lens.matrix, lens.dist)
    else:
        img, _ = cv2.projectPoints(pts, np.zeros(3), np.zeros(3), lens.matrix, lens.dist)
    np.testing.assert_allclose(img.reshape(-1, 2), pixels, atol=1e-3)


def test_aws_sim_sees_a_narrower_view_with_the_horizon_higher_than_car():
    aws = CameraModel(160, 120, CameraPose.from_profile(AWS_SIM))
    car = CameraModel(160, 120, CameraPose.from_profile(CAR))
    # 64.7° vs 120°: the bottom corner's ground point is seen at a far smaller angle off the axis
    def corner_angle(cam: CameraModel, forward: float) -> float:
        return math.degrees(math.atan2(abs(cam.gy[-1]), cam.gx[-1] - forward))

    assert corner_angle(aws, AWS_SIM.mount.forward_m) < 0.6 * corner_angle(car, CAR.mount.forward_m)  # 37° vs 70°
    # horizon 15° down with VFOV 50.9° (aws) vs 104.8° (car): rows above the horizon
    assert aws.first_row == pytest.approx(60 - 60 * math.tan(math.radians(15)) / math.tan(math.radians(50.9 / 2)), abs=1)
    assert car.first_row == pytest.approx(60 - 60 * math.tan(math.radians(15)) / math.tan(math.radians(104.48 / 2)), abs=1)


@pytest.mark.parametrize("formula", list(GrayFormula))
def test_grey_frames_follow_the_profiles_grayscale_formula(formula):
    bgr = (203, 61, 140)  # one colour where the two formulas (and rounding vs truncation) differ
    sky = Appearance(sky_top=bgr, sky_horizon=bgr)
    pose = replace(CameraPose.from_profile(AWS_SIM), grayscale=formula)
    sim = Simulator(SimConfig(track="oval", appearance=sky, camera=pose))
    b, g, r = bgr
    if formula is GrayFormula.RL_COACH:  # DeepRacer's rl_coach: Y = 0.2989 R + 0.5870 G + 0.1140 B, truncated
        want = int(0.2989 * r + 0.5870 * g + 0.1140 * b)
    else:  # cv2.cvtColor BGR2GRAY
        want = int(cv2.cvtColor(np.array([[bgr]], np.uint8), cv2.COLOR_BGR2GRAY)[0, 0])
    assert sim.render()[0, 80] == want
    assert AWS_SIM.grayscale is GrayFormula.RL_COACH and CAR.grayscale is GrayFormula.OPENCV


def on_straight(**cfg) -> Simulator:
    sim = Simulator(SimConfig(track="oval", appearance=FLAT, **cfg))
    sim.reset(0)
    x, y, heading = sim.track.point_at(0.5)
    sim.vehicle.reset(x, y, heading + 0.12)  # the border lines cross the view at a slant
    return sim


def test_border_lines_are_anti_aliased_not_stair_stepped():
    sim = on_straight()
    frame = sim.render().astype(int)
    road, line = FLAT.road[0], FLAT.border[0]  # grey palette values are exact for grey colours
    near = frame[sim.renderer.first_row + 20:]
    between = (near > road + 15) & (near < line - 15)
    line_px = near >= line - 15
    # a one-cell-per-pixel renderer gives only the two values; graded edges give in-between pixels
    # along every border line (about one per row and line)
    assert line_px.sum() > 50
    assert between.sum() > 0.5 * near.shape[0]


def test_a_wall_stands_beyond_the_track_up_to_the_horizon():
    wall = (150, 150, 140)
    app = replace(FLAT, wall=wall, background=(20, 20, 20), sky_top=(250, 250, 250), sky_horizon=(250, 250, 250))
    sim = Simulator(SimConfig(track="oval", appearance=app))
    sim.reset(0)
    x, y, heading = sim.track.point_at(0.5)
    sim.vehicle.reset(x, y, heading - math.pi / 2)  # looking out of the oval, across the floor
    frame = sim.render()
    r0 = sim.renderer.first_row
    grey = int(round(0.114 * wall[0] + 0.587 * wall[1] + 0.299 * wall[2]))
    assert np.all(frame[:r0] == 250)  # the sky above the horizon
    assert abs(int(np.median(frame[r0 + 1, 40:120])) - grey) <= 2  # just below it: the wall
    open_floor = Simulator(SimConfig(track="oval", appearance=replace(app, walls=False)))
    open_floor.vehicle.reset(x, y, heading - math.pi / 2)
    assert abs(int(np.median(open_floor.render()[r0 + 1, 40:120])) - 20) <= 3  # the floor to the horizon


def test_randomisation_varies_the_lens_around_the_profile():
    base = CameraPose.from_profile(AWS_SIM)
    rng = np.random.default_rng(0)
    poses = [randomize_pose(rng, base) for _ in range(300)]
    hfov = np.array([p.hfov_deg for p in poses])
    assert abs(hfov.mean() - AWS_SIM.field_of_view.horizontal_deg) < 0.6  # around 64.7°, not 120°
    assert 2.0 < hfov.std() < 4.0
    for p in poses[:5]:  # the jittered intrinsics have exactly the jittered field of view
        assert p.intrinsics.field_of_view().horizontal_deg == pytest.approx(p.hfov_deg, abs=1e-6)
        assert p.profile == "aws-sim"
    sim = Simulator(SimConfig(track="oval", randomize=True, seed=4, camera=base))
    assert sim.renderer.pose.intrinsics is not None and sim.renderer.pose.hfov_deg != base.hfov_deg
    assert abs(sim.renderer.pose.hfov_deg - 64.7) < 15


def test_env_renders_through_the_profile_its_metadata_records():
    from deepracer.model.metadata import ModelMetadata
    from deepracer.sim import DeepRacerEnv

    meta = ModelMetadata.from_dict({"action_space_type": "discrete",
                                    "action_space": [{"steering_angle": 0, "speed": 1}],
                                    "camera_profile": AWS_SIM.to_dict()})
    env = DeepRacerEnv(track="oval", metadata=meta, randomize=False)
    assert env.sim.renderer.pose.profile == "aws-sim"
    assert env.observation_space.shape == (120, 160, 1)


def test_training_records_the_profile_and_a_bad_one_is_named(tmp_path):
    from deepracer.train.trainer import TrainConfig, load_inputs

    _, _, meta = load_inputs(TrainConfig(out=tmp_path, camera_profile="aws-sim"))
    assert meta.camera_profile == AWS_SIM
    assert "camera_profile" in meta.to_dict()
    with pytest.raises(ConfigError, match="unknown camera profile 'nope'"):
        load_inputs(TrainConfig(out=tmp_path, camera_profile="nope"))


def test_sim_node_params_take_a_profile():
    from deepracer.node_params import SimNodeParams

    assert SimNodeParams(camera_profile="aws-sim").sim_config("oval").camera.profile == "aws-sim"
    assert SimNodeParams().sim_config("oval").camera.profile == ""  # the default: `car`'s ideal lens
    with pytest.raises(ConfigError, match="unknown camera profile"):
        SimNodeParams(camera_profile="wide-angle")


def test_evaluation_uses_the_models_recorded_profile_by_default(tmp_path):
    from deepracer.analysis.evaluation import evaluate
    from deepracer.model.package import record_camera_profile

    folder = tmp_path / "pkg"
    folder.mkdir()
    with tarfile.open(REPO_ROOT / "models" / "deepracer-default.tar.gz") as tar:
        tar.extractall(folder, filter="data")
    record_camera_profile(folder, AWS_SIM)
    recorded = evaluate(folder, track="oval", trials=1)
    assert recorded.camera_profile == "aws-sim" and recorded.to_json()["camera_profile"] == "aws-sim"
    overridden = evaluate(folder, track="oval", trials=1, camera_profile="car")
    assert overridden.camera_profile == "car"
    # the frames differ, so the drive does too
    assert [s.x for _, s, _ in recorded.samples[:40]] != [s.x for _, s, _ in overridden.samples[:40]]
    assert evaluate(REPO_ROOT / "models" / "deepracer-default.tar.gz", track="oval", trials=1).camera_profile == "car"


@pytest.mark.integration
def test_through_ros_sim_node_renders_through_the_profile_as_the_direct_evaluation():
    from deepracer.analysis.evaluation import evaluate
    from deepracer_nodes.sim_runner import drive_evaluation

    model = REPO_ROOT / "models" / "deepracer-default.tar.gz"
    direct = evaluate(model, track="oval", trials=1, camera_profile="aws-sim")
    graph = evaluate(model, track="oval", trials=1, camera_profile="aws-sim", through_ros=True,
                     ros_driver=drive_evaluation)
    default = evaluate(model, track="oval", trials=1)
    assert graph.camera_profile == "aws-sim"
    assert graph.trials[0].lap_time_s == pytest.approx(direct.trials[0].lap_time_s, abs=0.07)
    assert direct.trials[0].lap_time_s != pytest.approx(default.trials[0].lap_time_s, abs=0.07)  # another view

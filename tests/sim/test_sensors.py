"""Objects in the camera (perspective, occlusion), stereo cameras, the LiDAR and the sensor list."""

from __future__ import annotations

import math

import numpy as np
import pytest

from deepracer.errors import ModelPackageError
from deepracer.model.metadata import Action, ModelMetadata
from deepracer.sim import SimConfig, Simulator
from deepracer.sim.env import DeepRacerEnv
from deepracer.sim.objects import Lane, ObjectKind, ObstacleConfig, RaceType, TrackObject
from deepracer.sim.sensors import (
    LIDAR_BEAMS,
    Sensor,
    lidar_observation,
    parse_sensors,
    require_sensors,
)


def straight_sim(positions, grayscale=True) -> Simulator:
    """The oval's bottom straight runs along +x from waypoint 0."""
    sim = Simulator(SimConfig(track="oval", grayscale=grayscale, race_type=RaceType.OBJECT_AVOIDANCE,
                              obstacles=ObstacleConfig(positions=positions)))
    sim.reset(0, lateral_m=1e-6)
    return sim


def box_pixels(frame_with: np.ndarray, frame_without: np.ndarray) -> np.ndarray:
    return np.argwhere(np.abs(frame_with.astype(int) - frame_without.astype(int)) > 8)


def test_a_box_ahead_is_drawn_with_perspective_and_hides_the_road():
    length = Simulator(SimConfig(track="oval")).track.length_m
    near = straight_sim(((1.5 / length * 100, Lane.INNER),))
    far = straight_sim(((3.0 / length * 100, Lane.INNER),))
    plain = Simulator(SimConfig(track="oval"))
    plain.reset(0, lateral_m=1e-6)
    empty = plain.render()
    px_near, px_far = box_pixels(near.render(), empty), box_pixels(far.render(), empty)
    assert len(px_near) > 2.5 * len(px_far) > 0  # twice as far: about a quarter of the area
    # the inner lane is left of the car: the box is in the left half, the far one nearer the middle
    w = empty.shape[1]
    assert px_near[:, 1].mean() < w / 2 and px_far[:, 1].mean() < w / 2
    assert px_far[:, 1].mean() > px_near[:, 1].mean()
    # it stands on the road and rises above the horizon line of the far road: rows above its base
    assert px_near[:, 0].min() < px_far[:, 0].min() <= px_far[:, 0].max() < px_near[:, 0].max()
    # a solid colour: the road's texture and centre line behind it are gone
    frame = near.render()
    rows, cols = px_near[:, 0], px_near[:, 1]
    core = frame[rows.min() + 3: rows.max() - 2, cols.min() + 3: cols.max() - 2]
    assert core.size and np.unique(core).size <= 4  # a few shaded faces, no texture


def test_near_objects_hide_far_ones():
    length = Simulator(SimConfig(track="oval")).track.length_m
    near = straight_sim(((1.2 / length * 100, Lane.INNER),))
    both = straight_sim(((1.2 / length * 100, Lane.INNER), (2.4 / length * 100, Lane.INNER)))
    # from the boxes' lane the far box, right behind the near one, is inside its outline:
    # the frame with both is the frame with the near one alone
    lane = near.objects.items[0].lateral
    near.reset(0, lateral_m=lane)
    both.reset(0, lateral_m=lane)
    assert np.array_equal(both.render(), near.render())
    # seen from the other lane, both show
    near.reset(0, lateral_m=-0.19)
    both.reset(0, lateral_m=-0.19)
    assert not np.array_equal(both.render(), near.render())


def test_objects_in_colour_and_in_the_top_down_view():
    sim = straight_sim(((8.0, Lane.INNER),), grayscale=False)
    frame = sim.render()
    assert frame.ndim == 3
    img = sim.top_down(400)
    plain = Simulator(SimConfig(track="oval")).top_down(400)
    assert (np.abs(img.astype(int) - plain.astype(int)).sum(axis=2) > 30).sum() > 20


def test_stereo_cameras_see_the_box_with_disparity():
    length = Simulator(SimConfig(track="oval")).track.length_m
    sim = straight_sim(((1.5 / length * 100, Lane.INNER),))
    stereo = sim.render_stereo()
    assert stereo.shape == (120, 160, 2) and stereo.dtype == np.uint8
    plain = Simulator(SimConfig(track="oval"))
    plain.reset(0, lateral_m=1e-6)
    ps = plain.render_stereo()
    left, right = box_pixels(stereo[:, :, 0], ps[:, :, 0]), box_pixels(stereo[:, :, 1], ps[:, :, 1])
    # the left camera sees the box further right than the right camera does
    assert left[:, 1].mean() > right[:, 1].mean() + 1.0


def test_lidar_sees_a_box_at_its_distance_and_scans_at_10_hz():
    sim = straight_sim(((3.0, Lane.INNER),))
    box = sim.objects.items[0]
    empty = Simulator(SimConfig(track="oval"))
    assert np.all(np.isinf(empty.lidar_scan())) and empty.lidar_scan().shape == (LIDAR_BEAMS,)
    r = sim.lidar_scan()
    hit = np.flatnonzero(np.isfinite(r))
    assert hit.size >= 2
    mount_x = sim.state.x + 0.111
    nearest_face = math.hypot(box.x - 0.25 - mount_x, box.y - 0.2 - sim.state.y)
    assert r[hit].min() == pytest.approx(nearest_face, abs=0.06)
    # beam 0 is 150° from the rear, counter-clockwise: 30° left of straight ahead, where the box is
    assert hit.min() < 10
    first = r.copy()
    sim.step(0.0, 0.0)  # 1/15 s later: no new scan yet (10 Hz)
    assert np.array_equal(sim.lidar_scan(), first)
    sim.step(0.0, 0.0)
    assert not np.array_equal(sim.lidar_scan(), first)  # a new scan, new noise


def test_lidar_observations_as_deepracer_makes_them():
    r = np.full(64, np.inf, np.float32)
    r[10], r[20], r[40] = 0.3, 0.7, 5.0
    lid = lidar_observation(r, Sensor.LIDAR)
    assert lid.shape == (64,) and lid.max() == 1.0 and lid[10] == pytest.approx(0.3) and lid[40] == 1.0
    sec = lidar_observation(r, Sensor.SECTOR_LIDAR)
    assert sec.tolist() == [0, 1, 0, 0, 0, 0, 0, 0]  # only beam 10 (sector 1) is within 0.5 m
    disc = lidar_observation(r, Sensor.DISCRETIZED_SECTOR_LIDAR)
    assert disc.shape == (64,) and disc.sum() == 2  # sectors 1 and 2 within the 2 m clip
    assert disc.reshape(8, 8)[1, 1] == 1 and disc.reshape(8, 8)[2, 2] == 1


def test_sensor_lists_follow_deepracer_and_missing_sensors_are_refused_by_name():
    assert parse_sensors(["FRONT_FACING_CAMERA", "SECTOR_LIDAR"]) == [Sensor.FRONT_FACING_CAMERA, Sensor.SECTOR_LIDAR]
    assert parse_sensors([]) == [Sensor.FRONT_FACING_CAMERA]
    with pytest.raises(ModelPackageError, match="exactly one camera"):
        parse_sensors(["FRONT_FACING_CAMERA", "STEREO_CAMERAS"])
    with pytest.raises(ModelPackageError, match="at most one LiDAR"):
        parse_sensors(["FRONT_FACING_CAMERA", "LIDAR", "SECTOR_LIDAR"])
    with pytest.raises(ModelPackageError, match="unknown sensor 'RADAR'"):
        parse_sensors(["RADAR"])
    require_sensors(["observation"], ["FRONT_FACING_CAMERA"])
    with pytest.raises(ModelPackageError, match="needs SECTOR_LIDAR"):
        require_sensors(["FRONT_FACING_CAMERA", "SECTOR_LIDAR"], ["FRONT_FACING_CAMERA"], "model x")
    with pytest.raises(ModelPackageError, match="needs STEREO_CAMERAS"):
        require_sensors(["STEREO_CAMERAS"], ["FRONT_FACING_CAMERA"])
    require_sensors(["STEREO_CAMERAS", "LIDAR"], ["STEREO_CAMERAS", "LIDAR"])


def test_env_observations_follow_the_models_sensors():
    from gymnasium.utils.env_checker import check_env

    acts = [Action(-15.0, 1.0), Action(0.0, 1.0), Action(15.0, 1.0)]
    cfg = SimConfig(race_type=RaceType.OBJECT_AVOIDANCE)
    stereo = DeepRacerEnv(track="oval", metadata=ModelMetadata("discrete", acts, sensor=["STEREO_CAMERAS"]),
                          randomize=False, sim_config=cfg)
    obs, _ = stereo.reset(seed=0)
    assert obs.shape == (120, 160, 2)
    lidar = DeepRacerEnv(track="oval", metadata=ModelMetadata("discrete", acts,
                                                              sensor=["FRONT_FACING_CAMERA", "SECTOR_LIDAR"]),
                         randomize=False, sim_config=cfg)
    obs, _ = lidar.reset(seed=0)
    assert obs["camera"].shape == (120, 160, 1) and obs["lidar"].shape == (8,)
    check_env(lidar, skip_render_check=True)


def test_trainer_takes_the_sensor_list_and_refuses_what_it_cannot_train_by_name(tmp_path):
    import json

    from deepracer.errors import ConfigError
    from deepracer.train.trainer import TrainConfig, load_inputs

    meta = tmp_path / "model_metadata.json"
    meta.write_text(json.dumps({"action_space": [{"steering_angle": 0, "speed": 1}],
                                "sensor": ["FRONT_FACING_CAMERA", "LIDAR"]}))
    _, _, metadata = load_inputs(TrainConfig(out=tmp_path / "out", action_space=meta))
    assert metadata.sensor == ["FRONT_FACING_CAMERA", "LIDAR"]
    _, _, metadata = load_inputs(TrainConfig(out=tmp_path / "out", action_space=meta, sensor=["STEREO_CAMERAS"]))
    assert metadata.sensor == ["STEREO_CAMERAS"]  # --sensor overrides the file's list
    with pytest.raises(ModelPackageError, match="unknown sensor .RADAR."):
        load_inputs(TrainConfig(out=tmp_path / "out", action_space=meta, sensor=["RADAR"]))
    with pytest.raises(ConfigError, match="frame stacking is for front-camera models"):
        load_inputs(TrainConfig(out=tmp_path / "out", action_space=meta, extra_hyperparameters={"stack_size": 2}))


def test_a_car_object_is_drawn_as_a_car():
    sim = Simulator(SimConfig(track="oval"))
    sim.reset(0, lateral_m=1e-6)
    empty = sim.render().copy()
    x, y, yaw = sim.state.x + 1.2, sim.state.y, sim.state.yaw
    car = TrackObject(ObjectKind.CAR, 1.2, 0.0, x=x, y=y, yaw=yaw, length=0.32, width=0.2)
    frame = empty.copy()
    sim.renderer.draw_objects(frame, sim.state.x, sim.state.y, sim.state.yaw, [car])
    px = box_pixels(frame, empty)
    assert len(px) > 50 and abs(px[:, 1].mean() - 80) < 4  # straight ahead, centred


def test_a_model_needing_a_lidar_is_refused_by_the_policy_runner_by_name(tmp_path):
    import json

    from deepracer.model.policy import OnnxPolicy
    from deepracer.model.reference_net import make_reference_package

    pkg = make_reference_package(tmp_path / "ref")
    OnnxPolicy(pkg)  # a front-camera model runs
    meta = tmp_path / "ref" / "model_metadata.json"
    data = json.loads(meta.read_text())
    data["sensor"] = ["FRONT_FACING_CAMERA", "SECTOR_LIDAR"]
    meta.write_text(json.dumps(data))
    # a package that claims a LiDAR but has no LiDAR input is not a package at all
    with pytest.raises(ModelPackageError, match="lists SECTOR_LIDAR but the model has no LiDAR input"):
        OnnxPolicy(tmp_path / "ref", sensors=["FRONT_FACING_CAMERA", "LIDAR"])
    # (real LiDAR models, refused by a car without one and run by one with it: tests/model/test_sensor_models.py)

"""Stereo and LiDAR model packages end to end: the trainer's exporter writes DeepRacer's inputs,
the package loader checks them, the policy runner feeds them and gives the SB3 policy's answer."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from deepracer.errors import ModelPackageError
from deepracer.model.package import check_model_package, load_model_package
from deepracer.model.policy import OnnxPolicy
from deepracer.model.preprocess import stereo_pair
from tests.sensor_models import sensor_model, write_sensor_package

STEREO = ["STEREO_CAMERAS"]
LIDAR = ["FRONT_FACING_CAMERA", "LIDAR"]
SECTOR = ["STEREO_CAMERAS", "SECTOR_LIDAR"]
PREFIX = "main_level/agent/main/online/network_0"


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    root = tmp_path_factory.mktemp("sensor-models")
    return {"+".join(s): write_sensor_package(s, root / "+".join(s)) for s in (STEREO, LIDAR, SECTOR)}


def test_packages_take_deepracers_inputs_by_deepracers_names(packages):
    stereo = load_model_package(packages["STEREO_CAMERAS"])
    assert stereo.onnx_input["name"] == f"{PREFIX}/STEREO_CAMERAS/STEREO_CAMERAS"
    assert stereo.onnx_input["shape"][1:] == [120, 160, 2] and stereo.lidar_spec is None
    lidar = load_model_package(packages["FRONT_FACING_CAMERA+LIDAR"])
    assert lidar.onnx_input["name"] == f"{PREFIX}/FRONT_FACING_CAMERA/FRONT_FACING_CAMERA"
    assert lidar.onnx_input["shape"][1:] == [120, 160, 1]
    assert lidar.lidar_spec.name == f"{PREFIX}/LIDAR/LIDAR" and lidar.lidar_spec.size == 64
    both = load_model_package(packages["STEREO_CAMERAS+SECTOR_LIDAR"])
    assert both.lidar_spec.sensor == "SECTOR_LIDAR" and both.lidar_spec.size == 8
    meta = json.loads((packages["FRONT_FACING_CAMERA+LIDAR"] / "model_metadata.json").read_text())
    assert meta["sensor"] == LIDAR and meta["onnx"]["lidar"]["size"] == 64


@pytest.mark.parametrize("sensor", [STEREO, LIDAR, SECTOR], ids="+".join)
def test_the_onnx_policy_gives_the_sb3_policys_probabilities(tmp_path, sensor):
    from deepracer.model.sensors import lidar_observation, lidar_sensor, parse_sensors

    model, env = sensor_model(sensor, seed=3)
    from deepracer.train.export import write_package

    write_package(model, env.model_metadata, tmp_path / "pkg", 1, "DEEPRACER_SMALL_CNN")
    policy = OnnxPolicy(tmp_path / "pkg", sensors=["STEREO_CAMERAS", "LIDAR"])
    lid = lidar_sensor(parse_sensors(sensor))
    obs, _ = env.reset(seed=0)
    for step in range(12):
        obs, *_ = env.step(1)
        if step % 4:
            continue
        camera = obs["camera"] if lid else obs
        ranges = env.sim.lidar_scan() if lid else None
        if lid:  # the env's observation is the policy runner's observation of the same scan
            np.testing.assert_array_equal(obs["lidar"], lidar_observation(ranges, lid))
        t, _ = model.policy.obs_to_tensor(obs)
        with torch.no_grad():
            expected = model.policy.get_distribution(t).distribution.probs.numpy().reshape(-1)
        got = policy.predict(camera, ranges)
        np.testing.assert_allclose(got.raw, expected, atol=1e-5)
        assert got.index == int(np.argmax(expected))


def test_a_stereo_pair_is_two_grey_images_left_then_right():
    left = np.full((480, 640, 3), 200, np.uint8)
    right = np.full((240, 320), 50, np.uint8)
    pair = stereo_pair(left, right)
    assert pair.shape == (480, 640, 2) and pair[0, 0, 0] == 200 and pair[0, 0, 1] == 50


def test_a_car_without_the_sensor_refuses_the_model_by_name_and_a_scan_is_required(packages):
    with pytest.raises(ModelPackageError, match="needs LIDAR, which this car has not got"):
        OnnxPolicy(packages["FRONT_FACING_CAMERA+LIDAR"])  # the stock car: a front camera only
    with pytest.raises(ModelPackageError, match="needs STEREO_CAMERAS, which this car has not got"):
        OnnxPolicy(packages["STEREO_CAMERAS"], sensors=["FRONT_FACING_CAMERA", "LIDAR"])
    policy = OnnxPolicy(packages["FRONT_FACING_CAMERA+LIDAR"], sensors=["FRONT_FACING_CAMERA", "LIDAR"])
    frame = np.zeros((120, 160), np.uint8)
    with pytest.raises(ValueError, match="needs a LIDAR scan"):
        policy.predict(frame)
    d = policy.predict(frame, np.full(64, np.inf))  # nothing in reach: inf, as a LaserScan says
    assert np.isclose(d.raw.sum(), 1.0)
    stereo = OnnxPolicy(packages["STEREO_CAMERAS"], sensors=["STEREO_CAMERAS"])
    with pytest.raises(ValueError, match="HxWx2"):
        stereo.predict(frame)
    assert stereo.predict(stereo_pair(frame, frame)).index is not None


def test_model_check_names_a_lidar_input_that_does_not_fit(packages, tmp_path):
    pkg = shutil.copytree(packages["FRONT_FACING_CAMERA+LIDAR"], tmp_path / "bad")
    meta = json.loads((pkg / "model_metadata.json").read_text())
    meta["sensor"] = ["FRONT_FACING_CAMERA", "SECTOR_LIDAR"]
    meta["onnx"]["lidar"]["sensor"] = "SECTOR_LIDAR"
    meta["onnx"]["lidar"]["size"] = 8
    (pkg / "model_metadata.json").write_text(json.dumps(meta))
    problems = check_model_package(pkg)
    assert any("SECTOR_LIDAR gives 8 values" in p and "takes 64" in p for p in problems), problems
    meta["sensor"] = ["FRONT_FACING_CAMERA"]
    del meta["onnx"]["lidar"]
    (pkg / "model_metadata.json").write_text(json.dumps(meta))
    problems = check_model_package(pkg)
    assert any("fed by no sensor" in p and "LIDAR/LIDAR" in p for p in problems), problems
    out = subprocess.run([str(Path(sys.executable).with_name("deepracer")), "model", "check", str(packages["STEREO_CAMERAS+SECTOR_LIDAR"])],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "OK" in out.stdout


def test_evaluate_drives_a_lidar_model_past_obstacles_in_the_simulator(packages):
    from deepracer.analysis.evaluation import evaluate
    from deepracer.sim.objects import RaceConfig, RaceType

    result = evaluate(packages["STEREO_CAMERAS+SECTOR_LIDAR"], track="oval", trials=1, max_trial_seconds=4.0,
                      race=RaceConfig(RaceType.OBJECT_AVOIDANCE))
    assert len(result.trials) == 1 and result.trials[0].steps > 1


@pytest.mark.integration
def test_deepracer_train_with_sensor_trains_exports_and_checks(tmp_path):
    """`deepracer train --sensor STEREO_CAMERAS,LIDAR` on an object-avoidance track: a few hundred
    steps, the package it bundles takes DeepRacer's two inputs and passes `deepracer model check`."""
    exe = str(Path(sys.executable).with_name("deepracer"))
    hp = tmp_path / "hyperparameters.json"
    hp.write_text(json.dumps({"num_episodes_between_training": 2, "batch_size": 32}))
    out = subprocess.run([exe, "train", "--out", str(tmp_path / "run"), "--steps", "300", "--envs", "1",
                          "--track", "oval", "--max-steps", "80", "--hyperparameters", str(hp),
                          "--race-type", "object_avoidance", "--objects", "2",
                          "--sensor", "STEREO_CAMERAS,LIDAR", "--no-progress", "--json",
                          "--bundle", str(tmp_path / "stereo-lidar.tar.gz")],
                         capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
    assert out.returncode == 0, out.stderr[-2000:]
    package = load_model_package(tmp_path / "stereo-lidar.tar.gz")
    assert package.metadata.sensor == ["STEREO_CAMERAS", "LIDAR"]
    assert package.onnx_input["shape"][1:] == [120, 160, 2] and package.lidar_spec.size == 64
    check = subprocess.run([exe, "model", "check", str(tmp_path / "stereo-lidar.tar.gz")], capture_output=True,
                           text=True, timeout=120)
    assert check.returncode == 0 and "OK" in check.stdout
    bad = subprocess.run([exe, "train", "--out", str(tmp_path / "bad"), "--steps", "10", "--sensor", "LIDAR"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "exactly one camera" in bad.stderr

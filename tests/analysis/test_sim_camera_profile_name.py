"""`deepracer sim --json` names the camera profile sim_node rendered through."""

from __future__ import annotations

import argparse

from deepracer.camera_profile import resolve_profile
from deepracer.commands.sim import _camera_params, rendered_profile_name
from deepracer.model.package import record_camera_profile
from deepracer.model.reference_net import make_reference_package


def test_sim_names_the_models_recorded_profile_or_the_override(tmp_path):
    pkg = make_reference_package(tmp_path / "m", seed=1)
    record_camera_profile(pkg, resolve_profile("aws-sim"))
    recorded = argparse.Namespace(camera_profile=None, model=str(pkg))
    assert rendered_profile_name(_camera_params(recorded)) == "aws-sim"
    override = argparse.Namespace(camera_profile="car", model=str(pkg))
    assert rendered_profile_name(_camera_params(override)) == "car"
    assert rendered_profile_name(_camera_params(argparse.Namespace(camera_profile=None, model=None))) == "car"

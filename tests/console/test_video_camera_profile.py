"""The console's evaluation video re-renders the frames through the model's recorded camera profile."""

from __future__ import annotations

import json

from deepracer.camera_profile import resolve_profile
from deepracer.sim.camera import CameraPose
from deepracer_console.video import recorded_camera


def test_video_uses_the_recorded_profile_else_the_default(tmp_path):
    assert recorded_camera(tmp_path) is None  # no metadata copy: the simulator's default
    meta = tmp_path / "model" / "model_metadata.json"
    meta.parent.mkdir()
    meta.write_text(json.dumps({"action_space": []}), encoding="utf-8")
    assert recorded_camera(tmp_path) is None
    meta.write_text(json.dumps({"camera_profile": resolve_profile("aws-sim").to_dict()}), encoding="utf-8")
    camera = recorded_camera(tmp_path)
    assert camera == CameraPose.from_profile(resolve_profile("aws-sim"))
    assert camera != CameraPose()  # not the default `car` lens

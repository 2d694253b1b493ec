"""`python -m deepracer_console.video EVAL_DIR TRACK`: the video of an evaluation's trials.

Re-renders the car's camera at every pose of the evaluation simtrace (the simulator's renderer
is deterministic for a pose) beside the top-down view, as `deepracer sim --video` draws it,
into EVAL_DIR/video.webm (VP8: what browsers play without proprietary codecs; OpenCV's mp4v
is not playable in a browser). Runs as a process of the evaluation job, never in the server.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path
from typing import Any

MAX_FRAMES = 6000  # 400 s at 15 fps


def recorded_camera(eval_dir: Path) -> Any:
    """The CameraPose of the model's recorded camera profile (the copy of its model_metadata.json that
    `deepracer evaluate --out` writes), or None for the simulator's default (`car`)."""
    path = eval_dir / "model" / "model_metadata.json"
    if not path.is_file():
        return None
    block = json.loads(path.read_text(encoding="utf-8")).get("camera_profile")
    if not block:
        return None
    from deepracer.camera_profile import CameraProfile
    from deepracer.sim.camera import CameraPose

    return CameraPose.from_profile(CameraProfile.from_dict(block))


def render(eval_dir: Path, track_spec: str) -> Path:
    import cv2
    import numpy as np

    from deepracer.sim import SimConfig, Simulator
    from deepracer.sim.video import Pose, TopDown, side_by_side

    traces = sorted(eval_dir.glob("evaluation-*/evaluation-simtrace/*.csv"))
    if not traces:
        raise SystemExit(f"{eval_dir}: no evaluation simtrace to draw")
    camera = recorded_camera(eval_dir)  # the lens `deepracer evaluate` rendered the trials through
    sim = Simulator(SimConfig(track=track_spec, width=160, height=120, grayscale=True, randomize=False,
                              **({"camera": camera} if camera is not None else {})))
    top = TopDown(sim.track, height_px=240)
    out = eval_dir / "video.webm"
    tmp = eval_dir / "video.part.webm"
    writer = None
    trail: list[Pose] = []
    try:
        with traces[-1].open(newline="", encoding="utf-8") as f:
            for n, row in enumerate(csv.DictReader(f)):
                if n >= MAX_FRAMES:
                    break
                x, y, yaw = float(row["X"]), float(row["Y"]), math.radians(float(row["yaw"]))
                pose = Pose(x, y, yaw, float(row["throttle"]))
                trail = [*trail[-300:], pose]
                caption = f"trial {int(float(row['episode'])) + 1}  progress {float(row['progress']):.0f}%"
                image = side_by_side(sim.renderer.render(x, y, yaw), top.draw(pose, trail), caption)
                if writer is None:
                    size = (image.shape[1] - image.shape[1] % 2, image.shape[0] - image.shape[0] % 2)
                    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"VP80"), 15.0, size)
                    if not writer.isOpened():
                        raise SystemExit("OpenCV cannot write VP8 video here")
                writer.write(np.ascontiguousarray(image[: size[1], : size[0]]))
    finally:
        if writer is not None:
            writer.release()
    if writer is None:
        raise SystemExit(f"{traces[-1]}: the simtrace has no rows")
    tmp.replace(out)
    return out


if __name__ == "__main__":
    print(render(Path(sys.argv[1]), sys.argv[2]))

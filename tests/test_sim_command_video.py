"""What `deepracer sim` writes: the MP4 (camera | top-down) and the trajectory PNG."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from deepracer.errors import ConfigError
from deepracer.sim import load_track
from deepracer.sim.video import Pose, TopDown, write_trajectory_png, write_video


@pytest.fixture(scope="module")
def track():
    return load_track("oval")


def _poses(track, n: int) -> list[Pose]:
    pts = track.center[np.linspace(0, len(track.center) - 1, n).astype(int)]
    return [Pose(float(x), float(y), 0.0, 1.0 + i / n) for i, (x, y) in enumerate(pts)]


def test_top_down_puts_the_car_where_it_is(track):
    top = TopDown(track, height_px=240)
    x, y = track.center[0]
    img = top.draw(Pose(float(x), float(y), math.pi / 2))
    u, v = top.px([(x, y)])[0]
    assert img.shape[0] == 240 and 0 <= u < img.shape[1] and 0 <= v < img.shape[0]
    b, g, r = img[v - 3 : v + 4, u - 3 : u + 4].reshape(-1, 3).T
    assert (r > 200).any() and (b < 80).any()  # the red car marker is there
    corner = img[2, 2]
    assert tuple(corner) == (40, 110, 40)  # grass far from the track


def test_video_has_one_frame_per_camera_frame_side_by_side(track, tmp_path):
    poses = _poses(track, 12)
    frames = [np.full((120, 160), 30 + 10 * i, np.uint8) for i in range(12)]
    path = write_video(tmp_path / "v.mp4", track, frames, poses, fps=15.0, captions=[f"f{i}" for i in range(12)])
    cap = cv2.VideoCapture(str(path))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 12
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(15.0)
    ok, first = cap.read()
    cap.release()
    assert ok
    cam_w = 160 * first.shape[0] // 120  # the camera view, scaled to the top-down view's height
    assert first.shape[1] > cam_w + 100
    left = first[: first.shape[0] // 2, : cam_w - 4]  # above the caption
    assert abs(float(left.mean()) - 30) < 8  # the first camera frame, grey 30


def test_video_refuses_nothing_to_write_and_mismatched_poses(track, tmp_path):
    with pytest.raises(ConfigError, match="no camera frames"):
        write_video(tmp_path / "v.mp4", track, [], [], fps=15.0)
    with pytest.raises(ValueError, match="poses"):
        write_video(tmp_path / "v.mp4", track, [np.zeros((120, 160), np.uint8)], [], fps=15.0)


def test_trajectory_png(track, tmp_path):
    path = write_trajectory_png(tmp_path / "t.png", track, _poses(track, 50), "oval test")
    img = cv2.imread(str(path))
    assert img is not None and img.shape[0] > 300
    # the path is coloured by speed: viridis colours, not only the black/grey track lines
    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
    assert (hsv[..., 1] > 100).sum() > 500


def test_top_down_road_is_drawn_whichever_border_is_called_inner(track):
    from types import SimpleNamespace

    swapped = SimpleNamespace(inner=track.outer, outer=track.inner, center=track.center)
    for t in (track, swapped):
        top = TopDown(t, height_px=240)
        i = len(track.center) // 3
        u, v = top.px([(track.center[i] + track.inner[i]) / 2])[0]  # on the road, between the lines
        assert tuple(top.base[v, u]) == (70, 70, 70)  # road grey, not grass

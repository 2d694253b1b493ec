"""`deepracer calibrate camera` live: views of a board arriving on camera/image_raw (real rclpy)."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from board_views import PINHOLE, render_views

rclpy = pytest.importorskip("rclpy")
from builtin_interfaces.msg import Time  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

from deepracer.hardware import camera_calibration as cc  # noqa: E402
from deepracer_nodes.camera_calibration_capture import CameraFrames  # noqa: E402
from deepracer_nodes.image_conversion import to_image_msg  # noqa: E402

pytestmark = pytest.mark.ros
REPO = Path(__file__).resolve().parents[2]
_ns = itertools.count()


@pytest.fixture(scope="module")
def views():
    images, _ = render_views(PINHOLE, cc.Board(), 12, seed=11)
    return images


def image_msg(frame: np.ndarray) -> Image:
    return to_image_msg(frame, "mono8", Time(sec=1), "camera")


def test_frames_of_the_topic_feed_the_view_selector(ros_context, views):
    topic = f"/t_livecal_{next(_ns)}/camera/image_raw"
    probe = rclpy.create_node("probe", context=ros_context)
    pub = probe.create_publisher(Image, topic, 10)
    grabber = CameraFrames(topic, context=ros_context)
    try:
        deadline = time.monotonic() + 5
        while pub.get_subscription_count() < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        frames = grabber.frames(no_frame_timeout=5.0)
        capture = cc.LiveCapture(cc.Board(), target_views=3, max_motion_px=0)
        blank = np.full((480, 640), 100, np.uint8)
        for frame in (blank, views[0], views[0], views[6], views[11]):
            pub.publish(image_msg(frame))
            got = next(frames)
            np.testing.assert_array_equal(got, frame)
            capture.offer(got)
        assert capture.done and (capture.not_found, capture.too_close) == (1, 1)
        with pytest.raises(cc.CameraCalibrationError, match=f"no image on {topic} for 0.3 s: is camera_node running"):
            next(grabber.frames(no_frame_timeout=0.3))
    finally:
        grabber.close()
        probe.destroy_node()


@pytest.mark.integration  # a second process with rclpy
def test_calibrate_camera_live_end_to_end(ros_context, views, tmp_path):
    """The command as a user runs it, against a publisher of board views; it stops at --views."""
    topic = f"/t_livecal_{next(_ns)}/camera/image_raw"
    out, saved = tmp_path / "camera_info.yaml", tmp_path / "views"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "deepracer.cli", "calibrate", "camera", "--topic", topic, "--views", "10",
         "--min-views", "10", "--out", str(out), "--save-views", str(saved), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    probe = rclpy.create_node("probe", context=ros_context)
    pub = probe.create_publisher(Image, topic, 10)
    try:
        deadline = time.monotonic() + 60
        for frame in itertools.cycle(views):
            for _ in range(3):  # a board held still for a few frames, then moved
                if proc.poll() is not None or time.monotonic() > deadline:
                    break
                pub.publish(image_msg(frame))
                time.sleep(0.1)
            if proc.poll() is not None or time.monotonic() > deadline:
                break
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        probe.destroy_node()
    assert proc.returncode == 0, stderr
    summary = json.loads(stdout)
    assert summary["views"] == 10 and "view 10/10 taken" in stderr
    assert summary["fx"] == pytest.approx(PINHOLE.fx, rel=0.01) and summary["reprojection_error_px"] < 0.5
    assert cc.load_camera_info(out).intrinsics.fx == pytest.approx(summary["fx"])
    # the saved views calibrate to the same result
    files = cc.image_files(saved)
    assert len(files) == 10
    again, missing, size = cc.views_from_images(files, cc.Board())
    assert missing == [] and size == (640, 480)
    assert cc.calibrate(again, 640, 480, cc.Board()).info.intrinsics.fx == pytest.approx(summary["fx"], rel=1e-6)

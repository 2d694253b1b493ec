"""Camera sources: real files and folders (no mocks), conversion at the source, reconnect."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from deepracer.errors import ConfigError, HardwareError
from deepracer.hardware.camera import (
    Backoff,
    Camera,
    ImageFolderSource,
    SyntheticSource,
    V4L2Source,
    VideoFileSource,
    convert,
    open_source,
)

FAST = dict(fps=1000.0)  # files are paced like a camera; keep the tests quick


def fast_backoff() -> Backoff:
    return Backoff(initial=0.01, maximum=0.05)


def write_folder(folder, n=3, size=(64, 48)):
    folder.mkdir()
    for i in range(n):
        img = np.full((size[1], size[0], 3), 40 * (i + 1), np.uint8)
        cv2.imwrite(str(folder / f"frame_{i:03d}.png"), img)
    return folder


def write_video(path, n=5, size=(64, 48)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, size)
    assert writer.isOpened(), "OpenCV cannot write MJPG here"
    for i in range(n):
        writer.write(np.full((size[1], size[0], 3), 40 * (i + 1), np.uint8))
    writer.release()
    return path


def test_synthetic_is_deterministic_and_moves():
    a, b = SyntheticSource(640, 480), SyntheticSource(640, 480)
    frames_a = [a.read() for _ in range(3)]
    frames_b = [b.read() for _ in range(3)]
    for fa, fb in zip(frames_a, frames_b, strict=True):
        assert fa.shape == (480, 640, 3)
        np.testing.assert_array_equal(fa, fb)
    assert not np.array_equal(frames_a[0], frames_a[1])


@pytest.mark.parametrize("encoding, shape", [("mono8", (120, 160)), ("bgr8", (120, 160, 3))])
def test_camera_resizes_and_converts_at_the_source(encoding, shape):
    cam = Camera(SyntheticSource(640, 480), 160, 120, encoding, **FAST)
    frames = [cam.read() for _ in range(3)]
    assert [f.index for f in frames] == [0, 1, 2]
    assert all(f.image.shape == shape and f.image.dtype == np.uint8 and f.encoding == encoding for f in frames)
    assert frames[0].stamp_ns < frames[1].stamp_ns < frames[2].stamp_ns


def test_downscaling_averages_instead_of_aliasing():
    checker = (np.indices((480, 640)).sum(axis=0) % 2 * 255).astype(np.uint8)  # 1-px checkerboard
    out = convert(checker, 160, 120, "mono8")
    assert out.min() >= 120 and out.max() <= 135  # area averaging: uniform grey, no moire


def test_image_folder_is_sorted_and_loops(tmp_path):
    folder = write_folder(tmp_path / "imgs")
    cam = Camera(ImageFolderSource(folder, loop=True), 32, 24, "mono8", **FAST)
    values = [int(cam.read().image[0, 0]) for _ in range(4)]
    assert values == [40, 80, 120, 40]


def test_image_folder_without_loop_ends(tmp_path):
    cam = Camera(open_source(str(write_folder(tmp_path / "imgs", n=2)), loop=False), 32, 24, "mono8", **FAST)
    assert cam.read() is not None and cam.read() is not None
    assert cam.read() is None


def test_video_file_plays_and_loops(tmp_path):
    video = write_video(tmp_path / "clip.avi", n=3)
    cam = Camera(open_source(str(video)), 32, 24, "bgr8", **FAST)
    assert isinstance(cam.source, VideoFileSource)
    frames = [cam.read() for _ in range(5)]
    assert all(f is not None and f.image.shape == (24, 32, 3) for f in frames)
    # frame 3 is frame 0 again (MJPG is lossy: compare approximately)
    assert abs(int(frames[3].image.mean()) - int(frames[0].image.mean())) <= 3
    assert abs(int(frames[1].image.mean()) - int(frames[0].image.mean())) >= 20


def test_folder_that_disappears_and_returns_resumes(tmp_path):
    folder = write_folder(tmp_path / "imgs")
    moved = tmp_path / "unplugged"
    messages: list[str] = []
    cam = Camera(ImageFolderSource(folder), 32, 24, "mono8", backoff=fast_backoff(), on_status=messages.append, **FAST)
    assert cam.read() is not None
    folder.rename(moved)  # "unplug"
    replug = threading.Timer(0.3, moved.rename, args=(folder,))
    replug.start()
    try:
        frame = cam.read()  # blocks through the outage, then frames again
    finally:
        replug.join()
    assert frame is not None and frame.index == 1
    assert cam.reconnects == 1
    assert str(folder) in messages[0] and "retrying" in messages[0]
    assert messages[-1].endswith("frames again")
    assert len(messages) == 2, messages  # one message per outage, not one per retry


def test_video_missing_at_start_is_picked_up_when_it_appears(tmp_path):
    staged = write_video(tmp_path / "staged.avi")
    target = tmp_path / "cam.avi"
    messages: list[str] = []
    cam = Camera(open_source(str(target)), 32, 24, "mono8", backoff=fast_backoff(), on_status=messages.append, **FAST)
    plug = threading.Timer(0.2, staged.rename, args=(target,))
    plug.start()
    try:
        frame = cam.read()
    finally:
        plug.join()
    assert frame is not None
    assert "video file not found" in messages[0]


def test_bounded_retries_give_a_clear_error(tmp_path):
    cam = Camera(open_source(str(tmp_path / "nothing.mp4")), backoff=fast_backoff(), max_attempts=3)
    with pytest.raises(HardwareError, match=r"gave up after 3 attempts.*video file not found"):
        cam.read()


def test_backoff_doubles_and_is_capped():
    b = Backoff(initial=0.1, maximum=0.5)
    assert [b.next() for _ in range(5)] == pytest.approx([0.1, 0.2, 0.4, 0.5, 0.5])
    b.reset()
    assert b.next() == pytest.approx(0.1)


def test_unplugged_v4l2_camera_names_the_device(tmp_path):
    device = str(tmp_path / "video9")
    source = open_source(device)
    assert isinstance(source, V4L2Source)
    with pytest.raises(HardwareError, match="unplugged") as err:
        source.open()
    assert device in str(err.value)


def test_stop_interrupts_a_camera_waiting_for_its_device(tmp_path):
    stop = threading.Event()
    cam = Camera(open_source("/dev/deepracer-test-no-camera"), backoff=Backoff(0.05, 10.0), on_status=lambda m: None)
    threading.Timer(0.2, stop.set).start()
    assert cam.read(stop) is None


def test_device_strings():
    assert isinstance(open_source("0"), V4L2Source) and open_source("0").device == 0
    assert isinstance(open_source("/dev/video0"), V4L2Source)
    assert isinstance(open_source("synthetic"), SyntheticSource)
    assert isinstance(open_source("missing_dir/"), ImageFolderSource)
    with pytest.raises(ConfigError, match="device is empty"):
        open_source("")


def test_bad_output_settings_are_refused():
    with pytest.raises(ConfigError, match="encoding"):
        Camera(SyntheticSource(), encoding="yuv422")
    with pytest.raises(ConfigError, match="size"):
        Camera(SyntheticSource(), width=0)

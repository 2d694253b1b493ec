"""Chessboard calibration on views rendered through known cameras, refusals with reasons, and the
ROS camera_info YAML."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import yaml
from board_views import FISHEYE, PINHOLE, project, random_poses, render_views, write_views

from deepracer.camera_profile import DistortionModel, Intrinsics
from deepracer.cli import main as cli
from deepracer.hardware import camera_calibration as cc

BOARD = cc.Board()
REL_TOL = 0.01  # fx, fy, cx, cy within 1 % of the truth
MAX_RMS_PX = 0.5


@pytest.fixture(scope="module")
def pinhole_views():
    images, poses = render_views(PINHOLE, BOARD, 14, seed=3)
    return images, poses


@pytest.fixture(scope="module")
def fisheye_views():
    images, poses = render_views(FISHEYE, BOARD, 16, seed=0)
    return images, poses


@pytest.fixture(scope="module")
def fisheye_detected(fisheye_views):
    return detect(fisheye_views[0])


def detect(images):
    views, missing = [], []
    for i, img in enumerate(images):
        corners = cc.find_corners(img, BOARD)
        (views.append(cc.View(f"view_{i:02d}.png", corners)) if corners is not None else missing.append(i))
    return views, missing


def assert_recovers(result: cc.CalibrationResult, truth: Intrinsics) -> None:
    got = result.info.intrinsics
    for key in ("fx", "fy", "cx", "cy"):
        assert getattr(got, key) == pytest.approx(getattr(truth, key), rel=REL_TOL), key
    assert result.rms_px < MAX_RMS_PX
    assert got.distortion_model is truth.distortion_model


def test_detected_corners_are_where_the_camera_put_them(pinhole_views):
    images, poses = pinhole_views
    corners = cc.find_corners(images[0], BOARD)
    truth = project(PINHOLE, BOARD.object_points(), poses[0])
    if np.linalg.norm(corners[0] - truth[0]) > 5:  # the detector may start from the opposite corner
        corners = corners[::-1]
    assert np.abs(corners - truth).max() < 0.5


def test_pinhole_with_distortion_recovers_the_intrinsics(pinhole_views):
    views, missing = detect(pinhole_views[0])
    assert missing == []
    result = cc.calibrate(views, 640, 480, BOARD, cc.LensModel.PINHOLE)
    assert_recovers(result, PINHOLE)
    k1, k2 = result.info.intrinsics.coefficients[:2]
    assert (k1, k2) == (pytest.approx(PINHOLE.coefficients[0], abs=0.01), pytest.approx(PINHOLE.coefficients[1], abs=0.02))
    assert result.info.intrinsics.field_of_view().horizontal_deg == pytest.approx(
        PINHOLE.field_of_view().horizontal_deg, abs=0.5)
    assert len(result.per_view_px) == len(views) and all(e < 1.0 for _, e in result.per_view_px)


@pytest.fixture(scope="module")
def fisheye_detected_seed1():
    # views from which OpenCV's fisheye.calibrate, started as ROS starts it, runs off to a 160 px fit
    return detect(render_views(FISHEYE, BOARD, 16, seed=1)[0])


# rendering and searching 16 fisheye views takes 10-20 s on a busy machine: the integration tier
@pytest.mark.integration
@pytest.mark.parametrize("which", ["fisheye_detected", "fisheye_detected_seed1"])
def test_fisheye_recovers_the_intrinsics(which, request):
    views, missing = request.getfixturevalue(which)
    assert len(views) >= 10, f"board found in only {len(views)} fisheye views"
    result = cc.calibrate(views, 640, 480, BOARD, cc.LensModel.FISHEYE)
    assert_recovers(result, FISHEYE)
    assert result.info.distortion_model == "equidistant" and len(result.info.d) == 4
    assert result.info.intrinsics.field_of_view().horizontal_deg == pytest.approx(
        FISHEYE.field_of_view().horizontal_deg, abs=3.0)  # at the very edge: the polynomial extrapolated


@pytest.mark.integration
def test_a_fisheye_calibrated_as_a_pinhole_fits_worse(fisheye_detected):
    views, _ = fisheye_detected
    fish = cc.calibrate(views, 640, 480, BOARD, cc.LensModel.FISHEYE)
    pin = cc.calibrate(views, 640, 480, BOARD, cc.LensModel.PINHOLE, max_error_px=10)
    assert pin.rms_px > 3 * fish.rms_px


def test_too_few_views_are_refused_naming_the_images_without_a_board(tmp_path, pinhole_views):
    images = pinhole_views[0][:6]
    for i, img in enumerate(images):
        cv2.imwrite(str(tmp_path / f"board_{i}.png"), img)
    for name in ("wall.png", "floor.png"):
        cv2.imwrite(str(tmp_path / name), np.full((480, 640), 128, np.uint8))
    views, missing, size = cc.views_from_images(cc.image_files(tmp_path), BOARD)
    assert (len(views), sorted(missing), size) == (6, ["floor.png", "wall.png"], (640, 480))
    with pytest.raises(cc.CameraCalibrationError) as err:
        cc.calibrate(views, 640, 480, BOARD, not_found=missing)
    text = str(err.value)
    assert "only 6 view(s)" in text and "at least 10" in text and "wall.png" in text and "floor.png" in text


def test_a_bad_capture_is_refused_naming_the_worst_view(pinhole_views):
    views, _ = detect(pinhole_views[0])
    rng = np.random.default_rng(0)
    bad = cc.View("shaky.png", views[3].corners + rng.normal(0, 4.0, views[3].corners.shape))
    with pytest.raises(cc.CameraCalibrationError) as err:
        cc.calibrate(views[:3] + [bad] + views[4:], 640, 480, BOARD)
    assert "reprojection error" in str(err.value) and "Worst views: shaky.png" in str(err.value)


def test_unreadable_or_differently_sized_images_are_named(tmp_path, pinhole_views):
    cv2.imwrite(str(tmp_path / "a.png"), pinhole_views[0][0])
    cv2.imwrite(str(tmp_path / "b.png"), cv2.resize(pinhole_views[0][1], (320, 240)))
    with pytest.raises(cc.CameraCalibrationError, match=r"b\.png: image is 320x240 but the first one is 640x480"):
        cc.views_from_images(cc.image_files(tmp_path), BOARD)
    (tmp_path / "b.png").write_bytes(b"not a png")
    with pytest.raises(cc.CameraCalibrationError, match=r"b\.png: not an image"):
        cc.views_from_images(cc.image_files(tmp_path), BOARD)
    with pytest.raises(cc.CameraCalibrationError, match="image folder not found"):
        cc.image_files(tmp_path / "a.png")


def test_view_selector_keeps_distinct_views_and_refuses_repeats(pinhole_views):
    images = pinhole_views[0]
    capture = cc.LiveCapture(BOARD, target_views=4, max_motion_px=0)  # stillness: the next test
    blank = np.full((480, 640), 120, np.uint8)
    outcomes = [capture.offer(f) for f in (blank, images[0], images[0], images[5], images[5], images[10])]
    assert [k for k, _ in outcomes] == [False, True, False, True, False, True]
    assert outcomes[0][1] == "board not found" and "too close" in outcomes[2][1]
    assert (len(capture.views), capture.not_found, capture.too_close) == (3, 1, 2)
    assert not capture.done
    with pytest.raises(cc.CameraCalibrationError, match="changed size"):
        capture.offer(np.zeros((240, 320), np.uint8))


def test_live_capture_takes_a_view_only_of_a_board_held_still(pinhole_views):
    images = pinhole_views[0]
    nudged = np.roll(images[5], 1, axis=1)  # one pixel: hand tremor, still "still"
    capture = cc.LiveCapture(BOARD, target_views=5)
    frames = [images[0], images[0], images[0], images[5], images[5], nudged, images[10]]
    outcomes = [capture.offer(f) for f in frames]
    assert [k for k, _ in outcomes] == [False, True, False, False, True, False, False]
    assert outcomes[0][1] == "board found: hold it still"
    assert outcomes[3][1].startswith("board moving (") and outcomes[3][1].endswith("px since the last frame): hold it still")
    assert "too close" in outcomes[2][1] and "too close" in outcomes[5][1]  # still, but not new
    assert (len(capture.views), capture.moving, capture.too_close) == (2, 3, 2)


def test_board_options_are_checked():
    assert cc.parse_board_size("7x5") == (7, 5)
    for bad in ("7", "x5", "seven"):
        with pytest.raises(cc.CameraCalibrationError, match="COLSxROWS"):
            cc.parse_board_size(bad)
    with pytest.raises(cc.CameraCalibrationError, match="ambiguous"):
        cc.Board(6, 6)
    with pytest.raises(cc.CameraCalibrationError, match="positive"):
        cc.Board(9, 6, 0.0)


# -- the YAML ---------------------------------------------------------------------------------------

# As ROS 2's camera_calibration writes it (ost.yaml, image_pipeline's calibrator.py yaml()).
ROS_OST_YAML = """\
image_width: 640
image_height: 480
camera_name: narrow_stereo
camera_matrix:
  rows: 3
  cols: 3
  data: [503.12345, 0.00000, 318.56789, 0.00000, 504.98765, 241.43210, 0.00000, 0.00000, 1.00000]
distortion_model: plumb_bob
distortion_coefficients:
  rows: 1
  cols: 5
  data: [-0.271234, 0.071234, 0.000512, -0.000321, 0.000000]
rectification_matrix:
  rows: 3
  cols: 3
  data: [1.00000, 0.00000, 0.00000, 0.00000, 1.00000, 0.00000, 0.00000, 0.00000, 1.00000]
projection_matrix:
  rows: 3
  cols: 4
  data: [420.11111, 0.00000, 320.22222, 0.00000, 0.00000, 450.33333, 240.44444, 0.00000, 0.00000, 0.00000, 1.00000, 0.00000]
"""


def test_written_yaml_has_ros_camera_calibration_layout(pinhole_views, tmp_path):
    views, _ = detect(pinhole_views[0])
    info = cc.calibrate(views, 640, 480, BOARD).info
    path = cc.save_camera_info(info, tmp_path / "ost.yaml")
    ours, ros = yaml.safe_load(path.read_text()), yaml.safe_load(ROS_OST_YAML)
    assert list(ours) == list(ros) == list(cc.CAMERA_INFO_KEYS)  # same keys, same order
    for key, value in ros.items():
        if isinstance(value, dict):
            assert list(ours[key]) == ["rows", "cols", "data"]
            assert (ours[key]["rows"], ours[key]["cols"]) == (value["rows"], value["cols"])
            assert len(ours[key]["data"]) == len(value["data"])
            assert all(isinstance(x, float) for x in ours[key]["data"])  # never a bare 1e-05 string
        else:
            assert type(ours[key]) is type(value)
    again = cc.load_camera_info(path)
    assert again == info  # round trip, full precision
    assert (tmp_path / "ost.yaml.bak").exists() is False
    cc.save_camera_info(info, path)
    assert (tmp_path / "ost.yaml.bak").read_text() == path.read_text()  # the previous file is kept


def test_reads_the_file_ros_writes(tmp_path):
    (tmp_path / "ost.yaml").write_text(ROS_OST_YAML)
    info = cc.load_camera_info(tmp_path / "ost.yaml")
    i = info.intrinsics
    assert (info.camera_name, i.width, i.height, i.fx, i.cy) == ("narrow_stereo", 640, 480, 503.12345, 241.4321)
    assert i.distortion_model is DistortionModel.PLUMB_BOB and i.coefficients[0] == -0.271234
    assert info.p[0] == 420.11111


def test_scaling_to_the_published_size():
    info = cc.CameraInfoFile("c", Intrinsics(640, 480, 500.0, 498.0, 319.5, 239.5), projection=(
        480.0, 0.0, 321.5, 0.0, 0.0, 470.0, 241.5, 0.0, 0.0, 0.0, 1.0, 0.0))
    small = info.scaled(160, 120)
    i = small.intrinsics
    assert (i.width, i.height, i.fx, i.fy, i.cx, i.cy) == (160, 120, 125.0, 124.5, 79.5, 59.5)
    assert small.p[:3] == [120.0, 0.0, 321.5 / 4 - 0.375] and small.p[10] == 1.0
    assert small.d == info.d and small.r == info.r
    assert i.field_of_view() == pytest.approx(info.intrinsics.field_of_view(), abs=1e-9)  # same lens
    with pytest.raises(cc.CameraCalibrationError, match="aspect ratio"):
        info.scaled(160, 90)


@pytest.mark.parametrize("text, message", [
    ("image_width: 640\n", "image_height is missing"),
    ("- 1\n- 2\n", "must be a YAML mapping"),
    ("image_width: 640\nimage_height: 480\ncamera_matrix: {rows: 3, cols: 3, data: [500, 0, 320, 0, 500, 240, 0, 0, 1]}\n"
     "distortion_model: kannala\ndistortion_coefficients: {rows: 1, cols: 4, data: [0, 0, 0, 0]}\n",
     "distortion_model 'kannala' is not one of"),
    ("image_width: 640\nimage_height: 480\ncamera_matrix: {rows: 3, cols: 3, data: [500, 0, 320, 0, 500, 240, 0, 0, 1]}\n"
     "distortion_model: equidistant\ndistortion_coefficients: {rows: 1, cols: 5, data: [0, 0, 0, 0, 0]}\n",
     "equidistant has 4 coefficients, the file has 5"),
    ("image_width: 640\nimage_height: 480\ncamera_matrix: {rows: 3, cols: 3, data: [0, 0, 320, 0, 500, 240, 0, 0, 1]}\n"
     "distortion_coefficients: {rows: 1, cols: 5, data: [0, 0, 0, 0, 0]}\n", "fx and fy must be positive"),
    ("image_width: 640.5\nimage_height: 480\ncamera_matrix: {data: []}\ndistortion_coefficients: {data: []}\n",
     "image_width must be a whole number"),
    ("image_width: 640\nimage_height: [480\n", "invalid YAML at line 3"),
])
def test_bad_files_are_refused_naming_file_and_field(tmp_path, text, message):
    path = tmp_path / "camera_info.yaml"
    path.write_text(text)
    with pytest.raises(cc.CameraCalibrationError) as err:
        cc.load_camera_info(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_missing_file_and_urls(tmp_path):
    with pytest.raises(cc.CameraCalibrationError, match="not found .*deepracer calibrate camera"):
        cc.load_camera_info(tmp_path / "none.yaml")
    assert cc.camera_info_path(f"file://{tmp_path}/x.yaml") == tmp_path / "x.yaml"
    with pytest.raises(cc.CameraCalibrationError, match="only file://"):
        cc.camera_info_path("package://deepracer/config/cam.yaml")


# -- the command ------------------------------------------------------------------------------------


def test_calibrate_camera_command_from_images(tmp_path, capsys):
    folder = tmp_path / "views"
    write_views(folder, PINHOLE, BOARD, 12, seed=5)
    cv2.imwrite(str(folder / "zz_blank.png"), np.full((480, 640), 90, np.uint8))
    out = tmp_path / "camera_info.yaml"
    assert cli(["calibrate", "camera", "--images", str(folder), "--out", str(out), "--json"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["not_found"] == ["zz_blank.png"] and "zz_blank.png: board not found" in captured.err
    assert summary["views"] == 12 and summary["reprojection_error_px"] < MAX_RMS_PX
    assert summary["fx"] == pytest.approx(PINHOLE.fx, rel=REL_TOL)
    assert cc.load_camera_info(out).intrinsics.fx == pytest.approx(summary["fx"])


def test_calibrate_camera_command_refuses_with_the_reason(tmp_path, capsys):
    folder = tmp_path / "views"
    write_views(folder, PINHOLE, BOARD, 4, seed=6)
    out = tmp_path / "camera_info.yaml"
    assert cli(["calibrate", "camera", "--images", str(folder), "--out", str(out)]) == 2
    assert "only 4 view(s)" in capsys.readouterr().err and not out.exists()
    with pytest.raises(SystemExit) as exc:  # argparse: usage error
        cli(["calibrate", "camera", "--images", str(folder), "--board", "9by6"])
    assert exc.value.code == 2 and "COLSxROWS" in capsys.readouterr().err


def test_poses_used_by_the_tests_cover_the_image():
    poses = random_poses(PINHOLE, BOARD, 12, seed=3)
    centres = np.array([project(PINHOLE, BOARD.object_points(), p).mean(axis=0) for p in poses])
    assert np.ptp(centres[:, 0]) > 200 and np.ptp(centres[:, 1]) > 100  # views near the edges, not only the middle


def test_printable_board_is_detected_and_prints_at_true_size(tmp_path, capsys):
    import struct

    path = tmp_path / "board.png"
    assert cli(["camera", "board", "--out", str(path), "--dpi", "200"]) == 0
    assert "275 x 200 mm" in capsys.readouterr().out
    data = path.read_bytes()
    i = data.index(b"pHYs")
    ppm_x, ppm_y, unit = struct.unpack(">IIB", data[i + 4 : i + 13])
    assert (ppm_x, ppm_y, unit) == (round(200 / 0.0254),) * 2 + (1,)  # pixels per metre
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    assert np.abs(np.array(image.shape) - np.array([0.2, 0.275]) / 0.0254 * 200).max() <= 1.0  # 275 x 200 mm
    corners = cc.find_corners(image, BOARD)
    assert corners is not None and len(corners) == 54
    spacing_px = np.linalg.norm(corners[1] - corners[0])
    assert spacing_px == pytest.approx(0.025 / 0.0254 * 200, abs=0.5)  # 25 mm squares


def test_calibrate_camera_live_from_a_device_without_ros(tmp_path, capsys):
    """--device takes frames through the camera layer (here an image folder played once, like a camera)."""
    folder = tmp_path / "camera"
    paths = write_views(folder, PINHOLE, BOARD, 12, seed=7)
    for p in paths:  # each view in two frames: a board held still
        (folder / f"{p.stem}_still.png").write_bytes(p.read_bytes())
    for p in paths[:3]:  # and a third frame: the same view again, refused as too close
        (folder / f"{p.stem}_still_again.png").write_bytes(p.read_bytes())
    out = tmp_path / "camera_info.yaml"
    assert cli(["calibrate", "camera", "--device", str(folder) + "/", "--views", "12", "--min-views", "10",
                "--out", str(out), "--json"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert 10 <= summary["views"] <= 12 and "capturing from image folder" in captured.err
    assert summary["fx"] == pytest.approx(PINHOLE.fx, rel=REL_TOL) and out.exists()


# -- ChArUco ----------------------------------------------------------------------------------------

CHARUCO = cc.Board(kind=cc.BoardKind.CHARUCO)


@pytest.mark.integration
def test_charuco_partial_views_calibrate_a_fisheye():
    images, poses = render_views(FISHEYE, CHARUCO, 14, seed=0)
    views = []
    for i, img in enumerate(images):
        found = cc.detect_board(img, CHARUCO)
        if found is not None:
            corners, ids = found
            truth = project(FISHEYE, CHARUCO.object_points()[ids], poses[i])
            assert np.abs(corners - truth).max() < 2.0  # every corner is the board corner it claims to be
            views.append(cc.View(f"view_{i:02d}.png", corners, ids))
    assert len(views) >= 10
    assert any(len(v.ids) < CHARUCO.n_corners for v in views)  # partial views near the edges count too
    result = cc.calibrate(views, 640, 480, CHARUCO, cc.LensModel.FISHEYE)
    assert_recovers(result, FISHEYE)


def test_charuco_board_with_half_hidden_is_still_a_view(tmp_path, capsys):
    path = tmp_path / "charuco.png"
    assert cli(["camera", "board", "--board-type", "charuco", "--out", str(path), "--dpi", "100"]) == 0
    assert "ChArUco" in capsys.readouterr().out
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    whole = cc.detect_board(image, CHARUCO)
    assert whole is not None and sorted(whole[1].tolist()) == list(range(54))
    image[:, image.shape[1] // 2:] = 128  # the right half covered
    part = cc.detect_board(image, CHARUCO)
    assert part is not None and 12 <= len(part[1]) < 54
    assert set(part[1].tolist()) <= {r * 9 + c for r in range(6) for c in range(5)}  # the left columns only
    assert cc.find_corners(image, cc.Board()) is None  # a plain chessboard needs the whole board
    with pytest.raises(cc.CameraCalibrationError, match="needs 150 markers"):
        cc.Board(19, 14, kind=cc.BoardKind.CHARUCO)

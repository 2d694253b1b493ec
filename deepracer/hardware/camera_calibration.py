"""Camera calibration with a printed chessboard, and ROS's camera_info YAML file.

- `Board`: the chessboard (inner corners cols x rows, square size in metres), plain or ChArUco
  (ArUco markers in the white squares: a partly visible board still counts, which matters at the
  edges of a fisheye image); `detect_board` finds it in an image (OpenCV's detectors, corners
  refined to sub-pixel).
- `ViewSelector`: the live capture keeps a view only when the board is found and the view differs
  enough from the ones kept so far: position, size and skew of the board in the image, the same
  measure and threshold as ROS's camera_calibration (Manhattan distance > 0.2).
- `calibrate(views, ...)`: cv2.calibrateCamera (pinhole, `plumb_bob`) or cv2.fisheye.calibrate
  (`equidistant`), with the reprojection error overall and per view; too few views or a bad fit
  are refused with the reason, naming the views.
- `CameraInfoFile`: the YAML that ROS's camera_calibration / camera_info_manager write and read
  (image_width, image_height, camera_name, camera_matrix, distortion_model,
  distortion_coefficients, rectification_matrix, projection_matrix), and its scaling to the
  size the camera node publishes.

ROS-free: the car's `deepracer calibrate camera` and camera_node use it, tests run it on rendered views.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from deepracer.camera_profile import DistortionModel, Intrinsics, resize_matrix
from deepracer.errors import DeepRacerError
from deepracer.files import atomic_write_text, load_yaml_file

DEFAULT_COLS = 9  # inner corners per row (a 10 x 7 squares board: OpenCV's and ROS's usual 9x6)
DEFAULT_ROWS = 6
DEFAULT_SQUARE_M = 0.025
DEFAULT_MIN_VIEWS = 10
DEFAULT_LIVE_VIEWS = 20
DEFAULT_MAX_ERROR_PX = 1.0  # an RMS reprojection error above this is a bad capture, not a calibration
MIN_VIEW_DISTANCE = 0.2  # ROS camera_calibration's is_good_sample threshold
DEFAULT_MAX_MOTION_PX = 2.0  # live: mean corner motion between frames (per 640 px of width) above which the board
# is moving: a moving board is blurred (and shot over a rolling shutter), its corners are off
DEFAULT_CAMERA_NAME = "camera"

SERVICE_CAMERA_INFO = Path("/var/lib/deepracer/camera_info.yaml")
USER_CAMERA_INFO = Path("~/.config/deepracer/camera_info.yaml")

CAMERA_INFO_KEYS = ("image_width", "image_height", "camera_name", "camera_matrix", "distortion_model",
                    "distortion_coefficients", "rectification_matrix", "projection_matrix")


class CameraCalibrationError(DeepRacerError):
    """A capture that cannot be calibrated, or a camera_info file that cannot be used."""


class BoardKind(StrEnum):
    CHESSBOARD = "chessboard"  # cv2.findChessboardCorners: the whole board must be visible
    CHARUCO = "charuco"  # cv2.aruco.CharucoDetector: any part with enough corners


ARUCO_DICTIONARY = "DICT_5X5_100"  # markers of the ChArUco board (50 fit a 10x7 board)
CHARUCO_MARKER_RATIO = 0.7  # marker side / square side
MIN_CHARUCO_CORNERS = 12  # fewer corners of a partial view constrain the fit too little


class LensModel(StrEnum):
    """`--model`: which OpenCV calibration runs, and the ROS distortion model it writes."""

    PINHOLE = "pinhole"  # cv2.calibrateCamera -> plumb_bob
    FISHEYE = "fisheye"  # cv2.fisheye.calibrate -> equidistant

    @property
    def distortion_model(self) -> DistortionModel:
        return DistortionModel.EQUIDISTANT if self is LensModel.FISHEYE else DistortionModel.PLUMB_BOB


def default_camera_info_path(service: bool | None = None) -> Path:
    """$DEEPRACER_CAMERA_INFO, else the service's file when running as a system user, else the user's."""
    override = os.environ.get("DEEPRACER_CAMERA_INFO")
    if override:
        return Path(override).expanduser()
    if service is None:
        service = os.access(SERVICE_CAMERA_INFO, os.R_OK) and not USER_CAMERA_INFO.expanduser().exists()
    return SERVICE_CAMERA_INFO if service else USER_CAMERA_INFO.expanduser()


# -- the board ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Board:
    cols: int = DEFAULT_COLS  # inner corners along a row
    rows: int = DEFAULT_ROWS
    square_m: float = DEFAULT_SQUARE_M
    kind: BoardKind = BoardKind.CHESSBOARD

    def __post_init__(self) -> None:
        if self.cols < 2 or self.rows < 2:
            raise CameraCalibrationError(f"board needs at least 2x2 inner corners, not {self.cols}x{self.rows}")
        if self.kind is BoardKind.CHARUCO:
            markers = ((self.cols + 1) * (self.rows + 1)) // 2
            if markers > 100:
                raise CameraCalibrationError(f"a {self.cols}x{self.rows} ChArUco board needs {markers} markers; "
                                             f"{ARUCO_DICTIONARY} has 100")
        elif self.cols == self.rows:
            raise CameraCalibrationError(f"a square board ({self.cols}x{self.rows} inner corners) is ambiguous "
                                         "when rotated: use different numbers of rows and columns")
        if not self.square_m > 0:
            raise CameraCalibrationError(f"board square size must be positive, not {self.square_m} m")

    @property
    def pattern_size(self) -> tuple[int, int]:
        return (self.cols, self.rows)

    @property
    def n_corners(self) -> int:
        return self.cols * self.rows

    def object_points(self) -> np.ndarray:
        """(N, 3) corner positions on the board plane (z = 0), row by row as OpenCV returns them."""
        grid = np.mgrid[0 : self.cols, 0 : self.rows].T.reshape(-1, 2)
        return np.column_stack([grid * self.square_m, np.zeros(len(grid))]).astype(np.float64)

    def describe(self) -> str:
        kind = f" ChArUco ({ARUCO_DICTIONARY})" if self.kind is BoardKind.CHARUCO else ""
        return (f"{self.cols}x{self.rows} inner corners ({self.cols + 1}x{self.rows + 1} squares) "
                f"of {self.square_m * 1000:g} mm{kind}")

    def charuco(self) -> Any:
        """The cv2.aruco.CharucoBoard (corner ids row by row, as object_points)."""
        return _charuco_board(self.cols, self.rows, self.square_m)


@functools.lru_cache(maxsize=8)
def _charuco_board(cols: int, rows: int, square_m: float) -> Any:
    dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, ARUCO_DICTIONARY))
    return cv2.aruco.CharucoBoard((cols + 1, rows + 1), square_m, square_m * CHARUCO_MARKER_RATIO, dictionary)


@functools.lru_cache(maxsize=8)
def _charuco_detector(cols: int, rows: int, square_m: float) -> Any:
    return cv2.aruco.CharucoDetector(_charuco_board(cols, rows, square_m))


def board_image(board: Board, dpi: int = 300, margin_squares: float = 0.5) -> np.ndarray:
    """The printable board: (cols+1) x (rows+1) squares of `square_m` at `dpi`, in a white margin."""
    px = board.square_m / 0.0254 * dpi  # pixels per square
    n_x, n_y = board.cols + 1, board.rows + 1
    m = int(round(margin_squares * px))
    w, h = int(round(n_x * px)) + 2 * m, int(round(n_y * px)) + 2 * m
    if board.kind is BoardKind.CHARUCO:
        return np.asarray(board.charuco().generateImage((w, h), marginSize=m, borderBits=1), np.uint8)
    img = np.full((h, w), 255, np.uint8)
    for j in range(n_y):
        for i in range(n_x):
            if (i + j) % 2 == 0:
                x0, y0 = m + int(round(i * px)), m + int(round(j * px))
                img[y0 : m + int(round((j + 1) * px)), x0 : m + int(round((i + 1) * px))] = 0
    return img


def write_board_png(board: Board, path: str | Path, dpi: int = 300) -> Path:
    """The board as a PNG that prints at its true size (the DPI is stored in the file's pHYs chunk)."""
    import struct
    import zlib

    ok, buf = cv2.imencode(".png", board_image(board, dpi))
    if not ok:
        raise CameraCalibrationError("cannot encode the board image")
    data = buf.tobytes()
    ppm = int(round(dpi / 0.0254))
    body = b"pHYs" + struct.pack(">IIB", ppm, ppm, 1)
    chunk = struct.pack(">I", 9) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    end_of_ihdr = 8 + 8 + 13 + 4  # signature, IHDR length+type, IHDR data, CRC
    path = Path(path)
    path.write_bytes(data[:end_of_ihdr] + chunk + data[end_of_ihdr:])
    return path


def parse_board_size(text: str) -> tuple[int, int]:
    """'9x6' -> (9, 6)."""
    cols, sep, rows = str(text).lower().partition("x")
    try:
        if not sep:
            raise ValueError
        return int(cols), int(rows)
    except ValueError:
        raise CameraCalibrationError(f"board size must be COLSxROWS inner corners, e.g. 9x6, not {text!r}") from None


def find_corners(image: np.ndarray, board: Board, fast: bool = False) -> np.ndarray | None:
    """The board's inner corners (N, 2) in pixels, refined to sub-pixel, or None when not found.

    `fast` adds OpenCV's quick rejection of frames without a board (the live capture uses it).
    """
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    flags = cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE | (cv2.CALIB_CB_FAST_CHECK if fast else 0)
    found, corners = cv2.findChessboardCorners(gray, board.pattern_size, flags=flags)
    if not found or corners is None:
        return None
    corners = corners.reshape(-1, 2)
    grid = corners.reshape(board.rows, board.cols, 2)
    spacing = min(np.linalg.norm(np.diff(grid, axis=0), axis=2).min(), np.linalg.norm(np.diff(grid, axis=1), axis=2).min())
    return _refine(gray, corners.astype(np.float64), float(spacing))


def _refine(gray: np.ndarray, corners: np.ndarray, spacing: float) -> np.ndarray | None:
    """cornerSubPix with a window of 0.4 of the smallest corner spacing, so it never reaches a neighbour
    corner even where a wide lens squeezes the squares; a refinement that runs away (a corner moving
    more than 2 px, as on strongly curved squares) is redone with half the window; None if it still does."""
    radius = int(max(2, min(11, math.ceil(spacing * 0.4))))
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 60, 0.001)
    start = corners.reshape(-1, 1, 2).astype(np.float32)
    while True:
        refined = cv2.cornerSubPix(gray, start.copy(), (radius, radius), (-1, -1), criteria)
        if np.max(np.linalg.norm((refined - start).reshape(-1, 2), axis=1)) <= 2.0:
            break
        if radius <= 2:
            return None  # no stable corners: treat as not found rather than calibrate on wrong ones
        radius = max(2, radius // 2)
    return np.asarray(refined, np.float64).reshape(-1, 2)


# -- picking views --------------------------------------------------------------------------------


def detect_board(image: np.ndarray, board: Board, fast: bool = False) -> tuple[np.ndarray, np.ndarray | None] | None:
    """(corners (N, 2), ids) of the board in the image, or None. ids index `board.object_points()`;
    None means the whole board in order (a chessboard). A ChArUco view needs MIN_CHARUCO_CORNERS
    corners on at least two rows and two columns (not all on one line)."""
    if board.kind is BoardKind.CHESSBOARD:
        corners = find_corners(image, board, fast)
        return None if corners is None else (corners, None)
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    found, ids, _, _ = _charuco_detector(board.cols, board.rows, board.square_m).detectBoard(gray)
    if found is None or ids is None or len(ids) < MIN_CHARUCO_CORNERS:
        return None
    ids = np.asarray(ids, np.int64).ravel()
    if len(set((ids // board.cols).tolist())) < 2 or len(set((ids % board.cols).tolist())) < 2:
        return None
    # OpenCV's ChArUco corners are refined by its detector; a wider cornerSubPix window would reach the
    # markers next to each corner and pull the corner towards their edges (measured: 2x the error)
    corners = np.asarray(found, np.float64).reshape(-1, 2)
    return corners, ids


def _outer_quad(corners: np.ndarray, board: Board, ids: np.ndarray | None) -> tuple[np.ndarray, ...]:
    """The detected corners nearest the board's four corners: up-left, up-right, down-right, down-left."""
    if ids is None:
        grid = corners.reshape(board.rows, board.cols, 2)
        return grid[0, 0], grid[0, -1], grid[-1, -1], grid[-1, 0]
    r, c = ids // board.cols, ids % board.cols
    return (corners[np.argmin(r + c)], corners[np.argmax(c - r)], corners[np.argmax(r + c)], corners[np.argmax(r - c)])


def view_parameters(corners: np.ndarray, board: Board, width: int, height: int,
                    ids: np.ndarray | None = None) -> tuple[float, float, float, float]:
    """(x, y, size, skew) of the board in the image, each in 0..1 (ROS camera_calibration's measure);
    for a partial ChArUco view, of the part seen."""
    up_left, up_right, down_right, down_left = _outer_quad(corners, board, ids)
    a, b = up_right - up_left, down_right - up_right
    c = down_left - down_right
    p, q = b + c, a + b  # the quadrilateral's diagonals
    area = abs(p[0] * q[1] - p[1] * q[0]) / 2.0
    border = math.sqrt(area)
    x = min(1.0, max(0.0, (float(corners[:, 0].mean()) - border / 2) / max(width - border, 1e-9)))
    y = min(1.0, max(0.0, (float(corners[:, 1].mean()) - border / 2) / max(height - border, 1e-9)))
    size = math.sqrt(area / (width * height))
    u, v = up_left - up_right, down_right - up_right
    angle = math.acos(float(np.clip(u @ v / (np.linalg.norm(u) * np.linalg.norm(v) + 1e-12), -1.0, 1.0)))
    skew = min(1.0, 2.0 * abs(math.pi / 2 - angle))
    return (x, y, size, skew)


@dataclass
class ViewSelector:
    """Keeps views that differ enough from every view kept so far."""

    board: Board
    width: int
    height: int
    min_distance: float = MIN_VIEW_DISTANCE
    kept: list[tuple[float, float, float, float]] = field(default_factory=list)

    def consider(self, corners: np.ndarray | None, ids: np.ndarray | None = None) -> tuple[bool, str]:
        """(kept?, why): a view is kept when the board is found and it is new enough; not stored otherwise."""
        if corners is None:
            return False, "board not found"
        params = view_parameters(corners, self.board, self.width, self.height, ids)
        if self.kept:
            d = min(sum(abs(p - q) for p, q in zip(params, k, strict=True)) for k in self.kept)
            if d <= self.min_distance:
                return False, f"too close to a view already taken (distance {d:.2f} <= {self.min_distance}): move or tilt the board"
        self.kept.append(params)
        return True, "view taken"

    def coverage(self) -> dict[str, float]:
        """How much of each range the kept views span (ROS shows the same bars): x, y, size, skew."""
        if not self.kept:
            return {"x": 0.0, "y": 0.0, "size": 0.0, "skew": 0.0}
        arr = np.array(self.kept)
        return {k: float(arr[:, i].max() - arr[:, i].min()) for i, k in enumerate(("x", "y", "size", "skew"))}


@dataclass
class LiveCapture:
    """Views taken from a stream of frames: each frame is offered; a view is taken when the board is
    found, held still (it moved less than `max_motion_px` since the previous frame; 0 = no check)
    and new enough for the selector."""

    board: Board
    target_views: int = DEFAULT_LIVE_VIEWS
    max_motion_px: float = DEFAULT_MAX_MOTION_PX
    views: list[View] = field(default_factory=list)
    images: list[np.ndarray] = field(default_factory=list)  # the kept frames, to save for a re-run
    size: tuple[int, int] | None = None
    frames: int = 0
    not_found: int = 0
    too_close: int = 0
    moving: int = 0
    selector: ViewSelector | None = None
    _previous: tuple[np.ndarray, np.ndarray | None] | None = None

    @property
    def done(self) -> bool:
        return len(self.views) >= self.target_views

    def offer(self, frame: np.ndarray) -> tuple[bool, str]:
        """(kept?, why) for one frame; a frame of another size than the first is refused."""
        h, w = frame.shape[:2]
        if self.size is None:
            self.size = (w, h)
            self.selector = ViewSelector(self.board, w, h)
        elif (w, h) != self.size:
            raise CameraCalibrationError(f"the camera changed size from {self.size[0]}x{self.size[1]} to {w}x{h} "
                                         "during the capture")
        assert self.selector is not None
        self.frames += 1
        detection = detect_board(frame, self.board, fast=True)
        previous, self._previous = self._previous, detection
        corners, ids = detection if detection is not None else (None, None)
        if detection is not None and self.max_motion_px > 0:
            limit = self.max_motion_px * w / 640.0
            motion = _motion(detection, previous)
            if motion is None:
                self.moving += 1
                return False, "board found: hold it still"
            if motion > limit:
                self.moving += 1
                return False, f"board moving ({motion:.1f} px since the last frame): hold it still"
        kept, why = self.selector.consider(corners, ids)
        if corners is None:
            self.not_found += 1
        elif not kept:
            self.too_close += 1
        else:
            self.views.append(View(f"view {len(self.views) + 1:02d}", corners, ids))
            self.images.append(frame.copy())
        return kept, why


def _motion(now: tuple[np.ndarray, np.ndarray | None],
            before: tuple[np.ndarray, np.ndarray | None] | None) -> float | None:
    """Mean motion of the corners seen in both frames, px; None when there is nothing to compare."""
    if before is None:
        return None
    (c1, ids1), (c0, ids0) = now, before
    if ids1 is None or ids0 is None:
        if ids1 is not None or ids0 is not None or len(c1) != len(c0):
            return None
        # the chessboard detector may number the corners from the opposite end in the next frame
        return min(float(np.linalg.norm(c1 - p, axis=1).mean()) for p in (c0, c0[::-1]))
    common, i1, i0 = np.intersect1d(ids1, ids0, return_indices=True)
    if len(common) < MIN_CHARUCO_CORNERS // 2:
        return None
    return float(np.linalg.norm(c1[i1] - c0[i0], axis=1).mean())


# -- calibrating ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class View:
    name: str  # the image file, or "view 3" for a live capture
    corners: np.ndarray  # (N, 2) pixels
    ids: np.ndarray | None = None  # which board corners (ChArUco: part of the board); None = all, in order

    def object_points(self, board: Board) -> np.ndarray:
        obj = board.object_points()
        return obj if self.ids is None else obj[self.ids]


@dataclass(frozen=True)
class CalibrationResult:
    info: CameraInfoFile
    rms_px: float  # over all corners of all views
    per_view_px: tuple[tuple[str, float], ...]
    model: LensModel
    board: Board

    def summary(self) -> dict[str, Any]:
        from deepracer.errors import ConfigError

        i = self.info.intrinsics
        try:
            fov: dict[str, float] | None = i.field_of_view().to_dict()
            fov_problem = None
        except ConfigError as err:  # a pinhole fit of a very wide lens can fold over at the edges
            fov, fov_problem = None, str(err)
        worst = sorted(self.per_view_px, key=lambda v: -v[1])[:3]
        return {
            "model": self.model.value, "distortion_model": i.distortion_model.value,
            "image": [i.width, i.height], "views": len(self.per_view_px),
            "fx": i.fx, "fy": i.fy, "cx": i.cx, "cy": i.cy, "distortion_coefficients": list(i.coefficients),
            "reprojection_error_px": self.rms_px,
            "worst_views": [{"view": n, "error_px": e} for n, e in worst],
            "field_of_view": fov, "board": self.board.describe(),
        } | ({"field_of_view_problem": fov_problem} if fov_problem else {})


def calibrate(views: Sequence[View], width: int, height: int, board: Board, model: LensModel = LensModel.PINHOLE,
              min_views: int = DEFAULT_MIN_VIEWS, max_error_px: float = DEFAULT_MAX_ERROR_PX,
              camera_name: str = DEFAULT_CAMERA_NAME, k_coefficients: int = 2,
              not_found: Sequence[str] = ()) -> CalibrationResult:
    """Calibrate from views of the board; refuses too few views and a bad fit, with the reason."""
    if len(views) < min_views:
        missing = f"; board not found in: {', '.join(not_found)}" if not_found else ""
        raise CameraCalibrationError(
            f"only {len(views)} view(s) of the {board.describe()} board; at least {min_views} are needed "
            f"(different positions, distances and tilts){missing}")
    objs = [v.object_points(board) for v in views]
    size = (int(width), int(height))
    if model is LensModel.FISHEYE:
        K, D, rvecs, tvecs = _fisheye(views, objs, size)
        coeffs = tuple(float(x) for x in D.ravel()[:4])
        proj = [cv2.fisheye.projectPoints(o.reshape(-1, 1, 3), r, t, K, D)[0]
                for o, r, t in zip(objs, rvecs, tvecs, strict=True)]
        P = np.zeros((3, 4))
        P[:, :3] = cv2.fisheye.estimateNewCameraMatrixForUndistortRectify(K, D, size, np.eye(3), balance=0.0)
    else:
        if k_coefficients not in (2, 3):
            raise CameraCalibrationError(f"--k-coefficients must be 2 or 3, not {k_coefficients}")
        flags = cv2.CALIB_FIX_K3 if k_coefficients == 2 else 0  # ROS's default: k3 fixed at 0
        criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-9)
        _, K, D, rvecs, tvecs = cv2.calibrateCamera(
            [o.astype(np.float32) for o in objs], [v.corners.astype(np.float32).reshape(-1, 1, 2) for v in views],
            size, None, None, flags=flags, criteria=criteria)
        coeffs = tuple(float(x) for x in D.ravel()[:5])
        proj = [cv2.projectPoints(o, r, t, K, D)[0] for o, r, t in zip(objs, rvecs, tvecs, strict=True)]
        P = np.zeros((3, 4))
        P[:, :3], _ = cv2.getOptimalNewCameraMatrix(K, D, size, 0.0)  # alpha 0, ROS's default
    per_view, sq, n = [], 0.0, 0
    for v, p in zip(views, proj, strict=True):
        err = np.linalg.norm(p.reshape(-1, 2) - v.corners, axis=1)
        per_view.append((v.name, float(np.sqrt(np.mean(err**2)))))
        sq, n = sq + float(np.sum(err**2)), n + len(err)
    rms = math.sqrt(sq / n)
    intr = Intrinsics.from_matrix(width, height, K, model.distortion_model, coeffs)
    info = CameraInfoFile(camera_name, intr, projection=tuple(float(x) for x in P.ravel()))
    result = CalibrationResult(info, rms, tuple(per_view), model, board)
    if rms > max_error_px:
        worst = ", ".join(f"{name} {e:.2f} px" for name, e in sorted(per_view, key=lambda v: -v[1])[:3])
        raise CameraCalibrationError(
            f"reprojection error {rms:.2f} px is above {max_error_px:g} px: a bad capture (blurred or moving board, "
            f"a board that is not flat, a wrong --board size, or the wrong --model for this lens). "
            f"Worst views: {worst}; remove them or capture again")
    return result


def _fisheye(views: Sequence[View], view_objs: Sequence[np.ndarray], size: tuple[int, int]
             ) -> tuple[np.ndarray, np.ndarray, Sequence[np.ndarray], Sequence[np.ndarray]]:
    """cv2.fisheye.calibrate, made robust: its Gauss-Newton has no damping and, from OpenCV's own
    starting point, sometimes runs off to a 100+ px solution. A few starts (ROS's flags; skew free;
    a typical fisheye focal length as the guess) are tried and the best fit kept."""
    objs = [o.reshape(1, -1, 3).astype(np.float64) for o in view_objs]  # (1, N, 3): what OpenCV 4 and 5 both take
    imgs = [v.corners.reshape(1, -1, 2).astype(np.float64) for v in views]
    extrinsic, skew = _fisheye_flag("CALIB_RECOMPUTE_EXTRINSIC"), _fisheye_flag("CALIB_FIX_SKEW")
    guess = _fisheye_flag("CALIB_USE_INTRINSIC_GUESS")
    w, h = size
    f0 = (w / 2) / 1.4  # the image half-width seeing ~80°: r = f theta
    k0 = np.array([[f0, 0.0, w / 2 - 0.5], [0.0, f0, h / 2 - 0.5], [0.0, 0.0, 1.0]])
    # ROS camera_calibration's defaults first; CALIB_CHECK_COND refuses good near, frontal views, so it is off
    starts = [(extrinsic | skew, None), (extrinsic | skew | guess, k0), (extrinsic, None)]
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 200, 1e-10)
    best, failure = None, None
    for flags, k_init in starts:
        try:
            rms, K, D, rvecs, tvecs = cv2.fisheye.calibrate(
                objs, imgs, size, None if k_init is None else k_init.copy(),
                None if k_init is None else np.zeros((4, 1)), flags=flags, criteria=criteria)
        except cv2.error as err:
            failure = str(err)
            continue
        if np.all(np.isfinite(K)) and np.all(np.isfinite(D)) and (best is None or rms < best[0]):
            best = (rms, K, D, rvecs, tvecs)
        if best is not None and best[0] < 0.5:
            break
    if best is None:
        raise CameraCalibrationError("OpenCV's fisheye calibration failed; capture more varied views "
                                     f"({(failure or '').strip().splitlines()[-1][:200]})")
    return best[1:]


def _fisheye_flag(name: str) -> int:
    """OpenCV 4 keeps the fisheye flags in cv2.fisheye, OpenCV 5 in cv2 (with other values)."""
    value = getattr(cv2.fisheye, name, None)
    return int(value if value is not None else getattr(cv2, name))


def views_from_images(paths: Iterable[Path], board: Board) -> tuple[list[View], list[str], tuple[int, int]]:
    """Detect the board in each image: (views, names of images without the board, image size).

    An unreadable image or one of another size than the first is refused, naming it."""
    views, missing, size = [], [], None
    for path in paths:
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise CameraCalibrationError("not an image OpenCV can read", path)
        h, w = image.shape[:2]
        if size is None:
            size = (w, h)
        elif (w, h) != size:
            raise CameraCalibrationError(f"image is {w}x{h} but the first one is {size[0]}x{size[1]}: "
                                         "all views must come from the same camera mode", path)
        detection = detect_board(image, board)
        if detection is None:
            missing.append(path.name)
        else:
            views.append(View(path.name, *detection))
    if size is None:
        raise CameraCalibrationError("no images to calibrate from")
    return views, missing, size


def image_files(folder: Path) -> list[Path]:
    from deepracer.hardware.camera import IMAGE_SUFFIXES

    if not folder.is_dir():
        raise CameraCalibrationError("image folder not found", folder)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise CameraCalibrationError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in the folder", folder)
    return files


# -- camera_info YAML -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CameraInfoFile:
    """ROS's camera calibration file: what camera_info_manager loads and sensor_msgs/CameraInfo carries."""

    camera_name: str
    intrinsics: Intrinsics
    rectification: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    projection: tuple[float, ...] = ()  # 12 values; () = K with a zero fourth column

    def __post_init__(self) -> None:
        if not self.projection:  # one representation, so that equal calibrations compare equal
            p = np.hstack([self.intrinsics.matrix, np.zeros((3, 1))]).ravel()
            object.__setattr__(self, "projection", tuple(float(x) for x in p))

    @property
    def width(self) -> int:
        return self.intrinsics.width

    @property
    def height(self) -> int:
        return self.intrinsics.height

    @property
    def k(self) -> list[float]:
        return [float(x) for x in self.intrinsics.matrix.ravel()]

    @property
    def d(self) -> list[float]:
        return list(self.intrinsics.coefficients)

    @property
    def r(self) -> list[float]:
        return list(self.rectification)

    @property
    def p(self) -> list[float]:
        return list(self.projection)

    @property
    def distortion_model(self) -> str:
        return self.intrinsics.distortion_model.value

    def scaled(self, width: int, height: int) -> CameraInfoFile:
        """The calibration of the same camera resized to width x height: K and P scale with the resize
        (pixel centres kept: x' = s x + (s - 1)/2); D and R do not change. Refused when the aspect
        ratio differs: that is a crop or another sensor mode, not a resize."""
        if (width, height) == (self.width, self.height):
            return self
        sx, sy = width / self.width, height / self.height
        if abs(sx / sy - 1.0) > 0.01:
            raise CameraCalibrationError(
                f"the calibration is for {self.width}x{self.height} but the images are {width}x{height} (another "
                "aspect ratio: a crop or another camera mode); calibrate at the capture size")
        P = resize_matrix(sx, sy) @ np.array(self.p).reshape(3, 4)
        return replace(self, intrinsics=self.intrinsics.scaled(width, height),
                       projection=tuple(float(x) for x in P.ravel()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "image_width": self.width, "image_height": self.height, "camera_name": self.camera_name,
            "camera_matrix": {"rows": 3, "cols": 3, "data": self.k},
            "distortion_model": self.distortion_model,
            "distortion_coefficients": {"rows": 1, "cols": len(self.d), "data": self.d},
            "rectification_matrix": {"rows": 3, "cols": 3, "data": self.r},
            "projection_matrix": {"rows": 3, "cols": 4, "data": self.p},
        }

    def to_yaml(self) -> str:
        """The text ROS's camera_calibration writes (ost.yaml): same keys, order and layout."""
        def matrix(name: str, rows: int, cols: int, data: Sequence[float]) -> str:
            return f"{name}:\n  rows: {rows}\n  cols: {cols}\n  data: [{', '.join(_num(x) for x in data)}]\n"

        return (f"image_width: {self.width}\nimage_height: {self.height}\ncamera_name: {self.camera_name}\n"
                + matrix("camera_matrix", 3, 3, self.k)
                + f"distortion_model: {self.distortion_model}\n"
                + matrix("distortion_coefficients", 1, len(self.d), self.d)
                + matrix("rectification_matrix", 3, 3, self.r)
                + matrix("projection_matrix", 3, 4, self.p))

    @classmethod
    def from_dict(cls, data: Any, path: str | Path | None = None) -> CameraInfoFile:
        if not isinstance(data, dict):
            raise CameraCalibrationError("a camera calibration file must be a YAML mapping with "
                                         + ", ".join(CAMERA_INFO_KEYS), path)
        for key in ("image_width", "image_height", "camera_matrix", "distortion_coefficients"):
            if key not in data:
                raise CameraCalibrationError(f"{key} is missing (a ROS camera calibration file has "
                                             f"{', '.join(CAMERA_INFO_KEYS)})", path)
        width, height = _whole(data, "image_width", path), _whole(data, "image_height", path)
        model_name = data.get("distortion_model", "plumb_bob")
        try:
            model = DistortionModel(str(model_name))
        except ValueError:
            raise CameraCalibrationError(f"distortion_model {model_name!r} is not one of "
                                         f"{', '.join(m.value for m in DistortionModel)}", path) from None
        k = _matrix_data(data, "camera_matrix", 3, 3, path)
        d = _matrix_data(data, "distortion_coefficients", 1, None, path)
        if len(d) not in (model.n_coefficients, 0) and not (model is DistortionModel.PLUMB_BOB and len(d) in (4, 5)):
            raise CameraCalibrationError(f"distortion_coefficients: {model.value} has {model.n_coefficients} "
                                         f"coefficients, the file has {len(d)}", path)
        d = (d + [0.0] * model.n_coefficients)[: model.n_coefficients]
        r = _matrix_data(data, "rectification_matrix", 3, 3, path) if "rectification_matrix" in data else None
        p = _matrix_data(data, "projection_matrix", 3, 4, path) if "projection_matrix" in data else ()
        if k[0] <= 0 or k[4] <= 0:
            raise CameraCalibrationError(f"camera_matrix: fx and fy must be positive, not {k[0]:g}, {k[4]:g}", path)
        if width < 1 or height < 1:
            raise CameraCalibrationError(f"image_width and image_height must be positive, not {width}x{height}", path)
        intr = Intrinsics.from_matrix(width, height, k, model, d)
        return cls(str(data.get("camera_name", DEFAULT_CAMERA_NAME)), intr,
                   tuple(r) if r is not None else cls.rectification, tuple(p))


def _num(x: float) -> str:
    """A float YAML 1.1 (PyYAML, yaml-cpp) reads back as a float: always a dot, never bare '1e-05'."""
    return np.format_float_positional(float(x), unique=True, trim="0")  # shortest text that reads back exactly


def _whole(data: dict[str, Any], key: str, path: str | Path | None) -> int:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise CameraCalibrationError(f"{key} must be a whole number of pixels, not {value!r}", path)
    return int(value)


def _matrix_data(data: dict[str, Any], key: str, rows: int, cols: int | None, path: str | Path | None) -> list[float]:
    block = data[key]
    if not isinstance(block, dict) or "data" not in block:
        raise CameraCalibrationError(f"{key} must be a mapping with rows, cols and data", path)
    values = block["data"]
    if not isinstance(values, list):
        raise CameraCalibrationError(f"{key}.data must be a list of numbers", path)
    try:
        out = [float(x) for x in values]
    except (TypeError, ValueError):
        raise CameraCalibrationError(f"{key}.data must be a list of numbers, not {values!r}", path) from None
    if not all(math.isfinite(x) for x in out):
        raise CameraCalibrationError(f"{key}.data has a non-finite number", path)
    n = rows * cols if cols is not None else None
    if n is not None and len(out) != n:
        raise CameraCalibrationError(f"{key}.data has {len(out)} numbers; a {rows}x{cols} matrix needs {n}", path)
    for dim, want in (("rows", rows), ("cols", cols)):
        if want is not None and dim in block and block[dim] != want:
            raise CameraCalibrationError(f"{key}.{dim} is {block[dim]!r}, not {want}", path)
    return out


def camera_info_path(text: str | Path) -> Path:
    """A path, or a camera_info_manager URL `file:///path` (package:// URLs need ROS: not supported)."""
    s = str(text)
    if s.startswith("file://"):
        s = s[len("file://"):]
    elif "://" in s:
        raise CameraCalibrationError(f"only file:// calibration URLs are supported, not {s!r}")
    return Path(s).expanduser()


def load_camera_info(path: str | Path) -> CameraInfoFile:
    """A ROS camera calibration YAML; CameraCalibrationError naming the file and the problem."""
    path = camera_info_path(path)
    data = load_yaml_file(path, CameraCalibrationError,
                          missing="camera calibration file not found (run `deepracer calibrate camera`)",
                          what="the camera calibration")
    return CameraInfoFile.from_dict(data, path)


def save_camera_info(info: CameraInfoFile, path: str | Path) -> Path:
    """Write atomically; a previous file becomes `<name>.bak`."""
    return atomic_write_text(camera_info_path(path), info.to_yaml(), backup=True)

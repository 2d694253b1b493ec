"""Camera profiles: the lens, resolution and mounting a policy was trained for.

A profile describes one camera completely enough to render through it and to recognise it on the
car: intrinsics (fx, fy, cx, cy at `resolution`), a distortion model with its coefficients (ROS's
names: `plumb_bob`, `rational_polynomial`, `equidistant`), the `output` size the policy sees
(resized at the source), and the mount (`forward_m` ahead of the rear axle, `height_m` above the
ground, `pitch_deg` nose-down). The field of view is derived from the intrinsics and distortion,
never stored as a free value: a file's `field_of_view` block is checked against them.

Built-in profiles (data only): `aws-sim` (DeepRacer's simulated camera) and `car` (the default
camera of our simulator). `resolve_profile(NAME_OR_FILE)` accepts either. `camera_check` compares
what a car's camera reports (its camera_info) with a profile, within stated tolerances.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from deepracer.errors import ConfigError
from deepracer.files import atomic_write_text, load_yaml_file

PROFILE_VERSION = 1
HFOV_TOLERANCE_DEG = 5.0  # a policy trained at 64.7° still sees the track at 60-70°; 120° is another camera
VFOV_TOLERANCE_DEG = 5.0
ASPECT_TOLERANCE = 0.02  # relative: beyond this the resize to the network input squashes the image


class DistortionModel(StrEnum):
    """ROS sensor_msgs/CameraInfo distortion model names (sensor_msgs/distortion_models.hpp)."""

    PLUMB_BOB = "plumb_bob"  # k1, k2, p1, p2, k3: OpenCV's pinhole model (cv2.calibrateCamera)
    RATIONAL_POLYNOMIAL = "rational_polynomial"  # k1, k2, p1, p2, k3, k4, k5, k6
    EQUIDISTANT = "equidistant"  # k1..k4 of theta: OpenCV's fisheye model (cv2.fisheye.calibrate)

    @property
    def n_coefficients(self) -> int:
        return {"plumb_bob": 5, "rational_polynomial": 8, "equidistant": 4}[self.value]

    @property
    def is_fisheye(self) -> bool:
        return self is DistortionModel.EQUIDISTANT

    @property
    def projection(self) -> str:
        """The lens family: pinhole (perspective) or fisheye (equidistant)."""
        return "fisheye" if self.is_fisheye else "pinhole"

    @classmethod
    def parse(cls, value: Any, what: str = "distortion model", path: str | Path | None = None) -> DistortionModel:
        try:
            return cls(str(value))
        except ValueError:
            names = ", ".join(m.value for m in cls)
            raise ConfigError(f"{what} must be one of {names}, not {value!r}", path) from None


def resize_matrix(sx: float, sy: float) -> np.ndarray:
    """Maps pixel coordinates of an image to those of the image resized by (sx, sy).

    Pixel centres sit at integers (OpenCV's and ROS's convention), so x' = sx*x + (sx-1)/2:
    a 640-wide cx of 319.5 becomes 79.5 at 160 wide. Multiply K or P by it on the left.
    """
    return np.array([[sx, 0.0, (sx - 1.0) / 2.0], [0.0, sy, (sy - 1.0) / 2.0], [0.0, 0.0, 1.0]])


@dataclass(frozen=True)
class Intrinsics:
    """A camera's projection at one resolution: K's entries, distortion model and coefficients."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    distortion_model: DistortionModel = DistortionModel.PLUMB_BOB
    coefficients: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0, 0.0)
    skew: float = 0.0

    @classmethod
    def from_matrix(cls, width: int, height: int, k: Sequence[float] | np.ndarray,
                    distortion_model: DistortionModel | str = DistortionModel.PLUMB_BOB,
                    coefficients: Sequence[float] = ()) -> Intrinsics:
        m = np.asarray(k, float).reshape(3, 3)
        model = DistortionModel(distortion_model)
        coeffs = tuple(float(c) for c in np.ravel(coefficients))
        if not coeffs:
            coeffs = (0.0,) * model.n_coefficients
        return cls(int(width), int(height), float(m[0, 0]), float(m[1, 1]), float(m[0, 2]), float(m[1, 2]),
                   model, coeffs, float(m[0, 1]))

    @classmethod
    def ideal_pinhole(cls, width: int, height: int, hfov_deg: float) -> Intrinsics:
        """A distortion-free pinhole with square pixels and this horizontal field of view
        (edge to edge of the image), the principal point in the middle."""
        f = (width / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)
        return cls(int(width), int(height), f, f, width / 2.0 - 0.5, height / 2.0 - 0.5)

    @property
    def matrix(self) -> np.ndarray:
        return np.array([[self.fx, self.skew, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def dist(self) -> np.ndarray:
        return np.array(self.coefficients, float)

    def scaled(self, width: int, height: int) -> Intrinsics:
        """The same camera resized to width x height (see `resize_matrix`)."""
        m = resize_matrix(width / self.width, height / self.height) @ self.matrix
        return replace(self, width=int(width), height=int(height), fx=float(m[0, 0]), fy=float(m[1, 1]),
                       cx=float(m[0, 2]), cy=float(m[1, 2]), skew=float(m[0, 1]))

    # -- rays ------------------------------------------------------------------------
    def rays(self, pixels: np.ndarray, check: bool = True) -> np.ndarray:
        """Unit ray directions (x right, y down, z forward) of pixel coordinates (N, 2).

        `check` re-projects the rays of a distorted pinhole and refuses a lens model that folds over."""
        pts = np.asarray(pixels, np.float64).reshape(-1, 2)
        if self.distortion_model.is_fisheye:
            a = (pts[:, 0] - self.cx - self.skew * (pts[:, 1] - self.cy) / self.fy) / self.fx
            b = (pts[:, 1] - self.cy) / self.fy
            theta_d = np.hypot(a, b)
            theta = _invert_equidistant(theta_d, self.coefficients)
            s = np.where(theta_d > 1e-12, np.sin(theta) / np.maximum(theta_d, 1e-12), 1.0)
            return np.stack([a * s, b * s, np.cos(theta)], axis=1)
        import cv2

        criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 200, 1e-12)
        xy = cv2.undistortPoints(pts.reshape(-1, 1, 2), self.matrix, self.dist, R=None, P=None, criteria=criteria).reshape(-1, 2)
        if check and self.dist.any():  # a polynomial that folds over has no inverse: the iteration lands elsewhere
            back, _ = cv2.projectPoints(np.column_stack([xy, np.ones(len(xy))]), np.zeros(3), np.zeros(3),
                                        self.matrix, self.dist)
            if np.max(np.abs(back.reshape(-1, 2) - pts)) > 0.5:
                raise ConfigError("the distortion coefficients cannot be inverted at the image edges (the lens "
                                  "model folds over there), so the field of view is undefined: recalibrate, "
                                  "or use --model fisheye for a wide-angle lens")
        v = np.column_stack([xy, np.ones(len(xy))])
        return np.asarray(v / np.linalg.norm(v, axis=1, keepdims=True))

    def field_of_view(self) -> FieldOfView:
        """Edge-to-edge angles through the principal point, and corner to corner (the two corners' angles
        from the optical axis, added), in degrees."""
        w, h, cx, cy = self.width, self.height, self.cx, self.cy
        r = self.rays(np.array([[-0.5, cy], [w - 0.5, cy], [cx, -0.5], [cx, h - 0.5], [-0.5, -0.5], [w - 0.5, h - 0.5]]))
        horiz = math.degrees(math.atan2(r[1, 0], r[1, 2]) - math.atan2(r[0, 0], r[0, 2]))
        vert = math.degrees(math.atan2(r[3, 1], r[3, 2]) - math.atan2(r[2, 1], r[2, 2]))
        # corner to corner through the axis: can exceed 180° for a fisheye, where the angle between the rays cannot
        diag = math.degrees(math.acos(float(np.clip(r[4, 2], -1, 1))) + math.acos(float(np.clip(r[5, 2], -1, 1))))
        return FieldOfView(horiz, vert, diag)


def _invert_equidistant(theta_d: np.ndarray, k: Sequence[float]) -> np.ndarray:
    """theta with theta * (1 + k1 θ² + k2 θ⁴ + k3 θ⁶ + k4 θ⁸) = theta_d (Newton, as OpenCV does)."""
    k1, k2, k3, k4 = (list(k) + [0.0] * 4)[:4]
    theta = np.array(theta_d, float)
    for _ in range(50):
        t2 = theta * theta
        f = theta * (1 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * k4)))) - theta_d
        df = 1 + t2 * (3 * k1 + t2 * (5 * k2 + t2 * (7 * k3 + 9 * k4 * t2)))
        step = f / np.where(np.abs(df) > 1e-12, df, 1e-12)
        theta = theta - step
        if np.max(np.abs(step)) < 1e-12:
            break
    return theta


class GrayFormula(StrEnum):
    """How a colour frame becomes the policy's grey input (deepracer-facts §1)."""

    RL_COACH = "rl_coach"  # DeepRacer's simulator: Y = 0.2989 R + 0.5870 G + 0.1140 B, then a truncating uint8 cast
    OPENCV = "opencv"  # the car (inference_pkg): cv2 BGR2GRAY, 0.299 R + 0.587 G + 0.114 B, rounded

    @property
    def bgr_weights(self) -> tuple[float, float, float]:
        return (0.1140, 0.5870, 0.2989) if self is GrayFormula.RL_COACH else (0.114, 0.587, 0.299)

    @property
    def offset(self) -> float:
        """Added before rounding to uint8: -0.5 turns rounding into rl_coach's truncation."""
        return -0.5 if self is GrayFormula.RL_COACH else 0.0

    @classmethod
    def parse(cls, value: Any, path: str | Path | None = None) -> GrayFormula:
        try:
            return cls(str(value))
        except ValueError:
            names = ", ".join(m.value for m in cls)
            raise ConfigError(f"output.grayscale must be one of {names}, not {value!r}", path) from None


@dataclass(frozen=True)
class FieldOfView:
    horizontal_deg: float
    vertical_deg: float
    diagonal_deg: float

    def to_dict(self) -> dict[str, float]:
        return {"horizontal_deg": round(self.horizontal_deg, 3), "vertical_deg": round(self.vertical_deg, 3),
                "diagonal_deg": round(self.diagonal_deg, 3)}


@dataclass(frozen=True)
class Mount:
    """Where the camera sits: optical centre ahead of the rear axle and above the ground, pitch nose-down."""

    forward_m: float = 0.12
    height_m: float = 0.12
    pitch_deg: float = 15.0
    yaw_deg: float = 0.0  # left


@dataclass(frozen=True)
class CameraProfile:
    name: str
    intrinsics: Intrinsics
    output_width: int = 160
    output_height: int = 120
    mount: Mount = field(default_factory=Mount)
    description: str = ""
    source: str = ""  # where it came from: "built-in", a calibration file
    grayscale: GrayFormula = GrayFormula.OPENCV  # how the grey policy input is made from colour

    @property
    def field_of_view(self) -> FieldOfView:
        return self.intrinsics.field_of_view()

    @property
    def output_intrinsics(self) -> Intrinsics:
        """The intrinsics of the image the policy sees."""
        return self.intrinsics.scaled(self.output_width, self.output_height)

    def validate(self, path: str | Path | None = None) -> None:
        """ConfigError naming the first bad field."""
        problems = profile_problems(self)
        if problems:
            raise ConfigError("invalid camera profile: " + "; ".join(problems), path)

    def to_dict(self) -> dict[str, Any]:
        i, m = self.intrinsics, self.mount
        out: dict[str, Any] = {
            "version": PROFILE_VERSION,
            "name": self.name,
            "description": self.description,
            "source": self.source,
            "resolution": {"width": i.width, "height": i.height},
            "intrinsics": {"fx": i.fx, "fy": i.fy, "cx": i.cx, "cy": i.cy, "skew": i.skew},
            "distortion": {"model": i.distortion_model.value, "coefficients": list(i.coefficients)},
            "output": {"width": self.output_width, "height": self.output_height,
                       "grayscale": self.grayscale.value},
            "mount": {"forward_m": m.forward_m, "height_m": m.height_m, "pitch_deg": m.pitch_deg,
                      "yaw_deg": m.yaw_deg},
        }
        try:
            out["field_of_view"] = self.field_of_view.to_dict()  # derived: for people, checked on load
        except ConfigError:
            pass
        return out

    @classmethod
    def from_dict(cls, data: Any, path: str | Path | None = None) -> CameraProfile:
        if not isinstance(data, dict):
            raise ConfigError("a camera profile must be a mapping (YAML or JSON object)", path)
        version = data.get("version", PROFILE_VERSION)
        if version != PROFILE_VERSION:
            raise ConfigError(f"version: camera profile version {version!r} is not supported (this is {PROFILE_VERSION})", path)
        known = {"version", "name", "description", "source", "resolution", "intrinsics", "distortion", "output",
                 "mount", "field_of_view"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})", path)
        res = _section(data, "resolution", path)
        intr = _section(data, "intrinsics", path)
        dist = _section(data, "distortion", path)
        out = data.get("output", res)
        if not isinstance(out, dict):
            raise ConfigError("output must be a mapping with width and height", path)
        mount = data.get("mount", {})
        if not isinstance(mount, dict):
            raise ConfigError("mount must be a mapping with forward_m, height_m, pitch_deg", path)
        model = DistortionModel.parse(dist.get("model", "plumb_bob"), "distortion.model", path)
        coeffs = dist.get("coefficients", [0.0] * model.n_coefficients)
        if not isinstance(coeffs, list):
            raise ConfigError(f"distortion.coefficients must be a list of {model.n_coefficients} numbers", path)
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError("name: a camera profile needs a non-empty name", path)
        defaults = Mount()
        profile = cls(
            name=name.strip(),
            intrinsics=Intrinsics(
                width=_int(res, "width", "resolution", path), height=_int(res, "height", "resolution", path),
                fx=_num(intr, "fx", "intrinsics", path), fy=_num(intr, "fy", "intrinsics", path),
                cx=_num(intr, "cx", "intrinsics", path), cy=_num(intr, "cy", "intrinsics", path),
                distortion_model=model,
                coefficients=tuple(_num({"c": c}, "c", f"distortion.coefficients[{j}]", path, bare=True)
                                   for j, c in enumerate(coeffs)),
                skew=_num(intr, "skew", "intrinsics", path, default=0.0),
            ),
            output_width=_int(out, "width", "output", path), output_height=_int(out, "height", "output", path),
            mount=Mount(
                forward_m=_num(mount, "forward_m", "mount", path, default=defaults.forward_m),
                height_m=_num(mount, "height_m", "mount", path, default=defaults.height_m),
                pitch_deg=_num(mount, "pitch_deg", "mount", path, default=defaults.pitch_deg),
                yaw_deg=_num(mount, "yaw_deg", "mount", path, default=defaults.yaw_deg),
            ),
            description=str(data.get("description", "") or ""),
            source=str(data.get("source", "") or ""),
            grayscale=GrayFormula.parse(out.get("grayscale", GrayFormula.OPENCV.value), path),
        )
        profile.validate(path)
        fov = data.get("field_of_view")
        if fov is not None:
            _check_fov(profile, fov, path)
        return profile


def profile_problems(p: CameraProfile) -> list[str]:
    """Every bad field of a profile, each named."""
    i, m = p.intrinsics, p.mount
    problems = []
    if i.width < 1 or i.height < 1:
        problems.append(f"resolution: width and height must be positive, not {i.width}x{i.height}")
    if p.output_width < 1 or p.output_height < 1:
        problems.append(f"output: width and height must be positive, not {p.output_width}x{p.output_height}")
    for key in ("fx", "fy"):
        if not getattr(i, key) > 0:
            problems.append(f"intrinsics.{key} must be positive (a focal length in pixels), not {getattr(i, key)}")
    if not -0.5 <= i.cx <= i.width - 0.5:
        problems.append(f"intrinsics.cx {i.cx} is outside the image (0..{i.width - 1})")
    if not -0.5 <= i.cy <= i.height - 0.5:
        problems.append(f"intrinsics.cy {i.cy} is outside the image (0..{i.height - 1})")
    n = i.distortion_model.n_coefficients
    if len(i.coefficients) != n:
        problems.append(f"distortion.coefficients: {i.distortion_model.value} needs {n} numbers, not {len(i.coefficients)}")
    if not m.height_m > 0:
        problems.append(f"mount.height_m must be positive (metres above the ground), not {m.height_m}")
    if not -90.0 < m.pitch_deg < 90.0:
        problems.append(f"mount.pitch_deg must be between -90 and 90 (nose-down positive), not {m.pitch_deg}")
    if not -0.5 <= m.forward_m <= 1.0:
        problems.append(f"mount.forward_m {m.forward_m} m is not on a 1/18 car (-0.5..1.0 from the rear axle)")
    if not problems and i.width >= 1 and p.output_width >= 1:
        if abs((i.width / i.height) / (p.output_width / p.output_height) - 1.0) > 0.01:
            problems.append(f"output {p.output_width}x{p.output_height} has another aspect ratio than the "
                            f"resolution {i.width}x{i.height}: resizing would stretch the image")
    if not problems:
        try:
            i.field_of_view()
        except ConfigError as err:
            problems.append(f"distortion.coefficients: {err}")
    return problems


def _section(data: dict[str, Any], key: str, path: str | Path | None) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise ConfigError(f"{key} is missing or not a mapping", path)
    return value


def _num(d: dict[str, Any], key: str, where: str, path: str | Path | None, default: float | None = None,
         bare: bool = False) -> float:
    name = where if bare else f"{where}.{key}"
    if key not in d:
        if default is not None:
            return default
        raise ConfigError(f"{name} is missing", path)
    value = d[key]
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be a number, not {value!r}", path)
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, not {value!r}", path) from None
    if not math.isfinite(x):
        raise ConfigError(f"{name} must be finite, not {value!r}", path)
    return x


def _int(d: dict[str, Any], key: str, where: str, path: str | Path | None) -> int:
    x = _num(d, key, where, path)
    if x != int(x):
        raise ConfigError(f"{where}.{key} must be a whole number of pixels, not {d[key]!r}", path)
    return int(x)


def _check_fov(profile: CameraProfile, fov: Any, path: str | Path | None) -> None:
    if not isinstance(fov, dict):
        raise ConfigError("field_of_view must be a mapping (it is derived; delete it to have it recomputed)", path)
    actual = profile.field_of_view.to_dict()
    for key in fov:
        if key not in actual:
            raise ConfigError(f"field_of_view.{key} is not a known key ({', '.join(actual)})", path)
        written = _num(fov, key, "field_of_view", path)
        if abs(written - actual[key]) > 0.1:
            raise ConfigError(f"field_of_view.{key} {written:g} does not match the intrinsics and distortion "
                              f"({actual[key]:g}); the field of view is derived from them: change the intrinsics, "
                              "or delete field_of_view", path)


# -- files ----------------------------------------------------------------------------------------


def load_profile(path: str | Path) -> CameraProfile:
    """A profile file (YAML, or JSON which is YAML too); ConfigError naming the file and field."""
    path = Path(path)
    data = load_yaml_file(path, ConfigError, missing="camera profile file not found", what="the camera profile",
                          syntax="YAML/JSON")
    return CameraProfile.from_dict(data, path)


def save_profile(profile: CameraProfile, path: str | Path) -> Path:
    """Validate, then write (YAML, or JSON for a .json name) atomically."""
    import json

    path = Path(path)
    profile.validate(path)
    data = profile.to_dict()
    if path.suffix.lower() == ".json":
        text = json.dumps(data, indent=2) + "\n"
    else:
        text = ("# deepracer camera profile (docs/camera-calibration.md); field_of_view is derived\n"
                + yaml.safe_dump(data, sort_keys=False, default_flow_style=None))
    return atomic_write_text(path, text)


# -- built-in profiles (data only) ----------------------------------------------------------------

# DeepRacer's simulated camera (deepracer-facts §1): gz camera 640x480, HFOV 1.13 rad, ideal pinhole,
# resized to 160x120; optical origin x 0.14529, z 0.13033 from base_link, pitch 15° nose-down.
# base_link is mid-wheelbase (rear axle at x -0.081663), so 0.22695 m ahead of the rear axle; it sits
# at about ground level (wheel centres 0.035-0.039 m above it with 0.035 m wheels).
AWS_SIM = CameraProfile(
    name="aws-sim",
    intrinsics=Intrinsics.ideal_pinhole(640, 480, math.degrees(1.13)),
    output_width=160, output_height=120,
    mount=Mount(forward_m=0.14529 + 0.081663, height_m=0.13033, pitch_deg=15.0),
    description="AWS DeepRacer's simulated camera: ideal pinhole, HFOV 1.13 rad, 640x480 resized to 160x120",
    source="built-in",
    grayscale=GrayFormula.RL_COACH,
)

# Our simulator's default camera (deepracer/sim/camera.py CameraPose() rendered at SimConfig's 160x120):
# an ideal pinhole of 120° horizontal field of view, square pixels, centred; 0.12 m ahead of the rear
# axle, 0.12 m up, pitched down 15°.
CAR = CameraProfile(
    name="car",
    intrinsics=Intrinsics.ideal_pinhole(160, 120, 120.0),
    output_width=160, output_height=120,
    mount=Mount(forward_m=0.12, height_m=0.12, pitch_deg=15.0),
    description="the simulator's default camera: the car's 120° wide lens as an ideal pinhole, 160x120",
    source="built-in",
)

BUILTIN_PROFILES: dict[str, CameraProfile] = {p.name: p for p in (AWS_SIM, CAR)}


def resolve_profile(name_or_file: str | Path) -> CameraProfile:
    """A built-in profile by name, else a profile file."""
    text = str(name_or_file)
    if text in BUILTIN_PROFILES:
        return BUILTIN_PROFILES[text]
    path = Path(text).expanduser()
    if not path.exists() and path.suffix == "" and "/" not in text:
        raise ConfigError(f"unknown camera profile {text!r}: not a built-in profile "
                          f"({', '.join(BUILTIN_PROFILES)}) and no such file")
    return load_profile(path)


# -- checking a camera against a profile ----------------------------------------------------------


@dataclass(frozen=True)
class CameraCheck:
    """Whether a camera (from its camera_info) is the one a profile describes."""

    profile: str
    calibrated: bool  # False: the camera_info carries no intrinsics, nothing could be compared
    mismatches: tuple[str, ...] = ()
    observed_fov: FieldOfView | None = None

    @property
    def ok(self) -> bool:
        return self.calibrated and not self.mismatches

    def message(self, model: str = "the model") -> str:
        if not self.calibrated:
            return (f"the camera is not calibrated (camera_info has no intrinsics), so it cannot be checked against "
                    f"the camera profile {self.profile!r} {model} was trained for; run `deepracer calibrate camera`")
        if not self.mismatches:
            fov = self.observed_fov
            return (f"the camera matches the camera profile {self.profile!r} {model} was trained for"
                    + (f" (HFOV {fov.horizontal_deg:.1f}°)" if fov else ""))
        return (f"the camera does not match the camera profile {self.profile!r} {model} was trained for: "
                + "; ".join(self.mismatches))


def camera_check(profile: CameraProfile, width: int, height: int, k: Sequence[float],
                 distortion_model: str, d: Sequence[float],
                 hfov_tolerance_deg: float = HFOV_TOLERANCE_DEG,
                 vfov_tolerance_deg: float = VFOV_TOLERANCE_DEG) -> CameraCheck:
    """Compare a camera_info's fields (width, height, K row-major, distortion model, D) with a profile:
    the lens family (pinhole vs fisheye), horizontal and vertical field of view within the tolerances,
    and the aspect ratio. The resolution itself may differ (the policy input is resized anyway)."""
    kk = [float(x) for x in k]
    if len(kk) != 9 or kk[0] == 0.0 or kk[4] == 0.0 or width < 1 or height < 1:
        return CameraCheck(profile.name, calibrated=False)
    mismatches: list[str] = []
    try:
        model = DistortionModel(distortion_model or "plumb_bob")
    except ValueError:
        return CameraCheck(profile.name, True, (f"unknown distortion model {distortion_model!r} in camera_info",))
    coeffs = list(d)[: model.n_coefficients]
    coeffs += [0.0] * (model.n_coefficients - len(coeffs))
    observed = Intrinsics.from_matrix(width, height, kk, model, coeffs)
    expected = profile.intrinsics
    if observed.distortion_model.projection != expected.distortion_model.projection:
        mismatches.append(f"lens model {observed.distortion_model.value} ({observed.distortion_model.projection}) "
                          f"vs {expected.distortion_model.value} ({expected.distortion_model.projection})")
    try:
        fov = observed.field_of_view()
    except ConfigError as err:
        return CameraCheck(profile.name, True, tuple(mismatches) + (f"camera_info: {err}",))
    want = profile.field_of_view
    if abs(fov.horizontal_deg - want.horizontal_deg) > hfov_tolerance_deg:
        mismatches.append(f"horizontal field of view {fov.horizontal_deg:.1f}° vs {want.horizontal_deg:.1f}° "
                          f"(tolerance {hfov_tolerance_deg:g}°)")
    if abs(fov.vertical_deg - want.vertical_deg) > vfov_tolerance_deg:
        mismatches.append(f"vertical field of view {fov.vertical_deg:.1f}° vs {want.vertical_deg:.1f}° "
                          f"(tolerance {vfov_tolerance_deg:g}°)")
    aspect, want_aspect = width / height, profile.output_width / profile.output_height
    if abs(aspect / want_aspect - 1.0) > ASPECT_TOLERANCE:
        mismatches.append(f"image {width}x{height} (aspect {aspect:.3f}) vs "
                          f"{profile.output_width}x{profile.output_height} (aspect {want_aspect:.3f})")
    return CameraCheck(profile.name, True, tuple(mismatches), fov)


class CameraProfileWatch:
    """Checks every camera_info against the active model's camera profile, but reports only when the
    outcome can have changed (another camera calibration, another model): a node logs once, not at 30 Hz.

    `update(...)` returns None (nothing new) or (level, message), level "warning" for a mismatch and
    "info" otherwise; `last` is the latest CameraCheck (None before one was made or without a profile).
    """

    def __init__(self, hfov_tolerance_deg: float = HFOV_TOLERANCE_DEG,
                 vfov_tolerance_deg: float = VFOV_TOLERANCE_DEG) -> None:
        self.hfov_tolerance_deg, self.vfov_tolerance_deg = hfov_tolerance_deg, vfov_tolerance_deg
        self._key: tuple[Any, ...] | None = None
        self.last: CameraCheck | None = None

    def update(self, profile: CameraProfile | None, model: str, width: int, height: int, k: Sequence[float],
               distortion_model: str, d: Sequence[float]) -> tuple[str, str] | None:
        key = (id(profile), model, int(width), int(height), tuple(float(x) for x in k), str(distortion_model),
               tuple(float(x) for x in d))
        if key == self._key:
            return None
        self._key = key
        if profile is None:
            self.last = None
            return "info", f"model {model!r} records no camera profile: the camera is not checked against one"
        self.last = camera_check(profile, width, height, k, distortion_model, d,
                                 self.hfov_tolerance_deg, self.vfov_tolerance_deg)
        level = "warning" if self.last.calibrated and self.last.mismatches else "info"
        return level, self.last.message(f"model {model!r}")

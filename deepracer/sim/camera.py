"""The car's front camera, rendered by looking pixels up in the top-down track raster.

The camera is fixed on the car, so the ground point seen by every pixel below the
horizon is fixed in the car's frame: it is computed once (`CameraModel`), and a frame
is one rotation + translation of those points into the world and one integer gather
from the textured map. Rows above the horizon are sky. Far pixels cover many map
cells, so each pixel reads from a mip level (the map downscaled by 2, 4, ...) matched
to its footprint: distant lines fade to grey instead of flickering.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np

from deepracer.camera_profile import CameraProfile, DistortionModel, GrayFormula, Intrinsics
from deepracer.sim.trackmap import BACKGROUND, BORDER, CENTER, N_LABELS, ROAD, TrackMap

PREFILTER_SIGMA = 0.6  # cells: level 0's blur (a pixel there covers about a cell)
FOOTPRINT_PER_CELL = 1.0  # a pixel reads the level whose cells are about its footprint / this
WALL = N_LABELS  # a label of the renderer's own map only: everything beyond the wall rectangle


@dataclass(frozen=True)
class CameraPose:
    """The camera on the car: its mounting (from the rear-axle origin) and its lens.

    The lens is either a calibrated one, `intrinsics` (from a camera profile, see `from_profile`),
    or the ideal lens of `hfov_deg` with `projection` pinhole or fisheye (equidistant)."""

    forward_m: float = 0.12
    height_m: float = 0.12
    pitch_deg: float = 15.0  # down
    yaw_deg: float = 0.0  # left
    hfov_deg: float = 120.0  # the DeepRacer's wide lens (with intrinsics: derived from them)
    max_range_m: float = 12.0
    projection: str = "pinhole"  # or "fisheye" (equidistant: pixel radius proportional to the angle)
    lateral_m: float = 0.0  # left of the car's axis (stereo cameras: ±0.03)
    intrinsics: Intrinsics | None = None  # OpenCV's model of a real lens (pinhole + distortion, or fisheye)
    grayscale: GrayFormula = GrayFormula.OPENCV  # how grey frames are made from colour
    profile: str = ""  # the camera profile this came from ("" = the ideal lens above)

    @classmethod
    def from_profile(cls, profile: CameraProfile) -> CameraPose:
        """The camera a profile describes, rendered at the profile's output size."""
        m, lens = profile.mount, profile.output_intrinsics
        return cls(forward_m=m.forward_m, height_m=m.height_m, pitch_deg=m.pitch_deg, yaw_deg=m.yaw_deg,
                   hfov_deg=profile.field_of_view.horizontal_deg, projection=lens.distortion_model.projection,
                   intrinsics=lens, grayscale=profile.grayscale, profile=profile.name)

    def lens(self, width: int, height: int) -> Intrinsics:
        """The lens at width x height: the intrinsics (resized as the source would), else the ideal lens."""
        if self.intrinsics is not None:
            i = self.intrinsics
            return i if (i.width, i.height) == (width, height) else i.scaled(width, height)
        if self.projection == "pinhole":
            return Intrinsics.ideal_pinhole(width, height, self.hfov_deg)
        if self.projection == "fisheye":  # equidistant, no distortion terms: radius = f * angle
            f = (width / 2) / (math.radians(self.hfov_deg) / 2)
            return Intrinsics(width, height, f, f, width / 2 - 0.5, height / 2 - 0.5, DistortionModel.EQUIDISTANT,
                              (0.0, 0.0, 0.0, 0.0))
        raise ValueError(f"camera projection must be pinhole or fisheye, not {self.projection!r}")


def _is_plain_pinhole(lens: Intrinsics) -> bool:
    return not lens.distortion_model.is_fisheye and not any(lens.coefficients) and lens.skew == 0.0


def lens_rays(lens: Intrinsics) -> np.ndarray:
    """(H, W, 3) unit rays (x right, y down, z forward) of every pixel centre, as OpenCV models the lens."""
    vv, uu = np.mgrid[0:lens.height, 0:lens.width].astype(np.float64)
    if _is_plain_pinhole(lens):
        v = np.stack([(uu - lens.cx) / lens.fx, (vv - lens.cy) / lens.fy, np.ones_like(uu)], axis=-1)
        return np.asarray(v / np.linalg.norm(v, axis=-1, keepdims=True))
    rays = lens.rays(np.column_stack([uu.ravel(), vv.ravel()]), check=False)
    return rays.reshape(lens.height, lens.width, 3)


def project_points(lens: Intrinsics, pts: np.ndarray) -> np.ndarray:
    """Camera-frame points (N, 3), z > 0 for a pinhole, -> pixel coordinates (N, 2) through the lens."""
    pts = np.asarray(pts, np.float64).reshape(-1, 3)
    if lens.distortion_model.is_fisheye:
        r = np.hypot(pts[:, 0], pts[:, 1])
        theta = np.arctan2(r, pts[:, 2])
        k1, k2, k3, k4 = (list(lens.coefficients) + [0.0] * 4)[:4]
        t2 = theta * theta
        theta_d = theta * (1 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * k4))))
        s = theta_d / np.maximum(r, 1e-12)
        a, b = pts[:, 0] * s, pts[:, 1] * s
        return np.stack([lens.fx * (a + lens.skew / lens.fx * b) + lens.cx, lens.fy * b + lens.cy], axis=1)
    if _is_plain_pinhole(lens):
        z = pts[:, 2]
        return np.stack([lens.fx * pts[:, 0] / z + lens.cx, lens.fy * pts[:, 1] / z + lens.cy], axis=1)
    out, _ = cv2.projectPoints(pts, np.zeros(3), np.zeros(3), lens.matrix, lens.dist)
    return np.asarray(out.reshape(-1, 2))


@dataclass(frozen=True)
class Appearance:
    """Colours (BGR) of the scene and the world around the track; randomised per episode for sim-to-real."""

    background: tuple[int, int, int] = (70, 110, 80)  # floor around the track
    road: tuple[int, int, int] = (45, 45, 45)
    border: tuple[int, int, int] = (235, 235, 235)
    center: tuple[int, int, int] = (40, 200, 230)  # yellow dashes
    sky_top: tuple[int, int, int] = (200, 170, 140)
    sky_horizon: tuple[int, int, int] = (225, 215, 205)
    texture_noise: float = 6.0  # std of a fixed blotchy texture on the ground, grey levels
    gain: float = 1.0  # lighting
    bias: float = 0.0
    box: tuple[int, int, int] = (70, 135, 190)  # cardboard obstacle
    bot_car: tuple[int, int, int] = (190, 110, 40)  # bot cars' shell
    car: tuple[int, int, int] = (40, 40, 200)  # another racer's shell (head-to-head)
    chassis: tuple[int, int, int] = (35, 35, 35)  # cars' chassis and wheels
    road_grain: float = 5.0  # std of the road's fine asphalt grain (per 1 cm cell), grey levels
    walls: bool = True  # a wall around the track, as tall as the camera (False: the floor runs to the horizon)
    wall: tuple[int, int, int] = (150, 150, 140)
    wall_distance_m: float = 0.6  # beyond the track's bounding box, on every side (0.05 .. 0.9)

    def palette(self) -> np.ndarray:
        p = np.zeros((N_LABELS + 1, 3), np.float32)
        p[BACKGROUND], p[ROAD], p[BORDER], p[CENTER] = self.background, self.road, self.border, self.center
        p[WALL] = self.wall
        return p * self.gain + self.bias


class CameraModel:
    """Per-pixel ground points (car frame, metres) and footprints for one pose and resolution."""

    def __init__(self, width: int, height: int, pose: CameraPose) -> None:
        self.width, self.height, self.pose = width, height, pose
        self.lens = pose.lens(width, height)
        rays = lens_rays(self.lens)
        xr, yd, zf = rays[..., 0], rays[..., 1], rays[..., 2]
        th = math.radians(pose.pitch_deg)
        # car frame (x forward, y left, z up), the camera pitched down by th
        dfx = zf * math.cos(th) - yd * math.sin(th)
        dly = -xr
        dz = -zf * math.sin(th) - yd * math.cos(th)
        ground_rows = np.nonzero(np.all(dz < -1e-4, axis=1))[0]
        if ground_rows.size:  # sky above, ground below
            self.first_row = int(ground_rows[0])
        else:
            self.first_row = height
        yaw = math.radians(pose.yaw_deg)
        cy_, sy_ = math.cos(yaw), math.sin(yaw)
        r0 = self.first_row
        dfx, dly, dz = dfx[r0:], dly[r0:], dz[r0:]
        t = pose.height_m / -dz
        rng = t * np.hypot(dfx, dly)
        t = np.where(rng > pose.max_range_m, t * pose.max_range_m / rng, t)
        gx, gy = pose.forward_m + t * dfx, pose.lateral_m + t * dly
        gx, gy = gx * cy_ - gy * sy_, gx * sy_ + gy * cy_
        self.gx, self.gy = gx.ravel(), gy.ravel()
        # ground footprint of a pixel: how far its neighbours' ground points are
        if gx.shape[0] > 1:
            d_row = np.hypot(*(np.gradient(a, axis=0) for a in (gx, gy)))
        else:
            d_row = np.zeros_like(gx)
        d_col = np.hypot(*(np.gradient(a, axis=1) for a in (gx, gy))) if gx.shape[1] > 1 else np.zeros_like(gx)
        self.footprint = np.maximum(d_row, d_col).ravel()


class Renderer:
    """Renders frames for one track map; `set_appearance`/`set_pose` change the look.

    Per frame: one small matmul puts every ground pixel's fixed car-frame point into the map, and one
    integer gather reads it from the mip level whose cells match the pixel's footprint. The levels
    are prefiltered (level 0 is the label raster blurred by about a cell, each further level a
    Gaussian pyrDown), so a pixel reads the area it covers, not one label cell: borders are graded,
    not stair-stepped, and far lines fade instead of flickering. Around the track stands a wall as tall
    as the camera (in the map: every ground ray that passes it lands beyond it and shows it), so its
    top is the horizon from any distance and costs nothing per frame; the sky is above."""

    def __init__(self, tmap: TrackMap, width: int = 160, height: int = 120, grayscale: bool = True,
                 pose: CameraPose | None = None, appearance: Appearance | None = None,
                 levels: int = 5, seed: int = 0) -> None:
        self.tmap = tmap
        self.width, self.height, self.grayscale = width, height, grayscale
        self.levels = levels
        rng = np.random.default_rng(seed)
        tex = rng.normal(0.0, 1.0, (tmap.h, tmap.w)).astype(np.float32)
        self._texture = cv2.GaussianBlur(tex, (0, 0), 1.5) * 2.0  # blotchy, not per-cell noise
        grain = rng.normal(0.0, 1.0, (tmap.h, tmap.w)).astype(np.float32)
        # asphalt: fine grain on the road only (the prefilter below softens it to about 1 cm)
        self._grain = grain * (tmap.labels != BACKGROUND)
        self._world: dict[tuple[bool, float], tuple[np.ndarray, tuple[int, int, int, int]]] = {}
        self.appearance = appearance or Appearance()
        self.pose = pose or CameraPose()
        self._build_atlas()
        self.set_pose(self.pose, force=True)

    # -- configuration (per episode) -----------------------------------------------------
    def set_pose(self, pose: CameraPose, force: bool = False) -> None:
        if not force and pose == self.pose:
            return
        rebuild = pose.grayscale != self.pose.grayscale
        self.pose = pose
        if rebuild:
            self._build_atlas()
        cam = CameraModel(self.width, self.height, pose)
        self.first_row = cam.first_row
        res = self.tmap.res
        # the level whose (prefiltered) cells are about the pixel's footprint
        # (level -1: the map upsampled to half cells, for the near rows, whose pixels are smaller than a cell)
        level = np.floor(np.log2(np.maximum(cam.footprint / res / FOOTPRINT_PER_CELL, 0.5)))
        level = np.clip(level, -1, self.levels - 1).astype(np.int64)
        scale = (0.5**level / res).astype(np.float32)  # metres -> cells of the pixel's level
        # pyrDown centres level-k cell j on level-0 cell 2^k j: shift so that floor() picks the nearest
        # (the upsampled level's cells tile level 0's exactly: no shift)
        bias = np.where(level > 0, 0.5 - 0.5 * 0.5**level, 0.0).astype(np.float32)
        w = np.array([d[0] for d in self._dims])[level + 1]
        h = np.array([d[1] for d in self._dims])[level + 1]
        self._stride = w.astype(np.int32)
        self._offset = self._offsets[level + 1].astype(np.int32)
        n = cam.gx.size
        # per frame: [wx; wy] = [[c, -s, ox, 1], [s, c, oy, 1]] @ [gx*scale; gy*scale; scale; bias]
        self._P = np.ascontiguousarray(np.stack([cam.gx * scale, cam.gy * scale, scale, bias]), dtype=np.float32)
        self._max2 = np.ascontiguousarray(np.stack([w - 1, h - 1]), dtype=np.float32)
        self._zero2 = np.zeros((2, n), np.float32)
        self._M = np.zeros((2, 4), np.float32)
        self._M[:, 3] = 1.0
        self._W = np.empty((2, n), np.float32)
        self._Wi = np.empty((2, n), np.int32)
        self._idx = np.empty(n, np.int32)
        self._make_sky()
        self._objects = ObjectPainter(self.width, self.height, pose)

    def set_appearance(self, app: Appearance) -> None:
        if app != self.appearance:
            self.appearance = app
            self._build_atlas()
            self._make_sky()

    def _world_labels(self) -> tuple[np.ndarray, tuple[int, int, int, int]]:
        """The map's labels with WALL beyond the wall rectangle, and the rectangle in map cells
        (x0, y0, x1, y1). Cached per wall distance."""
        app, tm = self.appearance, self.tmap
        d = min(max(app.wall_distance_m, 0.05), 0.9) if app.walls else -1.0
        key = (app.walls, round(d, 3))
        hit = self._world.get(key)
        if hit is not None:
            return hit
        labels = tm.labels
        x0 = y0 = 0
        x1, y1 = tm.w, tm.h
        if app.walls:
            bx0, by0, bx1, by1 = tm.track.bounds
            x0 = max(int(round((bx0 - d - tm.x0) / tm.res)), 1)
            y0 = max(int(round((by0 - d - tm.y0) / tm.res)), 1)
            x1 = min(int(round((bx1 + d - tm.x0) / tm.res)), tm.w - 1)
            y1 = min(int(round((by1 + d - tm.y0) / tm.res)), tm.h - 1)
            labels = labels.copy()
            labels[:y0], labels[y1:], labels[:, :x0], labels[:, x1:] = WALL, WALL, WALL, WALL
        if len(self._world) > 8:
            self._world.clear()
        self._world[key] = hit = (labels, (x0, y0, x1, y1))
        return hit

    def _build_atlas(self) -> None:
        """Textured map and its mip levels (-1 .. levels-1), concatenated into one flat array."""
        app = self.appearance
        labels, (x0, y0, x1, y1) = self._world_labels()
        pal = app.palette()
        tex = cv2.scaleAdd(self._grain, app.road_grain * app.gain, self._texture * (app.texture_noise * app.gain))
        if app.walls:  # the wall is plain
            tex[:y0], tex[y1:], tex[:, :x0], tex[:, x1:] = 0.0, 0.0, 0.0, 0.0
        if self.grayscale:
            g = self.pose.grayscale
            lut = np.zeros(256, np.float32)
            lut[: len(pal)] = pal @ np.array(g.bgr_weights, np.float32) + g.offset
        else:
            lut = np.zeros((1, 256, 3), np.float32)
            lut[0, : len(pal)] = pal
            labels, tex = cv2.merge([labels] * 3), cv2.merge([tex] * 3)
        img = np.maximum(cv2.add(tex, cv2.LUT(labels, lut)), 0.0)
        sharp = cv2.convertScaleAbs(img)  # saturates to uint8
        # the prefilter: a pixel reading level 0 covers about a cell, so it sees the cell's neighbourhood
        mips = [cv2.convertScaleAbs(cv2.GaussianBlur(img, (3, 3), PREFILTER_SIGMA)) if PREFILTER_SIGMA > 0 else sharp]
        for _ in range(1, self.levels):
            mips.append(cv2.pyrDown(mips[-1]))
        h0, w0 = sharp.shape[:2]
        # level -1 (pixels smaller than a cell): the raster itself, bilinearly upsampled
        mips.insert(0, cv2.resize(sharp, (2 * w0, 2 * h0), interpolation=cv2.INTER_LINEAR))
        ch = () if self.grayscale else (3,)
        flats = [m.reshape(-1, *ch) for m in mips]
        self._dims = [(m.shape[1], m.shape[0]) for m in mips]
        self._offsets = np.cumsum([0] + [len(f) for f in flats[:-1]])
        self._atlas = np.concatenate(flats)

    def _colour(self, bgr: np.ndarray) -> np.ndarray:
        """Lit BGR colours (..., 3) -> what the frame holds: grey by the camera's formula, or BGR."""
        bgr = np.clip(bgr, 0, 255)
        if self.grayscale:
            g = self.pose.grayscale
            return np.asarray(np.clip(bgr @ np.array(g.bgr_weights, np.float32) + g.offset, 0, 255))
        return np.asarray(bgr)

    def _make_sky(self) -> None:
        app, h, w, r0 = self.appearance, self.height, self.width, self.first_row
        self.frame = np.zeros((h, w) if self.grayscale else (h, w, 3), np.uint8)
        top = np.array(app.sky_top, np.float32) * app.gain + app.bias
        hor = np.array(app.sky_horizon, np.float32) * app.gain + app.bias
        a = np.linspace(0.0, 1.0, max(r0, 1), dtype=np.float32)[:, None]
        sky = np.rint(self._colour(top * (1 - a) + hor * a)[:r0]).astype(np.uint8)
        self.frame[:r0] = sky[:, None] if self.grayscale else sky[:, None, :]
        self._ground = self.frame[r0:].reshape(-1, *(() if self.grayscale else (3,)))

    # -- per frame -----------------------------------------------------------------------
    def render(self, x: float, y: float, yaw: float) -> np.ndarray:
        """The frame for a car at (x, y, yaw). Returns an internal buffer: copy to keep it."""
        tm, M, W, Wi, idx = self.tmap, self._M, self._W, self._Wi, self._idx
        c, s = math.cos(yaw), math.sin(yaw)
        M[0, 0], M[0, 1], M[1, 0], M[1, 1] = c, -s, s, c
        M[0, 2], M[1, 2] = x - tm.x0, y - tm.y0  # metres; the scale row turns them into cells
        np.matmul(M, self._P, out=W)  # each pixel's world point, in cells of its mip level (bias included)
        np.maximum(W, self._zero2, out=W)  # clamp into the map: its margin is the wall (or the floor)
        np.minimum(W, self._max2, out=W)
        Wi[...] = W
        np.multiply(Wi[1], self._stride, out=idx)
        idx += Wi[0]
        idx += self._offset
        np.take(self._atlas, idx, axis=0, out=self._ground)
        return self.frame

    def draw_objects(self, frame: np.ndarray, x: float, y: float, yaw: float, objects: Sequence[Any]) -> None:
        """Paint obstacles and cars (anything with kind, x, y, yaw) into a rendered frame, in place."""
        self._objects.draw(frame, x, y, yaw, objects, self.appearance, self.grayscale)


# -- solid objects in the camera view ---------------------------------------------------------
# a cuboid's corners: bit 0 = +x, bit 1 = +y, bit 2 = top; faces +x, -x, +y, -y, top
_FACES = ((1, 3, 7, 5), (0, 4, 6, 2), (2, 6, 7, 3), (0, 1, 5, 4), (4, 5, 7, 6))
_SHADE = np.array([0.8, 0.7, 0.6, 0.55, 1.0], np.float32)  # fixed light: top brightest
_NEAR = 0.01  # m in front of the lens: polygons are clipped here


FAR_DETAIL_M2 = 3.0**2  # beyond this a car is one box (a few pixels: its shape would not show)
_CUBOIDS: dict[tuple[str, bool], tuple[tuple[float, float, float, float, float, str], ...]] = {}


def object_cuboids(kind: str, simple: bool = False) -> tuple[tuple[float, float, float, float, float, str], ...]:
    """(length, width, forward offset, z bottom, z top, colour key) of the boxes an object is drawn as."""
    hit = _CUBOIDS.get((kind, simple))
    if hit is not None:
        return hit
    from deepracer.sim.objects import BOX_SIZE_M, CAR_FOOTPRINT_M, CAR_HEIGHT_M

    if kind == "box":
        ln, wd, ht = BOX_SIZE_M
        out: tuple[tuple[float, float, float, float, float, str], ...] = ((ln, wd, 0.0, 0.0, ht, "box"),)
    else:
        ln, wd = CAR_FOOTPRINT_M
        shell = "bot_car" if kind == "bot_car" else "car"
        if simple:
            out = ((ln, wd, 0.0, 0.015, CAR_HEIGHT_M, shell),)
        else:
            out = ((ln, wd, 0.0, 0.015, 0.085, "chassis"), (ln * 0.8, wd * 0.9, -0.02, 0.085, CAR_HEIGHT_M, shell))
    _CUBOIDS[(kind, simple)] = out
    return out


class ObjectPainter:
    """Projects cuboids through the camera model (pinhole or fisheye) and fills their visible faces,
    far objects first, so near objects hide far ones and every object hides the road behind it."""

    def __init__(self, width: int, height: int, pose: CameraPose) -> None:
        self.width, self.height, self.pose = width, height, pose
        self.half = math.radians(pose.hfov_deg) / 2
        self.lens = pose.lens(width, height)
        self.plain = _is_plain_pinhole(self.lens)  # straight edges stay straight: project corners only
        self.fisheye = self.lens.distortion_model.is_fisheye
        th = math.radians(pose.pitch_deg)
        # car frame (x fwd, y left, z up) -> camera (x right, y down, z forward), pitched down by th
        self.cam_yaw = math.radians(pose.yaw_deg)
        # the widest angle from the optical axis that can land in the image (cull beyond it)
        self.cull_angle = min(math.pi, math.hypot(self.half, self.half * height / width) + 0.35)
        self._cache: dict[str, tuple[Any, ...]] = {}
        self._lim = 4.0 * max(width, height)  # keeps fixed-point pixel coordinates in range
        self._sin_th, self._cos_th = math.sin(th), math.cos(th)

    def draw(self, frame: np.ndarray, x: float, y: float, yaw: float, objects: Sequence[Any],
             app: Appearance, grayscale: bool) -> None:
        p = self.pose
        psi = yaw + self.cam_yaw
        c, s = math.cos(psi), math.sin(psi)
        cx = x + p.forward_m * c - p.lateral_m * s  # the lens over the ground
        cy = y + p.forward_m * s + p.lateral_m * c
        r2 = p.max_range_m * p.max_range_m
        todo = []
        for o in objects:
            dx, dy = o.x - cx, o.y - cy
            fx, fy = dx * c + dy * s, -dx * s + dy * c  # in the lens's heading frame (x ahead, y left)
            d2 = fx * fx + fy * fy
            if d2 > r2 or fx < -0.4 or (fx > 0.4 and abs(math.atan2(fy, fx)) > self.cull_angle):
                continue
            todo.append((d2, fx, fy, o.yaw - psi, str(o.kind)))
        if not todo:
            return
        todo.sort(key=lambda t: -t[0])  # far first: near objects are painted over them
        shades = self._palette(app, grayscale)
        st, ct, h = self._sin_th, self._cos_th, p.height_m
        # fixed-point pixel coordinates (4 fractional bits), clamped to keep them in range
        ln = self.lens
        fx16, fy16, u16, v16, lim16 = 16 * ln.fx, 16 * ln.fy, 16 * ln.cx, 16 * ln.cy, 16 * self._lim
        # a handful of cuboids: plain float arithmetic beats numpy's per-call overhead here
        for d2, fx, fy, rel, kind in todo:
            rc, rs = math.cos(rel), math.sin(rel)
            parts = object_cuboids(kind) if d2 < FAR_DETAIL_M2 else object_cuboids(kind, simple=True)
            for (ln, wd, off, z0, z1, key) in parts:
                col = shades[key]
                ox, oy = fx + off * rc, fy + off * rs  # the cuboid's centre, lens frame
                hx, hy = 0.5 * ln, 0.5 * wd
                # faces +x, -x, +y, -y, top: seen when the lens is on the outer side
                along, across = ox * rc + oy * rs, -ox * rs + oy * rc
                seen = [j for j, d in enumerate((-along - hx, along - hx, -across - hy, across - hy, h - z1)) if d > 0]
                if not seen:
                    continue
                cam = []
                za, zb = z0 - h, z1 - h
                for i in range(8):
                    lx = hx if i & 1 else -hx
                    ly = hy if i & 2 else -hy
                    px = ox + lx * rc - ly * rs
                    pz = zb if i & 4 else za
                    cam.append((-(oy + lx * rs + ly * rc), -px * st - pz * ct, px * ct - pz * st))
                if not self.plain or min(q[2] for q in cam) < _NEAR:
                    for j in seen:
                        poly = np.array([cam[i] for i in _FACES[j]])
                        if poly[:, 2].min() < _NEAR:
                            poly = _clip_near(poly)
                            if len(poly) < 3:
                                continue
                        pix = self._project(poly)
                        if len(pix) >= 3:
                            cv2.fillPoly(frame, [pix], col[j], lineType=cv2.LINE_8, shift=4)
                    continue
                pix = []
                for xr, yd, zf in cam:
                    u, v = xr * fx16 / zf + u16, yd * fy16 / zf + v16
                    if not (-lim16 < u < lim16 and -lim16 < v < lim16):
                        u, v = min(max(u, -lim16), lim16), min(max(v, -lim16), lim16)
                    pix.append((int(u), int(v)))
                for j in seen:
                    a, b_, c_, d_ = _FACES[j]
                    cv2.fillConvexPoly(frame, np.array((pix[a], pix[b_], pix[c_], pix[d_]), np.int32), col[j],
                                       lineType=cv2.LINE_8, shift=4)

    def _project(self, poly: np.ndarray) -> np.ndarray:
        """Camera-frame points -> fixed-point pixel coordinates (cv2: pixel i's centre is i)."""
        if not self.plain:  # curved edges: subdivide each edge before mapping
            nxt = np.roll(poly, -1, axis=0)
            t = np.linspace(0.0, 1.0, 8, endpoint=False)[None, :, None]
            poly = (poly[:, None, :] * (1 - t) + nxt[:, None, :] * t).reshape(-1, 3)
            if not self.fisheye:  # a pinhole's distortion polynomial is only meaningful in front
                poly = poly[poly[:, 2] >= _NEAR]
                if len(poly) < 3:
                    return np.zeros((0, 2), np.int32)
        uv = np.clip(project_points(self.lens, poly), -self._lim, self._lim)
        return np.round(uv * 16).astype(np.int32)

    def _palette(self, app: Appearance, grayscale: bool) -> dict[str, list[tuple[float, ...]]]:
        """Per colour key, the cv2 colour of each of the five faces (shaded by a fixed light)."""
        key = "g" if grayscale else "c"
        hit = self._cache.get(key)
        if hit is not None and hit[0] is app:
            return hit[1]
        pal = {}
        for name in ("box", "bot_car", "car", "chassis"):
            col = np.clip(np.array(getattr(app, name), np.float32) * app.gain + app.bias, 0, 255)
            faces = [col * v for v in _SHADE]
            pal[name] = [(float(f @ LUMA),) if grayscale else tuple(float(v) for v in f) for f in faces]
        self._cache[key] = (app, pal)
        return pal


def _clip_near(poly: np.ndarray) -> np.ndarray:
    """Sutherland-Hodgman against the plane z = _NEAR (keeps z >= _NEAR)."""
    out = []
    n = len(poly)
    for i in range(n):
        a, b = poly[i], poly[(i + 1) % n]
        ina, inb = a[2] >= _NEAR, b[2] >= _NEAR
        if ina:
            out.append(a)
        if ina != inb:
            t = (_NEAR - a[2]) / (b[2] - a[2])
            out.append(a + t * (b - a))
    return np.array(out) if out else np.empty((0, 3))


LUMA = np.array([0.114, 0.587, 0.299], np.float32)  # BGR -> grey


def randomize_appearance(rng: np.random.Generator, base: Appearance | None = None,
                         floor_like_road: float = 0.0) -> Appearance:
    """A plausible variation of the scene: lighting, colours, texture, and the world around the track.

    The world's draws (walls, road grain) come from a child generator, so the draws of `rng` itself
    stay what they were before the world existed (latency, speed gain follow them).
    `floor_like_road`: the share of scenes whose floor is given nearly the road's colour (a grey
    carpet or concrete), so that only the borders mark the track; drawn from a second child
    generator, and only when > 0, so that every other scene stays as it was."""
    base = base or Appearance()

    def jitter(c: tuple[int, int, int], amount: float) -> tuple[int, int, int]:
        return tuple(int(np.clip(v + rng.normal(0, amount), 0, 255)) for v in c)  # type: ignore[return-value]

    app = replace(
        base,
        background=tuple(int(v) for v in rng.integers(20, 200, 3)),  # any floor: carpet, concrete, grass
        road=jitter(base.road, 15),
        border=jitter(base.border, 15),
        center=jitter(base.center, 30),
        sky_top=tuple(int(v) for v in rng.integers(60, 255, 3)),
        sky_horizon=tuple(int(v) for v in rng.integers(60, 255, 3)),
        texture_noise=float(rng.uniform(0.0, 14.0)),
        gain=float(rng.uniform(0.6, 1.3)),
        bias=float(rng.normal(0.0, 12.0)),
    )
    world = rng.spawn(1)[0]
    app = replace(
        app,
        road_grain=float(world.uniform(0.0, 12.0)),
        walls=bool(world.random() < 0.85),  # sometimes an open floor to the horizon
        wall=tuple(int(v) for v in world.integers(30, 240, 3)),  # type: ignore[arg-type]
        wall_distance_m=float(world.uniform(0.2, 0.9)),
    )
    if floor_like_road > 0.0:
        hard = rng.spawn(1)[0]
        if hard.random() < floor_like_road:
            floor = np.asarray(app.road, np.float64) + hard.normal(0.0, 6.0) + hard.normal(0.0, 4.0, 3)
            app = replace(app, background=tuple(int(v) for v in np.clip(np.rint(floor), 0, 255)))  # type: ignore[arg-type]
    return app


def randomize_pose(rng: np.random.Generator, base: CameraPose | None = None) -> CameraPose:
    """The mount and lens jittered around `base` (a camera profile's, or the default): height, pitch,
    yaw, and the field of view (a calibrated lens: its focal lengths scaled to give that field of view)."""
    base = base or CameraPose()
    pose = replace(  # the draws' order is the randomisation's stream: keep it
        base,
        height_m=base.height_m + float(rng.normal(0, 0.01)),
        pitch_deg=base.pitch_deg + float(rng.normal(0, 2.0)),
        yaw_deg=base.yaw_deg + float(rng.normal(0, 1.5)),
        hfov_deg=base.hfov_deg + float(rng.normal(0, 3.0)),
    )
    hfov = pose.hfov_deg
    lens = base.intrinsics
    if lens is not None:
        if lens.distortion_model.is_fisheye:  # radius ~ f * angle
            k = base.hfov_deg / hfov
        else:  # half width ~ f * tan(half angle)
            k = math.tan(math.radians(base.hfov_deg) / 2) / math.tan(math.radians(min(hfov, 175.0)) / 2)
        pose = replace(pose, intrinsics=replace(lens, fx=lens.fx * k, fy=lens.fy * k, skew=lens.skew * k))
    return pose

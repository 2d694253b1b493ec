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

from deepracer.sim.trackmap import BACKGROUND, BORDER, CENTER, N_LABELS, ROAD, TrackMap


@dataclass(frozen=True)
class CameraPose:
    """Mounting of the camera on the car (from the rear-axle origin)."""

    forward_m: float = 0.12
    height_m: float = 0.12
    pitch_deg: float = 15.0  # down
    yaw_deg: float = 0.0  # left
    hfov_deg: float = 120.0  # the DeepRacer's wide lens
    max_range_m: float = 12.0
    projection: str = "pinhole"  # or "fisheye" (equidistant: pixel radius proportional to the angle)
    lateral_m: float = 0.0  # left of the car's axis (stereo cameras: ±0.03)


@dataclass(frozen=True)
class Appearance:
    """Colours (BGR) of the scene; randomised per episode for sim-to-real."""

    background: tuple[int, int, int] = (70, 110, 80)  # floor around the track
    road: tuple[int, int, int] = (45, 45, 45)
    border: tuple[int, int, int] = (235, 235, 235)
    center: tuple[int, int, int] = (40, 200, 230)  # yellow dashes
    sky_top: tuple[int, int, int] = (200, 170, 140)
    sky_horizon: tuple[int, int, int] = (225, 215, 205)
    texture_noise: float = 6.0  # std of a fixed noise texture on the ground, grey levels
    gain: float = 1.0  # lighting
    bias: float = 0.0
    box: tuple[int, int, int] = (70, 135, 190)  # cardboard obstacle
    bot_car: tuple[int, int, int] = (190, 110, 40)  # bot cars' shell
    car: tuple[int, int, int] = (40, 40, 200)  # another racer's shell (head-to-head)
    chassis: tuple[int, int, int] = (35, 35, 35)  # cars' chassis and wheels

    def palette(self) -> np.ndarray:
        p = np.zeros((N_LABELS, 3), np.float32)
        p[BACKGROUND], p[ROAD], p[BORDER], p[CENTER] = self.background, self.road, self.border, self.center
        return p * self.gain + self.bias


class CameraModel:
    """Per-pixel ground points (car frame, metres) and footprints for one pose and resolution."""

    def __init__(self, width: int, height: int, pose: CameraPose) -> None:
        self.width, self.height, self.pose = width, height, pose
        half = math.radians(pose.hfov_deg) / 2
        vv, uu = np.meshgrid(np.arange(height) + 0.5 - height / 2, np.arange(width) + 0.5 - width / 2,
                             indexing="ij")
        # ray in the camera frame: x right, y down, z forward
        if pose.projection == "pinhole":
            f = (width / 2) / math.tan(half)
            xr, yd, zf = uu / f, vv / f, np.ones_like(uu)
        elif pose.projection == "fisheye":
            f = (width / 2) / half
            r = np.hypot(uu, vv)
            theta = r / f
            k = np.sin(theta) / np.maximum(r, 1e-9)
            xr, yd, zf = uu * k, vv * k, np.cos(theta)
        else:
            raise ValueError(f"camera projection must be pinhole or fisheye, not {pose.projection!r}")
        th = math.radians(pose.pitch_deg)
        # car frame (x forward, y left, z up), the camera pitched down by th
        dfx = zf * math.cos(th) - yd * math.sin(th)
        dly = -xr
        dz = -zf * math.sin(th) - yd * math.cos(th)
        ground_rows = np.nonzero(np.all(dz < -1e-4, axis=1))[0]
        self.first_row = int(ground_rows[0]) if ground_rows.size else height  # sky above, ground below
        dfx, dly, dz = dfx[self.first_row:], dly[self.first_row:], dz[self.first_row:]
        t = pose.height_m / -dz
        rng = t * np.hypot(dfx, dly)
        t = np.where(rng > pose.max_range_m, t * pose.max_range_m / rng, t)
        gx, gy = pose.forward_m + t * dfx, pose.lateral_m + t * dly
        yaw = math.radians(pose.yaw_deg)
        gx, gy = gx * math.cos(yaw) - gy * math.sin(yaw), gx * math.sin(yaw) + gy * math.cos(yaw)
        self.gx, self.gy = gx.ravel(), gy.ravel()
        # ground footprint of a pixel: how far its neighbours' ground points are
        if gx.shape[0] > 1:
            d_row = np.hypot(*(np.gradient(a, axis=0) for a in (gx, gy)))
        else:
            d_row = np.zeros_like(gx)
        d_col = np.hypot(*(np.gradient(a, axis=1) for a in (gx, gy)))
        self.footprint = np.maximum(d_row, d_col).ravel()


class Renderer:
    """Renders frames for one track map; `set_appearance`/`set_pose` change the look."""

    def __init__(self, tmap: TrackMap, width: int = 160, height: int = 120, grayscale: bool = True,
                 pose: CameraPose | None = None, appearance: Appearance | None = None,
                 levels: int = 5, seed: int = 0) -> None:
        self.tmap = tmap
        self.width, self.height, self.grayscale = width, height, grayscale
        self.levels = levels
        tex = np.random.default_rng(seed).normal(0.0, 1.0, (tmap.h, tmap.w)).astype(np.float32)
        self._texture = cv2.GaussianBlur(tex, (0, 0), 1.5) * 2.0  # blotchy, not per-cell noise
        self._labels3: np.ndarray | None = None
        self._texture3: np.ndarray | None = None
        self.appearance = appearance or Appearance()
        self._build_atlas()
        self.set_pose(pose or CameraPose(), force=True)

    # -- configuration (per episode) -----------------------------------------------------
    def set_pose(self, pose: CameraPose, force: bool = False) -> None:
        if not force and pose == self.pose:
            return
        self.pose = pose
        cam = CameraModel(self.width, self.height, pose)
        self.first_row = cam.first_row
        res = self.tmap.res
        level = np.floor(np.log2(np.maximum(cam.footprint / res / 1.5, 1.0)))
        level = np.clip(level, 0, self.levels - 1).astype(np.int64)
        scale = (0.5**level / res).astype(np.float32)  # metres -> cells of the pixel's level
        self._gx = (cam.gx * scale).astype(np.float32)
        self._gy = (cam.gy * scale).astype(np.float32)
        self._scale = scale
        # pyrDown centres level-k cell j on level-0 cell 2^k j: shift so that floor() picks the nearest
        self._bias = (0.5 - 0.5 * 0.5**level).astype(np.float32)
        w = np.array([d[0] for d in self._dims])
        h = np.array([d[1] for d in self._dims])
        self._wmax = (w[level] - 1).astype(np.float32)
        self._hmax = (h[level] - 1).astype(np.float32)
        self._stride = w[level].astype(np.int32)
        self._offset = self._offsets[level].astype(np.int32)
        n = self._gx.size
        # per frame: [wx; wy] = [[c, -s, ox], [s, c, oy]] @ [gx; gy; scale] + bias (one small matmul)
        self._P = np.ascontiguousarray(np.stack([self._gx, self._gy, scale]), dtype=np.float32)  # (3, n)
        self._bias2 = np.ascontiguousarray(np.stack([self._bias, self._bias]), dtype=np.float32)
        self._max2 = np.ascontiguousarray(np.stack([self._wmax, self._hmax]), dtype=np.float32)
        self._zero2 = np.zeros((2, n), np.float32)
        self._M = np.zeros((2, 3), np.float32)
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

    def _build_atlas(self) -> None:
        """Textured map and its mip levels, concatenated into one flat array."""
        app = self.appearance
        pal = app.palette()
        labels = self.tmap.labels
        if self.grayscale:
            lut = np.zeros(256, np.float32)
            lut[: len(pal)] = pal @ LUMA
            texture = self._texture
        else:
            lut = np.zeros((1, 256, 3), np.float32)
            lut[0, : len(pal)] = pal
            if self._labels3 is None:  # the colour LUT wants 3-channel labels and texture
                self._labels3 = cv2.merge([labels] * 3)
                self._texture3 = cv2.merge([self._texture] * 3)
            labels, texture = self._labels3, self._texture3
        img = cv2.scaleAdd(texture, app.texture_noise * app.gain, cv2.LUT(labels, lut))  # all in C
        mips = [cv2.convertScaleAbs(np.maximum(img, 0.0, out=img))]  # saturates to uint8
        for _ in range(1, self.levels):
            mips.append(cv2.pyrDown(mips[-1]))
        ch = () if self.grayscale else (3,)
        flats = [m.reshape(-1, *ch) for m in mips]
        self._dims = [(m.shape[1], m.shape[0]) for m in mips]
        self._offsets = np.cumsum([0] + [len(f) for f in flats[:-1]])
        self._atlas = np.concatenate(flats)

    def _make_sky(self) -> None:
        app, h, w, r0 = self.appearance, self.height, self.width, self.first_row
        self.frame = np.zeros((h, w) if self.grayscale else (h, w, 3), np.uint8)
        top = np.array(app.sky_top, np.float32) * app.gain + app.bias
        hor = np.array(app.sky_horizon, np.float32) * app.gain + app.bias
        a = np.linspace(0.0, 1.0, max(r0, 1), dtype=np.float32)[:, None]
        sky = np.clip(top * (1 - a) + hor * a, 0, 255)[:r0]
        if self.grayscale:
            self.frame[:r0] = (sky @ LUMA)[:, None]
        else:
            self.frame[:r0] = sky[:, None, :]
        self._ground = self.frame[r0:].reshape(-1, *(() if self.grayscale else (3,)))

    # -- per frame -----------------------------------------------------------------------
    def render(self, x: float, y: float, yaw: float) -> np.ndarray:
        """The frame for a car at (x, y, yaw). Returns an internal buffer: copy to keep it."""
        tm, M, W, Wi, idx = self.tmap, self._M, self._W, self._Wi, self._idx
        c, s = math.cos(yaw), math.sin(yaw)
        M[0, 0], M[0, 1], M[1, 0], M[1, 1] = c, -s, s, c
        M[0, 2], M[1, 2] = x - tm.x0, y - tm.y0  # metres; the scale row turns them into cells
        np.matmul(M, self._P, out=W)  # each pixel's world point, in cells of its mip level
        W += self._bias2
        np.maximum(W, self._zero2, out=W)  # clamp into the map: its margin is background
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
        self.fisheye = pose.projection == "fisheye"
        self.f = (width / 2) / (self.half if self.fisheye else math.tan(self.half))
        th = math.radians(pose.pitch_deg)
        # car frame (x fwd, y left, z up) -> camera (x right, y down, z forward), pitched down by th
        self.cam_yaw = math.radians(pose.yaw_deg)
        # the widest angle from the optical axis that can land in the image (cull beyond it)
        self.cull_angle = min(math.pi, math.hypot(self.half, self.half * height / width) + 0.35)
        self._cache: dict[str, tuple[Any, ...]] = {}
        self._lim = 4.0 * max(width, height)  # keeps fixed-point pixel coordinates in range
        self._centre = np.array([width / 2 - 0.5, height / 2 - 0.5])  # cv2: pixel i's centre is i
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
        f16, u16, v16, lim16 = 16 * self.f, 16 * float(self._centre[0]), 16 * float(self._centre[1]), 16 * self._lim
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
                if self.fisheye or min(q[2] for q in cam) < _NEAR:
                    for j in seen:
                        poly = np.array([cam[i] for i in _FACES[j]])
                        if poly[:, 2].min() < _NEAR:
                            poly = _clip_near(poly)
                            if len(poly) < 3:
                                continue
                        cv2.fillPoly(frame, [self._project(poly)], col[j], lineType=cv2.LINE_8, shift=4)
                    continue
                pix = []
                for xr, yd, zf in cam:
                    k = f16 / zf
                    u, v = xr * k + u16, yd * k + v16
                    if not (-lim16 < u < lim16 and -lim16 < v < lim16):
                        u, v = min(max(u, -lim16), lim16), min(max(v, -lim16), lim16)
                    pix.append((int(u), int(v)))
                for j in seen:
                    a, b_, c_, d_ = _FACES[j]
                    cv2.fillConvexPoly(frame, np.array((pix[a], pix[b_], pix[c_], pix[d_]), np.int32), col[j],
                                       lineType=cv2.LINE_8, shift=4)

    def _project(self, poly: np.ndarray) -> np.ndarray:
        """Camera-frame points -> fixed-point pixel coordinates (cv2: pixel i's centre is i)."""
        if self.fisheye:  # curved edges: subdivide each edge before mapping
            nxt = np.roll(poly, -1, axis=0)
            t = np.linspace(0.0, 1.0, 8, endpoint=False)[None, :, None]
            poly = (poly[:, None, :] * (1 - t) + nxt[:, None, :] * t).reshape(-1, 3)
            r = np.hypot(poly[:, 0], poly[:, 1])
            theta = np.arctan2(r, poly[:, 2])
            k = self.f * theta / np.maximum(r, 1e-12)
            u, v = poly[:, 0] * k, poly[:, 1] * k
        else:
            u = self.f * poly[:, 0] / poly[:, 2]
            v = self.f * poly[:, 1] / poly[:, 2]
        u = np.clip(u + self.width / 2 - 0.5, -self._lim, self._lim)
        v = np.clip(v + self.height / 2 - 0.5, -self._lim, self._lim)
        return np.round(np.stack([u, v], axis=1) * 16).astype(np.int32)

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


def randomize_appearance(rng: np.random.Generator, base: Appearance | None = None) -> Appearance:
    """A plausible variation of the scene: lighting, colours, texture."""
    base = base or Appearance()

    def jitter(c: tuple[int, int, int], amount: float) -> tuple[int, int, int]:
        return tuple(int(np.clip(v + rng.normal(0, amount), 0, 255)) for v in c)  # type: ignore[return-value]

    return replace(
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


def randomize_pose(rng: np.random.Generator, base: CameraPose | None = None) -> CameraPose:
    base = base or CameraPose()
    return replace(
        base,
        height_m=base.height_m + float(rng.normal(0, 0.01)),
        pitch_deg=base.pitch_deg + float(rng.normal(0, 2.0)),
        yaw_deg=base.yaw_deg + float(rng.normal(0, 1.5)),
        hfov_deg=base.hfov_deg + float(rng.normal(0, 3.0)),
    )

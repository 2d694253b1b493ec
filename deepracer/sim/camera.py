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
from dataclasses import dataclass, replace

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

    def palette(self) -> np.ndarray:
        p = np.zeros((N_LABELS, 3), np.float32)
        p[BACKGROUND], p[ROAD], p[BORDER], p[CENTER] = self.background, self.road, self.border, self.center
        return p * self.gain + self.bias


class CameraModel:
    """Per-pixel ground points (car frame, metres) and footprints for one pose and resolution."""

    def __init__(self, width: int, height: int, pose: CameraPose) -> None:
        self.width, self.height, self.pose = width, height, pose
        f = (width / 2) / math.tan(math.radians(pose.hfov_deg) / 2)
        u = np.arange(width) + 0.5 - width / 2
        v = np.arange(height) + 0.5 - height / 2
        th = math.radians(pose.pitch_deg)
        # ray = axis + (u/f)*right + (v/f)*down, axis pitched down by th:
        # axis = (cos th, 0, -sin th), right = (0, -1, 0), down = (-sin th, 0, -cos th)
        row_dz = -math.sin(th) - (v / f) * math.cos(th)
        below = np.nonzero(row_dz < -1e-4)[0]
        self.first_row = int(below[0]) if below.size else height
        vv, uu = np.meshgrid(v[self.first_row:], u, indexing="ij")
        dfx = math.cos(th) - (vv / f) * math.sin(th)
        dly = -uu / f
        dz = -math.sin(th) - (vv / f) * math.cos(th)
        t = pose.height_m / -dz
        rng = t * np.hypot(dfx, dly)
        t = np.where(rng > pose.max_range_m, t * pose.max_range_m / rng, t)
        gx, gy = pose.forward_m + t * dfx, t * dly
        yaw = math.radians(pose.yaw_deg)
        self.gx = (gx * math.cos(yaw) - gy * math.sin(yaw)).ravel()
        self.gy = (gx * math.sin(yaw) + gy * math.cos(yaw)).ravel()
        # ground footprint of one pixel: range / f, stretched by the grazing angle
        norm = np.sqrt(dfx**2 + dly**2 + dz**2)
        grazing = np.maximum(-dz / norm, 1e-3)
        self.footprint = ((t * norm / f) / grazing).ravel()


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
        self._wx, self._wy, self._tmp = (np.empty(n, np.float32) for _ in range(3))
        self._ix, self._iy = np.empty(n, np.int32), np.empty(n, np.int32)
        self._make_sky()

    def set_appearance(self, app: Appearance) -> None:
        if app != self.appearance:
            self.appearance = app
            self._build_atlas()
            self._make_sky()

    def _build_atlas(self) -> None:
        """Textured map and its mip levels, concatenated into one flat array."""
        app = self.appearance
        pal = app.palette()
        noise = app.texture_noise * app.gain * self._texture
        if self.grayscale:
            pal = pal @ LUMA
            img = pal[self.tmap.labels] + noise
        else:
            img = pal[self.tmap.labels] + noise[..., None]
        mips = [np.clip(img, 0, 255).astype(np.uint8)]
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
        tm = self.tmap
        c, s = math.cos(yaw), math.sin(yaw)
        ox, oy = x - tm.x0, y - tm.y0  # metres; _scale turns them into cells
        wx, wy, tmp, ix, iy = self._wx, self._wy, self._tmp, self._ix, self._iy
        # world position in cells of each pixel's mip level: scale * (origin) + R @ g
        np.multiply(self._scale, ox, out=wx)
        wx += self._bias
        np.multiply(self._gx, c, out=tmp)
        wx += tmp
        np.multiply(self._gy, s, out=tmp)
        wx -= tmp
        np.multiply(self._scale, oy, out=wy)
        wy += self._bias
        np.multiply(self._gx, s, out=tmp)
        wy += tmp
        np.multiply(self._gy, c, out=tmp)
        wy += tmp
        np.clip(wx, 0, self._wmax, out=wx)  # the map's margin is background
        np.clip(wy, 0, self._hmax, out=wy)
        ix[...] = wx
        iy[...] = wy
        iy *= self._stride
        iy += ix
        iy += self._offset
        np.take(self._atlas, iy, axis=0, out=self._ground)
        return self.frame


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

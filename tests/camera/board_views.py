"""Chessboard views rendered through a known camera (pinhole with distortion, or fisheye).

Every pixel is traced back through the lens model (the exact inverse of cv2.projectPoints /
cv2.fisheye.projectPoints), intersected with the board plane and coloured by the square it hits,
with 2x2 supersampling, a little blur and sensor noise: the images a camera would take.

Also a script, for the figures in docs/camera-calibration.md:
    python tests/camera/board_views.py OUT_DIR [--model pinhole|fisheye] [--views N]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from deepracer.camera_profile import DistortionModel, Intrinsics
from deepracer.hardware.camera_calibration import Board, BoardKind, board_image

# Ground truth of the tests: a 640x480 camera with noticeable barrel distortion, and a wide fisheye.
PINHOLE = Intrinsics(640, 480, 520.0, 515.0, 322.5, 236.0, DistortionModel.PLUMB_BOB,
                     (-0.28, 0.09, 0.0008, -0.0005, 0.0))
FISHEYE = Intrinsics(640, 480, 235.0, 233.0, 318.0, 242.5, DistortionModel.EQUIDISTANT,
                     (-0.03, 0.012, -0.004, 0.0006))


@dataclass(frozen=True)
class Pose:
    rvec: np.ndarray  # board -> camera
    tvec: np.ndarray


def project(intr: Intrinsics, pts: np.ndarray, pose: Pose) -> np.ndarray:
    if intr.distortion_model.is_fisheye:
        out, _ = cv2.fisheye.projectPoints(pts.reshape(-1, 1, 3), pose.rvec, pose.tvec, intr.matrix, intr.dist)
    else:
        out, _ = cv2.projectPoints(pts, pose.rvec, pose.tvec, intr.matrix, intr.dist)
    return out.reshape(-1, 2)


def random_poses(intr: Intrinsics, board: Board, n: int, seed: int = 0, margin_px: float = 25.0) -> list[Pose]:
    """Board poses spread over the image (centre and edges), distances and tilts; the whole paper
    (board plus a one-square white margin) inside the image."""
    rng = np.random.default_rng(seed)
    sq = board.square_m
    paper = np.array([[-2 * sq, -2 * sq, 0], [(board.cols + 1) * sq, -2 * sq, 0],
                      [(board.cols + 1) * sq, (board.rows + 1) * sq, 0], [-2 * sq, (board.rows + 1) * sq, 0]])
    centre = np.array([(board.cols - 1) * sq / 2, (board.rows - 1) * sq / 2, 0.0])
    poses: list[Pose] = []
    tries = 0
    fisheye = intr.distortion_model.is_fisheye
    while len(poses) < n:
        tries += 1
        assert tries < 20000, "cannot place the board"
        k = len(poses)
        # aim: a grid of targets over the image, so the edges (where distortion shows) are covered
        gx, gy = (k % 4) / 3.0, ((k // 4) % 3) / 2.0
        dist = rng.uniform(0.2, 0.3) if fisheye else rng.uniform(0.38, 0.6)  # fisheye: near, or the board is tiny
        half = 0.5 * intr.fx * (board.cols + 3) * sq / dist  # about half the paper's width in pixels
        u = intr.width / 2 + (gx - 0.5) * max(intr.width - 2 * (half + margin_px), 0) + rng.normal(0, 15)
        v = intr.height / 2 + (gy - 0.5) * max(intr.height - 2 * (0.75 * half + margin_px), 0) + rng.normal(0, 15)
        ray = intr.rays(np.array([[u, v]]))[0]
        tilt = np.radians([rng.uniform(-35, 35), rng.uniform(-35, 35), rng.uniform(-25, 25)])
        R = cv2.Rodrigues(np.array([tilt[0], 0, 0]))[0] @ cv2.Rodrigues(np.array([0, tilt[1], 0]))[0] \
            @ cv2.Rodrigues(np.array([0, 0, tilt[2]]))[0]
        t = ray * dist - R @ centre
        if R[2, 2] < 0.3:  # the board faces the camera (its z axis points away, as OpenCV expects)
            continue
        corners_cam = (R @ paper.T).T + t
        if np.any(corners_cam[:, 2] < 0.1):
            continue
        if fisheye:  # keep the board within 75° of the axis, where the fisheye model is well defined
            ang = np.degrees(np.arccos(corners_cam[:, 2] / np.linalg.norm(corners_cam, axis=1)))
            if ang.max() > 75:
                continue
        pose = Pose(cv2.Rodrigues(R)[0].ravel(), t)
        img = project(intr, paper, pose)
        if (img[:, 0].min() < margin_px or img[:, 1].min() < margin_px or img[:, 0].max() > intr.width - margin_px
                or img[:, 1].max() > intr.height - margin_px):
            continue
        poses.append(pose)
    return poses


class Renderer:
    def __init__(self, intr: Intrinsics, supersample: int = 2) -> None:
        self.intr, self.ss = intr, supersample
        off = (np.arange(supersample) + 0.5) / supersample - 0.5
        uu = (np.arange(intr.width)[:, None] + off[None, :]).ravel()
        vv = (np.arange(intr.height)[:, None] + off[None, :]).ravel()
        V, U = np.meshgrid(vv, uu, indexing="ij")
        rays = intr.rays(np.column_stack([U.ravel(), V.ravel()]), check=False)  # (H*ss * W*ss, 3)
        self._d = [np.ascontiguousarray(rays[:, i], np.float32) for i in range(3)]

    def _texture(self, board: Board) -> tuple[np.ndarray, float, int]:
        dpi = 48 / (board.square_m / 0.0254)  # 48 texels per square
        texture = board_image(board, dpi)
        per_square = board.square_m / 0.0254 * dpi
        return texture, per_square, int(round(0.5 * per_square))

    def render(self, board: Board, pose: Pose, seed: int = 0, noise: float = 2.0, blur: float = 0.6) -> np.ndarray:
        R = cv2.Rodrigues(np.asarray(pose.rvec, float))[0]
        t = np.asarray(pose.tvec, float)
        dx, dy, dz = self._d

        def dot(v):  # rays . v, column by column (float32: fast)
            return np.float32(v[0]) * dx + np.float32(v[1]) * dy + np.float32(v[2]) * dz

        n = R[:, 2]
        denom = dot(n)
        s = np.float32(n @ t) / np.where(np.abs(denom) > 1e-9, denom, np.float32(1e-9))
        # board coordinates R^T (s d - t)
        x = (s * dot(R[:, 0]) - np.float32(R[:, 0] @ t)) / np.float32(board.square_m)
        y = (s * dot(R[:, 1]) - np.float32(R[:, 1] @ t)) / np.float32(board.square_m)
        # squares from -1 .. cols (inner corners at 0..cols-1), white paper one square around them
        on_board = (x >= -1) & (x < board.cols) & (y >= -1) & (y < board.rows)
        on_paper = (x >= -2) & (x < board.cols + 1) & (y >= -2) & (y < board.rows + 1)
        x, y = np.nan_to_num(x, nan=-1e6), np.nan_to_num(y, nan=-1e6)  # rays parallel to the board
        if board.kind is BoardKind.CHARUCO:  # the printed board itself, looked up (nearest texel)
            texture, per_square, margin = self._texture(board)
            sel = on_board & (s > 0)
            u = (margin + (x[sel] + 1.0) * per_square).astype(np.int32)
            v = (margin + (y[sel] + 1.0) * per_square).astype(np.int32)
            u, v = np.clip(u, 0, texture.shape[1] - 1), np.clip(v, 0, texture.shape[0] - 1)
            black = np.zeros_like(on_board)
            black[sel] = texture[v, u] < 128
        else:
            black = on_board & (((np.floor(x) + np.floor(y)).astype(np.int32) & 1) == 0)
        value = np.where(on_paper & (s > 0), np.float32(230.0), np.float32(110.0))
        value[black & (s > 0)] = 25.0
        h, w, ss = self.intr.height, self.intr.width, self.ss
        img = value.reshape(h, ss, w, ss).mean(axis=(1, 3))
        if blur > 0:
            img = cv2.GaussianBlur(img, (0, 0), blur)
        img = img + np.random.default_rng(seed).normal(0, noise, img.shape)
        return np.clip(img, 0, 255).astype(np.uint8)


def render_views(intr: Intrinsics, board: Board, n: int, seed: int = 0) -> tuple[list[np.ndarray], list[Pose]]:
    poses = random_poses(intr, board, n, seed)
    r = Renderer(intr)
    return [r.render(board, p, seed=seed * 1000 + i) for i, p in enumerate(poses)], poses


def write_views(out: Path, intr: Intrinsics, board: Board, n: int, seed: int = 0) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    images, _ = render_views(intr, board, n, seed)
    paths = []
    for i, img in enumerate(images):
        paths.append(out / f"view_{i:02d}.png")
        cv2.imwrite(str(paths[-1]), img)
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--model", choices=("pinhole", "fisheye"), default="pinhole")
    ap.add_argument("--views", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    intr = PINHOLE if a.model == "pinhole" else FISHEYE
    write_views(a.out, intr, Board(), a.views, a.seed)
    print(f"{a.views} views in {a.out}; truth fx {intr.fx} fy {intr.fy} cx {intr.cx} cy {intr.cy} "
          f"{intr.distortion_model.value} {list(intr.coefficients)} (hfov {intr.field_of_view().horizontal_deg:.2f}°)")


if __name__ == "__main__":
    main()

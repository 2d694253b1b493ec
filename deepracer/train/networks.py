"""Camera feature extractors for stable-baselines3 policies.

`shallow` is DeepRacer's DEEP_CONVOLUTIONAL_NETWORK_SHALLOW (3 conv layers + a 512 dense layer,
about 6 M parameters, a ~23 MB ONNX file). `deep` is the console's "5-layer CNN",
DEEP_CONVOLUTIONAL_NETWORK_DEEP: conv 32x8/4, 32x4/2, 64x4/2, 64x3/1, each with batch norm, then
two 512 dense layers (the simapp's scheme). `small` is this project's: it averages the image
down to 60x80 first, then runs the shallow network's three convolutions (8x8/4, 4x4/2, 3x3/1)
with half their filters, and a 128 dense layer; about 50x fewer parameters than `shallow` and
about 3x cheaper per frame than `small-v1`, the first small network (5x5/2, 3x3/2, 3x3/2 on the
same 60x80 image), kept so that its models still resume and clone.
Both small networks begin with a weightless 2x2 average pool (`POOLED_NETWORKS`): the update
pools a rollout's frames once instead of once per epoch and minibatch, and the network then
skips its pool for frames of the pooled size (`CameraCNN.forward`); the exported ONNX keeps the
pool, so the car feeds it DeepRacer's 160x120 frame.
Inputs are float images in [0, 1], channels first (SB3 transposes and scales uint8 frames); a
STEREO_CAMERAS model's image has 2 channels (left, right). `CameraLidarExtractor` adds DeepRacer's
LiDAR branch for camera + LiDAR models.
"""

from __future__ import annotations

import cv2
import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from deepracer.train.network_names import NETWORK_NAMES, NETWORKS

__all__ = ["NETWORKS", "NETWORK_NAMES", "CameraCNN", "CameraLidarExtractor", "policy_kwargs", "pool_frames"]

POOLED_NETWORKS = ("small", "small-v1")  # begin with POOL: the update pools a rollout once
POOL = 2  # the small networks' first layer: a 2x2 average pool, 120x160 -> 60x80


def _conv_stack(kind: str, channels: int) -> nn.Sequential:
    if kind == "shallow":
        return nn.Sequential(
            nn.Conv2d(channels, 32, 8, stride=4), nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2), nn.ReLU(),
            nn.Conv2d(64, 64, 3, stride=1), nn.ReLU(),
            nn.Flatten(),
        )
    if kind == "deep":
        layers: list[nn.Module] = []
        for c_in, c_out, k, stride in ((channels, 32, 8, 4), (32, 32, 4, 2), (32, 64, 4, 2), (64, 64, 3, 1)):
            layers += [nn.Conv2d(c_in, c_out, k, stride=stride), nn.BatchNorm2d(c_out), nn.ReLU()]
        return nn.Sequential(*layers, nn.Flatten())
    if kind == "small":
        return nn.Sequential(
            nn.AvgPool2d(POOL),  # 120x160 -> 60x80: enough detail to see the track edges
            nn.Conv2d(channels, 16, 8, stride=4), nn.ReLU(),
            nn.Conv2d(16, 32, 4, stride=2), nn.ReLU(),
            nn.Conv2d(32, 32, 3, stride=1), nn.ReLU(),
            nn.Flatten(),
        )
    if kind == "small-v1":
        return nn.Sequential(
            nn.AvgPool2d(POOL),
            nn.Conv2d(channels, 16, 5, stride=2), nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2), nn.ReLU(),
            nn.Conv2d(32, 32, 3, stride=2), nn.ReLU(),
            nn.Flatten(),
        )
    raise ValueError(f"unknown network {kind!r}; choose from {', '.join(NETWORKS)}")


class CameraCNN(BaseFeaturesExtractor):
    def __init__(self, observation_space: gym.spaces.Box, kind: str = "small") -> None:
        channels = observation_space.shape[0]
        cnn = _conv_stack(kind, channels)
        with torch.no_grad():
            flat = cnn(torch.zeros(1, *observation_space.shape)).shape[1]
        dense = 512 if kind in ("shallow", "deep") else 128
        super().__init__(observation_space, features_dim=dense)
        self.cnn = cnn
        second = [nn.Linear(dense, dense), nn.ReLU()] if kind == "deep" else []
        self.linear = nn.Sequential(nn.Linear(flat, dense), nn.ReLU(), *second)
        height, width = observation_space.shape[1:]
        # frames the update has already pooled (see pool_frames) skip the first layer
        self.pooled_size = (height // POOL, width // POOL) if kind in POOLED_NETWORKS else None
        self.opencv_pool = True  # False: torch's AvgPool2d on full frames, as before 2026-12 (the bench's baseline)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_tracing():  # the exported graph: every layer, the pool included
            return self.linear(self.cnn(observations))
        if self.pooled_size is not None:
            if (self.opencv_pool and tuple(observations.shape[-2:]) != self.pooled_size
                    and not observations.requires_grad):
                # the rollout's frames: OpenCV's area mean is the pool's numbers at a fraction of
                # torch's cost on a few frames (0.03 vs 0.34 ms on 4)
                observations = torch.from_numpy(pool_frames(observations.numpy()))
            if tuple(observations.shape[-2:]) == self.pooled_size:
                return self.linear(self.cnn[1:](observations))
        if observations.dim() == 4 and observations.shape[1] == 1 and observations.stride(1) == 1:
            # one channel from SB3's HWC -> CHW view: torch takes it for channels-last and its pool
            # and convolutions run their channels-last kernels, 2-3x slower on a 1-channel frame
            observations = observations.clone(memory_format=torch.contiguous_format)
        return self.linear(self.cnn(observations))


POOL_CHUNK_FRAMES = 32  # frames per cv2 call: a 2.5 MB float copy at 160x120 stays in cache


def pool_frames(frames: np.ndarray) -> np.ndarray:
    """The small networks' first layer, on a rollout's stored uint8 frames (..., C, H, W) at once:
    float32 means in [0, 255], exactly what the network's AvgPool2d computes before the /255
    (float frames, e.g. already scaled to [0, 1], give the pool's means to a rounding).

    OpenCV's area resize at a whole factor of 2 is that mean (the sum of four integers times 0.25,
    exact in float32), some 20x faster than numpy's strided mean. The frames go through it stacked into
    one tall image per chunk: with an even frame height no 2x2 block straddles two frames."""
    *lead, channels, height, width = frames.shape
    h, w = height // POOL, width // POOL
    stack = frames[..., : h * POOL, : w * POOL].reshape(-1, h * POOL, w * POOL)
    out = np.empty((stack.shape[0], h, w), np.float32)
    for i in range(0, stack.shape[0], POOL_CHUNK_FRAMES):
        chunk = stack[i:i + POOL_CHUNK_FRAMES]
        tall = chunk.reshape(-1, w * POOL).astype(np.float32, copy=False)
        out[i:i + len(chunk)] = cv2.resize(tall, (w, len(chunk) * h), interpolation=cv2.INTER_AREA).reshape(-1, h, w)
    return out.reshape(*lead, channels, h, w)


LIDAR_DENSE = (256, 256)  # DeepRacer's LiDAR embedder (SIM:m/sensors/utils.py)


class CameraLidarExtractor(BaseFeaturesExtractor):
    """DeepRacer's multi-input networks: one embedder per sensor (the camera CNN on the front or
    stereo images, dense 256-256 on the LiDAR vector), their features concatenated.
    Observations: {"camera": (C, H, W) float in [0, 1], "lidar": (N,) float}."""

    def __init__(self, observation_space: gym.spaces.Dict, kind: str = "small") -> None:
        camera = CameraCNN(observation_space["camera"], kind)
        n = int(observation_space["lidar"].shape[0])
        super().__init__(observation_space, features_dim=camera.features_dim + LIDAR_DENSE[-1])
        self.camera = camera
        self.lidar = nn.Sequential(nn.Linear(n, LIDAR_DENSE[0]), nn.ReLU(),
                                   nn.Linear(LIDAR_DENSE[0], LIDAR_DENSE[1]), nn.ReLU())

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.cat([self.camera(observations["camera"]), self.lidar(observations["lidar"])], dim=1)


def policy_kwargs(kind: str, lidar: bool = False, fused_adam: bool = True) -> dict:
    """SB3 policy_kwargs: our extractor, then small heads (DeepRacer's networks have none).
    `lidar`: a camera + LiDAR model (a Dict observation, SB3's MultiInputPolicy)."""
    if kind not in NETWORKS:
        raise ValueError(f"unknown network {kind!r}; choose from {', '.join(NETWORKS)}")
    return {
        "features_extractor_class": CameraLidarExtractor if lidar else CameraCNN,
        "features_extractor_kwargs": {"kind": kind},
        "net_arch": [64] if kind in POOLED_NETWORKS else [],
        # Adam as one fused kernel: the same update rule, a third of the time of torch's per-tensor
        # loop (which, for the small networks, costs about as much as a minibatch's backward pass)
        "optimizer_kwargs": {"fused": True} if fused_adam else {},
    }

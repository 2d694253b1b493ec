"""Camera feature extractors for stable-baselines3 policies.

`shallow` is DeepRacer's DEEP_CONVOLUTIONAL_NETWORK_SHALLOW (3 conv layers + a 512 dense layer,
about 6 M parameters, a ~23 MB ONNX file). `deep` is the console's "5-layer CNN",
DEEP_CONVOLUTIONAL_NETWORK_DEEP: conv 32x8/4, 32x4/2, 64x4/2, 64x3/1, each with batch norm, then
two 512 dense layers (the simapp's scheme). `small` halves the image first and is ~40x smaller:
it learns faster on a CPU and its package stays well under a megabyte.
Inputs are float images in [0, 1], channels first (SB3 transposes and scales uint8 frames); a
STEREO_CAMERAS model's image has 2 channels (left, right). `CameraLidarExtractor` adds DeepRacer's
LiDAR branch for camera + LiDAR models.
"""

from __future__ import annotations

import gymnasium as gym
import torch
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

NETWORKS = ("shallow", "small", "deep")
# DeepRacer's names for the metadata's neural_network key
NETWORK_NAMES = {"shallow": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW", "small": "DEEPRACER_SMALL_CNN",
                 "deep": "DEEP_CONVOLUTIONAL_NETWORK_DEEP"}


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
            nn.AvgPool2d(2),  # 120x160 -> 60x80: enough detail to see the track edges
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

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.linear(self.cnn(observations))


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


def policy_kwargs(kind: str, lidar: bool = False) -> dict:
    """SB3 policy_kwargs: our extractor, then small heads (DeepRacer's networks have none).
    `lidar`: a camera + LiDAR model (a Dict observation, SB3's MultiInputPolicy)."""
    if kind not in NETWORKS:
        raise ValueError(f"unknown network {kind!r}; choose from {', '.join(NETWORKS)}")
    return {
        "features_extractor_class": CameraLidarExtractor if lidar else CameraCNN,
        "features_extractor_kwargs": {"kind": kind},
        "net_arch": [64] if kind == "small" else [],
    }

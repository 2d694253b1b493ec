"""DeepRacer's 5-layer CNN (the console's "deep" network): its shape, and it trains and exports."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from deepracer.train.networks import NETWORK_NAMES, CameraCNN


def test_deep_network_is_deepracers_scheme() -> None:
    net = CameraCNN(gym.spaces.Box(0, 1, (1, 120, 160), np.float32), kind="deep")
    convs = [m for m in net.cnn if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size[0], c.stride[0]) for c in convs] == [(32, 8, 4), (32, 4, 2), (64, 4, 2),
                                                                                 (64, 3, 1)]
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in net.cnn) == 4
    assert [m.out_features for m in net.linear if isinstance(m, torch.nn.Linear)] == [512, 512]
    net.eval()
    assert net(torch.zeros(2, 1, 120, 160)).shape == (2, 512)
    assert NETWORK_NAMES["deep"] == "DEEP_CONVOLUTIONAL_NETWORK_DEEP"

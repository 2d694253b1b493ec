"""A trained stable-baselines3 policy -> a model package (model.onnx + model_metadata.json).

The ONNX graph takes the camera frame as DeepRacer's networks see it (NCHW float, grayscale
scaled to [0, 1], `stack_size` frames on the channel axis, newest last) and gives:
- discrete: the action probabilities (softmax of the policy's logits), decoded by argmax;
- continuous: the mean action in [-1, 1] (steering, speed), rescaled to the metadata's ranges.
The metadata's `onnx` block says exactly this, so `deepracer model check` and the car's
inference node need no guessing.

Stereo and LiDAR models (a `sensor` list with STEREO_CAMERAS or a LiDAR) take DeepRacer's
inputs under DeepRacer's tensor names, `main_level/agent/{main|policy}/online/network_0/{SENSOR}/{SENSOR}`
(main for clipped PPO, policy for SAC): the camera NHWC [N, 120, 160, C] (C = 2 for the stereo
pair, left then right; grey scaled to [0, 1]) and the LiDAR [N, size] (DeepRacer's observation of
the scan: 64 clipped ranges for LIDAR, 8 sector flags for SECTOR_LIDAR), described by the
metadata's `onnx.input` and `onnx.lidar` blocks.
"""

from __future__ import annotations

import io
import shutil
import tarfile
import tempfile
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from deepracer.model.metadata import InputSpec, LidarInputSpec, ModelMetadata, OutputSpec

INPUT_NAME = "observation"
PROB_OUTPUT = "probabilities"
ACTION_OUTPUT = "action"


class ExportedPolicy(nn.Module):
    """The deterministic part of an SB3 policy, on already-scaled float frames."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        from stable_baselines3 import SAC
        from stable_baselines3.common.distributions import CategoricalDistribution

        policy = model.policy
        if isinstance(model, SAC):
            self.kind = "sac"
        elif isinstance(policy.action_dist, CategoricalDistribution):
            self.kind = "discrete"
        else:
            self.kind = "continuous"
        if self.kind == "sac":
            actor = policy.actor
            self.features = actor.features_extractor
            self.latent = actor.latent_pi
            self.head = actor.mu
        else:
            self.features = policy.pi_features_extractor
            self.latent = policy.mlp_extractor.policy_net
            self.head = policy.action_net

    def forward(self, observation: torch.Tensor) -> torch.Tensor:
        out = self.head(self.latent(self.features(observation)))
        if self.kind == "discrete":
            return torch.softmax(out, dim=-1)
        if self.kind == "sac":
            return torch.tanh(out)  # SAC squashes its mean into [-1, 1]
        return out  # PPO's Gaussian mean; the decoder clips it to [-1, 1]


def deepracer_input_name(sensor: str, sac: bool = False) -> str:
    """DeepRacer's input tensor name for a sensor (facts §14)."""
    return f"main_level/agent/{'policy' if sac else 'main'}/online/network_0/{sensor}/{sensor}"


def model_inputs(metadata: ModelMetadata, stack_size: int = 1,
                 sac: bool = False) -> tuple[InputSpec, LidarInputSpec | None]:
    """The camera input (and LiDAR input) a package for this metadata's `sensor` list takes."""
    from deepracer.model.sensors import (
        Sensor,
        camera_sensor,
        lidar_observation_size,
        lidar_sensor,
        parse_sensors,
    )

    sensors = parse_sensors(metadata.sensor)
    camera, lidar = camera_sensor(sensors), lidar_sensor(sensors)
    if camera is not Sensor.STEREO_CAMERAS and lidar is None:
        return input_spec(stack_size), None
    cam = InputSpec(layout="NHWC", height=120, width=160, channels=2 if camera is Sensor.STEREO_CAMERAS else 1,
                    color_order="gray", scale=1.0 / 255.0, mean=(0.0,), std=(1.0,), frame_stack=1,
                    name=deepracer_input_name(camera.value, sac))
    if lidar is None:
        return cam, None
    return cam, LidarInputSpec(sensor=lidar.value, size=lidar_observation_size(lidar),
                               name=deepracer_input_name(lidar.value, sac))


class _NhwcInputs(nn.Module):
    """DeepRacer's inputs (camera NHWC, LiDAR vector) -> the SB3 policy's observation."""

    def __init__(self, policy: ExportedPolicy, lidar: bool) -> None:
        super().__init__()
        self.policy, self.lidar = policy, lidar

    def forward(self, camera: torch.Tensor, lidar: torch.Tensor | None = None) -> torch.Tensor:
        image = camera.permute(0, 3, 1, 2)
        return self.policy({"camera": image, "lidar": lidar} if self.lidar else image)


def input_spec(stack_size: int) -> InputSpec:
    return InputSpec(layout="NCHW", height=120, width=160, channels=1, color_order="gray",
                     scale=1.0 / 255.0, mean=(0.0,), std=(1.0,), frame_stack=stack_size, name=INPUT_NAME)


def export_onnx(model: Any, path: str | Path, stack_size: int = 1,
                metadata: ModelMetadata | None = None) -> ExportedPolicy:
    """`metadata`: its `sensor` list chooses the inputs (None: the front camera)."""
    from stable_baselines3 import SAC

    policy = ExportedPolicy(model).eval()
    output = PROB_OUTPUT if policy.kind == "discrete" else ACTION_OUTPUT
    camera, lidar = model_inputs(metadata, stack_size, isinstance(model, SAC)) if metadata else (input_spec(stack_size),
                                                                                               None)
    if camera.layout == "NCHW":
        module: nn.Module = policy
        dummies: tuple[torch.Tensor, ...] = (torch.zeros(1, stack_size, 120, 160),)
        names = [INPUT_NAME]
    else:
        module = _NhwcInputs(policy, lidar is not None).eval()
        dummies = (torch.zeros(1, camera.height, camera.width, camera.channels),)
        names = [str(camera.name)]
        if lidar is not None:
            dummies += (torch.zeros(1, lidar.size),)
            names.append(str(lidar.name))
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter needs no onnxscript
        torch.onnx.export(
            module, dummies, buffer, input_names=names, output_names=[output],
            dynamic_axes={**{n: {0: "batch"} for n in names}, output: {0: "batch"}}, opset_version=17, dynamo=False,
        )
    Path(path).write_bytes(buffer.getvalue())
    return policy


def package_metadata(metadata: ModelMetadata, model: Any, stack_size: int, network_name: str) -> ModelMetadata:
    from stable_baselines3 import SAC

    discrete = metadata.action_space_type == "discrete"
    camera, lidar = model_inputs(metadata, stack_size, isinstance(model, SAC))
    return replace(
        metadata,
        training_algorithm="sac" if isinstance(model, SAC) else "clipped_ppo",
        neural_network=network_name,
        input=camera,
        lidar=lidar,
        output=OutputSpec(kind="probabilities" if discrete else "continuous",
                          name=PROB_OUTPUT if discrete else ACTION_OUTPUT),
    )


def write_package(model: Any, metadata: ModelMetadata, out_dir: str | Path, stack_size: int = 1,
                  network_name: str = "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW") -> Path:
    """Write model.onnx and model_metadata.json into `out_dir` (replaced atomically)."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        export_onnx(model, tmp / "model.onnx", stack_size, metadata)
        package_metadata(metadata, model, stack_size, network_name).write(tmp / "model_metadata.json")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def write_tarball(package_dir: str | Path, tarball: str | Path) -> Path:
    """A .tar.gz with the package's files at its root, as the DeepRacer console exports them."""
    package_dir, tarball = Path(package_dir), Path(tarball)
    tarball.parent.mkdir(parents=True, exist_ok=True)
    tmp = tarball.with_name(tarball.name + ".tmp")
    with tarfile.open(tmp, "w:gz") as tar:
        for name in ("model_metadata.json", "model.onnx"):
            info = tar.gettarinfo(str(package_dir / name), arcname=name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            with (package_dir / name).open("rb") as f:
                tar.addfile(info, f)
    tmp.replace(tarball)
    return tarball

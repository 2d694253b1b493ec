"""A trained stable-baselines3 policy -> a model package (model.onnx + model_metadata.json).

The ONNX graph takes the camera frame as DeepRacer's networks see it (NCHW float, grayscale
scaled to [0, 1], `stack_size` frames on the channel axis, newest last) and gives:
- discrete: the action probabilities (softmax of the policy's logits), decoded by argmax;
- continuous: the mean action in [-1, 1] (steering, speed), rescaled to the metadata's ranges.
The metadata's `onnx` block says exactly this, so `deepracer model check` and the car's
inference node need no guessing.
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

from deepracer.model.metadata import InputSpec, ModelMetadata, OutputSpec

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


def input_spec(stack_size: int) -> InputSpec:
    return InputSpec(layout="NCHW", height=120, width=160, channels=1, color_order="gray",
                     scale=1.0 / 255.0, mean=(0.0,), std=(1.0,), frame_stack=stack_size, name=INPUT_NAME)


def export_onnx(model: Any, path: str | Path, stack_size: int = 1) -> ExportedPolicy:
    module = ExportedPolicy(model).eval()
    dummy = torch.zeros(1, stack_size, 120, 160)
    output = PROB_OUTPUT if module.kind == "discrete" else ACTION_OUTPUT
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter needs no onnxscript
        torch.onnx.export(
            module, (dummy,), buffer, input_names=[INPUT_NAME], output_names=[output],
            dynamic_axes={INPUT_NAME: {0: "batch"}, output: {0: "batch"}}, opset_version=17, dynamo=False,
        )
    Path(path).write_bytes(buffer.getvalue())
    return module


def package_metadata(metadata: ModelMetadata, model: Any, stack_size: int, network_name: str) -> ModelMetadata:
    from stable_baselines3 import SAC

    discrete = metadata.action_space_type == "discrete"
    return replace(
        metadata,
        training_algorithm="sac" if isinstance(model, SAC) else "clipped_ppo",
        neural_network=network_name,
        input=input_spec(stack_size),
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
        export_onnx(model, tmp / "model.onnx", stack_size)
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

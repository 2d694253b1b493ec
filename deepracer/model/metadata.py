"""model_metadata.json: DeepRacer's keys, read as DeepRacer writes them, plus our `onnx` block.

DeepRacer's keys: `action_space` (a list of {steering_angle, speed[, index]} for
discrete, {steering_angle: {low, high}, speed: {low, high}} for continuous),
`action_space_type`, `sensor`, `neural_network`, `training_algorithm`, `version`.
Missing keys take DeepRacer's defaults. Our own block, `onnx`, describes the model's
input (layout, size, colour, normalisation, frame stack), its LiDAR input for a camera + LiDAR
model (`lidar`: sensor, size, name) and output (how to decode it).
Without it, the input is inferred from the ONNX input shape (see `InputSpec.from_shape`),
with pixel values fed unscaled as DeepRacer's networks rescale inside the graph.
Our `camera_profile` block (optional) is the camera the model was trained for
(deepracer.camera_profile): the inference node warns when the car's camera differs.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from deepracer.camera_profile import CameraProfile
from deepracer.errors import ConfigError, ModelPackageError

DEFAULT_SENSOR = ["FRONT_FACING_CAMERA"]
DEFAULT_NETWORK = "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW"
DEFAULT_ALGORITHM = "clipped_ppo"
DEFAULT_VERSION = "5"
KNOWN_ALGORITHMS = {"clipped_ppo", "sac"}

Layout = Literal["NCHW", "NHWC"]
OutputKind = Literal["probabilities", "logits", "continuous"]


@dataclass(frozen=True)
class Action:
    """An absolute command: steering angle in degrees (positive = left), speed in m/s."""

    steering_angle: float
    speed: float


@dataclass(frozen=True)
class ContinuousRange:
    steering_low: float
    steering_high: float
    speed_low: float
    speed_high: float


@dataclass(frozen=True)
class InputSpec:
    """How a camera image becomes the ONNX input tensor."""

    layout: Layout = "NCHW"
    height: int = 120
    width: int = 160
    channels: int = 1  # 1 = grayscale; 2 = STEREO_CAMERAS (left, right grey); 3 = colour in `color_order`
    color_order: Literal["gray", "bgr", "rgb"] = "gray"
    scale: float = 1.0 / 255.0  # applied to uint8 pixels before mean/std
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    frame_stack: int = 1  # frames stacked on the channel axis, newest last
    name: str | None = None  # ONNX input name; None = the model's first input

    @property
    def tensor_channels(self) -> int:
        return self.channels * self.frame_stack

    def shape(self) -> tuple[int, int, int, int]:
        c = self.tensor_channels
        return (1, c, self.height, self.width) if self.layout == "NCHW" else (1, self.height, self.width, c)

    @classmethod
    def from_shape(cls, shape: list[Any] | tuple[Any, ...], name: str | None = None) -> InputSpec:
        """Infer the spec from an ONNX input shape (N,C,H,W or N,H,W,C; 1 channel = grayscale).

        Channels are the small axis (<= 12) next to the batch axis or at the end.
        Pixel values are fed unscaled, as DeepRacer's own networks rescale internally.
        """
        dims = [d if isinstance(d, int) and d > 0 else None for d in shape]
        if len(dims) != 4:
            raise ModelPackageError(f"ONNX input shape {list(shape)} is not 4-D (N,C,H,W or N,H,W,C)")
        _, a, b, c = dims
        if a is not None and a <= 12 and (c is None or c > 12):
            layout, ch, h, w = "NCHW", a, b, c
        elif c is not None and c <= 12:
            layout, ch, h, w = "NHWC", c, a, b
        else:
            raise ModelPackageError(f"cannot tell the channel axis of ONNX input shape {list(shape)}")
        if h is None or w is None or ch is None:
            raise ModelPackageError(f"ONNX input shape {list(shape)} has dynamic image dimensions")
        if ch % 3 == 0:
            channels, stack, order = 3, ch // 3, "bgr"
        else:
            channels, stack, order = 1, ch, "gray"
        return cls(
            layout=layout, height=h, width=w, channels=channels, color_order=order,
            scale=1.0, mean=(0.0,), std=(1.0,), frame_stack=stack, name=name,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "layout": self.layout, "height": self.height, "width": self.width,
            "channels": self.channels, "color_order": self.color_order, "scale": self.scale,
            "mean": list(self.mean), "std": list(self.std), "frame_stack": self.frame_stack,
            "name": self.name,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], path: Path | None = None) -> InputSpec:
        try:
            spec = cls(
                layout=d.get("layout", "NCHW"), height=int(d["height"]), width=int(d["width"]),
                channels=int(d.get("channels", 1)), color_order=d.get("color_order", "gray"),
                scale=float(d.get("scale", 1.0 / 255.0)), mean=tuple(float(x) for x in d.get("mean", [0.0])),
                std=tuple(float(x) for x in d.get("std", [1.0])), frame_stack=int(d.get("frame_stack", 1)),
                name=d.get("name"),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ModelPackageError(f"invalid onnx.input block: {err!r}", path) from err
        if spec.layout not in ("NCHW", "NHWC"):
            raise ModelPackageError(f"onnx.input.layout must be NCHW or NHWC, not {spec.layout!r}", path)
        if spec.channels not in (1, 2, 3) or spec.frame_stack < 1 or spec.height < 1 or spec.width < 1:
            raise ModelPackageError("onnx.input needs channels 1, 2 (stereo) or 3, frame_stack >= 1, positive size",
                                    path)
        if spec.color_order not in ("gray", "bgr", "rgb") or (spec.channels < 3) != (spec.color_order == "gray"):
            raise ModelPackageError("onnx.input.color_order must be gray for 1 or 2 (stereo) channels, bgr/rgb for 3",
                                    path)
        if any(s == 0 for s in spec.std):
            raise ModelPackageError("onnx.input.std must not contain 0", path)
        return spec


@dataclass(frozen=True)
class LidarInputSpec:
    """The LiDAR input of a camera + LiDAR model (the `onnx.lidar` block): a float32 [N, size]
    tensor holding DeepRacer's observation of the scan for `sensor` (LIDAR: 64 ranges clipped to
    [0.15, 1] m; SECTOR_LIDAR: 8 sector flags; deepracer.model.sensors.lidar_observation)."""

    sensor: str = "LIDAR"
    size: int = 64
    name: str | None = None  # ONNX input name; None = the model's 2-D input

    def to_dict(self) -> dict[str, Any]:
        return {"sensor": self.sensor, "size": self.size, "name": self.name}

    @classmethod
    def from_dict(cls, d: Any, path: Path | None = None) -> LidarInputSpec:
        from deepracer.model.sensors import LIDARS, Sensor

        try:
            spec = cls(sensor=str(d.get("sensor", "LIDAR")), size=int(d["size"]), name=d.get("name"))
        except (AttributeError, KeyError, TypeError, ValueError) as err:
            raise ModelPackageError(f"invalid onnx.lidar block: {err!r}", path) from err
        if spec.sensor not in {s.value for s in LIDARS} or spec.size < 1:
            raise ModelPackageError(f"onnx.lidar needs a LiDAR sensor ({', '.join(sorted(s.value for s in LIDARS))}) "
                                    f"and a positive size, not {spec.sensor!r} / {spec.size}", path)
        if spec.sensor == Sensor.SECTOR_LIDAR and spec.size != 8:
            raise ModelPackageError(f"onnx.lidar: SECTOR_LIDAR gives 8 values, not {spec.size}", path)
        return spec


@dataclass(frozen=True)
class OutputSpec:
    """How the ONNX output becomes an action.

    probabilities/logits: one value per discrete action, argmax wins.
    continuous: (steering, speed) in [-1, 1], clipped, then rescaled to [low, high].
    """

    kind: OutputKind = "probabilities"
    name: str | None = None  # ONNX output name; None = the model's first output

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name}


@dataclass
class ModelMetadata:
    action_space_type: Literal["discrete", "continuous"]
    actions: list[Action] = field(default_factory=list)  # discrete
    continuous: ContinuousRange | None = None
    sensor: list[str] = field(default_factory=lambda: list(DEFAULT_SENSOR))
    neural_network: str = DEFAULT_NETWORK
    training_algorithm: str = DEFAULT_ALGORITHM
    version: str = DEFAULT_VERSION
    input: InputSpec | None = None  # None: infer from the ONNX model
    lidar: LidarInputSpec | None = None  # camera + LiDAR models: their second input
    output: OutputSpec | None = None  # None: probabilities (discrete) / continuous
    extra: dict[str, Any] = field(default_factory=dict)  # unknown keys, kept on write
    onnx_extra: dict[str, Any] = field(default_factory=dict)  # unknown keys of the onnx block (converted_from ...), kept
    camera_profile: CameraProfile | None = None  # the camera the model was trained for; None = not recorded

    @property
    def num_outputs(self) -> int:
        return len(self.actions) if self.action_space_type == "discrete" else 2

    @property
    def output_spec(self) -> OutputSpec:
        if self.output is not None:
            return self.output
        return OutputSpec("probabilities" if self.action_space_type == "discrete" else "continuous")

    # -- reading ---------------------------------------------------------------------
    @classmethod
    def from_file(cls, path: str | Path) -> ModelMetadata:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ModelPackageError("model_metadata.json is missing", path) from None
        except (OSError, UnicodeDecodeError) as err:
            raise ModelPackageError(f"cannot read: {err}", path) from err
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ModelPackageError(f"invalid JSON at line {err.lineno} column {err.colno}: {err.msg}", path) from err
        return cls.from_dict(data, path)

    @classmethod
    def from_dict(cls, data: Any, path: Path | None = None) -> ModelMetadata:
        if not isinstance(data, dict):
            raise ModelPackageError("model metadata must be a JSON object", path)
        known = {"action_space", "action_space_type", "sensor", "neural_network", "training_algorithm", "version", "onnx",
                 "camera_profile"}
        space = data.get("action_space")
        space_type = str(data.get("action_space_type", "discrete")).lower()
        if space is None:
            raise ModelPackageError("action_space is missing", path)
        meta = cls(
            action_space_type="discrete",
            sensor=list(data.get("sensor", DEFAULT_SENSOR)),
            neural_network=str(data.get("neural_network", DEFAULT_NETWORK)),
            training_algorithm=str(data.get("training_algorithm", DEFAULT_ALGORITHM)),
            version=str(data.get("version", DEFAULT_VERSION)),
            extra={k: v for k, v in data.items() if k not in known},
        )
        if space_type == "discrete":
            meta.actions = _parse_discrete(space, path)
        elif space_type == "continuous":
            meta.action_space_type = "continuous"
            meta.continuous = _parse_continuous(space, path)
        else:
            raise ModelPackageError(f"action_space_type must be discrete or continuous, not {space_type!r}", path)
        if meta.training_algorithm == "sac" and space_type != "continuous":
            raise ModelPackageError("training_algorithm sac needs a continuous action space", path)
        block = data.get("onnx")
        if block is not None:
            if not isinstance(block, dict):
                raise ModelPackageError("the onnx block must be an object", path)
            if "input" in block:
                meta.input = InputSpec.from_dict(block["input"], path)
            if "output" in block:
                kind = block["output"].get("kind")
                if kind not in ("probabilities", "logits", "continuous"):
                    raise ModelPackageError(f"onnx.output.kind must be probabilities, logits or continuous, not {kind!r}", path)
                if (kind == "continuous") != (meta.action_space_type == "continuous"):
                    raise ModelPackageError(f"onnx.output.kind {kind} does not fit a {meta.action_space_type} action space", path)
                meta.output = OutputSpec(kind=kind, name=block["output"].get("name"))
            if "lidar" in block:
                meta.lidar = LidarInputSpec.from_dict(block["lidar"], path)
            meta.onnx_extra = {k: v for k, v in block.items() if k not in ("input", "output", "lidar")}
        if data.get("camera_profile") is not None:
            try:
                meta.camera_profile = CameraProfile.from_dict(data["camera_profile"])
            except ConfigError as err:
                raise ModelPackageError(f"camera_profile: {err}", path) from err
        return meta

    # -- writing ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        if self.action_space_type == "discrete":
            space: Any = [
                {"steering_angle": a.steering_angle, "speed": a.speed, "index": i} for i, a in enumerate(self.actions)
            ]
        else:
            assert self.continuous is not None
            r = self.continuous
            space = {
                "steering_angle": {"low": r.steering_low, "high": r.steering_high},
                "speed": {"low": r.speed_low, "high": r.speed_high},
            }
        out: dict[str, Any] = {
            "action_space": space,
            "sensor": self.sensor,
            "neural_network": self.neural_network,
            "training_algorithm": self.training_algorithm,
            "action_space_type": self.action_space_type,
            "version": self.version,
            **self.extra,
        }
        if self.input is not None or self.output is not None or self.lidar is not None or self.onnx_extra:
            out["onnx"] = dict(self.onnx_extra)
            if self.input is not None:
                out["onnx"]["input"] = self.input.to_dict()
            if self.lidar is not None:
                out["onnx"]["lidar"] = self.lidar.to_dict()
            if self.output is not None:
                out["onnx"]["output"] = self.output.to_dict()
        if self.camera_profile is not None:
            out["camera_profile"] = self.camera_profile.to_dict()
        return out

    def write(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")


def _number(value: Any, what: str, path: Path | None) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ModelPackageError(f"{what} must be a number, not {value!r}", path) from None
    if not math.isfinite(x):
        raise ModelPackageError(f"{what} must be finite, not {value!r}", path)
    return x


def _parse_discrete(space: Any, path: Path | None) -> list[Action]:
    if not isinstance(space, list) or not space:
        raise ModelPackageError("a discrete action_space must be a non-empty list of {steering_angle, speed}", path)
    entries = list(enumerate(space))
    if all(isinstance(a, dict) and "index" in a for a in space):
        entries = sorted(entries, key=lambda e: int(e[1]["index"]))
    actions = []
    for i, a in entries:
        if not isinstance(a, dict) or "steering_angle" not in a or "speed" not in a:
            raise ModelPackageError(f"action_space[{i}] needs steering_angle and speed", path)
        actions.append(Action(_number(a["steering_angle"], f"action_space[{i}].steering_angle", path),
                              _number(a["speed"], f"action_space[{i}].speed", path)))
    return actions


def _parse_continuous(space: Any, path: Path | None) -> ContinuousRange:
    try:
        st, sp = space["steering_angle"], space["speed"]
        r = ContinuousRange(
            _number(st["low"], "steering_angle.low", path), _number(st["high"], "steering_angle.high", path),
            _number(sp["low"], "speed.low", path), _number(sp["high"], "speed.high", path),
        )
    except (KeyError, TypeError) as err:
        raise ModelPackageError(
            f"a continuous action_space needs steering_angle and speed with low and high ({err!r} missing)", path
        ) from err
    if r.steering_low > r.steering_high or r.speed_low > r.speed_high:
        raise ModelPackageError("continuous action_space has low > high", path)
    return r

"""Running a model package: camera image (and LiDAR scan) -> (steering angle, speed).

`OnnxPolicy` owns the onnxruntime session and the preprocessing buffers; `decode`
turns a raw network output into an action without any session, so the trainer and
the evaluator decode exactly as the car does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from deepracer.errors import ModelPackageError
from deepracer.model.metadata import ModelMetadata
from deepracer.model.package import ModelPackage, load_model_package, make_session
from deepracer.model.preprocess import FrameStacker, Preprocessor


@dataclass(frozen=True)
class Decision:
    steering_angle: float  # degrees, positive = left
    speed: float  # m/s
    index: int | None  # discrete action index; None for continuous
    raw: np.ndarray  # the network output, flattened
    inference_ms: float = 0.0  # preprocessing + session.run


def decode(raw: np.ndarray, metadata: ModelMetadata) -> Decision:
    """Raw network output -> Decision.

    discrete: argmax over the N outputs (probabilities or logits: same winner).
    continuous: each of the two outputs clipped to [-1, 1] and mapped linearly onto
    [low, high]; output 0 is the steering angle, output 1 the speed.
    """
    values = np.asarray(raw, dtype=np.float32).reshape(-1)
    n = metadata.num_outputs
    if values.size != n:
        raise ModelPackageError(f"the network gave {values.size} outputs, the action space needs {n}")
    if metadata.action_space_type == "discrete":
        if not np.all(np.isfinite(values)):
            raise ModelPackageError(f"the network output is not finite: {values.tolist()}")
        index = int(np.argmax(values))
        action = metadata.actions[index]
        return Decision(action.steering_angle, action.speed, index, values)
    r = metadata.continuous
    assert r is not None
    if not np.all(np.isfinite(values)):
        raise ModelPackageError(f"the network output is not finite: {values.tolist()}")
    s, v = np.clip(values, -1.0, 1.0).tolist()
    steering = r.steering_low + (s + 1.0) * 0.5 * (r.steering_high - r.steering_low)
    speed = r.speed_low + (v + 1.0) * 0.5 * (r.speed_high - r.speed_low)
    return Decision(float(steering), float(speed), None, values)


class OnnxPolicy:
    """A loaded model package, ready to drive: `predict(image)` per camera frame."""

    def __init__(self, package: ModelPackage | str, num_threads: int = 1,
                 sensors: list[str] | tuple[str, ...] = ("FRONT_FACING_CAMERA",)) -> None:
        """`sensors`: what the caller can feed the policy (DeepRacer's names: FRONT_FACING_CAMERA,
        STEREO_CAMERAS, LIDAR); a model that needs a sensor not among them is refused, naming it."""
        if not isinstance(package, ModelPackage):
            package = load_model_package(package)
        from deepracer.model.sensors import require_sensors

        require_sensors(package.metadata.sensor, list(sensors), f"model {package.name!r}")
        self.package = package
        self.metadata = package.metadata
        self.num_threads = num_threads
        try:
            self.session = make_session(package.onnx_path, num_threads=num_threads)
        except Exception as err:  # validated at load; this is a changed or vanished file
            raise ModelPackageError(f"onnxruntime cannot load the model: {err}", package.onnx_path) from err
        spec = package.input_spec
        self._input_name = package.onnx_input["name"]
        self._output_names = [package.onnx_output["name"]]
        self._preprocess = Preprocessor(spec)
        self._stacker = FrameStacker(spec) if spec.frame_stack > 1 else None
        self._frame = np.zeros(self._preprocess.frame_shape, np.float32)
        self._tensor = np.zeros(spec.shape(), np.float32)  # frame_stack 1: preprocess writes here directly
        from deepracer.model.sensors import Sensor, camera_sensor, lidar_sensor, parse_sensors

        wanted = parse_sensors(package.metadata.sensor)
        self.stereo = camera_sensor(wanted) is Sensor.STEREO_CAMERAS
        self.lidar_sensor = lidar_sensor(wanted)  # None: a camera-only model
        self._lidar_spec = package.lidar_spec

    @property
    def name(self) -> str:
        return self.package.name

    def reset(self) -> None:
        """Forget stacked frames (a new episode or a restart)."""
        if self._stacker is not None:
            self._stacker.reset()

    @property
    def needs_lidar(self) -> bool:
        return self.lidar_sensor is not None

    def run(self, image: np.ndarray, lidar: np.ndarray | None = None) -> np.ndarray:
        """Image (a stereo model: the HxWx2 pair of preprocess.stereo_pair) and, for a camera + LiDAR
        model, the scan's ranges in m (+inf = nothing in reach, as a LaserScan) -> raw network output."""
        if self._stacker is None:
            self._preprocess(image, out=self._tensor[0])
            tensor = self._tensor
        else:
            tensor = self._stacker.push(self._preprocess(image, out=self._frame))
        feed: dict[str, np.ndarray] = {self._input_name: tensor}
        if self.lidar_sensor is not None:
            from deepracer.model.sensors import lidar_observation

            if lidar is None:
                raise ValueError(f"model {self.name!r} needs a {self.lidar_sensor} scan with each frame")
            assert self._lidar_spec is not None and self._lidar_spec.name is not None
            obs = lidar_observation(lidar, self.lidar_sensor)
            if obs.size != self._lidar_spec.size:
                raise ValueError(f"{self.lidar_sensor}: the scan gives {obs.size} values, the model takes "
                                 f"{self._lidar_spec.size} (a {np.size(lidar)}-beam scan)")
            feed[self._lidar_spec.name] = obs.reshape(1, -1)
        return self.session.run(self._output_names, feed)[0].reshape(-1)

    def predict(self, image: np.ndarray, lidar: np.ndarray | None = None) -> Decision:
        start = time.perf_counter()
        raw = self.run(image, lidar)
        elapsed_ms = (time.perf_counter() - start) * 1000.0
        d = decode(raw, self.metadata)
        return Decision(d.steering_angle, d.speed, d.index, d.raw, elapsed_ms)

    def decode(self, raw: np.ndarray) -> Decision:
        return decode(raw, self.metadata)

"""Model packages: a folder or .tar.gz with `model.onnx` and `model_metadata.json`.

The files sit at the top of the folder/archive or inside one top-level folder (what
`tar czf model.tar.gz mymodel/` produces). Loading validates the package as a whole:
the metadata parses, onnxruntime loads the network, the input is a 4-D image tensor
that matches the `onnx.input` block (2 channels for STEREO_CAMERAS), a model whose `sensor`
list has a LiDAR has a [N, size] LiDAR input of that sensor's size (the `onnx.lidar` block), and the output size matches the action space
(N values for N discrete actions, 2 for continuous). A dummy inference proves it runs.

Only onnxruntime is needed here (not the `onnx` package), so this runs on the car.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from deepracer.errors import DeepRacerError, ModelPackageError
from deepracer.model.metadata import InputSpec, LidarInputSpec, ModelMetadata, OutputSpec
from deepracer.model.tarball import is_tarball, safe_extract, tarball_stem

ONNX_FILE = "model.onnx"
METADATA_FILE = "model_metadata.json"


@dataclass
class ModelPackage:
    source: Path  # what the user named: a folder or a tarball
    root: Path  # the folder holding the two files (extracted for a tarball)
    onnx_path: Path
    metadata: ModelMetadata
    input_spec: InputSpec  # from the onnx block, else inferred from the ONNX input shape
    output_spec: OutputSpec
    name: str
    onnx_input: dict[str, Any] = field(default_factory=dict)  # name, shape, type of the graph input used
    onnx_output: dict[str, Any] = field(default_factory=dict)  # name, shape, type of the graph output used
    lidar_spec: LidarInputSpec | None = None  # camera + LiDAR models: the LiDAR input

    @property
    def metadata_path(self) -> Path:
        return self.root / METADATA_FILE

    def describe(self) -> dict[str, Any]:
        """Everything `deepracer model info` shows, JSON-ready."""
        return {
            "name": self.name,
            "source": str(self.source),
            "onnx": str(self.onnx_path),
            "onnx_bytes": self.onnx_path.stat().st_size,
            "action_space_type": self.metadata.action_space_type,
            "training_algorithm": self.metadata.training_algorithm,
            "neural_network": self.metadata.neural_network,
            "sensor": self.metadata.sensor,
            "version": self.metadata.version,
            "action_space": self.metadata.to_dict()["action_space"],
            "input": self.input_spec.to_dict() | {"tensor_shape": list(self.input_spec.shape())},
            "input_from": "onnx block" if self.metadata.input is not None else "inferred from the ONNX input shape",
            "output": self.output_spec.to_dict() | {"num_outputs": self.metadata.num_outputs},
            "onnx_input": self.onnx_input,
            "onnx_output": self.onnx_output,
            "lidar_input": self.lidar_spec.to_dict() if self.lidar_spec is not None else None,
            "camera_profile": (self.metadata.camera_profile.to_dict()
                               if self.metadata.camera_profile is not None else None),
        }


def load_model_package(path: str | Path) -> ModelPackage:
    """Load and validate a package; raises ModelPackageError listing every problem."""
    package, problems = _inspect(Path(path))
    if problems:
        raise ModelPackageError("invalid model package:\n  " + "\n  ".join(problems), path)
    assert package is not None
    return package


def check_model_package(path: str | Path) -> list[str]:
    """Every problem with the package, each naming its file; [] when it is usable."""
    _, problems = _inspect(Path(path))
    return problems


# -- implementation ------------------------------------------------------------------------------


def _find_root(folder: Path) -> Path:
    """The folder itself, or its single sub-folder when the files are one level down."""
    if (folder / METADATA_FILE).exists() or (folder / ONNX_FILE).exists():
        return folder
    subdirs = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
    others = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
    if len(subdirs) == 1 and not others:
        return subdirs[0]
    return folder


def _inspect(source: Path) -> tuple[ModelPackage | None, list[str]]:
    if not source.exists():
        return None, [f"{source}: model package not found"]
    tmpdir: Path | None = None
    if source.is_file():
        if not is_tarball(source):
            return None, [f"{source}: not a model package (a folder or a .tar.gz with {ONNX_FILE} and {METADATA_FILE})"]
        tmpdir = Path(tempfile.mkdtemp(prefix="deepracer-model-"))
        try:
            safe_extract(source, tmpdir)
        except DeepRacerError as err:
            shutil.rmtree(tmpdir, ignore_errors=True)
            return None, [str(err)]
        root = _find_root(tmpdir)
        shown = source / root.relative_to(tmpdir) if root != tmpdir else source
    else:
        root = shown = _find_root(source)

    def show(msg: str) -> str:  # name files inside a tarball as archive.tar.gz/file
        return msg.replace(str(root), str(shown)) if root != shown else msg

    problems: list[str] = []
    package = None
    try:
        package = _validate(root, source, problems)
    finally:
        problems = [show(p) for p in problems]
        if tmpdir is not None:
            if package is None or problems:
                shutil.rmtree(tmpdir, ignore_errors=True)
            else:  # the extracted files live as long as the package object
                weakref.finalize(package, shutil.rmtree, str(tmpdir), True)
    return (package if not problems else None), problems


def _validate(root: Path, source: Path, problems: list[str]) -> ModelPackage | None:
    """The package's checks, in order; each step adds its problems and stops the later ones that need it."""
    meta_path, onnx_path = root / METADATA_FILE, root / ONNX_FILE
    metadata, session = _load_metadata(meta_path, problems), _load_session(onnx_path, problems)
    if metadata is None or session is None:
        return None
    sensors = _sensors(metadata, meta_path, problems)
    if sensors is None:
        return None
    inputs = session.get_inputs()
    lidar = _lidar_input(inputs, metadata, sensors, meta_path, onnx_path, problems)
    if lidar is None and problems:
        return None
    camera_inputs = [i for i in inputs if lidar is None or i.name != lidar[0].name]
    graph_input = _graph_input(camera_inputs, metadata, meta_path, onnx_path, problems)
    if graph_input is None:
        return None
    unfed = [i.name for i in camera_inputs if i.name != graph_input.name]
    if unfed:
        problems.append(f"{onnx_path}: input(s) {unfed} are fed by no sensor of model_metadata.json 'sensor' "
                        f"{metadata.sensor} (a LiDAR input needs a LiDAR in the list)")
        return None
    shape = list(graph_input.shape)
    spec = _input_spec(graph_input, shape, metadata, meta_path, onnx_path, problems)
    if spec is None:
        return None
    found = _graph_output(session.get_outputs(), metadata, meta_path, onnx_path, problems)
    if found is None or problems:
        return None
    graph_output, out_spec = found
    if spec.channels == 2 and "STEREO_CAMERAS" not in metadata.sensor:
        problems.append(f"{meta_path}: onnx.input has 2 channels (a stereo pair) but 'sensor' has no STEREO_CAMERAS")
        return None
    if not _dry_run(session, graph_input, graph_output, spec, metadata, meta_path, onnx_path, problems,
                    lidar[0] if lidar else None, lidar[1] if lidar else None):
        return None
    name = tarball_stem(source) if source.is_file() else source.resolve().name
    return ModelPackage(
        source=source, root=root, onnx_path=onnx_path, metadata=metadata, input_spec=spec, output_spec=out_spec,
        name=name,
        onnx_input={"name": graph_input.name, "shape": shape, "type": graph_input.type},
        onnx_output={"name": graph_output.name, "shape": list(graph_output.shape), "type": graph_output.type},
        lidar_spec=lidar[1] if lidar else None,
    )


def _sensors(metadata: ModelMetadata, meta_path: Path, problems: list[str]) -> list[Any] | None:
    from deepracer.model.sensors import parse_sensors

    try:
        return parse_sensors(metadata.sensor, meta_path)
    except ModelPackageError as err:
        problems.append(str(err))
        return None


def _lidar_input(inputs: list[Any], metadata: ModelMetadata, sensors: list[Any], meta_path: Path, onnx_path: Path,
                 problems: list[str]) -> tuple[Any, LidarInputSpec] | None:
    """A camera + LiDAR model's LiDAR input: the one onnx.lidar.name names, or the only 2-D input;
    its size fits the sensor's observation. None (no problem added) for a camera-only model."""
    from deepracer.model.sensors import lidar_observation_size, lidar_sensor

    wanted = lidar_sensor(sensors)
    spec = metadata.lidar
    if wanted is None:
        if spec is not None:
            problems.append(f"{meta_path}: an onnx.lidar block but no LiDAR in 'sensor' {metadata.sensor}")
        return None
    if spec is not None and spec.sensor != wanted.value:
        problems.append(f"{meta_path}: onnx.lidar.sensor {spec.sensor} but 'sensor' lists {wanted.value}")
        return None
    if spec is not None and spec.name is not None:
        matching = [i for i in inputs if i.name == spec.name]
    else:
        matching = [i for i in inputs if len(i.shape) == 2]
    if len(matching) != 1:
        problems.append(f"{onnx_path}: 'sensor' lists {wanted.value} but the model has "
                        f"{'no' if not matching else 'more than one'} LiDAR input "
                        f"{repr(spec.name) + ' ' if spec is not None and spec.name else ''}(a [N, size] float tensor; "
                        f"inputs: {[(i.name, list(i.shape)) for i in inputs]})")
        return None
    graph_input = matching[0]
    shape = list(graph_input.shape)
    size = shape[-1] if len(shape) == 2 and isinstance(shape[-1], int) and shape[-1] > 0 else None
    if graph_input.type != "tensor(float)" or size is None:
        problems.append(f"{onnx_path}: LiDAR input {graph_input.name!r} is {graph_input.type} {shape}; "
                        "a [N, size] float32 tensor is needed")
        return None
    if spec is None:
        try:
            expected = lidar_observation_size(wanted) if wanted.value != "DISCRETIZED_SECTOR_LIDAR" else size
        except ValueError:
            expected = size
        spec = LidarInputSpec(sensor=wanted.value, size=expected)
    if spec.size != size:
        problems.append(f"{meta_path}: {wanted.value} gives {spec.size} values but {onnx_path.name} input "
                        f"{graph_input.name!r} takes {size}")
        return None
    return graph_input, replace(spec, name=graph_input.name)


def _load_metadata(meta_path: Path, problems: list[str]) -> ModelMetadata | None:
    if not meta_path.is_file():
        problems.append(f"{meta_path}: {METADATA_FILE} is missing")
        return None
    try:
        return ModelMetadata.from_file(meta_path)
    except ModelPackageError as err:
        problems.append(str(err))
        return None


def _load_session(onnx_path: Path, problems: list[str]) -> Any:
    if not onnx_path.is_file():
        problems.append(f"{onnx_path}: {ONNX_FILE} is missing")
        return None
    try:
        return make_session(onnx_path, num_threads=1)
    except Exception as err:  # onnxruntime raises its own exception types
        problems.append(f"{onnx_path}: onnxruntime cannot load the model: {_first_line(err)}")
        return None


def _graph_input(inputs: list[Any], metadata: ModelMetadata, meta_path: Path, onnx_path: Path,
                 problems: list[str]) -> Any:
    """The image input: the one onnx.input.name names, or the only one; a 4-D float tensor."""
    spec_name = metadata.input.name if metadata.input is not None else None
    if spec_name is not None:
        matching = [i for i in inputs if i.name == spec_name]
        if not matching:
            problems.append(f"{meta_path}: onnx.input.name {spec_name!r} is not an input of {onnx_path.name} "
                            f"(inputs: {[i.name for i in inputs]})")
            return None
        graph_input = matching[0]
    elif len(inputs) != 1:
        problems.append(f"{onnx_path}: the model has {len(inputs)} inputs; name the image input in onnx.input.name")
        return None
    else:
        graph_input = inputs[0]
    if graph_input.type != "tensor(float)":
        problems.append(f"{onnx_path}: input {graph_input.name!r} is {graph_input.type}; a float32 image tensor is needed")
    shape = list(graph_input.shape)
    if len(shape) != 4:
        problems.append(f"{onnx_path}: input {graph_input.name!r} has shape {shape}; a 4-D image tensor "
                        "(N,C,H,W or N,H,W,C) is needed")
        return None
    return graph_input


def _input_spec(graph_input: Any, shape: list[Any], metadata: ModelMetadata, meta_path: Path, onnx_path: Path,
                problems: list[str]) -> InputSpec | None:
    """The metadata's onnx.input block checked against the graph, or one inferred from the shape."""
    if metadata.input is None:
        try:
            return InputSpec.from_shape(shape, name=graph_input.name)
        except ModelPackageError as err:
            problems.append(f"{onnx_path}: {err}")
            return None
    spec = metadata.input
    expected = spec.shape()
    if any(isinstance(d, int) and d > 0 and d != e for d, e in zip(shape[1:], expected[1:], strict=True)):
        problems.append(f"{meta_path}: onnx.input describes a {spec.layout} tensor of shape {list(expected)} "
                        f"but {onnx_path.name} takes {shape}")
    return replace(spec, name=graph_input.name) if spec.name is None else spec


def _graph_output(outputs: list[Any], metadata: ModelMetadata, meta_path: Path, onnx_path: Path,
                  problems: list[str]) -> tuple[Any, OutputSpec] | None:
    """The action output: the one onnx.output.name names, or the first."""
    out_spec = metadata.output_spec
    if out_spec.name is None:
        return outputs[0], OutputSpec(out_spec.kind, outputs[0].name)
    matching = [o for o in outputs if o.name == out_spec.name]
    if not matching:
        problems.append(f"{meta_path}: onnx.output.name {out_spec.name!r} is not an output of {onnx_path.name} "
                        f"(outputs: {[o.name for o in outputs]})")
        return None
    return matching[0], out_spec


def _dry_run(session: Any, graph_input: Any, graph_output: Any, spec: InputSpec, metadata: ModelMetadata,
             meta_path: Path, onnx_path: Path, problems: list[str], lidar_input: Any = None,
             lidar_spec: LidarInputSpec | None = None) -> bool:
    """One dummy inference: proves the graph runs and has one output per action."""
    feed = {graph_input.name: np.zeros(spec.shape(), np.float32)}
    if lidar_input is not None and lidar_spec is not None:
        feed[lidar_input.name] = np.zeros((1, lidar_spec.size), np.float32)
    try:
        raw = session.run([graph_output.name], feed)[0]
    except Exception as err:
        problems.append(f"{onnx_path}: the model fails on a {list(spec.shape())} input: {_first_line(err)}")
        return False
    n = metadata.num_outputs
    if np.asarray(raw).size != n:
        what = f"{n} discrete actions" if metadata.action_space_type == "discrete" else "a continuous action space"
        problems.append(f"{meta_path}: {what} needs {n} outputs but {onnx_path.name} output "
                        f"{graph_output.name!r} gives {np.asarray(raw).size} (shape {list(np.shape(raw))})")
        return False
    return True


def record_camera_profile(folder: str | Path, profile) -> Path:
    """Write `profile` (a CameraProfile) into the camera_profile block of a package folder's metadata."""
    from deepracer.model.tarball import is_tarball

    folder = Path(folder)
    if is_tarball(folder) or not folder.is_dir():
        raise ModelPackageError("the camera profile is recorded in a package folder (pack it afterwards)", folder)
    meta_path = _find_root(folder) / METADATA_FILE
    metadata = ModelMetadata.from_file(meta_path)
    profile.validate()
    metadata.camera_profile = profile
    metadata.write(meta_path)
    return meta_path


def make_session(onnx_path: str | Path, num_threads: int = 1):
    """An onnxruntime CPU session: `num_threads` intra-op threads, all graph optimisations on."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, int(num_threads))
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3  # errors only: no warnings on every load
    return ort.InferenceSession(str(onnx_path), sess_options=opts, providers=["CPUExecutionProvider"])


def _first_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0][:300]

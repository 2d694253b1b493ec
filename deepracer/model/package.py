"""Model packages: a folder or .tar.gz with `model.onnx` and `model_metadata.json`.

The files sit at the top of the folder/archive or inside one top-level folder (what
`tar czf model.tar.gz mymodel/` produces). Loading validates the package as a whole:
the metadata parses, onnxruntime loads the network, the input is a 4-D image tensor
that matches the `onnx.input` block, and the output size matches the action space
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
from deepracer.model.metadata import InputSpec, ModelMetadata, OutputSpec
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
    graph_input = _graph_input(session.get_inputs(), metadata, meta_path, onnx_path, problems)
    if graph_input is None:
        return None
    shape = list(graph_input.shape)
    spec = _input_spec(graph_input, shape, metadata, meta_path, onnx_path, problems)
    if spec is None:
        return None
    found = _graph_output(session.get_outputs(), metadata, meta_path, onnx_path, problems)
    if found is None or problems:
        return None
    graph_output, out_spec = found
    if not _dry_run(session, graph_input, graph_output, spec, metadata, meta_path, onnx_path, problems):
        return None
    name = tarball_stem(source) if source.is_file() else source.resolve().name
    return ModelPackage(
        source=source, root=root, onnx_path=onnx_path, metadata=metadata, input_spec=spec, output_spec=out_spec,
        name=name,
        onnx_input={"name": graph_input.name, "shape": shape, "type": graph_input.type},
        onnx_output={"name": graph_output.name, "shape": list(graph_output.shape), "type": graph_output.type},
    )


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
             meta_path: Path, onnx_path: Path, problems: list[str]) -> bool:
    """One dummy inference: proves the graph runs and has one output per action."""
    try:
        raw = session.run([graph_output.name], {graph_input.name: np.zeros(spec.shape(), np.float32)})[0]
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

"""Import model: a model package or a training folder uploaded as .tar.gz.

The upload is size-limited while it streams to DATA/uploads, extracted there with the core's
safe extraction (absolute paths, `..`, links, devices and oversized members refused before a
byte is written), recognised, checked with `deepracer model check` in a process of its own,
and only then copied into a new model's folder. Anything refused leaves nothing behind.

Recognised layouts:
- package: model.onnx + model_metadata.json (ours, what `deepracer model pack` writes);
- deepracer: our training folder (model/, reward_function.py, ip/hyperparameters.json, metrics/...);
- drfc / deepracer_on_aws: DeepRacer-for-Cloud model folders (model_N.pb) and the physical-car
  download (agent/model.pb) hold a TensorFlow frozen graph: `deepracer model import` converts it
  to a model package (ONNX) in a process of its own, sandboxed like every process that reads
  untrusted input (TensorFlow is never imported here; without the `tf-import` extra the upload
  is refused with how to install it). The track comes from training_params*.yaml's WORLD_NAME
  when the library has it.
Checkpoints (stable-baselines3 zips, which unpickle on load) are never imported: an imported
model can be evaluated, analysed and downloaded, not cloned.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deepracer.errors import ConfigError, ModelPackageError
from deepracer.model.tarball import safe_extract
from deepracer_console.errors import FieldError

if TYPE_CHECKING:
    from deepracer_console.sandbox import Sandbox

TF_PATTERNS = ("*.pb", "*.ckpt*", ".coach_checkpoint", "*.index", "*.meta")
SKIPPED = ("checkpoints",)  # pickled training state: never taken from an upload
CHECK_TIMEOUT_S = 120.0
TF_IMPORT_TIMEOUT_S = 900.0  # TensorFlow's start-up, tf2onnx and the ONNX-vs-TensorFlow check: seconds to minutes
TF_IMPORT_MEMORY_MB = 8192  # TensorFlow reserves far more address space than the 4 GB a job gets


@dataclass
class Recognised:
    kind: str  # package | training_folder
    layout: str  # package | deepracer
    root: Path  # the folder holding the files
    package: Path  # the folder with model.onnx + model_metadata.json
    metadata: dict[str, Any]
    reward_function: str | None
    hyperparameters: dict[str, Any] | None
    world_name: str | None = None  # training_params*.yaml's WORLD_NAME (DeepRacer-for-Cloud)


def _find_root(folder: Path) -> Path:
    entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return folder


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _world_name(root: Path) -> str | None:
    import yaml

    for path in sorted(root.glob("training[-_]params*.yaml")) + sorted(root.glob("*/training[-_]params*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(data, dict) and isinstance(data.get("WORLD_NAME"), str):
            return data["WORLD_NAME"]
    return None


def convert_tensorflow(root: Path, out: Path, filename: str, sandbox: Sandbox | None = None) -> None:
    """`deepracer model import ROOT --out OUT` in a process of its own (sandboxed when the console is)."""
    from deepracer.model.tf_import import tensorflow_python

    try:
        tensorflow_python()  # finds the module without importing it
    except ConfigError as err:
        raise FieldError(f"{filename}: a DeepRacer TensorFlow model needs converting, but this console cannot: "
                         f"{err}", "file") from None
    argv = [sys.executable, "-m", "deepracer.cli", "model", "import", str(root), "--out", str(out), "--json"]
    preexec = None
    if sandbox is not None and sandbox.enabled:
        from dataclasses import replace

        from deepracer_console.sandbox import VALIDATION_SLOT, Sandbox

        box = Sandbox(sandbox.data_dir, sandbox.tracks_dir, replace(sandbox.limits, memory_mb=max(
            sandbox.limits.memory_mb, TF_IMPORT_MEMORY_MB)), sandbox.mode, sandbox.bwrap, hidden=sandbox.hidden)
        work = out.parent
        box.prepare([work], VALIDATION_SLOT)
        argv, preexec = box.wrap(argv, [work], VALIDATION_SLOT), box.preexec(TF_IMPORT_TIMEOUT_S)
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=TF_IMPORT_TIMEOUT_S,
                              start_new_session=True, preexec_fn=preexec)
    except subprocess.TimeoutExpired:
        raise FieldError(f"{filename}: converting the TensorFlow model took more than {TF_IMPORT_TIMEOUT_S:g} s",
                         "file") from None
    if proc.returncode != 0 or not (out / "model.onnx").is_file():
        lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
        message = next((ln.split("error: ", 1)[1] for ln in reversed(lines) if "error: " in ln),
                       lines[-1] if lines else f"the conversion failed (exit {proc.returncode})")
        raise FieldError(f"{filename}: the TensorFlow model cannot be imported: "
                         f"{message.replace(str(root), filename).removeprefix(f'{filename}: ')}", "file")


def recognise(folder: Path, filename: str, sandbox: Sandbox | None = None) -> Recognised:
    root = _find_root(folder)
    world = None
    if (root / "model.onnx").is_file():
        package, kind, layout = root, "package", "package"
    elif (root / "model" / "model.onnx").is_file():
        package, kind, layout = root / "model", "training_folder", "deepracer"
    else:
        tf = [p for pattern in TF_PATTERNS for p in root.rglob(pattern)]
        if tf:
            package = folder.parent / "converted"
            convert_tensorflow(root, package, filename, sandbox)
            pbs = [p.name for p in root.rglob("*.pb")]
            layout = "deepracer_on_aws" if "model.pb" in pbs and not any(n.startswith("model_") for n in pbs) \
                else "drfc"
            kind, world = "tensorflow", _world_name(root)
        else:
            raise FieldError(f"{filename}: neither a model package (model.onnx + model_metadata.json) nor a training "
                         "folder with model/model.onnx", "file")
    metadata = _json(package / "model_metadata.json")
    if not isinstance(metadata, dict):
        raise FieldError(f"{filename}: model_metadata.json is missing or not valid JSON", "file")
    reward = None
    for candidate in (root / "reward_function.py", package / "reward_function.py"):
        if candidate.is_file():
            reward = candidate.read_text(encoding="utf-8", errors="replace")
            break
    hp = None
    for candidate in (root / "ip" / "hyperparameters.json", root / "hyperparameters.json"):
        data = _json(candidate)
        if isinstance(data, dict):
            hp = data
            break
    if kind == "tensorflow":
        kind = "training_folder" if reward or hp else "package"
    return Recognised(kind, layout, root, package, metadata, reward, hp, world)


def check_package(package: Path) -> list[str]:
    """`deepracer model check` in a process of its own: [] when the car can load it."""
    proc = subprocess.run([sys.executable, "-m", "deepracer.cli", "model", "check", str(package)],
                          capture_output=True, text=True, timeout=CHECK_TIMEOUT_S, start_new_session=True)
    if proc.returncode == 0:
        return []
    lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
    return [ln.replace(str(package), "package") for ln in (lines[1:] or lines)]


def safe_name(text: str) -> str:
    name = re.sub(r"[^a-zA-Z0-9-]+", "-", text).strip("-")[:64]
    return name or "imported-model"


class Upload:
    """An uploaded file in DATA/uploads, written in chunks up to `limit` bytes."""

    def __init__(self, uploads: Path, limit: int) -> None:
        self.dir = uploads / uuid.uuid4().hex
        self.dir.mkdir(parents=True)
        self.path = self.dir / "upload.tar.gz"
        self.limit = limit
        self.size = 0
        self._f = self.path.open("wb")

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            self.close()
            raise FieldError(f"the upload is larger than the limit of {self.limit // 1024**2} MB", "file",
                             status_code=413)
        self._f.write(chunk)

    def close(self) -> None:
        if not self._f.closed:
            self._f.close()

    def extract(self, filename: str) -> Path:
        self.close()
        if not filename.lower().endswith((".tar.gz", ".tgz")):
            raise FieldError(f"{filename!r}: upload a .tar.gz", "file")
        out = self.dir / "x"
        try:
            safe_extract(self.path, out, max_total_bytes=max(self.limit * 5, 1024**3))
        except ModelPackageError as err:
            raise FieldError(f"{filename}: {str(err).removeprefix(f'{self.path}: ')}", "file") from None
        return out

    def cleanup(self) -> None:
        self.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def known_track(world_name: str | None, names: set[str]) -> tuple[str, str | None] | None:
    """(track, direction) for a WORLD_NAME the track library has (`_cw`/`_ccw`: DeepRacer's direction suffix)."""
    if not world_name:
        return None
    if world_name in names:
        return world_name, None
    for suffix, direction in (("_ccw", "counterclockwise"), ("_cw", "clockwise")):
        if world_name.endswith(suffix) and world_name.removesuffix(suffix) in names:
            return world_name.removesuffix(suffix), direction
    return None


def copy_into(rec: Recognised, training: Path) -> None:
    """Copy a recognised upload into a model's training folder (no checkpoints, no links).

    A converted TensorFlow model keeps its folder's other files (reward function, hyperparameters,
    metrics) but not the TensorFlow files: its model/ is the converted package."""
    training.mkdir(parents=True, exist_ok=True)
    if rec.kind == "package":
        shutil.copytree(rec.package, training / "model", symlinks=False, dirs_exist_ok=True)
        return
    converted = not rec.package.is_relative_to(rec.root)
    ignore = shutil.ignore_patterns(*TF_PATTERNS) if converted else None
    for entry in rec.root.iterdir():
        if entry.name in SKIPPED:
            continue
        target = training / entry.name
        if entry.is_dir():
            shutil.copytree(entry, target, symlinks=False, dirs_exist_ok=True, ignore=ignore)
        elif entry.is_file() and not (ignore and ignore("", [entry.name])):
            shutil.copyfile(entry, target)
    if converted:
        shutil.copytree(rec.package, training / "model", symlinks=False, dirs_exist_ok=True)

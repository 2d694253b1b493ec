"""Import model: a model package or a training folder uploaded as .tar.gz.

The upload is size-limited while it streams to DATA/uploads, extracted there with the core's
safe extraction (absolute paths, `..`, links, devices and oversized members refused before a
byte is written), recognised, checked with `deepracer model check` in a process of its own,
and only then copied into a new model's folder. Anything refused leaves nothing behind.

Recognised layouts:
- package: model.onnx + model_metadata.json (ours, what `deepracer model pack` writes);
- deepracer: our training folder (model/, reward_function.py, ip/hyperparameters.json, metrics/...);
- DeepRacer-for-Cloud / DeepRacer on AWS folders and physical-car downloads hold a TensorFlow
  model (model.pb, .ckpt files): refused with that reason until `deepracer model import` exists.
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
from typing import Any

from deepracer.errors import ModelPackageError
from deepracer.model.tarball import safe_extract
from deepracer_console.errors import FieldError

TF_PATTERNS = ("*.pb", "*.ckpt*", ".coach_checkpoint", "*.index", "*.meta")
SKIPPED = ("checkpoints",)  # pickled training state: never taken from an upload
CHECK_TIMEOUT_S = 120.0


@dataclass
class Recognised:
    kind: str  # package | training_folder
    layout: str  # package | deepracer
    root: Path  # the folder holding the files
    package: Path  # the folder with model.onnx + model_metadata.json
    metadata: dict[str, Any]
    reward_function: str | None
    hyperparameters: dict[str, Any] | None


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


def recognise(folder: Path, filename: str) -> Recognised:
    root = _find_root(folder)
    if (root / "model.onnx").is_file():
        package, kind, layout = root, "package", "package"
    elif (root / "model" / "model.onnx").is_file():
        package, kind, layout = root / "model", "training_folder", "deepracer"
    else:
        tf = [p for pattern in TF_PATTERNS for p in root.rglob(pattern)]
        if tf:
            raise FieldError(f"{filename}: a DeepRacer TensorFlow model ({tf[0].relative_to(root)}) cannot run "
                             "here yet: models are ONNX; a future `deepracer model import` will convert it", "file")
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
    return Recognised(kind, layout, root, package, metadata, reward, hp)


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


def copy_into(rec: Recognised, training: Path) -> None:
    """Copy a recognised upload into a model's training folder (no checkpoints, no links)."""
    training.mkdir(parents=True, exist_ok=True)
    if rec.kind == "package":
        shutil.copytree(rec.package, training / "model", symlinks=False, dirs_exist_ok=True)
        return
    for entry in rec.root.iterdir():
        if entry.name in SKIPPED:
            continue
        target = training / entry.name
        if entry.is_dir():
            shutil.copytree(entry, target, symlinks=False, dirs_exist_ok=True)
        elif entry.is_file():
            shutil.copyfile(entry, target)

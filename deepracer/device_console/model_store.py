"""The models on the car: one folder per model package in a models folder.

An upload (a model .tar.gz) is checked with the same checks as `deepracer model check`
(deepracer.model.package) and extracted safely (deepracer.model.tarball) into a staging
folder beside the store; only a package that passes replaces anything, by one rename.
A bad upload is refused with every problem named and leaves the store as it was.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepracer.errors import ModelPackageError
from deepracer.model.package import (
    METADATA_FILE,
    ONNX_FILE,
    _find_root,
    check_model_package,
    load_model_package,
)
from deepracer.model.tarball import is_tarball, safe_extract, tarball_stem

MAX_UPLOAD_BYTES = 200 * 1024**2  # DeepRacer-sized CNNs are a few MB; 200 MB leaves room, not a disk
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
BUNDLED = "bundled"  # the name shown for the model the package ships (read-only)


def default_models_dir() -> Path:
    """$DEEPRACER_MODELS, else the service's /var/lib/deepracer/models when it is writable, else the user's."""
    override = os.environ.get("DEEPRACER_MODELS")
    if override:
        return Path(override).expanduser()
    system = Path("/var/lib/deepracer")
    if system.is_dir() and os.access(system, os.W_OK):
        return system / "models"
    return Path("~/.local/share/deepracer/models").expanduser()


def model_name(filename: str) -> str:
    """`my-model.tar.gz` -> `my-model`; ModelPackageError if the name is unusable."""
    name = tarball_stem(Path(filename).name)
    if not NAME_RE.match(name) or name == BUNDLED:
        raise ModelPackageError(f"model name {name!r}: use letters, digits, '.', '_' and '-' (1-64 characters, "
                                f"not {BUNDLED!r})", filename)
    return name


@dataclass(frozen=True)
class StoredModel:
    name: str
    path: Path
    bundled: bool = False

    def is_active(self, active: str | None) -> bool:
        """`active` = inference_node's `model` parameter ("" = the bundled model)."""
        return active is not None and _same(active, self.path, self.bundled)

    def to_json(self, active: str | None) -> dict[str, Any]:
        info: dict[str, Any] = {"name": self.name, "path": str(self.path), "bundled": self.bundled,
                                "active": self.is_active(active)}
        return info | _summary(str(self.path), _mtime(self.path))


def _mtime(path: Path) -> float:
    """Newest change in the package (a replaced file gives a new summary)."""
    try:
        if path.is_dir():
            return max((p.stat().st_mtime for p in path.rglob("*")), default=path.stat().st_mtime)
        return path.stat().st_mtime
    except OSError:
        return 0.0


@functools.lru_cache(maxsize=256)
def _summary(path: str, mtime: float) -> dict[str, Any]:
    """What the list shows; loading a package runs onnxruntime, so once per version of it."""
    try:
        meta = load_model_package(path).describe()
    except ModelPackageError as err:
        return {"valid": False, "problem": str(err)}
    return {"action_space_type": meta["action_space_type"], "sensor": meta["sensor"],
            "training_algorithm": meta["training_algorithm"], "onnx_bytes": meta["onnx_bytes"], "valid": True}


def _same(active: str, path: Path, bundled: bool) -> bool:
    if active == "":
        return bundled
    try:
        return Path(active).expanduser().resolve() == path.resolve()
    except OSError:
        return False


class ModelStore:
    def __init__(self, folder: str | Path, bundled: Path | None = None, max_upload_bytes: int = MAX_UPLOAD_BYTES) -> None:
        self.folder = Path(folder)
        self.bundled = bundled
        self.max_upload_bytes = max_upload_bytes

    def list(self) -> list[StoredModel]:
        out = []
        if self.bundled is not None and self.bundled.exists():
            out.append(StoredModel(BUNDLED, self.bundled, bundled=True))
        if self.folder.is_dir():
            for p in sorted(self.folder.iterdir()):
                if p.is_dir() and not p.name.startswith(".") and NAME_RE.match(p.name):
                    out.append(StoredModel(p.name, p))
        return out

    def get(self, name: str) -> StoredModel:
        for model in self.list():
            if model.name == name:
                return model
        raise KeyError(name)

    def add(self, upload: Path, filename: str, overwrite: bool = False) -> StoredModel:
        """Validate the uploaded archive `upload` (named `filename` by the user) and store it."""
        name = model_name(filename)
        if not is_tarball(filename):
            raise ModelPackageError(f"{filename}: upload a model package as .tar.gz (with {ONNX_FILE} and "
                                    f"{METADATA_FILE}), as `deepracer model pack` makes it")
        target = self.folder / name
        if target.exists() and not overwrite:
            raise FileExistsError(f"a model named {name!r} is already on the car; delete it first or upload with overwrite")
        # The checks read the archive under its own name, so problems name the user's file.
        self.folder.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".upload-", dir=self.folder))
        try:
            named = staging / Path(filename).name
            os.replace(upload, named)
            problems = check_model_package(named)
            if problems:
                raise ModelPackageError("invalid model package:\n  " + "\n  ".join(
                    p.replace(str(named), Path(filename).name) for p in problems))
            extracted = staging / "x"
            safe_extract(named, extracted)
            root = _find_root(extracted)
            old = None
            if target.exists():
                old = staging / "old"
                os.replace(target, old)
            os.replace(root, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return StoredModel(name, target)

    def delete(self, name: str) -> None:
        model = self.get(name)
        if model.bundled:
            raise PermissionError("the bundled model is part of the installed package and cannot be deleted")
        shutil.rmtree(model.path)

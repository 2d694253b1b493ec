"""Small file helpers shared by the modules that keep settings on disk.

- `atomic_write_bytes` / `atomic_write_text`: a temp file in the same folder, fsync, `os.replace`,
  so a reader (or a power cut) sees either the old file or the new one, never half of one.
  `backup=True` first copies the file being replaced to `<name>.bak` (atomically too).
- `read_text_file` / `load_yaml_file`: read a file and turn the usual failures (missing,
  unreadable, not UTF-8, invalid YAML) into the caller's DeepRacerError naming the file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from deepracer.errors import DeepRacerError


def backup_path(path: str | Path) -> Path:
    """Where `atomic_write_*(..., backup=True)` keeps the previous file: `<name>.bak`."""
    path = Path(path)
    return path.with_name(path.name + ".bak")


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_temp(directory: Path, name: str, data: bytes, *, fsync: bool) -> Path:
    """`data` in a new temp file (mode 0600, as tempfile.mkstemp creates it) next to `name`."""
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def atomic_write_bytes(path: str | Path, data: bytes, *, backup: bool = False, mode: int | None = None,
                       owner: tuple[int, int] | None = None, fsync: bool = True) -> Path:
    """Replace `path` with `data` atomically; returns `path`.

    backup: copy the existing file (if any) to `backup_path(path)` before the replace — a copy,
        not a move, so there is always a file at `path`. Callers decide whether the old file is
        worth keeping (calibration keeps only a good one: it passes `backup=previous_was_good`).
    mode: chmod the new file to this (the umask does not apply); None leaves mkstemp's 0600.
    owner: (uid, gid) to chown the new file to before it appears at `path`.
    fsync: flush the data (and, after the rename, the folder) to disk.
    The parent folder is created. On any failure the temp file is removed and `path` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _write_temp(path.parent, path.name, data, fsync=fsync)
    try:
        if mode is not None:
            os.chmod(tmp, mode)
        if owner is not None:
            os.chown(tmp, *owner)
        if backup and path.exists():
            bak = backup_path(path)
            bak_tmp = _write_temp(bak.parent, bak.name, path.read_bytes(), fsync=fsync)
            try:
                os.replace(bak_tmp, bak)
            except BaseException:
                bak_tmp.unlink(missing_ok=True)
                raise
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if fsync:
        _fsync_dir(path.parent)
    return path


def atomic_write_text(path: str | Path, text: str, *, backup: bool = False, mode: int | None = None,
                      owner: tuple[int, int] | None = None, fsync: bool = True) -> Path:
    """`atomic_write_bytes` of `text` in UTF-8."""
    return atomic_write_bytes(path, text.encode("utf-8"), backup=backup, mode=mode, owner=owner, fsync=fsync)


def read_text_file(path: Path, error_cls: type[DeepRacerError], *, missing: str, what: str) -> str:
    """The file's UTF-8 text, or `error_cls(missing, path)` when it does not exist and
    `error_cls("cannot read {what}: {err}", path)` when it cannot be read or decoded."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error_cls(missing, path) from None
    except (OSError, UnicodeDecodeError) as err:
        raise error_cls(f"cannot read {what}: {err}", path) from err


def load_yaml_file(path: Path, error_cls: type[DeepRacerError], *, missing: str, what: str,
                   syntax: str = "YAML") -> Any:
    """`read_text_file`, then yaml.safe_load (JSON is YAML too); a syntax error becomes
    `error_cls("invalid {syntax} at line L column C: problem", path)`."""
    text = read_text_file(path, error_cls, missing=missing, what=what)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        raise error_cls(f"invalid {syntax}{where}: {getattr(err, 'problem', err)}", path) from err

"""The user's track library: DeepRacer route files imported next to the built-in tracks.

`deepracer tracks import FILE_OR_DIR` validates each route file (DeepRacer's (N, 6) `.npy`,
e.g. the `routes/` folder of a DeepRacer-for-Cloud or simapp install) and copies the good
ones to the library folder as `<name>.npy` (plus `<name>.json`: where it came from). Every
`--track` then accepts the name: `resolve` looks in the built-in tracks, then the library,
then treats the text as a file path.

The folder is `$DEEPRACER_TRACKS_DIR`, else `$XDG_DATA_HOME/deepracer/tracks`, else
`~/.local/share/deepracer/tracks`.

A direction is part of a track spec, so it travels wherever a track name does (training
parameters, sim_node's `track` parameter, evaluation.json): DeepRacer's WORLD_NAME suffix
`reinvent2018_cw` / `reinvent2018_ccw` for named tracks, or `PATH.npy:clockwise` for files.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from deepracer.errors import TrackError
from deepracer.files import atomic_write_bytes
from deepracer.sim.track import (
    DEFAULT_TRACK,
    DESCRIPTIONS,
    TRACKS_DIR,
    Direction,
    Track,
    builtin_names,
    from_route,
)

LIBRARY_ENV = "DEEPRACER_TRACKS_DIR"
MAX_FILE_BYTES = 16 * 1024 * 1024  # DeepRacer's routes are a few kB; anything this big is not a route
MAX_WAYPOINTS = 100_000
MAX_COORDINATE_M = 1000.0  # routes are in metres; millimetres or pixels give huge numbers
MIN_WIDTH_M = 0.05
CROSSING_CHECK_MAX = 5000  # waypoints; O(N^2): DeepRacer's routes have 100-300
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")


class TrackSource(StrEnum):
    BUILTIN = "builtin"
    IMPORTED = "imported"


@dataclass(frozen=True)
class TrackInfo:
    """One row of `deepracer tracks list` (and the console's track list)."""

    name: str
    source: TrackSource
    length_m: float
    width_m: float
    waypoints: int  # number of distinct waypoints (no closing duplicate)
    description: str
    path: Path
    direction: Direction  # which way the file's waypoints run

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source.value, "length_m": round(self.length_m, 2),
                "width_m": round(self.width_m, 3), "waypoints": self.waypoints, "description": self.description,
                "path": str(self.path), "direction": self.direction.value}


@dataclass
class ImportResult:
    imported: list[TrackInfo] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (file, reason)


def default_library_dir() -> Path:
    override = os.environ.get(LIBRARY_ENV)
    if override:
        return Path(override).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME")
    base = Path(data_home).expanduser() if data_home else Path.home() / ".local" / "share"
    return base / "deepracer" / "tracks"


def _library(library_dir: str | Path | None) -> Path:
    return Path(library_dir).expanduser() if library_dir is not None else default_library_dir()


# -- validation ------------------------------------------------------------------------
def _segments_cross(points: np.ndarray, block: int = 256) -> tuple[int, int] | None:
    """The first pair of non-adjacent centre-line segments that cross, or None (vectorised in
    blocks of rows, so memory stays at block x N)."""
    a, b = points, np.roll(points, -1, axis=0)
    n = len(a)

    def orient(p: np.ndarray, q: np.ndarray, r: np.ndarray) -> np.ndarray:
        return np.sign((q[..., 0] - p[..., 0]) * (r[..., 1] - p[..., 1]) - (q[..., 1] - p[..., 1]) * (r[..., 0] - p[..., 0]))

    C, D = a[None, :, :], b[None, :, :]
    j = np.arange(n)[None, :]
    for start in range(0, n, block):
        A, B = a[start:start + block, None, :], b[start:start + block, None, :]
        cross = (orient(A, B, C) * orient(A, B, D) < 0) & (orient(C, D, A) * orient(C, D, B) < 0)
        i = np.arange(start, start + len(A))[:, None]
        gap = np.abs(i - j)
        cross &= (gap > 1) & (gap < n - 1) & (i < j)
        hits = np.argwhere(cross)
        if len(hits):
            return int(hits[0, 0]) + start, int(hits[0, 1])
    return None


def validate_route_file(path: str | Path, name: str | None = None) -> Track:
    """The track in a route file, or TrackError naming the file and what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        raise TrackError("no such route file", path)
    if path.stat().st_size > MAX_FILE_BYTES:
        raise TrackError(f"{path.stat().st_size} bytes is too big for a route file (limit {MAX_FILE_BYTES})", path)
    with path.open("rb") as f:
        if f.read(6) != b"\x93NUMPY":
            raise TrackError("not a .npy file (no NumPy header): a route is saved with numpy.save", path)
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise TrackError(f"not a readable .npy route file ({err})", path) from err
    if array.ndim == 2 and len(array) > MAX_WAYPOINTS:
        raise TrackError(f"{len(array)} waypoints is more than a route has (limit {MAX_WAYPOINTS})", path)
    track = from_route(array, name or path.stem, path, f"imported from {path.name}")
    a = np.asarray(array, dtype=np.float64)
    biggest = float(np.abs(a).max())
    if biggest > MAX_COORDINATE_M:
        raise TrackError(f"coordinates up to {biggest:.0f}: a route is in metres (is this millimetres or pixels?)", path)
    seg = track.seg_len
    gap, typical = float(seg[-1]), float(np.median(seg[:-1]))
    if gap > max(10 * typical, 0.5):
        raise TrackError(f"not a closed loop: the last waypoint is {gap:.2f} m from the first "
                         f"(waypoints are {typical:.2f} m apart)", path)
    narrow = int(np.argmin(track.widths))
    if track.widths[narrow] < MIN_WIDTH_M:
        raise TrackError(f"inner and outer borders {track.widths[narrow]:.3f} m apart at waypoint {narrow}: "
                         "columns must be [cx, cy, inner_x, inner_y, outer_x, outer_y]", path)
    crossing = _segments_cross(track.center) if track.n <= CROSSING_CHECK_MAX else None
    if crossing is not None:
        i, j = crossing
        raise TrackError(f"the centre line crosses itself (segments {i} and {j})", path)
    return track


# -- the library -----------------------------------------------------------------------
def _info(track: Track, source: TrackSource, path: Path, description: str) -> TrackInfo:
    return TrackInfo(track.name, source, track.length_m, track.width_m, track.n, description, path, track.direction)


def _library_files(library_dir: Path) -> list[Path]:
    return sorted(library_dir.glob("*.npy")) if library_dir.is_dir() else []


def _sidecar(npy: Path) -> dict[str, Any]:
    try:
        data = json.loads(npy.with_suffix(".json").read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _description(npy: Path) -> str:
    meta = _sidecar(npy)
    return str(meta.get("description") or (f"imported from {meta['imported_from']}" if meta.get("imported_from")
                                           else "imported route"))


def list_tracks(library_dir: str | Path | None = None) -> list[TrackInfo]:
    """Built-in tracks (the default first), then the library's, by name."""
    out = []
    for name in builtin_names():
        path = TRACKS_DIR / f"{name}.npy"
        out.append(_info(_load(path, name), TrackSource.BUILTIN, path, DESCRIPTIONS.get(name, "")))
    for path in _library_files(_library(library_dir)):
        try:
            track = _load(path, path.stem)
        except TrackError:
            continue  # damaged after import: `tracks show NAME` names the problem
        out.append(_info(track, TrackSource.IMPORTED, path, _description(path)))
    return out


def import_routes(path: str | Path, name: str | None = None, library_dir: str | Path | None = None,
                  replace: bool = False) -> ImportResult:
    """Validate and copy one route file, or every `*.npy` under a folder, into the library.

    A bad file is skipped with its reason and the others are imported. A name already in
    the library with different content is skipped unless `replace`; a built-in name always is.
    """
    path = Path(path).expanduser()
    library = _library(library_dir)
    if path.is_dir():
        if name:
            raise TrackError("--name needs a single route file, not a folder", path)
        files = sorted(p for p in path.rglob("*.npy") if p.is_file())
        if not files:
            raise TrackError("no .npy route files in this folder", path)
    elif path.is_file():
        files = [path]
    else:
        raise TrackError("no such file or folder", path)
    result = ImportResult()
    builtins = {n.lower() for n in builtin_names()}
    for file in files:
        track_name = name or file.stem
        if not _NAME.match(track_name):
            result.skipped.append((file, f"{track_name!r} is not a usable track name (letters, digits, _ . -)"))
            continue
        if track_name.lower() in builtins:
            result.skipped.append((file, f"{track_name!r} is a built-in track: import it with --name OTHER"))
            continue
        try:
            validate_route_file(file, track_name)
        except TrackError as err:
            result.skipped.append((file, str(err).removeprefix(f"{file}: ")))
            continue
        data = file.read_bytes()
        target = library / f"{track_name}.npy"
        if target.exists() and not replace:
            if target.read_bytes() == data:
                result.skipped.append((file, f"already in the library as {track_name!r}"))
            else:
                result.skipped.append((file, f"a different track named {track_name!r} is already in the library "
                                             "(use --replace, or --name OTHER)"))
            continue
        library.mkdir(parents=True, exist_ok=True)
        meta = {"imported_from": str(file.resolve()), "imported_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "sha256": hashlib.sha256(data).hexdigest(), "description": f"imported from {file.name}"}
        atomic_write_bytes(target, data)
        atomic_write_bytes(target.with_suffix(".json"), json.dumps(meta, indent=2).encode())
        result.imported.append(_info(_load(target, track_name), TrackSource.IMPORTED, target, meta["description"]))
    return result


def remove_track(name: str, library_dir: str | Path | None = None) -> Path:
    """Delete an imported track; returns the file removed."""
    if name in builtin_names():
        raise TrackError(f"{name!r} is a built-in track; only imported tracks can be removed")
    library = _library(library_dir)
    target = _library_lookup(library, name)
    if target is None:
        known = ", ".join(p.stem for p in _library_files(library)) or "none"
        raise TrackError(f"no imported track {name!r} in {library} (imported tracks: {known})")
    target.unlink()
    target.with_suffix(".json").unlink(missing_ok=True)
    _cache.clear()
    return target


# -- resolving a track spec ------------------------------------------------------------
_cache: dict[tuple[Any, ...], Track] = {}


def _load(path: Path, name: str, description: str | None = None) -> Track:
    try:
        st = path.stat()
    except OSError as err:
        raise TrackError("no such route file", path) from err
    key = (str(path), st.st_mtime_ns, st.st_size, name)
    if key not in _cache:
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as err:
            raise TrackError(f"not a readable .npy route file ({err})", path) from err
        _cache[key] = from_route(array, name, path, description if description is not None else f"route file {path.name}")
    return _cache[key]


def _library_lookup(library: Path, name: str) -> Path | None:
    exact = library / f"{name}.npy"
    if exact.is_file():
        return exact
    folded = [p for p in _library_files(library) if p.stem.lower() == name.lower()]
    return folded[0] if len(folded) == 1 else None


def split_direction(spec: str) -> tuple[str, Direction | None]:
    """`"route.npy:clockwise"` -> ("route.npy", CLOCKWISE); text without a direction -> (text, None)."""
    head, sep, tail = spec.rpartition(":")
    if sep and head:
        try:
            return head, Direction.parse(tail)
        except TrackError:
            pass
    return spec, None


def _by_name(name: str, library: Path) -> tuple[Path, str, str] | None:
    """(file, name, description) of a built-in or imported track."""
    if name in builtin_names():
        return TRACKS_DIR / f"{name}.npy", name, DESCRIPTIONS.get(name, "")
    found = _library_lookup(library, name)
    if found is not None:
        return found, found.stem, _description(found)
    return None


def resolve(name_or_path: str | Path | None = None, library_dir: str | Path | None = None,
            direction: Direction | str | None = None) -> Track:
    """The track a `--track` value means: a built-in name, an imported name, a route file path;
    with a direction from `direction`, a `:clockwise` suffix or DeepRacer's `_cw`/`_ccw` suffix
    (in that order of precedence). None/"" = the default track."""
    library = _library(library_dir)
    spec, spec_dir = split_direction(str(name_or_path or DEFAULT_TRACK))
    wanted = Direction.parse(direction) if direction is not None else spec_dir
    found = _by_name(spec, library)
    if found is None and not ("/" in spec or spec.endswith(".npy")):
        for d in Direction:  # DeepRacer's WORLD_NAME for two-direction tracks
            if spec.endswith(d.suffix) and (base := _by_name(spec[: -len(d.suffix)], library)) is not None:
                found, wanted = base, wanted or d
                break
    if found is not None:
        path, name, description = found
        track = _load(path, name, description)
    else:
        path = Path(spec).expanduser()
        if path.suffix == ".npy" or path.exists():
            if not path.is_file():
                raise TrackError(f"no such track file ({_known(library)})", path)
            track = _load(path, path.stem)
        else:
            raise TrackError(f"unknown track {spec!r}; {_known(library)} (or give the path of a DeepRacer "
                             "route .npy file, or import one with `deepracer tracks import`)")
    if wanted is None or wanted is track.direction:
        return track
    key = ("reversed", id(track))
    if key not in _cache or _cache[key].base_name != track.base_name:  # one reversed copy per loaded track
        _cache[key] = track.reversed()
    return _cache[key]


def _known(library: Path) -> str:
    text = f"built-in tracks: {', '.join(builtin_names())}"
    imported = [p.stem for p in _library_files(library)]
    return text + (f"; imported tracks: {', '.join(imported)}" if imported else "")


def with_direction(spec: str | None, direction: Direction | str | None) -> str | None:
    """A track spec (or a comma-separated list of them) that resolves to the same tracks driven
    `direction`, for passing on as a string (train, evaluate, sim_node's `track` parameter)."""
    if direction is None:
        return spec
    d = Direction.parse(direction)
    out = []
    for part in (spec or DEFAULT_TRACK).split(","):
        part = part.strip()
        if not part:
            continue
        base, _ = split_direction(part)
        if "/" in base or base.endswith(".npy"):
            resolve(base, direction=d)  # fail here, naming the file, not in a subprocess
            out.append(f"{base}:{d.value}")
        else:
            out.append(resolve(base, direction=d).name)  # e.g. reinvent2018_cw, as DeepRacer names it
    return ",".join(out)

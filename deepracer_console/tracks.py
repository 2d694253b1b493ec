"""Tracks in the console: the built-in ones and routes uploaded into DATA/tracks (the track
library of `deepracer tracks import`, which train/evaluate find through DEEPRACER_TRACKS_DIR)."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from deepracer.errors import TrackError
from deepracer.sim.track_library import import_routes, list_tracks, resolve, with_direction
from deepracer_console.defaults import DIRECTIONS
from deepracer_console.errors import FieldError, NotFound
from deepracer_console.schemas import TrackOut

_UPLOAD_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")


class Tracks:
    def __init__(self, library: Path, cache: Path) -> None:
        self.library = library
        self.cache = cache

    def list(self) -> list[TrackOut]:
        return [TrackOut(name=t.name, source=t.source.value, length_m=round(t.length_m, 2),
                         width_m=round(t.width_m, 3), waypoints=t.waypoints, description=t.description,
                         directions=list(DIRECTIONS), image_url=f"/api/tracks/{t.name}/image")
                for t in list_tracks(self.library)]

    def names(self) -> set[str]:
        return {t.name for t in list_tracks(self.library)}

    def check(self, name: str | None, field: str = "track") -> str:
        if not name or name not in self.names():
            raise FieldError(f"unknown track {name!r}; GET /api/tracks lists them", field)
        return name

    def spec(self, name: str, direction: str) -> str:
        """The --track value for train/evaluate: the name with DeepRacer's direction suffix."""
        return with_direction(name, direction) or name

    def image(self, name: str) -> Path:
        """A PNG of the track from above (cached; redrawn when the route file changes)."""
        import cv2

        from deepracer.sim.video import TopDown

        if name not in self.names():
            raise NotFound(f"unknown track {name!r}", "name")
        track = resolve(name, self.library)
        stamp = int(track.source.stat().st_mtime) if track.source else 0
        out = self.cache / f"track-{name}-{stamp}.png"
        if not out.is_file():
            self.cache.mkdir(parents=True, exist_ok=True)
            image = TopDown(track, height_px=240).base
            ok, png = cv2.imencode(".png", image)
            if not ok:
                raise TrackError("cannot draw the track", track.source)
            tmp = out.with_name(out.name + ".tmp")
            tmp.write_bytes(png.tobytes())
            tmp.replace(out)
        return out

    def upload(self, filename: str, data: bytes, name: str | None = None) -> TrackOut:
        """Validate an uploaded route .npy and add it to the library; FieldError naming the file."""
        stem = name or Path(filename or "").stem
        if not (filename or "").lower().endswith(".npy"):
            raise FieldError(f"{filename!r}: a route is a .npy file (DeepRacer's route format)", "file")
        if not _UPLOAD_NAME.match(stem):
            raise FieldError(f"{stem!r} is not a usable track name (letters, digits, _ . -)", "name")
        with tempfile.TemporaryDirectory(prefix="upload-", dir=self.library.parent) as tmp:
            path = Path(tmp) / f"{stem}.npy"
            path.write_bytes(data)
            try:
                result = import_routes(path, stem, self.library)
            except TrackError as err:
                raise FieldError(f"{filename}: {str(err).removeprefix(f'{path}: ')}", "file") from None
            if result.skipped:
                reason = result.skipped[0][1]
                raise FieldError(f"{filename}: {reason}", "file")
        return next(t for t in self.list() if t.name == result.imported[0].name)

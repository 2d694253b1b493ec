"""`deepracer console backup OUT.tar.gz` / `restore ARCHIVE`: the database and the data folder.

The SQLite database is copied with SQLite's online backup (a consistent snapshot even while the
console runs); every other file of the data folder is added as it is (a job writing at that
moment may leave a partial file of its own, never a broken database). Restore extracts into an
empty or new data folder with tarfile's "data" filter (no absolute paths, no `..`, no links
out, no devices). A PostgreSQL database is backed up with PostgreSQL's own pg_dump (not here).
"""

from __future__ import annotations

import sqlite3
import tarfile
import tempfile
from pathlib import Path

from deepracer.errors import ConfigError
from deepracer_console.settings import Settings

SKIP = {"console.db", "console.db-wal", "console.db-shm", "console.db-journal"}
SKIP_DIRS = {"uploads", "cache"}  # uploads in flight; caches are made again


def backup(settings: Settings, out: Path) -> int:
    """Write OUT (.tar.gz); returns the number of files in it."""
    if settings.database_url is not None and not settings.database_url.startswith("sqlite"):
        raise ConfigError("the database is not SQLite: back it up with pg_dump (PostgreSQL's own tool); "
                          "`deepracer console backup` copies SQLite databases and the data folder only")
    db = settings.data_dir / "console.db"
    if not db.is_file():
        raise ConfigError(f"{settings.data_dir}: no console database here (console.db); is --data right?")
    out = Path(out).expanduser().resolve()
    if out.is_relative_to(settings.data_dir):
        raise ConfigError(f"{out}: the backup cannot be written inside the data folder it backs up")
    count = 0
    with tempfile.TemporaryDirectory(prefix="deepracer-backup-") as tmp:
        snapshot = Path(tmp) / "console.db"
        src, dst = sqlite3.connect(db), sqlite3.connect(snapshot)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        partial = out.with_name(out.name + ".partial")
        with tarfile.open(partial, "w:gz") as tar:
            tar.add(snapshot, arcname="console.db")
            count += 1
            for path in sorted(settings.data_dir.rglob("*")):
                rel = path.relative_to(settings.data_dir)
                if rel.parts[0] in SKIP_DIRS or (len(rel.parts) == 1 and rel.name in SKIP):
                    continue
                if path.is_file() and not path.is_symlink():
                    tar.add(path, arcname=rel.as_posix(), recursive=False)
                    count += 1
        partial.replace(out)  # never a half-written archive under the name asked for
    return count


def restore(settings: Settings, archive: Path) -> int:
    """Extract ARCHIVE into an empty (or new) data folder; returns the number of files."""
    data = settings.data_dir
    if data.exists() and any(data.iterdir()):
        raise ConfigError(f"{data}: not empty; restore into a new or empty data folder (--data DIR)")
    archive = Path(archive).expanduser()
    try:
        with tarfile.open(archive, "r:gz") as tar:
            names = tar.getnames()
            if "console.db" not in names:
                raise ConfigError(f"{archive}: not a console backup (no console.db in it)")
            data.mkdir(parents=True, exist_ok=True)
            tar.extractall(data, filter="data")
    except (tarfile.TarError, OSError) as err:
        raise ConfigError(f"{archive}: cannot restore: {err}") from None
    from deepracer_console.db import migrate

    migrate(settings.db_url)  # an older backup comes up to the newest schema
    return sum(1 for p in data.rglob("*") if p.is_file())

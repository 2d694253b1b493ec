"""`deepracer console backup OUT.tar.gz` / `restore ARCHIVE`: the database and the data folder.

The database goes in with its own tool: SQLite's online backup (`console.db`, a consistent
snapshot even while the console runs), or PostgreSQL's pg_dump in its custom format
(`database.pgdump`, one consistent snapshot too). Every other file of the data folder is added as
it is, and with `--shared-storage` (Ray) the models and tracks kept there as well, under the same
names (a job writing at that moment may leave a partial file of its own, never a broken
database). `backup.json` says which database the archive holds.

Restore extracts into an empty or new data folder (and shared storage) with tarfile's "data"
filter (no absolute paths, no `..`, no links out, no devices). A PostgreSQL backup is restored
with pg_restore into a new, empty database (`--database URL`), then migrated to the newest schema
like an SQLite one. Moving between SQLite and PostgreSQL is not what restore does.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from pathlib import Path

from deepracer.errors import ConfigError
from deepracer_console.settings import Settings

SKIP = {"console.db", "console.db-wal", "console.db-shm", "console.db-journal"}
SKIP_DIRS = {"uploads", "cache"}  # uploads in flight; caches are made again
SQLITE_NAME = "console.db"
PG_DUMP_NAME = "database.pgdump"
MANIFEST = "backup.json"
FILES_DIRS = ("models", "tracks")  # what the shared storage holds (settings.files_dir)
PG_TIMEOUT_S = 3600.0


def _is_sqlite(settings: Settings) -> bool:
    return settings.database_url is None or settings.database_url.startswith("sqlite")


def pg_tool(name: str) -> str:
    """pg_dump / pg_restore: the newest Debian installs (a dump needs one at least as new as the server)."""
    def version(path: str) -> int:
        try:
            return int(Path(path).parts[-3])
        except (ValueError, IndexError):
            return 0

    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=version)
    if found:
        return found[-1]
    on_path = shutil.which(name)
    if on_path:
        return on_path
    raise ConfigError(f"{name} is not installed: it backs up and restores a PostgreSQL database "
                      "(Debian/Ubuntu: apt-get install postgresql-client)")


def _pg_connection(url: str) -> tuple[list[str], dict[str, str]]:
    """libpq options for pg_dump/pg_restore from the console's SQLAlchemy URL (the password in the
    environment, never on a command line others can read)."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if not u.drivername.startswith("postgresql") or not u.database:
        raise ConfigError(f"--database: not a PostgreSQL database URL with a database name: {u!r}")
    host = u.host or str(u.query.get("host") or "") or "localhost"
    args = ["-h", host, "-p", str(u.port or 5432), "-d", u.database]
    if u.username:
        args += ["-U", u.username]
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    return args, env


def _run_pg(argv: list[str], env: dict[str, str], what: str) -> None:
    try:
        run = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=PG_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise ConfigError(f"{what} failed: {err}") from None
    if run.returncode != 0:
        raise ConfigError(f"{what} failed: {run.stderr.strip() or f'exit code {run.returncode}'}")


def _files(settings: Settings) -> list[tuple[Path, str]]:
    """(file, name in the archive) for every file to keep besides the database."""
    out: list[tuple[Path, str]] = []
    shared = settings.shared_storage
    for path in sorted(settings.data_dir.rglob("*")):
        rel = path.relative_to(settings.data_dir)
        if rel.parts[0] in SKIP_DIRS or (len(rel.parts) == 1 and rel.name in SKIP):
            continue
        if shared is not None and (path == shared or shared in path.parents):
            continue
        if path.is_file() and not path.is_symlink():
            out.append((path, rel.as_posix()))
    if shared is not None:
        for top in FILES_DIRS:
            for path in sorted((shared / top).rglob("*")):
                if path.is_file() and not path.is_symlink():
                    out.append((path, path.relative_to(shared).as_posix()))
    return out


def backup(settings: Settings, out: Path) -> int:
    """Write OUT (.tar.gz); returns the number of files in it."""
    out = Path(out).expanduser().resolve()
    for folder in {settings.data_dir, settings.files_dir}:
        if out.is_relative_to(folder):
            raise ConfigError(f"{out}: the backup cannot be written inside the folder it backs up ({folder})")
    sqlite = _is_sqlite(settings)
    db = settings.data_dir / SQLITE_NAME
    if sqlite and not db.is_file():
        raise ConfigError(f"{settings.data_dir}: no console database here (console.db); is --data right?")
    count = 0
    with tempfile.TemporaryDirectory(prefix="deepracer-backup-") as tmp:
        if sqlite:
            snapshot = Path(tmp) / SQLITE_NAME
            src, dst = sqlite3.connect(db), sqlite3.connect(snapshot)
            try:
                src.backup(dst)
            finally:
                dst.close()
                src.close()
        else:
            assert settings.database_url is not None
            snapshot = Path(tmp) / PG_DUMP_NAME
            args, env = _pg_connection(settings.database_url)
            _run_pg([pg_tool("pg_dump"), "--format=custom", "--no-password", "-f", str(snapshot), *args], env,
                    "pg_dump")
        manifest = Path(tmp) / MANIFEST
        manifest.write_text(json.dumps({"format": 1, "database": "sqlite" if sqlite else "postgresql",
                                        "shared_storage": settings.shared_storage is not None}) + "\n")
        partial = out.with_name(out.name + ".partial")
        with tarfile.open(partial, "w:gz") as tar:
            tar.add(manifest, arcname=MANIFEST)
            tar.add(snapshot, arcname=snapshot.name)
            count += 1
            for path, name in _files(settings):
                tar.add(path, arcname=name, recursive=False)
                count += 1
        partial.replace(out)  # never a half-written archive under the name asked for
    return count


def _empty(folder: Path) -> bool:
    return not folder.exists() or not any(folder.iterdir())


def restore(settings: Settings, archive: Path) -> int:
    """Extract ARCHIVE into an empty (or new) data folder (and shared storage, and PostgreSQL
    database); returns the number of files."""
    data = settings.data_dir
    if not _empty(data):
        raise ConfigError(f"{data}: not empty; restore into a new or empty data folder (--data DIR)")
    shared = settings.shared_storage
    if shared is not None:
        for top in FILES_DIRS:
            if not _empty(shared / top):
                raise ConfigError(f"{shared / top}: not empty; restore into new or empty shared storage")
    archive = Path(archive).expanduser()
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            names = {m.name for m in members}
            if PG_DUMP_NAME in names:
                if _is_sqlite(settings):
                    raise ConfigError(f"{archive}: this backup holds a PostgreSQL database; restore it with "
                                      "--database postgresql+psycopg://USER@HOST/DB (a new, empty database)")
                _restore_postgresql(settings, tar)
            elif SQLITE_NAME in names:
                if not _is_sqlite(settings):
                    raise ConfigError(f"{archive}: this backup holds an SQLite database; restore it without "
                                      "--database (into the data folder)")
            else:
                raise ConfigError(f"{archive}: not a console backup (no console.db or database.pgdump in it)")
            data.mkdir(parents=True, exist_ok=True)
            tar.extractall(data, members=[m for m in members if m.name not in (MANIFEST, PG_DUMP_NAME)],
                           filter="data")
    except (tarfile.TarError, OSError) as err:
        raise ConfigError(f"{archive}: cannot restore: {err}") from None
    if shared is not None:  # the models and tracks go to the shared storage the jobs use
        shared.mkdir(parents=True, exist_ok=True)
        for top in FILES_DIRS:
            if (data / top).exists():
                if (shared / top).exists():
                    (shared / top).rmdir()  # empty (checked above)
                shutil.move(str(data / top), str(shared / top))
    from deepracer_console.db import migrate

    migrate(settings.db_url)  # an older backup comes up to the newest schema
    return sum(1 for p in data.rglob("*") if p.is_file()) + (
        sum(1 for top in FILES_DIRS for p in (shared / top).rglob("*") if p.is_file()) if shared else 0)


def _restore_postgresql(settings: Settings, tar: tarfile.TarFile) -> None:
    """pg_restore the archive's dump into the (empty) database of --database."""
    from sqlalchemy import create_engine, inspect

    assert settings.database_url is not None
    engine = create_engine(settings.database_url)
    try:
        tables = inspect(engine).get_table_names()
    except Exception as err:
        raise ConfigError(f"--database: cannot connect: {err}") from None
    finally:
        engine.dispose()
    if tables:
        raise ConfigError(f"--database: the database is not empty ({len(tables)} tables, e.g. {sorted(tables)[0]}); "
                          "restore into a new, empty database (createdb NAME)")
    args, env = _pg_connection(settings.database_url)
    with tempfile.TemporaryDirectory(prefix="deepracer-restore-") as tmp:
        dump = tar.extractfile(PG_DUMP_NAME)
        if dump is None:
            raise ConfigError(f"{PG_DUMP_NAME} in the archive is not a file")
        path = Path(tmp) / PG_DUMP_NAME
        with dump, path.open("wb") as f:
            shutil.copyfileobj(dump, f)
        _run_pg([pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
                 "--no-password", *args, str(path)], env, "pg_restore")

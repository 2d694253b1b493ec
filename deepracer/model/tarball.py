"""Model tarballs: safe extraction of untrusted archives and deterministic packing.

A model .tar.gz comes from the internet or a USB stick, so extraction refuses anything
that could write outside the target folder or fill the disk: absolute paths, `..`,
symlinks, hard links, devices and FIFOs, oversized members and oversized archives.
Every member is checked before the first byte is written, so a refused archive leaves
nothing behind, and the error names the offending member. Python's `data` extraction
filter is applied on top as a second line of defence.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import zlib
from pathlib import Path, PurePosixPath

from deepracer.errors import ModelPackageError

MAX_MEMBER_BYTES = 512 * 1024**2
MAX_TOTAL_BYTES = 1024**3
MAX_MEMBERS = 10_000


def is_tarball(path: str | Path) -> bool:
    name = Path(path).name.lower()
    return name.endswith((".tar.gz", ".tgz", ".tar"))


def tarball_stem(path: str | Path) -> str:
    """`foo.tar.gz` -> `foo` (the model's name)."""
    name = Path(path).name
    for suffix in (".tar.gz", ".tgz", ".tar"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(path).stem


def _check_member(member: tarfile.TarInfo, archive: Path, max_member_bytes: int) -> None:
    name = member.name
    parts = PurePosixPath(name).parts
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise ModelPackageError(f"archive member {name!r} has an absolute path", archive)
    if ".." in parts or "\\" in name:
        raise ModelPackageError(f"archive member {name!r} points outside the archive folder", archive)
    if member.issym() or member.islnk():
        raise ModelPackageError(f"archive member {name!r} is a link (to {member.linkname!r}); links are refused", archive)
    if member.isdev():
        raise ModelPackageError(f"archive member {name!r} is a device or FIFO", archive)
    if not (member.isfile() or member.isdir()):
        raise ModelPackageError(f"archive member {name!r} is not a regular file or folder", archive)
    if member.size > max_member_bytes:
        raise ModelPackageError(
            f"archive member {name!r} is {member.size} bytes, more than the limit of {max_member_bytes}", archive
        )


def safe_extract(
    archive: str | Path,
    dest: str | Path,
    max_member_bytes: int = MAX_MEMBER_BYTES,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    max_members: int = MAX_MEMBERS,
) -> Path:
    """Extract `archive` into the folder `dest` (created if needed) after checking every member."""
    archive, dest = Path(archive), Path(dest)
    try:
        tar = tarfile.open(archive, "r:*")
    except FileNotFoundError:
        raise ModelPackageError("archive not found", archive) from None
    except (tarfile.TarError, OSError, EOFError) as err:
        raise ModelPackageError(f"not a readable tar archive: {err}", archive) from err
    with tar:
        try:
            members = []
            total = 0
            for member in tar:  # streams the headers; stops early on a bad member
                _check_member(member, archive, max_member_bytes)
                total += member.size
                members.append(member)
                if total > max_total_bytes:
                    raise ModelPackageError(
                        f"archive unpacks to more than {max_total_bytes} bytes (at member {member.name!r})", archive
                    )
                if len(members) > max_members:
                    raise ModelPackageError(f"archive has more than {max_members} members", archive)
        except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
            raise ModelPackageError(f"corrupt tar archive: {err}", archive) from err
        dest.mkdir(parents=True, exist_ok=True)
        root = dest.resolve()
        for member in members:
            target = (root / member.name).resolve()
            if target != root and root not in target.parents:  # belt and braces after the checks above
                raise ModelPackageError(f"archive member {member.name!r} would be written outside {root}", archive)
        try:
            tar.extractall(root, members=members, filter=_data_filter(archive))
        except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
            raise ModelPackageError(f"cannot extract: {err}", archive) from err
    return root


def _data_filter(archive: Path):
    def data_filter(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo:
        try:
            return tarfile.data_filter(member, path)
        except tarfile.FilterError as err:
            raise ModelPackageError(f"archive member {member.name!r} refused: {err}", archive) from err

    return data_filter


def pack_model(src_dir: str | Path, out_tar_gz: str | Path) -> Path:
    """Validate the package in `src_dir`, then write it to `out_tar_gz`, byte-for-byte reproducible.

    Files go at the top of the archive, as in DeepRacer's model tarballs. Entries are sorted,
    owners, times and modes normalised, and the gzip header carries no time stamp.
    """
    from deepracer.model.package import check_model_package

    src, out = Path(src_dir), Path(out_tar_gz)
    if not src.is_dir():
        raise ModelPackageError("not a model package folder", src)
    problems = check_model_package(src)
    if problems:
        raise ModelPackageError("cannot pack an invalid package:\n  " + "\n  ".join(problems), src)
    files = []
    for path in sorted(src.rglob("*")):
        if path.is_symlink():
            raise ModelPackageError(f"{path.relative_to(src)} is a symlink; packages hold regular files only", src)
        if path.resolve() == out.resolve():
            continue  # packing into the source folder
        if path.is_file():
            files.append(path)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in files:
            info = tarfile.TarInfo(path.relative_to(src).as_posix())
            info.size = path.stat().st_size
            info.mode = 0o644
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            with path.open("rb") as f:
                tar.addfile(info, f)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    with tmp.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        gz.write(buf.getvalue())
    os.replace(tmp, out)  # never leaves a half-written tarball under the final name
    return out

"""Untrusted model tarballs are refused before anything is written; packing is reproducible."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from deepracer.errors import ModelPackageError
from deepracer.model.package import check_model_package, load_model_package
from deepracer.model.tarball import pack_model, safe_extract


def _add(tar: tarfile.TarFile, name: str, data: bytes = b"x", **attrs) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in attrs.items():
        setattr(info, key, value)
    tar.addfile(info, io.BytesIO(data) if info.isfile() else None)


def _malicious(tmp_path: Path, build) -> Path:
    out = tmp_path / "evil.tar.gz"
    with tarfile.open(out, "w:gz") as tar:
        _add(tar, "model_metadata.json", b"{}")  # a harmless member first: must not be written either
        build(tar)
    return out


def _files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")}


EVIL = {
    "absolute path": lambda tar: _add(tar, "/tmp/deepracer-evil-abs"),
    "dot-dot": lambda tar: _add(tar, "../outside.txt"),
    "nested dot-dot": lambda tar: _add(tar, "model/../../outside.txt"),
    "symlink": lambda tar: _add(tar, "model.onnx", b"", type=tarfile.SYMTYPE, linkname="/etc/passwd"),
    "hard link": lambda tar: _add(tar, "model.onnx", b"", type=tarfile.LNKTYPE, linkname="../outside.txt"),
    "character device": lambda tar: _add(tar, "tty", b"", type=tarfile.CHRTYPE, devmajor=5, devminor=0),
    "fifo": lambda tar: _add(tar, "pipe", b"", type=tarfile.FIFOTYPE),
}


@pytest.mark.parametrize("kind", list(EVIL))
def test_malicious_member_is_refused_and_nothing_is_written(tmp_path, kind):
    archive = _malicious(tmp_path, EVIL[kind])
    dest = tmp_path / "work" / "dest"
    before = _files_under(tmp_path)
    with pytest.raises(ModelPackageError) as err:
        safe_extract(archive, dest)
    message = str(err.value)
    assert "evil.tar.gz" in message
    bad_name = [m.name for m in tarfile.open(archive)][-1]
    assert repr(bad_name) in message  # the error names the member
    assert _files_under(tmp_path) == before  # not even the harmless member, nothing outside
    assert not Path("/tmp/deepracer-evil-abs").exists()


def test_oversized_member_is_refused(tmp_path):
    archive = _malicious(tmp_path, lambda tar: _add(tar, "model.onnx", b"\0" * 5000))
    with pytest.raises(ModelPackageError, match="'model.onnx' is 5000 bytes, more than the limit of 4096"):
        safe_extract(archive, tmp_path / "dest", max_member_bytes=4096)
    assert not (tmp_path / "dest").exists()


def test_archive_total_over_the_limit_is_refused(tmp_path):
    def build(tar):
        for i in range(5):
            _add(tar, f"part{i}", b"\0" * 1000)

    archive = _malicious(tmp_path, build)
    with pytest.raises(ModelPackageError, match="more than 3000 bytes"):
        safe_extract(archive, tmp_path / "dest", max_total_bytes=3000)
    assert not (tmp_path / "dest").exists()


def test_corrupt_archive_is_a_package_error(tmp_path):
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00garbage" * 10)
    [problem] = check_model_package(bad)
    assert "bad.tar.gz" in problem


def test_loading_a_malicious_package_fails_cleanly(tmp_path):
    archive = _malicious(tmp_path, EVIL["dot-dot"])
    with pytest.raises(ModelPackageError, match="outside"):
        load_model_package(archive)
    assert not (tmp_path.parent / "outside.txt").exists()


def test_safe_extract_keeps_good_archives(reference_package, tmp_path):
    out = pack_model(reference_package, tmp_path / "good.tar.gz")
    root = safe_extract(out, tmp_path / "dest")
    assert (root / "model.onnx").read_bytes() == (reference_package / "model.onnx").read_bytes()


def test_pack_is_reproducible_and_loads(reference_package, tmp_path):
    a = pack_model(reference_package, tmp_path / "a.tar.gz")
    b = pack_model(reference_package, tmp_path / "b" / "b.tar.gz")
    assert a.read_bytes() == b.read_bytes()
    with tarfile.open(a) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["model.onnx", "model_metadata.json"]
    assert all(m.mtime == 0 and m.uid == 0 and m.mode == 0o644 for m in members)
    assert load_model_package(a).metadata.num_outputs == 5


def test_pack_refuses_an_invalid_package_and_writes_nothing(reference_copy, tmp_path):
    (reference_copy / "model_metadata.json").write_text("not json")
    out = tmp_path / "out.tar.gz"
    with pytest.raises(ModelPackageError, match="invalid JSON at line 1"):
        pack_model(reference_copy, out)
    assert not out.exists()


def test_pack_refuses_symlinks(reference_copy, tmp_path):
    (reference_copy / "notes.txt").symlink_to("/etc/hostname")
    with pytest.raises(ModelPackageError, match="notes.txt is a symlink"):
        pack_model(reference_copy, tmp_path / "out.tar.gz")

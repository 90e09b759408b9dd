"""The app archive a plugin server receives is hostile input: only regular files and directories
inside the destination are written, within the size and entry limits."""

from __future__ import annotations

import io
import stat
import tarfile
from pathlib import Path

import pytest

from ferry import cmp
from ferry.errors import InvalidArgument, ResourceExhausted


def _tar(*entries: tarfile.TarInfo, data: bytes = b"x") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for entry in entries:
            if entry.isfile():
                entry.size = len(data)
                tar.addfile(entry, io.BytesIO(data))
            else:
                tar.addfile(entry)
    return buffer.getvalue()


def _entry(name: str, kind: bytes = tarfile.REGTYPE, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    info.mode = 0o755
    return info


def test_pack_then_unpack_keeps_files_and_drops_exec_bits_unless_preserved(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.yaml").write_text("a: 1\n")
    (src / "sub" / "run.sh").write_text("#!/bin/sh\n")
    (src / "sub" / "run.sh").chmod(0o755)
    (src / "link").symlink_to("/etc/passwd")
    archive = cmp.pack(src)
    assert archive == cmp.pack(src)  # deterministic
    plain, preserved = tmp_path / "plain", tmp_path / "preserved"
    plain.mkdir()
    preserved.mkdir()
    assert cmp.unpack(archive, plain) == 2
    assert (plain / "a.yaml").read_text() == "a: 1\n"
    assert not (plain / "link").exists()
    assert not (plain / "sub" / "run.sh").stat().st_mode & stat.S_IXUSR
    cmp.unpack(archive, preserved, preserve_file_mode=True)
    assert (preserved / "sub" / "run.sh").stat().st_mode & stat.S_IXUSR


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (_entry("/etc/cron.d/x"), "is not a relative path"),
        (_entry("../outside"), "leaves the app directory"),
        (_entry("a/../../outside"), "leaves the app directory"),
        (_entry("link", tarfile.SYMTYPE, "/etc/passwd"), "not a regular file or directory"),
        (_entry("hard", tarfile.LNKTYPE, "a.yaml"), "not a regular file or directory"),
        (_entry("dev", tarfile.CHRTYPE), "not a regular file or directory"),
        (_entry("fifo", tarfile.FIFOTYPE), "not a regular file or directory"),
    ],
)
def test_hostile_entries_are_refused(tmp_path: Path, entry: tarfile.TarInfo, message: str) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(InvalidArgument, match=message):
        cmp.unpack(_tar(entry), dest)
    assert not (tmp_path / "outside").exists()


def test_a_file_cannot_be_written_twice_or_through_a_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="appears twice"):
        cmp.unpack(_tar(_entry("a"), _entry("a")), tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(InvalidArgument, match="appears twice"):
        cmp.unpack(_tar(_entry("a"), _entry("a/b")), other)


def test_limits_name_the_flag(tmp_path: Path) -> None:
    with pytest.raises(ResourceExhausted, match="--max-archive-size"):
        cmp.unpack(_tar(_entry("big"), data=b"x" * 5000), tmp_path, max_bytes=4096)
    with pytest.raises(ResourceExhausted, match="--max-archive-entries"):
        cmp.unpack(_tar(_entry("a"), _entry("b"), _entry("c")), tmp_path, max_entries=2)


def test_garbage_is_not_an_archive(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="not a tar archive"):
        cmp.unpack(b"\x00garbage" * 100, tmp_path)


def test_socket_names_follow_argo() -> None:
    assert cmp.socket_path(Path("/s"), "cdk8s", "v1.0") == Path("/s/cdk8s-v1.0.sock")
    assert cmp.socket_path(Path("/s"), "cdk8s") == Path("/s/cdk8s.sock")

"""The shared pieces of the config management plugin contract (protos/ferry/v1/cmp.proto): how a
plugin's socket is named, and the archive an app's directory travels in from the repo server to a
ferry-cmp-server.

The archive is an uncompressed tar of regular files and directories, paths relative to the app
directory. ``pack`` writes only those; ``unpack`` is the guard on the receiving side and treats the
archive as hostile: absolute paths, ``..``, links, devices and anything but files and directories
are refused, sizes and entry counts are bounded, and files are created with ``O_NOFOLLOW`` and
``O_EXCL`` so no entry can write through another. This module must never run a plugin.
"""

from __future__ import annotations

import io
import os
import posixpath
import stat
import tarfile
from pathlib import Path

from ferry.errors import InvalidArgument, ResourceExhausted

SOCKET_SUFFIX = ".sock"
# Argo CD's default socket directory, shared between the repo server and its plugin sidecars.
DEFAULT_SOCKET_DIR = "/home/argocd/cmp-server/plugins"
DEFAULT_MAX_ARCHIVE_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_ARCHIVE_ENTRIES = 100_000


def plugin_full_name(name: str, version: str = "") -> str:
    """The name an Application's ``plugin.name`` gives and the socket's stem: Argo CD's
    ``<name>-<version>``, or ``<name>`` for a plugin without a version."""
    return f"{name}-{version}" if version else name


def socket_path(socket_dir: Path, name: str, version: str = "") -> Path:
    return socket_dir / f"{plugin_full_name(name, version)}{SOCKET_SUFFIX}"


def pack(root: Path) -> bytes:
    """``root``'s regular files and directories as a tar (sorted, so equal trees give equal
    bytes); anything else under it (links, sockets) is left out."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames.sort()
            base = Path(dirpath)
            for name in [*dirnames, *sorted(filenames)]:
                path = base / name
                info = path.lstat()
                rel = path.relative_to(root).as_posix()
                if stat.S_ISDIR(info.st_mode):
                    entry = tarfile.TarInfo(rel)
                    entry.type, entry.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(entry)
                elif stat.S_ISREG(info.st_mode):
                    entry = tarfile.TarInfo(rel)
                    entry.size = info.st_size
                    entry.mode = 0o755 if info.st_mode & stat.S_IXUSR else 0o644
                    with path.open("rb") as data:
                        tar.addfile(entry, data)
    return buffer.getvalue()


def _safe_name(name: str) -> str:
    if not name or name.startswith("/") or "\\" in name or "\0" in name:
        raise InvalidArgument(f"archive entry {name!r} is not a relative path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidArgument(f"archive entry {name!r} leaves the app directory ('..')")
    return posixpath.join(*parts) if parts else ""


def unpack(
    data: bytes,
    dest: Path,
    *,
    max_bytes: int = DEFAULT_MAX_ARCHIVE_BYTES,
    max_entries: int = DEFAULT_MAX_ARCHIVE_ENTRIES,
    preserve_file_mode: bool = False,
) -> int:
    """Extracts an app archive into the existing empty directory ``dest``; returns the number
    of files written. Executable bits are kept only with ``preserve_file_mode`` (Argo CD's
    ``preserveFileMode``: a repository's executables stay non-executable by default)."""
    if len(data) > max_bytes:
        raise ResourceExhausted(
            f"the app archive has {len(data)} bytes (limit --max-archive-size={max_bytes})"
        )
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            return _extract(tar, dest, max_bytes, max_entries, preserve_file_mode)
    except (FileExistsError, NotADirectoryError) as err:
        raise InvalidArgument(f"archive entry {err.filename!r} appears twice, as a file and more") from None
    except tarfile.TarError as err:
        raise InvalidArgument(f"the app archive is not a tar archive or is corrupt: {err}") from None


def _extract(
    tar: tarfile.TarFile, dest: Path, max_bytes: int, max_entries: int, preserve_file_mode: bool
) -> int:
    total = entries = files = 0
    for member in tar:
        entries += 1
        if entries > max_entries:
            raise ResourceExhausted(
                f"the app archive has more than {max_entries} entries (limit --max-archive-entries)"
            )
        name = _safe_name(member.name)
        if not (member.isfile() or member.isdir()):
            raise InvalidArgument(
                f"archive entry {member.name!r} is not a regular file or directory "
                "(links and devices are refused)"
            )
        if not name:
            continue
        target = dest / name
        if member.isdir():
            target.mkdir(mode=0o755, parents=True, exist_ok=True)
            continue
        total += member.size
        if total > max_bytes:
            raise ResourceExhausted(
                f"the app archive's files exceed {max_bytes} bytes (limit --max-archive-size)"
            )
        target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        mode = 0o755 if preserve_file_mode and member.mode & stat.S_IXUSR else 0o644
        source = tar.extractfile(member)
        assert source is not None
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        with os.fdopen(fd, "wb") as out, source:
            while chunk := source.read(1024 * 1024):
                out.write(chunk)
        os.chmod(target, mode)  # not narrowed by the umask
        files += 1
    return files

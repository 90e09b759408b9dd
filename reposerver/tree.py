"""Reading a commit's files straight from Git objects (pygit2), with the repository root as a
hard boundary: ``..``, absolute paths and symlinks that leave the root are refused.

Only tools that need a filesystem (kustomize, helm) get files on disk, through ``materialize``
into a private directory the caller removes.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
from collections.abc import Iterator
from pathlib import Path

import pygit2

from ferry.errors import InvalidArgument, NotFound

_SYMLINK_MODE = 0o120000
_MAX_SYMLINK_HOPS = 16


def clean_path(path: str, *, what: str = "path") -> str:
    """A repository-relative path in canonical form ("" is the root); rejects escapes."""
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        raise InvalidArgument(f"{what} {path!r} is absolute; give a path relative to the repository root")
    normalized = posixpath.normpath(path or ".")
    if normalized == ".." or normalized.startswith("../"):
        raise InvalidArgument(f"{what} {path!r} leaves the repository root")
    return "" if normalized == "." else normalized


def join(base: str, rel: str, *, what: str = "path") -> str:
    """``rel`` resolved against the directory ``base``, staying inside the repository."""
    if rel.startswith("/"):
        raise InvalidArgument(f"{what} {rel!r} is absolute; references must stay inside the repository")
    return clean_path(posixpath.join(base, rel), what=what)


class CommitTree:
    """The files of one commit."""

    def __init__(self, repo: pygit2.Repository, commit: pygit2.Commit) -> None:
        self.repo = repo
        self.commit = commit
        self.sha = str(commit.id)

    def _entry(self, path: str, *, follow: bool = True, hops: int = 0) -> tuple[str, pygit2.Object] | None:
        """(resolved path, object) for a path, following in-repository symlinks on every segment."""
        path = clean_path(path)
        if not path:
            return "", self.commit.tree
        node: pygit2.Object = self.commit.tree
        done: list[str] = []
        parts = path.split("/")
        for index, part in enumerate(parts):
            if not isinstance(node, pygit2.Tree) or part not in node:
                return None
            entry = node[part]
            last = index == len(parts) - 1
            if entry.filemode == _SYMLINK_MODE and (follow or not last):
                if hops >= _MAX_SYMLINK_HOPS:
                    raise InvalidArgument(f"symlink loop at {'/'.join([*done, part])!r}")
                target = self._blob_text(entry.id)
                link_dir = "/".join(done)
                resolved = join(link_dir, target, what=f"symlink {'/'.join([*done, part])!r} target")
                rest = "/".join(parts[index + 1 :])
                return self._entry(
                    posixpath.join(resolved, rest) if rest else resolved, follow=follow, hops=hops + 1
                )
            done.append(part)
            node = self.repo[entry.id]
        return "/".join(done), node

    def _blob_text(self, oid: pygit2.Oid) -> str:
        blob = self.repo[oid]
        assert isinstance(blob, pygit2.Blob)
        return blob.data.decode()

    def exists(self, path: str) -> bool:
        return self._entry(path) is not None

    def is_dir(self, path: str) -> bool:
        found = self._entry(path)
        return found is not None and isinstance(found[1], pygit2.Tree)

    def is_file(self, path: str) -> bool:
        found = self._entry(path)
        return found is not None and isinstance(found[1], pygit2.Blob)

    def read(self, path: str) -> bytes:
        found = self._entry(path)
        if found is None or not isinstance(found[1], pygit2.Blob):
            raise NotFound(f"{path!r} does not exist in commit {self.sha[:12]}")
        return bytes(found[1].data)

    def listdir(self, path: str) -> list[str]:
        found = self._entry(path)
        if found is None or not isinstance(found[1], pygit2.Tree):
            raise NotFound(f"directory {path!r} does not exist in commit {self.sha[:12]}")
        return sorted(str(entry.name) for entry in found[1])

    def walk_files(self, path: str, *, recurse: bool) -> Iterator[str]:
        """Repository paths of the files under ``path`` (symlinked files included, checked)."""
        base = clean_path(path)
        for name in self.listdir(base):
            child = f"{base}/{name}" if base else name
            found = self._entry(child)
            if found is None:
                continue
            if isinstance(found[1], pygit2.Tree):
                if recurse:
                    yield from self.walk_files(child, recurse=True)
            else:
                yield child

    def materialize(self, dest: Path, paths: list[str] | None = None) -> None:
        """Writes the commit's files (or only ``paths``, files or directories) under ``dest``.
        Symlinks are written as links only when they stay inside the repository."""
        roots = [clean_path(p) for p in paths] if paths else [""]
        for root in roots:
            found = self._entry(root, follow=False)
            if found is None:
                continue
            self._write(found[1], root, dest)

    def _write(self, obj: pygit2.Object, path: str, dest: Path) -> None:
        target = dest / path if path else dest
        if isinstance(obj, pygit2.Tree):
            target.mkdir(parents=True, exist_ok=True)
            for entry in obj:
                name = str(entry.name)
                child = f"{path}/{name}" if path else name
                if entry.filemode == _SYMLINK_MODE:
                    link = self._blob_text(entry.id)
                    join(path, link, what=f"symlink {child!r} target")  # raises when it escapes
                    (dest / child).parent.mkdir(parents=True, exist_ok=True)
                    if not (dest / child).exists():
                        os.symlink(link, dest / child)
                else:
                    self._write(self.repo[entry.id], child, dest)
        elif isinstance(obj, pygit2.Blob):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(obj.data)


def glob_match(path: str, pattern: str) -> bool:
    """Argo CD's directory include/exclude globs: ``{a,b}`` alternatives, matched on the path
    relative to the app directory and on the file name."""
    alternatives = _expand_braces(pattern)
    name = posixpath.basename(path)
    return any(fnmatch.fnmatchcase(path, alt) or fnmatch.fnmatchcase(name, alt) for alt in alternatives)


def _expand_braces(pattern: str) -> list[str]:
    start = pattern.find("{")
    end = pattern.find("}", start)
    if start < 0 or end < 0:
        return [pattern]
    head, body, tail = pattern[:start], pattern[start + 1 : end], pattern[end + 1 :]
    return [expanded for option in body.split(",") for expanded in _expand_braces(head + option + tail)]

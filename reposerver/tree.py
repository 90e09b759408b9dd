"""Reading a commit's files straight from Git objects (pygit2), with the repository root as a
hard boundary: ``..``, absolute paths and symlinks that leave the root are refused.

Only tools that need a filesystem (kustomize, helm) get files on disk, through ``materialize``
into a private directory the caller removes.

Every walk, read and write is charged to the tree's ``Budget`` (one per request): a tree of
shared subtrees or a huge blob ends in ResourceExhausted naming the limit. A blob's size comes
from its object header, before its content is inflated; objects are taken lazily from their tree
entries, so walking past a 2 GB blob never reads it.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
from collections.abc import Iterator
from pathlib import Path

import pygit2

from ferry.errors import InvalidArgument, NotFound
from reposerver.limits import Budget

_SYMLINK_MODE = 0o120000
_MAX_SYMLINK_HOPS = 16
_MAX_SYMLINK_TARGET = 4096  # PATH_MAX: a longer symlink target is no path


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

    def __init__(self, repo: pygit2.Repository, commit: pygit2.Commit, budget: Budget | None = None) -> None:
        self.repo = repo
        self.commit = commit
        self.sha = str(commit.id)
        self.budget = budget if budget is not None else Budget()

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
            node = entry  # lazy: a blob's content is read only when asked for
        return "/".join(done), node

    def blob_size(self, oid: pygit2.Oid) -> int:
        """A blob's size from its object header, without inflating its content."""
        _, size = self.repo.odb.read_header(oid)
        return int(size)

    def _blob_data(self, path: str, oid: pygit2.Oid) -> bytes:
        """A blob's content, charged to the budget before it is read."""
        self.budget.blob(path, self.blob_size(oid))
        blob = self.repo[oid]
        assert isinstance(blob, pygit2.Blob)
        return bytes(blob.data)

    def _blob_text(self, oid: pygit2.Oid) -> str:
        if self.blob_size(oid) > _MAX_SYMLINK_TARGET:
            raise InvalidArgument(f"a symlink target longer than {_MAX_SYMLINK_TARGET} bytes ({oid})")
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
        return self._blob_data(found[0], found[1].id)

    def size(self, path: str) -> int:
        """A file's size in bytes, from its object header (its content is not read)."""
        found = self._entry(path)
        if found is None or not isinstance(found[1], pygit2.Blob):
            raise NotFound(f"{path!r} does not exist in commit {self.sha[:12]}")
        return self.blob_size(found[1].id)

    def listdir(self, path: str) -> list[str]:
        found = self._entry(path)
        if found is None or not isinstance(found[1], pygit2.Tree):
            raise NotFound(f"directory {path!r} does not exist in commit {self.sha[:12]}")
        return sorted(str(entry.name) for entry in found[1])

    def children(self, path: str, directory: pygit2.Tree) -> list[tuple[str, pygit2.Object]]:
        """(path, object) of the entries of ``directory`` (the tree at ``path``) in name order,
        symlinks resolved inside the repository (dangling ones left out), charged to the budget.
        The walks below take each directory's objects from its parent, so an entry costs one
        step whatever its depth."""
        self.budget.entry(len(directory))
        found: list[tuple[str, pygit2.Object]] = []
        for entry in sorted(directory, key=lambda e: str(e.name)):
            name = str(entry.name)
            child = f"{path}/{name}" if path else name
            if entry.filemode == _SYMLINK_MODE:
                resolved = self._entry(child)
                if resolved is not None:
                    found.append((child, resolved[1]))
            else:
                found.append((child, entry))
        return found

    def walk_files(self, path: str, *, recurse: bool) -> Iterator[str]:
        """Repository paths of the files under ``path`` (symlinked files included, checked),
        depth first in name order; iterative, so a deep tree cannot exhaust the stack."""
        base = clean_path(path)
        found = self._entry(base)
        if found is None or not isinstance(found[1], pygit2.Tree):
            raise NotFound(f"directory {path!r} does not exist in commit {self.sha[:12]}")
        stack = [iter(self.children(base, found[1]))]
        while stack:
            for child, obj in stack[-1]:
                if isinstance(obj, pygit2.Tree):
                    if recurse:
                        stack.append(iter(self.children(child, obj)))
                        break
                else:
                    yield child
            else:
                stack.pop()

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
        self.budget.entry()
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
                    self._write(entry, child, dest)
        elif isinstance(obj, pygit2.Blob):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self._blob_data(path, obj.id))


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

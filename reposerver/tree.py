"""Reading a commit's files straight from Git objects (pygit2), with the repository root as a
hard boundary: ``..``, absolute paths and symlinks that leave the root are refused.

Symlinks are resolved the way the kernel would resolve them in a checkout, one segment at a
time against the commit's tree (``resolve``): a link's target is followed component by component,
links met on the way are expanded where they are, and a ``..`` that climbs above the root — from
any link of the chain — or an absolute target refuses the path naming the link (Argo CD's
out-of-bounds symlink rule, CVE-2022-24731 class). Lexical normalisation of a target is never
trusted: ``u/../x`` is not ``x`` when ``u`` is itself a link.

Only tools that need a filesystem (kustomize, helm) get files on disk, through ``materialize``
into a private directory the caller removes. It writes blobs and real directories only, never a
symlink: an in-repository link is written as a copy of what it resolves to, so nothing on disk
can point outside the work dir and no later write can go through a link. It must never write git's
own files (``.git``, ``.gitconfig``, ...) nor hidden files no renderer asked for.

Every walk, read and write is charged to the tree's ``Budget`` (one per request): a tree of
shared subtrees or a huge blob ends in ResourceExhausted naming the limit. A blob's size comes
from its object header, before its content is inflated; objects are taken lazily from their tree
entries, so walking past a 2 GB blob never reads it.
"""

from __future__ import annotations

import fnmatch
import posixpath
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import pygit2

from ferry.errors import InvalidArgument, NotFound, ResourceExhausted
from reposerver.limits import Budget

_SYMLINK_MODE = 0o120000
# Links followed while resolving one path (Linux's MAXSYMLINKS).
MAX_SYMLINK_HOPS = 40
_MAX_SYMLINK_TARGET = 4096  # PATH_MAX: a longer symlink target is no path
# Entries one materialize may write (in-repository directory links are copied, so a commit of
# links to links could otherwise fan out exponentially).
MAX_MATERIALIZED_ENTRIES = 200_000
# Hidden names that are git's own files: never written, even when asked for.
_GIT_NAMES = frozenset({".git", ".gitconfig", ".gitmodules", ".gitattributes"})
# Hidden names renderers read without a reference naming them.
_HIDDEN_KEPT = frozenset({".helmignore"})


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


class Kind(Enum):
    TREE = "tree"
    BLOB = "blob"
    LINK = "link"


# lookup(directory segments, name) -> (kind, link target when a link) or None when absent
Lookup = Callable[[tuple[str, ...], str], "tuple[Kind, str | None] | None"]


def out_of_bounds(link: str, target: str) -> InvalidArgument:
    return InvalidArgument(
        f"repository contains out-of-bounds symlinks. file: {link} (target {target!r} leaves the "
        "repository; links must point inside it)"
    )


def resolve(path: str, lookup: Lookup, *, follow_last: bool = True) -> tuple[str, Kind] | None:
    """The real repository path of ``path`` (already clean) and its kind, following links segment
    by segment; None when a segment does not exist. Raises InvalidArgument naming the link when a
    link's target is absolute or climbs above the root, or on a loop."""
    segments: list[str] = []
    kinds: list[Kind] = [Kind.TREE]
    # each component carries the link whose target it came from (None: the path asked for)
    pending: deque[tuple[str, str | None, str]] = deque((part, None, "") for part in path.split("/"))
    hops = 0
    while pending:
        part, origin, origin_target = pending.popleft()
        if part in ("", "."):
            continue
        if kinds[-1] is not Kind.TREE:
            return None  # a file with something after it
        if part == "..":
            if not segments:
                if origin is None:
                    raise InvalidArgument(f"path {path!r} leaves the repository root")
                raise out_of_bounds(origin, origin_target)
            segments.pop()
            kinds.pop()
            continue
        found = lookup(tuple(segments), part)
        if found is None:
            return None
        kind, target = found
        if kind is Kind.LINK and (pending or follow_last):
            link = "/".join([*segments, part])
            hops += 1
            if hops > MAX_SYMLINK_HOPS:
                raise InvalidArgument(f"symlink loop at {link!r} (more than {MAX_SYMLINK_HOPS} links)")
            assert target is not None
            if target.startswith("/") or not target:
                raise out_of_bounds(link, target)
            pending.extendleft(reversed([(p, link, target) for p in target.split("/")]))
            continue
        segments.append(part)
        kinds.append(kind)
    return "/".join(segments), kinds[-1]


def hidden_skipped(name: str, path: str, wanted: set[str]) -> bool:
    """Whether a hidden entry is left out of a materialized tree."""
    if name.lower() in _GIT_NAMES:
        return True
    return name.startswith(".") and name not in _HIDDEN_KEPT and path not in wanted


def _valid_name(name: str) -> bool:
    # git trees built by hand can hold names a checkout would refuse
    return name not in ("", ".", "..") and "/" not in name and "\0" not in name


class CommitTree:
    """The files of one commit."""

    def __init__(self, repo: pygit2.Repository, commit: pygit2.Commit, budget: Budget | None = None) -> None:
        self.repo = repo
        self.commit = commit
        self.sha = str(commit.id)
        self.budget = budget if budget is not None else Budget()
        self._trees: dict[tuple[str, ...], pygit2.Tree] = {(): commit.tree}

    def _tree(self, segments: tuple[str, ...]) -> pygit2.Tree:
        tree = self._trees.get(segments)
        if tree is None:
            obj = self.repo[self._tree(segments[:-1])[segments[-1]].id]
            assert isinstance(obj, pygit2.Tree)
            tree = self._trees[segments] = obj
        return tree

    def _lookup(self, segments: tuple[str, ...], name: str) -> tuple[Kind, str | None] | None:
        tree = self._tree(segments)
        if name not in tree:
            return None
        entry = tree[name]
        if entry.filemode == _SYMLINK_MODE:
            return Kind.LINK, self._blob_text(entry.id)
        if entry.type_str == "tree":
            return Kind.TREE, None
        return (Kind.BLOB, None) if entry.type_str == "blob" else None  # submodules: no files here

    def _entry(self, path: str, *, follow: bool = True) -> tuple[str, pygit2.Object] | None:
        """(resolved path, object) for a path, following in-repository symlinks on every segment."""
        path = clean_path(path)
        found = resolve(path, self._lookup, follow_last=follow)
        if found is None:
            return None
        real, kind = found
        if not real:
            return "", self.commit.tree
        head, _, name = real.rpartition("/")
        parent = self._tree(tuple(head.split("/")) if head else ())
        if kind is Kind.TREE:
            return real, self._tree(tuple(real.split("/")))
        return real, parent[name]  # lazy: a blob's content is read only when asked for

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
        return blob.data.decode(errors="replace")

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

    def materialize(self, dest: Path, paths: list[str] | None = None) -> set[str]:
        """Writes the commit's files (or only ``paths``, files or directories) under ``dest``;
        returns the repository paths it read besides them (the real paths of links it followed,
        inputs of the render too).

        Roots are reduced to minimal paths first (none is written inside another). Only blobs and
        directories are written: a symlink whose target stays in the repository becomes a copy of
        the file or directory it resolves to; one that leaves it (directly or through other links)
        refuses the whole call with INVALID_ARGUMENT naming it; a dangling one, or a link to a
        directory being copied (a loop), is not written. Git's own files are never written; other
        hidden names only when they are ``.helmignore`` or one of ``paths`` (or lead to one)."""
        asked = [clean_path(p) for p in paths] if paths else [""]
        wanted = {p for p in asked if p}
        for path in list(wanted):
            wanted.update("/".join(path.split("/")[:depth]) for depth in range(1, path.count("/") + 1))
        walk = _Walk(dest, wanted)
        for root in minimal_roots(asked):
            segments = root.split("/") if root else []
            if any(s.lower() in _GIT_NAMES for s in segments):
                continue
            found = self._entry(root)
            if found is None:
                continue
            real, obj = found
            if real != root:
                walk.followed.add(real)
            self._write(obj, root, real, walk, ())
        return walk.followed

    def _write(self, obj: pygit2.Object, path: str, real: str, walk: _Walk, copying: tuple[str, ...]) -> None:
        walk.count()
        self.budget.entry()
        target = walk.dest / path if path else walk.dest
        if isinstance(obj, pygit2.Blob):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self._blob_data(real, obj.id))
            return
        if not isinstance(obj, pygit2.Tree):
            return
        target.mkdir(parents=True, exist_ok=True)
        inside = (*copying, real)
        for entry in obj:
            name = str(entry.name)
            child = f"{path}/{name}" if path else name
            if not _valid_name(name):
                raise InvalidArgument(f"repository contains an invalid file name {name!r} in {path or '/'!r}")
            if hidden_skipped(name, child, walk.wanted):
                continue
            real_child = f"{real}/{name}" if real else name
            if entry.type_str == "commit":
                continue  # a submodule: its files are not in this repository
            if entry.filemode != _SYMLINK_MODE:
                self._write(entry, child, real_child, walk, inside)
                continue
            resolved = self._entry(real_child)  # raises when it leaves the repository
            if resolved is None:
                continue  # dangling: a checkout would have nothing to read there either
            link_real, link_obj = resolved
            if isinstance(link_obj, pygit2.Tree) and any(
                not link_real or c == link_real or c.startswith(link_real + "/") for c in inside
            ):
                continue  # a directory containing the link: copying it would never end
            walk.followed.add(link_real)
            self._write(link_obj, child, link_real, walk, inside)


@dataclass
class _Walk:
    """One materialize: where it writes, the hidden paths asked for, what it has written."""

    dest: Path
    wanted: set[str]
    followed: set[str] = field(default_factory=set)
    left: int = MAX_MATERIALIZED_ENTRIES

    def count(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise ResourceExhausted(
                f"materializing the commit writes more than {MAX_MATERIALIZED_ENTRIES} files and "
                "directories (symlinked directories are copied); link fewer directories"
            )


def minimal_roots(paths: Iterable[str]) -> list[str]:
    """Clean ``paths`` without those inside another (the root "" contains everything)."""
    kept: list[str] = []
    for path in sorted(set(paths), key=lambda p: (p.count("/"), p)):
        if "" in kept:
            break
        if not any(path == k or path.startswith(k + "/") for k in kept):
            kept.append(path)
    return sorted(kept)


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

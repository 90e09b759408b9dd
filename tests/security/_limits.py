"""Hostile repository content for the limit tests, built straight into a bare repository's object
database (pygit2 and ``git index-pack``), so that a 10¹⁰-path tree or a 2 GB blob costs the test
a few objects and a few megabytes, never the sizes they claim."""

from __future__ import annotations

import hashlib
import os
import struct
import subprocess
import zlib
from pathlib import Path

import pygit2

from ferry_devenv.gitrepo import GitRepo

_SIG = pygit2.Signature("ferry tests", "tests@ferrycd.io", 1_700_000_000, 0)

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  a: b\n"


def laughs(levels: int = 9, width: int = 9) -> str:
    """A ConfigMap whose data is a "billion laughs": ``width ** levels`` strings once expanded."""
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: laughs", "data:"]
    lines.append("  a0: &a0 [" + ", ".join(["lol"] * width) + "]")
    for n in range(1, levels):
        lines.append(f"  a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def exponential_jsonnet(n: int = 60) -> str:
    return (
        "local f(n) = if n == 0 then 0 else f(n-1) + f(n-1);\n"
        "{apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'x'},\n"
        f" data: {{a: std.toString(f({n}))}}}}\n"
    )


def _tree(repo: pygit2.Repository, entries: dict[str, tuple[pygit2.Oid, int]]) -> pygit2.Oid:
    builder = repo.TreeBuilder()
    for name, (oid, mode) in sorted(entries.items()):
        builder.insert(name, oid, mode)
    return builder.write()


def commit_objects(repo: GitRepo, files: dict[str, str], extra: dict[str, pygit2.Oid]) -> str:
    """Commits to the bare repository's branch a root tree of ``files`` (text) plus ``extra``
    (path -> tree or blob id already in the object database); returns the commit SHA."""
    bare = pygit2.Repository(str(repo.bare))
    root: dict[str, object] = {}

    def place(path: str, value: tuple[pygit2.Oid, int]) -> None:
        *dirs, name = path.split("/")
        node = root
        for d in dirs:
            node = node.setdefault(d, {})  # type: ignore[assignment]
        node[name] = value

    for path, text in files.items():
        place(path, (bare.create_blob(text.encode()), pygit2.enums.FileMode.BLOB))
    for path, oid in extra.items():
        kind = bare.odb.read_header(oid)[0]
        mode = (
            pygit2.enums.FileMode.TREE if kind == pygit2.enums.ObjectType.TREE else pygit2.enums.FileMode.BLOB
        )
        place(path, (oid, mode))

    def write(node: dict[str, object]) -> pygit2.Oid:
        entries: dict[str, tuple[pygit2.Oid, int]] = {}
        for name, value in node.items():
            if isinstance(value, dict):
                entries[name] = (write(value), pygit2.enums.FileMode.TREE)
            else:
                entries[name] = value  # type: ignore[assignment]
        return _tree(bare, entries)

    ref = f"refs/heads/{repo.branch}"
    parents = [bare.references[ref].target] if ref in bare.references else []
    sha = bare.create_commit(ref, _SIG, _SIG, "hostile content", write(root), parents)
    return str(sha)


def tree_bomb(repo: GitRepo, *, levels: int = 10, width: int = 10) -> pygit2.Oid:
    """A tree of ``width ** levels`` files in ``levels + 1`` objects: each level's tree names the
    one below ``width`` times."""
    bare = pygit2.Repository(str(repo.bare))
    blob = bare.create_blob(CM.format(name="leaf").encode())
    below = _tree(bare, {f"f{i}.yaml": (blob, pygit2.enums.FileMode.BLOB) for i in range(width)})
    for _ in range(levels - 1):
        below = _tree(bare, {f"d{i}": (below, pygit2.enums.FileMode.TREE) for i in range(width)})
    return below


def zero_blob(repo: GitRepo, size: int = 2 << 30) -> pygit2.Oid:
    """A blob of ``size`` zero bytes, stored as a one-object pack of a few MB: the deflate stream
    is one flushed block of zeros repeated (independent blocks after a full flush), indexed by
    ``git index-pack``, so serving it reuses the packed data instead of compressing 2 GB."""
    chunk_size = 1 << 24
    assert size % chunk_size == 0
    chunk = bytes(chunk_size)
    compressor = zlib.compressobj(9)
    first = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeated = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    finish = compressor.flush(zlib.Z_FINISH)[:-4]  # the final empty block; Adler-32 follows
    adler = ((size % 65521) << 16) | 1  # Adler-32 of `size` zero bytes
    stream = first + repeated * (size // chunk_size - 1) + finish + struct.pack(">I", adler)
    header = bytearray()
    byte, rest = (3 << 4) | (size & 0x0F), size >> 4  # type 3: blob
    while rest:
        header.append(byte | 0x80)
        byte, rest = rest & 0x7F, rest >> 7
    header.append(byte)
    pack = b"PACK" + struct.pack(">II", 2, 1) + bytes(header) + stream
    pack += hashlib.sha1(pack).digest()  # noqa: S324  (Git's pack checksum)
    done = subprocess.run(
        ["git", "index-pack", "--stdin"],
        input=pack,
        cwd=repo.bare,
        capture_output=True,
        check=True,
        env={**os.environ, "GIT_DIR": str(repo.bare)},
    )
    # index-pack prints "pack\t<pack name>"; the blob id is the one object of that pack
    name = done.stdout.decode().split()[-1]
    idx = Path(repo.bare) / "objects" / "pack" / f"pack-{name}.idx"
    listed = subprocess.run(
        ["git", "show-index"], stdin=idx.open("rb"), capture_output=True, check=True, text=True
    ).stdout.split()
    return pygit2.Oid(hex=listed[1])


def peak_rss_bytes(pid: int) -> int:
    """A process's peak resident memory (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for {pid}")


def children_of(pid: int) -> list[int]:
    """Processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def directory_chain(repo: GitRepo, depth: int) -> pygit2.Oid:
    """``d/d/d/…/cm.yaml``, ``depth`` directories deep."""
    bare = pygit2.Repository(str(repo.bare))
    blob = bare.create_blob(CM.format(name="bottom").encode())
    below = _tree(bare, {"cm.yaml": (blob, pygit2.enums.FileMode.BLOB)})
    for _ in range(depth - 1):
        below = _tree(bare, {"d": (below, pygit2.enums.FileMode.TREE)})
    return below

"""What one request or one commit may cost the repo server, and the checks that enforce it.

Repository content is hostile input: a commit can hold a tree of shared subtrees that names 10¹⁰
paths, a 2 GB blob that packs into 2 MB, a YAML "billion laughs" that parses into a few shared
nodes and serializes into gigabytes, or Jsonnet that never ends. Every such cost is bounded by one
of the limits below; exceeding one is ``ResourceExhausted`` whose message names the limit, its
value and the repo-server flag that sets it — so an app's ComparisonError says what to change.

This module never reads a repository or runs a tool; it only counts and compares.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from ferry.errors import ResourceExhausted

MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """The repo server's limits; each field has the flag of the same name (``--max-repo-files``...)."""

    # Files and directories one request walks or materializes (ListApps, GetAppDetails, renders).
    max_repo_files: int = 100_000
    # Bytes of file content one request reads or materializes.
    max_repo_size: int = 1024 * MiB
    # Bytes of any single file a request reads or materializes (checked from the object header).
    max_file_size: int = 64 * MiB
    # Bytes of manifest files (YAML, JSON, Jsonnet) one directory app may have.
    max_combined_manifests_size: int = 10 * MiB
    # Bytes of rendered manifests (as JSON) one render may produce.
    max_manifest_output_size: int = 32 * MiB
    # Nodes that YAML aliases add when expanded, per document.
    max_yaml_alias_expansion: int = 100_000
    # Nesting depth of any YAML or JSON document (and of rendered objects).
    max_manifest_depth: int = 256
    # Seconds and bytes of memory the Jsonnet evaluation of one render may use.
    jsonnet_timeout: float = 30.0
    jsonnet_max_memory: int = 1024 * MiB
    # Renders of one repository at once (0: half of the parallelism limit, at least 1).
    parallelism_limit_per_repo: int = 0
    # Bytes of a Helm repository's index.yaml and of one chart archive.
    helm_max_index_bytes: int = 64 * MiB
    helm_max_chart_bytes: int = 100 * MiB

    def per_repo_slots(self, parallelism: int) -> int:
        if self.parallelism_limit_per_repo > 0:
            return min(self.parallelism_limit_per_repo, parallelism)
        return max(1, parallelism // 2)


DEFAULT_LIMITS = Limits()


def exceeded(what: str, limit: int | float, flag: str, *, unit: str = "") -> ResourceExhausted:
    """The error of one limit: what exceeded it, the value, and the flag that raises it."""
    shown = f"{limit:g}" if isinstance(limit, float) else str(limit)
    return ResourceExhausted(f"{what} exceeds the limit of {shown}{unit} (repo-server flag --{flag})")


class Budget:
    """What one request has spent of the repository limits: entries walked and bytes read.
    Not shared between requests; used from one thread at a time."""

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self.entries = 0
        self.bytes = 0

    def entry(self, count: int = 1) -> None:
        """Counts ``count`` files or directories walked or written."""
        self.entries += count
        if self.entries > self.limits.max_repo_files:
            raise exceeded(
                "the files and directories this request walks", self.limits.max_repo_files, "max-repo-files"
            )

    def blob(self, path: str, size: int) -> None:
        """Counts a file of ``size`` bytes (from its object header) before its content is read."""
        if size > self.limits.max_file_size:
            raise exceeded(
                f"file {path!r} ({size} bytes)", self.limits.max_file_size, "max-file-size", unit=" bytes"
            )
        self.bytes += size
        if self.bytes > self.limits.max_repo_size:
            raise exceeded(
                f"the file content this request reads ({self.bytes} bytes at {path!r})",
                self.limits.max_repo_size,
                "max-repo-size",
                unit=" bytes",
            )


class CycleError(ValueError):
    """A YAML alias inside the node it names: its expansion never ends."""


@dataclass(frozen=True)
class Shape:
    """A parsed document's cost: ``nodes`` as stored, ``expanded`` once aliases are expanded,
    ``bytes`` an estimate of its JSON size when expanded, ``depth`` its nesting."""

    nodes: int
    expanded: int
    bytes: int
    depth: int


def shape(doc: Any) -> Shape:
    """The cost of a parsed YAML/JSON value in time linear in its *stored* size: containers that
    appear more than once (YAML aliases share one Python object) are measured once and counted
    at every occurrence. Iterative, so a deep value cannot exhaust the stack."""
    # id(container) -> (expanded nodes, bytes, depth) below and including it
    done: dict[int, tuple[int, int, int]] = {}
    # containers whose children are being measured: in this depth-first order, exactly the
    # ancestors of the one taken from the stack, so meeting one again is a cycle
    open_: set[int] = set()
    stored = 0
    stack: list[tuple[Any, bool]] = [(doc, False)]
    while stack:
        value, children_done = stack.pop()
        if not isinstance(value, dict | list) or id(value) in done:
            continue
        children = list(value.values()) if isinstance(value, dict) else value
        if not children_done:
            open_.add(id(value))
            stack.append((value, True))
            for child in children:
                if isinstance(child, dict | list) and id(child) not in done:
                    if id(child) in open_:
                        raise CycleError
                    stack.append((child, False))
            continue
        open_.discard(id(value))
        stored += 1 + sum(1 for c in children if not isinstance(c, dict | list))
        expanded, size, depth = 1, 2, 1
        if isinstance(value, dict):
            size += sum(len(str(k)) + 4 for k in value)
        for child in children:
            if isinstance(child, dict | list):
                e, b, d = done[id(child)]
            else:
                e, b, d = 1, _scalar_bytes(child), 0
            expanded += e
            size += b + 1
            depth = max(depth, d + 1)
        done[id(value)] = (expanded, size, depth)
    if isinstance(doc, dict | list):
        expanded, size, depth = done[id(doc)]
        return Shape(stored, expanded, size, depth)
    return Shape(1, 1, _scalar_bytes(doc), 0)


def _scalar_bytes(value: Any) -> int:
    if isinstance(value, str | bytes):
        return len(value) + 2
    return 8


def check_document(doc: Any, where: str, limits: Limits = DEFAULT_LIMITS) -> Shape:
    """Refuses a parsed document deeper than the depth limit, whose aliases expand beyond the
    alias limit, or whose expanded JSON would exceed the output limit; returns its shape."""
    try:
        found = shape(doc)
    except CycleError:
        raise exceeded(
            f"{where}: a YAML alias inside the node it names expands without end, which",
            limits.max_yaml_alias_expansion,
            "max-yaml-alias-expansion",
            unit=" nodes",
        ) from None
    if found.depth > limits.max_manifest_depth:
        raise exceeded(
            f"{where}: nesting depth {found.depth}", limits.max_manifest_depth, "max-manifest-depth"
        )
    if found.expanded - found.nodes > limits.max_yaml_alias_expansion:
        raise exceeded(
            f"{where}: YAML aliases expand to {found.expanded - found.nodes} more nodes, which",
            limits.max_yaml_alias_expansion,
            "max-yaml-alias-expansion",
            unit=" nodes",
        )
    if found.bytes > limits.max_manifest_output_size:
        raise output_exceeded(f"{where}: about {found.bytes} bytes as JSON, which", limits)
    return found


def output_exceeded(what: str, limits: Limits) -> ResourceExhausted:
    return exceeded(what, limits.max_manifest_output_size, "max-manifest-output-size", unit=" bytes")


def depth_exceeded(where: str, limits: Limits) -> ResourceExhausted:
    """For a parser that gave up on nesting before ferry could measure it."""
    return exceeded(f"{where}: nesting depth", limits.max_manifest_depth, "max-manifest-depth")


class PerKeySlots:
    """At most ``size`` holders per key at once (renders of one repository), so that one key
    cannot take every slot of a shared limit. Keys with no holder and no waiter are forgotten."""

    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self._slots: dict[str, tuple[asyncio.Semaphore, list[int]]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        semaphore, users = self._slots.setdefault(key, (asyncio.Semaphore(self.size), [0]))
        users[0] += 1
        try:
            async with semaphore:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0 and self._slots.get(key, (None,))[0] is semaphore:
                del self._slots[key]

    def holders(self, key: str) -> int:
        """Requests holding or waiting for ``key`` (for tests and metrics)."""
        found = self._slots.get(key)
        return found[1][0] if found else 0

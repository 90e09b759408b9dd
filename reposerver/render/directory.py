"""Directory sources: YAML, JSON and Jsonnet files read straight from Git objects.

Jsonnet runs in go-jsonnet (the same implementation Argo CD uses) with ext vars, TLAs and library
paths; imports are served from the commit through an import callback that refuses any path
leaving the repository, and every imported file becomes an input of the render. It runs in a
child process (reposerver.jsonnet_worker) with a time and a memory limit, so a file that
never ends costs one render its time limit and nothing else.

Reading and parsing run in a worker thread; every file's size is checked from its object header
before it is read, and the combined size before the next file is read.
"""

from __future__ import annotations

import asyncio
import json
import math
import posixpath
import signal
import sys
from dataclasses import asdict
from typing import Any

from ferry import subproc
from ferry.errors import FerryError, InvalidArgument, NotFound, ResourceExhausted
from reposerver.jsonnet_worker import MEMORY_ERROR_EXIT
from reposerver.limits import Limits, exceeded
from reposerver.render import RenderContext, RenderResult
from reposerver.source import SourceType, objects_from_yaml, parse_json, to_objects
from reposerver.tree import clean_path, glob_match

EXTENSIONS = (".yaml", ".yml", ".json", ".jsonnet")
_WORKER = [sys.executable, "-I", "-m", "reposerver.jsonnet_worker"]
# how go-jsonnet's runtime and Python say that the worker's data limit was reached
_OUT_OF_MEMORY = ("out of memory", "cannot allocate memory", "MemoryError")
_ERRORS: dict[str, type[FerryError]] = {e.__name__: e for e in (InvalidArgument, NotFound, ResourceExhausted)}


def _selected(rel: str, include: str, exclude: str) -> bool:
    if include and not glob_match(rel, include):
        return False
    return not (exclude and glob_match(rel, exclude))


def _read_files(ctx: RenderContext) -> list[tuple[str, bytes]]:
    """The app's manifest files and their content, sizes checked before each read."""
    directory = ctx.source.directory
    limits = ctx.limits
    files = [
        f
        for f in ctx.tree.walk_files(ctx.path, recurse=directory.recurse)
        if f.endswith(EXTENSIONS) and not posixpath.basename(f).startswith(".")
    ]
    read: list[tuple[str, bytes]] = []
    total = 0
    for file in files:
        rel = file[len(ctx.path) + 1 :] if ctx.path else file
        if not _selected(rel, directory.include, directory.exclude):
            continue
        total += ctx.tree.size(file)
        if total > limits.max_combined_manifests_size:
            raise exceeded(
                f"the manifest files under {ctx.path or '/'} ({total} bytes up to {file})",
                limits.max_combined_manifests_size,
                "max-combined-manifests-size",
                unit=" bytes",
            )
        read.append((file, ctx.tree.read(file)))
    return read


def _parse(files: list[tuple[str, bytes]], evaluated: dict[str, str], limits: Limits) -> list[dict[str, Any]]:
    manifests: list[dict[str, Any]] = []
    for file, data in files:
        if file.endswith(".jsonnet"):
            manifests += to_objects(parse_json(evaluated[file], file, limits=limits), file)
        elif file.endswith(".json"):
            manifests += to_objects(parse_json(data, file, limits=limits), file)
        else:
            manifests += objects_from_yaml(data, file, limits=limits)
    return manifests


async def render_directory(ctx: RenderContext) -> RenderResult:
    files = await asyncio.to_thread(_read_files, ctx)
    inputs = {ctx.path or "/"}
    jsonnet = [(f, d) for f, d in files if f.endswith(".jsonnet")]
    evaluated: dict[str, str] = {}
    if jsonnet:
        evaluated, imported = await evaluate_jsonnet(ctx, jsonnet)
        inputs |= imported
    manifests = await asyncio.to_thread(_parse, files, evaluated, ctx.limits)
    return RenderResult(SourceType.DIRECTORY, manifests, inputs)


def _variables(items: Any) -> tuple[dict[str, str], dict[str, str]]:
    plain = {v.name: v.value for v in items if not v.code}
    code = {v.name: v.value for v in items if v.code}
    return plain, code


async def evaluate_jsonnet(
    ctx: RenderContext, files: list[tuple[str, bytes]]
) -> tuple[dict[str, str], set[str]]:
    """(file -> JSON text, repository files imported) of a render's Jsonnet files, evaluated in
    one child process within the Jsonnet time and memory limits."""
    jsonnet = ctx.source.directory.jsonnet
    limits = ctx.limits
    libs = [clean_path(lib, what="jsonnet library path") for lib in jsonnet.libs]
    ext_vars, ext_codes = _variables(jsonnet.ext_vars)
    tla_vars, tla_codes = _variables(jsonnet.tlas)
    for file, data in files:
        try:
            data.decode()
        except UnicodeDecodeError:
            raise InvalidArgument(f"{file}: Jsonnet must be UTF-8") from None
    request = {
        "repo": str(ctx.tree.repo.path),
        "commit": ctx.tree.sha,
        "files": [{"file": f, "data": d.decode()} for f, d in files],
        "libs": libs,
        "ext_vars": ext_vars,
        "ext_codes": ext_codes,
        "tla_vars": tla_vars,
        "tla_codes": tla_codes,
        "limits": asdict(limits),
        "memory": limits.jsonnet_max_memory,
        "cpu_seconds": math.ceil(limits.jsonnet_timeout) + 1,
    }
    names = ", ".join(f for f, _ in files)
    env = {
        "PATH": "/usr/bin:/bin",
        # the Go runtime collects harder as it nears the limit, rather than failing at it
        "GOMEMLIMIT": str(limits.jsonnet_max_memory * 3 // 4),
        "GOMAXPROCS": "1",
    }
    try:
        done = await subproc.run(
            _WORKER, timeout=limits.jsonnet_timeout, stdin=json.dumps(request).encode(), env=env
        )
    except subproc.ToolTimeout:
        raise exceeded(
            f"the Jsonnet evaluation of {names}", limits.jsonnet_timeout, "jsonnet-timeout", unit="s"
        ) from None
    except ResourceExhausted as err:
        # ferry.subproc's own sandbox limits (issue #19's tool sandbox) name *its* flags; the
        # worker's tighter ones, set in the worker itself, are what this render ran into
        limit = str(getattr(err, "limit", ""))
        if "memory" in limit:
            raise _memory_exceeded(names, limits) from None
        if "cpu" in limit:
            raise exceeded(
                f"the Jsonnet evaluation of {names}", limits.jsonnet_timeout, "jsonnet-timeout", unit="s"
            ) from None
        raise
    except subproc.ToolError as err:
        # The Go runtime aborts when an allocation fails; its reason is the first line of a
        # traceback longer than the stderr kept, and the data limit is what makes it fail.
        aborted = err.returncode == -signal.SIGABRT
        if err.returncode == MEMORY_ERROR_EXIT or aborted or any(m in err.stderr for m in _OUT_OF_MEMORY):
            raise _memory_exceeded(names, limits) from None
        if err.returncode in (-signal.SIGXCPU, -signal.SIGKILL):  # the CPU-time backstop
            raise exceeded(
                f"the Jsonnet evaluation of {names}", limits.jsonnet_timeout, "jsonnet-timeout", unit="s"
            ) from None
        last = err.stderr.strip().splitlines()[-1:] or [f"exit {err.returncode}"]
        raise InvalidArgument(f"jsonnet evaluation of {names} failed: {last[0]}") from None
    answer = json.loads(done.stdout)
    if "error" in answer:
        raise _ERRORS.get(answer["error"]["type"], InvalidArgument)(answer["error"]["message"])
    return {r["file"]: r["json"] for r in answer["results"]}, set(libs) | set(answer["imported"])


def _memory_exceeded(names: str, limits: Limits) -> ResourceExhausted:
    return exceeded(
        f"the memory the Jsonnet evaluation of {names} needs",
        limits.jsonnet_max_memory,
        "jsonnet-max-memory",
        unit=" bytes",
    )

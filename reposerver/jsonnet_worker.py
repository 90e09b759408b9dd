"""The child process that evaluates a render's Jsonnet files: ``python -I -m
reposerver.jsonnet_worker`` with a JSON request on stdin, a JSON answer on stdout.

Jsonnet is a programming language: a file can recurse exponentially or allocate without end, and
go-jsonnet cannot be interrupted from the thread that called it. So it runs here, in a process the
repo server kills when ``jsonnet_timeout`` passes (ferry.subproc kills the process group), under
an address-space limit set before anything is evaluated, with a CPU-time limit as a backstop should
the repo server itself die. Imports are served from the commit, read with the same rules and
limits as the repo server's own reads (the mirror is opened read-only by path).

Request: {"repo", "commit", "files": [{"file", "data"}], "libs", "ext_vars", "ext_codes",
"tla_vars", "tla_codes", "limits": {Limits fields}, "memory", "cpu_seconds"}.
Answer: {"results": [{"file", "json"}], "imported": [...]} or {"error": {"type", "message"}}.
This module must never write anything but its answer to stdout.
"""

from __future__ import annotations

import json
import resource
import sys
from dataclasses import fields
from typing import Any

import _gojsonnet
import pygit2

from ferry.errors import FerryError
from reposerver.limits import Budget, Limits, output_exceeded
from reposerver.tree import CommitTree, join

MEMORY_ERROR_EXIT = 3


def _limit_resources(memory: int, cpu_seconds: int) -> None:
    resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))


def evaluate(request: dict[str, Any]) -> dict[str, Any]:
    known = {f.name for f in fields(Limits)}
    limits = Limits(**{k: v for k, v in request["limits"].items() if k in known})
    repo = pygit2.Repository(request["repo"])
    tree = CommitTree(repo, repo.revparse_single(request["commit"]).peel(pygit2.Commit), Budget(limits))
    libs: list[str] = request["libs"]
    imported: set[str] = set()
    refused: list[FerryError] = []  # a limit or path error inside an import keeps its type

    def import_callback(base: str, rel: str) -> tuple[str, bytes]:
        if rel.startswith("/"):
            raise RuntimeError(f"import {rel!r} is absolute; imports must stay inside the repository")
        try:
            candidates = [join(base, rel, what="jsonnet import")] + [
                join(lib, rel, what="jsonnet import") for lib in libs
            ]
            for candidate in candidates:
                if tree.is_file(candidate):
                    imported.add(candidate)
                    return candidate, tree.read(candidate)
        except FerryError as err:
            refused.append(err)
            raise RuntimeError(err.message) from None
        raise RuntimeError(f"import {rel!r} not found in the repository")

    results = []
    total = 0
    for item in request["files"]:
        try:
            text = _gojsonnet.evaluate_snippet(
                item["file"],
                item["data"],
                ext_vars=request["ext_vars"],
                ext_codes=request["ext_codes"],
                tla_vars=request["tla_vars"],
                tla_codes=request["tla_codes"],
                import_callback=import_callback,
            )
        except RuntimeError as err:
            if refused:
                return {"error": {"type": type(refused[0]).__name__, "message": refused[0].message}}
            message = str(err).strip().splitlines()
            shown = message[0] if message else str(err)
            return {"error": {"type": "InvalidArgument", "message": f"jsonnet: {shown}"}}
        total += len(text)
        if total > limits.max_manifest_output_size:
            refusal = output_exceeded(f"the Jsonnet output of {item['file']} ({total} bytes so far)", limits)
            return {"error": {"type": "ResourceExhausted", "message": refusal.message}}
        results.append({"file": item["file"], "json": text})
    return {"results": results, "imported": sorted(imported)}


def main() -> None:
    request = json.load(sys.stdin)
    _limit_resources(int(request["memory"]), int(request["cpu_seconds"]))
    try:
        answer = evaluate(request)
    except MemoryError:
        sys.stdout.flush()
        sys.exit(MEMORY_ERROR_EXIT)
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()

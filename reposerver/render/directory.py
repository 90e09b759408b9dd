"""Directory sources: YAML, JSON and Jsonnet files read straight from Git objects.

Jsonnet runs in go-jsonnet (the same implementation Argo CD uses) with ext vars, TLAs and library
paths; imports are served from the commit through an import callback that refuses any path
leaving the repository, and every imported file becomes an input of the render.
"""

from __future__ import annotations

import json
import posixpath
from typing import Any

import _gojsonnet

from ferry.errors import InvalidArgument, NotFound, ResourceExhausted
from reposerver.render import RenderContext, RenderResult
from reposerver.source import SourceType, objects_from_yaml, parse_json, to_objects
from reposerver.tree import CommitTree, clean_path, glob_match, join

EXTENSIONS = (".yaml", ".yml", ".json", ".jsonnet")


def _selected(rel: str, include: str, exclude: str) -> bool:
    if include and not glob_match(rel, include):
        return False
    return not (exclude and glob_match(rel, exclude))


def render_directory(ctx: RenderContext) -> RenderResult:
    directory = ctx.source.directory
    files = [
        f
        for f in ctx.tree.walk_files(ctx.path, recurse=directory.recurse)
        if f.endswith(EXTENSIONS) and not posixpath.basename(f).startswith(".")
    ]
    inputs = {ctx.path or "/"}
    manifests: list[dict[str, Any]] = []
    total = 0
    for file in files:
        rel = file[len(ctx.path) + 1 :] if ctx.path else file
        if not _selected(rel, directory.include, directory.exclude):
            continue
        data = ctx.tree.read(file)
        total += len(data)
        if total > ctx.max_manifest_bytes:
            raise ResourceExhausted(
                f"manifests under {ctx.path or '/'} exceed {ctx.max_manifest_bytes} bytes "
                "(--max-combined-manifests-size)"
            )
        if file.endswith(".jsonnet"):
            value, imported = evaluate_jsonnet(ctx, file, data)
            inputs |= imported
            manifests += to_objects(value, file)
        elif file.endswith(".json"):
            manifests += to_objects(parse_json(data, file), file)
        else:
            manifests += objects_from_yaml(data, file)
    return RenderResult(SourceType.DIRECTORY, manifests, inputs)


def evaluate_jsonnet(ctx: RenderContext, file: str, data: bytes) -> tuple[Any, set[str]]:
    """(value, repository files imported) of one Jsonnet file."""
    jsonnet = ctx.source.directory.jsonnet
    libs = [clean_path(lib, what="jsonnet library path") for lib in jsonnet.libs]
    imported: set[str] = set(libs)
    tree: CommitTree = ctx.tree

    def import_callback(base: str, rel: str) -> tuple[str, bytes]:
        if rel.startswith("/"):
            raise RuntimeError(f"import {rel!r} is absolute; imports must stay inside the repository")
        candidates = [join(base, rel, what="jsonnet import")] + [
            join(lib, rel, what="jsonnet import") for lib in libs
        ]
        for candidate in candidates:
            if tree.is_file(candidate):
                imported.add(candidate)
                return candidate, tree.read(candidate)
        raise RuntimeError(f"import {rel!r} not found in the repository")

    def variables(items: Any) -> tuple[dict[str, str], dict[str, str]]:
        plain = {v.name: v.value for v in items if not v.code}
        code = {v.name: v.value for v in items if v.code}
        return plain, code

    ext_vars, ext_codes = variables(jsonnet.ext_vars)
    tla_vars, tla_codes = variables(jsonnet.tlas)
    try:
        text = _gojsonnet.evaluate_snippet(
            file,
            data.decode(),
            ext_vars=ext_vars,
            ext_codes=ext_codes,
            tla_vars=tla_vars,
            tla_codes=tla_codes,
            import_callback=import_callback,
        )
    except (InvalidArgument, NotFound):
        raise
    except RuntimeError as err:
        message = str(err).strip().splitlines()
        raise InvalidArgument(f"jsonnet: {message[0] if message else err}") from None
    return json.loads(text), imported

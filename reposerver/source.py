"""What kind of source an app path is, the parameter overrides a repository carries for it, and
the parsing of manifests with errors that name the file and line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from enum import StrEnum
from typing import Any

import yaml
from google.protobuf import json_format

from ferry.convert import from_k8s, to_k8s
from ferry.errors import InvalidArgument
from ferry.v1 import types_pb2
from reposerver.limits import DEFAULT_LIMITS, Limits, check_document, depth_exceeded
from reposerver.tree import CommitTree, join

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's C loader when available

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
OVERRIDE_FILES = (".ferry-source.yaml", ".argocd-source.yaml")
# Fields a repository's override file may not change (they choose what is rendered at all).
_NOT_OVERRIDABLE = ("repoURL", "path", "targetRevision", "chart")


class SourceType(StrEnum):
    HELM = "Helm"
    KUSTOMIZE = "Kustomize"
    DIRECTORY = "Directory"
    PLUGIN = "Plugin"


def explicit_type(source: types_pb2.ApplicationSource) -> SourceType | None:
    """The type the spec asks for with exactly one of helm / kustomize / directory / plugin."""
    present = {
        SourceType.HELM: source.HasField("helm"),
        SourceType.KUSTOMIZE: source.HasField("kustomize"),
        SourceType.DIRECTORY: source.HasField("directory"),
        SourceType.PLUGIN: source.HasField("plugin"),
    }
    chosen = [kind for kind, has in present.items() if has]
    if len(chosen) > 1:
        names = " and ".join(k.lower() for k in chosen)
        raise InvalidArgument(f"the source has both {names} blocks; keep exactly one")
    return chosen[0] if chosen else None


def detect_type(tree: CommitTree, path: str) -> SourceType:
    """Argo CD's detection: Chart.yaml -> Helm, a kustomization file -> Kustomize, else Directory."""
    names = set(tree.listdir(path))
    if "Chart.yaml" in names:
        return SourceType.HELM
    if names & set(KUSTOMIZATION_FILES):
        return SourceType.KUSTOMIZE
    return SourceType.DIRECTORY


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


def apply_overrides(
    tree: CommitTree, path: str, source: types_pb2.ApplicationSource, app_name: str
) -> tuple[types_pb2.ApplicationSource, list[str]]:
    """The source with the app path's override files merged in (``.ferry-source.yaml``, Argo CD's
    ``.argocd-source.yaml`` and ``.argocd-source-<app>.yaml``), and the files that were read."""
    names = [*OVERRIDE_FILES, f".argocd-source-{app_name}.yaml"] if app_name else list(OVERRIDE_FILES)
    merged = to_k8s(source)
    used: list[str] = []
    for name in names:
        file = join(path, name)
        if not tree.is_file(file):
            continue
        patch = parse_yaml_document(tree.read(file), file)
        if not isinstance(patch, dict):
            raise InvalidArgument(f"{file}: expected a map of source fields")
        for key in _NOT_OVERRIDABLE:
            patch.pop(key, None)
        if "helm" in patch and isinstance(patch["helm"], dict) and "valuesObject" in patch["helm"]:
            helm = patch["helm"]
            helm["values"] = yaml.safe_dump(helm.pop("valuesObject"), sort_keys=False)
        merged = _merge_patch(merged, patch)
        used.append(file)
    try:
        return from_k8s(merged, types_pb2.ApplicationSource), used
    except json_format.ParseError as err:
        raise InvalidArgument(f"{', '.join(used)}: {err}") from None


def parse_yaml_document(data: bytes, file: str, *, limits: Limits = DEFAULT_LIMITS) -> Any:
    docs = list(parse_yaml(data, file, limits=limits))
    return docs[0] if docs else None


def parse_yaml(data: bytes, file: str, *, limits: Limits = DEFAULT_LIMITS) -> Iterator[Any]:
    """The documents of a YAML stream; a syntax error names the file and line. Each document is
    measured before it is used (see limits.check_document): aliases are shared objects until
    something serializes them, so a "billion laughs" is refused here, while it is still small."""
    try:
        for index, doc in enumerate(yaml.load_all(data, Loader=_Loader)):
            check_document(doc, f"{file} (document {index + 1})" if index else file, limits)
            yield doc
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{file}:{mark.line + 1}" if mark is not None else file
        problem = getattr(err, "problem", None) or str(err)
        if "maximum nesting depth" in problem:  # libyaml's own guard (1000 levels) came first
            raise depth_exceeded(where, limits) from None
        raise InvalidArgument(f"{where}: invalid YAML: {problem}") from None
    except RecursionError:  # the pure-Python loader, without libyaml's guard
        raise depth_exceeded(file, limits) from None


def parse_json(data: bytes | str, file: str, *, limits: Limits = DEFAULT_LIMITS) -> Any:
    """A JSON document, measured like a YAML one. Python's decoder guards its own recursion, so
    a document nested deeper than the interpreter allows ends as RecursionError, not a crash."""
    try:
        doc = json.loads(data)
    except json.JSONDecodeError as err:
        raise InvalidArgument(f"{file}:{err.lineno}: invalid JSON: {err.msg}") from None
    except RecursionError:
        raise depth_exceeded(file, limits) from None
    check_document(doc, file, limits)
    return doc


def to_objects(doc: Any, file: str) -> list[dict[str, Any]]:
    """Kubernetes objects from one parsed document: ``List`` kinds and JSON arrays expanded."""
    if doc is None:
        return []
    if isinstance(doc, list):
        return [obj for item in doc for obj in to_objects(item, file)]
    if not isinstance(doc, dict):
        raise InvalidArgument(f"{file}: expected Kubernetes objects, found {type(doc).__name__}")
    kind = doc.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(doc.get("items"), list):
        return [obj for item in doc["items"] for obj in to_objects(item, file)]
    if not doc.get("apiVersion") or not kind:
        raise InvalidArgument(f"{file}: an object without apiVersion or kind")
    return [doc]


def objects_from_yaml(data: bytes, file: str, *, limits: Limits = DEFAULT_LIMITS) -> list[dict[str, Any]]:
    return [obj for doc in parse_yaml(data, file, limits=limits) for obj in to_objects(doc, file)]

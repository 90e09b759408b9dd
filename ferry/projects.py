"""AppProject rules: which source repositories, destinations and kinds an application may use.
A violation is reported as a condition and stops a sync; it never reaches the cluster."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from typing import Any

from ferry.repourl import normalize


def _glob(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern)


def _allowed(patterns: list[str], value: str) -> bool:
    """Argo CD's list semantics: a match allows, a ``!pattern`` match denies, deny wins."""
    allowed = any(_glob(p, value) for p in patterns if not p.startswith("!"))
    denied = any(_glob(p[1:], value) for p in patterns if p.startswith("!"))
    return allowed and not denied


def source_permitted(project: Mapping[str, Any], repo_url: str) -> bool:
    repos = (project.get("spec") or {}).get("sourceRepos") or []
    return _allowed(
        [normalize(r) if r not in ("*",) and not r.startswith("!") else r for r in repos], normalize(repo_url)
    ) or (_allowed(repos, repo_url))


def destination_permitted(project: Mapping[str, Any], server: str, name: str, namespace: str) -> bool:
    for dest in (project.get("spec") or {}).get("destinations") or []:
        server_ok = (dest.get("server") and _glob(dest["server"], server)) or (
            dest.get("name") and _glob(dest["name"], name)
        )
        if server_ok and _glob(dest.get("namespace") or "*", namespace or ""):
            return True
    return False


def _kind_in(entries: list[Mapping[str, Any]], group: str, kind: str) -> bool:
    return any(
        _glob(e.get("group", "") or "", group) and _glob(e.get("kind", "*") or "*", kind) for e in entries
    )


def resource_permitted(project: Mapping[str, Any], group: str, kind: str, *, namespaced: bool) -> bool:
    spec = project.get("spec") or {}
    if not namespaced:
        return _kind_in(spec.get("clusterResourceWhitelist") or [], group, kind) and not _kind_in(
            spec.get("clusterResourceBlacklist") or [], group, kind
        )
    whitelist = spec.get("namespaceResourceWhitelist") or []
    if whitelist and not _kind_in(whitelist, group, kind):
        return False
    return not _kind_in(spec.get("namespaceResourceBlacklist") or [], group, kind)


def forbidden_resources(
    project: Mapping[str, Any],
    manifests: Iterable[Mapping[str, Any]],
    namespaced: Mapping[tuple[str, str], bool],
) -> list[str]:
    """What the project's cluster- and namespace-scoped kind rules forbid among ``manifests``, one
    message per kind. ``namespaced`` maps (group, kind) to the cluster's answer; kinds it does not
    know are taken as namespaced (the apply fails on them anyway)."""
    name = (project.get("metadata") or {}).get("name", "")
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    for manifest in manifests:
        api_version = str(manifest.get("apiVersion") or "")
        group = api_version.rpartition("/")[0] if "/" in api_version else ""
        kind = str(manifest.get("kind") or "")
        if (group, kind) in seen:
            continue
        seen.add((group, kind))
        scoped = namespaced.get((group, kind), True)
        if not resource_permitted(project, group, kind, namespaced=scoped):
            where = "namespace" if scoped else "cluster"
            problems.append(
                f"{where}-scoped resource {group or 'core'}/{kind} is not permitted in project {name!r}"
            )
    return problems


def violations(project: Mapping[str, Any], spec: Mapping[str, Any], *, cluster_name: str) -> list[str]:
    """What the project forbids about an application spec (source and destination)."""
    name = (project.get("metadata") or {}).get("name", "")
    source = spec.get("source") or {}
    dest = spec.get("destination") or {}
    problems = []
    if source.get("repoURL") and not source_permitted(project, source["repoURL"]):
        problems.append(f"application repo {source['repoURL']} is not permitted in project {name!r}")
    if not destination_permitted(
        project, dest.get("server") or "", dest.get("name") or cluster_name, dest.get("namespace") or ""
    ):
        where = dest.get("server") or dest.get("name") or ""
        problems.append(
            f"application destination server {where!r} and namespace {dest.get('namespace', '')!r} "
            f"do not match any of the allowed destinations in project {name!r}"
        )
    return problems


DEFAULT_PROJECT = {
    "apiVersion": "ferrycd.io/v1alpha1",
    "kind": "AppProject",
    "metadata": {"name": "default"},
    "spec": {
        "sourceRepos": ["*"],
        "destinations": [{"server": "*", "namespace": "*", "name": "*"}],
        "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
    },
}

"""Helm chart dependencies, fetched by ferry rather than by ``helm dependency build``.

A chart in Git may list dependencies (``Chart.yaml``, or ``requirements.yaml`` for apiVersion v1
charts) that are not vendored in its ``charts/`` directory. Helm would fetch them itself, with
its own HTTP client, its own credential rules and whatever repository the chart names; here each
one goes through the same code as a chart source (reposerver.helmrepo) under the same rules:

* the dependency's repository must be permitted by the app's project (``sourceRepos``), like
  the app's own source — else PERMISSION_DENIED saying what to add;
* its credentials are those of the project's Helm repository with the same URL, else of the
  longest one whose URL is a path-segment prefix of it (ferry.repourl), else none; ``@name`` and
  ``alias:name`` name a registered Helm repository; credentials go only to that repository's
  scheme, host and port (helmrepo's rule), never on a redirect elsewhere;
* the version is the one ``Chart.lock`` (``requirements.lock``) pins for it, else the newest
  that satisfies the constraint; the archive is checked against the index digest and cached
  under the repository's and the credentials' identity;
* ``file://`` dependencies are copied from the materialized repository (confined to it);
* ``oci://`` dependencies are refused (not fetched by ferry yet): vendor the chart instead.

The archives are written into ``charts/`` under names ferry chooses (a dependency's name comes
from the repository and is never used as a path); helm matches them by the name inside.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ferry.errors import InvalidArgument, PermissionDenied
from ferry.projects import source_repos_permit
from ferry.redact import strip_userinfo
from ferry.repourl import BadRepoURL, parse, try_parse
from ferry.v1 import types_pb2
from reposerver.helmrepo import HelmRepos
from reposerver.limits import Limits
from reposerver.source import parse_yaml_document

# file:// dependencies of file:// dependencies ...: deeper than this is a cycle or an attack.
MAX_DEPTH = 8
_FERRY_PREFIX = "ferry-dependency-"


@dataclass(frozen=True)
class DependencyAccess:
    """What a render may fetch for a chart's dependencies: the project's Helm repositories
    (with credentials) and its ``sourceRepos``; ``charts`` fetches, ``no_cache`` bypasses its
    index cache (a hard refresh)."""

    charts: HelmRepos
    project: str
    source_repos: tuple[str, ...]
    helm_repos: tuple[types_pb2.Repository, ...]
    no_cache: bool = False


def _read_yaml(path: Path, limits: Limits) -> Any:
    return parse_yaml_document(path.read_bytes(), path.name, limits=limits) if path.is_file() else None


def declared_dependencies(chart_dir: Path, limits: Limits) -> list[dict[str, Any]]:
    """The dependencies a chart directory declares (Chart.yaml, else requirements.yaml)."""
    for name in ("Chart.yaml", "requirements.yaml"):
        document = _read_yaml(chart_dir / name, limits)
        deps = document.get("dependencies") if isinstance(document, dict) else None
        if deps:
            if not isinstance(deps, list) or not all(isinstance(d, dict) for d in deps):
                raise InvalidArgument(f"{name}: dependencies must be a list of maps")
            return deps
    return []


def _locked_versions(chart_dir: Path, limits: Limits) -> dict[tuple[str, str], str]:
    """(name, repository) -> version pinned by Chart.lock / requirements.lock."""
    pinned: dict[tuple[str, str], str] = {}
    for name in ("Chart.lock", "requirements.lock"):
        document = _read_yaml(chart_dir / name, limits)
        if isinstance(document, dict):
            for dep in document.get("dependencies") or []:
                if isinstance(dep, dict) and dep.get("name") and dep.get("version"):
                    key = (str(dep["name"]), str(dep.get("repository", "")).rstrip("/"))
                    pinned[key] = str(dep["version"])
    return pinned


def _vendored(chart_dir: Path, name: str) -> bool:
    charts = chart_dir / "charts"
    if not charts.is_dir():
        return False
    return any(
        entry.name == name or (entry.name.startswith(f"{name}-") and entry.name.endswith(".tgz"))
        for entry in charts.iterdir()
        if not entry.name.startswith(_FERRY_PREFIX)
    )


def credentials_for(url: str, registered: Sequence[types_pb2.Repository]) -> types_pb2.Repository:
    """A Repository for the dependency repository ``url`` with the credentials of the registered
    Helm repository of the same identity, else of the longest path-segment prefix, else none."""
    wanted = parse(url)
    best: tuple[int, types_pb2.Repository] | None = None
    for entry in registered:
        stored = try_parse(entry.repo)
        if stored is None:
            continue
        if stored.identity() == wanted.identity():
            rank = 10_000
        elif wanted.matches_prefix(stored):
            rank = len(stored.repo_segments)
        else:
            continue
        if best is None or rank > best[0]:
            best = (rank, entry)
    repository = types_pb2.Repository(repo=url, type="helm")
    if best is not None:
        repository.CopyFrom(best[1])
        repository.repo = url
    return repository


def _by_name(reference: str, registered: Sequence[types_pb2.Repository], what: str) -> str:
    name = reference.removeprefix("@").removeprefix("alias:")
    for entry in registered:
        if entry.name == name:
            return entry.repo
    raise InvalidArgument(
        f"{what}: repository {reference!r} names no Helm repository registered for the project "
        f"(register one named {name!r}, or write the repository's URL)"
    )


async def prepare(
    chart_dir: Path,
    workdir: Path,
    access: DependencyAccess | None,
    limits: Limits,
    *,
    origin: Path | None = None,
    depth: int = 0,
) -> None:
    """Puts every declared, not vendored dependency of the chart at ``chart_dir`` into its
    ``charts/`` directory. ``workdir`` is the materialized repository (file:// stays in it);
    ``origin`` is where the chart lies in it, which file:// paths are relative to (a copied
    file:// dependency keeps its original place for that)."""
    origin = origin or chart_dir
    if depth > MAX_DEPTH:
        raise InvalidArgument(f"chart dependencies nest deeper than {MAX_DEPTH} file:// levels (a cycle?)")
    pinned = _locked_versions(chart_dir, limits)
    charts = chart_dir / "charts"
    for index, dep in enumerate(declared_dependencies(chart_dir, limits)):
        name = str(dep.get("name") or "")
        repository = str(dep.get("repository") or "").strip()
        what = f"chart dependency {name!r}"
        if not name:
            raise InvalidArgument("chart dependency without a name")
        if not repository or _vendored(chart_dir, name):
            continue  # vendored (helm reports one that is missing)
        target = charts / f"{_FERRY_PREFIX}{index}"
        if repository.startswith("file://"):
            source = _local_dependency(origin, workdir, repository, what)
            if chart_dir.resolve().is_relative_to(source):
                raise InvalidArgument(f"{what}: {repository!r} contains the chart itself (a cycle)")
            charts.mkdir(exist_ok=True)
            shutil.copytree(source, target, symlinks=False)
            await prepare(target, workdir, access, limits, origin=source, depth=depth + 1)
            continue
        if repository.startswith("oci://"):
            raise InvalidArgument(
                f"{what}: {strip_userinfo(repository)!r} is an OCI registry; ferry does not fetch OCI "
                "chart dependencies yet: vendor the chart into charts/ (helm dependency update)"
            )
        if access is None:
            raise PermissionDenied(
                f"{what}: {strip_userinfo(repository)!r} is not fetched (no project given)"
            )
        written = repository.rstrip("/")
        if repository.startswith(("@", "alias:")):
            repository = _by_name(repository, access.helm_repos, what)
        url = repository.rstrip("/")
        try:
            repo = credentials_for(url, access.helm_repos)
        except BadRepoURL as err:
            raise InvalidArgument(f"{what}: {err.message}") from None
        if not source_repos_permit(access.source_repos, url):
            raise PermissionDenied(
                f"{what}: repository {strip_userinfo(url)} is not permitted in project "
                f"{access.project!r} (add it to the project's sourceRepos, or vendor the chart)"
            )
        version = pinned.get((name, written)) or pinned.get((name, url)) or str(dep.get("version") or "")
        entry = await access.charts.resolve(repo, name, version, no_cache=access.no_cache)
        archive = await access.charts.archive(repo, entry)
        charts.mkdir(exist_ok=True)
        shutil.copyfile(archive, target.with_suffix(".tgz"))


def _local_dependency(chart_dir: Path, workdir: Path, repository: str, what: str) -> Path:
    relative = repository.removeprefix("file://")
    if relative.startswith("/"):
        raise InvalidArgument(
            f"{what}: {repository!r} is absolute; a file:// dependency stays in the repository"
        )
    source = (chart_dir / relative).resolve()
    root = workdir.resolve()
    if not source.is_relative_to(root):
        raise InvalidArgument(f"{what}: {repository!r} leaves the repository")
    if chart_dir.resolve().is_relative_to(source):
        raise InvalidArgument(f"{what}: {repository!r} contains the chart itself (a cycle)")
    if not (source / "Chart.yaml").is_file():
        shown = source.relative_to(root).as_posix() or "/"
        raise InvalidArgument(f"{what}: {repository!r} has no Chart.yaml (looked at {shown!r})")
    return source

"""Renderers: a source at a commit -> Kubernetes objects, plus the repository paths the render
read (its inputs). One module per source type; all share ``RenderContext``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ferry.v1 import types_pb2
from reposerver.limits import DEFAULT_LIMITS, Limits
from reposerver.render.dependencies import DependencyAccess
from reposerver.source import SourceType
from reposerver.tree import CommitTree, minimal_roots

WHOLE_REPOSITORY = "/"


@dataclass(frozen=True)
class Tools:
    helm: str = "helm"
    kustomize: str = "kustomize"
    timeout: float = 90.0


@dataclass(frozen=True)
class RenderContext:
    tree: CommitTree
    path: str
    source: types_pb2.ApplicationSource
    app_name: str
    namespace: str
    kube_version: str = ""
    api_versions: tuple[str, ...] = ()
    # what a chart's dependencies may be fetched from, with which credentials
    dependencies: DependencyAccess | None = None
    # kustomize remote bases: "deny", or "project" (those the project's sourceRepos permit)
    remote_bases: str = "deny"
    tools: Tools = field(default_factory=Tools)
    limits: Limits = DEFAULT_LIMITS

    @property
    def project(self) -> str:
        """The app's project (what the request named), "" when the render has none."""
        return self.dependencies.project if self.dependencies is not None else ""

    @property
    def source_repos(self) -> tuple[str, ...]:
        """The project's sourceRepos: what a render may fetch besides the app's source."""
        return self.dependencies.source_repos if self.dependencies is not None else ()


@dataclass
class RenderResult:
    source_type: SourceType
    manifests: list[dict[str, Any]]
    # Repository paths (files or directories) the render depends on; {"/"}: all of it.
    input_paths: set[str]


def minimal_paths(paths: set[str]) -> set[str]:
    """The same set of inputs without paths that lie inside other paths of the set."""
    if WHOLE_REPOSITORY in paths or "" in paths:
        return {WHOLE_REPOSITORY}
    return set(minimal_roots(paths))

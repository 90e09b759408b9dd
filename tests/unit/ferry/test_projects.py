"""AppProject kind rules over an app's manifests."""

from __future__ import annotations

from typing import Any

from ferry.projects import DEFAULT_PROJECT, forbidden_resources

NAMESPACED = {
    ("", "ConfigMap"): True,
    ("", "Secret"): True,
    ("rbac.authorization.k8s.io", "ClusterRole"): False,
}


def manifest(api_version: str, kind: str) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}}


MANIFESTS = [
    manifest("v1", "ConfigMap"),
    manifest("v1", "Secret"),
    manifest("v1", "Secret"),
    manifest("rbac.authorization.k8s.io/v1", "ClusterRole"),
]


def test_the_default_project_allows_everything() -> None:
    assert forbidden_resources(DEFAULT_PROJECT, MANIFESTS, NAMESPACED) == []


def test_cluster_kinds_need_the_allow_list_and_namespace_kinds_the_deny_list() -> None:
    project: dict[str, Any] = {
        "metadata": {"name": "p"},
        "spec": {"namespaceResourceBlacklist": [{"group": "", "kind": "Secret"}]},
    }
    assert forbidden_resources(project, MANIFESTS, NAMESPACED) == [
        "namespace-scoped resource core/Secret is not permitted in project 'p'",
        "cluster-scoped resource rbac.authorization.k8s.io/ClusterRole is not permitted in project 'p'",
    ]
    project["spec"]["clusterResourceWhitelist"] = [{"group": "rbac.authorization.k8s.io", "kind": "*"}]
    project["spec"]["namespaceResourceWhitelist"] = [
        {"group": "", "kind": "ConfigMap"},
        {"group": "", "kind": "Secret"},
    ]
    assert forbidden_resources(project, MANIFESTS, NAMESPACED) == [
        "namespace-scoped resource core/Secret is not permitted in project 'p'"
    ]


def test_a_namespace_allow_list_leaves_out_the_rest() -> None:
    project = {
        "metadata": {"name": "p"},
        "spec": {"namespaceResourceWhitelist": [{"group": "", "kind": "ConfigMap"}]},
    }
    assert forbidden_resources(project, [manifest("apps/v1", "Deployment")], {}) == [
        "namespace-scoped resource apps/Deployment is not permitted in project 'p'"
    ]

"""Which pods ``app logs`` reads: those under the named resource, found through owner references."""

from __future__ import annotations

from typing import Any

import pytest

from ferry.tree import pods_of

NODES: list[dict[str, Any]] = [
    {"group": "apps", "kind": "Deployment", "namespace": "web", "name": "web", "uid": "d"},
    {
        "group": "apps",
        "kind": "ReplicaSet",
        "namespace": "web",
        "name": "web-1",
        "uid": "rs",
        "parentRefs": [{"uid": "d"}],
    },
    {"kind": "Pod", "namespace": "web", "name": "web-1-a", "uid": "p1", "parentRefs": [{"uid": "rs"}]},
    {"kind": "Pod", "namespace": "web", "name": "web-1-b", "uid": "p2", "parentRefs": [{"uid": "rs"}]},
    {"group": "batch", "kind": "Job", "namespace": "web", "name": "migrate", "uid": "j"},
    {"kind": "Pod", "namespace": "web", "name": "migrate-x", "uid": "p3", "parentRefs": [{"uid": "j"}]},
]


def names(pods: list[dict[str, Any]]) -> list[str]:
    return [p["name"] for p in pods]


def test_every_pod_without_a_resource() -> None:
    assert names(pods_of(NODES)) == ["web-1-a", "web-1-b", "migrate-x"]


def test_pods_under_a_deployment_or_job() -> None:
    assert names(pods_of(NODES, group="apps", kind="Deployment", name="web")) == ["web-1-a", "web-1-b"]
    assert names(pods_of(NODES, kind="Job", name="migrate")) == ["migrate-x"]
    assert names(pods_of(NODES, kind="Pod", name="web-1-b")) == ["web-1-b"]


def test_unknown_resource_is_an_error() -> None:
    with pytest.raises(KeyError):
        pods_of(NODES, kind="Deployment", name="api")
    with pytest.raises(KeyError):
        pods_of(NODES, kind="Deployment", name="web", namespace="other")

"""The controller compares apps with what runs: defaulting is not drift, manual edits are,
removed manifests are extras, ignoreDifferences works, unknown projects and destinations are
conditions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml
from kubernetes import client as k8s

from ferry_devenv.gitrepo import GitRepo
from tests.integration.controller.conftest import Apps, health_status, sync_status

MANIFESTS: list[dict[str, Any]] = [
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"mode": "prod"}},
    {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "web", "image": "nginx:1.27", "env": [{"name": "A", "value": "1"}]}
                    ]
                },
            },
        },
    },
    {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
    },
]


def repo_with(git_repo: Callable[[str], GitRepo], manifests: list[dict[str, Any]]) -> GitRepo:
    repo = git_repo("app")
    repo.commit("app", {"app/all.yaml": yaml.safe_dump_all(manifests)})
    return repo


def test_applied_app_is_synced_and_edits_are_drift(
    apps: Apps, kube: k8s.ApiClient, git_repo: Callable[[str], GitRepo], namespace: str
) -> None:
    repo = repo_with(git_repo, MANIFESTS)
    apps.apply_as_ferry("guestbook", MANIFESTS, namespace)
    apps.create("guestbook", f"file://{repo.bare}", "app", namespace)
    app = apps.wait("guestbook", lambda a: sync_status(a) == "Synced", what="Synced")
    assert app["status"]["sync"]["revision"] == repo.head()
    assert {r["kind"] for r in app["status"]["resources"]} == {"ConfigMap", "Deployment", "Service"}
    assert app["status"]["sourceType"] == "Directory"
    assert app["status"]["summary"]["images"] == ["nginx:1.27"]
    # a manual edit is drift, noticed through the watch (no refresh needed)
    k8s.AppsV1Api(kube).patch_namespaced_deployment_scale("web", namespace, {"spec": {"replicas": 5}})
    app = apps.wait("guestbook", lambda a: sync_status(a) == "OutOfSync", what="OutOfSync after scale")
    drifted = [r for r in app["status"]["resources"] if r["status"] == "OutOfSync"]
    assert [(r["kind"], r["name"]) for r in drifted] == [("Deployment", "web")]
    apps.delete("guestbook")


def test_removed_manifest_is_an_extra_to_prune(
    apps: Apps, git_repo: Callable[[str], GitRepo], namespace: str
) -> None:
    repo = repo_with(git_repo, MANIFESTS)
    apps.apply_as_ferry("pruner", MANIFESTS, namespace)
    apps.create("pruner", f"file://{repo.bare}", "app", namespace)
    apps.wait("pruner", lambda a: sync_status(a) == "Synced", what="Synced")
    repo.commit("drop the configmap", {"app/all.yaml": yaml.safe_dump_all(MANIFESTS[1:])})
    apps.patch("pruner", {"metadata": {"annotations": {"ferrycd.io/refresh": "normal"}}})
    app = apps.wait("pruner", lambda a: sync_status(a) == "OutOfSync", what="OutOfSync")
    extras = [r for r in app["status"]["resources"] if r.get("requiresPruning")]
    assert [(r["kind"], r["name"]) for r in extras] == [("ConfigMap", "settings")]
    assert "ferrycd.io/refresh" not in (apps.get("pruner")["metadata"].get("annotations") or {})
    apps.delete("pruner")


def test_ignore_differences(
    apps: Apps, kube: k8s.ApiClient, git_repo: Callable[[str], GitRepo], namespace: str
) -> None:
    repo = repo_with(git_repo, MANIFESTS)
    apps.apply_as_ferry("ignoring", MANIFESTS, namespace)
    k8s.AppsV1Api(kube).patch_namespaced_deployment_scale("web", namespace, {"spec": {"replicas": 7}})
    apps.create(
        "ignoring",
        f"file://{repo.bare}",
        "app",
        namespace,
        ignoreDifferences=[{"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}],
    )
    apps.wait("ignoring", lambda a: sync_status(a) == "Synced", what="Synced despite replicas")
    apps.delete("ignoring")


def test_missing_project_and_unknown_cluster_are_conditions(
    apps: Apps, git_repo: Callable[[str], GitRepo], namespace: str
) -> None:
    repo = repo_with(git_repo, MANIFESTS)
    apps.create("orphan-project", f"file://{repo.bare}", "app", namespace, project="nope")
    app = apps.wait(
        "orphan-project", lambda a: bool((a.get("status") or {}).get("conditions")), what="condition"
    )
    assert app["status"]["conditions"][0]["type"] == "InvalidSpecError"
    assert "'nope'" in app["status"]["conditions"][0]["message"]
    apps.create(
        "nowhere",
        f"file://{repo.bare}",
        "app",
        namespace,
        destination={"server": "https://10.255.255.1:6443", "namespace": namespace},
    )
    app = apps.wait("nowhere", lambda a: bool((a.get("status") or {}).get("conditions")), what="condition")
    assert "is not registered" in app["status"]["conditions"][0]["message"]
    apps.delete("orphan-project")
    apps.delete("nowhere")


def test_bad_manifest_is_a_comparison_error(
    apps: Apps, git_repo: Callable[[str], GitRepo], namespace: str
) -> None:
    repo = git_repo("broken")
    repo.commit("broken", {"app/bad.yaml": "kind: [unclosed\n"})
    apps.create("broken", f"file://{repo.bare}", "app", namespace)
    app = apps.wait("broken", lambda a: bool((a.get("status") or {}).get("conditions")), what="condition")
    condition = app["status"]["conditions"][0]
    assert condition["type"] == "ComparisonError"
    assert "app/bad.yaml:2: invalid YAML" in condition["message"]
    assert sync_status(app) == "Unknown"
    assert health_status(app) in ("Unknown", "")
    # fixed in Git: the condition goes away (not just stops being renewed)
    repo.commit("fixed", {"app/bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fixed}\n"})
    apps.wait(
        "broken",
        lambda a: not (a.get("status") or {}).get("conditions") and sync_status(a) == "OutOfSync",
        what="the ComparisonError cleared",
    )
    apps.delete("broken")

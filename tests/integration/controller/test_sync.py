"""Syncs on the workload tier (kube-scheduler + kwok): waves wait for health, hooks run in
their phases, failures run SyncFail hooks, prune and PruneLast, CreateNamespace, Replace, a dry
run failure applies nothing, termination, selective sync."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from ferry_devenv.controlplane import FAIL_LABEL, ControlPlane
from ferry_devenv.gitrepo import GitRepo
from tests.integration.controller.conftest import (
    Apps,
    health_status,
    operation_phase,
    request_sync,
    sync_status,
    wait_operation,
)


def deployment(name: str, **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }


def job(
    name: str, hook: str, *, fail: bool = False, annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    labels = {FAIL_LABEL: "true"} if fail else {}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "annotations": {"argocd.argoproj.io/hook": hook, **(annotations or {})}},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": labels},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]},
            },
        },
    }


DELETE_ON_SUCCESS: dict[str, str] = {"argocd.argoproj.io/hook-delete-policy": "HookSucceeded"}


def cm(name: str, **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "annotations": annotations},
        "data": {"k": name},
    }


@pytest.fixture
def make_app(
    apps: Apps, workload_plane: ControlPlane, git_repo: Callable[[str], GitRepo], namespace: str
) -> Iterator[Callable[..., tuple[str, GitRepo]]]:
    made: list[str] = []

    def make(name: str, manifests: list[dict[str, Any]], **spec: Any) -> tuple[str, GitRepo]:
        repo = git_repo(name)
        repo.commit("app", {"app/all.yaml": yaml.safe_dump_all(manifests)})
        apps.create(name, f"file://{repo.bare}", "app", namespace, **spec)
        made.append(name)
        return name, repo

    yield make
    for name in made:
        with contextlib.suppress(k8s.ApiException):
            apps.delete(name)


def configmaps(kube: k8s.ApiClient, namespace: str) -> set[str]:
    return {
        c["metadata"]["name"]
        for c in k8s.CoreV1Api(kube).list_namespaced_config_map(namespace).to_dict()["items"]
    }


def results(app: dict[str, Any]) -> list[dict[str, Any]]:
    return list(app["status"]["operationState"]["syncResult"]["resources"])


def test_sync_creates_everything_and_the_app_becomes_healthy(
    apps: Apps, make_app: Any, namespace: str
) -> None:
    name, repo = make_app(
        "webapp",
        [
            deployment("web"),
            cm("settings"),
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web"},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
            },
        ],
    )
    apps.wait(name, lambda a: sync_status(a) == "OutOfSync", what="OutOfSync before sync")
    request_sync(apps, name)
    app = wait_operation(apps, name)
    assert operation_phase(app) == "Succeeded", app["status"]["operationState"]
    assert {r["status"] for r in results(app)} == {"Synced"}
    assert app["status"]["operationState"]["syncResult"]["revision"] == repo.head()
    app = apps.wait(
        name, lambda a: sync_status(a) == "Synced" and health_status(a) == "Healthy", what="Synced+Healthy"
    )
    history = app["status"]["history"]
    assert [(h["id"], h["revision"]) for h in history] == [(0, repo.head())]
    assert history[0]["initiatedBy"] == {"username": "test"}


def test_waves_and_hooks_run_in_order(apps: Apps, make_app: Any) -> None:
    manifests = [
        job("migrate", "PreSync"),
        cm("first", **{"argocd.argoproj.io/sync-wave": "-1"}),
        deployment("second", **{"argocd.argoproj.io/sync-wave": "1"}),
        cm("third", **{"argocd.argoproj.io/sync-wave": "2"}),
        job("smoke", "PostSync", annotations=DELETE_ON_SUCCESS),
    ]
    name, _ = make_app("waves", manifests)
    request_sync(apps, name)
    app = wait_operation(apps, name, timeout=120)
    assert operation_phase(app) == "Succeeded", app["status"]["operationState"]
    order = [(r["kind"], r["name"]) for r in results(app)]
    assert order == [
        ("Job", "migrate"),
        ("ConfigMap", "first"),
        ("Deployment", "second"),
        ("ConfigMap", "third"),
        ("Job", "smoke"),
    ]
    hooks = {r["name"]: r for r in results(app) if r.get("hookType")}
    assert hooks["migrate"]["hookPhase"] == "Succeeded"
    assert hooks["smoke"]["hookType"] == "PostSync"


def test_failing_hook_fails_the_sync_and_runs_syncfail(
    apps: Apps, make_app: Any, kube: k8s.ApiClient, namespace: str
) -> None:
    manifests = [job("doomed", "PreSync", fail=True), cm("never-applied"), job("cleanup", "SyncFail")]
    name, _ = make_app("failing", manifests)
    request_sync(apps, name)
    app = wait_operation(apps, name, timeout=120)
    assert operation_phase(app) == "Failed"
    assert "doomed" in app["status"]["operationState"]["message"]
    names = {r["name"]: r for r in results(app)}
    assert names["doomed"]["hookPhase"] == "Failed"
    assert names["cleanup"]["hookType"] == "SyncFail"
    assert "never-applied" not in names
    assert "never-applied" not in configmaps(kube, namespace)


def test_before_hook_creation_replaces_the_previous_hook(
    apps: Apps, make_app: Any, kube: k8s.ApiClient, namespace: str
) -> None:
    name, _ = make_app("rehook", [job("setup", "PreSync"), cm("app")])
    request_sync(apps, name)
    wait_operation(apps, name)
    first_uid = k8s.BatchV1Api(kube).read_namespaced_job("setup", namespace).to_dict()["metadata"]["uid"]
    request_sync(apps, name)
    app = wait_operation(apps, name)
    assert operation_phase(app) == "Succeeded"
    assert (
        k8s.BatchV1Api(kube).read_namespaced_job("setup", namespace).to_dict()["metadata"]["uid"] != first_uid
    )


def test_prune_only_when_asked_and_prune_last(
    apps: Apps, make_app: Any, kube: k8s.ApiClient, namespace: str
) -> None:
    name, repo = make_app("pruning", [cm("keep"), cm("drop"), cm("drop-last"), cm("protected")])
    request_sync(apps, name)
    wait_operation(apps, name)
    repo.commit("remove three", {"app/all.yaml": yaml.safe_dump_all([cm("keep")])})
    core = k8s.CoreV1Api(kube)
    core.patch_namespaced_config_map(
        "drop-last",
        namespace,
        {"metadata": {"annotations": {"argocd.argoproj.io/sync-options": "PruneLast=true"}}},
    )
    core.patch_namespaced_config_map(
        "protected",
        namespace,
        {"metadata": {"annotations": {"argocd.argoproj.io/sync-options": "Prune=false"}}},
    )
    apps.patch(name, {"metadata": {"annotations": {"ferrycd.io/refresh": "normal"}}})
    apps.wait(name, lambda a: sync_status(a) == "OutOfSync", what="extras noticed")
    request_sync(apps, name)  # no prune: extras stay
    wait_operation(apps, name)
    assert {"drop", "drop-last", "protected"} <= configmaps(kube, namespace)
    request_sync(apps, name, prune=True)
    app = wait_operation(apps, name)
    outcome = {r["name"]: r["status"] for r in results(app)}
    assert outcome["drop"] == "Pruned"
    assert outcome["drop-last"] == "Pruned"
    assert outcome["protected"] == "PruneSkipped"
    order = [r["name"] for r in results(app)]
    assert order.index("drop-last") > order.index("drop")
    left = configmaps(kube, namespace)
    assert "drop" not in left
    assert "protected" in left


def test_create_namespace(
    apps: Apps, workload_plane: ControlPlane, git_repo: Callable[[str], GitRepo], kube: k8s.ApiClient
) -> None:
    repo = git_repo("createns")
    repo.commit("app", {"app/cm.yaml": yaml.safe_dump(cm("inside"))})
    target = "created-by-ferry"
    apps.create(
        "createns",
        f"file://{repo.bare}",
        "app",
        target,
        syncPolicy={
            "syncOptions": ["CreateNamespace=true"],
            "managedNamespaceMetadata": {"labels": {"team": "web"}},
        },
    )
    request_sync(apps, "createns")
    app = wait_operation(apps, "createns")
    assert operation_phase(app) == "Succeeded", app["status"]["operationState"]
    ns = k8s.CoreV1Api(kube).read_namespace(target).to_dict()
    assert ns["metadata"]["labels"]["team"] == "web"
    apps.delete("createns")
    k8s.CoreV1Api(kube).delete_namespace(target)


def test_dry_run_failure_applies_nothing(
    apps: Apps, make_app: Any, kube: k8s.ApiClient, namespace: str
) -> None:
    invalid = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "bad"},
        "spec": {"ports": [{"port": 99999}]},
    }
    name, _ = make_app("dryfail", [cm("innocent"), invalid])
    request_sync(apps, name)
    app = wait_operation(apps, name)
    assert operation_phase(app) == "Failed"
    assert "nothing was applied" in app["status"]["operationState"]["message"]
    failed = [r for r in results(app) if r["status"] == "SyncFailed"]
    assert [(r["kind"], r["name"]) for r in failed] == [("Service", "bad")]
    assert "innocent" not in configmaps(kube, namespace)


def test_selective_sync_of_one_resource(
    apps: Apps, make_app: Any, kube: k8s.ApiClient, namespace: str
) -> None:
    name, _ = make_app("selective", [cm("one"), cm("two"), job("hook", "PreSync")])
    request_sync(apps, name, resources=[{"kind": "ConfigMap", "name": "two", "namespace": namespace}])
    app = wait_operation(apps, name)
    assert [(r["kind"], r["name"]) for r in results(app)] == [("ConfigMap", "two")]
    names = configmaps(kube, namespace)
    assert "two" in names
    assert "one" not in names


def test_replace_sync_option(apps: Apps, make_app: Any, kube: k8s.ApiClient, namespace: str) -> None:
    name, _ = make_app("replacing", [cm("replaced", **{"argocd.argoproj.io/sync-options": "Replace=true"})])
    request_sync(apps, name)
    assert operation_phase(wait_operation(apps, name)) == "Succeeded"
    stored = k8s.CoreV1Api(kube).read_namespaced_config_map("replaced", namespace).to_dict()
    managers = {m["manager"] for m in stored["metadata"]["managed_fields"]}
    assert "ferry-controller" in managers


def test_force_recreates_what_cannot_change_in_place(
    apps: Apps, make_app: Any, kube: k8s.ApiClient, namespace: str
) -> None:
    frozen = {**cm("frozen"), "immutable": True}
    name, repo = make_app("forcing", [frozen])
    request_sync(apps, name)
    assert operation_phase(wait_operation(apps, name)) == "Succeeded"
    first_uid = (
        k8s.CoreV1Api(kube).read_namespaced_config_map("frozen", namespace).to_dict()["metadata"]["uid"]
    )
    repo.commit("v2", {"app/all.yaml": yaml.safe_dump_all([{**frozen, "data": {"k": "v2"}}])})
    apps.patch(name, {"metadata": {"annotations": {"ferrycd.io/refresh": "hard"}}})
    apps.wait(name, lambda a: a["status"]["sync"].get("revision") == repo.head(), what="the new commit seen")
    # an immutable ConfigMap's data cannot be patched: without force the sync fails ...
    request_sync(apps, name)
    failed = wait_operation(apps, name)
    assert operation_phase(failed) == "Failed"
    assert "immutable" in failed["status"]["operationState"]["message"] + json.dumps(results(failed))
    # ... with force (argocd app sync --force) it is deleted and created again
    request_sync(apps, name, syncStrategy={"apply": {"force": True}})
    assert operation_phase(wait_operation(apps, name)) == "Succeeded"
    recreated = k8s.CoreV1Api(kube).read_namespaced_config_map("frozen", namespace)
    assert recreated.data == {"k": "v2"}
    assert recreated.to_dict()["metadata"]["uid"] != first_uid


def test_terminate_mid_wave(apps: Apps, make_app: Any) -> None:
    name, _ = make_app(
        "terminate",
        [
            deployment("slow", **{"argocd.argoproj.io/sync-wave": "0"}),
            job("never", "PostSync", fail=False),
            {
                **deployment("stuck"),
                "spec": {
                    **deployment("stuck")["spec"],
                    "template": {
                        **deployment("stuck")["spec"]["template"],
                        "metadata": {"labels": {"app": "stuck", FAIL_LABEL: "true"}},
                    },
                },
            },
        ],
    )
    request_sync(apps, name)
    apps.wait(
        name,
        lambda a: "waiting" in ((a.get("status") or {}).get("operationState") or {}).get("message", ""),
        what="waiting",
    )
    apps.api.patch_namespaced_custom_object_status(
        "ferrycd.io",
        "v1alpha1",
        "ferry",
        "applications",
        name,
        {"status": {"operationState": {"phase": "Terminating"}}},
    )
    app = wait_operation(apps, name)
    assert operation_phase(app) == "Failed"
    assert app["status"]["operationState"]["message"] == "Operation terminated"
    assert "never" not in {r["name"] for r in results(app)}

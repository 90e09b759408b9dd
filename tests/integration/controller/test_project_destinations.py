"""Each object of an app is held to its project's destinations (security review finding 4): an
object naming a namespace the project does not permit is never compared, never applied and never
pruned; the sync fails before anything is applied, in Argo CD's words. CreateNamespace does not
write a Namespace the project does not permit (finding 21)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from ferry_devenv.gitrepo import GitRepo
from tests.conftest import CONTROL_NS, GROUP, VERSION
from tests.integration.controller.conftest import Apps, app_project, request_sync, wait_operation

IN_CLUSTER = "https://kubernetes.default.svc"


def configmap(name: str, namespace: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"a": "1"}}


@pytest.fixture
def team(kube: k8s.ApiClient, namespace: str) -> Iterator[str]:
    """A project whose only destination is the test's namespace (ConfigMaps only, as in the review)."""
    spec = {
        "sourceRepos": ["*"],
        "destinations": [{"server": IN_CLUSTER, "namespace": namespace}],
        "namespaceResourceWhitelist": [{"group": "", "kind": "ConfigMap"}],
    }
    with app_project(kube, f"team-{uuid.uuid4().hex[:6]}", spec) as name:
        yield name


def configmaps(kube: k8s.ApiClient, namespace: str) -> set[str]:
    return {
        str(c.metadata.name)
        for c in k8s.CoreV1Api(kube).list_namespaced_config_map(namespace).items
        if c.metadata
    }


def conditions(app: dict[str, Any]) -> list[str]:
    return sorted(
        c["message"]
        for c in (app.get("status") or {}).get("conditions") or []
        if c["type"] == "InvalidSpecError"
    )


def test_an_object_in_a_namespace_the_project_does_not_permit_fails_the_sync_before_anything_is_applied(
    apps: Apps, kube: k8s.ApiClient, team: str, git_repo: Callable[[str], GitRepo], namespace: str
) -> None:
    probe = f"ns-bypass-probe-{namespace}"
    repo = git_repo("bypass")
    repo.commit(
        "objects in foreign namespaces",
        {
            "app/own.yaml": yaml.safe_dump(configmap("own")),
            "app/kube-system.yaml": yaml.safe_dump(configmap(probe, "kube-system")),
            "app/control.yaml": yaml.safe_dump(configmap(probe, CONTROL_NS)),
        },
    )
    name = f"bypass-{namespace}"
    apps.create(name, f"file://{repo.bare}", "app", namespace, project=team)
    expected = [
        f"namespace kube-system is not permitted in project '{team}'",
        f"namespace {CONTROL_NS} is not permitted in project '{team}'",
    ]
    app = apps.wait(name, lambda a: len(conditions(a)) == 2, what="not-permitted conditions")
    assert conditions(app) == sorted(expected)
    by_namespace = {r["namespace"]: r for r in app["status"]["resources"]}
    assert by_namespace["kube-system"]["status"] == "Unknown"
    assert by_namespace[CONTROL_NS]["status"] == "Unknown"
    assert by_namespace[namespace]["status"] == "OutOfSync"
    assert app["status"]["sync"]["status"] == "OutOfSync"

    request_sync(apps, name, prune=True)
    state = wait_operation(apps, name)["status"]["operationState"]
    assert state["phase"] == "Failed"
    assert state["message"] == "one or more synchronization tasks are not valid"
    results = {(r["namespace"], r["name"]): r for r in state["syncResult"]["resources"]}
    assert set(results) == {("kube-system", probe), (CONTROL_NS, probe)}
    assert {r["status"] for r in results.values()} == {"SyncFailed"}
    assert sorted(r["message"] for r in results.values()) == sorted(expected)
    # nothing was applied: not the foreign objects, not even the permitted one
    assert probe not in configmaps(kube, "kube-system")
    assert probe not in configmaps(kube, CONTROL_NS)
    assert "own" not in configmaps(kube, namespace)
    apps.delete(name)


def test_a_tracked_object_in_a_foreign_namespace_is_neither_shown_nor_pruned(
    apps: Apps, kube: k8s.ApiClient, team: str, git_repo: Callable[[str], GitRepo], namespace: str
) -> None:
    repo = git_repo("planted")
    repo.commit("one ConfigMap", {"app/own.yaml": yaml.safe_dump(configmap("own"))})
    name = f"planted-{namespace}"
    planted = f"planted-{namespace}"
    # someone who can write to kube-system marks an object there as this app's
    apps.apply_as_ferry(name, [configmap(planted)], "kube-system")
    apps.apply_as_ferry(name, [configmap("stale")], namespace)  # a real extra, in the app's namespace
    try:
        apps.create(name, f"file://{repo.bare}", "app", namespace, project=team)
        app = apps.wait(
            name,
            lambda a: any(r["name"] == "stale" for r in (a.get("status") or {}).get("resources") or []),
            what="the comparison",
        )
        assert {(r["namespace"], r["name"]) for r in app["status"]["resources"]} == {
            (namespace, "own"),
            (namespace, "stale"),
        }
        request_sync(apps, name, prune=True)
        state = wait_operation(apps, name)["status"]["operationState"]
        assert state["phase"] == "Succeeded", state
        assert "stale" not in configmaps(kube, namespace)
        assert "own" in configmaps(kube, namespace)
        assert planted in configmaps(kube, "kube-system")  # not the app's: not pruned
    finally:
        apps.delete(name)
        k8s.CoreV1Api(kube).delete_namespaced_config_map(planted, "kube-system")


def test_create_namespace_does_not_write_a_namespace_the_project_does_not_permit(
    apps: Apps, kube: k8s.ApiClient, team: str, git_repo: Callable[[str], GitRepo], namespace: str
) -> None:
    repo = git_repo("nsmeta")
    repo.commit("one ConfigMap", {"app/own.yaml": yaml.safe_dump(configmap("own"))})
    name = f"nsmeta-{namespace}"
    label = "pod-security.kubernetes.io/enforce"
    apps.create(
        name,
        f"file://{repo.bare}",
        "app",
        namespace,
        project=team,
        syncPolicy={
            "syncOptions": ["CreateNamespace=true"],
            "managedNamespaceMetadata": {"labels": {label: "privileged"}},
        },
    )
    request_sync(apps, name)
    state = wait_operation(apps, name)["status"]["operationState"]
    assert state["phase"] == "Failed"
    [result] = state["syncResult"]["resources"]
    assert (result["kind"], result["name"], result["status"]) == ("Namespace", namespace, "SyncFailed")
    assert result["message"] == f"resource :Namespace is not permitted in project {team}"
    labels = (k8s.CoreV1Api(kube).read_namespace(namespace).metadata or k8s.V1ObjectMeta()).labels or {}
    assert label not in labels
    assert "own" not in configmaps(kube, namespace)

    # the namespace exists and no metadata is managed: nothing to write, the sync goes ahead (Argo CD)
    apps.patch(name, {"spec": {"syncPolicy": {"managedNamespaceMetadata": None}}})
    request_sync(apps, name)
    state = wait_operation(apps, name)["status"]["operationState"]
    assert state["phase"] == "Succeeded", state
    assert "own" in configmaps(kube, namespace)
    apps.delete(name)


def test_create_namespace_does_not_create_a_namespace_the_project_does_not_permit(
    apps: Apps, kube: k8s.ApiClient, team: str, git_repo: Callable[[str], GitRepo], namespace: str
) -> None:
    api = k8s.CustomObjectsApi(kube)
    missing = f"{namespace}-new"
    api.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        CONTROL_NS,
        "appprojects",
        team,
        {"spec": {"destinations": [{"server": IN_CLUSTER, "namespace": f"{namespace}*"}]}},
    )
    repo = git_repo("nsnew")
    repo.commit("one ConfigMap", {"app/own.yaml": yaml.safe_dump(configmap("own"))})
    name = f"nsnew-{namespace}"
    apps.create(
        name,
        f"file://{repo.bare}",
        "app",
        missing,
        project=team,
        syncPolicy={"syncOptions": ["CreateNamespace=true"]},
    )
    request_sync(apps, name)
    state = wait_operation(apps, name)["status"]["operationState"]
    assert state["phase"] == "Failed"
    assert [r["message"] for r in state["syncResult"]["resources"]] == [
        f"resource :Namespace is not permitted in project {team}"
    ]
    names = {n.metadata.name for n in k8s.CoreV1Api(kube).list_namespace().items if n.metadata}
    assert missing not in names
    apps.delete(name)

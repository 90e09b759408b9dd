"""Auto-sync, self-heal, no retry of a failed revision, the allowEmpty guard, deletion with and
without the resources finalizer, health verdicts, and an API server restart that loses nothing."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from ferry_devenv.controlplane import FAIL_LABEL, ControlPlane
from ferry_devenv.gitrepo import GitRepo
from tests.conftest import RunningServer
from tests.integration.controller.conftest import (
    Apps,
    health_status,
    operation_phase,
    sync_status,
    wait_periodic_refreshes,
)
from tests.integration.controller.test_sync import cm, configmaps, deployment

AUTO = {"automated": {"prune": True, "selfHeal": True}}


@pytest.fixture
def app_factory(
    apps: Apps, git_repo: Callable[[str], GitRepo], namespace: str
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
            apps.patch(name, {"metadata": {"finalizers": None}})
            apps.delete(name)


def synced_by_operation(app: dict[str, Any]) -> bool:
    return sync_status(app) == "Synced" and operation_phase(app) == "Succeeded"


def refresh(apps: Apps, name: str) -> None:
    apps.patch(name, {"metadata": {"annotations": {"ferrycd.io/refresh": "normal"}}})


def test_auto_sync_follows_git(apps: Apps, app_factory: Any, kube: k8s.ApiClient, namespace: str) -> None:
    name, repo = app_factory("auto", [cm("v1")], syncPolicy=AUTO)
    apps.wait(name, synced_by_operation, what="auto-synced")
    assert "v1" in configmaps(kube, namespace)
    sha = repo.commit("v2", {"app/all.yaml": yaml.safe_dump_all([cm("v2")])})
    refresh(apps, name)
    app = apps.wait(
        name, lambda a: synced_by_operation(a) and a["status"]["sync"]["revision"] == sha, what="at sha"
    )
    assert app["status"]["operationState"]["operation"]["initiatedBy"] == {"automated": True}
    assert configmaps(kube, namespace) >= {"v2"}
    assert "v1" not in configmaps(kube, namespace)  # automated.prune
    assert [h["revision"] for h in app["status"]["history"]][-1] == sha


def test_self_heal_reverts_a_manual_edit(
    apps: Apps, app_factory: Any, kube: k8s.ApiClient, namespace: str
) -> None:
    name, _ = app_factory("healing", [cm("healed")], syncPolicy=AUTO)
    apps.wait(name, synced_by_operation, what="synced")
    core = k8s.CoreV1Api(kube)
    core.patch_namespaced_config_map("healed", namespace, {"data": {"k": "tampered"}})

    def healed() -> bool:
        return bool(core.read_namespaced_config_map("healed", namespace).to_dict()["data"] == {"k": "healed"})

    deadline = time.monotonic() + 60
    while not healed():
        assert time.monotonic() < deadline, "self-heal did not revert the edit"
        time.sleep(0.5)


def test_without_self_heal_drift_stays(
    apps: Apps, app_factory: Any, kube: k8s.ApiClient, namespace: str, controller_process: RunningServer
) -> None:
    name, _ = app_factory("drifting", [cm("drifty")], syncPolicy={"automated": {"prune": False}})
    app = apps.wait(name, synced_by_operation, what="synced")
    started = app["status"]["operationState"]["startedAt"]
    k8s.CoreV1Api(kube).patch_namespaced_config_map("drifty", namespace, {"data": {"k": "edited"}})
    apps.wait(name, lambda a: sync_status(a) == "OutOfSync", what="OutOfSync")
    wait_periodic_refreshes(controller_process, apps, 2)  # each would have self-healed
    app = apps.get(name)
    assert sync_status(app) == "OutOfSync"
    assert app["status"]["operationState"]["startedAt"] == started


def test_a_failed_revision_is_not_auto_synced_again(
    apps: Apps, app_factory: Any, kube: k8s.ApiClient, namespace: str, controller_process: RunningServer
) -> None:
    bad = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "bad"},
        "spec": {"ports": [{"port": 99999}]},
    }
    policy = {**AUTO, "retry": {"limit": 1, "backoff": {"duration": "1s"}}}
    name, repo = app_factory("no-retry", [cm("fine"), bad], syncPolicy=policy)
    app = apps.wait(
        name,
        lambda a: any(c["type"] == "SyncError" for c in (a.get("status") or {}).get("conditions") or []),
        timeout=90,
        what="SyncError condition",
    )
    assert operation_phase(app) == "Failed"
    assert app["status"]["operationState"]["retryCount"] == 1
    message = next(c["message"] for c in app["status"]["conditions"] if c["type"] == "SyncError")
    assert message.startswith(f"Failed last sync attempt to {repo.head()}")
    started = app["status"]["operationState"]["startedAt"]
    wait_periodic_refreshes(controller_process, apps, 2)  # each would have auto-synced it again
    assert apps.get(name)["status"]["operationState"]["startedAt"] == started  # no new attempt
    repo.commit("fixed", {"app/all.yaml": yaml.safe_dump_all([cm("fine")])})
    refresh(apps, name)
    apps.wait(
        name,
        lambda a: operation_phase(a) == "Succeeded" and sync_status(a) == "Synced",
        timeout=90,
        what="fixed",
    )


def test_auto_sync_refuses_to_wipe_out_everything(
    apps: Apps, app_factory: Any, kube: k8s.ApiClient, namespace: str
) -> None:
    name, repo = app_factory("wipe", [cm("precious")], syncPolicy=AUTO)
    apps.wait(name, synced_by_operation, what="synced")
    repo.commit("empty", {"app/all.yaml": None, "app/README.md": "nothing here\n"})
    refresh(apps, name)
    app = apps.wait(
        name,
        lambda a: any(c["type"] == "SyncError" for c in (a.get("status") or {}).get("conditions") or []),
        what="wipe-out guard",
    )
    assert "wipe out all resources" in next(
        c["message"] for c in app["status"]["conditions"] if c["type"] == "SyncError"
    )
    assert "precious" in configmaps(kube, namespace)


def test_deletion_with_and_without_the_finalizer(
    apps: Apps, app_factory: Any, kube: k8s.ApiClient, namespace: str
) -> None:
    kept, _ = app_factory("kept", [cm("stays")], syncPolicy=AUTO)
    gone, _ = app_factory("gone", [cm("goes")], syncPolicy=AUTO)
    apps.patch(gone, {"metadata": {"finalizers": ["ferrycd.io/resources-finalizer"]}})
    for name in (kept, gone):
        apps.wait(name, synced_by_operation, what="synced")
    apps.delete(kept)
    apps.delete(gone)
    deadline = time.monotonic() + 60
    while "goes" in configmaps(kube, namespace) or any(a["metadata"]["name"] == gone for a in apps.items()):
        assert time.monotonic() < deadline, "the finalizer did not delete the app's resources"
        time.sleep(0.5)
    assert "stays" in configmaps(kube, namespace)


def test_health_follows_workloads(apps: Apps, app_factory: Any, workload_plane: ControlPlane) -> None:
    failing_job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "broken"},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": {FAIL_LABEL: "true"}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]},
            },
        },
    }
    healthy, _ = app_factory("healthy", [deployment("fine")], syncPolicy=AUTO)
    degraded, _ = app_factory("degraded", [failing_job], syncPolicy=AUTO)
    apps.wait(healthy, lambda a: health_status(a) == "Healthy", timeout=90, what="Healthy")
    app = apps.wait(degraded, lambda a: health_status(a) == "Degraded", timeout=90, what="Degraded")
    job = next(r for r in app["status"]["resources"] if r["kind"] == "Job")
    assert job["health"]["status"] == "Degraded"


def test_an_api_server_restart_loses_no_event(
    apps: Apps, app_factory: Any, control_plane: ControlPlane, kube: k8s.ApiClient, namespace: str
) -> None:
    name, _ = app_factory("restart", [cm("watched")])
    apps.apply_as_ferry("restart", [cm("watched")], namespace)
    apps.wait(name, lambda a: sync_status(a) == "Synced", what="Synced")
    control_plane.restart_apiserver()
    k8s.CoreV1Api(kube).patch_namespaced_config_map(
        "watched", namespace, {"data": {"k": "changed during outage"}}
    )
    apps.wait(name, lambda a: sync_status(a) == "OutOfSync", timeout=60, what="OutOfSync after the restart")

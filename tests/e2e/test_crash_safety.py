"""Kill the controller (SIGKILL) again and again during a multi-wave sync with hooks: the next
controller resumes from status.operationState, never re-runs a hook that already succeeded, never
applies an older revision over a newer one, and finishes."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from ferry_devenv.controlplane import ControlPlane
from ferry_devenv.gitrepo import GitRepo
from tests.conftest import GROUP, VERSION, RunningServer
from tests.e2e.conftest import Deployed
from tests.integration.controller.test_sync import cm, deployment, job

NS = "ferry-crash"
KILLS = 12


def controller(deployed: Deployed, plane: ControlPlane, reposerver: RunningServer) -> RunningServer:
    return deployed.controller(plane, NS, reposerver.address)


@pytest.fixture
def crash_namespace(kube: k8s.ApiClient) -> Iterator[str]:
    core = k8s.CoreV1Api(kube)
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=NS)))
    yield NS
    core.delete_namespace(NS)


def manifests(version: str) -> list[dict[str, Any]]:
    return [
        job("migrate", "PreSync"),
        cm("first", **{"argocd.argoproj.io/sync-wave": "0"}),
        deployment("middle", **{"argocd.argoproj.io/sync-wave": "1"}),
        {**cm("last", **{"argocd.argoproj.io/sync-wave": "2"}), "data": {"version": version}},
        job("verify", "PostSync"),
    ]


def test_repeated_sigkill_during_a_sync(
    workload_plane: ControlPlane,
    reposerver_process: RunningServer,
    deployed: Deployed,
    crash_namespace: str,
    kube: k8s.ApiClient,
    namespace: str,
    git_repo: Callable[[str], GitRepo],
) -> None:
    api = k8s.CustomObjectsApi(kube)
    repo = git_repo("crashy")
    repo.commit("v1", {"app/all.yaml": yaml.safe_dump_all(manifests("v1"))})
    running = controller(
        deployed, workload_plane, reposerver_process
    )  # installs the CRDs and the default project
    app = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Application",
        "metadata": {"name": "crashy", "namespace": NS},
        "spec": {
            "source": {"repoURL": f"file://{repo.bare}", "path": "app", "targetRevision": "HEAD"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
            "syncPolicy": {"automated": {"prune": True}},
        },
    }
    deadline = time.monotonic() + 60
    while True:  # the first controller installs the CRDs; wait until they are served
        try:
            api.create_namespaced_custom_object(GROUP, VERSION, NS, "applications", app)
            break
        except k8s.ApiException as err:
            if err.status != 404 or time.monotonic() > deadline:
                raise
            time.sleep(0.5)

    def get() -> dict[str, Any]:
        obj = api.get_namespaced_custom_object(GROUP, VERSION, NS, "applications", "crashy")
        assert isinstance(obj, dict)
        return obj

    migrate_uid: dict[str, str] = {}  # operation (startedAt) -> uid of its succeeded PreSync hook
    newer = ""
    for kill in range(KILLS):
        time.sleep(0.25 + 0.35 * (kill % 6))  # a different point of the sync each time
        running.proc.kill()
        state = (get().get("status") or {}).get("operationState") or {}
        results = {r["name"]: r for r in (state.get("syncResult") or {}).get("resources") or []}
        if results.get("migrate", {}).get("hookPhase") == "Succeeded" and state.get("phase") == "Running":
            uid = k8s.BatchV1Api(kube).read_namespaced_job("migrate", namespace).to_dict()["metadata"]["uid"]
            operation = str(state.get("startedAt"))
            assert migrate_uid.setdefault(operation, uid) == uid, (
                "a PreSync hook that had succeeded ran again"
            )
        if kill == KILLS // 2:
            newer = repo.commit("v2", {"app/all.yaml": yaml.safe_dump_all(manifests("v2"))})
        running = controller(deployed, workload_plane, reposerver_process)
    try:
        deadline = time.monotonic() + 180
        while True:
            current = get()
            status = current.get("status") or {}
            done = (status.get("operationState") or {}).get("phase") == "Succeeded"
            at_newer = (status.get("sync") or {}).get("revision") == newer and (status.get("sync") or {}).get(
                "status"
            ) == "Synced"
            if done and at_newer and not current.get("operation"):
                break
            assert time.monotonic() < deadline, f"did not finish: {status.get('operationState')}"
            time.sleep(1)
    finally:
        running.stop()
    history = [h["revision"] for h in current["status"]["history"]]
    assert history[-1] == newer
    assert migrate_uid, "no kill landed after the PreSync hook succeeded; the check did not run"
    data = k8s.CoreV1Api(kube).read_namespaced_config_map("last", namespace).to_dict()["data"]
    assert data == {"version": "v2"}  # the newer revision won
    api.delete_namespaced_custom_object(GROUP, VERSION, NS, "applications", "crashy")

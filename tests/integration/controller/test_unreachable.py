"""A registered cluster that stops answering: its apps get a condition saying so, the
``ferry_cluster_connection_status`` metric drops to 0, the controller keeps working for the other
clusters, and everything recovers when the cluster answers again."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
import yaml
from kubernetes import client as k8s

from ferry.kube.config import ClusterConfig
from ferry_devenv.controlplane import ControlPlane
from ferry_devenv.gitrepo import GitRepo
from tests.conftest import RunningServer, api_client
from tests.integration.controller.conftest import Apps, sync_status
from tests.integration.controller.test_automation import AUTO, synced_by_operation
from tests.integration.controller.test_sources import secret


def cm(name: str, version: str = "1") -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"version": version}}


@pytest.fixture
def flaky_plane() -> Iterator[ControlPlane]:
    plane = ControlPlane("ferry-flaky").start()
    yield plane
    plane.stop()


def conditions(app: dict[str, object]) -> list[dict[str, str]]:
    status = app.get("status") or {}
    assert isinstance(status, dict)
    return list(status.get("conditions") or [])


def test_an_unreachable_cluster_is_a_condition_and_recovers(
    apps: Apps,
    kube: k8s.ApiClient,
    flaky_plane: ControlPlane,
    controller_process: RunningServer,
    git_repo: Callable[[str], GitRepo],
    namespace: str,
) -> None:
    target = ClusterConfig.from_kubeconfig(flaky_plane.kubeconfig)
    config = {"bearerToken": target.token, "tlsClientConfig": {"insecure": True}}
    secret(
        kube,
        "cluster-flaky",
        "cluster",
        {"name": "flaky", "server": target.server, "config": json.dumps(config)},
    )
    remote = api_client(flaky_plane)
    k8s.CoreV1Api(remote).create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name="far")))
    repo = git_repo("flaky")
    repo.commit("v1", {"app/cm.yaml": yaml.safe_dump(cm("far-away"))})
    apps.create(
        "flaky",
        f"file://{repo.bare}",
        "app",
        "far",
        syncPolicy=AUTO,
        destination={"name": "flaky", "namespace": "far"},
    )
    apps.wait("flaky", synced_by_operation, what="synced to the flaky cluster")
    # an app on another cluster, to show the controller keeps working meanwhile
    apps.create("steady", f"file://{repo.bare}", "app", namespace, syncPolicy={"automated": {}})
    apps.wait("steady", synced_by_operation, what="steady synced")
    # automated: {} is auto-sync too
    assert controller_process.metric("ferry_app_info", name="steady", autosync_enabled="true") == 1
    assert controller_process.metric("ferry_cluster_connection_status", server=target.server) == 1

    flaky_plane.stop_apiserver()
    try:
        app = apps.wait(
            "flaky",
            lambda a: any(c["type"] == "ComparisonError" and "flaky" in c["message"] for c in conditions(a)),
            what="a condition naming the unreachable cluster",
            timeout=90,
        )
        message = next(c["message"] for c in conditions(app) if c["type"] == "ComparisonError")
        assert target.server.split("//")[1] in message or "flaky" in message
        assert controller_process.metric("ferry_cluster_connection_status", server=target.server) == 0
        # the other cluster's app still follows Git
        repo.commit("v2", {"app/cm.yaml": yaml.safe_dump(cm("far-away", version="2"))})
        apps.patch("steady", {"metadata": {"annotations": {"ferrycd.io/refresh": "normal"}}})
        apps.wait(
            "steady",
            lambda a: synced_by_operation(a) and (a["status"]["sync"].get("revision") == repo.head()),
            what="the other cluster's app synced meanwhile",
        )
    finally:
        flaky_plane.start_apiserver()
    apps.wait(
        "flaky",
        lambda a: (
            not any(c["type"] == "ComparisonError" for c in conditions(a)) and sync_status(a) == "Synced"
        ),
        what="recovered once the cluster answers",
        timeout=120,
    )
    recovered = apps.wait(
        "flaky", lambda a: a["status"]["sync"].get("revision") == repo.head(), what="the new commit synced"
    )
    assert synced_by_operation(recovered)
    assert k8s.CoreV1Api(remote).read_namespaced_config_map("far-away", "far").data == {"version": "2"}
    assert controller_process.metric("ferry_cluster_connection_status", server=target.server) == 1
    apps.delete("flaky")
    apps.delete("steady")
    k8s.CoreV1Api(kube).delete_namespaced_secret("cluster-flaky", "ferry")

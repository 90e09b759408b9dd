"""Container logs of Pods run by kwok, read through kube-apiserver like on a real cluster: the
test sets what a container printed (``ControlPlane.set_pod_logs``), the API serves it."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import utils

from ferry_devenv.controlplane import ControlPlane
from tests.integration.devenv.test_controlplane import eventually


def _pod(name: str, containers: list[str], labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"containers": [{"name": c, "image": "busybox:1.36"} for c in containers]},
    }


def _running(core: k8s.CoreV1Api, namespace: str, name: str) -> None:
    eventually(
        lambda: (
            (core.read_namespaced_pod_status(name, namespace).status or k8s.V1PodStatus()).phase == "Running"
        ),
        what=f"Pod {name} Running",
    )


def test_pod_logs_through_the_apiserver(
    workload_plane: ControlPlane, kube: k8s.ApiClient, namespace: str
) -> None:
    core = k8s.CoreV1Api(kube)
    utils.create_from_dict(kube, _pod("app", ["main", "sidecar"]), namespace=namespace)
    workload_plane.set_pod_logs(namespace, ["starting", "listening on :8080"], pod="app")
    workload_plane.set_pod_logs(
        namespace, ["proxy ready"], pod="app", container="sidecar", previous=["proxy crashed"]
    )
    _running(core, namespace, "app")

    assert (
        core.read_namespaced_pod_log("app", namespace, container="main") == "starting\nlistening on :8080\n"
    )
    assert core.read_namespaced_pod_log("app", namespace, container="sidecar") == "proxy ready\n"
    assert (
        core.read_namespaced_pod_log("app", namespace, container="sidecar", previous=True)
        == "proxy crashed\n"
    )
    assert (
        core.read_namespaced_pod_log("app", namespace, container="main", tail_lines=1)
        == "listening on :8080\n"
    )
    stamped = core.read_namespaced_pod_log("app", namespace, container="main", timestamps=True)
    assert [line.split(" ", 1)[1] for line in stamped.splitlines()] == ["starting", "listening on :8080"]


def test_namespace_wide_logs_reach_deployment_pods(
    workload_plane: ControlPlane, kube: k8s.ApiClient, namespace: str
) -> None:
    core = k8s.CoreV1Api(kube)
    workload_plane.set_pod_logs(namespace, ["hello from any pod"])
    template = _pod("ignored", ["main"], labels={"app": "web"})
    utils.create_from_dict(
        kube,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": template["metadata"], "spec": template["spec"]},
            },
        },
        namespace=namespace,
    )

    def pods() -> list[str]:
        listed = core.list_namespaced_pod(namespace, label_selector="app=web").items
        return [str((p.metadata or k8s.V1ObjectMeta()).name) for p in listed]

    eventually(lambda: len(pods()) == 2, what="2 Deployment Pods")
    for name in pods():
        _running(core, namespace, name)
        assert core.read_namespaced_pod_log(name, namespace) == "hello from any pod\n"

    # A per-Pod setting wins over the namespace-wide one.
    first = pods()[0]
    workload_plane.set_pod_logs(namespace, ["just me"], pod=first)
    assert core.read_namespaced_pod_log(first, namespace) == "just me\n"


def test_pod_without_logs_set_has_none(
    workload_plane: ControlPlane, kube: k8s.ApiClient, namespace: str
) -> None:
    core = k8s.CoreV1Api(kube)
    utils.create_from_dict(kube, _pod("quiet", ["main"]), namespace=namespace)
    _running(core, namespace, "quiet")
    with pytest.raises(k8s.ApiException) as err:
        core.read_namespaced_pod_log("quiet", namespace)
    assert err.value.status == 400


def test_follow_streams_appended_lines(
    workload_plane: ControlPlane, kube: k8s.ApiClient, namespace: str
) -> None:
    core = k8s.CoreV1Api(kube)
    utils.create_from_dict(kube, _pod("tail", ["main"]), namespace=namespace)
    workload_plane.set_pod_logs(namespace, ["first"], pod="tail")
    _running(core, namespace, "tail")

    # with _preload_content=False the client returns the raw urllib3 response, not a str
    stream: Any = core.read_namespaced_pod_log(
        "tail", namespace, follow=True, _preload_content=False, _request_timeout=30
    )
    try:
        assert stream.readline() == b"first\n"
        workload_plane.append_pod_logs(namespace, ["second", "third"], pod="tail")
        assert stream.readline() == b"second\n"
        assert stream.readline() == b"third\n"
    finally:
        stream.close()

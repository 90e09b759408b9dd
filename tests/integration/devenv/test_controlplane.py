"""The control plane is real: CRDs, server-side apply with managedFields, watches, garbage
collection and namespace deletion (kube-controller-manager), and data surviving an API server
restart."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from kubernetes import client as k8s
from kubernetes import watch
from kubernetes.dynamic import DynamicClient

from ferry_devenv.controlplane import ControlPlane


def eventually(check: Callable[[], bool], *, timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.25)


def test_crd_and_custom_resource(kube: k8s.ApiClient, namespace: str) -> None:
    crd: dict[str, Any] = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.harness.ferrycd.io"},
        "spec": {
            "group": "harness.ferrycd.io",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {"size": {"type": "integer", "default": 3}},
                                }
                            },
                        }
                    },
                }
            ],
        },
    }
    crds = DynamicClient(kube).resources.get(
        api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition"
    )
    crds.create(body=crd)

    def established() -> bool:
        conditions = crds.get(name="widgets.harness.ferrycd.io").to_dict()["status"].get("conditions") or []
        return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)

    eventually(established, what="CRD Established")
    custom = k8s.CustomObjectsApi(kube)
    body = {"apiVersion": "harness.ferrycd.io/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {}}
    eventually(lambda: _create_ok(custom, namespace, body), what="custom resource accepted")
    stored = custom.get_namespaced_custom_object("harness.ferrycd.io", "v1", namespace, "widgets", "w")
    assert isinstance(stored, dict)
    assert stored["spec"] == {"size": 3}  # the structural schema's default, applied by the API server


def _create_ok(custom: k8s.CustomObjectsApi, namespace: str, body: dict[str, Any]) -> bool:
    try:
        custom.create_namespaced_custom_object("harness.ferrycd.io", "v1", namespace, "widgets", body)
    except k8s.ApiException as err:
        if err.status == 404:  # discovery not caught up with the new CRD yet
            return False
        raise
    return True


def test_server_side_apply_twice_records_managed_fields(kube: k8s.ApiClient, namespace: str) -> None:
    dynamic = DynamicClient(kube)
    configmaps = dynamic.resources.get(api_version="v1", kind="ConfigMap")
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "applied", "namespace": namespace},
        "data": {"a": "1"},
    }
    first = configmaps.server_side_apply(body=body, namespace=namespace, field_manager="ferry-test")
    body["data"] = {"a": "1", "b": "2"}
    second = configmaps.server_side_apply(body=body, namespace=namespace, field_manager="ferry-test")
    stored = second.to_dict()
    assert stored["data"] == {"a": "1", "b": "2"}
    managers = [m for m in stored["metadata"]["managedFields"] if m["manager"] == "ferry-test"]
    assert len(managers) == 1
    assert managers[0]["operation"] == "Apply"
    assert set(managers[0]["fieldsV1"]["f:data"]) == {"f:a", "f:b"}
    assert int(stored["metadata"]["resourceVersion"]) > int(first.metadata.resourceVersion)


def test_watch_sees_a_change(kube: k8s.ApiClient, namespace: str) -> None:
    core = k8s.CoreV1Api(kube)
    seen: list[tuple[str, str]] = []
    watcher = watch.Watch()

    def run() -> None:
        for event in watcher.stream(core.list_namespaced_config_map, namespace, timeout_seconds=30):
            name = event["object"].to_dict()["metadata"]["name"]
            seen.append((event["type"], name))
            if name == "watched":
                watcher.stop()

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.5)
    core.create_namespaced_config_map(
        namespace, k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="watched"), data={"k": "v"})
    )
    thread.join(35)
    assert ("ADDED", "watched") in seen


def test_garbage_collection_and_namespace_deletion(kube: k8s.ApiClient) -> None:
    core = k8s.CoreV1Api(kube)
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name="harness-gc")))
    owner = core.create_namespaced_config_map(
        "harness-gc", k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="owner"))
    ).to_dict()
    ref = k8s.V1OwnerReference(api_version="v1", kind="ConfigMap", name="owner", uid=owner["metadata"]["uid"])
    core.create_namespaced_config_map(
        "harness-gc", k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="dependent", owner_references=[ref]))
    )
    core.delete_namespaced_config_map("owner", "harness-gc")

    def dependent_gone() -> bool:
        names = {
            cm["metadata"]["name"] for cm in core.list_namespaced_config_map("harness-gc").to_dict()["items"]
        }
        return "dependent" not in names

    eventually(dependent_gone, what="garbage collector to delete the dependent")
    core.delete_namespace("harness-gc")

    def namespace_gone() -> bool:
        return "harness-gc" not in {ns["metadata"]["name"] for ns in core.list_namespace().to_dict()["items"]}

    eventually(namespace_gone, what="namespace controller to finish the deletion")


def test_api_server_restart_keeps_data(
    control_plane: ControlPlane, kube: k8s.ApiClient, namespace: str
) -> None:
    core = k8s.CoreV1Api(kube)
    core.create_namespaced_config_map(
        namespace, k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="durable"), data={"kept": "yes"})
    )
    old_pid = control_plane.processes["kube-apiserver"].pid
    control_plane.restart_apiserver()
    assert control_plane.processes["kube-apiserver"].pid != old_pid
    assert core.read_namespaced_config_map("durable", namespace).data == {"kept": "yes"}


def test_request_metrics_count_by_user_agent(control_plane: ControlPlane) -> None:
    control_plane.request("GET", "/api/v1/namespaces/default")
    assert "apiserver_request_total{" in control_plane.metrics()

"""spec.source.plugin (Argo CD's ApplicationSourcePlugin) is part of the Application CRD: the real
kube-apiserver accepts it under strict field validation and gives it back unchanged, and it survives
the conversion to the ferry.v1 contracts and back (what the API server and the CLI do)."""

from __future__ import annotations

from typing import Any

from ferry import crds
from ferry.convert import from_k8s, to_k8s
from ferry.v1 import types_pb2
from ferry_devenv.controlplane import ControlPlane
from server.argo import convert
from tests.integration.devenv.test_controlplane import eventually

GROUP, VERSION = "ferrycd.io", "v1alpha1"
CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"

PLUGIN = {
    "name": "cdk8s",
    "env": [{"name": "STAGE", "value": "prod"}, {"name": "REGION", "value": "eu-1"}],
    "parameters": [
        {"name": "replicas", "string": "3"},
        {"name": "images", "array": ["web:1", "worker:2"]},
        {"name": "labels", "map": {"team": "payments", "tier": "backend"}},
    ],
}


def _install_current_crds(plane: ControlPlane) -> None:
    """This checkout's CRDs, replacing any older ones the session's control plane holds."""
    for crd in crds.load():
        name = crd["metadata"]["name"]
        status, body = plane.request("POST", CRD_PATH, crd)
        if status == 409:
            _, live = plane.request("GET", f"{CRD_PATH}/{name}")
            version = live["metadata"]["resourceVersion"]
            replacement = {**crd, "metadata": {**crd["metadata"], "resourceVersion": version}}
            status, body = plane.request("PUT", f"{CRD_PATH}/{name}", replacement)
        assert status in (200, 201), body
    eventually(
        lambda: plane.request("GET", f"/apis/{GROUP}/{VERSION}/applications")[0] == 200,
        what="the Application CRD served",
    )


def _application(name: str, namespace: str, api_version: str = f"{GROUP}/{VERSION}") -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": "Application",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://git.example/apps.git", "path": "cdk8s", "plugin": PLUGIN},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "web"},
        },
    }


def test_plugin_source_is_accepted_strictly_and_round_trips(
    control_plane: ControlPlane, namespace: str
) -> None:
    _install_current_crds(control_plane)
    path = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/applications"
    # strict: a field the schema does not declare is refused rather than silently pruned
    status, body = control_plane.request(
        "POST", path + "?fieldValidation=Strict", _application("cmp", namespace)
    )
    assert status == 201, body
    status, stored = control_plane.request("GET", f"{path}/cmp")
    assert status == 200, stored
    assert stored["spec"]["source"]["plugin"] == PLUGIN

    message = from_k8s(stored, types_pb2.Application)
    assert message.spec.source.plugin.name == "cdk8s"
    assert message.spec.source.plugin.parameters[0].HasField("string")
    assert not message.spec.source.plugin.parameters[1].HasField("string")
    assert to_k8s(message)["spec"]["source"]["plugin"] == PLUGIN


def test_argo_application_with_a_plugin_converts_unchanged(namespace: str) -> None:
    converted, _ = convert(_application("argo-cmp", namespace, "argoproj.io/v1alpha1"), namespace)
    assert converted["spec"]["source"]["plugin"] == PLUGIN
    assert to_k8s(from_k8s(converted, types_pb2.Application))["spec"]["source"]["plugin"] == PLUGIN

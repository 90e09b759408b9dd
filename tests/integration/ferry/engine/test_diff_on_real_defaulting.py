"""The engine's diff decisions on what a real kube-apiserver stores: defaulting is not drift;
an edited replica count, a label or env var removed from Git are drift. Each decision is checked
twice: with the engine's own prediction, and with the API server's server-side dry-run apply."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.dynamic import DynamicClient

from ferry.engine.diff import CONTROLLER_MANAGER, DiffResult, diff
from tests.integration.devenv.test_controlplane import eventually


@pytest.fixture(scope="module")
def dynamic(kube: k8s.ApiClient) -> DynamicClient:
    return DynamicClient(kube)


def _resource(dynamic: DynamicClient, obj: dict[str, Any]) -> Any:
    return dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])


def apply(
    dynamic: DynamicClient, obj: dict[str, Any], namespace: str, *, dry_run: bool = False
) -> dict[str, Any]:
    extra = {"dry_run": "All"} if dry_run else {}
    result = _resource(dynamic, obj).server_side_apply(
        body=obj, namespace=namespace, field_manager=CONTROLLER_MANAGER, force_conflicts=True, **extra
    )
    stored: dict[str, Any] = result.to_dict()
    return stored


def live(dynamic: DynamicClient, obj: dict[str, Any], namespace: str) -> dict[str, Any]:
    stored: dict[str, Any] = (
        _resource(dynamic, obj).get(name=obj["metadata"]["name"], namespace=namespace).to_dict()
    )
    return stored


def decisions(
    dynamic: DynamicClient, desired: dict[str, Any], namespace: str
) -> tuple[DiffResult, DiffResult]:
    """(engine prediction, server dry-run) verdicts for ``desired`` against what is live now.

    Controllers (kube-controller-manager) may update the object between the read and the dry run;
    retry until both saw the same resourceVersion, as the controller's cache key does.
    """
    for _attempt in range(20):
        current = live(dynamic, desired, namespace)
        dry = apply(dynamic, desired, namespace, dry_run=True)
        if dry["metadata"]["resourceVersion"] == current["metadata"]["resourceVersion"]:
            return diff(desired, current), diff(desired, current, dry_run=dry)
    raise AssertionError("the object kept changing under the dry run")


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web", "tier": "front"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "nginx:1.27",
                            "env": [{"name": "MODE", "value": "prod"}, {"name": "DEBUG", "value": "0"}],
                            "resources": {
                                "requests": {"cpu": "500m", "memory": "64Mi"},
                                "limits": {"cpu": "1000m"},
                            },
                        }
                    ]
                },
            },
        },
    }


def service() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }


@pytest.mark.parametrize("make", [deployment, service], ids=["deployment", "service"])
def test_defaulted_fields_are_not_drift(dynamic: DynamicClient, namespace: str, make: Any) -> None:
    desired = make()
    stored = apply(dynamic, desired, namespace)
    # The API server really did default what the manifest leaves out.
    if desired["kind"] == "Deployment":
        assert stored["spec"]["strategy"]["type"] == "RollingUpdate"
        assert stored["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
        assert stored["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] == "1"
    else:
        assert stored["spec"]["sessionAffinity"] == "None"
    engine, server = decisions(dynamic, desired, namespace)
    assert not engine.modified, engine.diff
    assert not server.modified, server.diff


def test_changed_replica_count_is_drift(dynamic: DynamicClient, kube: k8s.ApiClient, namespace: str) -> None:
    desired = deployment()
    apply(dynamic, desired, namespace)
    k8s.AppsV1Api(kube).patch_namespaced_deployment_scale("web", namespace, {"spec": {"replicas": 5}})
    engine, server = decisions(dynamic, desired, namespace)
    assert engine.changed_paths == (".spec.replicas",)
    assert server.changed_paths == (".spec.replicas",)


def test_label_removed_from_git_is_drift(dynamic: DynamicClient, namespace: str) -> None:
    apply(dynamic, deployment(), namespace)
    desired = deployment()
    del desired["metadata"]["labels"]["tier"]
    engine, server = decisions(dynamic, desired, namespace)
    assert engine.changed_paths == (".metadata.labels.tier",)
    assert server.changed_paths == (".metadata.labels.tier",)


def test_env_var_removed_from_git_is_drift(dynamic: DynamicClient, namespace: str) -> None:
    apply(dynamic, deployment(), namespace)
    desired = deployment()
    desired["spec"]["template"]["spec"]["containers"][0]["env"].pop()
    engine, server = decisions(dynamic, desired, namespace)
    assert engine.changed_paths == (".spec.template.spec.containers[0].env",)
    assert server.changed_paths == (".spec.template.spec.containers[0].env",)


@pytest.fixture(scope="module")
def gadget_crd(dynamic: DynamicClient) -> Iterator[None]:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.diff.ferrycd.io"},
        "spec": {
            "group": "diff.ferrycd.io",
            "scope": "Namespaced",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
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
                                    "properties": {
                                        "size": {"type": "integer", "default": 3},
                                        "mode": {"type": "string", "default": "auto"},
                                        "color": {"type": "string"},
                                    },
                                }
                            },
                        }
                    },
                }
            ],
        },
    }
    crds = dynamic.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition")
    crds.create(body=crd)

    def served() -> bool:
        try:
            dynamic.resources.invalidate_cache()
            dynamic.resources.get(api_version="diff.ferrycd.io/v1", kind="Gadget")
        except Exception:
            return False
        return True

    eventually(served, what="Gadget kind discoverable")
    yield
    crds.delete(name="gadgets.diff.ferrycd.io")


def test_custom_resource_defaults_are_not_drift(
    dynamic: DynamicClient, namespace: str, gadget_crd: None
) -> None:
    desired: dict[str, Any] = {
        "apiVersion": "diff.ferrycd.io/v1",
        "kind": "Gadget",
        "metadata": {"name": "g"},
        "spec": {"color": "red"},
    }
    stored = apply(dynamic, desired, namespace)
    assert stored["spec"] == {"color": "red", "size": 3, "mode": "auto"}
    engine, server = decisions(dynamic, desired, namespace)
    assert not engine.modified, engine.diff
    assert not server.modified, server.diff
    changed = copy.deepcopy(desired)
    changed["spec"]["color"] = "blue"
    engine, server = decisions(dynamic, changed, namespace)
    assert engine.changed_paths == server.changed_paths == (".spec.color",)

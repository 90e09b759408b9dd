"""The controller removes the refresh request it served and only that one: the patch it sends,
applied by a real kube-apiserver to an object carrying the request (a ConfigMap: annotations
behave the same on every kind, and no controller acts on it meanwhile)."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client as k8s

from controller.appcontroller import clear_refresh_patch
from ferry.settings import REFRESH_ANNOTATION, REFRESH_REQUESTED_AT_ANNOTATION

OTHER = {"team": "web"}


def holder(kube: k8s.ApiClient, namespace: str, annotations: dict[str, str]) -> str:
    name = "refresh-holder"
    meta = k8s.V1ObjectMeta(name=name, annotations={**OTHER, **annotations})
    k8s.CoreV1Api(kube).create_namespaced_config_map(namespace, k8s.V1ConfigMap(metadata=meta))
    return name


def clear(kube: k8s.ApiClient, namespace: str, name: str, served: dict[str, str]) -> dict[str, str]:
    patch, patch_type = clear_refresh_patch(served)
    # the client sends a list as a JSON patch and a dict as a merge patch
    assert (patch_type == "json") == isinstance(patch, list)
    result: Any = k8s.CoreV1Api(kube).patch_namespaced_config_map(name, namespace, patch)
    return dict(result.metadata.annotations or {})


def annotations_of(kube: k8s.ApiClient, namespace: str, name: str) -> dict[str, str]:
    found: dict[str, Any] = k8s.CoreV1Api(kube).read_namespaced_config_map(name, namespace).to_dict()
    return dict(found["metadata"].get("annotations") or {})


def test_the_served_request_is_removed(kube: k8s.ApiClient, namespace: str) -> None:
    served = {REFRESH_ANNOTATION: "normal", REFRESH_REQUESTED_AT_ANNOTATION: "1700000000000"}
    name = holder(kube, namespace, served)
    assert clear(kube, namespace, name, served) == OTHER


@pytest.mark.parametrize(
    "meanwhile",
    [
        {REFRESH_REQUESTED_AT_ANNOTATION: "1700000000500"},  # a later push's webhook
        {REFRESH_ANNOTATION: "hard"},  # someone asked for a hard refresh
    ],
)
def test_a_request_made_meanwhile_stays(
    kube: k8s.ApiClient, namespace: str, meanwhile: dict[str, str]
) -> None:
    served = {REFRESH_ANNOTATION: "normal", REFRESH_REQUESTED_AT_ANNOTATION: "1700000000000"}
    name = holder(kube, namespace, {**served, **meanwhile})
    with pytest.raises(k8s.ApiException) as refused:
        clear(kube, namespace, name, served)
    assert refused.value.status == 422  # the controller's Unprocessable: left in place
    assert annotations_of(kube, namespace, name) == {**OTHER, **served, **meanwhile}


def test_a_request_without_a_time_is_removed(kube: k8s.ApiClient, namespace: str) -> None:
    served = {REFRESH_ANNOTATION: "normal"}  # kubectl annotate, as with Argo CD
    name = holder(kube, namespace, served)
    assert clear(kube, namespace, name, served) == OTHER

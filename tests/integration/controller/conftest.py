"""The controller as its own process on the session's control plane, with a real repo server."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.dynamic import DynamicClient

from ferry.engine.diff import CONTROLLER_MANAGER
from ferry.engine.tracking import with_tracking
from tests.conftest import CONTROL_NS, GROUP, VERSION, RunningServer


class Apps:
    """Applications in the control namespace, as plain dicts."""

    def __init__(self, kube: k8s.ApiClient) -> None:
        self.api = k8s.CustomObjectsApi(kube)
        self.dynamic = DynamicClient(kube)

    def create(self, name: str, repo: str, path: str, namespace: str, **spec: Any) -> dict[str, Any]:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Application",
            "metadata": {"name": name, "namespace": CONTROL_NS},
            "spec": {
                "project": "default",
                "source": {"repoURL": repo, "path": path, "targetRevision": "HEAD"},
                "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
                **spec,
            },
        }
        created = self.api.create_namespaced_custom_object(GROUP, VERSION, CONTROL_NS, "applications", body)
        assert isinstance(created, dict)
        return created

    def get(self, name: str) -> dict[str, Any]:
        app = self.api.get_namespaced_custom_object(GROUP, VERSION, CONTROL_NS, "applications", name)
        assert isinstance(app, dict)
        return app

    def items(self) -> list[dict[str, Any]]:
        result = self.api.list_namespaced_custom_object(GROUP, VERSION, CONTROL_NS, "applications")
        assert isinstance(result, dict)
        return list(result["items"])

    def patch(self, name: str, patch: dict[str, Any]) -> None:
        self.api.patch_namespaced_custom_object(GROUP, VERSION, CONTROL_NS, "applications", name, patch)

    def delete(self, name: str) -> None:
        self.api.delete_namespaced_custom_object(GROUP, VERSION, CONTROL_NS, "applications", name)

    def wait(
        self, name: str, check: Callable[[dict[str, Any]], bool], *, timeout: float = 60, what: str = ""
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        app: dict[str, Any] = {}
        while time.monotonic() < deadline:
            app = self.get(name)
            if check(app):
                return app
            time.sleep(0.25)
        raise AssertionError(
            f"application {name}: timed out waiting for {what or 'condition'}; status: {app.get('status')}"
        )

    def apply_as_ferry(self, app: str, manifests: list[dict[str, Any]], namespace: str) -> None:
        """What a sync by ferry leaves behind: tracked objects applied by ferry's field manager."""
        for manifest in manifests:
            obj = with_tracking(
                {**manifest, "metadata": {**manifest["metadata"], "namespace": namespace}}, app
            )
            resource = self.dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
            resource.server_side_apply(
                body=obj, namespace=namespace, field_manager=CONTROLLER_MANAGER, force_conflicts=True
            )


@contextlib.contextmanager
def app_project(kube: k8s.ApiClient, name: str, spec: dict[str, Any]) -> Iterator[str]:
    """An AppProject in the control namespace for the duration of the block; yields its name."""
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "AppProject",
        "metadata": {"name": name, "namespace": CONTROL_NS},
        "spec": spec,
    }
    api = k8s.CustomObjectsApi(kube)
    api.create_namespaced_custom_object(GROUP, VERSION, CONTROL_NS, "appprojects", body)
    try:
        yield name
    finally:
        api.delete_namespaced_custom_object(GROUP, VERSION, CONTROL_NS, "appprojects", name)


@contextlib.contextmanager
def ferry_cm_setting(kube: k8s.ApiClient, key: str, value: str) -> Iterator[None]:
    """ferry-cm's ``key`` set to ``value`` for the duration of the block (ferry-cm made if missing)."""
    core = k8s.CoreV1Api(kube)
    try:
        core.patch_namespaced_config_map("ferry-cm", CONTROL_NS, {"data": {key: value}})
        created = False
    except k8s.ApiException as err:
        if err.status != 404:
            raise
        body = k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="ferry-cm"), data={key: value})
        core.create_namespaced_config_map(CONTROL_NS, body)
        created = True
    try:
        yield
    finally:
        if created:
            core.delete_namespaced_config_map("ferry-cm", CONTROL_NS)
        else:
            core.patch_namespaced_config_map("ferry-cm", CONTROL_NS, {"data": {key: None}})


@pytest.fixture
def apps(kube: k8s.ApiClient, controller_process: RunningServer) -> Apps:
    return Apps(kube)


def sync_status(app: dict[str, Any]) -> str:
    return str(((app.get("status") or {}).get("sync") or {}).get("status", ""))


def health_status(app: dict[str, Any]) -> str:
    return str(((app.get("status") or {}).get("health") or {}).get("status", ""))


def request_sync(apps: Apps, name: str, **sync: Any) -> None:
    apps.patch(name, {"operation": {"sync": sync, "initiatedBy": {"username": "test"}}})


def operation_phase(app: dict[str, Any]) -> str:
    return str(((app.get("status") or {}).get("operationState") or {}).get("phase", ""))


def wait_operation(apps: Apps, name: str, *, timeout: float = 90) -> dict[str, Any]:
    """Waits until the app's operation ended; returns the app."""
    return apps.wait(
        name,
        lambda a: not a.get("operation") and operation_phase(a) in ("Succeeded", "Failed", "Error"),
        timeout=timeout,
        what="operation to finish",
    )


def wait_periodic_refreshes(
    controller: RunningServer, apps: Apps, rounds: int, *, timeout: float = 120
) -> None:
    """Waits until the controller has reconciled ``rounds`` times as often as it has apps
    (ferry_app_reconcile_count, all apps together): each app is refreshed once per resync period,
    so that is ``rounds`` periodic refreshes of each. A quiet period ("nothing happens during N
    refreshes") is counted this way, not timed: a loaded machine only makes it last longer."""
    wanted = rounds * max(1, len(apps.items()))
    start = controller.metric("ferry_app_reconcile_count")
    deadline = time.monotonic() + timeout
    while (done := controller.metric("ferry_app_reconcile_count") - start) < wanted:
        assert time.monotonic() < deadline, f"{done:g} of {wanted} reconciles in {timeout:g} s"
        time.sleep(0.2)

"""Fixtures of the notifications controller tests: the CRDs on the real control plane, a
namespace with ferry-notifications-cm / -secret, Applications whose status the tests write (the
notifications controller only reads status, so the tests play the application controller), and
ferry-notifications-controller processes."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ferry import crds
from ferry_devenv.controlplane import ControlPlane
from ferry_devenv.process import new_workdir
from tests.conftest import RunningServer, start_ferry_process
from tests.integration.devenv.test_controlplane import eventually

GROUP, VERSION = "ferrycd.io", "v1alpha1"
CATALOG = Path(__file__).parent / "catalog.yaml"


@pytest.fixture(scope="session")
def app_crds(control_plane: ControlPlane) -> None:
    for crd in crds.load():
        status, body = control_plane.request(
            "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd
        )
        assert status in (201, 409), body
    eventually(
        lambda: (
            control_plane.request("GET", f"/apis/{GROUP}/{VERSION}")[0] == 200
            and all(
                control_plane.request("GET", f"/apis/{GROUP}/{VERSION}/{plural}")[0] == 200
                for plural in ("applications", "appprojects")
            )
        ),
        what="the ferrycd.io CRDs served",
    )


class Cluster:
    """Writes and reads the objects of one test namespace through the real API server."""

    def __init__(self, plane: ControlPlane, namespace: str) -> None:
        self.plane = plane
        self.ns = namespace

    def _check(self, result: tuple[int, Any], *ok: int) -> Any:
        status, body = result
        assert status in (ok or (200, 201)), body
        return body

    def apply_settings(self, data: dict[str, str], secret: dict[str, str]) -> None:
        cm: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "ferry-notifications-cm"},
            "data": data,
        }
        sec: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "ferry-notifications-secret"},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in secret.items()},
        }
        for path, obj in (
            (f"/api/v1/namespaces/{self.ns}/configmaps", cm),
            (f"/api/v1/namespaces/{self.ns}/secrets", sec),
        ):
            name = obj["metadata"]["name"]
            if self.plane.request("GET", f"{path}/{name}")[0] == 200:
                self._check(self.plane.request("PUT", f"{path}/{name}", obj))
            else:
                self._check(self.plane.request("POST", path, obj))

    def app_path(self, name: str = "") -> str:
        base = f"/apis/{GROUP}/{VERSION}/namespaces/{self.ns}/applications"
        return f"{base}/{name}" if name else base

    def create_app(
        self, name: str, annotations: dict[str, str], *, project: str = "default"
    ) -> dict[str, Any]:
        app = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Application",
            "metadata": {"name": name, "annotations": annotations},
            "spec": {
                "project": project,
                "source": {
                    "repoURL": "https://github.com/example/apps.git",
                    "path": "guestbook",
                    "targetRevision": "HEAD",
                },
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "guestbook"},
            },
        }
        return dict(self._check(self.plane.request("POST", self.app_path(), app)))

    def create_project(self, name: str, annotations: dict[str, str]) -> None:
        project = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "AppProject",
            "metadata": {"name": name, "annotations": annotations},
            "spec": {"sourceRepos": ["*"], "destinations": [{"server": "*", "namespace": "*"}]},
        }
        self._check(
            self.plane.request("POST", f"/apis/{GROUP}/{VERSION}/namespaces/{self.ns}/appprojects", project)
        )

    def set_status(self, name: str, status: dict[str, Any]) -> None:
        self._check(
            self.plane.request(
                "PATCH",
                self.app_path(name) + "/status",
                {"status": status},
                content_type="application/merge-patch+json",
            )
        )

    def app(self, name: str) -> dict[str, Any]:
        return dict(self._check(self.plane.request("GET", self.app_path(name))))

    def notified(self, name: str) -> dict[str, int]:
        raw = ((self.app(name).get("metadata") or {}).get("annotations") or {}).get(
            "notified.notifications.ferrycd.io"
        )
        return dict(json.loads(raw)) if raw else {}

    def events(self, reason: str = "") -> list[dict[str, Any]]:
        body = self._check(self.plane.request("GET", f"/api/v1/namespaces/{self.ns}/events"))
        items = body.get("items") or []
        return [e for e in items if not reason or e.get("reason") == reason]


@pytest.fixture
def cluster(control_plane: ControlPlane, app_crds: None, namespace: str) -> Cluster:
    return Cluster(control_plane, namespace)


NotifierFactory = Callable[..., RunningServer]


@pytest.fixture
def notifier(control_plane: ControlPlane, namespace: str) -> Iterator[NotifierFactory]:
    started: list[RunningServer] = []

    def start(*extra: str, identity: str = "") -> RunningServer:
        args = [
            "--kubeconfig",
            str(control_plane.kubeconfig),
            "--namespace",
            namespace,
            "--resync-seconds",
            "0.5",
            "--retry-initial-seconds",
            "0.2",
            "--retry-max-seconds",
            "1",
            "--lease-duration",
            "6",
            "--lease-renew-period",
            "1",
            "--loglevel",
            "debug",
            *(["--identity", identity] if identity else []),
            *extra,
        ]
        server = start_ferry_process("ferry-notifications-controller", args)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def catalog() -> dict[str, str]:
    """Argo CD's notification catalog (notifications_catalog/install.yaml), unchanged."""
    data: dict[str, str] = yaml.safe_load(CATALOG.read_text())["data"]
    return data


def wait_for(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    eventually(check, timeout=timeout, what=what)


def settle(seconds: float = 3.0) -> None:
    """Lets several resync periods (0.5 s) pass, to show that nothing more happens."""
    time.sleep(seconds)


__all__ = ["Cluster", "catalog", "new_workdir", "settle", "wait_for"]

"""The conformance harness: sync scenarios modelled on Argo CD's own e2e tests, run against the
workload tier (kube-apiserver + kube-controller-manager + kube-scheduler + kwok) with the
session's ferry-controller, repo server and API server — one controller and one plane for every
scenario, so the suite stays cheap.

Each scenario asserts, separately: the operation's final phase and message, the order in which
the controller wrote objects (from the API server's audit log, by user agent), and the app's
health. Nothing sleeps to assume: every wait is for a condition, with a deadline.

Health that a test must steer comes from a small CRD of the suite's own, ``Gauge``
(conformance.ferrycd.io): a ``ferry-cm`` Lua rule reads ``status.health`` (else ``spec.health``,
else Healthy), so a scenario says in Git, or by patching the status, whether an object is
Progressing, Healthy or Degraded — no timing involved.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes import watch as k8s_watch

from ferry_devenv.controlplane import ControlPlane
from ferry_devenv.gitrepo import GitRepo
from tests.conftest import CONTROL_NS, GROUP, VERSION, RunningServer
from tests.integration.controller.conftest import Apps

GAUGE_GROUP = "conformance.ferrycd.io"
GAUGE_API = f"{GAUGE_GROUP}/v1"
GAUGE_HEALTH_KEY = f"resource.customizations.health.{GAUGE_GROUP}_Gauge"
GAUGE_HEALTH = """
hs = {status = "Healthy", message = ""}
if obj.status ~= nil and obj.status.health ~= nil then
  hs.status = obj.status.health
  hs.message = "status says " .. obj.status.health
elseif obj.spec ~= nil and obj.spec.health ~= nil then
  hs.status = obj.spec.health
  hs.message = "spec says " .. obj.spec.health
end
return hs
"""
GAUGE_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"gauges.{GAUGE_GROUP}"},
    "spec": {
        "group": GAUGE_GROUP,
        "scope": "Namespaced",
        "names": {"plural": "gauges", "singular": "gauge", "kind": "Gauge"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                },
            }
        ],
    },
}
# Argo CD's documented script restoring a health check for child Applications (health.md).
APPLICATION_HEALTH_KEY = "resource.customizations.health.ferrycd.io_Application"
APPLICATION_HEALTH = """
hs = {}
hs.status = "Progressing"
hs.message = ""
if obj.status ~= nil then
  if obj.status.health ~= nil then
    hs.status = obj.status.health.status
    if obj.status.health.message ~= nil then
      hs.message = obj.status.health.message
    end
  end
end
return hs
"""
WAVE = "argocd.argoproj.io/sync-wave"
HOOK = "argocd.argoproj.io/hook"
DELETE_POLICY = "argocd.argoproj.io/hook-delete-policy"
OPTIONS = "argocd.argoproj.io/sync-options"
WRITES = frozenset({"create", "patch", "update", "delete"})


# --- manifests -------------------------------------------------------------------------------------


def gauge(name: str, health: str = "Healthy", **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": GAUGE_API,
        "kind": "Gauge",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"health": health},
    }


def cm(name: str, **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "annotations": annotations},
        "data": {"name": name},
    }


def job(
    name: str, hook: str, *, fail: bool = False, annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    labels = {"ferrycd.io/test-fail": "true"} if fail else {}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "annotations": {HOOK: hook, **(annotations or {})}},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": labels},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]},
            },
        },
    }


def deployment(name: str, *, failing: bool = False, **spec: Any) -> dict[str, Any]:
    labels = {"app": name, **({"ferrycd.io/test-fail": "true"} if failing else {})}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
            **spec,
        },
    }


# --- reading what happened -------------------------------------------------------------------------


def operation(app: dict[str, Any]) -> dict[str, Any]:
    return dict((app.get("status") or {}).get("operationState") or {})


def phase(app: dict[str, Any]) -> str:
    return str(operation(app).get("phase", ""))


def message(app: dict[str, Any]) -> str:
    return str(operation(app).get("message", ""))


def health(app: dict[str, Any]) -> str:
    return str(((app.get("status") or {}).get("health") or {}).get("status", ""))


def sync_status(app: dict[str, Any]) -> str:
    return str(((app.get("status") or {}).get("sync") or {}).get("status", ""))


def results(app: dict[str, Any]) -> list[dict[str, Any]]:
    return list((operation(app).get("syncResult") or {}).get("resources") or [])


def result(app: dict[str, Any], name: str, kind: str = "") -> dict[str, Any]:
    found = [r for r in results(app) if r["name"] == name and (not kind or r["kind"] == kind)]
    assert len(found) == 1, f"{kind}/{name} in {results(app)}"
    return found[0]


def conditions(app: dict[str, Any], kind: str) -> list[str]:
    return [
        str(c.get("message", ""))
        for c in (app.get("status") or {}).get("conditions") or []
        if c.get("type") == kind
    ]


DONE = ("Succeeded", "Failed", "Error")


def carries(app: dict[str, Any], token: str) -> bool:
    """Whether the app's recorded operation is the one requested with ``token``."""
    info = (operation(app).get("operation") or {}).get("info") or []
    return any(i.get("value") == token for i in info)


def stamp(value: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Write:
    """One write of the controller, as the API server's audit log recorded it."""

    verb: str
    resource: str
    namespace: str
    name: str
    subresource: str
    at: datetime.datetime
    uri: str

    @property
    def what(self) -> tuple[str, str, str]:
        return (self.verb, self.resource, self.name)

    @property
    def is_apply(self) -> bool:
        """A server-side apply (not a merge patch such as auto-sync's ``operation`` request)."""
        return self.verb == "patch" and "fieldManager=" in self.uri


class Audit:
    """The controller's writes since a point in the audit log (read from there on, not again)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0

    def writes(self, *namespaces: str) -> list[Write]:
        """Non-dry-run writes of the controller to objects in these namespaces (and cluster-scoped
        ones), in the order the API server received them."""
        found = []
        with self.path.open(errors="replace") as handle:
            handle.seek(self.offset)
            for line in handle:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                ref = event.get("objectRef") or {}
                if (
                    event.get("stage") != "ResponseComplete"
                    or event.get("verb") not in WRITES
                    or not str(event.get("userAgent", "")).startswith("ferry-controller")
                    or "dryRun=All" in str(event.get("requestURI", ""))
                    or ref.get("namespace", "") not in (*namespaces, "")
                    or int((event.get("responseStatus") or {}).get("code", 0)) >= 400
                ):
                    continue
                found.append(
                    Write(
                        str(event["verb"]),
                        str(ref.get("resource", "")),
                        str(ref.get("namespace", "")),
                        str(ref.get("name", "")),
                        str(ref.get("subresource", "")),
                        stamp(str(event["requestReceivedTimestamp"])),
                        str(event.get("requestURI", "")),
                    )
                )
        return sorted(found, key=lambda w: w.at)

    def applied(self, *namespaces: str) -> list[tuple[str, str, str]]:
        """(verb, resource, name) of the writes to objects (not their status), in order."""
        return [w.what for w in self.writes(*namespaces) if not w.subresource]


# --- the harness -----------------------------------------------------------------------------------


@dataclass
class Scenario:
    """One scenario's namespace, repositories and apps (cleaned up afterwards)."""

    harness: Harness
    namespace: str
    apps: list[str] = field(default_factory=list)
    repos: list[GitRepo] = field(default_factory=list)

    def repo(self, files: dict[str, list[dict[str, Any]]]) -> GitRepo:
        """A repository with one directory per key, holding those manifests."""
        digest = hashlib.sha1(f"{self.namespace}-{len(self.repos)}".encode()).hexdigest()[:8]  # noqa: S324
        repo = GitRepo(self.harness.git_root, f"conformance-{digest}")
        repo.commit(
            "manifests", {f"{path}/all.yaml": yaml.safe_dump_all(items) for path, items in files.items()}
        )
        self.repos.append(repo)
        return repo

    def commit(self, repo: GitRepo, path: str, items: list[dict[str, Any]]) -> str:
        return repo.commit("change", {f"{path}/all.yaml": yaml.safe_dump_all(items)})

    def app(self, name: str, manifests: list[dict[str, Any]], **spec: Any) -> tuple[str, GitRepo]:
        """An app ``name`` (made unique for the scenario) over a fresh repo with ``manifests``."""
        repo = self.repo({"app": manifests})
        return self.app_on(name, repo, "app", **spec), repo

    def app_on(self, name: str, repo: GitRepo, path: str, *, namespace: str = "", **spec: Any) -> str:
        unique = f"{name}-{self.namespace[-5:]}"
        self.harness.apps.create(unique, f"file://{repo.bare}", path, namespace or self.namespace, **spec)
        self.apps.append(unique)
        return unique

    def sync(self, name: str, *, retry: dict[str, Any] | None = None, **sync: Any) -> str:
        """Requests a sync, as ``ferry app sync`` / the API's Sync write it; returns a token the
        operation carries (in ``info``), to tell this operation from earlier ones."""
        token = uuid.uuid4().hex[:12]
        operation: dict[str, Any] = {
            "sync": sync,
            "initiatedBy": {"username": "conformance"},
            "info": [{"name": "request", "value": token}],
        }
        if retry:
            operation["retry"] = retry
        self.harness.apps.patch(name, {"operation": operation})
        return token

    def get(self, name: str) -> dict[str, Any]:
        return self.harness.apps.get(name)

    def wait(
        self, name: str, check: Callable[[dict[str, Any]], bool], *, timeout: float = 90, what: str = ""
    ) -> dict[str, Any]:
        return self.harness.apps.wait(name, check, timeout=timeout, what=what)

    def finished(self, name: str, token: str = "", *, timeout: float = 120) -> dict[str, Any]:
        """Waits until the app's operation (the one requested with ``token``) has ended — it
        must end: that is the point."""
        return self.wait(
            name,
            lambda a: not a.get("operation") and phase(a) in DONE and (not token or carries(a, token)),
            timeout=timeout,
            what="the operation to end",
        )

    def running(self, name: str, text: str, *, timeout: float = 90) -> dict[str, Any]:
        return self.wait(
            name,
            lambda a: phase(a) == "Running" and text in message(a),
            timeout=timeout,
            what=f"Running: {text}",
        )

    def sync_and_finish(self, name: str, *, timeout: float = 120, **sync: Any) -> dict[str, Any]:
        return self.finished(name, self.sync(name, **sync), timeout=timeout)

    def gone(self, name: str, *, timeout: float = 120) -> None:
        """Waits until the application no longer exists."""
        deadline = time.monotonic() + timeout
        while self.exists("applications", name, CONTROL_NS):
            if time.monotonic() > deadline:
                raise AssertionError(f"application {name} still exists: {self.get(name).get('status')}")
            time.sleep(0.25)

    def health_is(self, name: str, status: str) -> dict[str, Any]:
        """Waits until the app's health (not the operation's result) is ``status``."""
        return self.wait(name, lambda a: health(a) == status, what=f"app health {status}")

    def synced(self, name: str) -> dict[str, Any]:
        return self.wait(name, lambda a: sync_status(a) == "Synced", what="Synced")

    def refresh(self, name: str, repo: GitRepo) -> dict[str, Any]:
        """Makes the controller see the repo's newest commit."""
        head = repo.head()
        self.harness.apps.patch(name, {"metadata": {"annotations": {"ferrycd.io/refresh": "normal"}}})
        return self.wait(
            name,
            lambda a: ((a.get("status") or {}).get("sync") or {}).get("revision") == head,
            what="new commit",
        )

    @contextlib.contextmanager
    def operation_messages(self, name: str) -> Iterator[list[str]]:
        """Every operation message the app's status carries while the block runs, in order. Read
        from a watch of the app (one event per status write), never by polling, so a message shown
        for a moment on a loaded machine is not missed."""
        seen: list[str] = []
        api = self.custom()
        listed: Any = api.list_namespaced_custom_object(
            GROUP, VERSION, CONTROL_NS, "applications", field_selector=f"metadata.name={name}"
        )
        position = {"version": str(listed["metadata"]["resourceVersion"])}
        stopping = threading.Event()

        def record() -> None:
            while not stopping.is_set():
                stream = k8s_watch.Watch()
                for event in stream.stream(
                    api.list_namespaced_custom_object,
                    GROUP,
                    VERSION,
                    CONTROL_NS,
                    "applications",
                    field_selector=f"metadata.name={name}",
                    resource_version=position["version"],
                    timeout_seconds=5,  # a fresh watch every 5 s lets the block's end stop it
                ):
                    obj = event["object"]
                    if event["type"] == "ERROR" or not isinstance(obj, dict):
                        continue
                    position["version"] = str(obj["metadata"]["resourceVersion"])
                    text = message(obj)
                    if text and (not seen or seen[-1] != text):
                        seen.append(text)
                    if stopping.is_set():
                        stream.stop()

        recorder = threading.Thread(target=record, name=f"messages-{name}", daemon=True)
        recorder.start()
        try:
            yield seen
        finally:
            stopping.set()
            recorder.join(timeout=15)

    def audit(self) -> Audit:
        return Audit(self.harness.plane.audit_log)

    def core(self) -> k8s.CoreV1Api:
        return k8s.CoreV1Api(self.harness.kube)

    def custom(self) -> k8s.CustomObjectsApi:
        return k8s.CustomObjectsApi(self.harness.kube)

    def set_gauge_status(self, name: str, value: str) -> None:
        self.custom().patch_namespaced_custom_object_status(
            GAUGE_GROUP, "v1", self.namespace, "gauges", name, {"status": {"health": value}}
        )

    def exists(self, resource: str, name: str, namespace: str | None = None) -> bool:
        status, _ = self.harness.plane.request("GET", _path(resource, namespace or self.namespace, name))
        return status == 200

    def cleanup(self) -> None:
        api = self.custom()
        for name in reversed(self.apps):
            with contextlib.suppress(k8s.ApiException):
                api.patch_namespaced_custom_object(
                    GROUP, VERSION, CONTROL_NS, "applications", name, {"metadata": {"finalizers": None}}
                )
            with contextlib.suppress(k8s.ApiException):
                api.delete_namespaced_custom_object(GROUP, VERSION, CONTROL_NS, "applications", name)
        for repo in self.repos:
            repo.cleanup()


def _path(resource: str, namespace: str, name: str) -> str:
    core = {"configmaps", "services", "pods", "namespaces"}
    group = {
        "jobs": "/apis/batch/v1",
        "deployments": "/apis/apps/v1",
        "ingresses": "/apis/networking.k8s.io/v1",
        "gauges": f"/apis/{GAUGE_API}",
        "customresourcedefinitions": "/apis/apiextensions.k8s.io/v1",
        "applications": f"/apis/{GROUP}/{VERSION}",
    }
    prefix = "/api/v1" if resource in core else group[resource]
    if resource in ("namespaces", "customresourcedefinitions"):
        return f"{prefix}/{resource}/{name}"
    return f"{prefix}/namespaces/{namespace}/{resource}/{name}"


@dataclass
class Harness:
    plane: ControlPlane
    kube: k8s.ApiClient
    apps: Apps
    git_root: Path
    controller: RunningServer
    server: RunningServer

    def set_settings(self, data: dict[str, str | None]) -> None:
        """Merges keys into ferry-cm (None removes one)."""
        k8s.CoreV1Api(self.kube).patch_namespaced_config_map("ferry-cm", CONTROL_NS, {"data": data})


@pytest.fixture(scope="session")
def harness(
    workload_plane: ControlPlane,
    kube: k8s.ApiClient,
    git_root: Path,
    controller_process: RunningServer,
    server_process: RunningServer,  # started first: it writes ferry-cm, which the harness extends
) -> Iterator[Harness]:
    status, body = workload_plane.request(
        "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", GAUGE_CRD
    )
    assert status in (201, 409), body
    deadline = time.monotonic() + 60
    while workload_plane.request("GET", f"/apis/{GAUGE_API}")[0] != 200:
        assert time.monotonic() < deadline, "the Gauge CRD was never served"
        time.sleep(0.2)
    made = Harness(workload_plane, kube, Apps(kube), git_root, controller_process, server_process)
    made.set_settings({GAUGE_HEALTH_KEY: GAUGE_HEALTH})
    _wait_for_gauge_rule(made)
    yield made
    made.set_settings({GAUGE_HEALTH_KEY: None})


def _wait_for_gauge_rule(harness: Harness) -> None:
    """Until the controller judges Gauges by the suite's rule: an app of one Degraded Gauge is
    Degraded (the controller reads ferry-cm through a watch; this is its visible effect)."""
    core = k8s.CoreV1Api(harness.kube)
    namespace = f"conformance-probe-{uuid.uuid4().hex[:6]}"
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=namespace)))
    probe = Scenario(harness, namespace)
    try:
        name, _ = probe.app("probe", [gauge("probe", "Degraded")], syncPolicy={"automated": {}})
        probe.wait(name, lambda a: health(a) == "Degraded", what="the Gauge health rule in use")
    finally:
        probe.cleanup()
        core.delete_namespace(namespace)


@pytest.fixture
def scenario(harness: Harness, namespace: str) -> Iterator[Scenario]:
    made = Scenario(harness, namespace)
    yield made
    made.cleanup()

"""Sync windows on the real control plane: a project's always-open deny window holds back an
auto-sync (the app's condition names the window) and a manual operation (Running, its message
naming the window); removing the window, or letting manual syncs through it, lets them run — the
project change wakes the app, nothing polls. The sync timeout still ends a held operation on
time."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from ferry_devenv.gitrepo import GitRepo
from tests.conftest import CONTROL_NS, GROUP, VERSION
from tests.integration.controller.conftest import (
    Apps,
    app_project,
    ferry_cm_setting,
    operation_phase,
    request_sync,
    sync_status,
)
from tests.integration.controller.test_sync import cm, configmaps

ALWAYS_DENY = {"kind": "deny", "schedule": "* * * * *", "duration": "24h", "applications": ["*"]}
BLOCKED = "Sync is blocked by sync window deny:* * * * *:24h"


class Project:
    def __init__(self, kube: k8s.ApiClient, name: str) -> None:
        self.api = k8s.CustomObjectsApi(kube)
        self.name = name

    def set_windows(self, windows: list[dict[str, Any]]) -> None:
        self.api.patch_namespaced_custom_object(
            GROUP, VERSION, CONTROL_NS, "appprojects", self.name, {"spec": {"syncWindows": windows}}
        )


@pytest.fixture
def project(kube: k8s.ApiClient) -> Iterator[Project]:
    spec = {
        "sourceRepos": ["*"],
        "destinations": [{"server": "*", "namespace": "*"}],
        "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
        "syncWindows": [ALWAYS_DENY],
    }
    with app_project(kube, f"windows-{uuid.uuid4().hex[:6]}", spec) as name:
        yield Project(kube, name)


def window_condition(app: dict[str, Any]) -> str:
    found = [
        c["message"]
        for c in (app.get("status") or {}).get("conditions") or []
        if c["type"] == "SyncWindowWarning"
    ]
    return found[0] if found else ""


def make_app(apps: Apps, git_repo: Callable[[str], GitRepo], name: str, namespace: str, **spec: Any) -> str:
    repo = git_repo(name)
    repo.commit("app", {"app/all.yaml": yaml.safe_dump_all([cm(f"{name}-cm")])})
    apps.create(name, f"file://{repo.bare}", "app", namespace, **spec)
    return name


def test_a_deny_window_blocks_auto_sync_until_it_is_removed(
    apps: Apps, project: Project, git_repo: Callable[[str], GitRepo], kube: k8s.ApiClient, namespace: str
) -> None:
    name = make_app(
        apps, git_repo, f"held-{namespace}", namespace, project=project.name, syncPolicy={"automated": {}}
    )
    app = apps.wait(name, lambda a: bool(window_condition(a)), what="the sync window condition")
    # the reconcile that would have started the auto-sync wrote the condition instead
    assert window_condition(app).startswith(BLOCKED + "; auto-sync waits for the windows to change at ")
    assert sync_status(app) == "OutOfSync"
    assert not app.get("operation")
    assert not (app.get("status") or {}).get("operationState")
    assert f"{name}-cm" not in configmaps(kube, namespace)

    project.set_windows([])
    app = apps.wait(
        name, lambda a: sync_status(a) == "Synced" and operation_phase(a) == "Succeeded", what="auto-synced"
    )
    assert window_condition(app) == ""
    assert f"{name}-cm" in configmaps(kube, namespace)


def test_a_manual_operation_waits_in_a_deny_window_until_it_allows_manual_syncs(
    apps: Apps, project: Project, git_repo: Callable[[str], GitRepo], kube: k8s.ApiClient, namespace: str
) -> None:
    name = make_app(apps, git_repo, f"manual-{namespace}", namespace, project=project.name)
    apps.wait(name, lambda a: sync_status(a) == "OutOfSync", what="compared")
    request_sync(apps, name)  # written around the API server (which refuses it): the controller holds it
    app = apps.wait(
        name,
        lambda a: (
            ((a.get("status") or {}).get("operationState") or {})
            .get("message", "")
            .startswith("Sync operation blocked by sync window")
        ),
        what="the operation held by the window",
    )
    state = app["status"]["operationState"]
    assert state["phase"] == "Running"
    assert state["message"] == "Sync operation blocked by sync window: deny:* * * * *:24h"
    assert f"{name}-cm" not in configmaps(kube, namespace)

    project.set_windows([{**ALWAYS_DENY, "manualSync": True}])
    app = apps.wait(name, lambda a: operation_phase(a) == "Succeeded", what="the manual sync to run")
    assert f"{name}-cm" in configmaps(kube, namespace)


def sync_timeout(kube: k8s.ApiClient, seconds: str) -> contextlib.AbstractContextManager[None]:
    """ferry-cm's controller.sync.timeout.seconds for the duration of the block."""
    return ferry_cm_setting(kube, "controller.sync.timeout.seconds", seconds)


def test_the_sync_timeout_ends_an_operation_a_window_holds_on_time(
    apps: Apps, project: Project, git_repo: Callable[[str], GitRepo], kube: k8s.ApiClient, namespace: str
) -> None:
    # the window's next edge is weeks away: only the timeout can end the held operation soon
    name = make_app(apps, git_repo, f"timeout-{namespace}", namespace, project=project.name)
    apps.wait(name, lambda a: sync_status(a) == "OutOfSync", what="compared")
    with sync_timeout(kube, "2"):
        request_sync(apps, name)
        app = apps.wait(name, lambda a: operation_phase(a) == "Failed", what="the held operation to time out")
    state = app["status"]["operationState"]
    assert state["message"] == "Operation terminated, triggered by controller sync timeout (2s)"
    assert f"{name}-cm" not in configmaps(kube, namespace)

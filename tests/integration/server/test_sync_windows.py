"""Sync windows through the API: a project with a window ferry cannot read is refused
(INVALID_ARGUMENT naming the window and the fix), a good one round-trips with Argo CD's field
names, a manual sync a window blocks is refused (PERMISSION_DENIED, Argo CD's words) until the
window allows manual syncs, and GetApplicationSyncWindows (gRPC and REST) says which windows apply
and whether they let the app sync."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import grpc
from kubernetes import client as k8s

from ferry.v1 import application_pb2, project_pb2, types_pb2
from ferry_devenv.gitrepo import GitRepo
from tests.integration.reposerver.conftest import status_of
from tests.integration.server.conftest import Api, admin_password
from tests.integration.server.test_management import cm_repo
from tests.integration.server.test_smoke import app_message


def project_with(name: str, *windows: types_pb2.SyncWindow) -> types_pb2.AppProject:
    return types_pb2.AppProject(
        metadata=types_pb2.ObjectMeta(name=name),
        spec=types_pb2.AppProjectSpec(
            source_repos=["*"],
            destinations=[types_pb2.ApplicationDestination(server="*", namespace="*")],
            sync_windows=list(windows),
        ),
    )


def always_deny(*, manual_sync: bool = False) -> types_pb2.SyncWindow:
    return types_pb2.SyncWindow(
        kind="deny", schedule="* * * * *", duration="24h", applications=["*"], manual_sync=manual_sync
    )


def test_bad_windows_are_refused_and_good_ones_kept(admin: Api) -> None:
    name = f"windows-{uuid.uuid4().hex[:6]}"
    bad = types_pb2.SyncWindow(kind="deny", schedule="every night", duration="3600", applications=["*"])
    code, message = status_of(
        lambda: admin.call(
            "projects", "Create", project_pb2.ProjectCreateRequest(project=project_with(name, bad))
        )
    )
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert "project.spec.syncWindows[0]: cannot parse schedule 'every night'" in message

    good = types_pb2.SyncWindow(
        kind="allow",
        schedule="0 22 * * 1-5",
        duration="1h30m",
        namespaces=["prod-*"],
        manual_sync=True,
        time_zone="Europe/Amsterdam",
        and_operator=True,
    )
    admin.call("projects", "Create", project_pb2.ProjectCreateRequest(project=project_with(name, good)))
    stored = admin.call("projects", "Get", project_pb2.ProjectQuery(name=name))
    assert list(stored.spec.sync_windows) == [good]

    update = project_with(name, good, types_pb2.SyncWindow(kind="block", schedule="0 1 * * *", duration="1h"))
    code, message = status_of(
        lambda: admin.call("projects", "Update", project_pb2.ProjectUpdateRequest(project=update))
    )
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert message == "project.spec.syncWindows[1]: kind 'block' mismatch: can only be allow or deny"
    admin.call("projects", "Delete", project_pb2.ProjectQuery(name=name))


def test_a_manual_sync_a_window_blocks_is_refused_until_it_allows_manual_syncs(
    admin: Api, rest: Any, kube: k8s.ApiClient, git_repo: Callable[[str], GitRepo], namespace: str
) -> None:
    project = f"windows-{uuid.uuid4().hex[:6]}"
    other = types_pb2.SyncWindow(kind="deny", schedule="0 1 * * *", duration="1h", applications=["other-*"])
    created = project_with(project, always_deny(), other)
    admin.call("projects", "Create", project_pb2.ProjectCreateRequest(project=created))
    app = app_message(f"held-{namespace}", cm_repo(git_repo, f"held-{namespace}"), namespace)
    app.spec.project = project
    admin.call("apps", "Create", application_pb2.ApplicationCreateRequest(application=app))
    name = app.metadata.name
    sync = application_pb2.ApplicationSyncRequest(name=name)

    code, message = status_of(lambda: admin.call("apps", "Sync", sync))
    assert code is grpc.StatusCode.PERMISSION_DENIED
    assert message == "Cannot sync: Blocked by sync window deny:* * * * *:24h"
    windows = admin.call(
        "apps", "GetApplicationSyncWindows", application_pb2.ApplicationSyncWindowsQuery(name=name)
    )
    assert list(windows.assigned_windows) == [always_deny()]  # not the window of other-* apps
    assert list(windows.active_windows) == [always_deny()]
    assert (windows.can_sync, windows.can_auto_sync) == (False, False)
    assert windows.blocked_by == "deny:* * * * *:24h"
    assert windows.next_change > "2026-"

    allowing = project_with(project, always_deny(manual_sync=True), other)
    admin.call("projects", "Update", project_pb2.ProjectUpdateRequest(project=allowing))
    token = rest.login("admin", admin_password(kube))
    status, body = rest.request("GET", f"/api/v1/applications/{name}/syncwindows", token=token)
    assert status == 200, body
    assert (body.get("canSync"), body.get("canAutoSync", False)) == (True, False)
    assert body["assignedWindows"] == [
        {
            "kind": "deny",
            "schedule": "* * * * *",
            "duration": "24h",
            "applications": ["*"],
            "manualSync": True,
        }
    ]
    requested = admin.call("apps", "Sync", sync)
    assert requested.operation.initiated_by.username == "admin"

    admin.call("apps", "Delete", application_pb2.ApplicationDeleteRequest(name=name, cascade=False))
    admin.call("projects", "Delete", project_pb2.ProjectQuery(name=project))

"""ferry runs as deploy/ runs it (tests/e2e/conftest.py), proven from the outside: after an app
is created, synced, compared and inspected through the API,

- every request ferry-server and ferry-controller made to kube-apiserver was made as their
  ServiceAccounts (the audit log says who), none as an administrator;
- the controller was never refused (a permission deploy/ lacks would show as a 403 here), and the
  API server only where its RBAC refuses on purpose: Secrets outside the control namespace;
- the repo server never talked to Kubernetes at all;
- none of the mesh's secrets (the service key, Redis's password, the repo server's TLS key)
  appears in any component's log, at debug level, although every call carried the key's tokens;
- and, with the shared server re-checking streams every second, a followed pod log ends
  (UNAUTHENTICATED) once its session is revoked.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
import yaml
from kubernetes import client as k8s

from ferry.v1 import application_pb2, session_pb2
from ferry_devenv.controlplane import ControlPlane
from ferry_devenv.gitrepo import GitRepo
from tests.conftest import CONTROL_NS, SERVICE_KEY, RunningServer
from tests.e2e.conftest import Deployed
from tests.integration.controller.test_sync import deployment
from tests.integration.server.conftest import Api, admin_password
from tests.integration.server.test_smoke import app_message

APP = "least-privilege"


def wait_for(what: str, check: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


@pytest.fixture
def admin(server_process: RunningServer, kube: k8s.ApiClient) -> Iterator[Api]:
    api = Api(server_process, kube)
    api.login("admin", admin_password(kube))
    yield api
    api.close()


def test_ferry_acts_as_its_service_accounts_and_keeps_its_secrets(
    control_plane: ControlPlane,
    reposerver_process: RunningServer,
    controller_process: RunningServer,
    server_process: RunningServer,
    deployed: Deployed,
    admin: Api,
    git_repo: Callable[[str], GitRepo],
    namespace: str,
) -> None:
    repo = git_repo("least")
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"k": "v"}}
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}}
    repo.commit("app", {"app/all.yaml": yaml.safe_dump_all([config, secret])})
    admin.call(
        "apps",
        "Create",
        application_pb2.ApplicationCreateRequest(application=app_message(APP, repo, namespace)),
    )
    try:
        admin.call("apps", "Sync", application_pb2.ApplicationSyncRequest(name=APP))

        def synced() -> bool:
            app = admin.call("apps", "Get", application_pb2.ApplicationQuery(name=APP))
            return bool(
                app.status.sync.status == "Synced" and app.status.operation_state.phase == "Succeeded"
            )

        wait_for("the app to sync", synced)
        resources = admin.call(
            "apps", "ManagedResources", application_pb2.ResourcesQuery(application_name=APP)
        )
        assert {item.kind for item in resources.items} == {"ConfigMap", "Secret"}
        admin.call("apps", "ResourceTree", application_pb2.ResourcesQuery(application_name=APP))
        live = application_pb2.ApplicationResourceRequest(
            name=APP, namespace=namespace, resource_name="c", version="v1", kind="ConfigMap"
        )
        assert "k" in admin.call("apps", "GetResource", live).manifest
        # the API server may not read Secrets where apps live (deploy/base/server-rbac.yaml)
        live.kind, live.resource_name = "Secret", "s"
        with pytest.raises(grpc.RpcError) as refused:
            admin.call("apps", "GetResource", live)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        admin.call("apps", "Delete", application_pb2.ApplicationDeleteRequest(name=APP, cascade=True))

    events = control_plane.audit_events()

    def by(agent: str) -> list[dict[str, Any]]:
        return [e for e in events if str(e.get("userAgent", "")).startswith(agent)]

    for agent, account in (("ferry-server", "ferry-server"), ("ferry-controller", "ferry-controller")):
        made = by(agent)
        assert made, f"no request of {agent} in the audit log"
        users = {e["user"]["username"] for e in made}
        wrong = {
            u for u in users if not (u.startswith("system:serviceaccount:") and u.endswith(f":{account}"))
        }
        assert not wrong, f"{agent} acted as {wrong}"
        assert f"system:serviceaccount:{CONTROL_NS}:{account}" in users

    def refusals(agent: str) -> list[str]:
        refused = [e for e in by(agent) if e.get("responseStatus", {}).get("code") == 403]
        return [
            f"{e['verb']} {ref.get('resource')} in {ref.get('namespace')}"
            for e in refused
            for ref in [e.get("objectRef") or {}]
        ]

    assert not refusals("ferry-controller"), "deploy/ lacks a permission the controller needs"
    unexpected = [
        r for r in refusals("ferry-server") if not r.startswith("get secrets in ") or r.endswith(CONTROL_NS)
    ]
    assert not unexpected, "deploy/ lacks a permission the API server needs"
    assert not by("ferry-reposerver"), "the repo server talked to Kubernetes"

    secrets = {
        "the service key": SERVICE_KEY,
        "Redis's password": deployed.mesh.redis_password,
        "the repo server's TLS key": deployed.mesh.reposerver.key.read_text().splitlines()[1],
    }
    for process in (reposerver_process, controller_process, server_process):
        log = process.proc.log_path.read_text(errors="replace")
        assert " debug " in log, f"{process.proc.name} does not log at debug"
        for what, value in secrets.items():
            assert value not in log, f"{what} is in {process.proc.name}'s log"


def test_a_followed_pod_log_ends_when_its_session_is_revoked(
    workload_plane: ControlPlane,
    server_process: RunningServer,
    kube: k8s.ApiClient,
    git_repo: Callable[[str], GitRepo],
    namespace: str,
) -> None:
    """Finding 19: a followed log went on after logout. (The shared server re-checks streams
    every second here; the default is a minute.)"""
    admin = Api(server_process, kube)
    admin.login("admin", admin_password(kube))
    repo = git_repo("followed")
    repo.commit("web", {"app/web.yaml": yaml.safe_dump(deployment("followed-web"))})
    workload_plane.set_pod_logs(namespace, ["starting", "listening"])
    message = app_message("followed", repo, namespace)
    admin.call("apps", "Create", application_pb2.ApplicationCreateRequest(application=message))
    stream: Any = None
    try:
        admin.call("apps", "Sync", application_pb2.ApplicationSyncRequest(name="followed"))

        def pods() -> list[str]:
            tree = admin.call(
                "apps", "ResourceTree", application_pb2.ResourcesQuery(application_name="followed")
            )
            return [n.name for n in tree.nodes if n.kind == "Pod"]

        wait_for("the Deployment's pod", lambda: bool(pods()))
        query = application_pb2.ApplicationPodLogsQuery(
            name="followed", namespace=namespace, pod_name=pods()[0], follow=True
        )
        query.tail_lines = 10
        stream = admin.apps.PodLogs(query, metadata=admin.meta(), timeout=120)
        lines = iter(stream)
        assert next(lines).content == "starting"
        admin.call("sessions", "Delete", session_pb2.SessionDeleteRequest())
        with pytest.raises(grpc.RpcError) as ended:
            for _ in lines:
                pass
        assert ended.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "revoked" in (ended.value.details() or "")
    finally:
        if stream is not None:
            stream.cancel()
        admin.login("admin", admin_password(kube))
        admin.call("apps", "Delete", application_pb2.ApplicationDeleteRequest(name="followed", cascade=True))
        admin.close()

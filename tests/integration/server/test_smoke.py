"""First contact with the API server: log in, create, list, get, sync, delete."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import yaml

from ferry.v1 import application_pb2, session_pb2, types_pb2
from ferry_devenv.gitrepo import GitRepo
from tests.integration.reposerver.conftest import status_of
from tests.integration.server.conftest import Api


def app_message(name: str, repo: GitRepo, namespace: str, path: str = "app") -> types_pb2.Application:
    return types_pb2.Application(
        metadata=types_pb2.ObjectMeta(name=name),
        spec=types_pb2.ApplicationSpec(
            source=types_pb2.ApplicationSource(
                repo_url=f"file://{repo.bare}", path=path, target_revision="HEAD"
            ),
            destination=types_pb2.ApplicationDestination(
                server="https://kubernetes.default.svc", namespace=namespace
            ),
        ),
    )


def test_login_create_list_get_sync_delete(
    admin: Api, git_repo: Callable[[str], GitRepo], namespace: str
) -> None:
    repo = git_repo("api")
    repo.commit(
        "app",
        {"app/cm.yaml": yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})},
    )
    created = admin.call(
        "apps",
        "Create",
        application_pb2.ApplicationCreateRequest(application=app_message("api-one", repo, namespace)),
    )
    assert created.metadata.name == "api-one"
    assert created.spec.project == "default"
    listed = admin.call("apps", "List", application_pb2.ApplicationQuery())
    assert "api-one" in [a.metadata.name for a in listed.items]
    got = admin.call("apps", "Get", application_pb2.ApplicationQuery(name="api-one", refresh="normal"))
    assert got.status.sync.status in ("OutOfSync", "Synced")
    admin.call("apps", "Sync", application_pb2.ApplicationSyncRequest(name="api-one"))
    me = admin.call("sessions", "GetUserInfo", session_pb2.GetUserInfoRequest())
    assert me.username == "admin"
    assert me.logged_in
    admin.call("apps", "Delete", application_pb2.ApplicationDeleteRequest(name="api-one"))
    code, message = status_of(
        lambda: admin.call("apps", "Get", application_pb2.ApplicationQuery(name="nope"))
    )
    assert code is grpc.StatusCode.NOT_FOUND
    assert '"nope"' in message

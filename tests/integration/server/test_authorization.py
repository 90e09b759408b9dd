"""The authorization matrix: every RPC x {no token, garbage, expired, tampered, alg none,
revoked, read-only user, project role, admin}, each cell with its exact status code.

Write RPCs are called with a request that passes authorization and then fails validation, so an
allowed call shows INVALID_ARGUMENT (or NOT_FOUND / FAILED_PRECONDITION) instead of changing
anything, and a refused call shows PERMISSION_DENIED."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import bcrypt
import grpc
import jwt
import pytest
import yaml
from kubernetes import client as k8s

from ferry.v1 import application_pb2, session_pb2, types_pb2
from ferry_devenv.gitrepo import GitRepo
from tests.conftest import CONTROL_NS, GROUP, VERSION, RunningServer
from tests.integration.server.conftest import Api, admin_password, secret_data
from tests.integration.server.test_smoke import app_message

OK = grpc.StatusCode.OK
UNAUTH = grpc.StatusCode.UNAUTHENTICATED
DENIED = grpc.StatusCode.PERMISSION_DENIED
INVALID = grpc.StatusCode.INVALID_ARGUMENT
MISSING = grpc.StatusCode.NOT_FOUND
PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION
TARGET = "matrix-app"
VIEWER_PASSWORD = "viewer-password-123"


def set_password(kube: k8s.ApiClient, account: str, password: str) -> None:
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    patch = {"data": {f"accounts.{account}.password": base64.b64encode(hashed.encode()).decode()}}
    k8s.CoreV1Api(kube).patch_namespaced_secret("ferry-secret", CONTROL_NS, patch)


def project_token(kube: k8s.ApiClient, jti: str = "ci-token-1") -> str:
    """A token of the role ``ci`` of project default (may get and sync default/*)."""
    api = k8s.CustomObjectsApi(kube)
    now = int(time.time())
    role = {
        "name": "ci",
        "policies": [
            "p, proj:default:ci, applications, get, default/*, allow",
            "p, proj:default:ci, applications, sync, default/*, allow",
        ],
        "jwtTokens": [{"iat": now, "id": jti}],
    }
    api.patch_namespaced_custom_object(
        GROUP, VERSION, CONTROL_NS, "appprojects", "default", {"spec": {"roles": [role]}}
    )
    key = secret_data(kube, "ferry-secret")["server.secretkey"]
    claims = {"iss": "ferry", "sub": "proj:default:ci", "iat": now, "nbf": now, "exp": now + 3600, "jti": jti}
    return jwt.encode(claims, key, algorithm="HS256")


def tokens(api: Api, kube: k8s.ApiClient) -> dict[str, str]:
    admin = api.login("admin", admin_password(kube))
    set_password(kube, "viewer", VIEWER_PASSWORD)
    time.sleep(1)  # the server's watch of ferry-secret picks up the password
    viewer = api.login("viewer", VIEWER_PASSWORD)
    revoked = api.login("admin", admin_password(kube))
    api.call("sessions", "Delete", session_pb2.SessionDeleteRequest(), token=revoked)
    key = secret_data(kube, "ferry-secret")["server.secretkey"]
    now = int(time.time())
    expired = jwt.encode(
        {"iss": "ferry", "sub": "admin", "iat": now - 7200, "exp": now - 3600, "jti": "old"},
        key,
        algorithm="HS256",
    )
    head, payload, signature = admin.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    none = jwt.encode({"iss": "ferry", "sub": "admin", "iat": now, "jti": "none"}, None, algorithm="none")  # type: ignore[arg-type]
    return {
        "no token": "",
        "garbage": "not-a-token",
        "expired": expired,
        "tampered": f"{head}.{forged}.{signature}",
        "alg none": none,
        "revoked": revoked,
        "read-only user": viewer,
        "project role": project_token(kube),
        "admin": admin,
    }


REQUESTS: dict[str, Callable[[], Any]] = {
    "List": application_pb2.ApplicationQuery,
    "Get": lambda: application_pb2.ApplicationQuery(name=TARGET),
    "Create": lambda: application_pb2.ApplicationCreateRequest(
        application=types_pb2.Application(
            metadata=types_pb2.ObjectMeta(name="Not_A_Valid_Name"),
            spec=types_pb2.ApplicationSpec(project="default"),
        )
    ),
    "Update": lambda: application_pb2.ApplicationUpdateRequest(
        application=types_pb2.Application(
            metadata=types_pb2.ObjectMeta(name=TARGET), spec=types_pb2.ApplicationSpec(project="default")
        )
    ),
    "UpdateSpec": lambda: application_pb2.ApplicationUpdateSpecRequest(
        name=TARGET, spec=types_pb2.ApplicationSpec(project="default")
    ),
    "Patch": lambda: application_pb2.ApplicationPatchRequest(name=TARGET, patch="not json"),
    "Delete": lambda: application_pb2.ApplicationDeleteRequest(name=TARGET, propagation_policy="sideways"),
    "Sync": lambda: application_pb2.ApplicationSyncRequest(
        name=TARGET, sync_options=application_pb2.SyncOptions(items=["bogus"])
    ),
    "Rollback": lambda: application_pb2.ApplicationRollbackRequest(name=TARGET, id=999),
    "TerminateOperation": lambda: application_pb2.OperationTerminateRequest(name=TARGET),
    "GetManifests": lambda: application_pb2.ApplicationManifestQuery(name=TARGET),
    "ManagedResources": lambda: application_pb2.ResourcesQuery(application_name=TARGET),
    "ResourceTree": lambda: application_pb2.ResourcesQuery(application_name=TARGET),
    "GetResource": lambda: application_pb2.ApplicationResourceRequest(
        name=TARGET, kind="ConfigMap", resource_name="nope", version="v1"
    ),
    "ListResourceEvents": lambda: application_pb2.ApplicationResourceEventsQuery(name=TARGET),
    "RevisionMetadata": lambda: application_pb2.RevisionMetadataQuery(name=TARGET, revision="HEAD"),
    "GetApplicationSyncWindows": lambda: application_pb2.ApplicationSyncWindowsQuery(name=TARGET),
    "Watch": lambda: application_pb2.ApplicationQuery(name=TARGET),
    "PodLogs": lambda: application_pb2.ApplicationPodLogsQuery(name=TARGET),
}
SESSION_REQUESTS: dict[str, Callable[[], Any]] = {
    "Session.Create": lambda: session_pb2.SessionCreateRequest(username="viewer", password=VIEWER_PASSWORD),
    "Session.GetUserInfo": session_pb2.GetUserInfoRequest,
    "Session.Delete": session_pb2.SessionDeleteRequest,
}

# What an authorized caller gets, per RPC (writes fail validation after passing RBAC).
ALLOWED = {
    "List": OK,
    "Get": OK,
    "Create": INVALID,
    "Update": INVALID,
    "UpdateSpec": INVALID,
    "Patch": INVALID,
    "Delete": INVALID,
    "Sync": INVALID,
    "Rollback": MISSING,
    "TerminateOperation": PRECONDITION,
    "GetManifests": OK,
    "ManagedResources": OK,
    "ResourceTree": OK,
    "GetResource": MISSING,
    "ListResourceEvents": OK,
    "RevisionMetadata": OK,
    "GetApplicationSyncWindows": OK,
    "Watch": OK,
    "PodLogs": OK,
    "Session.Create": OK,
    "Session.GetUserInfo": OK,
    "Session.Delete": OK,
}
READS = {
    "List",
    "Get",
    "GetManifests",
    "ManagedResources",
    "ResourceTree",
    "GetResource",
    "ListResourceEvents",
    "RevisionMetadata",
    "GetApplicationSyncWindows",
    "Watch",
    "PodLogs",
}
PROJECT_ROLE_ALLOWED = (READS - {"PodLogs"}) | {"Sync", "Rollback", "TerminateOperation"}


def expected(caller: str, rpc: str) -> grpc.StatusCode:
    if rpc == "Session.Create":
        return OK  # public
    if caller in ("no token", "garbage", "expired", "tampered", "alg none", "revoked"):
        return UNAUTH
    if rpc.startswith("Session.") or caller == "admin":
        return ALLOWED[rpc]
    if caller == "read-only user":
        return ALLOWED[rpc] if rpc in READS else DENIED
    return ALLOWED[rpc] if rpc in PROJECT_ROLE_ALLOWED else DENIED


@pytest.fixture
def matrix_app(
    api: Api, kube: k8s.ApiClient, git_repo: Callable[[str], GitRepo], namespace: str
) -> Iterator[str]:
    repo = git_repo("matrix")
    repo.commit(
        "app",
        {"app/cm.yaml": yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "m"}})},
    )
    api.login("admin", admin_password(kube))
    api.call(
        "apps",
        "Create",
        application_pb2.ApplicationCreateRequest(application=app_message(TARGET, repo, namespace)),
    )
    yield TARGET
    api.login("admin", admin_password(kube))
    api.call("apps", "Delete", application_pb2.ApplicationDeleteRequest(name=TARGET, cascade=False))


def outcome(api: Api, rpc: str, token: str) -> grpc.StatusCode:
    try:
        if rpc.startswith("Session."):
            api.call("sessions", rpc.split(".", 1)[1], SESSION_REQUESTS[rpc](), token=token)
        elif rpc in ("Watch", "PodLogs"):
            stream = getattr(api.apps, rpc)(REQUESTS[rpc](), metadata=api.meta(token), timeout=30)
            next(stream)
            stream.cancel()
        else:
            api.call("apps", rpc, REQUESTS[rpc](), token=token)
    except grpc.RpcError as err:
        code: grpc.StatusCode = err.code()
        return code
    return OK


def test_authorization_matrix(
    api: Api, kube: k8s.ApiClient, matrix_app: str, server_process: RunningServer
) -> None:
    callers = tokens(api, kube)
    order = [*REQUESTS, "Session.Create", "Session.GetUserInfo", "Session.Delete"]  # revoking comes last
    wrong = []
    for caller, token in callers.items():
        for rpc in order:
            got = outcome(api, rpc, token)
            if got != expected(caller, rpc):
                wrong.append(f"{caller} x {rpc}: got {got.name}, want {expected(caller, rpc).name}")
    assert not wrong, "\n".join(wrong)
    assert server_process.metric("grpc_server_handled_total", grpc_code="INTERNAL") == 0
    assert server_process.metric("grpc_server_handled_total", grpc_code="UNKNOWN") == 0


def test_existence_of_apps_does_not_leak(api: Api, kube: k8s.ApiClient, matrix_app: str) -> None:
    """A caller without rights cannot tell a missing app from one it may not see."""
    callers = tokens(api, kube)
    # a token id of its own: the matrix revokes "ci-token-1" (Session.Delete) when run first
    callers["project role"] = project_token(kube, "leak-test-token")

    def code(token: str, name: str) -> grpc.StatusCode:
        try:
            api.call("apps", "Get", application_pb2.ApplicationQuery(name=name), token=token)
        except grpc.RpcError as err:
            return err.code()
        return OK

    # the project role may get default/* only: a missing app looks like any app it may not see
    deadline = time.monotonic() + 10
    while code(callers["project role"], matrix_app) is UNAUTH and time.monotonic() < deadline:
        time.sleep(0.2)  # the server's watch has not delivered the role's new token yet
    assert code(callers["project role"], "no-such-app") is DENIED
    # callers with rights on apps of any project learn that it does not exist
    assert code(callers["admin"], "no-such-app") is MISSING
    assert code(callers["read-only user"], "no-such-app") is MISSING
    assert code(callers["read-only user"], matrix_app) is OK

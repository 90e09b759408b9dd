"""Sessions: one answer for unknown users and wrong passwords, login throttling, disabled
accounts, tokens older than a password change, durable revocation, API tokens."""

from __future__ import annotations

import base64
import datetime
import time

import bcrypt
import grpc
import jwt
from kubernetes import client as k8s

from ferry.v1 import application_pb2, session_pb2
from server.revocations import secret_name
from tests.conftest import CONTROL_NS
from tests.integration.reposerver.conftest import status_of
from tests.integration.server.conftest import Api, admin_password


def patch_secret(kube: k8s.ApiClient, data: dict[str, str]) -> None:
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    k8s.CoreV1Api(kube).patch_namespaced_secret("ferry-secret", CONTROL_NS, {"data": encoded})
    time.sleep(1)  # the server watches ferry-secret


def login_fails(api: Api, username: str, password: str) -> tuple[grpc.StatusCode, str]:
    return status_of(lambda: api.login(username, password))


def test_unknown_user_and_wrong_password_get_the_same_answer(api: Api, kube: k8s.ApiClient) -> None:
    unknown = login_fails(api, "nobody", "whatever-password")
    wrong = login_fails(api, "admin", "wrong-password")
    assert unknown == wrong == (grpc.StatusCode.UNAUTHENTICATED, "invalid username or password")


def test_five_failures_throttle_further_attempts(api: Api, kube: k8s.ApiClient) -> None:
    for _ in range(5):
        assert login_fails(api, "alice", "nope-nope")[0] is grpc.StatusCode.UNAUTHENTICATED
    code, message = login_fails(api, "alice", "nope-nope")
    assert code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "too many failed logins" in message


def test_disabled_account_cannot_log_in(api: Api, kube: k8s.ApiClient) -> None:
    hashed = bcrypt.hashpw(b"disabled-password", bcrypt.gensalt(rounds=4)).decode()
    patch_secret(kube, {"accounts.disabled.password": hashed})
    assert login_fails(api, "disabled", "disabled-password")[0] is grpc.StatusCode.UNAUTHENTICATED


def test_a_password_change_invalidates_older_tokens(api: Api, kube: k8s.ApiClient) -> None:
    hashed = bcrypt.hashpw(b"robot-password-1", bcrypt.gensalt(rounds=4)).decode()
    patch_secret(kube, {"accounts.robot.password": hashed})
    token = api.login("robot", "robot-password-1")
    assert (
        api.call("sessions", "GetUserInfo", session_pb2.GetUserInfoRequest(), token=token).username == "robot"
    )
    time.sleep(1.1)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    patch_secret(kube, {"accounts.robot.passwordMtime": stamp})
    code, message = status_of(
        lambda: api.call("sessions", "GetUserInfo", session_pb2.GetUserInfoRequest(), token=token)
    )
    assert code is grpc.StatusCode.UNAUTHENTICATED
    assert "password change" in message


def test_revocation_is_stored_in_kubernetes(api: Api, kube: k8s.ApiClient) -> None:
    token = api.login("admin", admin_password(kube))
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    api.call("sessions", "Delete", session_pb2.SessionDeleteRequest(), token=token)
    stored = k8s.CoreV1Api(kube).read_namespaced_secret(secret_name(jti), CONTROL_NS).to_dict()
    assert base64.b64decode(stored["data"]["jti"]).decode() == jti
    code, message = status_of(
        lambda: api.call("apps", "List", application_pb2.ApplicationQuery(), token=token)
    )
    assert code is grpc.StatusCode.UNAUTHENTICATED
    assert "revoked" in message


def test_session_lifetime_follows_settings(api: Api, kube: k8s.ApiClient) -> None:
    token = api.login("admin", admin_password(kube))
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 3600  # users.session.duration: 1h
    assert {"iss", "sub", "iat", "nbf", "exp", "jti"} <= set(claims)

"""Authentication hardening against a real ferry-server process (findings 16, 18, 19 and the token
items of 21 of the security review), each tried the way an attacker would:

- tokens without ``exp`` are refused, and ``users.session.duration: "0"`` still yields sessions
  that expire;
- a logout is one small Secret, not a rewrite of ferry-secret, and however many logouts there
  are, the revocations kept stay within ``--max-revoked-tokens`` while every logged-out token
  stays refused;
- many user names from one address are throttled there (gRPC and REST), and a gRPC client cannot
  pick the address it is throttled as;
- a Watch stream ends (UNAUTHENTICATED) once its token is revoked or its account disabled, and
  (PERMISSION_DENIED) once the grant it watches by is removed — checked every
  ``--stream-recheck-interval`` seconds, set low here.

The server runs in a namespace of its own, so its settings and limits touch no other test.
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt
import grpc
import jwt
import pytest
from kubernetes import client as k8s

from ferry.v1 import application_pb2, application_pb2_grpc, session_pb2, session_pb2_grpc
from ferry_devenv.controlplane import ControlPlane
from ferry_devenv.process import free_port, port_open
from server.revocations import REVOKED_LABEL
from tests.conftest import GROUP, VERSION, RunningServer, start_ferry_process

PASSWORDS = {"alice": "alice-password-1", "bob": "bob-password-1", "carol": "carol-password-1"}
MAX_REVOKED = 3
RECHECK = 0.5


@dataclass
class Server:
    process: RunningServer
    namespace: str
    kube: k8s.ApiClient
    http_port: int
    channel: grpc.Channel

    @property
    def core(self) -> k8s.CoreV1Api:
        return k8s.CoreV1Api(self.kube)

    def secret(self, name: str) -> dict[str, str]:
        data = self.core.read_namespaced_secret(name, self.namespace).data or {}
        return {k: base64.b64decode(v).decode() for k, v in data.items()}

    def login(self, username: str, password: str, *, metadata: Any = ()) -> str:
        request = session_pb2.SessionCreateRequest(username=username, password=password)
        stub = session_pb2_grpc.SessionServiceStub(self.channel)
        token: str = stub.Create(request, metadata=metadata, timeout=30).token
        return token

    def call(self, method: str, token: str, request: Any = None) -> Any:
        stub = session_pb2_grpc.SessionServiceStub(self.channel)
        meta = (("authorization", f"Bearer {token}"),)
        default = (
            session_pb2.GetUserInfoRequest()
            if method == "GetUserInfo"
            else session_pb2.SessionDeleteRequest()
        )
        return getattr(stub, method)(request or default, metadata=meta, timeout=30)

    def version(self, secret: str) -> str:
        return str(
            self.core.read_namespaced_secret(secret, self.namespace).to_dict()["metadata"]["resource_version"]
        )

    def revocations(self) -> list[Any]:
        return list(self.core.list_namespaced_secret(self.namespace, label_selector=REVOKED_LABEL).items)

    def set_configmap(self, name: str, data: dict[str, str]) -> None:
        body = k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name=name), data=data)
        try:
            self.core.create_namespaced_config_map(self.namespace, body)
        except k8s.ApiException as err:
            if err.status != 409:
                raise
            self.core.replace_namespaced_config_map(name, self.namespace, body)


def code_of(call: Callable[[], Any]) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value.code(), info.value.details() or ""


def eventually(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


SETTINGS = {
    **{f"accounts.{name}": "login" for name in PASSWORDS},
    "users.session.duration": "0",  # Argo CD would issue sessions that never expire
}
POLICY = "p, alice, applications, get, default/*, allow\np, bob, applications, get, default/*, allow\n"


@pytest.fixture(scope="module")
def hardened(
    control_plane: ControlPlane, controller_process: RunningServer, kube: k8s.ApiClient
) -> Iterator[Server]:
    """ferry-server in a fresh namespace (the session's controller installed the CRDs) with three
    accounts, a low revocation limit, a per-address limit of 5 names and quick stream re-checks."""
    core = k8s.CoreV1Api(kube)
    namespace = f"auth-{int(time.time() * 1000) % 10**8}"
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=namespace)))
    hashes = {
        f"accounts.{n}.password": bcrypt.hashpw(p.encode(), bcrypt.gensalt(rounds=4)).decode()
        for n, p in PASSWORDS.items()
    }
    core.create_namespaced_secret(
        namespace, k8s.V1Secret(metadata=k8s.V1ObjectMeta(name="ferry-secret"), string_data=hashes)
    )
    http_port = free_port()
    process = start_ferry_process(
        "ferry-server",
        [
            "--kubeconfig", str(control_plane.kubeconfig), "--namespace", namespace,
            "--repo-server", f"127.0.0.1:{free_port()}", "--http-port", str(http_port),
            "--max-revoked-tokens", str(MAX_REVOKED), "--stream-recheck-interval", str(RECHECK),
            "--login-max-fail-count-per-address", "5",
        ],
        env={"FERRY_SERVICE_KEY": "auth-hardening-service-key"},
    )  # fmt: skip
    process.proc.wait_until(lambda: port_open(http_port), timeout=30, what="HTTP port")
    cert = base64.b64decode(
        core.read_namespaced_secret("ferry-server-tls", namespace).to_dict()["data"]["tls.crt"]
    )
    channel = grpc.secure_channel(
        process.address,
        grpc.ssl_channel_credentials(root_certificates=cert),
        options=[("grpc.ssl_target_name_override", "localhost")],
    )
    server = Server(process, namespace, kube, http_port, channel)
    server.set_configmap("ferry-cm", SETTINGS)
    server.set_configmap("ferry-rbac-cm", {"policy.csv": POLICY})
    eventually(lambda: _can_login(server, "alice"), "the server to read ferry-cm")
    try:
        yield server
    finally:
        channel.close()
        process.stop()
        core.delete_namespace(namespace)


def _can_login(server: Server, name: str) -> bool:
    try:
        server.login(name, PASSWORDS[name])
    except grpc.RpcError:
        return False
    return True


def test_a_token_without_expiry_is_refused(hardened: Server) -> None:
    key = hardened.secret("ferry-secret")["server.secretkey"]
    now = int(time.time())
    forever = jwt.encode({"iss": "ferry", "sub": "alice", "iat": now, "nbf": now, "jti": "forever"}, key)
    code, message = code_of(lambda: hardened.call("GetUserInfo", forever))
    assert code is grpc.StatusCode.UNAUTHENTICATED
    assert "'exp'" in message
    # the same token with an expiry is fine: the signature and everything else were right
    lasting = jwt.encode({"iss": "ferry", "sub": "alice", "iat": now, "exp": now + 60, "jti": "ok"}, key)
    assert hardened.call("GetUserInfo", lasting).username == "alice"


def test_a_session_duration_of_zero_still_makes_sessions_that_expire(hardened: Server) -> None:
    claims = jwt.decode(hardened.login("alice", PASSWORDS["alice"]), options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 24 * 3600


def test_logouts_are_small_objects_and_stay_bounded(hardened: Server) -> None:
    """Finding 18: each logout rewrote ferry-secret's growing JSON list, and entries stayed as
    long as their tokens (forever without exp)."""
    for old in hardened.revocations():  # other tests of this module may have logged out
        hardened.core.delete_namespaced_secret(old.metadata.name, hardened.namespace)
    eventually(lambda: not hardened.revocations(), "no revocation left")
    before = hardened.version("ferry-secret")
    token = hardened.login("bob", PASSWORDS["bob"])
    hardened.call("Delete", token)
    (revocation,) = hardened.revocations()
    assert revocation.metadata.labels[REVOKED_LABEL] == "true"
    expires = int(revocation.metadata.annotations["ferrycd.io/token-expires-at"])
    assert expires == jwt.decode(token, options={"verify_signature": False})["exp"]
    after = hardened.version("ferry-secret")
    assert after == before, "a logout must not rewrite ferry-secret"
    assert "session.revoked" not in hardened.secret("ferry-secret")

    logged_out = [token]
    for _ in range(8):
        token = hardened.login("bob", PASSWORDS["bob"])
        hardened.call("Delete", token)
        logged_out.append(token)
    assert len(hardened.revocations()) == MAX_REVOKED
    for token in logged_out:
        code, message = code_of(lambda t=token: hardened.call("GetUserInfo", t))  # type: ignore[misc]
        assert code is grpc.StatusCode.UNAUTHENTICATED, message
        assert "revoked" in message
    # past the limit a logout ended bob's sessions: a fresh login works again
    assert hardened.call("GetUserInfo", hardened.login("bob", PASSWORDS["bob"])).username == "bob"


class WatchStream:
    """A Watch read in a thread: the events it got, and how it ended."""

    def __init__(self, server: Server, token: str, name: str = "") -> None:
        stub = application_pb2_grpc.ApplicationServiceStub(server.channel)
        self.call = stub.Watch(
            application_pb2.ApplicationQuery(name=name),
            metadata=(("authorization", f"Bearer {token}"),),
            timeout=120,
        )
        self.events: list[Any] = []
        self.ended: grpc.RpcError | None = None
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            for event in self.call:
                self.events.append(event)
        except grpc.RpcError as err:
            self.ended = err

    def ending(self, timeout: float = 30) -> tuple[grpc.StatusCode, str]:
        self.thread.join(timeout)
        assert self.ended is not None, "the stream is still open"
        return self.ended.code(), self.ended.details() or ""


def test_a_watch_ends_when_its_token_is_revoked(hardened: Server) -> None:
    token = hardened.login("alice", PASSWORDS["alice"])
    stream = WatchStream(hardened, token)
    time.sleep(RECHECK * 3)  # let it pass a few checks while the token is good
    assert stream.ended is None
    hardened.call("Delete", token)
    code, message = stream.ending()
    assert code is grpc.StatusCode.UNAUTHENTICATED
    assert "revoked" in message


def test_a_watch_ends_when_its_account_is_disabled(hardened: Server) -> None:
    token = hardened.login("carol", PASSWORDS["carol"])
    stream = WatchStream(hardened, token)
    try:
        hardened.set_configmap("ferry-cm", {**SETTINGS, "accounts.carol.enabled": "false"})
        code, message = stream.ending()
        assert code is grpc.StatusCode.UNAUTHENTICATED
        assert "disabled" in message
    finally:
        hardened.set_configmap("ferry-cm", SETTINGS)


def test_a_watch_of_an_app_ends_when_the_grant_is_removed(hardened: Server) -> None:
    apps = k8s.CustomObjectsApi(hardened.kube)
    app = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Application",
        "metadata": {"name": "watched"},
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://example.invalid/repo.git", "path": "."},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "default"},
        },
    }
    apps.create_namespaced_custom_object(GROUP, VERSION, hardened.namespace, "applications", app)
    token = hardened.login("bob", PASSWORDS["bob"])
    stream = WatchStream(hardened, token, name="watched")
    try:
        eventually(lambda: bool(stream.events), "bob to see the app")
        hardened.set_configmap(
            "ferry-rbac-cm", {"policy.csv": "p, alice, applications, get, default/*, allow\n"}
        )
        code, message = stream.ending()
        assert code is grpc.StatusCode.PERMISSION_DENIED
        assert "bob cannot get applications default/watched" in message
    finally:
        hardened.set_configmap("ferry-rbac-cm", {"policy.csv": POLICY})
        apps.delete_namespaced_custom_object(GROUP, VERSION, hardened.namespace, "applications", "watched")


def test_many_user_names_from_one_address_are_throttled(hardened: Server, tmp_path: Path) -> None:
    """Finding 16: the throttle was per user name only, so made-up names were free guesses. (Last
    in the module: it locks 127.0.0.1 out of this server for the failure window.)"""
    spoofed = (("x-forwarded-for", "198.51.100.1"), ("x-ferry-client-address", "198.51.100.2"))
    for i in range(5):
        code, _ = code_of(lambda i=i: hardened.login(f"sweep-{i}", "wrong-password", metadata=spoofed))  # type: ignore[misc]
        assert code is grpc.StatusCode.UNAUTHENTICATED
    # the sixth name from this address is refused before any password check; so is a right
    # password: whatever the client claims, its address is the connection's
    code, message = code_of(lambda: hardened.login("sweep-5", "wrong-password", metadata=spoofed))
    assert code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "from 127.0.0.1" in message
    assert (
        code_of(lambda: hardened.login("carol", PASSWORDS["carol"]))[0] is grpc.StatusCode.RESOURCE_EXHAUSTED
    )
    # the REST gateway passes the HTTP client's address on, so REST logins are throttled the same
    cert = hardened.secret("ferry-server-tls")["tls.crt"]
    (tmp_path / "ca.crt").write_text(cert)
    context = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
    context.check_hostname = False
    conn = http.client.HTTPSConnection("127.0.0.1", hardened.http_port, context=context, timeout=30)
    body = json.dumps({"username": "carol", "password": PASSWORDS["carol"]})
    conn.request("POST", "/api/v1/session", body=body, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    assert response.status == 429, response.read()
    assert "from 127.0.0.1" in json.loads(response.read())["message"]
    conn.close()

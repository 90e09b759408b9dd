"""ferry-server as its own process (TLS on, its self-signed certificate from the cluster), with
accounts and RBAC configured in ferry-cm / ferry-rbac-cm."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from kubernetes import client as k8s

from ferry.v1 import (
    account_pb2_grpc,
    application_pb2_grpc,
    cluster_pb2_grpc,
    project_pb2_grpc,
    repository_pb2_grpc,
    session_pb2,
    session_pb2_grpc,
    version_pb2_grpc,
)
from ferry_devenv.controlplane import ControlPlane
from ferry_devenv.process import free_port, port_open
from tests.conftest import CONTROL_NS, SERVICE_KEY, RunningServer, start_ferry_process

SETTINGS = {
    "accounts.alice": "login",
    "accounts.viewer": "login",
    "accounts.robot": "apiKey, login",
    "accounts.disabled": "login",
    "accounts.disabled.enabled": "false",
    "users.session.duration": "1h",
}
POLICY = """
p, role:deployer, applications, *, default/*, allow
p, role:deployer, applications, delete, default/*, deny
g, alice, role:deployer
g, viewer, role:readonly
"""


def upsert_configmap(kube: k8s.ApiClient, name: str, data: dict[str, str]) -> None:
    core = k8s.CoreV1Api(kube)
    body = k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name=name), data=data)
    try:
        core.create_namespaced_config_map(CONTROL_NS, body)
    except k8s.ApiException as err:
        if err.status != 409:
            raise
        core.replace_namespaced_config_map(name, CONTROL_NS, body)


@pytest.fixture(scope="session")
def server_process(
    control_plane: ControlPlane,
    reposerver_process: RunningServer,
    controller_process: RunningServer,
    kube: k8s.ApiClient,
) -> Iterator[RunningServer]:
    upsert_configmap(kube, "ferry-cm", SETTINGS)
    upsert_configmap(kube, "ferry-rbac-cm", {"policy.csv": POLICY})
    http_port = free_port()
    server = start_ferry_process(
        "ferry-server",
        [
            "--kubeconfig",
            str(control_plane.kubeconfig),
            "--namespace",
            CONTROL_NS,
            "--repo-server",
            reposerver_process.address,
            "--loglevel",
            "debug",
            "--http-port",
            str(http_port),
        ],
        env={"FERRY_SERVICE_KEY": SERVICE_KEY},
    )
    server.http_url = f"https://127.0.0.1:{http_port}"
    server.proc.wait_until(lambda: port_open(http_port), timeout=30, what="HTTP port")
    yield server
    server.stop()


def secret_data(kube: k8s.ApiClient, name: str) -> dict[str, str]:
    data = k8s.CoreV1Api(kube).read_namespaced_secret(name, CONTROL_NS).to_dict()["data"] or {}
    return {k: base64.b64decode(v).decode() for k, v in data.items()}


class Api:
    """A TLS gRPC client of the server under test, as one user."""

    def __init__(self, server: RunningServer, kube: k8s.ApiClient) -> None:
        cert = secret_data(kube, "ferry-server-tls")["tls.crt"].encode()
        credentials = grpc.ssl_channel_credentials(root_certificates=cert)
        self.channel = grpc.secure_channel(
            server.address, credentials, options=[("grpc.ssl_target_name_override", "localhost")]
        )
        self.apps = application_pb2_grpc.ApplicationServiceStub(self.channel)
        self.sessions = session_pb2_grpc.SessionServiceStub(self.channel)
        self.stubs: dict[str, Any] = {
            "apps": self.apps,
            "sessions": self.sessions,
            "repos": repository_pb2_grpc.RepositoryServiceStub(self.channel),
            "clusters": cluster_pb2_grpc.ClusterServiceStub(self.channel),
            "projects": project_pb2_grpc.ProjectServiceStub(self.channel),
            "accounts": account_pb2_grpc.AccountServiceStub(self.channel),
            "version": version_pb2_grpc.VersionServiceStub(self.channel),
            "settings": version_pb2_grpc.SettingsServiceStub(self.channel),
        }
        self.token = ""

    def login(self, username: str, password: str) -> str:
        self.token = self.sessions.Create(
            session_pb2.SessionCreateRequest(username=username, password=password), timeout=30
        ).token
        return self.token

    def meta(self, token: str | None = None) -> tuple[tuple[str, str], ...]:
        value = self.token if token is None else token
        return (("authorization", f"Bearer {value}"),) if value else ()

    def call(
        self, service: str, method: str, request: Any, *, token: str | None = None, timeout: float = 60
    ) -> Any:
        return getattr(self.stubs[service], method)(request, metadata=self.meta(token), timeout=timeout)

    def close(self) -> None:
        self.channel.close()


def admin_password(kube: k8s.ApiClient) -> str:
    deadline = time.monotonic() + 30
    while True:
        try:
            return secret_data(kube, "ferry-initial-admin-secret")["password"]
        except k8s.ApiException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture
def api(server_process: RunningServer, kube: k8s.ApiClient) -> Iterator[Api]:
    client = Api(server_process, kube)
    yield client
    client.close()


@pytest.fixture
def admin(api: Api, kube: k8s.ApiClient) -> Api:
    api.login("admin", admin_password(kube))
    return api


@pytest.fixture
def rest(server_process: RunningServer, kube: k8s.ApiClient, tmp_path: Path) -> Any:
    from tests.integration.server.test_rest import Http  # noqa: PLC0415 (the client lives with its tests)

    return Http(server_process, kube, tmp_path)

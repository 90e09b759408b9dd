"""End-to-end fixtures: ferry's processes as deploy/ runs them, not as a test's convenience.

- Least privilege: deploy/base's ServiceAccounts, Roles, ClusterRoles and bindings are applied
  for real (built by kustomize for the control namespace at hand, cluster-scoped names suffixed
  per namespace), and the controller and the API server run with TokenRequest tokens of
  ``ferry-controller`` and ``ferry-server`` — never the control plane's admin. The repo server
  gets no Kubernetes credentials at all (its ServiceAccount mounts none). So a permission the
  manifests lack fails an e2e test, and one they grant needlessly shows in their diff.
- The mesh: the repo server serves TLS with a certificate of its own and its clients check it;
  Redis has a password, which reaches the components as FERRY_REDIS_PASSWORD (not in argv).

``reposerver_process``, ``controller_process`` and ``server_process`` are the session's shared
processes (as the integration tier's, but deployed so); tests that start their own use
``deployed`` (``deployed.controller(...)``, ``deployed.kubeconfig(...)``, ``deployed.mesh``).
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from ferry_devenv.controlplane import ControlPlane
from ferry_devenv.mesh import Mesh
from ferry_devenv.process import free_port, new_workdir, port_open
from ferry_devenv.servers import RedisServer
from ferry_devenv.tools import tool
from tests.conftest import (
    CONTROL_NS,
    GROUP,
    SERVICE_KEY,
    VERSION,
    RunningServer,
    start_ferry_process,
)
from tests.integration.deploy.test_deploy import RBAC_KINDS, Paths, apply, build_overlay
from tests.integration.server.conftest import POLICY, SETTINGS, upsert_configmap

CONTROLLER, SERVER = "ferry-controller", "ferry-server"
TOKEN_SECONDS = 48 * 3600  # outlasts any e2e session


def _eventually(check: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.25)


@dataclass
class Deployed:
    """deploy/base's RBAC per (control plane, control namespace), the tokens of its
    ServiceAccounts as kubeconfigs, and the mesh every process is started with."""

    workdir: Path
    mesh: Mesh
    _kubeconfigs: dict[tuple[str, str, str], Path] = field(default_factory=dict)
    _installed: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    _planes: dict[str, ControlPlane] = field(default_factory=dict)

    def _install(self, plane: ControlPlane, namespace: str) -> None:
        key = (plane.name, namespace)
        if key in self._installed:
            return
        suffix = hashlib.sha256(f"{plane.name}/{namespace}".encode()).hexdigest()[:6]
        objects = build_overlay(self.workdir / f"{plane.name}-{namespace}", namespace, suffix)
        status, body = plane.request(
            "POST",
            "/api/v1/namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        )
        assert status in (201, 409), body
        paths = Paths(plane)
        for obj in objects:
            if obj["kind"] in RBAC_KINDS:
                status, body = apply(plane, paths, obj, dry_run=False)
                assert status in (200, 201), f"{obj['kind']}/{obj['metadata']['name']}: {status} {body}"
        self._installed[key] = [o for o in objects if o["kind"] in ("ClusterRole", "ClusterRoleBinding")]
        self._planes[plane.name] = plane
        # ferry-server's ClusterRole is aggregated by kube-controller-manager: wait until it is filled
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": f"system:serviceaccount:{namespace}:{SERVER}",
                "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"],
                "resourceAttributes": {"verb": "list", "group": "apps", "resource": "deployments"},
            },
        }

        def aggregated() -> bool:
            _, answer = plane.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", review)
            return bool(answer.get("status", {}).get("allowed"))

        _eventually(aggregated, f"the aggregated ClusterRole {SERVER} in {plane.name}")

    def kubeconfig(self, plane: ControlPlane, account: str, namespace: str) -> Path:
        """A kubeconfig with a TokenRequest token of ``account`` (a deploy/ ServiceAccount) in
        ``namespace``, whose RBAC is installed first."""
        key = (plane.name, account, namespace)
        if key in self._kubeconfigs:
            return self._kubeconfigs[key]
        self._install(plane, namespace)
        request = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": TOKEN_SECONDS},
        }
        status, body = plane.request(
            "POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token", request
        )
        assert status == 201, body
        admin = yaml.safe_load(plane.kubeconfig.read_text())
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": admin["clusters"],
            "users": [{"name": account, "user": {"token": body["status"]["token"]}}],
            "contexts": [
                {"name": account, "context": {"cluster": admin["clusters"][0]["name"], "user": account}}
            ],
            "current-context": account,
        }
        path = self.workdir / f"{plane.name}-{namespace}-{account}.kubeconfig"
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o600)
        self._kubeconfigs[key] = path
        return path

    def controller(
        self,
        plane: ControlPlane,
        namespace: str,
        repo_server: str,
        *extra: str,
        resync: str = "3",
        env: dict[str, str] | None = None,
    ) -> RunningServer:
        """ferry-controller as start_controller runs it (installing the CRDs, a quick resync
        without jitter), with ferry-controller's token and the mesh."""
        return start_ferry_process(
            "ferry-controller",
            [
                "--kubeconfig", str(self.kubeconfig(plane, CONTROLLER, namespace)), "--namespace", namespace,
                "--repo-server", repo_server, "--install-crds", "--app-resync", resync,
                "--app-resync-jitter", "0", *extra,
            ],
            env={"FERRY_SERVICE_KEY": SERVICE_KEY, **(env or {})},
            grpc_port=False,
            mesh=self.mesh,
        )  # fmt: skip

    def server(
        self,
        plane: ControlPlane,
        namespace: str,
        repo_server: str,
        *extra: str,
        http_port: int,
        env: dict[str, str] | None = None,
    ) -> RunningServer:
        """ferry-server with ferry-server's token and the mesh; returns once HTTP listens too."""
        server = start_ferry_process(
            "ferry-server",
            [
                "--kubeconfig", str(self.kubeconfig(plane, SERVER, namespace)), "--namespace", namespace,
                "--repo-server", repo_server, "--http-port", str(http_port), *extra,
            ],
            env={"FERRY_SERVICE_KEY": SERVICE_KEY, **(env or {})},
            mesh=self.mesh,
        )  # fmt: skip
        server.http_url = f"https://127.0.0.1:{http_port}"
        server.proc.wait_until(lambda: port_open(http_port), timeout=30, what="HTTP port")
        return server

    def reposerver(self, *extra: str, env: dict[str, str] | None = None) -> RunningServer:
        """ferry-repo server over TLS, with the real helm and kustomize and no Kubernetes access."""
        cache = new_workdir("reposerver-cache")
        return start_ferry_process(
            "ferry-reposerver",
            [
                "--cache-dir", str(cache), "--helm-path", str(tool("helm")),
                "--kustomize-path", str(tool("kustomize")), *extra,
            ],
            env={"FERRY_SERVICE_KEY": SERVICE_KEY, "KUBECONFIG": "", **(env or {})},
            mesh=self.mesh,
        )  # fmt: skip

    def uninstall(self) -> None:
        for (plane_name, _), objects in self._installed.items():
            plane = self._planes[plane_name]
            paths = Paths(plane)
            for obj in objects:
                with contextlib.suppress(Exception):  # a module's plane may be gone already
                    plane.request("DELETE", paths.of(obj))


@pytest.fixture(scope="session")
def deployed(redis_server: RedisServer) -> Iterator[Deployed]:
    workdir = new_workdir("e2e-deployed")
    mesh = Mesh.create(workdir / "mesh", redis_password=redis_server.password)
    found = Deployed(workdir, mesh)
    yield found
    found.uninstall()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def reposerver_process(deployed: Deployed) -> Iterator[RunningServer]:
    # the e2e tier's repositories are mostly file:// URLs (allowed only with this flag)
    server = deployed.reposerver(
        "--revision-cache-expiration", "0", "--loglevel", "debug", "--allow-local-repos"
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def controller_process(
    control_plane: ControlPlane,
    reposerver_process: RunningServer,
    control_namespace: str,
    redis_server: RedisServer,
    deployed: Deployed,
) -> Iterator[RunningServer]:
    server = deployed.controller(
        control_plane,
        control_namespace,
        reposerver_process.address,
        "--loglevel",
        "debug",
        "--redis",
        redis_server.address_url,
    )
    path = f"/apis/{GROUP}/{VERSION}/namespaces/{control_namespace}/appprojects/default"
    server.proc.wait_until(
        lambda: control_plane.request("GET", path)[0] == 200, timeout=60, what="the default AppProject"
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def server_process(
    control_plane: ControlPlane,
    reposerver_process: RunningServer,
    controller_process: RunningServer,
    kube: k8s.ApiClient,
    redis_server: RedisServer,
    deployed: Deployed,
) -> Iterator[RunningServer]:
    upsert_configmap(kube, "ferry-cm", SETTINGS)
    upsert_configmap(kube, "ferry-rbac-cm", {"policy.csv": POLICY})
    server = deployed.server(
        control_plane,
        CONTROL_NS,
        reposerver_process.address,
        "--loglevel",
        "debug",
        "--redis",
        redis_server.address_url,
        # streams are checked again every second, so tests see a revoked one end quickly
        "--stream-recheck-interval",
        "1",
        http_port=free_port(),
    )
    yield server
    server.stop()

"""Fixtures shared by every tier: the real parts ferry is tested against.

Session-wide (started once, on first use): one Kubernetes control plane (workload components are
attached to the same plane the first time a test asks for ``workload_plane``), a second
independent cluster on request, Git servers over git://, HTTP with basic auth and ssh, a Helm
chart repository over HTTP and a redis-server. Per test: a fresh namespace and fresh Git
repositories. Unit tests use none of them, so they start nothing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from prometheus_client.parser import text_string_to_metric_families

from ferry_devenv.controlplane import ControlPlane
from ferry_devenv.gitrepo import GitRepo
from ferry_devenv.mesh import PLAINTEXT_ENV, Mesh
from ferry_devenv.process import ManagedProcess, free_port, new_workdir, port_open
from ferry_devenv.servers import GitDaemon, HttpServer, RedisServer, SshGitServer
from ferry_devenv.tools import tool

CORPUS = Path(__file__).resolve().parent / "fixtures" / "corpus"
GIT_USER, GIT_PASSWORD = "ferry", "s3cret-git-password"


@pytest.fixture(scope="session")
def corpus() -> Path:
    """Real-world manifests nobody here wrote (podinfo: Kustomize overlays, a Helm chart with hooks)."""
    path = CORPUS / "podinfo"
    assert path.is_dir(), f"the shared corpus is missing at {path}"
    return path


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    plane = ControlPlane("ferry-test").start()
    yield plane
    plane.stop()


@pytest.fixture(scope="session")
def workload_plane(control_plane: ControlPlane) -> ControlPlane:
    """The session's control plane with kube-scheduler and kwok attached: Pods run and finish."""
    control_plane.start_workloads()
    return control_plane


@pytest.fixture(scope="session")
def second_plane() -> Iterator[ControlPlane]:
    """An independent second cluster, for multi-cluster tests."""
    plane = ControlPlane("ferry-test-2").start()
    yield plane
    plane.stop()


def api_client(plane: ControlPlane) -> k8s.ApiClient:
    api: k8s.ApiClient = k8s_config.new_client_from_config(config_file=str(plane.kubeconfig))
    return api


@pytest.fixture(scope="session")
def kube(control_plane: ControlPlane) -> Iterator[k8s.ApiClient]:
    """A Kubernetes API client for the session's control plane (admin)."""
    api = api_client(control_plane)
    yield api
    api.close()


@pytest.fixture
def namespace(request: pytest.FixtureRequest, kube: k8s.ApiClient) -> Iterator[str]:
    """A fresh namespace named after the test, deleted afterwards."""
    digest = hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:8]  # noqa: S324 (a name, not security)
    name = f"t-{digest}-{int(time.time() * 1000) % 100000}"
    core = k8s.CoreV1Api(kube)
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)


@pytest.fixture(scope="session")
def git_root() -> Iterator[Path]:
    """Directory holding every bare repository the Git servers export."""
    root = new_workdir("git")
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def git_daemon(git_root: Path) -> Iterator[GitDaemon]:
    server = GitDaemon(git_root)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def git_http(git_root: Path) -> Iterator[HttpServer]:
    """Git smart HTTP with basic auth (GIT_USER / GIT_PASSWORD)."""
    server = HttpServer(git_root=git_root, username=GIT_USER, password=GIT_PASSWORD)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def git_ssh(git_root: Path) -> Iterator[SshGitServer]:
    server = SshGitServer(git_root)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """redis-server with a password (in its ``url``), as ferry's Redis always has."""
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def git_repo(git_root: Path, request: pytest.FixtureRequest) -> Iterator[Callable[[str], GitRepo]]:
    """Factory of fresh repositories: ``repo = git_repo("apps")``; removed after the test."""
    made: list[GitRepo] = []
    digest = hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:6]  # noqa: S324

    def make(name: str) -> GitRepo:
        repo = GitRepo(git_root, f"{name}-{digest}-{len(made)}")
        made.append(repo)
        return repo

    yield make
    for repo in made:
        repo.cleanup()


HELM_USER, HELM_PASSWORD = "charts", "s3cret-helm-password"


@pytest.fixture(scope="session")
def helm_repo(corpus: Path) -> Iterator[HttpServer]:
    """A Helm chart repository over HTTP with basic auth (HELM_USER / HELM_PASSWORD) serving the
    corpus podinfo chart, packaged and indexed by the real helm."""
    root = new_workdir("helm-repo")
    server = HttpServer(static_root=root, username=HELM_USER, password=HELM_PASSWORD)
    helm = str(tool("helm"))
    subprocess.run(
        [helm, "package", str(corpus / "charts" / "podinfo"), "-d", str(root)],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [helm, "repo", "index", str(root), "--url", server.url().rstrip("/")], check=True, capture_output=True
    )
    server.start()
    yield server
    server.stop()


SERVICE_KEY = "test-service-key-0123456789abcdef"
CONTROL_NS = "ferry"
GROUP, VERSION = "ferrycd.io", "v1alpha1"


@dataclass
class RunningServer:
    """A ferry process under test: its gRPC address, metrics URL and process handle."""

    proc: ManagedProcess
    address: str
    metrics_url: str
    http_url: str = ""

    def stop(self) -> None:
        self.proc.stop()
        if os.environ.get("FERRY_TEST_KEEP_LOGS"):
            print(f"\n--- {self.proc.name} log: {self.proc.log_path}")
            return
        shutil.rmtree(self.proc.log_path.parent, ignore_errors=True)

    def metric(self, name: str, /, **labels: str) -> float:
        """Sum of a metric's samples matching ``labels``, read from the process's /metrics."""
        with urllib.request.urlopen(self.metrics_url, timeout=10) as resp:
            text = resp.read().decode()
        total = 0.0
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    total += sample.value
        return total


def start_ferry_process(
    name: str,
    args: list[str],
    *,
    env: dict[str, str] | None = None,
    grpc_port: bool = True,
    mesh: Mesh | None = None,
    wrapper: Sequence[str] = (),
) -> RunningServer:
    """Starts a ferry executable on free ports; returns once it listens (gRPC, else metrics).
    With ``mesh`` the repo server serves TLS and its clients check it (and Redis's password comes
    from the mesh); without, the repo server and its clients are told to use plaintext.
    ``wrapper``: a command the executable runs under (``prlimit --data=…``)."""
    port, metrics_port = free_port(), free_port()
    workdir = new_workdir(name)
    exe = str(Path(sys.executable).parent / name)
    ports = ["--port", str(port)] if grpc_port else []
    proc = ManagedProcess(
        name,
        [*wrapper, exe, *ports, "--metrics-port", str(metrics_port), *args],
        log_path=workdir / f"{name}.log",
        env={**os.environ, **(mesh.env() if mesh else PLAINTEXT_ENV), **(env or {})},
    ).start()
    ready = port if grpc_port else metrics_port
    proc.wait_until(lambda: port_open(ready), timeout=60, what=f"port {ready}")
    return RunningServer(proc, f"127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}/metrics")


def start_controller(
    plane: ControlPlane, namespace: str, repo_server: str, *extra: str, resync: str = "3"
) -> RunningServer:
    """A ferry-controller as the tests run it: on ``plane``, in ``namespace``, with the repo server
    at ``repo_server``, installing the CRDs, a quick resync without jitter; ``extra`` arguments after."""
    return start_ferry_process(
        "ferry-controller",
        [
            "--kubeconfig",
            str(plane.kubeconfig),
            "--namespace",
            namespace,
            "--repo-server",
            repo_server,
            "--install-crds",
            "--app-resync",
            resync,
            "--app-resync-jitter",
            "0",
            *extra,
        ],
        env={"FERRY_SERVICE_KEY": SERVICE_KEY},
        grpc_port=False,
    )


def start_reposerver(
    cache: Path, *flags: str, env: dict[str, str] | None = None, wrapper: Sequence[str] = ()
) -> RunningServer:
    """ferry-reposerver as its own process with the real helm and kustomize, its cache in
    ``cache``, the test service key, and ``flags``."""
    return start_ferry_process(
        "ferry-reposerver",
        [
            "--cache-dir",
            str(cache),
            "--helm-path",
            str(tool("helm")),
            "--kustomize-path",
            str(tool("kustomize")),
            *flags,
        ],
        env={"FERRY_SERVICE_KEY": SERVICE_KEY, **(env or {})},
        wrapper=wrapper,
    )


@pytest.fixture(scope="session")
def reposerver_process() -> Iterator[RunningServer]:
    """ferry-reposerver as its own process, with the real helm and kustomize."""
    cache = new_workdir("reposerver-cache")
    server = start_reposerver(
        cache,
        "--revision-cache-expiration",
        "0",
        "--loglevel",
        "debug",
        # the integration tier's repositories are file:// URLs; tests/security runs a repo
        # server without this flag (the default) for the URL findings
        "--allow-local-repos",
    )
    yield server
    server.stop()
    shutil.rmtree(cache, ignore_errors=True)


@pytest.fixture(scope="session")
def control_namespace(kube: k8s.ApiClient) -> str:
    core = k8s.CoreV1Api(kube)
    try:
        core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=CONTROL_NS)))
    except k8s.ApiException as err:
        if err.status != 409:
            raise
    return CONTROL_NS


@pytest.fixture(scope="session")
def controller_process(
    control_plane: ControlPlane,
    reposerver_process: RunningServer,
    control_namespace: str,
    redis_server: RedisServer,
) -> Iterator[RunningServer]:
    server = start_controller(
        control_plane,
        control_namespace,
        reposerver_process.address,
        "--loglevel",
        "debug",
        "--redis",
        redis_server.url,
    )
    # Ready once it installed the CRDs and the default project (what everything else needs).
    server.proc.wait_until(
        lambda: (
            control_plane.request(
                "GET", f"/apis/{GROUP}/{VERSION}/namespaces/{control_namespace}/appprojects/default"
            )[0]
            == 200
        ),
        timeout=60,
        what="the default AppProject",
    )
    yield server
    server.stop()

"""Every component runs as its own process: it serves gRPC health and reflection (grpcurl lists
its services without .proto files), Prometheus metrics, and exits cleanly on SIGTERM. The repo
server serves TLS only: a plaintext client, or one that does not trust its CA, gets nowhere;
started without a certificate it refuses to start unless told --disable-tls."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ferry_devenv.controlplane import ControlPlane
from ferry_devenv.mesh import PLAINTEXT_ENV, Mesh
from ferry_devenv.process import ManagedProcess, free_port, port_open
from ferry_devenv.tools import tool

SERVERS = {
    "ferry-reposerver": ["ferry.v1.RepoService"],
    "ferry-server": ["ferry.v1.ApplicationService", "ferry.v1.SessionService"],
}


def _start(name: str, args: list[str], tmp_path: Path, mesh: Mesh | None = None) -> ManagedProcess:
    exe = str(Path(sys.executable).parent / name)
    env = {**os.environ, "FERRY_SERVICE_KEY": "e2e-service-key", **(mesh.env() if mesh else PLAINTEXT_ENV)}
    return ManagedProcess(name, [exe, *args], log_path=tmp_path / f"{name}.log", env=env).start()


def grpcurl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tool("grpcurl")), *args], capture_output=True, text=True, check=False, timeout=30
    )


@pytest.mark.parametrize("name", sorted(SERVERS))
def test_grpc_server_serves_health_reflection_and_metrics(
    name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    port, metrics_port = free_port(), free_port()
    args = ["--port", str(port), "--metrics-port", str(metrics_port)]
    if name == "ferry-server":
        # the API server needs the control namespace with ferry's CRDs (the controller installs them)
        request.getfixturevalue("controller_process")
        plane: ControlPlane = request.getfixturevalue("control_plane")
        args += ["--insecure", "--kubeconfig", str(plane.kubeconfig), "--namespace", "ferry"]
    mesh = Mesh.create(tmp_path / "mesh")
    proc = _start(name, args, tmp_path, mesh)
    tls = name == "ferry-reposerver"
    try:
        proc.wait_until(lambda: port_open(port), timeout=30, what="gRPC port")
        if tls:
            credentials = grpc.ssl_channel_credentials(root_certificates=mesh.reposerver.ca.read_bytes())
            channel = grpc.secure_channel(f"127.0.0.1:{port}", credentials)
        else:
            channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        with channel:
            # types-grpcio-health-checking declares the stub without its methods
            health: Any = health_pb2_grpc.HealthStub(channel)
            for service in ["", *SERVERS[name]]:
                reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
                assert reply.status == health_pb2.HealthCheckResponse.SERVING
        connect = ["-cacert", str(mesh.reposerver.ca)] if tls else ["-plaintext"]
        listed = grpcurl(*connect, f"127.0.0.1:{port}", "list")
        assert listed.returncode == 0, listed.stderr
        assert set(SERVERS[name]) | {"grpc.health.v1.Health"} <= set(listed.stdout.split())
        if tls:  # finding 21: `grpcurl -plaintext <reposerver> list` worked, and saw every credential
            plaintext = grpcurl("-plaintext", f"127.0.0.1:{port}", "list")
            assert plaintext.returncode != 0
            assert not set(SERVERS[name]) & set(plaintext.stdout.split())
            untrusted = grpcurl(f"127.0.0.1:{port}", "list")  # the system roots do not know its CA
            assert untrusted.returncode != 0
            assert "certificate" in untrusted.stderr
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as resp:
            assert b"python_info" in resp.read()
    finally:
        proc.stop()
    assert "shutting down" in proc.log_path.read_text()


def test_controller_serves_metrics_and_stops_on_sigterm(control_plane: ControlPlane, tmp_path: Path) -> None:
    metrics_port = free_port()
    args = [
        "--metrics-port",
        str(metrics_port),
        "--kubeconfig",
        str(control_plane.kubeconfig),
        "--namespace",
        "ferry-processes",
        "--install-crds",
    ]
    proc = _start("ferry-controller", args, tmp_path)
    try:
        proc.wait_until(lambda: port_open(metrics_port), timeout=30, what="metrics port")
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as resp:
            assert b"ferry_app_reconcile" in resp.read()
    finally:
        proc.stop(timeout=10)
    assert not proc.alive()
    assert "shutting down" in proc.log_path.read_text()


def test_controller_outside_a_cluster_needs_a_kubeconfig(tmp_path: Path) -> None:
    exe = str(Path(sys.executable).parent / "ferry-controller")
    env = {**os.environ, "FERRY_SERVICE_KEY": "k", **PLAINTEXT_ENV}
    result = subprocess.run(
        [exe, "--metrics-port", "0"], capture_output=True, text=True, env=env, timeout=30, check=False
    )
    assert result.returncode == 2
    assert "give --kubeconfig" in result.stderr


def test_reposerver_refuses_to_start_without_a_service_key(tmp_path: Path) -> None:
    exe = str(Path(sys.executable).parent / "ferry-reposerver")
    env = {k: v for k, v in os.environ.items() if k != "FERRY_SERVICE_KEY"}
    result = subprocess.run(
        [exe, "--port", "0"], capture_output=True, text=True, env=env, timeout=30, check=False
    )
    assert result.returncode == 2
    assert "no service key" in result.stderr


def test_reposerver_and_its_clients_need_tls_or_an_explicit_plaintext(tmp_path: Path) -> None:
    """Nothing falls back to plaintext by itself: no certificate, no CA file, no start."""
    bin_dir = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_")}
    env["FERRY_SERVICE_KEY"] = "k"
    cases = {
        "ferry-reposerver": (["--port", "0"], "no TLS certificate: set --tls-cert-file and --tls-key-file"),
        "ferry-controller": (
            ["--metrics-port", "0"],
            "the repo server is reached over TLS: set --repo-server-ca-file (or --repo-server-plaintext)",
        ),
        "ferry-server": (
            ["--metrics-port", "0"],
            "the repo server is reached over TLS: set --repo-server-ca-file (or --repo-server-plaintext)",
        ),
    }
    for name, (args, message) in cases.items():
        result = subprocess.run(
            [str(bin_dir / name), *args], capture_output=True, text=True, env=env, timeout=30, check=False
        )
        assert result.returncode == 2, (name, result.stderr)
        assert message in result.stderr, (name, result.stderr)

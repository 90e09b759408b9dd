"""Every component runs as its own process: it serves gRPC health and reflection (grpcurl lists
its services without .proto files), Prometheus metrics, and exits cleanly on SIGTERM."""

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

from ferry.devenv.controlplane import ControlPlane
from ferry.devenv.process import ManagedProcess, free_port, port_open
from ferry.devenv.tools import tool

SERVERS = {
    "ferry-reposerver": ["ferry.v1.RepoService"],
    "ferry-server": ["ferry.v1.ApplicationService", "ferry.v1.SessionService"],
}


def _start(name: str, args: list[str], tmp_path: Path) -> ManagedProcess:
    exe = str(Path(sys.executable).parent / name)
    env = {**os.environ, "FERRY_SERVICE_KEY": "e2e-service-key"}
    return ManagedProcess(name, [exe, *args], log_path=tmp_path / f"{name}.log", env=env).start()


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
    proc = _start(name, args, tmp_path)
    try:
        proc.wait_until(lambda: port_open(port), timeout=30, what="gRPC port")
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            # types-grpcio-health-checking declares the stub without its methods
            health: Any = health_pb2_grpc.HealthStub(channel)
            for service in ["", *SERVERS[name]]:
                reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
                assert reply.status == health_pb2.HealthCheckResponse.SERVING
        listed = subprocess.run(
            [str(tool("grpcurl")), "-plaintext", f"127.0.0.1:{port}", "list"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        assert set(SERVERS[name]) | {"grpc.health.v1.Health"} <= set(listed.stdout.split())
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
    env = {**os.environ, "FERRY_SERVICE_KEY": "k"}
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

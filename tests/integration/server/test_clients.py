"""Clients that are not ferry's own: grpcurl through server reflection (a shell script), and a
Node client built from the contracts in protos/."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import google.api
import yaml
from kubernetes import client as k8s

from ferry.v1 import application_pb2
from ferry_devenv.gitrepo import GitRepo
from ferry_devenv.tools import tool
from tests.conftest import RunningServer
from tests.integration.server.conftest import Api, admin_password, secret_data
from tests.integration.server.test_smoke import app_message

HERE = Path(__file__).parent / "clients"
ROOT = Path(__file__).resolve().parents[3]


def ca_file(kube: k8s.ApiClient, tmp_path: Path) -> Path:
    path = tmp_path / "ca.crt"
    path.write_text(secret_data(kube, "ferry-server-tls")["tls.crt"])
    return path


def test_grpcurl_lists_logs_in_and_lists_apps(
    server_process: RunningServer,
    kube: k8s.ApiClient,
    tmp_path: Path,
    admin: Api,
    git_repo: Callable[[str], GitRepo],
    namespace: str,
) -> None:
    repo = git_repo("grpcurl")
    repo.commit(
        "app",
        {"app/cm.yaml": yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "g"}})},
    )
    admin.call(
        "apps",
        "Create",
        application_pb2.ApplicationCreateRequest(application=app_message("via-grpcurl", repo, namespace)),
    )
    result = subprocess.run(
        [
            str(HERE / "grpcurl.sh"),
            str(tool("grpcurl")),
            server_process.address,
            str(ca_file(kube, tmp_path)),
            admin_password(kube),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert "via-grpcurl" in [item["metadata"]["name"] for item in listed["items"]]
    assert listed["items"][0]["spec"]["source"]["repoURL"].startswith("file://")  # Argo CD's JSON names
    admin.call("apps", "Delete", application_pb2.ApplicationDeleteRequest(name="via-grpcurl", cascade=False))


def test_node_client_logs_in_and_gets_an_app(
    server_process: RunningServer,
    kube: k8s.ApiClient,
    tmp_path: Path,
    admin: Api,
    git_repo: Callable[[str], GitRepo],
    namespace: str,
) -> None:
    repo = git_repo("node")
    repo.commit(
        "app",
        {"app/cm.yaml": yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "n"}})},
    )
    admin.call(
        "apps",
        "Create",
        application_pb2.ApplicationCreateRequest(application=app_message("via-node", repo, namespace)),
    )
    node_path = subprocess.run(
        [str(tool("node-grpc-path"))], capture_output=True, text=True, check=True
    ).stdout.strip()
    googleapis = Path(google.api.__path__[0]).parents[1]
    result = subprocess.run(
        [
            "node",
            str(HERE / "node_client.js"),
            server_process.address,
            str(ca_file(kube, tmp_path)),
            str(ROOT / "protos"),
            str(googleapis),
            admin_password(kube),
            "via-node",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "NODE_PATH": node_path},
    )
    assert result.returncode == 0, result.stderr
    application = json.loads(result.stdout)
    assert application["metadata"]["name"] == "via-node"
    assert application["spec"]["destination"]["namespace"] == namespace
    admin.call("apps", "Delete", application_pb2.ApplicationDeleteRequest(name="via-node", cascade=False))

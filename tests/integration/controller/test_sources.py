"""Repository credentials and destination clusters come from labelled Secrets; the resource tree
is published to the shared cache for the API server."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import redis
import yaml
from kubernetes import client as k8s

from ferry.kube.config import ClusterConfig
from ferry.tree import tree_key
from ferry_devenv.controlplane import ControlPlane
from ferry_devenv.gitrepo import GitRepo
from ferry_devenv.servers import HttpServer, RedisServer
from tests.conftest import CONTROL_NS, GIT_PASSWORD, GIT_USER, api_client
from tests.integration.controller.conftest import Apps, health_status, sync_status
from tests.integration.controller.test_automation import AUTO, synced_by_operation
from tests.integration.controller.test_sync import cm, deployment


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def secret(kube: k8s.ApiClient, name: str, kind: str, data: dict[str, str]) -> None:
    body = k8s.V1Secret(
        metadata=k8s.V1ObjectMeta(name=name, labels={"ferrycd.io/secret-type": kind}),
        data={k: b64(v) for k, v in data.items()},
    )
    core = k8s.CoreV1Api(kube)
    try:
        core.create_namespaced_secret(CONTROL_NS, body)
    except k8s.ApiException as err:
        if err.status != 409:
            raise
        core.replace_namespaced_secret(name, CONTROL_NS, body)


def test_private_repository_through_a_credential_template(
    apps: Apps, kube: k8s.ApiClient, git_http: HttpServer, git_repo: Callable[[str], GitRepo], namespace: str
) -> None:
    repo = git_repo("private")
    repo.commit("app", {"app/cm.yaml": yaml.safe_dump(cm("secretive"))})
    url = git_http.git_url(repo.name)
    apps.create("private", url, "app", namespace, syncPolicy=AUTO)
    app = apps.wait(
        "private", lambda a: bool((a.get("status") or {}).get("conditions")), what="access denied"
    )
    assert "access denied" in app["status"]["conditions"][0]["message"]
    secret(
        kube,
        "git-creds",
        "repo-creds",
        {"url": git_http.url(), "username": GIT_USER, "password": GIT_PASSWORD},
    )
    apps.wait("private", synced_by_operation, what="synced with the template's credentials")
    apps.delete("private")
    k8s.CoreV1Api(kube).delete_namespaced_secret("git-creds", CONTROL_NS)


def test_a_registered_second_cluster(
    apps: Apps, kube: k8s.ApiClient, second_plane: ControlPlane, git_repo: Callable[[str], GitRepo]
) -> None:
    target = ClusterConfig.from_kubeconfig(second_plane.kubeconfig)
    config = {
        "bearerToken": target.token,
        "tlsClientConfig": {"caData": base64.b64encode(target.ca_data).decode()},
    }
    secret(
        kube, "cluster-two", "cluster", {"name": "two", "server": target.server, "config": json.dumps(config)}
    )
    other = api_client(second_plane)
    k8s.CoreV1Api(other).create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name="remote")))
    repo = git_repo("remote")
    repo.commit("app", {"app/cm.yaml": yaml.safe_dump(cm("far-away"))})
    apps.create(
        "remote",
        f"file://{repo.bare}",
        "app",
        "remote",
        syncPolicy=AUTO,
        destination={"name": "two", "namespace": "remote"},
    )
    apps.wait("remote", synced_by_operation, what="synced to the second cluster")
    names = {
        c["metadata"]["name"]
        for c in k8s.CoreV1Api(other).list_namespaced_config_map("remote").to_dict()["items"]
    }
    assert "far-away" in names
    apps.delete("remote")
    other.close()


def test_resource_tree_is_published(
    apps: Apps,
    workload_plane: ControlPlane,
    redis_server: RedisServer,
    git_repo: Callable[[str], GitRepo],
    namespace: str,
) -> None:
    repo = git_repo("tree")
    repo.commit("app", {"app/all.yaml": yaml.safe_dump_all([deployment("tree-web")])})
    apps.create("tree", f"file://{repo.bare}", "app", namespace, syncPolicy=AUTO)
    apps.wait(
        "tree",
        lambda a: health_status(a) == "Healthy" and sync_status(a) == "Synced",
        timeout=90,
        what="Healthy",
    )
    client = redis.Redis.from_url(redis_server.url)
    deadline = time.monotonic() + 30
    tree: dict[str, Any] = {}
    while time.monotonic() < deadline:
        raw = client.get("ferry|v1|" + tree_key(CONTROL_NS, "tree"))
        tree = json.loads(raw) if raw else {}
        if {n["kind"] for n in tree.get("nodes", [])} >= {"Deployment", "ReplicaSet", "Pod"}:
            break
        time.sleep(0.5)
    kinds = {n["kind"]: n for n in tree["nodes"]}
    assert kinds["ReplicaSet"]["parentRefs"][0]["kind"] == "Deployment"
    assert kinds["Pod"]["parentRefs"][0]["kind"] == "ReplicaSet"
    assert kinds["Pod"]["health"]["status"] == "Healthy"
    client.close()
    apps.delete("tree")

"""The GitOps loop end to end, as users drive it: Git commits and the ``ferry`` CLI against
ferry-reposerver, ferry-controller and ferry-server as separate processes on a control plane of
this module's own (so faults — a stopped Redis, a stopped repo server, a restarted kube-apiserver —
touch nothing else)."""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from ferry.settings import RESOURCES_FINALIZER
from ferry_devenv.controlplane import ControlPlane
from ferry_devenv.gitrepo import GitRepo
from ferry_devenv.process import free_port, port_open
from ferry_devenv.servers import GitDaemon, HttpServer, RedisServer
from tests.conftest import (
    GROUP,
    HELM_PASSWORD,
    HELM_USER,
    VERSION,
    RunningServer,
    api_client,
)
from tests.e2e.conftest import Deployed
from tests.e2e.test_cli import IN_CLUSTER, Ferry, cm
from tests.integration.controller.test_sync import deployment, job
from tests.integration.server.conftest import admin_password
from tests.integration.server.test_webhook import github_push, signature

NS = "ferry"
WEBHOOK_SECRET = "loop-webhook-secret"
# Long enough that a change seen within a test's wait came from the webhook, not from polling.
SLOW_RESYNC = "600"


@dataclass
class Loop:
    plane: ControlPlane
    kube: k8s.ApiClient
    redis: RedisServer
    reposerver: RunningServer
    controller: RunningServer
    server: RunningServer
    http_port: int
    cli: Ferry

    def restart_controller(self, resync: str) -> None:
        argv = self.controller.proc.argv
        argv[argv.index("--app-resync") + 1] = resync
        self.controller.proc.stop()
        self.controller.proc.start()
        metrics_port = int(self.controller.metrics_url.rsplit(":", 1)[1].split("/")[0])
        self.controller.proc.wait_until(
            lambda: port_open(metrics_port), timeout=60, what="controller metrics"
        )

    def webhook(self, repo_url: str) -> dict[str, Any]:
        body = github_push(repo_url)
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection("127.0.0.1", self.http_port, context=context, timeout=30)
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-Hub-Signature-256": signature(body, WEBHOOK_SECRET),
        }
        conn.request("POST", "/api/webhook", body=body, headers=headers)
        response = conn.getresponse()
        data: dict[str, Any] = json.loads(response.read())
        conn.close()
        assert response.status == 200, data
        return data

    def config_map(
        self, namespace: str, name: str, kube: k8s.ApiClient | None = None
    ) -> dict[str, str] | None:
        try:
            found = k8s.CoreV1Api(kube or self.kube).read_namespaced_config_map(name, namespace)
        except k8s.ApiException as err:
            if err.status == 404:
                return None
            raise
        return dict(found.data or {})

    def create(self, name: str, repo_url: str, path: str, namespace: str, *extra: str) -> None:
        self.cli.ok(
            "app",
            "create",
            name,
            "--repo",
            repo_url,
            "--path",
            path,
            "--dest-server",
            IN_CLUSTER,
            "--dest-namespace",
            namespace,
            "--sync-option",
            "CreateNamespace=true",
            *extra,
        )

    def wait_healthy(self, name: str, timeout: int = 180) -> None:
        self.cli.ok("app", "wait", name, "--sync", "--health", "--operation", "--timeout", str(timeout))


def eventually(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def loop(
    git_daemon: GitDaemon, deployed: Deployed, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Loop]:
    plane = ControlPlane("ferry-loop").start(workloads=True)
    redis = RedisServer().start()
    assert isinstance(redis, RedisServer)
    env = {"FERRY_REDIS_PASSWORD": redis.password}  # this module's Redis, not the session's
    started: list[RunningServer] = []
    try:
        reposerver = deployed.reposerver(
            "--redis",
            redis.address_url,
            # polling sees a new commit once the cached branch head expires (Argo CD: 3 min)
            "--revision-cache-expiration",
            "2",
            env=env,
        )
        started.append(reposerver)
        controller = deployed.controller(
            plane,
            NS,
            reposerver.address,
            "--redis",
            redis.address_url,
            "--loglevel",
            "debug",
            resync=SLOW_RESYNC,
            env=env,
        )
        started.append(controller)
        kube = api_client(plane)
        eventually(lambda: _project_exists(kube), "the CRDs and the default AppProject", 60)
        http_port = free_port()
        server = deployed.server(
            plane, NS, reposerver.address, "--redis", redis.address_url, http_port=http_port, env=env
        )
        started.append(server)
        eventually(lambda: _exists(kube, "ferry-initial-admin-secret"), "the admin password", 60)
        eventually(lambda: _exists(kube, "ferry-secret"), "ferry-secret", 60)
        secret = base64.b64encode(WEBHOOK_SECRET.encode()).decode()
        k8s.CoreV1Api(kube).patch_namespaced_secret(
            "ferry-secret", NS, {"data": {"webhook.github.secret": secret}}
        )
        password = admin_password(kube)
        cli = Ferry(tmp_path_factory.mktemp("loop-cli"), server.address)
        cli.login("admin", password)
        yield Loop(plane, kube, redis, reposerver, controller, server, http_port, cli)
    finally:
        for process in reversed(started):
            process.stop()
        redis.stop()
        plane.stop()


def _project_exists(kube: k8s.ApiClient) -> bool:
    try:
        k8s.CustomObjectsApi(kube).get_namespaced_custom_object(GROUP, VERSION, NS, "appprojects", "default")
    except k8s.ApiException:
        return False
    return True


def _exists(kube: k8s.ApiClient, secret: str) -> bool:
    try:
        k8s.CoreV1Api(kube).read_namespaced_secret(secret, NS)
    except k8s.ApiException:
        return False
    return True


@pytest.fixture
def repo(git_repo: Callable[[str], GitRepo], git_daemon: GitDaemon) -> Callable[[str], tuple[GitRepo, str]]:
    def make(name: str) -> tuple[GitRepo, str]:
        created = git_repo(name)
        return created, git_daemon.url(created.name)

    return make


# --- every kind of source -------------------------------------------------------------------------


def test_every_source_kind_syncs_and_becomes_healthy(
    loop: Loop,
    repo: Callable[[str], tuple[GitRepo, str]],
    corpus: Path,
    helm_repo: HttpServer,
) -> None:
    sources, url = repo("loop-sources")
    sources.copy_tree(corpus / "kustomize", "kustomize")
    sources.copy_tree(corpus / "charts" / "podinfo", "chart")
    sources.write(
        {
            # an overlay of the podinfo base: its replicas count (within the base's HPA's 2..4, so
            # the HPA, without metrics here, leaves it alone) is what the cluster must run
            "kustomize-prod/kustomization.yaml": yaml.safe_dump(
                {
                    "apiVersion": "kustomize.config.k8s.io/v1beta1",
                    "kind": "Kustomization",
                    "resources": ["../kustomize"],
                    "replicas": [{"name": "podinfo", "count": 3}],
                }
            ),
            "directory/web.yaml": yaml.safe_dump(deployment("web")),
            "directory/config.yaml": yaml.safe_dump(cm("config", version="1")),
            "jsonnet/main.jsonnet": (
                "function(greeting='hi') [{apiVersion: 'v1', kind: 'ConfigMap',"
                " metadata: {name: 'from-jsonnet'}, data: {greeting: greeting, env: std.extVar('env')}}]"
            ),
        }
    )
    sources.commit("every kind of source")
    auto = ("--sync-policy", "auto")
    loop.create("src-directory", url, "directory", "src-directory", *auto)
    loop.create("src-kustomize", url, "kustomize-prod", "src-kustomize", *auto, "--nameprefix", "k-")
    loop.create(
        "src-helm-git",
        url,
        "chart",
        "src-helm-git",
        *auto,
        "--helm-set",
        "replicaCount=2",
        "--release-name",
        "podinfo",
    )
    loop.create(
        "src-jsonnet",
        url,
        "jsonnet",
        "src-jsonnet",
        *auto,
        "--jsonnet-ext-var-str",
        "env=prod",
        "--jsonnet-tla-str",
        "greeting=hello",
    )
    loop.cli.ok(
        "repo",
        "add",
        helm_repo.url(),
        "--type",
        "helm",
        "--name",
        "charts",
        "--username",
        HELM_USER,
        "--password",
        HELM_PASSWORD,
    )
    loop.cli.ok(
        "app",
        "create",
        "src-helm-repo",
        "--repo",
        helm_repo.url(),
        "--helm-chart",
        "podinfo",
        "--revision",
        "*",
        "--dest-server",
        IN_CLUSTER,
        "--dest-namespace",
        "src-helm-repo",
        "--sync-option",
        "CreateNamespace=true",
        *auto,
    )
    for name in ("src-directory", "src-kustomize", "src-helm-git", "src-jsonnet", "src-helm-repo"):
        loop.cli.ok("app", "wait", name, "--sync", "--operation", "--timeout", "180")
    apps = k8s.AppsV1Api(loop.kube)
    assert apps.read_namespaced_deployment("web", "src-directory").spec.replicas == 1
    assert apps.read_namespaced_deployment("k-podinfo", "src-kustomize").spec.replicas == 3
    assert apps.read_namespaced_deployment("podinfo", "src-helm-git").spec.replicas == 2
    assert loop.config_map("src-jsonnet", "from-jsonnet") == {"greeting": "hello", "env": "prod"}
    # the release is named after the application, as in Argo CD
    assert apps.read_namespaced_deployment("src-helm-repo-podinfo", "src-helm-repo").spec.replicas == 1
    for name in ("src-directory", "src-helm-git", "src-helm-repo"):
        loop.wait_healthy(name)
    source_types = {
        name: json.loads(loop.cli.ok("app", "get", name, "-o", "json"))["status"]["sourceType"]
        for name in ("src-directory", "src-kustomize", "src-helm-git", "src-jsonnet", "src-helm-repo")
    }
    assert source_types == {
        "src-directory": "Directory",
        "src-kustomize": "Kustomize",
        "src-helm-git": "Helm",
        "src-jsonnet": "Directory",
        "src-helm-repo": "Helm",
    }


# --- commits reach the cluster: webhook, polling; self-heal and prune -----------------------------


def test_a_commit_reaches_the_cluster_by_webhook_then_self_heal_and_prune(
    loop: Loop, repo: Callable[[str], tuple[GitRepo, str]]
) -> None:
    git, url = repo("loop-hooked")
    git.commit(
        "v1", {"app/a.yaml": yaml.safe_dump(cm("a", version="1")), "app/b.yaml": yaml.safe_dump(cm("b"))}
    )
    loop.create("hooked", url, "app", "hooked", "--sync-policy", "auto", "--self-heal", "--auto-prune")
    loop.wait_healthy("hooked")
    assert loop.config_map("hooked", "a") == {"version": "1"}

    git.commit("v2", {"app/a.yaml": yaml.safe_dump(cm("a", version="2"))})
    refreshed = loop.webhook(url)
    assert "hooked" in json.dumps(refreshed)
    eventually(
        lambda: loop.config_map("hooked", "a") == {"version": "2"}, "the webhook's commit in the cluster", 60
    )

    # a manual edit is drift: self-heal puts Git's state back
    k8s.CoreV1Api(loop.kube).patch_namespaced_config_map("a", "hooked", {"data": {"version": "edited"}})
    eventually(lambda: loop.config_map("hooked", "a") == {"version": "2"}, "self-heal of the manual edit", 60)

    # a file removed from Git: its resource is pruned
    git.commit("remove b", {"app/b.yaml": None})
    loop.webhook(url)
    eventually(lambda: loop.config_map("hooked", "b") is None, "b pruned", 60)
    history = json.loads(loop.cli.ok("app", "history", "hooked", "-o", "json"))
    assert [h["revision"] for h in history][-1] == git.head()
    loop.cli.ok("app", "delete", "hooked", "-y")


def test_a_commit_reaches_the_cluster_by_polling(
    loop: Loop, repo: Callable[[str], tuple[GitRepo, str]]
) -> None:
    git, url = repo("loop-polled")
    git.commit("v1", {"app/a.yaml": yaml.safe_dump(cm("a", version="1"))})
    loop.create("polled", url, "app", "polled", "--sync-policy", "auto")
    loop.wait_healthy("polled")
    loop.restart_controller("3")
    try:
        git.commit("v2", {"app/a.yaml": yaml.safe_dump(cm("a", version="2"))})
        eventually(
            lambda: loop.config_map("polled", "a") == {"version": "2"}, "the polled commit in the cluster", 60
        )
    finally:
        loop.restart_controller(SLOW_RESYNC)
        loop.cli.ok("app", "delete", "polled", "-y")


# --- waves and hooks, app of apps -----------------------------------------------------------------


def test_waves_and_hooks_through_the_cli(loop: Loop, repo: Callable[[str], tuple[GitRepo, str]]) -> None:
    git, url = repo("loop-waves")
    git.commit(
        "waves",
        {
            "app/migrate.yaml": yaml.safe_dump(job("migrate", "PreSync")),
            "app/db.yaml": yaml.safe_dump(deployment("db", **{"argocd.argoproj.io/sync-wave": "0"})),
            "app/web.yaml": yaml.safe_dump(deployment("web", **{"argocd.argoproj.io/sync-wave": "1"})),
            "app/smoke.yaml": yaml.safe_dump(job("smoke", "PostSync")),
        },
    )
    loop.create("waves", url, "app", "waves")
    synced = loop.cli.ok("app", "sync", "waves", "--timeout", "180")
    lines = synced.splitlines()

    def first(text: str) -> int:
        return next(i for i, line in enumerate(lines) if text in line)

    assert first("waves/migrate  Succeeded") < first("wave 0  apps/Deployment  waves/db")
    assert first("wave 0  apps/Deployment  waves/db") < first("wave 1  apps/Deployment  waves/web")
    assert first("wave 1  apps/Deployment  waves/web") < first("waves/smoke  Running")
    assert "Phase:              Succeeded" in synced
    loop.cli.ok("app", "delete", "waves", "-y")


def test_app_of_apps(loop: Loop, repo: Callable[[str], tuple[GitRepo, str]]) -> None:
    git, url = repo("loop-apps")
    children = {}
    for child in ("child-a", "child-b"):
        children[f"apps/{child}.yaml"] = yaml.safe_dump(
            {
                "apiVersion": "ferrycd.io/v1alpha1",
                "kind": "Application",
                # as in Argo CD: only a child with the finalizer takes its resources along when deleted
                "metadata": {
                    "name": child,
                    "finalizers": [RESOURCES_FINALIZER] if child == "child-a" else [],
                },
                "spec": {
                    "project": "default",
                    "source": {"repoURL": url, "path": f"workloads/{child}", "targetRevision": "HEAD"},
                    "destination": {"server": IN_CLUSTER, "namespace": child},
                    "syncPolicy": {"automated": {}, "syncOptions": ["CreateNamespace=true"]},
                },
            }
        )
        children[f"workloads/{child}/cm.yaml"] = yaml.safe_dump(cm(f"{child}-config", owner=child))
    git.commit("apps of apps", children)
    loop.create("parent", url, "apps", NS, "--sync-policy", "auto")
    waited = loop.cli.run("app", "wait", "parent", "--sync", "--operation", "--timeout", "60")
    assert waited.code == 0, loop.cli.ok("app", "get", "parent") + waited.err
    names = loop.cli.ok("app", "list", "-o", "name").split()
    assert {"parent", "child-a", "child-b"} <= set(names)
    for child in ("child-a", "child-b"):
        loop.wait_healthy(child)
        assert loop.config_map(child, f"{child}-config") == {"owner": child}
    tree = loop.cli.ok("app", "get", "parent", "-o", "tree")
    assert "Application/child-a" in tree
    assert "Application/child-b" in tree
    # deleting the parent (cascade) deletes the children, which delete their resources
    loop.cli.ok("app", "delete", "parent", "-y", "--wait", "--timeout", "120", timeout=180)
    eventually(
        lambda: loop.config_map("child-a", "child-a-config") is None, "child-a's resources deleted", 120
    )
    assert loop.config_map("child-b", "child-b-config") == {"owner": "child-b"}
    assert not {"parent", "child-a", "child-b"} & set(loop.cli.ok("app", "list", "-o", "name").split())


# --- two clusters ---------------------------------------------------------------------------------


def test_one_app_on_each_of_two_clusters(
    loop: Loop, repo: Callable[[str], tuple[GitRepo, str]], second_plane: ControlPlane
) -> None:
    added = loop.cli.run(
        "cluster",
        "add",
        second_plane.name,
        "--kubeconfig",
        str(second_plane.kubeconfig),
        "--name",
        "second",
        "-y",
    )
    assert added.code == 0, added.err
    git, url = repo("loop-two")
    git.commit("two", {"app/where.yaml": yaml.safe_dump(cm("where", cluster="any"))})
    loop.create("on-first", url, "app", "two-clusters", "--sync-policy", "auto")
    loop.cli.ok(
        "app",
        "create",
        "on-second",
        "--repo",
        url,
        "--path",
        "app",
        "--dest-name",
        "second",
        "--dest-namespace",
        "two-clusters",
        "--sync-option",
        "CreateNamespace=true",
        "--sync-policy",
        "auto",
    )
    try:
        loop.wait_healthy("on-first")
        loop.wait_healthy("on-second")
        assert loop.config_map("two-clusters", "where") == {"cluster": "any"}
        assert loop.config_map("two-clusters", "where", api_client(second_plane)) == {"cluster": "any"}
        listed = {row.split()[0]: row.split()[1] for row in loop.cli.ok("app", "list").splitlines()[1:]}
        assert listed["on-second"] == "second"
    finally:
        loop.cli.ok("app", "delete", "on-first", "on-second", "-y", "--wait")
        loop.cli.ok("cluster", "rm", "second", "-y")


# --- faults: nothing lost -------------------------------------------------------------------------


def test_redis_stopped_ferry_keeps_working(loop: Loop, repo: Callable[[str], tuple[GitRepo, str]]) -> None:
    git, url = repo("loop-redis")
    git.commit("v1", {"app/a.yaml": yaml.safe_dump(cm("a", version="1"))})
    loop.redis.pause()
    try:
        loop.create("no-redis", url, "app", "no-redis", "--sync-policy", "auto")
        loop.wait_healthy("no-redis")
        git.commit("v2", {"app/a.yaml": yaml.safe_dump(cm("a", version="2"))})
        loop.webhook(url)
        eventually(
            lambda: loop.config_map("no-redis", "a") == {"version": "2"}, "a commit synced without Redis"
        )
        assert "ConfigMap/a" in loop.cli.ok("app", "get", "no-redis", "-o", "tree")
    finally:
        loop.redis.resume()
    git.commit("v3", {"app/a.yaml": yaml.safe_dump(cm("a", version="3"))})
    loop.webhook(url)
    eventually(
        lambda: loop.config_map("no-redis", "a") == {"version": "3"}, "a commit synced with Redis back"
    )
    loop.cli.ok("app", "delete", "no-redis", "-y")


def test_repo_server_stopped_gives_a_comparison_error_then_recovers(
    loop: Loop, repo: Callable[[str], tuple[GitRepo, str]]
) -> None:
    git, url = repo("loop-outage")
    git.commit("v1", {"app/a.yaml": yaml.safe_dump(cm("a", version="1"))})
    loop.create("outage", url, "app", "outage", "--sync-policy", "auto")
    loop.wait_healthy("outage")

    def conditions() -> list[str]:
        status = json.loads(loop.cli.ok("app", "get", "outage", "-o", "json")).get("status") or {}
        return [c["type"] for c in status.get("conditions") or []]

    loop.reposerver.proc.stop()
    try:
        git.commit("v2", {"app/a.yaml": yaml.safe_dump(cm("a", version="2"))})
        loop.cli.run("app", "get", "outage", "--hard-refresh")
        eventually(
            lambda: "ComparisonError" in conditions(), "a ComparisonError while the repo server is down", 60
        )
        assert "ComparisonError" in loop.cli.ok("app", "get", "outage")
    finally:
        loop.reposerver.proc.start()
        port = int(loop.reposerver.address.rsplit(":", 1)[1])
        loop.reposerver.proc.wait_until(lambda: port_open(port), timeout=60, what="repo server back")
    loop.cli.run("app", "get", "outage", "--hard-refresh")
    eventually(lambda: "ComparisonError" not in conditions(), "the ComparisonError cleared", 90)
    eventually(
        lambda: loop.config_map("outage", "a") == {"version": "2"}, "the commit synced after the outage", 60
    )
    loop.cli.ok("app", "delete", "outage", "-y")


def test_kube_apiserver_restart_misses_nothing(
    loop: Loop, repo: Callable[[str], tuple[GitRepo, str]]
) -> None:
    git, url = repo("loop-restart")
    git.commit("v1", {"app/a.yaml": yaml.safe_dump(cm("a", version="1"))})
    loop.create("restart", url, "app", "restart", "--sync-policy", "auto", "--self-heal")
    loop.wait_healthy("restart")
    loop.plane.restart_apiserver()
    # right after the restart: drift in the cluster and a new application, both must be seen
    k8s.CoreV1Api(loop.kube).patch_namespaced_config_map("a", "restart", {"data": {"version": "edited"}})
    loop.create("after-restart", url, "app", "after-restart", "--sync-policy", "auto")
    eventually(lambda: loop.config_map("restart", "a") == {"version": "1"}, "self-heal after the restart", 90)
    loop.wait_healthy("after-restart")
    assert loop.config_map("after-restart", "a") == {"version": "1"}
    loop.cli.ok("app", "delete", "restart", "after-restart", "-y")

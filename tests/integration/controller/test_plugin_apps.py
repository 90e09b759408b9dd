"""An app of apps mixing a plugin child and a directory child syncs: a controller of its own (on a
fresh control namespace) renders through a repo server whose plugin is a real ferry-cmp-server,
and a plugin app reports the plugin's failure as a ComparisonError naming it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from ferry_devenv.controlplane import ControlPlane
from ferry_devenv.gitrepo import GitRepo
from tests.conftest import GROUP, VERSION, RunningServer, start_controller
from tests.integration.controller.conftest import Apps, health_status, sync_status
from tests.plugins import ENV_CM, plugin_host, reposerver_for

IN_CLUSTER = "https://kubernetes.default.svc"


@pytest.fixture
def plugin_controller(control_plane: ControlPlane, namespace: str) -> Iterator[RunningServer]:
    """A controller for ``namespace`` (its control namespace) with a plugin-enabled repo server."""
    with plugin_host("plugin-apps") as host, reposerver_for(host) as (reposerver, _cache):
        host.start("envcm", ENV_CM)
        controller = start_controller(control_plane, namespace, reposerver.address, "--loglevel", "debug")
        controller.proc.wait_until(
            lambda: (
                control_plane.request(
                    "GET", f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/appprojects/default"
                )[0]
                == 200
            ),
            timeout=60,
            what="the default AppProject",
        )
        try:
            yield controller
        finally:
            controller.stop()


class NamespacedApps(Apps):
    """Apps of a control namespace other than the session's."""

    def __init__(self, kube: k8s.ApiClient, namespace: str) -> None:
        super().__init__(kube)
        self.ns = namespace

    def get(self, name: str) -> dict[str, Any]:
        """The app; {} while it does not exist yet (a child its parent has not synced)."""
        try:
            app = self.api.get_namespaced_custom_object(GROUP, VERSION, self.ns, "applications", name)
        except k8s.ApiException as err:
            if err.status == 404:
                return {}
            raise
        assert isinstance(app, dict)
        return app

    def create_body(self, body: dict[str, Any]) -> None:
        self.api.create_namespaced_custom_object(GROUP, VERSION, self.ns, "applications", body)


def child(name: str, url: str, path: str, namespace: str, **source: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Application",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "project": "default",
            "source": {"repoURL": url, "path": path, "targetRevision": "HEAD", **source},
            "destination": {"server": IN_CLUSTER, "namespace": namespace},
            "syncPolicy": {"automated": {}},
        },
    }


def test_app_of_apps_with_a_plugin_child_and_a_directory_child_syncs(
    plugin_controller: RunningServer,
    kube: k8s.ApiClient,
    namespace: str,
    git_repo: Callable[[str], GitRepo],
) -> None:
    repo = git_repo("plugin-apps")
    url = f"file://{repo.bare}"
    plugin = {"name": "envcm", "env": [{"name": "STAGE", "value": "prod"}]}
    repo.commit(
        "apps",
        {
            "apps/plugin-child.yaml": yaml.safe_dump(
                child("plugin-child", url, "workloads/generated", namespace, plugin=plugin)
            ),
            "apps/dir-child.yaml": yaml.safe_dump(child("dir-child", url, "workloads/plain", namespace)),
            "apps/broken-child.yaml": yaml.safe_dump(
                child("broken-child", url, "workloads/plain", namespace, plugin={"name": "missing"})
            ),
            "workloads/generated/input.txt": "x\n",
            "workloads/plain/cm.yaml": yaml.safe_dump(
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "plain"}, "data": {"a": "1"}}
            ),
        },
    )
    apps = NamespacedApps(kube, namespace)
    apps.create_body(child("parent", url, "apps", namespace))
    for name in ("plugin-child", "dir-child"):
        apps.wait(
            name,
            lambda a: sync_status(a) == "Synced" and health_status(a) == "Healthy",
            timeout=120,
            what=f"{name} synced and healthy",
        )
    core = k8s.CoreV1Api(kube)
    generated = core.read_namespaced_config_map("plugin-child-env", namespace).data or {}
    assert generated["ARGOCD_ENV_STAGE"] == "prod"
    assert generated["ARGOCD_APP_NAMESPACE"] == namespace
    assert core.read_namespaced_config_map("plain", namespace).data == {"a": "1"}
    broken = apps.wait(
        "broken-child",
        lambda a: any(
            c.get("type") == "ComparisonError" for c in (a.get("status") or {}).get("conditions") or []
        ),
        timeout=60,
        what="a ComparisonError",
    )
    messages = [c["message"] for c in broken["status"]["conditions"] if c["type"] == "ComparisonError"]
    assert any("config management plugin 'missing' is not installed" in m for m in messages), messages
    parent = apps.wait("parent", lambda a: sync_status(a) == "Synced", timeout=60, what="parent synced")
    assert {r["name"] for r in parent["status"]["resources"]} == {"plugin-child", "dir-child", "broken-child"}

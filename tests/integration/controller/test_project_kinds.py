"""An AppProject's kind rules (cluster-scoped allow list, namespace-scoped deny list): a
violation is a condition (in Argo CD's words) and fails the sync before anything is applied,
each refused object with its own SyncFailed result."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import yaml
from kubernetes import client as k8s

from ferry_devenv.gitrepo import GitRepo
from tests.integration.controller.conftest import Apps, app_project, request_sync, wait_operation

PROJECT = "restricted"


@pytest.fixture
def restricted(kube: k8s.ApiClient) -> Iterator[str]:
    spec = {
        "sourceRepos": ["*"],
        "destinations": [{"server": "*", "namespace": "*"}],
        # no clusterResourceWhitelist: no cluster-scoped kind is allowed
        "namespaceResourceBlacklist": [{"group": "", "kind": "Secret"}],
    }
    with app_project(kube, PROJECT, spec) as name:
        yield name


def test_forbidden_kinds_are_a_condition_and_never_applied(
    apps: Apps, kube: k8s.ApiClient, restricted: str, git_repo: Callable[[str], GitRepo], namespace: str
) -> None:
    repo = git_repo("kinds")
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": f"{namespace}-x"},
    }
    repo.commit(
        "kinds",
        {
            "app/cm.yaml": yaml.safe_dump(
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "allowed"}}
            ),
            "app/secret.yaml": yaml.safe_dump(
                {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "nope"}}
            ),
            "app/role.yaml": yaml.safe_dump(role),
        },
    )
    apps.create("kinds", f"file://{repo.bare}", "app", namespace, project=restricted)
    app = apps.wait(
        "kinds",
        lambda a: any(
            c["type"] == "InvalidSpecError" for c in (a.get("status") or {}).get("conditions") or []
        ),
        what="a condition for the forbidden kinds",
    )
    messages = sorted(c["message"] for c in app["status"]["conditions"] if c["type"] == "InvalidSpecError")
    assert messages == [
        "resource :Secret is not permitted in project restricted",
        "resource rbac.authorization.k8s.io:ClusterRole is not permitted in project restricted",
    ]
    request_sync(apps, "kinds")
    done = wait_operation(apps, "kinds")
    state = done["status"]["operationState"]
    assert state["phase"] == "Failed"
    assert state["message"] == "one or more synchronization tasks are not valid"
    assert sorted((r["kind"], r["status"], r["message"]) for r in state["syncResult"]["resources"]) == [
        ("ClusterRole", "SyncFailed", messages[1]),
        ("Secret", "SyncFailed", messages[0]),
    ]
    core = k8s.CoreV1Api(kube)
    assert "allowed" not in [
        c.metadata.name for c in core.list_namespaced_config_map(namespace).items if c.metadata
    ]
    with pytest.raises(k8s.ApiException):
        k8s.RbacAuthorizationV1Api(kube).read_cluster_role(f"{namespace}-x")
    apps.delete("kinds")

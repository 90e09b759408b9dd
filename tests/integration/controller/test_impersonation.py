"""Sync impersonation (Argo CD >= 2.13): with ferry-cm's application.sync.impersonation.enabled,
a sync applies as the service account the project's destinationServiceAccounts give its
destination, so the cluster's own RBAC bounds each team. Real RBAC on the real kube-apiserver:
the controller itself is an administrator, so a refusal can only come from the impersonated
account, and a destination no entry matches fails the operation in Argo CD's words."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import yaml
from kubernetes import client as k8s

from ferry_devenv.gitrepo import GitRepo
from tests.integration.controller.conftest import (
    Apps,
    app_project,
    ferry_cm_setting,
    operation_phase,
    request_sync,
    wait_operation,
)
from tests.integration.controller.test_sync import cm, configmaps

IN_CLUSTER = "https://kubernetes.default.svc"
SETTING = "application.sync.impersonation.enabled"


def message(app: dict[str, Any]) -> str:
    return str(((app.get("status") or {}).get("operationState") or {}).get("message", ""))


def deployer(kube: k8s.ApiClient, namespace: str) -> None:
    """ServiceAccount deployer in ``namespace``, allowed ConfigMaps only."""
    core, rbac = k8s.CoreV1Api(kube), k8s.RbacAuthorizationV1Api(kube)
    meta = k8s.V1ObjectMeta(name="deployer")
    core.create_namespaced_service_account(namespace, k8s.V1ServiceAccount(metadata=meta))
    rule = k8s.V1PolicyRule(api_groups=[""], resources=["configmaps"], verbs=["*"])
    rbac.create_namespaced_role(namespace, k8s.V1Role(metadata=meta, rules=[rule]))
    rbac.create_namespaced_role_binding(
        namespace,
        k8s.V1RoleBinding(
            metadata=meta,
            role_ref=k8s.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name="deployer"),
            subjects=[k8s.RbacV1Subject(kind="ServiceAccount", name="deployer", namespace=namespace)],
        ),
    )


def test_a_sync_applies_as_the_destinations_service_account(
    apps: Apps, kube: k8s.ApiClient, git_repo: Callable[[str], GitRepo], namespace: str
) -> None:
    deployer(kube, namespace)
    repo = git_repo("impersonated")
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "not-allowed"},
        "stringData": {"k": "v"},
    }
    repo.commit(
        "apps",
        {
            "allowed/cm.yaml": yaml.safe_dump(cm("as-deployer")),
            "refused/cm.yaml": yaml.safe_dump(cm("with-secret")),
            "refused/secret.yaml": yaml.safe_dump(secret),
        },
    )
    suffix = uuid.uuid4().hex[:6]
    destinations = [{"server": IN_CLUSTER, "namespace": namespace}]
    with (
        app_project(kube, f"imp-{suffix}", {
            "sourceRepos": ["*"],
            "destinations": destinations,
            "destinationServiceAccounts": [
                {"server": IN_CLUSTER, "namespace": "other-*", "defaultServiceAccount": "elsewhere"},
                {"server": "https://kubernetes.*", "namespace": namespace,
                 "defaultServiceAccount": "deployer"},
            ],
        }) as project,
        app_project(kube, f"imp-none-{suffix}", {"sourceRepos": ["*"], "destinations": destinations}) as bare,
        ferry_cm_setting(kube, SETTING, "true"),
    ):  # fmt: skip
        # no entry for the destination: the operation fails in Argo CD's words. Asked until it
        # does, since the controller sees the setting through its watch of ferry-cm
        unmatched = f"imp-none-{suffix}"
        apps.create(unmatched, f"file://{repo.bare}", "allowed", namespace, project=bare)
        expected = (
            "failed to find a matching service account to impersonate: no matching service account found "
            f"for destination server {IN_CLUSTER} and namespace {namespace}"
        )
        for _ in range(20):
            request_sync(apps, unmatched)
            app = wait_operation(apps, unmatched)
            if operation_phase(app) == "Error":
                break
        assert (operation_phase(app), message(app)) == ("Error", expected)

        allowed = f"imp-ok-{suffix}"
        apps.create(allowed, f"file://{repo.bare}", "allowed", namespace, project=project)
        request_sync(apps, allowed)
        assert operation_phase(wait_operation(apps, allowed)) == "Succeeded"
        assert "as-deployer" in configmaps(kube, namespace)

        refused = f"imp-no-{suffix}"
        apps.create(refused, f"file://{repo.bare}", "refused", namespace, project=project)
        request_sync(apps, refused)
        app = wait_operation(apps, refused)
        assert operation_phase(app) in ("Failed", "Error"), app["status"]
        results = {r["name"]: r for r in app["status"]["operationState"]["syncResult"]["resources"]}
        assert f"system:serviceaccount:{namespace}:deployer" in results["not-allowed"]["message"]
        assert 'cannot patch resource "secrets"' in results["not-allowed"]["message"]  # applied server-side
        for name in (unmatched, allowed, refused):
            apps.delete(name)

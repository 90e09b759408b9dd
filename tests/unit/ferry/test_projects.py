"""AppProject rules for one object of an app (Argo CD's validateSyncPermissions: its kind, and the
namespace of a namespaced object on the app's cluster) and the checks of a project's spec."""

from __future__ import annotations

from typing import Any

import pytest

from ferry.projects import (
    DEFAULT_PROJECT,
    destination_permitted,
    resource_refusal,
    spec_problems,
    sync_service_account,
)

IN_CLUSTER = "https://kubernetes.default.svc"


def team_a(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "team-a"},
        "spec": {"destinations": [{"server": IN_CLUSTER, "namespace": "team-a"}], **spec},
    }


def refusal(
    project: dict[str, Any],
    kind: str = "ConfigMap",
    namespace: str = "team-a",
    *,
    group: str = "",
    namespaced: bool = True,
    server: str = IN_CLUSTER,
    cluster_name: str = "in-cluster",
) -> str | None:
    return resource_refusal(
        project,
        server=server,
        cluster_name=cluster_name,
        group=group,
        kind=kind,
        namespace=namespace,
        namespaced=namespaced,
    )


def test_the_default_project_allows_everything() -> None:
    assert refusal(DEFAULT_PROJECT, namespace="kube-system") is None
    assert (
        refusal(DEFAULT_PROJECT, "ClusterRole", "", group="rbac.authorization.k8s.io", namespaced=False)
        is None
    )


def test_an_object_naming_another_namespace_is_refused_with_argo_cds_words() -> None:
    assert refusal(team_a()) is None
    assert (
        refusal(team_a(), namespace="kube-system")
        == "namespace kube-system is not permitted in project 'team-a'"
    )
    assert refusal(team_a(), namespace="ferry") == "namespace ferry is not permitted in project 'team-a'"
    # a namespaced object left without a namespace (the app has no destination namespace)
    assert refusal(team_a(), namespace="") == "namespace  is not permitted in project 'team-a'"


def test_the_cluster_counts_too() -> None:
    assert refusal(team_a(), server="https://other:6443", cluster_name="other") == (
        "namespace team-a is not permitted in project 'team-a'"
    )
    by_name = {"metadata": {"name": "p"}, "spec": {"destinations": [{"name": "prod", "namespace": "*"}]}}
    assert refusal(by_name, server="https://prod:6443", cluster_name="prod") is None
    assert refusal(by_name, server="https://dev:6443", cluster_name="dev") is not None


def test_cluster_scoped_kinds_need_the_allow_list_and_no_namespace_check() -> None:
    def role(project: dict[str, Any]) -> str | None:
        return refusal(project, "ClusterRole", "", group="rbac.authorization.k8s.io", namespaced=False)

    assert (
        role(team_a()) == "resource rbac.authorization.k8s.io:ClusterRole is not permitted in project team-a"
    )
    allowed = team_a(clusterResourceWhitelist=[{"group": "rbac.authorization.k8s.io", "kind": "*"}])
    assert role(allowed) is None
    denied = team_a(
        clusterResourceWhitelist=[{"group": "*", "kind": "*"}],
        clusterResourceBlacklist=[{"group": "rbac.authorization.k8s.io", "kind": "ClusterRole"}],
    )
    assert role(denied) is not None
    assert (
        refusal(team_a(), "Namespace", "", namespaced=False)
        == "resource :Namespace is not permitted in project team-a"
    )


def test_namespaced_kinds_follow_their_lists_before_the_namespace() -> None:
    only_configmaps = team_a(namespaceResourceWhitelist=[{"group": "", "kind": "ConfigMap"}])
    assert refusal(only_configmaps) is None
    assert refusal(only_configmaps, "Deployment", group="apps") == (
        "resource apps:Deployment is not permitted in project team-a"
    )
    no_secrets = team_a(namespaceResourceBlacklist=[{"group": "", "kind": "Secret"}])
    assert refusal(no_secrets, "Secret") == "resource :Secret is not permitted in project team-a"
    assert (
        refusal(no_secrets, "Secret", "kube-system") == "resource :Secret is not permitted in project team-a"
    )


@pytest.mark.parametrize(
    ("destinations", "namespace", "permitted"),
    [
        ([{"server": "*", "namespace": "team-*"}], "team-a", True),
        ([{"server": "*", "namespace": "team-*"}], "kube-system", False),
        ([{"server": "*"}], "anything", True),  # no namespace pattern: every namespace
        # Argo CD's deny patterns: a "!" entry the destination does not satisfy refuses, and wins
        (
            [{"server": "*", "namespace": "*"}, {"server": "*", "namespace": "!kube-system"}],
            "kube-system",
            False,
        ),
        ([{"server": "*", "namespace": "*"}, {"server": "*", "namespace": "!kube-system"}], "team-a", True),
        ([{"server": "!https://prod", "namespace": "*"}], "team-a", True),
        (
            [{"server": "*", "namespace": "*"}, {"server": "!" + IN_CLUSTER, "namespace": "*"}],
            "team-a",
            False,
        ),
    ],
)
def test_destination_globs_and_deny_patterns(
    destinations: list[dict[str, str]], namespace: str, permitted: bool
) -> None:
    project = {"metadata": {"name": "p"}, "spec": {"destinations": destinations}}
    assert destination_permitted(project, IN_CLUSTER, "in-cluster", namespace) is permitted


def test_destination_service_accounts_are_validated_as_argo_cd_does() -> None:
    good = team_a(
        destinationServiceAccounts=[
            {"server": IN_CLUSTER, "namespace": "team-a", "defaultServiceAccount": "team-a-deployer"},
            {"server": "*", "namespace": "*", "defaultServiceAccount": "team-a:deployer"},
        ]
    )
    assert spec_problems(good) == []
    bad = team_a(
        destinations=[{"server": "!*", "namespace": "team-a"}],
        destinationServiceAccounts=[
            {"server": "!" + IN_CLUSTER, "namespace": "team-a", "defaultServiceAccount": "sa"},
            {"server": IN_CLUSTER, "namespace": "!team-a", "defaultServiceAccount": "sa"},
            {"server": IN_CLUSTER, "namespace": "x", "defaultServiceAccount": "  "},
            {"server": IN_CLUSTER, "namespace": "y", "defaultServiceAccount": "system:*"},
            {"server": IN_CLUSTER, "namespace": "y", "defaultServiceAccount": "sa"},
            {"namespace": "z", "defaultServiceAccount": "sa"},
        ],
    )
    problems = spec_problems(bad)
    assert problems[0] == "spec.destinations[0].server has an invalid format, '!*'"
    assert any("destinationServiceAccounts[0].server has an invalid format" in p for p in problems)
    assert any("destinationServiceAccounts[1].namespace has an invalid format" in p for p in problems)
    assert any("destinationServiceAccounts[2].defaultServiceAccount" in p for p in problems)
    assert any("destinationServiceAccounts[3].defaultServiceAccount" in p for p in problems)
    assert any(
        "destinationServiceAccounts[4]: destinationServiceAccount" in p and "already added" in p
        for p in problems
    )
    assert any("destinationServiceAccounts[5].server is required" in p for p in problems)


def test_sync_service_account_is_the_first_matching_entry_as_argo_cd_derives_it() -> None:
    project = {
        "spec": {
            "destinationServiceAccounts": [
                {
                    "server": "https://kubernetes.default.svc",
                    "namespace": "team-*",
                    "defaultServiceAccount": "team",
                },
                {"server": "*", "namespace": "shared", "defaultServiceAccount": "ops:deployer"},
                {"server": "*", "namespace": "*", "defaultServiceAccount": "fallback"},
            ]
        }
    }
    local = "https://kubernetes.default.svc"
    assert sync_service_account(project, local, "team-a") == "system:serviceaccount:team-a:team"
    assert (
        sync_service_account(project, "https://prod:6443", "shared") == "system:serviceaccount:ops:deployer"
    )
    assert sync_service_account(project, "https://prod:6443", "x") == "system:serviceaccount:x:fallback"
    assert sync_service_account({"spec": {}}, local, "team-a") is None

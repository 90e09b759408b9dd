"""Sync options — Argo CD's test/e2e/sync_options_test.go and selective_sync_test.go:
ApplyOutOfSyncOnly (the requests it saves, counted by the API server), Validate=false,
ServerSideApply=true|false, CreateNamespace, Replace with Force, Prune=confirm through the CLI,
a CRD and its custom resource in one sync, selective sync, and options ferry does not know."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from kubernetes import client as k8s

from tests.e2e.conformance.conftest import (
    HOOK,
    OPTIONS,
    WAVE,
    Scenario,
    cm,
    conditions,
    deployment,
    health,
    job,
    message,
    phase,
    result,
    results,
    sync_status,
)
from tests.e2e.test_cli import Ferry
from tests.integration.server.conftest import admin_password


def api_requests(scenario: Scenario, **labels: str) -> float:
    """apiserver_request_total summed over the series with these labels."""
    total = 0.0
    for line in scenario.harness.plane.metrics().splitlines():
        if line.startswith("apiserver_request_total{") and all(
            f'{k}="{v}"' in line for k, v in labels.items()
        ):
            total += float(line.rsplit(" ", 1)[1])
    return total


def real_configmap_patches(scenario: Scenario) -> float:
    """Server-side applies of ConfigMaps that changed something (not dry runs): verb APPLY."""
    return api_requests(scenario, verb="APPLY", resource="configmaps", dry_run="")


def test_sync_with_apply_out_of_sync_only(scenario: Scenario) -> None:
    """TestSyncWithApplyOutOfSyncOnly: only the changed object is applied (and dry-run); the
    API server counts the patches saved."""
    names = [f"cm-{i}" for i in range(5)]
    name, repo = scenario.app("outofsync", [cm(n) for n in names])
    assert phase(scenario.sync_and_finish(name)) == "Succeeded"
    changed = [cm(n) for n in names]
    changed[2]["data"] = {"name": "changed"}

    # without the option: every object is applied again
    scenario.commit(repo, "app", changed)
    scenario.refresh(name, repo)
    audit, before = scenario.audit(), real_configmap_patches(scenario)
    app = scenario.sync_and_finish(name)
    assert phase(app) == "Succeeded"
    assert real_configmap_patches(scenario) - before == 5
    assert len(audit.applied(scenario.namespace)) == 5

    # with it: only what is out of sync
    changed[4]["data"] = {"name": "changed too"}
    scenario.commit(repo, "app", changed)
    scenario.refresh(name, repo)
    audit, before = scenario.audit(), real_configmap_patches(scenario)
    app = scenario.sync_and_finish(name, syncOptions=["ApplyOutOfSyncOnly=true"])
    assert phase(app) == "Succeeded"
    assert [(r["name"], r["status"], r["hookPhase"]) for r in results(app)] == [("cm-4", "Synced", "Running")]
    assert real_configmap_patches(scenario) - before == 1  # four real applies saved
    assert audit.applied(scenario.namespace) == [("patch", "configmaps", "cm-4")]
    scenario.wait(name, lambda a: sync_status(a) == "Synced", what="Synced")
    scenario.health_is(name, "Healthy")


def test_sync_options_validate_false(scenario: Scenario) -> None:
    """TestSyncOptionsValidateFalse / ...ValidateTrue: an unknown field fails the (strict) dry run;
    with Validate=false it is applied with fieldValidation Ignore."""
    invalid = {**cm("invalid-cm"), "notAField": True}
    strict, _ = scenario.app("validate", [invalid])
    app = scenario.sync_and_finish(strict)
    assert phase(app) == "Failed"
    assert message(app) == "one or more objects failed to apply (dry run); nothing was applied"
    assert "notAField" in result(app, "invalid-cm")["message"]
    assert not scenario.exists("configmaps", "invalid-cm")
    scenario.health_is(strict, "Missing")
    lenient = {**invalid, "metadata": {"name": "lenient-cm", "annotations": {OPTIONS: "Validate=false"}}}
    relaxed, _ = scenario.app("novalidate", [lenient])
    app = scenario.sync_and_finish(relaxed)
    assert phase(app) == "Succeeded", app["status"]["operationState"]
    assert result(app, "lenient-cm")["message"] == (
        "configmap/lenient-cm applied (Validate=false: created or merge-patched, unknown fields dropped)"
    )
    assert scenario.exists("configmaps", "lenient-cm")
    scenario.health_is(relaxed, "Healthy")


def test_namespace_creation_with_server_side_apply(scenario: Scenario) -> None:
    """TestSyncWithCreateNamespace / TestNamespaceCreationWithSSA: the namespace is created
    first (with managedNamespaceMetadata), ServerSideApply=true is what ferry does anyway, and
    ServerSideApply=false is accepted and said to change nothing."""
    target = f"{scenario.namespace}-created"
    repo = scenario.repo({"app": [cm("inside"), cm("legacy", **{OPTIONS: "ServerSideApply=false"})]})
    name = scenario.app_on(
        "createns",
        repo,
        "app",
        namespace=target,
        syncPolicy={
            "syncOptions": ["CreateNamespace=true", "ServerSideApply=true"],
            "managedNamespaceMetadata": {"labels": {"team": "conformance"}},
        },
    )
    try:
        audit = scenario.audit()
        app = scenario.sync_and_finish(name)
        assert phase(app) == "Succeeded", app["status"]["operationState"]
        assert audit.applied(target) == [
            ("patch", "namespaces", target),
            ("patch", "configmaps", "inside"),
            ("patch", "configmaps", "legacy"),
        ]
        assert result(app, "inside")["message"] == "configmap/inside serverside-applied"
        assert result(app, "legacy")["message"] == (
            "configmap/legacy serverside-applied (ServerSideApply=false: ferry always applies server-side)"
        )
        created = scenario.core().read_namespace(target).to_dict()
        assert created["metadata"]["labels"]["team"] == "conformance"
        assert conditions(scenario.get(name), "SyncOptionWarning") == []
        scenario.health_is(name, "Healthy")
    finally:
        with contextlib.suppress(k8s.ApiException):
            scenario.core().delete_namespace(target)


def test_sync_with_force_replace(scenario: Scenario) -> None:
    """TestSyncWithForceReplace: an immutable selector change with Replace=true,Force=true is
    deleted and created again."""
    name, repo = scenario.app("forcereplace", [deployment("guestbook")])
    assert phase(scenario.sync_and_finish(name)) == "Succeeded"
    first = scenario.harness.plane.request(
        "GET", f"/apis/apps/v1/namespaces/{scenario.namespace}/deployments/guestbook"
    )[1]
    changed = deployment("guestbook", replicas=2)
    changed["metadata"]["annotations"] = {OPTIONS: "Force=true,Replace=true"}
    changed["spec"]["selector"]["matchLabels"]["env"] = "e2e"
    changed["spec"]["template"]["metadata"]["labels"]["env"] = "e2e"
    scenario.commit(repo, "app", [changed])
    scenario.refresh(name, repo)
    audit = scenario.audit()
    app = scenario.sync_and_finish(name)
    assert phase(app) == "Succeeded", app["status"]["operationState"]
    assert [w for w in audit.applied(scenario.namespace) if w[1] == "deployments"] == [
        ("delete", "deployments", "guestbook"),
        ("patch", "deployments", "guestbook"),
    ]
    second = scenario.harness.plane.request(
        "GET", f"/apis/apps/v1/namespaces/{scenario.namespace}/deployments/guestbook"
    )[1]
    assert second["metadata"]["uid"] != first["metadata"]["uid"]
    scenario.wait(
        name, lambda a: sync_status(a) == "Synced" and health(a) == "Healthy", what="Synced+Healthy"
    )


def test_crd_and_custom_resource_in_one_sync(scenario: Scenario) -> None:
    group = f"{scenario.namespace}.conformance.example"
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                    },
                }
            ],
        },
    }
    widget = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 3}}
    name, _ = scenario.app("crd", [widget, crd])
    try:
        audit = scenario.audit()
        app = scenario.sync_and_finish(name)
        assert phase(app) == "Succeeded", app["status"]["operationState"]
        assert audit.applied(scenario.namespace) == [
            ("patch", "customresourcedefinitions", f"widgets.{group}"),
            ("patch", "widgets", "w"),
        ]
        scenario.wait(name, lambda a: sync_status(a) == "Synced", what="Synced")
        scenario.health_is(name, "Healthy")
    finally:
        scenario.harness.plane.request(
            "DELETE", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.{group}"
        )


def test_selective_sync_does_not_run_hooks(scenario: Scenario) -> None:
    """TestSelectiveSync / TestSelectiveSyncDoesNotRunHooks."""
    name, _ = scenario.app("selective", [cm("one"), cm("two"), job("hook", "PreSync")])
    audit = scenario.audit()
    app = scenario.sync_and_finish(name, resources=[{"kind": "ConfigMap", "name": "two"}])
    assert phase(app) == "Succeeded"
    assert message(app) == "successfully synced (all tasks run)"
    assert audit.applied(scenario.namespace) == [("patch", "configmaps", "two")]
    assert [r["name"] for r in results(app)] == ["two"]
    scenario.wait(name, lambda a: sync_status(a) == "OutOfSync", what="still OutOfSync (one is missing)")
    scenario.health_is(name, "Healthy")  # the missing one says OutOfSync, not unhealthy


def test_prune_confirm_waits_for_the_cli(scenario: Scenario, tmp_path: Path) -> None:
    """Prune=confirm (Argo CD 2.x+): the operation waits until ``ferry app confirm-deletion``."""
    name, repo = scenario.app("confirm", [cm("keep"), cm("careful", **{OPTIONS: "Prune=confirm"})])
    assert phase(scenario.sync_and_finish(name)) == "Succeeded"
    scenario.commit(repo, "app", [cm("keep")])
    scenario.refresh(name, repo)
    audit = scenario.audit()
    token = scenario.sync(name, prune=True)
    scenario.running(name, "waiting for pruning confirmation of /ConfigMap/careful")
    assert scenario.exists("configmaps", "careful")
    assert audit.applied(scenario.namespace) == []  # the wave waits as a whole
    cli = Ferry(tmp_path / "home", scenario.harness.server.address)
    cli.login("admin", admin_password(scenario.harness.kube))
    assert cli.ok("app", "confirm-deletion", name).strip() == f"Application '{name}' updated successfully"
    app = scenario.finished(name, token)
    assert phase(app) == "Succeeded", app["status"]["operationState"]
    assert audit.applied(scenario.namespace) == [
        ("delete", "configmaps", "careful"),
        ("patch", "configmaps", "keep"),
    ]
    assert result(app, "careful")["status"] == "Pruned"
    scenario.health_is(name, "Healthy")


def test_unknown_options_are_reported_never_ignored(scenario: Scenario) -> None:
    manifests: list[dict[str, Any]] = [
        cm("typo", **{OPTIONS: "Prun=false", WAVE: "soon"}),
        cm("not-a-hook", **{HOOK: "PreSnyc"}),
    ]
    name, _ = scenario.app("unknown", manifests, syncPolicy={"syncOptions": ["ApplyOutofSyncOnly=true"]})
    expected = [
        "syncOptions: unknown sync option ApplyOutofSyncOnly=true (ignored)",
        "ConfigMap/typo: sync-wave 'soon' is not an integer (wave 0 used)",
        "ConfigMap/typo: unknown sync option Prun=false (ignored)",
        "ConfigMap/not-a-hook: unknown hook type PreSnyc (the resource is not applied)",
    ]
    app = scenario.wait(
        name, lambda a: sorted(conditions(a, "SyncOptionWarning")) == sorted(expected), what="warnings"
    )
    app = scenario.sync_and_finish(name)
    assert phase(app) == "Succeeded"
    assert message(app).startswith("successfully synced (all tasks run); warnings: ")
    for warning in expected:
        assert warning in message(app)
    assert [r["name"] for r in results(app)] == ["typo"]
    assert not scenario.exists("configmaps", "not-a-hook")
    scenario.health_is(name, "Healthy")

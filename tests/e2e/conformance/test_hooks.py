"""Hooks — Argo CD's test/e2e/hook_test.go: every sync phase's hook succeeding, failing hooks
and SyncFail, the delete policies, BeforeHookCreation, generated hook names, and terminating an
operation whose hook is still running."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conformance.conftest import (
    DELETE_POLICY,
    HOOK,
    WAVE,
    Scenario,
    cm,
    gauge,
    health,
    job,
    message,
    phase,
    result,
    results,
    sync_status,
)


@pytest.mark.parametrize("hook_type", ["PreSync", "Sync", "PostSync"])
def test_hook_successful(scenario: Scenario, hook_type: str) -> None:
    """testHookSuccessful: the hook runs in its phase, completes, and its result says so."""
    name, _ = scenario.app(f"hook-{hook_type.lower()}", [job("hook", hook_type), cm("app")])
    audit = scenario.audit()
    app = scenario.sync_and_finish(name)
    assert phase(app) == "Succeeded"
    # the last step ran a hook (waited for): "no more tasks"; or only resources: "all tasks run"
    last = "all tasks run" if hook_type == "PreSync" else "no more tasks"
    assert message(app) == f"successfully synced ({last})"
    hook = result(app, "hook", "Job")
    assert (hook["hookType"], hook["hookPhase"], hook["syncPhase"], hook["status"]) == (
        hook_type,
        "Succeeded",
        hook_type,
        "Synced",
    )
    order = [w[2] for w in audit.applied(scenario.namespace)]
    expected = {"PreSync": ["hook", "app"], "Sync": ["app", "hook"], "PostSync": ["app", "hook"]}[hook_type]
    assert order == expected  # in Sync, kinds in order: ConfigMap before Job
    scenario.wait(name, lambda a: sync_status(a) == "Synced" and health(a) == "Healthy", what="Synced")


def test_hooks_in_every_phase_with_every_delete_policy(scenario: Scenario) -> None:
    """TestHookDeletePolicyHookSucceededHookExit0 / HookFailedHookExit0 and the phase order:
    PreSync -> Sync (waves) -> PostSync; HookSucceeded hooks deleted after the success, HookFailed
    ones kept, BeforeHookCreation (the default) kept until the next sync."""
    manifests = [
        job("before", "PreSync", annotations={DELETE_POLICY: "HookSucceeded"}),
        job("during", "Sync", annotations={WAVE: "1"}),
        job("after", "PostSync", annotations={DELETE_POLICY: "HookFailed"}),
        cm("wave0"),
        cm("wave1", **{WAVE: "1"}),
    ]
    name, _ = scenario.app("phases", manifests)
    audit = scenario.audit()
    app = scenario.sync_and_finish(name)
    assert phase(app) == "Succeeded", app["status"]["operationState"]
    assert [(r["name"], r["hookPhase"]) for r in results(app)] == [
        ("before", "Succeeded"),
        ("wave0", "Succeeded"),  # a resource before the last step: judged by health (none: done)
        ("wave1", "Succeeded"),
        ("during", "Succeeded"),
        ("after", "Succeeded"),
    ]
    assert [w for w in audit.applied(scenario.namespace) if w[0] == "patch"] == [
        ("patch", "jobs", "before"),
        ("patch", "configmaps", "wave0"),
        ("patch", "configmaps", "wave1"),
        ("patch", "jobs", "during"),
        ("patch", "jobs", "after"),
    ]
    scenario.wait(name, lambda _: not scenario.exists("jobs", "before"), what="HookSucceeded hook deleted")
    scenario.health_is(name, "Healthy")
    assert scenario.exists("jobs", "after")  # HookFailed: only deleted when the sync fails
    assert scenario.exists("jobs", "during")  # BeforeHookCreation: until the next sync


def test_pre_sync_hook_failure_runs_sync_fail_hooks(scenario: Scenario) -> None:
    """TestPreSyncHookFailure + TestSyncFailHookPodFailure: the Sync phase never runs, SyncFail
    hooks do, and a failed HookFailed hook is deleted."""
    manifests = [
        job("doomed", "PreSync", fail=True, annotations={DELETE_POLICY: "HookFailed"}),
        cm("never-applied"),
        job("cleanup", "SyncFail"),
    ]
    name, _ = scenario.app("presync-fail", manifests)
    audit = scenario.audit()
    app = scenario.sync_and_finish(name)
    assert phase(app) == "Failed"
    assert message(app).startswith(
        "one or more synchronization tasks completed unsuccessfully, reason: batch/Job/doomed:"
    )
    assert result(app, "doomed")["hookPhase"] == "Failed"
    assert result(app, "cleanup")["hookType"] == "SyncFail"
    assert result(app, "cleanup")["hookPhase"] == "Succeeded"
    assert "never-applied" not in [r["name"] for r in results(app)]
    writes = audit.applied(scenario.namespace)
    assert writes[:2] == [("patch", "jobs", "doomed"), ("patch", "jobs", "cleanup")]
    assert writes[2:] == [("delete", "jobs", "doomed")]  # HookFailed; the ConfigMap never applied
    assert not scenario.exists("configmaps", "never-applied")
    scenario.health_is(name, "Missing")  # its only resource was never created


def test_sync_fail_hook_failure_is_reported(scenario: Scenario) -> None:
    """TestSyncFailHookPodFailureSyncFailFailure: a failing SyncFail hook is named in the message."""
    manifests = [job("doomed", "Sync", fail=True), job("cleanup", "SyncFail", fail=True)]
    name, _ = scenario.app("syncfail-fail", manifests)
    app = scenario.sync_and_finish(name)
    assert phase(app) == "Failed"
    assert "\none or more SyncFail hooks failed, reason: batch/Job/cleanup:" in message(app)


def test_hook_before_hook_creation(scenario: Scenario) -> None:
    """TestHookBeforeHookCreation: the next sync deletes the previous hook, then creates it again."""
    name, _ = scenario.app("recreate", [job("setup", "PreSync"), cm("app")])
    assert phase(scenario.sync_and_finish(name)) == "Succeeded"
    first = scenario.harness.plane.request(
        "GET", f"/apis/batch/v1/namespaces/{scenario.namespace}/jobs/setup"
    )[1]
    audit = scenario.audit()
    app = scenario.sync_and_finish(name)
    assert phase(app) == "Succeeded"
    writes = audit.applied(scenario.namespace)
    assert writes[:2] == [("delete", "jobs", "setup"), ("patch", "jobs", "setup")]
    second = scenario.harness.plane.request(
        "GET", f"/apis/batch/v1/namespaces/{scenario.namespace}/jobs/setup"
    )[1]
    assert second["metadata"]["uid"] != first["metadata"]["uid"]
    scenario.health_is(name, "Healthy")


def test_automatically_naming_unnamed_hook(scenario: Scenario) -> None:
    """TestAutomaticallyNamingUnnamedHook: a generateName hook gets one name per operation."""
    hook: dict[str, Any] = job("", "PreSync,PostSync")
    hook["metadata"] = {"generateName": "hook-", "annotations": hook["metadata"]["annotations"]}
    name, repo = scenario.app("unnamed", [hook, cm("app")])
    app = scenario.sync_and_finish(name)
    assert phase(app) == "Succeeded"
    short = repo.head()[:7]
    hooks = sorted((r["syncPhase"], r["name"]) for r in results(app) if r.get("hookType"))
    assert [p for p, _ in hooks] == ["PostSync", "PreSync"]
    for sync_phase, hook_name in hooks:
        assert hook_name.startswith(f"hook-{short}-{sync_phase.lower()}-")
        assert scenario.exists("jobs", hook_name)
    scenario.health_is(name, "Healthy")


def test_terminate_with_running_hooks(scenario: Scenario) -> None:
    """TestTerminateWithRunningHooks: terminating deletes the running hook and ends Failed."""
    running_hook = gauge("forever", "Progressing", **{HOOK: "PreSync"})
    name, _ = scenario.app("terminate", [running_hook, cm("never")])
    scenario.sync(name)
    scenario.running(name, "waiting for completion of hook conformance.ferrycd.io/Gauge/forever")
    scenario.custom().patch_namespaced_custom_object_status(
        "ferrycd.io",
        "v1alpha1",
        "ferry",
        "applications",
        name,
        {"status": {"operationState": {"phase": "Terminating"}}},
    )
    app = scenario.finished(name)
    assert phase(app) == "Failed"
    assert message(app) == "Operation terminated"
    assert result(app, "forever")["hookPhase"] == "Failed"
    assert result(app, "forever")["message"] == "Terminated"
    scenario.wait(name, lambda _: not scenario.exists("gauges", "forever"), what="the running hook deleted")
    assert not scenario.exists("configmaps", "never")
    scenario.health_is(name, "Missing")

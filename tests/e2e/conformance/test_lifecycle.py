"""An operation's and an app's life: retry with backoff (Argo CD's autosync retry tests), the
sync timeout (Argo CD's controller.sync.timeout.seconds), and deletion with PreDelete and
PostDelete hooks, waves and Delete=confirm (hook_test.go TestPreDeleteHook,
TestPreDeleteHookFailureAndRetry, TestPostDeleteHook)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import CONTROL_NS, GROUP, VERSION
from tests.e2e.conformance.conftest import (
    HOOK,
    OPTIONS,
    WAVE,
    Scenario,
    cm,
    conditions,
    gauge,
    job,
    message,
    operation,
    phase,
    results,
    stamp,
)
from tests.e2e.test_cli import Ferry
from tests.integration.server.conftest import admin_password

SYNC_TIMEOUT_KEY = "controller.sync.timeout.seconds"
RESOURCES_FINALIZER = "ferrycd.io/resources-finalizer"
PRE_DELETE = "pre-delete-finalizer.ferrycd.io"
POST_DELETE = "post-delete-finalizer.ferrycd.io"


def test_retry_with_backoff(scenario: Scenario) -> None:
    """A failing operation is retried per its ``retry`` (limit 2, 2 s doubling): each retry
    announced with its backoff, then Failed with retryCount 2; the next wave never applied."""
    name, _ = scenario.app("retry", [gauge("broken", "Degraded", **{WAVE: "0"}), cm("later", **{WAVE: "1"})])
    audit = scenario.audit()
    with scenario.operation_messages(name) as seen:
        token = scenario.sync(name, retry={"limit": 2, "backoff": {"duration": "2s", "factor": 2}})
        app = scenario.wait(
            name,
            lambda a: phase(a) == "Failed" and not a.get("operation") and _carries(a, token),
            timeout=90,
            what="the retries to run out",
        )
    failure = (
        "one or more synchronization tasks completed unsuccessfully, reason: "
        "conformance.ferrycd.io/Gauge/broken: spec says Degraded"
    )
    assert f"{failure}. Retrying attempt #1 in 2s" in seen
    assert f"{failure}. Retrying attempt #2 in 4s" in seen
    assert operation(app)["retryCount"] == 2
    assert message(app) == failure
    assert [r["name"] for r in results(app)] == ["broken"]
    assert audit.applied(scenario.namespace) == [("patch", "gauges", "broken")] * 3  # one per attempt
    assert not scenario.exists("configmaps", "later")
    scenario.health_is(name, "Degraded")


def _carries(app: dict[str, Any], token: str) -> bool:
    info = (operation(app).get("operation") or {}).get("info") or []
    return any(i.get("value") == token for i in info)


def test_sync_timeout_terminates_and_retries(scenario: Scenario) -> None:
    """controller.sync.timeout.seconds: an operation running longer is terminated — its running
    hook deleted — with a clear message, and retried per its policy (here once)."""
    name, _ = scenario.app("timeout", [gauge("forever", "Progressing", **{HOOK: "PreSync"}), cm("never")])
    scenario.harness.set_settings({SYNC_TIMEOUT_KEY: "3"})
    audit = scenario.audit()
    try:
        with scenario.operation_messages(name) as seen:
            token = scenario.sync(name, retry={"limit": 1, "backoff": {"duration": "2s"}})
            app = scenario.wait(
                name,
                lambda a: phase(a) == "Failed" and not a.get("operation") and _carries(a, token),
                timeout=90,
                what="the operation to time out twice",
            )
    finally:
        scenario.harness.set_settings({SYNC_TIMEOUT_KEY: None})
    terminated = "Operation terminated, triggered by controller sync timeout (3s)"
    assert f"{terminated}. Retrying attempt #1 in 2s" in seen
    assert message(app) == terminated
    assert operation(app)["retryCount"] == 1
    hook = next(r for r in results(app) if r["name"] == "forever")
    assert (hook["hookPhase"], hook["message"]) == ("Failed", "Terminated")
    duration = stamp(operation(app)["finishedAt"]) - stamp(operation(app)["startedAt"])
    assert 2 <= duration.total_seconds() <= 15, operation(app)  # the second attempt's own 3 s
    scenario.wait(name, lambda _: not scenario.exists("gauges", "forever"), what="the running hook deleted")
    assert not scenario.exists("configmaps", "never")
    # each attempt: the hook created, then deleted when the timeout terminated it
    assert (
        audit.applied(scenario.namespace)
        == [("patch", "gauges", "forever"), ("delete", "gauges", "forever")] * 2
    )
    scenario.health_is(name, "Missing")


def test_pre_and_post_delete_hooks_waves_and_delete_confirm(scenario: Scenario, tmp_path: Path) -> None:
    """TestPreDeleteHook / TestPostDeleteHook: deleting with cascade runs the PreDelete hook
    first, waits for the Delete=confirm resource to be confirmed, deletes the resources highest
    wave first, then runs the PostDelete hook; the app goes once all is done."""
    manifests = [
        job("before-delete", "PreDelete"),
        job("after-delete", "PostDelete"),
        cm("w0", **{WAVE: "0"}),
        cm("w1", **{WAVE: "1", OPTIONS: "Delete=confirm"}),
        cm("kept", **{OPTIONS: "Delete=false"}),
    ]
    name, _ = scenario.app("deleting", manifests)
    app = scenario.sync_and_finish(name)
    assert phase(app) == "Succeeded"
    assert sorted(r["name"] for r in results(app)) == ["kept", "w0", "w1"]  # deletion hooks do not sync
    app = scenario.wait(
        name,
        lambda a: PRE_DELETE in (a["metadata"].get("finalizers") or []),
        what="the deletion-hook finalizers",
    )
    assert sorted(app["metadata"]["finalizers"]) == [
        POST_DELETE,
        f"{POST_DELETE}/cleanup",
        PRE_DELETE,
        f"{PRE_DELETE}/cleanup",
    ]
    audit = scenario.audit()
    api = scenario.custom()
    finalizers = [*app["metadata"]["finalizers"], RESOURCES_FINALIZER]  # what the API's cascading Delete adds
    api.patch_namespaced_custom_object(
        GROUP, VERSION, CONTROL_NS, "applications", name, {"metadata": {"finalizers": finalizers}}
    )
    api.delete_namespaced_custom_object(GROUP, VERSION, CONTROL_NS, "applications", name)
    app = scenario.wait(
        name, lambda a: bool(conditions(a, "DeletionConfirmationRequired")), what="the confirmation asked for"
    )
    assert conditions(app, "DeletionConfirmationRequired") == [
        f"waiting for deletion confirmation of /ConfigMap/w1: ferry app confirm-deletion {name}"
    ]
    assert scenario.exists("configmaps", "w0")
    assert scenario.exists("configmaps", "w1")
    cli = Ferry(tmp_path / "home", scenario.harness.server.address)
    cli.login("admin", admin_password(scenario.harness.kube))
    cli.ok("app", "confirm-deletion", name)
    scenario.gone(name)
    writes = [w for w in audit.applied(scenario.namespace) if w[1] in ("jobs", "configmaps")]
    assert writes == [
        ("create", "jobs", "before-delete"),
        ("delete", "configmaps", "w1"),  # the highest wave first
        ("delete", "jobs", "before-delete"),  # the PreDelete hook is tracked: it goes with wave 0
        ("delete", "configmaps", "w0"),
        ("create", "jobs", "after-delete"),  # after the resources are gone
    ]
    assert scenario.exists("configmaps", "kept")  # Delete=false
    assert scenario.exists("jobs", "after-delete")  # BeforeHookCreation hooks stay, as in Argo CD


def test_pre_delete_hook_failure_and_retry(scenario: Scenario) -> None:
    """TestPreDeleteHookFailureAndRetry: a failing PreDelete hook keeps the app (DeletionError);
    fixed in Git and refreshed, the deletion completes."""
    name, repo = scenario.app("predelete-fail", [job("check", "PreDelete", fail=True), cm("data")])
    assert phase(scenario.sync_and_finish(name)) == "Succeeded"
    scenario.wait(
        name, lambda a: PRE_DELETE in (a["metadata"].get("finalizers") or []), what="the pre-delete finalizer"
    )
    scenario.custom().delete_namespaced_custom_object(GROUP, VERSION, CONTROL_NS, "applications", name)
    app = scenario.wait(
        name, lambda a: bool(conditions(a, "DeletionError")), timeout=90, what="DeletionError"
    )
    assert conditions(app, "DeletionError") == [f"PreDelete hook(s) failed: {scenario.namespace}/check"]
    assert scenario.exists("configmaps", "data")
    scenario.commit(repo, "app", [job("check", "PreDelete"), cm("data")])
    scenario.harness.apps.patch(name, {"metadata": {"annotations": {"ferrycd.io/refresh": "normal"}}})
    scenario.gone(name)
    assert scenario.exists("configmaps", "data")  # no cascade: the resources stay
    assert scenario.exists("jobs", "check")


def test_cascading_delete_with_background_propagation(scenario: Scenario, tmp_path: Path) -> None:
    """`ferry app delete --propagation-policy background` (the API's Delete): the finalizer it adds
    must be a name the API server accepts (a qualified name), and the controller deletes the
    resources with Background propagation, then lets the app go. The earlier
    ``ferrycd.io/resources-finalizer/background`` (two slashes) was refused with 422."""
    name, _ = scenario.app("bg-delete", [cm("one"), cm("two")])
    assert phase(scenario.sync_and_finish(name)) == "Succeeded"
    audit = scenario.audit()
    cli = Ferry(tmp_path / "home", scenario.harness.server.address)
    cli.login("admin", admin_password(scenario.harness.kube))
    cli.ok("app", "delete", name, "-y", "--propagation-policy", "background")
    scenario.gone(name)
    assert not scenario.exists("configmaps", "one")
    assert not scenario.exists("configmaps", "two")
    deletes = [w for w in audit.applied(scenario.namespace) if w[0] == "delete"]
    assert sorted(deletes) == [("delete", "configmaps", "one"), ("delete", "configmaps", "two")]

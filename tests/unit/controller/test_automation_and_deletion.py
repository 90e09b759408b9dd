"""Self-heal backoff carried by the operation (Argo CD's autoHealAttemptsCount), and what app
deletion asks of each object — the decisions, without a cluster."""

from __future__ import annotations

import datetime
from typing import Any

from controller.automation import SYNC_WINDOW_CONDITION, Automation, SelfHealPolicy
from controller.claims import Claims
from controller.compare import Comparison, ResourceState
from controller.deletion import hook_finalizers, kept, needs_confirmation
from ferry.engine.annotations import SyncOptions
from ferry.engine.diff import DiffResult
from ferry.engine.status import SyncStatus
from ferry.engine.syncwindows import Destination, evaluate
from ferry.engine.tracking import ResourceKey, with_tracking

REVISION = "a" * 40
SOURCE = {"repoURL": "file:///repo", "path": "app", "targetRevision": "HEAD"}


def drifted() -> Comparison:
    key = ResourceKey("", "ConfigMap", "ns", "c")
    state = ResourceState(
        key, "v1", {"kind": "ConfigMap"}, {"kind": "ConfigMap"}, DiffResult(modified=True), None
    )
    return Comparison(resources=[state], sync_status=SyncStatus.OUT_OF_SYNC)


def app_after(attempts: int, finished_seconds_ago: float) -> dict[str, Any]:
    finished = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=finished_seconds_ago)
    sync: dict[str, Any] = {"revision": REVISION}
    if attempts:
        sync["autoHealAttemptsCount"] = attempts
    return {
        "metadata": {"name": "a"},
        "spec": {"source": SOURCE, "syncPolicy": {"automated": {"selfHeal": True}}},
        "status": {
            "operationState": {
                "phase": "Succeeded",
                "finishedAt": finished.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "operation": {"sync": sync},
                "syncResult": {"revision": REVISION, "source": SOURCE},
            }
        },
    }


def test_self_heal_attempts_back_off_and_travel_in_the_operation() -> None:
    automation = Automation(SelfHealPolicy(backoff_seconds=2, factor=3, cap_seconds=300))
    first = automation.decide(app_after(0, 0), drifted(), REVISION)
    assert first.operation is not None  # the first self-heal goes at once
    assert first.operation["sync"]["autoHealAttemptsCount"] == 1
    assert first.operation["sync"]["resources"] == [
        {"group": "", "kind": "ConfigMap", "namespace": "ns", "name": "c"}
    ]
    waiting = automation.decide(app_after(2, 1), drifted(), REVISION)
    assert waiting.operation is None
    assert waiting.retry_after is not None
    assert 4 < waiting.retry_after <= 5
    due = automation.decide(app_after(2, 7), drifted(), REVISION)
    assert due.operation is not None
    assert due.operation["sync"]["autoHealAttemptsCount"] == 3
    # a fresh controller (no memory) keeps the backoff: it is in the app
    assert (
        Automation(SelfHealPolicy(2, 3, 300)).decide(app_after(2, 1), drifted(), REVISION).operation is None
    )
    # a new revision starts over
    fresh = automation.decide(app_after(5, 0), drifted(), "b" * 40)
    assert fresh.operation is not None
    assert "autoHealAttemptsCount" not in fresh.operation["sync"]


def test_a_sync_window_holds_the_auto_sync_back_until_its_edge() -> None:
    deny = {"kind": "deny", "schedule": "0 22 * * *", "duration": "1h", "applications": ["a"]}
    during = datetime.datetime(2026, 12, 8, 22, 15, tzinfo=datetime.UTC)
    windows = evaluate([deny], Destination(app="a"), during)
    held = Automation().decide(app_after(0, 0), drifted(), "b" * 40, windows=windows)
    assert held.operation is None
    assert held.window_edge == datetime.datetime(2026, 12, 8, 23, 0, tzinfo=datetime.UTC)
    assert held.conditions == [
        (
            SYNC_WINDOW_CONDITION,
            "Sync is blocked by sync window deny:0 22 * * *:1h; auto-sync waits for the windows to change "
            "at 2026-12-08T23:00:00Z",
        )
    ]
    after = evaluate([deny], Destination(app="a"), during + datetime.timedelta(hours=1))
    went = Automation().decide(app_after(0, 0), drifted(), "b" * 40, windows=after)
    assert went.operation is not None
    assert went.window_edge is None


def cm(**annotations: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "annotations": annotations}}


def test_what_deletion_asks_of_each_object() -> None:
    options = "argocd.argoproj.io/sync-options"
    none = SyncOptions({})
    assert needs_confirmation(cm(**{options: "Delete=confirm"}), none)
    assert needs_confirmation(cm(**{options: "Prune=confirm"}), none)
    assert needs_confirmation(cm(), SyncOptions.parse(["Delete=confirm"]))
    assert not needs_confirmation(cm(**{options: "Delete=true"}), SyncOptions.parse(["Delete=confirm"]))
    assert kept(cm(**{options: "Delete=false"}), none)
    assert kept(cm(**{"helm.sh/resource-policy": "keep"}), none)
    assert not kept(cm(), none)
    hooks = [cm(**{"argocd.argoproj.io/hook": "PreDelete"}), cm(**{"helm.sh/hook": "post-delete"})]
    assert hook_finalizers(hooks) == {
        "pre-delete-finalizer.ferrycd.io",
        "pre-delete-finalizer.ferrycd.io/cleanup",
        "post-delete-finalizer.ferrycd.io",
        "post-delete-finalizer.ferrycd.io/cleanup",
    }
    assert hook_finalizers([cm()]) == set()


def test_an_object_claimed_by_two_apps_warns_its_owner_too() -> None:
    key = ResourceKey("", "ConfigMap", "ns", "shared")
    live = with_tracking(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared", "namespace": "ns"}}, "b"
    )

    def comparison() -> Comparison:
        return Comparison(
            resources=[
                ResourceState(key, "v1", {"kind": "ConfigMap"}, live, DiffResult(modified=False), None)
            ]
        )

    claims = Claims()
    assert claims.update("a", "in-cluster", comparison()) == []  # a does not own it: compare warns a
    assert claims.update("b", "in-cluster", comparison()) == [
        (
            "SharedResourceWarning",
            "ConfigMap/shared is part of applications b and a; "
            "b owns it now (its tracking annotation: the last to apply it)",
        )
    ]
    claims.forget("a")
    assert claims.update("b", "in-cluster", comparison()) == []
    assert (
        claims.update("b", "other-cluster", comparison()) == []
    )  # another cluster's object is another object

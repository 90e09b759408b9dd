"""Automation: auto-sync when Git and the cluster differ, self-heal of live drift, and the
guards Argo CD users rely on.

- Auto-sync only with ``syncPolicy.automated`` (``enabled`` unset or true), only when OutOfSync
  and no operation runs; prune only with ``automated.prune``; with prune and without
  ``allowEmpty`` it refuses to delete every resource.
- Never the same revision and source twice after a failed attempt: a SyncError condition says
  so until Git changes (or a user syncs by hand).
- Self-heal (``automated.selfHeal``): drift with unchanged Git is synced again (only the
  out-of-sync resources), attempt n waiting backoff x factor^(n-1) seconds after the previous
  operation finished, capped. As in Argo CD, the attempt count travels in the operation
  (``sync.autoHealAttemptsCount``) and only a new revision (or a sync by hand) resets it — so two
  apps fighting over one object (SharedResourceWarning) back off instead of flapping at full
  speed, and a restarted controller keeps the backoff.
- Sync windows (the project's ``spec.syncWindows``): an auto-sync they block is not requested;
  a ``SyncWindowWarning`` condition names the windows, and the decision carries the next time a
  window opens or closes so the app is looked at again exactly then.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from controller.compare import Comparison
from ferry.engine.annotations import parse_time
from ferry.engine.status import OperationPhase
from ferry.engine.syncwindows import WindowState

SYNC_WINDOW_CONDITION = "SyncWindowWarning"


@dataclass(frozen=True)
class SelfHealPolicy:
    backoff_seconds: float = 2.0
    factor: float = 3.0
    cap_seconds: float = 300.0

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the previous attempt before attempt ``attempts + 1``."""
        if attempts <= 0:
            return 0.0
        return float(min(self.backoff_seconds * self.factor ** (attempts - 1), self.cap_seconds))


@dataclass
class Decision:
    operation: dict[str, Any] | None = None
    retry_after: float | None = None  # check again after this many seconds (self-heal backoff)
    conditions: list[tuple[str, str]] = field(default_factory=list)
    # a sync window blocks the auto-sync: check again when the windows next change
    window_edge: datetime.datetime | None = None


def window_blocked_message(windows: WindowState) -> str:
    """Why a sync window holds the auto-sync back, and until when at least."""
    message = f"Sync is blocked by sync window {windows.reason(manual=False)}"
    if windows.next_change is not None:
        message += f"; auto-sync waits for the windows to change at {windows.next_change:%Y-%m-%dT%H:%M:%SZ}"
    return message


def automated_policy(spec: dict[str, Any]) -> dict[str, Any] | None:
    automated = (spec.get("syncPolicy") or {}).get("automated")
    if automated is None:
        return None
    if automated.get("enabled") is False:
        return None
    return dict(automated)


class Automation:
    def __init__(self, policy: SelfHealPolicy | None = None) -> None:
        self.policy = policy or SelfHealPolicy()

    def decide(
        self,
        app: dict[str, Any],
        comparison: Comparison | None,
        revision: str,
        *,
        windows: WindowState | None = None,
    ) -> Decision:
        """Whether to request an auto-sync now; ``windows`` is the state of the project's sync
        windows for the app at this time (None: no window applies)."""
        spec = app.get("spec") or {}
        automated = automated_policy(spec)
        if automated is None or comparison is None or not revision:
            return Decision()
        if app.get("operation") or (app.get("metadata") or {}).get("deletionTimestamp"):
            return Decision()
        state = (app.get("status") or {}).get("operationState") or {}
        if state and not OperationPhase(state.get("phase", "Succeeded")).completed:
            return Decision()
        if str(comparison.sync_status) != "OutOfSync":
            return Decision()
        prune = bool(automated.get("prune"))
        drifted = [
            r for r in comparison.resources if r.diff.modified and not r.hook and not r.requires_pruning
        ]
        extras = [r for r in comparison.resources if r.requires_pruning and not r.ignore_extraneous]
        if not drifted and not prune:
            return Decision()  # only prunes would do anything, and prune is off
        managed = [r for r in comparison.resources if not r.hook]
        if prune and not automated.get("allowEmpty") and managed and len(extras) == len(managed):
            return Decision(
                conditions=[
                    (
                        "SyncError",
                        "auto-sync will wipe out all resources (set automated.allowEmpty to allow it)",
                    )
                ]
            )
        source = spec.get("source") or {}
        last = state.get("syncResult") or {}
        same = last.get("revision") == revision and (last.get("source") or {}) == source
        resources: list[dict[str, str]] = []
        heal_attempts = 0
        if same and state:
            if state.get("phase") != OperationPhase.SUCCEEDED:
                message = f"Failed last sync attempt to {revision}: {state.get('message', '')}"
                return Decision(conditions=[("SyncError", message)])
            if not automated.get("selfHeal"):
                return Decision()
            last_sync = (state.get("operation") or {}).get("sync") or {}
            previous = int(last_sync.get("autoHealAttemptsCount") or 0)
            finished = parse_time(str(state.get("finishedAt") or ""))
            since = (datetime.datetime.now(datetime.UTC) - finished).total_seconds() if finished else 0.0
            wait = self.policy.delay(previous) - since
            if wait > 0:
                return Decision(retry_after=wait)
            heal_attempts = previous + 1
            resources = [
                {"group": r.key.group, "kind": r.key.kind, "namespace": r.key.namespace, "name": r.key.name}
                for r in drifted
            ]
            if prune:
                resources += [
                    {
                        "group": r.key.group,
                        "kind": r.key.kind,
                        "namespace": r.key.namespace,
                        "name": r.key.name,
                    }
                    for r in extras
                ]
        retry = (spec.get("syncPolicy") or {}).get("retry") or {"limit": 5}
        sync: dict[str, Any] = {"revision": revision, "prune": prune}
        if resources:
            sync["resources"] = resources
        if heal_attempts:
            sync["autoHealAttemptsCount"] = heal_attempts
        options = (spec.get("syncPolicy") or {}).get("syncOptions")
        if options:
            sync["syncOptions"] = list(options)
        if windows is not None and not windows.can_sync(manual=False):
            return Decision(
                conditions=[(SYNC_WINDOW_CONDITION, window_blocked_message(windows))],
                window_edge=windows.next_change,
            )
        return Decision(operation={"sync": sync, "initiatedBy": {"automated": True}, "retry": retry})

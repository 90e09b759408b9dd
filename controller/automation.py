"""Automation: auto-sync when Git and the cluster differ, self-heal of live drift, and the
guards Argo CD users rely on.

- Auto-sync only with ``syncPolicy.automated`` (``enabled`` unset or true), only when OutOfSync
  and no operation runs; prune only with ``automated.prune``; with prune and without
  ``allowEmpty`` it refuses to delete every resource.
- Never the same revision and source twice after a failed attempt: a SyncError condition says
  so until Git changes (or a user syncs by hand).
- Self-heal (``automated.selfHeal``): drift with unchanged Git is synced again (only the
  out-of-sync resources), attempt n waiting backoff x factor^(n-1) seconds, capped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from controller.compare import Comparison
from ferry.engine.status import OperationPhase


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
class _Heal:
    revision: str = ""
    attempts: int = 0
    last_at: float = 0.0


@dataclass
class Decision:
    operation: dict[str, Any] | None = None
    retry_after: float | None = None  # check again after this many seconds (self-heal backoff)
    conditions: list[tuple[str, str]] = field(default_factory=list)


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
        self._heal: dict[str, _Heal] = {}

    def forget(self, app: str) -> None:
        self._heal.pop(app, None)

    def decide(self, app: dict[str, Any], comparison: Comparison | None, revision: str) -> Decision:
        spec = app.get("spec") or {}
        automated = automated_policy(spec)
        name = app["metadata"]["name"]
        if automated is None or comparison is None or not revision:
            return Decision()
        if app.get("operation") or (app.get("metadata") or {}).get("deletionTimestamp"):
            return Decision()
        state = (app.get("status") or {}).get("operationState") or {}
        if state and not OperationPhase(state.get("phase", "Succeeded")).completed:
            return Decision()
        if str(comparison.sync_status) != "OutOfSync":
            self._heal.pop(name, None)
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
        if same and state:
            if state.get("phase") != OperationPhase.SUCCEEDED:
                message = f"Failed last sync attempt to {revision}: {state.get('message', '')}"
                return Decision(conditions=[("SyncError", message)])
            if not automated.get("selfHeal"):
                return Decision()
            heal = self._heal.setdefault(name, _Heal(revision))
            if heal.revision != revision:
                heal.revision, heal.attempts = revision, 0
            wait = heal.last_at + self.policy.delay(heal.attempts) - time.monotonic()
            if wait > 0:
                return Decision(retry_after=wait)
            heal.attempts += 1
            heal.last_at = time.monotonic()
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
        options = (spec.get("syncPolicy") or {}).get("syncOptions")
        if options:
            sync["syncOptions"] = list(options)
        return Decision(operation={"sync": sync, "initiatedBy": {"automated": True}, "retry": retry})

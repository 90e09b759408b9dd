"""The closed sets of status words ferry shares with Argo CD, as enums with behaviour.

The values are the wire strings (what ``status.sync.status``, ``status.health.status`` and
``status.operationState.phase`` hold), spelled exactly as Argo CD spells them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class HealthStatus(StrEnum):
    HEALTHY = "Healthy"
    SUSPENDED = "Suspended"
    PROGRESSING = "Progressing"
    MISSING = "Missing"
    DEGRADED = "Degraded"
    UNKNOWN = "Unknown"

    @property
    def severity(self) -> int:
        """Position in Argo CD's aggregation order, best first: Healthy < Suspended < Progressing <
        Missing < Degraded < Unknown."""
        return _HEALTH_ORDER[self]

    def is_worse(self, other: HealthStatus) -> bool:
        return self.severity > other.severity

    @staticmethod
    def worst(statuses: list[HealthStatus]) -> HealthStatus:
        return max(statuses, key=lambda s: s.severity, default=HealthStatus.HEALTHY)


_HEALTH_ORDER = {status: rank for rank, status in enumerate(HealthStatus)}


@dataclass(frozen=True)
class Health:
    """A health verdict: status and a message saying why."""

    status: HealthStatus
    message: str = ""


class SyncStatus(StrEnum):
    SYNCED = "Synced"
    OUT_OF_SYNC = "OutOfSync"
    UNKNOWN = "Unknown"


class OperationPhase(StrEnum):
    RUNNING = "Running"
    TERMINATING = "Terminating"
    FAILED = "Failed"
    ERROR = "Error"
    SUCCEEDED = "Succeeded"

    @property
    def completed(self) -> bool:
        return self in (OperationPhase.FAILED, OperationPhase.ERROR, OperationPhase.SUCCEEDED)

    @property
    def successful(self) -> bool:
        return self is OperationPhase.SUCCEEDED


class ResultCode(StrEnum):
    """Outcome of one resource in a sync operation."""

    SYNCED = "Synced"
    SYNC_FAILED = "SyncFailed"
    PRUNED = "Pruned"
    PRUNE_SKIPPED = "PruneSkipped"


class SyncPhase(StrEnum):
    """Phases of a sync, in the order they run (SyncFail only after a failure)."""

    PRE_SYNC = "PreSync"
    SYNC = "Sync"
    POST_SYNC = "PostSync"
    SYNC_FAIL = "SyncFail"

    @property
    def order(self) -> int:
        return _PHASE_ORDER[self]


_PHASE_ORDER = {phase: rank for rank, phase in enumerate(SyncPhase)}


class HookType(StrEnum):
    PRE_SYNC = "PreSync"
    SYNC = "Sync"
    POST_SYNC = "PostSync"
    SYNC_FAIL = "SyncFail"
    SKIP = "Skip"
    PRE_DELETE = "PreDelete"
    POST_DELETE = "PostDelete"

    @property
    def phase(self) -> SyncPhase | None:
        """The sync phase a hook of this type runs in (None: not part of a sync)."""
        return _HOOK_PHASE.get(self)


_HOOK_PHASE = {
    HookType.PRE_SYNC: SyncPhase.PRE_SYNC,
    HookType.SYNC: SyncPhase.SYNC,
    HookType.POST_SYNC: SyncPhase.POST_SYNC,
    HookType.SYNC_FAIL: SyncPhase.SYNC_FAIL,
}


class HookDeletePolicy(StrEnum):
    HOOK_SUCCEEDED = "HookSucceeded"
    HOOK_FAILED = "HookFailed"
    BEFORE_HOOK_CREATION = "BeforeHookCreation"

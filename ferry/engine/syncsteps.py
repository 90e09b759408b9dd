"""One step of a sync operation, decided from its tasks and what is known about them: the rules of
gitops-engine's sync loop (pkg/sync/sync_context.go, ``Sync``) as pure functions.

Each task has a phase: None (not run yet), Running (applied: a resource until it is healthy, a
hook until it completes), Succeeded, Failed or Error. A step:

1. ``assess`` moves running tasks on from their live object's health: a resource without a
   health check, or Healthy, is Succeeded; a Degraded one Failed; a hook completes when healthy
   (or without a health check) and fails when Degraded or Unknown. A running task whose object
   is gone is an Error. A child Application that is Missing or Unknown (not synced yet, say)
   does not hold its parent: it counts as Succeeded.
2. ``next_step``: wait while something runs that must finish — any hook, or any resource when the
   sync has more than one phase or wave — or while pruned objects are being deleted; fail (then
   SyncFail hooks) when a task completed unsuccessfully; succeed when nothing is left; otherwise
   run the next (phase, wave) group (unless its prunes wait for a confirmation).
3. ``after_run``: in the last phase and wave with only non-hook resources, the operation succeeds
   as soon as they are applied — even if they are Progressing or later degrade (app health says
   that, not the operation). Otherwise it waits for the group.

Pure: no I/O; the controller does what the step says and records the results.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ferry.engine.annotations import SyncOptions, option_value
from ferry.engine.health import APPLICATION_KINDS
from ferry.engine.ordering import ResultKey, SyncTask
from ferry.engine.status import Health, HealthStatus, OperationPhase, ResultCode, SyncPhase

Obj = Mapping[str, object]


@dataclass(frozen=True)
class TaskState:
    """A task with what the operation knows of it."""

    task: SyncTask
    phase: OperationPhase | None = None  # None: not run yet
    status: ResultCode | None = None  # Synced, SyncFailed, Pruned, PruneSkipped
    message: str = ""
    deleting: bool = False  # its live object has a deletionTimestamp

    @property
    def completed(self) -> bool:
        return self.phase is not None and self.phase.completed

    @property
    def unsuccessful(self) -> bool:
        return self.phase in (OperationPhase.FAILED, OperationPhase.ERROR)


@dataclass(frozen=True)
class Assessment:
    phase: OperationPhase
    message: str = ""  # empty: keep the result's message
    sync_failed: bool = False  # the result's status becomes SyncFailed


def assess(task: SyncTask, live: Obj | None, health: Health | None) -> Assessment | None:
    """Where a running task stands given its live object and that object's health (None: no
    health check for its kind); None when it is still running as before."""
    if live is None:
        return Assessment(
            OperationPhase.ERROR,
            f"Resource {task.describe()} is missing, it might have been deleted",
            sync_failed=True,
        )
    if task.is_hook:
        if health is None:
            return Assessment(OperationPhase.SUCCEEDED)
        if health.status in (HealthStatus.DEGRADED, HealthStatus.UNKNOWN):
            return Assessment(OperationPhase.FAILED, health.message)
        if health.status in (HealthStatus.PROGRESSING, HealthStatus.SUSPENDED):
            return Assessment(OperationPhase.RUNNING, health.message)
        return Assessment(OperationPhase.SUCCEEDED, health.message)
    if health is None or health.status is HealthStatus.HEALTHY:
        return Assessment(OperationPhase.SUCCEEDED, health.message if health else "")
    if health.status is HealthStatus.DEGRADED:
        return Assessment(OperationPhase.FAILED, health.message)
    if (task.group, task.kind) in APPLICATION_KINDS and health.status in (
        HealthStatus.MISSING,
        HealthStatus.UNKNOWN,
    ):
        return Assessment(OperationPhase.SUCCEEDED, health.message)
    return None


@dataclass(frozen=True)
class Wait:
    """Nothing to do until something changes; the message says what the operation waits for."""

    message: str


@dataclass(frozen=True)
class Run:
    """Apply (or prune) these tasks, one (phase, wave) group; ``final``: nothing comes after it."""

    tasks: tuple[SyncTask, ...]
    final: bool


@dataclass(frozen=True)
class Fail:
    """A task failed: SyncFail hooks run, then the operation ends Failed with this message."""

    message: str


@dataclass(frozen=True)
class Succeed:
    message: str


Step = Wait | Run | Fail | Succeed


def waiting_message(states: Sequence[TaskState], *, deletion: bool = False) -> str:
    """Argo CD's running message: ``waiting for healthy state of apps/Deployment/web and 2 more
    resources``, ``waiting for completion of hook batch/Job/migrate``, ``waiting for deletion of ...``."""
    hooks = [s.task for s in states if s.task.is_hook]
    resources = [s.task for s in states if not s.task.is_hook]
    reason = "completion of hook" if hooks else "healthy state of"
    if deletion:
        reason = "deletion of hook" if hooks else "deletion of"
    kind = "hooks" if not resources else "resources"
    first = hooks[0] if hooks else resources[0]
    message = f"waiting for {reason} {first.describe()}"
    if len(states) > 1:
        message += f" and {len(states) - 1} more {kind}"
    return message


def needs_confirmation(task: SyncTask, app_options: SyncOptions) -> bool:
    """A prune that waits for a confirmation (``Prune=confirm`` on the resource or the app)."""
    return task.prune and option_value(task.options, app_options, "Prune") == "confirm"


def _reasons(states: Sequence[TaskState]) -> str:
    """Argo CD's ``, reason: ...`` with each failed task's message, naming the task."""
    messages = sorted(
        {f"{s.task.describe()}: {s.message}" if s.message else s.task.describe() for s in states}
    )
    return ", reason: " + ", ".join(messages) if messages else ""


def next_step(
    states: Sequence[TaskState],
    *,
    app_options: SyncOptions,
    prune_confirmed: bool = False,
    skip: frozenset[ResultKey] = frozenset(),
) -> Step:
    """What the operation does next (``states`` in sync order, running tasks already assessed).
    ``skip``: pending tasks left out (ApplyOutOfSyncOnly: resources already in sync)."""
    if not states:
        return Succeed("successfully synced (no more tasks)")
    first, last = states[0].task, states[-1].task
    multi_step = (first.phase, first.wave) != (last.phase, last.wave)
    running = [s for s in states if s.phase is OperationPhase.RUNNING and (multi_step or s.task.is_hook)]
    if running:
        return Wait(waiting_message(running))
    being_deleted = [s for s in states if s.task.prune and s.status is ResultCode.PRUNED and s.deleting]
    if being_deleted:
        return Wait(waiting_message(being_deleted, deletion=True))
    main = [s for s in states if s.task.phase is not SyncPhase.SYNC_FAIL]
    failed = [s for s in main if s.completed and s.unsuccessful]
    if failed:
        return Fail("one or more synchronization tasks completed unsuccessfully" + _reasons(failed))
    pending = [s for s in main if s.phase is None and s.task.result_key not in skip]
    if not pending:
        return Succeed("successfully synced (no more tasks)")
    head = pending[0].task
    group = [s for s in pending if (s.task.phase, s.task.wave) == (head.phase, head.wave)]
    unconfirmed = [s for s in group if needs_confirmation(s.task, app_options)]
    if unconfirmed and not prune_confirmed:
        message = f"waiting for pruning confirmation of {unconfirmed[0].task.describe()}"
        if len(unconfirmed) > 1:
            message += f" and {len(unconfirmed) - 1} more resources"
        return Wait(message)
    return Run(tuple(s.task for s in group), final=len(group) == len(pending))


def after_run(group: Sequence[TaskState], *, final: bool) -> Step:
    """What follows applying a group (``group``: its tasks with their new results)."""
    failed = [s for s in group if s.status is ResultCode.SYNC_FAILED]
    if failed:
        return Fail("one or more objects failed to apply" + _reasons(failed))
    if final and not any(s.task.is_hook for s in group):
        return Succeed("successfully synced (all tasks run)")
    return Wait(waiting_message(group))


@dataclass(frozen=True)
class SyncFailStep:
    """What the SyncFail phase does: ``run`` these hooks and wait, or end (``done``) Failed."""

    message: str
    run: tuple[SyncTask, ...] = ()
    done: bool = False


def sync_fail_step(hooks: Sequence[TaskState], message: str) -> SyncFailStep:
    """After a failure: start the SyncFail hooks, wait for them, then fail with ``message`` (and
    what SyncFail hooks failed)."""
    if not hooks:
        return SyncFailStep(message, done=True)
    if all(s.completed for s in hooks):
        failed = [s for s in hooks if s.unsuccessful or s.status is ResultCode.SYNC_FAILED]
        if failed:
            message = f"{message}\none or more SyncFail hooks failed{_reasons(failed)}"
        return SyncFailStep(message, done=True)
    pending = tuple(s.task for s in hooks if s.phase is None)
    return SyncFailStep(message, run=pending)

"""The steps of a sync operation (gitops-engine's sync loop rules), as the controller runs them:
each test plays an operation step by step with the same functions the controller calls —
plan_sync, assess, next_step, after_run, sync_fail_step — feeding back the results it would
record. Modelled on gitops-engine's sync_context_test.go (named per test)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ferry.engine.annotations import SyncOptions
from ferry.engine.ordering import PlanOptions, SyncTask, plan_sync
from ferry.engine.status import Health, HealthStatus, OperationPhase, ResultCode, SyncPhase
from ferry.engine.syncsteps import (
    Fail,
    Run,
    Succeed,
    TaskState,
    Wait,
    after_run,
    assess,
    next_step,
    sync_fail_step,
    waiting_message,
)
from ferry.engine.tracking import ResourceKey

NO_OPTIONS = SyncOptions({})
H, P, D, S, M, U = (
    Health(HealthStatus.HEALTHY),
    Health(HealthStatus.PROGRESSING, "rolling out"),
    Health(HealthStatus.DEGRADED, "crashed"),
    Health(HealthStatus.SUSPENDED),
    Health(HealthStatus.MISSING),
    Health(HealthStatus.UNKNOWN),
)


def nothing_live(_key: ResourceKey) -> None:
    return None


def manifest(
    kind: str, name: str, wave: int = 0, hook: str = "", api_version: str = "v1", **annotations: str
) -> dict[str, Any]:
    notes = {"argocd.argoproj.io/sync-wave": str(wave), **annotations}
    if hook:
        notes["argocd.argoproj.io/hook"] = hook
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "annotations": notes}}


def tasks(*manifests: dict[str, Any], extras: list[dict[str, Any]] | None = None) -> list[SyncTask]:
    return plan_sync(
        list(manifests),
        live=nothing_live,
        extras=extras or [],
        options=PlanOptions(app="app", destination_namespace="ns"),
    ).tasks


class Operation:
    """Plays the controller's part: records results and runs steps until nothing changes."""

    def __init__(self, planned: list[SyncTask], *, options: SyncOptions = NO_OPTIONS) -> None:
        self.states = [TaskState(t) for t in planned]
        self.options = options
        self.applied: list[str] = []

    def record(self, task: SyncTask, phase: OperationPhase, status: ResultCode, message: str = "") -> None:
        self.states = [
            replace(s, phase=phase, status=status, message=message or s.message) if s.task == task else s
            for s in self.states
        ]

    def health(self, health: dict[str, Health | None], missing: frozenset[str] = frozenset()) -> None:
        """Assess running tasks as the controller does, from each object's health (by name)."""
        for state in self.states:
            if state.phase is OperationPhase.RUNNING:
                live = None if state.task.name in missing else {"kind": state.task.kind}
                verdict = assess(state.task, live, health.get(state.task.name))
                if verdict is not None:
                    status = ResultCode.SYNC_FAILED if verdict.sync_failed else state.status
                    assert status is not None
                    self.record(state.task, verdict.phase, status, verdict.message)

    def step(
        self, *, confirmed: bool = False, fail_apply: frozenset[str] = frozenset()
    ) -> Wait | Fail | Succeed:
        step = next_step(self.states, app_options=self.options, prune_confirmed=confirmed)
        if not isinstance(step, Run):
            return step
        for task in step.tasks:
            self.applied.append(task.name)
            if task.name in fail_apply:
                self.record(task, OperationPhase.FAILED, ResultCode.SYNC_FAILED, "the API server said no")
            elif task.prune:
                self.record(task, OperationPhase.SUCCEEDED, ResultCode.PRUNED, "pruned")
            else:
                self.record(task, OperationPhase.RUNNING, ResultCode.SYNCED)
        group = [s for s in self.states if s.task in step.tasks]
        after = after_run(group, final=step.final)
        assert not isinstance(after, Run)
        return after


def test_a_plain_apply_succeeds_at_once_even_if_progressing() -> None:
    """TestSyncSuccessfully / Argo CD's TestOneProgressingDeploymentIsSucceededAndSynced: one
    phase, one wave, no hooks: the operation succeeds when the objects are applied."""
    op = Operation(tasks(manifest("Deployment", "web", api_version="apps/v1"), manifest("Service", "lb")))
    assert op.step() == Succeed("successfully synced (all tasks run)")
    assert op.applied == ["lb", "web"]


def test_waves_wait_for_health_and_resources_without_a_check_are_done() -> None:
    """TestSyncSuccessfully_Multistep."""
    op = Operation(
        tasks(
            manifest("ConfigMap", "config"),
            manifest("Deployment", "web", 1, api_version="apps/v1"),
            manifest("Service", "lb", 2),
        )
    )
    assert op.step() == Wait("waiting for healthy state of /ConfigMap/config")
    op.health({})  # a ConfigMap has no health check: done once applied
    assert op.step() == Wait("waiting for healthy state of apps/Deployment/web")
    op.health({"web": P})
    assert op.step() == Wait("waiting for healthy state of apps/Deployment/web")
    op.health({"web": H})
    # the last wave: applied means done, although a LoadBalancer Service is still Progressing
    assert op.step() == Succeed("successfully synced (all tasks run)")
    assert op.applied == ["config", "web", "lb"]


def test_a_degraded_resource_before_the_last_wave_fails_the_operation() -> None:
    """Argo CD's TestFixingDegradedApp (first half): wave 2 is never applied."""
    op = Operation(
        tasks(manifest("Deployment", "web", 1, api_version="apps/v1"), manifest("ConfigMap", "later", 2))
    )
    op.step()
    op.health({"web": D})
    step = op.step()
    assert step == Fail(
        "one or more synchronization tasks completed unsuccessfully, reason: apps/Deployment/web: crashed"
    )
    assert op.applied == ["web"]


def test_a_resource_degrading_in_the_last_wave_does_not_fail_it() -> None:
    """TestDegradedDeploymentIsSucceededAndSynced: health is the app's, not the operation's."""
    op = Operation(
        tasks(manifest("ConfigMap", "first"), manifest("Deployment", "web", 1, api_version="apps/v1"))
    )
    op.step()
    op.health({})
    assert op.step() == Succeed("successfully synced (all tasks run)")


def test_suspended_resources_hold_the_next_wave_as_in_argo_cd() -> None:
    op = Operation(
        tasks(manifest("Deployment", "paused", api_version="apps/v1"), manifest("ConfigMap", "later", 1))
    )
    op.step()
    op.health({"paused": S})
    assert op.step() == Wait("waiting for healthy state of apps/Deployment/paused")


def test_child_applications_missing_or_unknown_do_not_hold_their_parent() -> None:
    children = [manifest("Application", f"child-{w}", w, api_version="ferrycd.io/v1alpha1") for w in range(3)]
    op = Operation(tasks(*children))
    op.step()
    op.health({"child-0": M})
    op.step()
    op.health({"child-1": U})
    assert op.step() == Succeed("successfully synced (all tasks run)")
    assert op.applied == ["child-0", "child-1", "child-2"]
    # with a health check turned on, a Progressing child holds the next wave
    op = Operation(tasks(*children))
    op.step()
    op.health({"child-0": P})
    assert op.step() == Wait("waiting for healthy state of ferrycd.io/Application/child-0")


def test_hooks_must_complete_and_a_failed_hook_fails_the_operation() -> None:
    """TestPreSyncHookFailure: the Sync wave is never applied."""
    op = Operation(
        tasks(
            manifest("Job", "migrate", hook="PreSync", api_version="batch/v1"), manifest("ConfigMap", "app")
        )
    )
    assert op.step() == Wait("waiting for completion of hook batch/Job/migrate")
    op.health({"migrate": P})
    assert op.step() == Wait("waiting for completion of hook batch/Job/migrate")
    op.health({"migrate": D})
    assert isinstance(op.step(), Fail)
    assert op.applied == ["migrate"]


def test_a_hook_in_the_last_wave_is_waited_for_and_unknown_health_fails_it() -> None:
    op = Operation(tasks(manifest("ConfigMap", "app"), manifest("Pod", "smoke", hook="PostSync")))
    op.step()
    op.health({})
    assert op.step() == Wait("waiting for completion of hook /Pod/smoke")
    op.health({"smoke": U})
    assert isinstance(op.step(), Fail)


def test_a_hook_without_a_health_check_completes_when_created() -> None:
    op = Operation(tasks(manifest("ConfigMap", "hook-cm", hook="PreSync"), manifest("ConfigMap", "app")))
    op.step()
    op.health({})
    assert op.step() == Succeed("successfully synced (all tasks run)")


def test_a_running_task_whose_object_vanished_is_an_error() -> None:
    """TestSync_MultistepResourceDeletionMidstep."""
    op = Operation(tasks(manifest("ConfigMap", "gone"), manifest("ConfigMap", "later", 1)))
    op.step()
    op.health({}, missing=frozenset({"gone"}))
    step = op.step()
    assert step == Fail(
        "one or more synchronization tasks completed unsuccessfully, reason: "
        "/ConfigMap/gone: Resource /ConfigMap/gone is missing, it might have been deleted"
    )


def test_an_apply_failure_fails_the_operation_at_once() -> None:
    """TestSyncCreateFailure."""
    op = Operation(tasks(manifest("ConfigMap", "bad"), manifest("ConfigMap", "later", 1)))
    assert op.step(fail_apply=frozenset({"bad"})) == Fail(
        "one or more objects failed to apply, reason: /ConfigMap/bad: the API server said no"
    )


def test_the_next_prune_wave_waits_until_the_previous_one_is_gone() -> None:
    """TestWaitForCleanUpBeforeNextWave: prunes go pod-3, pod-2, pod-1, each wave waiting for
    the objects of the previous one to be deleted."""
    extras = [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"pod-{w}",
                "namespace": "ns",
                "annotations": {"argocd.argoproj.io/sync-wave": str(w)},
            },
        }
        for w in (1, 2, 3)
    ]
    op = Operation(tasks(extras=extras))
    assert op.step() == Wait("waiting for healthy state of /Pod/pod-3")
    op.states = [replace(s, deleting=s.task.name == "pod-3") for s in op.states]
    assert op.step() == Wait("waiting for deletion of /Pod/pod-3")
    op.states = [replace(s, deleting=False) for s in op.states]
    op.step()
    assert op.applied == ["pod-3", "pod-2"]
    assert op.step() == Succeed("successfully synced (all tasks run)")
    assert op.applied == ["pod-3", "pod-2", "pod-1"]


def test_prune_confirm_waits_for_the_confirmation() -> None:
    """TestPruneConfirmResourceLevel / TestPruneConfirmAppLevel."""
    extra = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "old",
            "namespace": "ns",
            "annotations": {"argocd.argoproj.io/sync-options": "Prune=confirm"},
        },
    }
    op = Operation(tasks(manifest("ConfigMap", "keep"), extras=[extra]))
    assert op.step() == Wait("waiting for pruning confirmation of /ConfigMap/old")
    assert op.applied == []  # nothing in the wave runs until it is confirmed
    assert op.step(confirmed=True) == Succeed("successfully synced (all tasks run)")
    assert op.applied == ["old", "keep"]
    plain: dict[str, Any] = {**extra, "metadata": {"name": "old", "namespace": "ns"}}
    app_level = Operation(tasks(extras=[plain]), options=SyncOptions.parse(["Prune=confirm"]))
    assert app_level.step() == Wait("waiting for pruning confirmation of /ConfigMap/old")


def test_apply_out_of_sync_only_skips_what_is_in_sync() -> None:
    """TestSync_ApplyOutOfSyncOnly."""
    planned = tasks(manifest("ConfigMap", "same"), manifest("ConfigMap", "changed"))
    same = next(t for t in planned if t.name == "same")
    step = next_step(
        [TaskState(t) for t in planned], app_options=NO_OPTIONS, skip=frozenset({same.result_key})
    )
    assert isinstance(step, Run)
    assert [t.name for t in step.tasks] == ["changed"]
    assert step.final


def test_sync_fail_hooks_run_after_a_failure_and_their_failure_is_told() -> None:
    """TestSync_FailedSyncWithSyncFailHook_HookFailed / Test_executeSyncFailPhase*."""
    hook = tasks(manifest("Job", "cleanup", hook="SyncFail", api_version="batch/v1"))[0]
    assert hook.phase is SyncPhase.SYNC_FAIL
    assert sync_fail_step([], "boom").done
    start = sync_fail_step([TaskState(hook)], "boom")
    assert start.run == (hook,)
    assert not start.done
    running = sync_fail_step([TaskState(hook, OperationPhase.RUNNING, ResultCode.SYNCED)], "boom")
    assert running.run == ()
    assert not running.done
    failed = sync_fail_step([TaskState(hook, OperationPhase.FAILED, ResultCode.SYNCED, "exit 1")], "boom")
    assert failed.done
    assert failed.message == "boom\none or more SyncFail hooks failed, reason: batch/Job/cleanup: exit 1"
    fine = sync_fail_step([TaskState(hook, OperationPhase.SUCCEEDED, ResultCode.SYNCED)], "boom")
    assert fine.done
    assert fine.message == "boom"


def test_sync_fail_hooks_are_not_part_of_a_successful_sync() -> None:
    """TestSync_SuccessfulSyncWithSyncFailHook."""
    op = Operation(
        tasks(
            manifest("ConfigMap", "app"), manifest("Job", "cleanup", hook="SyncFail", api_version="batch/v1")
        )
    )
    assert op.step() == Succeed("successfully synced (all tasks run)")
    assert op.applied == ["app"]


def test_waiting_messages_as_argo_cd_writes_them() -> None:
    """Test_setRunningPhase."""
    resources = [TaskState(t) for t in tasks(*(manifest("ConfigMap", f"c{i}") for i in range(3)))]
    assert waiting_message(resources) == "waiting for healthy state of /ConfigMap/c0 and 2 more resources"
    hooks = [
        TaskState(t) for t in tasks(manifest("Pod", "h1", hook="Sync"), manifest("Pod", "h2", hook="Sync"))
    ]
    assert waiting_message(hooks) == "waiting for completion of hook /Pod/h1 and 1 more hooks"
    assert waiting_message(hooks[:1], deletion=True) == "waiting for deletion of hook /Pod/h1"
    assert next_step([], app_options=NO_OPTIONS) == Succeed("successfully synced (no more tasks)")

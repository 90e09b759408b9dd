"""The sync engine: an operation as a state machine over ``status.operationState``.

One call to ``SyncRunner.step`` moves an operation forward by one step — start, dry run, apply
one (phase, wave) group, check that group's health and hooks, prune, finish — and returns how
long to wait before the next step (or None when the operation is over). Waiting never holds a
worker: the caller re-queues the app after the delay (or sooner, when a live object changes).

Everything the next step needs is in the Application (operation, revision, per-resource
results), so a controller killed at any point resumes where the previous one stopped, never
re-runs a hook that already succeeded, and never applies another revision than the operation's.

Order: PreSync hooks -> Sync waves -> prunes (reverse wave order) -> PruneLast prunes ->
PostSync hooks; on failure, SyncFail hooks. Each group must be healthy (hooks: completed) before
the next starts. Before the first apply every object is dry-run applied; if any fails, nothing
is applied.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ferry.engine.annotations import SyncOptions, delete_policies, hook_types, sync_options, sync_wave
from ferry.engine.diff import CONTROLLER_MANAGER
from ferry.engine.health import HealthChecker
from ferry.engine.ignore import IgnoreRule, apply_ignore_rules
from ferry.engine.ordering import kind_rank
from ferry.engine.status import HealthStatus, HookDeletePolicy, HookType, ResultCode, SyncPhase
from ferry.engine.tracking import ResourceKey, owning_app, with_tracking
from ferry.kube.client import KubeClient, Obj
from ferry.kube.errors import Conflict, KubeError, NotFoundError

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0
HOOK_PHASE_RUNNING, HOOK_PHASE_SUCCEEDED, HOOK_PHASE_FAILED = "Running", "Succeeded", "Failed"


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Task:
    """One thing a sync does to one object."""

    phase: SyncPhase
    wave: int
    key: ResourceKey
    version: str
    desired: Obj | None  # None for prune tasks
    live: Obj | None
    hook: HookType | None = None
    prune: bool = False
    prune_last: bool = False
    options: Mapping[str, str] = field(default_factory=dict)

    @property
    def generate_name(self) -> str:
        return (
            str(((self.desired or {}).get("metadata") or {}).get("generateName") or "") if self.hook else ""
        )

    @property
    def stage(self) -> tuple[int, int, int]:
        """(stage, wave) ordering: PreSync, Sync, prune, prune-last, PostSync; SyncFail apart."""
        if self.prune:
            return (2 if not self.prune_last else 3, -self.wave, 0)
        order = {SyncPhase.PRE_SYNC: 0, SyncPhase.SYNC: 1, SyncPhase.POST_SYNC: 4, SyncPhase.SYNC_FAIL: 5}[
            self.phase
        ]
        return (order, self.wave, 0)

    @property
    def sort_key(self) -> tuple[Any, ...]:
        rank = kind_rank(self.key.kind)
        return (*self.stage, -rank if self.prune else rank, self.key.kind, self.key.namespace, self.key.name)


def result_key(result: Mapping[str, Any]) -> tuple[str, str, str, str, str]:
    return (
        str(result.get("group", "")),
        str(result.get("kind", "")),
        str(result.get("namespace", "")),
        str(result.get("name", "")),
        str(result.get("syncPhase", "")),
    )


def find_result(results: list[dict[str, Any]], task: Task) -> dict[str, Any] | None:
    for result in results:
        if (
            result.get("group", ""),
            result.get("kind"),
            result.get("namespace", ""),
            result.get("syncPhase"),
        ) != (
            task.key.group,
            task.key.kind,
            task.key.namespace,
            str(task.phase),
        ):
            continue
        name = str(result.get("name", ""))
        if name == task.key.name or (task.generate_name and name.startswith(task.generate_name)):
            return result
    return None


@dataclass
class SyncContext:
    """What one step needs from the controller."""

    app: Obj
    manifests: list[Obj]
    revision: str
    client: KubeClient
    live: dict[ResourceKey, Obj]  # live objects by key (from the cluster cache)
    extras: list[Obj]  # live objects the app tracks that Git no longer has
    checker: HealthChecker
    ignore: list[IgnoreRule]
    destination_namespace: str
    namespaced: dict[tuple[str, str], bool]  # (group, kind) -> namespaced, for kinds known to the cluster


class SyncRunner:
    def __init__(self, field_manager: str = CONTROLLER_MANAGER) -> None:
        self.field_manager = field_manager

    # --- the plan ----------------------------------------------------------------------------------

    def plan(self, ctx: SyncContext, operation: Mapping[str, Any], app_options: SyncOptions) -> list[Task]:
        sync = operation.get("sync") or {}
        app_name = ctx.app["metadata"]["name"]
        selected = {
            (r.get("group", ""), r.get("kind", ""), r.get("namespace", "") or "", r.get("name", ""))
            for r in sync.get("resources") or []
        }
        tasks: list[Task] = []
        for manifest in ctx.manifests:
            obj = copy.deepcopy(manifest)
            meta = obj.setdefault("metadata", {})
            group = (
                str(obj.get("apiVersion", "")).rpartition("/")[0]
                if "/" in str(obj.get("apiVersion", ""))
                else ""
            )
            namespaced = ctx.namespaced.get((group, str(obj.get("kind"))), True)
            if namespaced and not meta.get("namespace") and ctx.destination_namespace:
                meta["namespace"] = ctx.destination_namespace
            if not namespaced:
                meta.pop("namespace", None)
            tracked = with_tracking(obj, app_name)
            key = ResourceKey.of(tracked)
            if not key.name and meta.get("generateName"):
                key = ResourceKey(key.group, key.kind, key.namespace, str(meta["generateName"]))
            version = str(obj.get("apiVersion", "")).rpartition("/")[2]
            hooks = hook_types(obj)
            options = sync_options(obj)
            if (
                selected
                and (key.group, key.kind, key.namespace, key.name) not in selected
                and (key.group, key.kind, "", key.name) not in selected
            ):
                continue
            if hooks:
                if selected or HookType.SKIP in hooks:
                    continue  # hooks do not run on a selective sync (Argo CD's rule)
                for hook in sorted(hooks):
                    if hook.phase is not None:
                        tasks.append(
                            Task(
                                hook.phase,
                                _wave(obj),
                                key,
                                version,
                                tracked,
                                None,
                                hook=hook,
                                options=options,
                            )
                        )
                continue
            tasks.append(
                Task(SyncPhase.SYNC, _wave(obj), key, version, tracked, ctx.live.get(key), options=options)
            )
        if sync.get("prune"):
            prune_last = app_options.enabled("PruneLast")
            for live in ctx.extras:
                key = ResourceKey.of(live)
                if selected and (key.group, key.kind, key.namespace, key.name) not in selected:
                    continue
                options = sync_options(live)
                version = str(live.get("apiVersion", "")).rpartition("/")[2]
                last = prune_last or options.get("PruneLast") == "true"
                tasks.append(
                    Task(
                        SyncPhase.SYNC,
                        _wave(live),
                        key,
                        version,
                        None,
                        live,
                        prune=True,
                        prune_last=last,
                        options=options,
                    )
                )
        return sorted(tasks, key=lambda t: t.sort_key)

    # --- steps -------------------------------------------------------------------------------------

    async def dry_run(
        self, ctx: SyncContext, tasks: list[Task], app_options: SyncOptions
    ) -> list[dict[str, Any]]:
        """Dry-run applies every object; returns failure results (empty: all would apply)."""
        created_here = {
            (
                str((t.desired or {}).get("spec", {}).get("group", "")),
                str(((t.desired or {}).get("spec", {}).get("names") or {}).get("kind", "")),
            )
            for t in tasks
            if t.key.kind == "CustomResourceDefinition"
        }
        namespaces_here = {t.key.name for t in tasks if t.key.kind == "Namespace" and not t.prune}
        if app_options.enabled("CreateNamespace") and ctx.destination_namespace:
            namespaces_here.add(ctx.destination_namespace)
        failures = []
        for task in tasks:
            if task.prune or task.desired is None or task.hook is not None:
                continue
            skip_missing = app_options.enabled("SkipDryRunOnMissingResource") or (
                task.options.get("SkipDryRunOnMissingResource") == "true"
            )
            if (task.key.group, task.key.kind) in created_here or (
                task.key.namespace in namespaces_here and task.live is None
            ):
                continue
            try:
                await self._apply(ctx, task, app_options, dry_run=True)
            except KubeError as err:
                if skip_missing and (err.status == 404 or "not served" in err.message):
                    continue
                if _forced(task, app_options) and err.status in (409, 422):
                    continue  # force will delete and create it again
                failures.append(
                    self.result_for(task, ResultCode.SYNC_FAILED, f"dry run failed: {err.message}")
                )
        return failures

    async def _apply(
        self, ctx: SyncContext, task: Task, app_options: SyncOptions, *, dry_run: bool = False
    ) -> Obj:
        assert task.desired is not None
        desired = task.desired
        if (
            app_options.enabled("RespectIgnoreDifferences")
            or task.options.get("RespectIgnoreDifferences") == "true"
        ) and task.live:
            desired = _respect_ignored(desired, task.live, ctx.ignore)
        replace = task.options.get("Replace") == "true" or app_options.enabled("Replace")
        if task.hook is not None and task.generate_name:
            return await ctx.client.create(desired, dry_run=dry_run, field_manager=self.field_manager)
        if replace:
            try:
                current = task.live or (
                    await ctx.client.get(
                        await ctx.client.resource(desired["apiVersion"], desired["kind"]),
                        task.key.name,
                        task.key.namespace or None,
                    )
                )
            except NotFoundError:
                return await ctx.client.create(desired, dry_run=dry_run, field_manager=self.field_manager)
            body = copy.deepcopy(desired)
            body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            return await ctx.client.replace(body, dry_run=dry_run, field_manager=self.field_manager)
        return await ctx.client.apply(desired, field_manager=self.field_manager, dry_run=dry_run)

    async def apply_task(self, ctx: SyncContext, task: Task, app_options: SyncOptions) -> dict[str, Any]:
        """Applies (or, for hooks, creates) one object; returns its result."""
        assert task.desired is not None
        if (
            task.live is not None
            and owning_app(task.live) not in (None, ctx.app["metadata"]["name"])
            and (
                app_options.enabled("FailOnSharedResource")
                or task.options.get("FailOnSharedResource") == "true"
            )
        ):
            return self.result_for(
                task, ResultCode.SYNC_FAILED, f"{task.key} is managed by another application"
            )
        if task.hook is not None:
            policies = delete_policies(task.desired)
            if HookDeletePolicy.BEFORE_HOOK_CREATION in policies and not task.generate_name:
                await self._delete_and_wait(ctx, task.key, task.desired)
        try:
            applied = await self._apply(ctx, task, app_options)
        except KubeError as err:
            if not _forced(task, app_options) or err.status not in (409, 422):
                return self.result_for(task, ResultCode.SYNC_FAILED, err.message)
            # Force: what cannot be changed in place (an immutable field) is deleted and created again
            try:
                await self._delete_and_wait(ctx, task.key, task.desired)
                applied = await self._apply(ctx, task, app_options)
            except KubeError as again:
                return self.result_for(task, ResultCode.SYNC_FAILED, again.message)
        result = self.result_for(
            task,
            ResultCode.SYNCED,
            "created" if task.hook else f"{task.key.kind.lower()}/{task.key.name} serverside-applied",
        )
        if task.hook is not None:
            result["name"] = applied["metadata"]["name"]
            result["hookPhase"] = HOOK_PHASE_RUNNING
        return result

    async def _delete_and_wait(self, ctx: SyncContext, key: ResourceKey, desired: Obj) -> None:
        info = await ctx.client.resource(desired["apiVersion"], desired["kind"])
        try:
            await ctx.client.delete(
                info, key.name, namespace=key.namespace or None, propagation_policy="Foreground"
            )
        except NotFoundError:
            return
        for _ in range(300):  # until it is gone: creating the new hook needs the name free
            try:
                await ctx.client.get(info, key.name, key.namespace or None)
            except NotFoundError:
                return
            await asyncio.sleep(0.1)

    async def prune_task(
        self, ctx: SyncContext, task: Task, app_options: SyncOptions, *, dry_run: bool
    ) -> dict[str, Any]:
        assert task.live is not None
        if task.options.get("Prune") == "false":
            return self.result_for(task, ResultCode.PRUNE_SKIPPED, "ignored (no prune)")
        if dry_run:
            return self.result_for(task, ResultCode.PRUNED, "pruned (dry run)")
        policy = {"foreground": "Foreground", "background": "Background", "orphan": "Orphan"}.get(
            app_options.get("PrunePropagationPolicy", "foreground").lower(), "Foreground"
        )
        try:
            info = await ctx.client.resource(task.live["apiVersion"], task.key.kind)
            await ctx.client.delete(
                info, task.key.name, namespace=task.key.namespace or None, propagation_policy=policy
            )
        except NotFoundError:
            pass
        except KubeError as err:
            return self.result_for(task, ResultCode.SYNC_FAILED, err.message)
        return self.result_for(task, ResultCode.PRUNED, "pruned")

    def task_state(self, ctx: SyncContext, task: Task, result: Mapping[str, Any]) -> str:
        """'done', 'waiting' or 'failed' for an applied task: hooks until they complete, other
        resources until they are healthy."""
        if result.get("status") == ResultCode.SYNC_FAILED:
            return "failed"
        if task.prune or result.get("status") in (ResultCode.PRUNED, ResultCode.PRUNE_SKIPPED):
            return "done"
        name = str(result.get("name") or task.key.name)
        live = ctx.live.get(ResourceKey(task.key.group, task.key.kind, task.key.namespace, name))
        if task.hook is not None:
            if result.get("hookPhase") == HOOK_PHASE_SUCCEEDED:
                return "done"
            if result.get("hookPhase") == HOOK_PHASE_FAILED:
                return "failed"
            if live is None:
                return "waiting"
            health = ctx.checker.check(live)
            if task.key.kind not in ("Job", "Pod") or health is None:
                return "done"
            if health.status is HealthStatus.HEALTHY:
                return "done"
            if health.status is HealthStatus.DEGRADED:
                return "failed"
            return "waiting"
        if live is None:
            return "waiting"
        health = ctx.checker.check(live)
        if health is None or health.status in (HealthStatus.HEALTHY, HealthStatus.SUSPENDED):
            return "done"
        if health.status is HealthStatus.DEGRADED:
            return "waiting"  # a Degraded resource may recover (rollout); the operation waits
        return "waiting"

    async def delete_hooks(self, ctx: SyncContext, results: list[dict[str, Any]], tasks: list[Task]) -> None:
        """Applies hook delete policies once the operation is over."""
        for task in tasks:
            if task.hook is None or task.desired is None:
                continue
            result = find_result(results, task)
            if result is None:
                continue
            policies = delete_policies(task.desired)
            phase = result.get("hookPhase")
            if (phase == HOOK_PHASE_SUCCEEDED and HookDeletePolicy.HOOK_SUCCEEDED in policies) or (
                phase == HOOK_PHASE_FAILED and HookDeletePolicy.HOOK_FAILED in policies
            ):
                try:
                    info = await ctx.client.resource(task.desired["apiVersion"], task.key.kind)
                    await ctx.client.delete(
                        info,
                        str(result["name"]),
                        namespace=task.key.namespace or None,
                        propagation_policy="Background",
                    )
                except (NotFoundError, Conflict):
                    pass
                except KubeError as err:
                    log.warning("hook not deleted", extra={"hook": str(task.key), "error": err.message})

    @staticmethod
    def result_for(task: Task, code: ResultCode, message: str) -> dict[str, Any]:
        result: dict[str, Any] = {
            "group": task.key.group,
            "version": task.version,
            "kind": task.key.kind,
            "namespace": task.key.namespace,
            "name": task.key.name,
            "status": str(code),
            "message": message,
            "syncPhase": str(task.phase),
        }
        if task.hook is not None:
            result["hookType"] = str(task.hook)
        return result


def _defined_kind(crd: Obj) -> tuple[str, str]:
    spec = crd.get("spec") or {}
    return str(spec.get("group", "")), str((spec.get("names") or {}).get("kind", ""))


def _wave(obj: Obj) -> int:
    try:
        return sync_wave(obj)
    except ValueError:
        return 0


def _respect_ignored(desired: Obj, live: Obj, rules: list[IgnoreRule]) -> Obj:
    """The desired object with ignored fields taken from live (RespectIgnoreDifferences)."""
    stripped = copy.deepcopy(desired)
    apply_ignore_rules(rules, stripped, live)
    return stripped


def _forced(task: Task, app_options: SyncOptions) -> bool:
    """Force (argocd app sync --force, or the Force=true sync option on the app or the resource)."""
    return app_options.enabled("Force") or task.options.get("Force") == "true"

"""Doing what a sync step asks, against the destination cluster: dry-run, apply (server-side apply,
replace, or delete and create again with Force), prune, and delete hooks — each returning the
task's result as ``status.operationState.syncResult.resources`` records it.

What to do and when is decided by the pure engine: ``ferry/engine/ordering.py`` plans and orders
the tasks, ``ferry/engine/syncsteps.py`` decides each step. This module only talks to Kubernetes,
and never waits for anything but a request (a BeforeHookCreation deletion is requested and the
step ends; the next step sees whether the old hook is gone) — except Force, which must delete and
create again within one step.

Options, per resource (its ``sync-options`` annotation wins) or for the app: ``Validate=false``
applies with fieldValidation Ignore (Strict otherwise, as ``kubectl apply`` validates);
``Replace=true`` replaces (PUT) instead of applying; ``Force=true`` (or the operation's strategy
force) deletes and creates again what cannot change in place; ``ServerSideApply=true|false`` is
accepted and changes nothing — ferry always applies server-side, its diff and prune depend on
field ownership — and the result says so; ``RespectIgnoreDifferences=true`` keeps the live values
of ignored fields; ``FailOnSharedResource=true`` refuses objects another app tracks;
``Prune=false`` / ``PrunePropagationPolicy`` for prunes.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from controller.clustercache import ClusterCache
from ferry.engine.annotations import SyncOptions, delete_policies, option_value, problems
from ferry.engine.diff import CONTROLLER_MANAGER
from ferry.engine.health import HealthChecker
from ferry.engine.ignore import IgnoreRule, apply_ignore_rules
from ferry.engine.ordering import ResultKey, SyncTask
from ferry.engine.status import HookDeletePolicy, OperationPhase, ResultCode
from ferry.engine.tracking import ResourceKey, owning_app
from ferry.kube.client import KubeClient, Obj
from ferry.kube.errors import Conflict, KubeError, NotFoundError

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0
# what each result code makes of a task's phase (gitops-engine's operationPhases)
PHASE_OF = {
    ResultCode.SYNCED: OperationPhase.RUNNING,
    ResultCode.SYNC_FAILED: OperationPhase.FAILED,
    ResultCode.PRUNED: OperationPhase.SUCCEEDED,
    ResultCode.PRUNE_SKIPPED: OperationPhase.SUCCEEDED,
}
_PROPAGATION = {"foreground": "Foreground", "background": "Background", "orphan": "Orphan"}


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class SyncSettings:
    """What one operation asks for, from the app's and the operation's sync options."""

    options: SyncOptions
    prune: bool = False  # the operation's prune flag (auto-sync: automated.prune)
    force: bool = False  # the strategy's force (ferry app sync --force)
    dry_run: bool = False


@dataclass
class SyncContext:
    """What one step needs from the controller."""

    app: Obj
    manifests: list[Obj]
    revision: str
    client: KubeClient
    cache: ClusterCache
    extras: list[Obj]  # live objects the app tracks that Git no longer has
    checker: HealthChecker
    ignore: list[IgnoreRule]
    destination_namespace: str
    namespaced: dict[tuple[str, str], bool]  # (group, kind) -> namespaced, for kinds the cluster serves
    settings: SyncSettings


def result_key(result: Mapping[str, Any]) -> ResultKey:
    return (
        str(result.get("group", "")),
        str(result.get("kind", "")),
        str(result.get("namespace", "")),
        str(result.get("name", "")),
        str(result.get("syncPhase", "")),
    )


def result_for(
    task: SyncTask, code: ResultCode, message: str, phase: OperationPhase | None = None
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "group": task.group,
        "version": task.version,
        "kind": task.kind,
        "namespace": task.namespace,
        "name": task.name,
        "status": str(code),
        "message": message,
        "syncPhase": str(task.phase),
        "hookPhase": str(phase or PHASE_OF[code]),
    }
    if task.hook is not None:
        result["hookType"] = str(task.hook)
    return result


def option_warnings(
    spec: Mapping[str, Any], manifests: Iterable[Obj], operation_options: Iterable[str] = ()
) -> list[str]:
    """Every sync option, hook type or annotation value of an app that ferry does not
    understand, one line each (the app's SyncOptionWarning condition, the operation's warnings)."""
    app_options = SyncOptions.parse(
        [*((spec.get("syncPolicy") or {}).get("syncOptions") or []), *operation_options]
    )
    found = [f"syncOptions: {p}" for p in app_options.problems()]
    for manifest in manifests:
        meta = manifest.get("metadata") or {}
        label = f"{manifest.get('kind', '')}/{meta.get('name') or meta.get('generateName') or ''}"
        found += [f"{label}: {p}" for p in problems(manifest)]
    return found


class SyncRunner:
    def __init__(self, field_manager: str = CONTROLLER_MANAGER) -> None:
        self.field_manager = field_manager

    # --- reading -----------------------------------------------------------------------------------

    async def live(self, ctx: SyncContext, key: ResourceKey, api_version: str) -> Obj | None:
        """The object now: from the cluster cache, else (not seen there yet) read from the API."""
        cached = ctx.cache.get(key)
        if cached is not None:
            return cached
        try:
            info = await ctx.client.resource(api_version, key.kind)
            return await ctx.client.get(info, key.name, key.namespace or None)
        except NotFoundError:
            return None

    # --- dry run -----------------------------------------------------------------------------------

    async def dry_run(self, ctx: SyncContext, tasks: list[SyncTask]) -> list[dict[str, Any]]:
        """Dry-run applies every object about to be applied; returns failure results (empty: all
        would apply). Objects whose CRD or namespace this sync creates cannot be dry-run yet."""
        created_kinds = {
            _crd_kind(t.desired) for t in tasks if t.kind == "CustomResourceDefinition" and t.desired
        }
        namespaces = {t.name for t in tasks if t.kind == "Namespace" and not t.prune}
        failures = []
        for task in tasks:
            if task.prune or task.desired is None or (task.is_hook and task.live is not None):
                continue  # an existing hook is deleted and created again, not applied over
            if (task.group, task.kind) in created_kinds or (
                task.namespace in namespaces and task.live is None
            ):
                continue
            try:
                await self._apply(ctx, task, dry_run=True)
            except KubeError as err:
                missing_kind = err.status == 404 or "not served" in err.message
                if (
                    missing_kind
                    and option_value(task.options, ctx.settings.options, "SkipDryRunOnMissingResource")
                    == "true"
                ):
                    continue
                if self._forced(ctx, task) and err.status in (409, 422):
                    continue  # force deletes and creates it again
                failures.append(result_for(task, ResultCode.SYNC_FAILED, f"dry run failed: {err.message}"))
        return failures

    # --- applying ----------------------------------------------------------------------------------

    def _forced(self, ctx: SyncContext, task: SyncTask) -> bool:
        return ctx.settings.force or option_value(task.options, ctx.settings.options, "Force") == "true"

    async def _apply(self, ctx: SyncContext, task: SyncTask, *, dry_run: bool = False) -> Obj:
        assert task.desired is not None
        desired: Obj = dict(task.desired)
        options = ctx.settings.options
        if option_value(task.options, options, "RespectIgnoreDifferences") == "true" and task.live:
            desired = _respect_ignored(desired, task.live, ctx.ignore)
        if option_value(task.options, options, "Validate") == "false":
            return await self._apply_unvalidated(ctx, task, desired, dry_run=dry_run)
        validation = "Strict"
        if option_value(task.options, options, "Replace") == "true":
            current = task.live or await self.live(ctx, task.key, str(desired["apiVersion"]))
            if current is None:
                return await ctx.client.create(
                    desired, dry_run=dry_run, field_manager=self.field_manager, field_validation=validation
                )
            body = copy.deepcopy(dict(desired))
            body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            return await ctx.client.replace(
                body, dry_run=dry_run, field_manager=self.field_manager, field_validation=validation
            )
        return await ctx.client.apply(
            desired, field_manager=self.field_manager, dry_run=dry_run, field_validation=validation
        )

    async def _apply_unvalidated(
        self, ctx: SyncContext, task: SyncTask, desired: Obj, *, dry_run: bool
    ) -> Obj:
        """Validate=false: created, or merge-patched, with fieldValidation Ignore (what ``kubectl
        apply --validate=false`` sends). Server-side apply cannot do it: it refuses any field the
        schema does not declare, whatever the validation level."""
        current = task.live or await self.live(ctx, task.key, str(desired["apiVersion"]))
        if current is None:
            return await ctx.client.create(
                desired, dry_run=dry_run, field_manager=self.field_manager, field_validation="Ignore"
            )
        info = await ctx.client.resource(str(desired["apiVersion"]), task.kind)
        return await ctx.client.patch(
            info,
            task.name,
            desired,
            namespace=task.namespace or None,
            field_manager=self.field_manager,
            dry_run=dry_run,
            field_validation="Ignore",
        )

    async def apply(self, ctx: SyncContext, task: SyncTask) -> dict[str, Any]:
        """Applies one object (a resource or a hook); returns its result."""
        assert task.desired is not None
        other = owning_app(task.live) if task.live is not None else None
        if (
            other not in (None, ctx.app["metadata"]["name"])
            and option_value(task.options, ctx.settings.options, "FailOnSharedResource") == "true"
        ):
            return result_for(
                task,
                ResultCode.SYNC_FAILED,
                f"{task.kind}/{task.name} is part of application {other} (FailOnSharedResource)",
            )
        try:
            applied = await self._apply(ctx, task)
        except KubeError as err:
            if not self._forced(ctx, task) or err.status not in (409, 422):
                return result_for(task, ResultCode.SYNC_FAILED, err.message)
            # Force: what cannot change in place (an immutable field) is deleted and created again
            try:
                await self._delete_and_wait(ctx, task)
                applied = await ctx.client.apply(dict(task.desired), field_manager=self.field_manager)
            except KubeError as again:
                return result_for(task, ResultCode.SYNC_FAILED, again.message)
        if task.kind == "CustomResourceDefinition":
            await self._established(ctx, applied)
        how = "serverside-applied"
        if option_value(task.options, ctx.settings.options, "Validate") == "false":
            how = "applied (Validate=false: created or merge-patched, unknown fields dropped)"
        elif option_value(task.options, ctx.settings.options, "Replace") == "true":
            how = "replaced"
        message = f"{task.kind.lower()}/{task.name} {how}"
        if option_value(task.options, ctx.settings.options, "ServerSideApply") == "false":
            message += " (ServerSideApply=false: ferry always applies server-side)"
        return result_for(task, ResultCode.SYNCED, message)

    async def _established(self, ctx: SyncContext, crd: Obj) -> None:
        """Waits (up to 3 s, as gitops-engine's ensureCRDReady) until a CRD it just applied is
        Established, and refreshes discovery, so its custom resources can follow at once."""
        info = await ctx.client.resource(str(crd["apiVersion"]), "CustomResourceDefinition")
        for _ in range(30):
            conditions = (crd.get("status") or {}).get("conditions") or []
            if any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
                break
            await asyncio.sleep(0.1)
            try:
                crd = await ctx.client.get(info, str(crd["metadata"]["name"]))
            except NotFoundError:
                return
        await ctx.client.discover(force=True)

    async def _delete_and_wait(self, ctx: SyncContext, task: SyncTask) -> None:
        assert task.desired is not None
        info = await ctx.client.resource(task.desired["apiVersion"], task.kind)
        try:
            await ctx.client.delete(
                info, task.name, namespace=task.namespace or None, propagation_policy="Foreground"
            )
        except NotFoundError:
            return
        for _ in range(300):  # until it is gone: creating it again needs the name free
            try:
                await ctx.client.get(info, task.name, task.namespace or None)
            except NotFoundError:
                return
            await asyncio.sleep(0.1)

    async def prune(self, ctx: SyncContext, task: SyncTask) -> dict[str, Any]:
        """Deletes an object Git no longer has (when the operation prunes and the object allows it)."""
        assert task.live is not None
        if not ctx.settings.prune:
            return result_for(task, ResultCode.PRUNE_SKIPPED, "ignored (requires pruning)")
        if option_value(task.options, ctx.settings.options, "Prune") == "false":
            return result_for(task, ResultCode.PRUNE_SKIPPED, "ignored (no prune)")
        if ctx.settings.dry_run:
            return result_for(task, ResultCode.PRUNED, "pruned (dry run)")
        if (task.live.get("metadata") or {}).get("deletionTimestamp"):
            return result_for(
                task, ResultCode.PRUNED, "pruned"
            )  # already going: deleting again changes nothing
        policy = _PROPAGATION.get(
            ctx.settings.options.get("PrunePropagationPolicy", "foreground").lower(), "Foreground"
        )
        try:
            await self.delete(ctx, task.live, policy)
        except KubeError as err:
            return result_for(task, ResultCode.SYNC_FAILED, err.message)
        return result_for(task, ResultCode.PRUNED, "pruned")

    async def delete(self, ctx: SyncContext, obj: Mapping[str, Any], policy: str = "Foreground") -> None:
        """Deletes a live object (gone already is fine)."""
        await delete_object(ctx.client, obj, policy)

    async def delete_hooks(
        self, ctx: SyncContext, results: Iterable[Mapping[str, Any]], policy: HookDeletePolicy
    ) -> None:
        """When the operation ends: deletes the completed hooks with this delete policy
        (HookSucceeded after a success, HookFailed after a failure)."""
        for result in results:
            if not result.get("hookType") or result.get("hookPhase") == OperationPhase.RUNNING:
                continue
            key = ResourceKey(
                str(result.get("group", "")),
                str(result["kind"]),
                str(result.get("namespace", "")),
                str(result["name"]),
            )
            live = ctx.cache.get(key)
            if live is None or policy not in delete_policies(live):
                continue
            try:
                await self.delete(ctx, live, "Background")
            except Conflict:
                pass
            except KubeError as err:
                log.warning("hook not deleted", extra={"hook": str(key), "error": err.message})


async def delete_object(client: KubeClient, obj: Mapping[str, Any], policy: str = "Foreground") -> None:
    """Deletes a live object with this propagation policy (gone already is fine)."""
    info = await client.resource(str(obj["apiVersion"]), str(obj["kind"]))
    meta = obj.get("metadata") or {}
    with contextlib.suppress(NotFoundError):
        await client.delete(
            info, str(meta["name"]), namespace=meta.get("namespace") or None, propagation_policy=policy
        )


def api_version_of(result: Mapping[str, Any]) -> str:
    group, version = str(result.get("group", "")), str(result.get("version", ""))
    return f"{group}/{version}" if group else version


def _crd_kind(crd: Mapping[str, Any]) -> tuple[str, str]:
    spec = crd.get("spec") or {}
    return str(spec.get("group", "")), str((spec.get("names") or {}).get("kind", ""))


def _respect_ignored(desired: Obj, live: Mapping[str, Any], rules: list[IgnoreRule]) -> Obj:
    """The desired object with ignored fields taken from live (RespectIgnoreDifferences)."""
    stripped = copy.deepcopy(dict(desired))
    apply_ignore_rules(rules, stripped, live)
    return stripped

"""Deleting an application as Argo CD does (appcontroller.go finalizeApplicationDeletion,
hook.go): PreDelete hooks, then its resources wave by wave, then PostDelete hooks, then the
finalizers go.

Finalizers on the Application, each a step of the deletion, in this order:

- ``pre-delete-finalizer.ferrycd.io`` (set by the controller while the manifests have PreDelete
  hooks): create the PreDelete hooks, wait until they complete.
- ``ferrycd.io/resources-finalizer`` (or ``resources-finalizer.ferrycd.io/background``; set by the
  API's cascading Delete):
  delete the tracked objects, highest sync wave first, each wave gone before the next.
- ``post-delete-finalizer.ferrycd.io`` (while the manifests have PostDelete hooks): create the
  PostDelete hooks, wait until they complete.
- the ``/cleanup`` variants of the hook finalizers: delete completed hooks per their delete
  policy, wait until they are gone.

A failed hook is a ``DeletionError`` condition; it is deleted, so the next attempt (10 s later,
or at once after a refresh — a fixed hook in Git is rendered again) creates it anew. Objects
with ``Delete=false`` (or ``helm.sh/resource-policy: keep``) stay; ``Delete=confirm`` (resource
or app) waits — a ``DeletionConfirmationRequired`` condition says so — until ``ferry app
confirm-deletion`` stamps the app's ``ferrycd.io/deletion-approved`` annotation after the
deletion began. Nothing waits while holding a worker: each call does what it can and the app
is queued again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from controller.clusters import Destination, kinds_namespaced
from controller.host import ControllerHost
from controller.memory import AppMemory
from controller.status import now
from controller.sync import delete_object
from controller.workqueue import Refresh
from ferry.engine.annotations import (
    SyncOptions,
    delete_policies,
    deletion_approved_at,
    hook_types,
    option_value,
    parse_time,
    sync_options,
    sync_wave,
)
from ferry.engine.health import HealthChecker
from ferry.engine.ordering import desired_object, kind_rank
from ferry.engine.status import HealthStatus, HookDeletePolicy, HookType
from ferry.engine.tracking import ResourceKey, instance_label_value, owning_app
from ferry.kube.client import Obj
from ferry.kube.errors import Conflict, KubeError, NotFoundError
from ferry.settings import RESOURCES_FINALIZER_BACKGROUND, RESOURCES_FINALIZERS

log = logging.getLogger(__name__)

# Argo CD's names (pre-delete-finalizer.argocd.argoproj.io, ...) under ferry's domain; one "/" at
# most, as Kubernetes requires of a finalizer name
PRE_DELETE_FINALIZER = "pre-delete-finalizer.ferrycd.io"
POST_DELETE_FINALIZER = "post-delete-finalizer.ferrycd.io"
CLEANUP = "/cleanup"
_HOOK_FINALIZERS = {HookType.PRE_DELETE: PRE_DELETE_FINALIZER, HookType.POST_DELETE: POST_DELETE_FINALIZER}
RETRY_SECONDS = 10.0
POLL_SECONDS = 1.0


def hook_finalizers(manifests: Sequence[Obj]) -> set[str]:
    """The deletion-hook finalizers an app with these manifests must carry."""
    types = {t for m in manifests for t in hook_types(m)}
    return {f for t, base in _HOOK_FINALIZERS.items() if t in types for f in (base, base + CLEANUP)}


def _resources_finalizers(finalizers: Sequence[str]) -> list[str]:
    return [f for f in finalizers if f in RESOURCES_FINALIZERS]


def needs_confirmation(obj: Obj, app_options: SyncOptions) -> bool:
    """Deleting it waits for a confirmation (``Delete=confirm`` or ``Prune=confirm``, resource or app)."""
    options = sync_options(obj)
    return "confirm" in (
        option_value(options, app_options, "Delete"),
        option_value(options, app_options, "Prune"),
    )


def kept(obj: Obj, app_options: SyncOptions) -> bool:
    """Left in place when the app is deleted (``Delete=false``, resource or app; Helm's keep)."""
    return option_value(sync_options(obj), app_options, "Delete") == "false"


class Deletion:
    def __init__(self, controller: ControllerHost) -> None:
        self.c = controller

    # --- while the app lives -----------------------------------------------------------------------

    async def sync_hook_finalizers(self, app: Obj, manifests: Sequence[Obj]) -> None:
        """Adds (removes) the deletion-hook finalizers when the manifests gain (lose) such hooks,
        so a deletion runs them: one patch when they change, none otherwise."""
        if (app.get("metadata") or {}).get("deletionTimestamp"):
            return
        current = list((app.get("metadata") or {}).get("finalizers") or [])
        ours = {f for base in _HOOK_FINALIZERS.values() for f in (base, base + CLEANUP)}
        wanted = hook_finalizers(manifests)
        if {f for f in current if f in ours} == wanted:
            return
        await self._set_finalizers(app, [f for f in current if f not in ours] + sorted(wanted))

    # --- deleting ----------------------------------------------------------------------------------

    async def finalize(self, app: Obj, level: Refresh, memory: AppMemory) -> None:
        """One step of deleting ``app`` (called by reconcile while it has a deletionTimestamp)."""
        name = app["metadata"]["name"]
        finalizers = list((app.get("metadata") or {}).get("finalizers") or [])
        resources = _resources_finalizers(finalizers)
        if not resources and not any(
            f.startswith((PRE_DELETE_FINALIZER, POST_DELETE_FINALIZER)) for f in finalizers
        ):
            return
        conditions, destination = self.c._validate(app)
        if destination is None:
            await self._condition(app, "DeletionError", "; ".join(m for _, m in conditions) or "invalid spec")
            self.c.queue.add_after(name, RETRY_SECONDS, Refresh.RECENT, slot="deletion")
            return
        if memory.manifests is None or level >= Refresh.LATEST:
            await self.c._fetch_manifests(app, destination, memory, hard=level == Refresh.HARD)
        manifests = memory.manifests or []
        kinds = {(m["apiVersion"], m["kind"]) for m in manifests}
        kinds |= {
            (f"{r['group']}/{r['version']}" if r.get("group") else r.get("version", "v1"), r["kind"])
            for r in (app.get("status") or {}).get("resources") or []
        }
        await destination.cache.watch(kinds)
        live = [
            o for o in destination.cache.managed_by(name, instance_label_value(name)) if owning_app(o) == name
        ]
        try:
            if PRE_DELETE_FINALIZER in finalizers:
                await self._hook_step(app, destination, manifests, memory, live, HookType.PRE_DELETE)
            elif resources:
                await self._delete_resources(app, destination, live, resources[0])
            elif POST_DELETE_FINALIZER in finalizers:
                await self._hook_step(app, destination, manifests, memory, live, HookType.POST_DELETE)
            elif PRE_DELETE_FINALIZER + CLEANUP in finalizers:
                await self._cleanup(app, destination, live, HookType.PRE_DELETE)
            elif POST_DELETE_FINALIZER + CLEANUP in finalizers:
                await self._cleanup(app, destination, live, HookType.POST_DELETE)
        except KubeError as err:
            await self._condition(app, "DeletionError", err.message)
            self.c.queue.add_after(name, RETRY_SECONDS, Refresh.RECENT, slot="deletion")

    async def _hook_step(
        self,
        app: Obj,
        destination: Destination,
        manifests: Sequence[Obj],
        memory: AppMemory,
        live: Sequence[Obj],
        hook: HookType,
    ) -> None:
        """Creates the hooks of this type that do not exist yet; once all have completed, the
        step's finalizer goes. A failed hook: DeletionError, and it is deleted for the next try."""
        name = app["metadata"]["name"]
        if memory.manifest_error:
            await self._condition(app, "DeletionError", f"{hook} hooks: {memory.manifest_error}")
            self.c.queue.add_after(name, RETRY_SECONDS, Refresh.LATEST, slot="deletion")
            return
        spec = app.get("spec") or {}
        namespaced = await kinds_namespaced(destination.client, list(manifests))
        namespace = str((spec.get("destination") or {}).get("namespace") or "")
        existing = {ResourceKey.of(o): o for o in live if hook in hook_types(o)}
        created = unobserved = 0
        for manifest in manifests:
            if hook not in hook_types(manifest):
                continue
            desired = desired_object(
                manifest, app=name, destination_namespace=namespace, namespaced=namespaced
            )
            meta = desired["metadata"]
            if not meta.get("name"):
                meta["name"] = f"{meta.pop('generateName', 'hook-')}{str(hook).lower()}"
            if ResourceKey.of(desired) in existing:
                continue
            try:
                await destination.client.create(desired, field_manager=self.c.field_manager)
            except Conflict:
                # exists, but the cache has not seen it yet (e.g. created by the last call): it
                # has not reported, so it is still running, never done
                unobserved += 1
                continue
            created += 1
        if created:
            log.info(
                "deletion hooks created", extra={"application": name, "hook": str(hook), "count": created}
            )
            self.c.queue.add_after(name, POLL_SECONDS, Refresh.RECENT, slot="deletion")
            return
        checker = self.c._health_checker()
        failed, running = [], unobserved
        for obj in existing.values():
            health = checker.check(obj)
            status = health.status if health is not None else HealthStatus.HEALTHY
            if status is HealthStatus.DEGRADED:
                failed.append(obj)
            elif status is not HealthStatus.HEALTHY:
                running += 1
        if failed:
            for obj in failed:
                await delete_object(destination.client, obj, "Background")
            names = ", ".join(f"{o['metadata'].get('namespace', '')}/{o['metadata']['name']}" for o in failed)
            await self._condition(app, "DeletionError", f"{hook} hook(s) failed: {names}")
            self.c.queue.add_after(name, RETRY_SECONDS, Refresh.RECENT, slot="deletion")
            return
        if running:
            self.c.queue.add_after(name, POLL_SECONDS * 2, Refresh.RECENT, slot="deletion")
            return
        await self._drop_finalizer(app, _HOOK_FINALIZERS[hook])

    async def _delete_resources(
        self, app: Obj, destination: Destination, live: Sequence[Obj], finalizer: str
    ) -> None:
        """Deletes the app's objects of the highest sync wave left; the next wave only once those
        are gone. Then the resources finalizer goes."""
        name = app["metadata"]["name"]
        spec = app.get("spec") or {}
        app_options = SyncOptions.parse(list((spec.get("syncPolicy") or {}).get("syncOptions") or []))
        candidates = [o for o in live if not kept(o, app_options)]
        if not candidates:
            await self._drop_finalizer(app, finalizer)
            return
        if any((o.get("metadata") or {}).get("deletionTimestamp") for o in candidates):
            self.c.queue.add_after(name, POLL_SECONDS, Refresh.RECENT, slot="deletion")
            return  # a wave still going: the next waits
        deleted_at = parse_time(str((app.get("metadata") or {}).get("deletionTimestamp") or ""))
        approved = deletion_approved_at(app)
        confirmed = approved is not None and deleted_at is not None and approved >= deleted_at
        unconfirmed = [o for o in candidates if needs_confirmation(o, app_options)]
        if unconfirmed and not confirmed:
            first = ResourceKey.of(unconfirmed[0])
            more = f" and {len(unconfirmed) - 1} more" if len(unconfirmed) > 1 else ""
            await self._condition(
                app,
                "DeletionConfirmationRequired",
                f"waiting for deletion confirmation of {first.group}/{first.kind}/{first.name}{more}: "
                f"ferry app confirm-deletion {name}",
            )
            return  # the confirmation (an annotation on the app) queues it again
        wave = max(sync_wave(o) for o in candidates)
        policy = "Background" if finalizer == RESOURCES_FINALIZER_BACKGROUND else "Foreground"
        errors = []
        in_wave = [o for o in candidates if sync_wave(o) == wave]
        # custom resources before their CRDs, workloads before their config (the prune order)
        in_wave.sort(key=lambda o: (-kind_rank(str(o.get("kind", ""))), str(ResourceKey.of(o))))
        for obj in in_wave:
            try:
                await delete_object(destination.client, obj, policy)
            except KubeError as err:
                errors.append(f"{obj['kind']}/{obj['metadata']['name']}: {err.message}")
        if errors:
            await self._condition(app, "DeletionError", "; ".join(errors))
            self.c.queue.add_after(name, RETRY_SECONDS, Refresh.RECENT, slot="deletion")
            return
        self.c.queue.add_after(
            name, POLL_SECONDS, Refresh.RECENT, slot="deletion"
        )  # until the cache saw them go

    async def _cleanup(self, app: Obj, destination: Destination, live: Sequence[Obj], hook: HookType) -> None:
        """Deletes the completed hooks of this type per their delete policy (HookSucceeded when
        all succeeded, HookFailed when one failed), waits until they are gone, drops the finalizer."""
        checker: HealthChecker = self.c._health_checker()
        hooks = [o for o in live if hook in hook_types(o)]
        statuses = [
            (h.status if (h := checker.check(o)) is not None else HealthStatus.HEALTHY) for o in hooks
        ]
        overall = HealthStatus.worst(statuses) if statuses else HealthStatus.HEALTHY
        pending = 0
        for obj in hooks:
            policies = delete_policies(obj)
            if not (
                (HookDeletePolicy.HOOK_SUCCEEDED in policies and overall is HealthStatus.HEALTHY)
                or (HookDeletePolicy.HOOK_FAILED in policies and overall is HealthStatus.DEGRADED)
            ):
                continue
            pending += 1
            if not (obj.get("metadata") or {}).get("deletionTimestamp"):
                await delete_object(destination.client, obj, "Background")
        if pending:
            self.c.queue.add_after(app["metadata"]["name"], POLL_SECONDS, Refresh.RECENT, slot="deletion")
            return
        await self._drop_finalizer(app, _HOOK_FINALIZERS[hook] + CLEANUP)

    # --- writing -----------------------------------------------------------------------------------

    async def _condition(self, app: Obj, kind: str, message: str) -> None:
        """Sets the app's ``kind`` condition to ``message`` (written only when it changes)."""
        old = (app.get("status") or {}).get("conditions") or []
        if any(c.get("type") == kind and c.get("message") == message for c in old):
            return
        condition = {"type": kind, "message": message, "lastTransitionTime": now()}
        status = {
            **(app.get("status") or {}),
            "conditions": [*(c for c in old if c.get("type") != kind), condition],
        }
        await self.c._write_status(app, status, force=True)

    async def _drop_finalizer(self, app: Obj, finalizer: str) -> None:
        current = list((app.get("metadata") or {}).get("finalizers") or [])
        await self._set_finalizers(app, [f for f in current if f != finalizer])

    async def _set_finalizers(self, app: Obj, finalizers: list[str]) -> None:
        """Replaces the finalizers, only if nobody changed them meanwhile (else: look again)."""
        name = app["metadata"]["name"]
        current = list((app.get("metadata") or {}).get("finalizers") or [])
        patch: list[dict[str, Any]] = [
            {"op": "test", "path": "/metadata/finalizers", "value": current}
            if current
            else {"op": "test", "path": "/metadata/name", "value": name},
            {"op": "add" if not current else "replace", "path": "/metadata/finalizers", "value": finalizers},
        ]
        try:
            await self.c.kube.patch(
                self.c.app_info, name, patch, namespace=self.c.config.namespace, patch_type="json"
            )
        except (NotFoundError, Conflict):
            return
        except KubeError as err:
            if err.status != 422:
                raise
            # finalizers changed meanwhile (the test failed): look again
            log.info("finalizers not changed", extra={"application": name, "reason": err.message})
            self.c.queue.add(name, Refresh.RECENT)

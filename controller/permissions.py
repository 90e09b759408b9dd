"""The app's project over a planned sync: what the sync may apply, and what it may prune.

Checked before every step of an operation, before any dry run (Argo CD's permission validator
in gitops-engine's ``getSyncTasks``): each object the sync would apply — manifests and hooks —
must have a kind the project permits and, when namespaced, a namespace (after defaulting to the
destination namespace) the project's ``destinations`` permit on the app's cluster. One refused
object fails the whole operation before anything is applied, each refused object with its own
``SyncFailed`` result in Argo CD's words ("namespace kube-system is not permitted in project
'team-a'"). So does the Namespace ``CreateNamespace=true`` would apply when the project does not
permit the kind (as in Argo CD: when the namespace does not exist yet, or when
``managedNamespaceMetadata`` manages its labels and annotations).

Live objects tracked as the app's in places the project does not permit are not the app's: a
prune never deletes them (the comparison does not list them either).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from controller.sync import SyncContext, result_for
from ferry.engine.annotations import SyncOptions
from ferry.engine.ordering import Plan, SyncTask
from ferry.engine.status import ResultCode, SyncPhase
from ferry.kube.errors import KubeError, NotFoundError
from ferry.projects import ObjectRefusal

log = logging.getLogger(__name__)

# The operation's message when the project refuses some object (gitops-engine's words).
NOT_VALID = "one or more synchronization tasks are not valid"


class NotPermitted(Exception):
    """The project refuses some objects of the sync: the operation fails before anything is
    applied, with these results."""

    def __init__(self, results: list[dict[str, Any]]) -> None:
        super().__init__(NOT_VALID)
        self.results = results


async def permitted_plan(ctx: SyncContext, plan: Plan, options: SyncOptions, refusal: ObjectRefusal) -> Plan:
    """The plan to run; NotPermitted (with SyncFailed results) when the project refuses one of its
    objects. Prunes the project refuses are left out, without a failure."""
    kept: list[SyncTask] = []
    failures: list[dict[str, Any]] = []
    for task in plan.tasks:
        why = refusal(task.key, ctx.namespaced.get((task.group, task.kind), True))
        if why is None:
            kept.append(task)
        elif task.prune:
            log.info(
                "not pruning an object the project does not permit",
                extra={"application": ctx.app["metadata"]["name"], "object": str(task.key), "reason": why},
            )
        else:
            failures.append(result_for(task, ResultCode.SYNC_FAILED, why))
    namespace = ctx.destination_namespace
    if options.enabled("CreateNamespace") and namespace:
        created = SyncTask(SyncPhase.PRE_SYNC, 0, "", "Namespace", "", namespace, version="v1")
        why = refusal(created.key, False)
        in_manifests = any(t.key == created.key for t in plan.tasks)
        managed = bool(((ctx.app.get("spec") or {}).get("syncPolicy") or {}).get("managedNamespaceMetadata"))
        if why is not None and not in_manifests and (managed or not await _exists(ctx, namespace)):
            failures.append(result_for(created, ResultCode.SYNC_FAILED, why))
    if failures:
        raise NotPermitted(failures)
    return dataclasses.replace(plan, tasks=kept)


async def _exists(ctx: SyncContext, namespace: str) -> bool:
    try:
        await ctx.client.get(await ctx.client.resource("v1", "Namespace"), namespace, None)
    except NotFoundError:
        return False
    except KubeError:
        return False  # cannot tell: refuse rather than apply what the project may not permit
    return True

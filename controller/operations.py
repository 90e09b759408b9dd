"""Running sync operations: the driver between Applications, the pure sync engine and the cluster.

An operation starts when ``Application.operation`` is set (by the API server or automation): the
controller records it in ``status.operationState`` (phase Running, the revision resolved once,
results so far) and clears ``operation``. Each ``step`` reads that state, plans the tasks again
(``ferry.engine.ordering.plan_sync``, from the recorded revision's manifests and the cluster
cache), lets the engine decide (``ferry.engine.syncsteps``), does that one thing, writes the
state back and returns a delay; the operation queue calls it again after the delay or when one
of the app's live objects changes. Waiting never holds a worker.

Every step, before anything is applied, ``_check_before_apply`` checks what the project allows;
the first step dry-runs every object and applies nothing if one is refused.
A step the project's sync windows block (an automated operation, or a manual one without
``manualSync`` on the blocking windows) does nothing: the operation stays Running with the
message "Sync operation blocked by sync window: <windows>" and goes on at the windows' next edge
(a timer) or when the project changes.

Ends: Succeeded (history appended, trimmed to revisionHistoryLimit, default 10), Failed (retried
per ``operation.retry``: phase stays Running with ``finishedAt`` set until the backoff passes),
Error. Terminating (set by TerminateOperation) deletes running hooks and ends Failed "Operation
terminated"; so does the optional sync timeout (``--sync-timeout`` / ``ferry-cm``
``controller.sync.timeout.seconds``), which is retried per policy.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import json
import logging
from typing import Any

import grpc

from controller import metrics
from controller.clusters import Destination, kinds_namespaced
from controller.compare import compare
from controller.host import ControllerHost
from controller.permissions import NotPermitted, permitted_plan
from controller.status import merge_patch
from controller.sync import (
    POLL_SECONDS,
    SyncContext,
    SyncRunner,
    SyncSettings,
    api_version_of,
    now,
    option_warnings,
    result_for,
    result_key,
)
from ferry.convert import from_k8s, to_k8s
from ferry.engine.annotations import SyncOptions, delete_policies, deletion_approved_at, is_hook, parse_time
from ferry.engine.ignore import IgnoreRule, IgnoreRuleError, rule_from_spec
from ferry.engine.ordering import Plan, PlanOptions, ResultKey, desired_object, plan_sync
from ferry.engine.status import HookDeletePolicy, OperationPhase, ResultCode, SyncPhase
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
from ferry.engine.tracking import ResourceKey, instance_label_value, owning_app
from ferry.kube.client import KubeClient, Obj
from ferry.kube.errors import Conflict, KubeError, NotFoundError
from ferry.projects import IMPERSONATION_SETTING, object_refusal, sync_service_account
from ferry.settings import parse_duration
from ferry.v1 import repo_pb2, types_pb2

log = logging.getLogger(__name__)

DEFAULT_HISTORY_LIMIT = 10
TERMINATED = "Operation terminated"
WINDOW_BLOCKED = "Sync operation blocked by sync window"  # Argo CD's words, then the windows
SYNC_TIMEOUT_SETTING = "controller.sync.timeout.seconds"
APPLIED_SETTLE_SECONDS = 0.5  # after applying, let the watches see the objects before judging them
MAX_WARNINGS_IN_MESSAGE = 5


class OperationError(Exception):
    """The operation cannot go on; the message becomes operationState.message (phase Error)."""


class Results:
    """The operation's per-resource results, in the order they were first recorded."""

    def __init__(self, results: list[dict[str, Any]]) -> None:
        self.items = [dict(r) for r in results]
        self._by_key = {result_key(r): r for r in self.items}

    def get(self, key: ResultKey) -> dict[str, Any] | None:
        return self._by_key.get(key)

    def put(self, result: dict[str, Any]) -> None:
        key = result_key(result)
        existing = self._by_key.get(key)
        if existing is None:
            self.items.append(result)
        else:
            self.items[self.items.index(existing)] = result
        self._by_key[key] = result

    def __bool__(self) -> bool:
        return bool(self.items)


def _phase(result: dict[str, Any] | None) -> OperationPhase | None:
    value = (result or {}).get("hookPhase")
    try:
        return OperationPhase(value) if value else None
    except ValueError:
        return None


def _code(result: dict[str, Any] | None) -> ResultCode | None:
    value = (result or {}).get("status")
    try:
        return ResultCode(value) if value else None
    except ValueError:
        return None


class OperationDriver:
    def __init__(self, controller: ControllerHost) -> None:
        self.c = controller
        self.runner = SyncRunner()
        self._manifests: dict[tuple[str, str], list[Obj]] = {}  # (app, revision) -> manifests
        # the app as this driver last wrote it: a watch event older than that write (still on
        # its way when the write returned) must not make a step see a stale operation state —
        # it would apply a finished wave again, or run a finished operation once more
        self._written: dict[str, Obj] = {}

    def forget(self, name: str) -> None:
        """Drops what is kept for ``name``'s operations (manifests rendered for a revision)."""
        for key in [k for k in self._manifests if k[0] == name]:
            del self._manifests[key]
        self._written.pop(name, None)

    def _current(self, name: str) -> Obj | None:
        """The app as the informer has it, unless this driver has written a newer version."""
        app = self.c.apps.get(self.c.config.namespace, name)
        written = self._written.get(name)
        if app is None or written is None:
            return app
        same_object = app["metadata"].get("uid") == written["metadata"].get("uid")
        return written if same_object and _older(app, written) else app

    def sync_timeout(self) -> float:
        """Seconds an operation may run before it is terminated; 0: no limit."""
        if self.c.config.sync_timeout_seconds is not None:
            return self.c.config.sync_timeout_seconds
        return parse_duration(self.c.settings().data.get(SYNC_TIMEOUT_SETTING, ""), 0.0)

    async def step(self, name: str) -> float | None:
        """Advances ``name``'s operation by one step; the delay before the next step, or None."""
        app = self._current(name)
        if app is None:
            return None
        state = (app.get("status") or {}).get("operationState")
        requested = app.get("operation")
        if requested and (state is None or OperationPhase(state.get("phase", "Succeeded")).completed):
            await self._start(app, requested)
            return 0.0
        if requested and state is not None and state.get("operation") == requested:
            await self._clear_operation(name)  # started by a controller that died before clearing it
        if state is None or OperationPhase(state.get("phase", "Succeeded")).completed:
            return None
        if state.get("phase") == OperationPhase.TERMINATING:
            await self._terminate(app, state, TERMINATED)
            return None
        if state.get("finishedAt"):  # a failed attempt waiting for its retry
            return await self._retry_when_due(app, state)
        timeout = self.sync_timeout()
        elapsed = _seconds_since(state.get("startedAt"))
        if timeout > 0 and elapsed is not None and elapsed >= timeout:
            await self._terminate(
                app, state, f"{TERMINATED}, triggered by controller sync timeout ({timeout:g}s)", retry=True
            )
            return None
        held = await self._held_by_window(app, state)
        if held is not None:
            delay = held or None  # 0: no edge of its own, the project's change wakes it
        else:
            try:
                delay = await self._advance(app, state)
            except NotPermitted as err:  # the project refuses some objects: Failed, nothing applied
                refused = {**state, "syncResult": {**state["syncResult"], "resources": err.results}}
                await self._finish(app, refused, OperationPhase.FAILED, str(err))
                return None
            except OperationError as err:
                await self._finish(app, state, OperationPhase.ERROR, str(err))
                return None
        if delay is not None and timeout > 0 and elapsed is not None:
            delay = min(delay, max(0.0, timeout - elapsed))  # the timeout is enforced on time
        return delay

    async def _held_by_window(self, app: Obj, state: dict[str, Any]) -> float | None:
        """None when the project's sync windows let the operation go on. Otherwise, as in Argo CD,
        it stays Running, applies nothing, and its message names the windows; the result is the
        seconds until the windows next change (0: they never do by themselves — a change of the
        project wakes the operation)."""
        initiated = (state.get("operation") or {}).get("initiatedBy") or {}
        at = datetime.datetime.now(datetime.UTC)
        windows = self.c.sync_windows(app, at)
        manual = not initiated.get("automated")
        if windows is None or windows.can_sync(manual=manual):
            return None
        message = f"{WINDOW_BLOCKED}: {windows.reason(manual=manual)}"
        if state.get("message") != message:
            await self._write_state(app, {**state, "message": message})
            log.info("operation held by a sync window", extra={"application": app["metadata"]["name"]})
        if windows.next_change is None:
            return 0.0
        return max(0.001, (windows.next_change - at).total_seconds())

    # --- start and finish --------------------------------------------------------------------------

    async def _start(self, app: Obj, operation: dict[str, Any]) -> None:
        name = app["metadata"]["name"]
        spec = app.get("spec") or {}
        sync = operation.get("sync") or {}
        source = sync.get("source") or spec.get("source") or {}
        state: dict[str, Any] = {
            "operation": operation,
            "phase": str(OperationPhase.RUNNING),
            "message": "",
            "startedAt": now(),
            "syncResult": {"revision": "", "source": source, "resources": []},
        }
        try:
            revision = str(sync.get("revision") or source.get("targetRevision") or "")
            response = await self._render(app, source, revision, hard=False)
            state["syncResult"]["revision"] = response.revision
            self._manifests[(name, response.revision)] = [json.loads(m) for m in response.manifests]
        except OperationError as err:
            state["phase"] = str(OperationPhase.ERROR)
            state["message"] = str(err)
            state["finishedAt"] = now()
        await self._write_state(app, state)
        await self._clear_operation(name)
        log.info(
            "operation started", extra={"application": name, "revision": state["syncResult"]["revision"]}
        )

    async def _clear_operation(self, name: str) -> None:
        with contextlib.suppress(NotFoundError):
            await self.c.kube.patch(
                self.c.app_info, name, {"operation": None}, namespace=self.c.config.namespace
            )

    async def _finish(
        self, app: Obj, state: dict[str, Any], phase: OperationPhase, message: str, *, retry: bool = True
    ) -> None:
        if retry and phase is OperationPhase.FAILED and await self._retry(app, state, message):
            return
        state = copy.deepcopy(state)
        state["phase"] = str(phase)
        state["message"] = message
        state["finishedAt"] = now()
        extra: dict[str, Any] = {}
        sync = (state.get("operation") or {}).get("sync") or {}
        if phase is OperationPhase.SUCCEEDED and not sync.get("dryRun"):
            extra["history"] = self._history(app, state)
        await self._write_state(app, state, extra)
        self._count(app, state)
        self.c.queue.add(app["metadata"]["name"])
        self.c.on_operation_finished(app, state)
        log.info(
            "operation finished",
            extra={"application": app["metadata"]["name"], "phase": str(phase), "detail": message},
        )

    @staticmethod
    def _count(app: Obj, state: dict[str, Any]) -> None:
        spec = app.get("spec") or {}
        dest = spec.get("destination") or {}
        labels = (
            app["metadata"]["name"],
            spec.get("project") or "default",
            dest.get("server") or dest.get("name", ""),
        )
        metrics.SYNCS.labels(*labels, state["phase"]).inc()
        try:
            started = datetime.datetime.fromisoformat(str(state["startedAt"]).replace("Z", "+00:00"))
            finished = datetime.datetime.fromisoformat(str(state["finishedAt"]).replace("Z", "+00:00"))
            metrics.SYNC_SECONDS.labels(*labels).inc(max(0.0, (finished - started).total_seconds()))
        except (KeyError, ValueError):
            pass

    @staticmethod
    def _retry_delay(state: dict[str, Any]) -> float:
        """Backoff before retry ``retryCount``: duration x factor^(retryCount-1), capped."""
        backoff = ((state.get("operation") or {}).get("retry") or {}).get("backoff") or {}
        duration = parse_duration(str(backoff.get("duration") or ""), 5.0)
        factor = float(backoff.get("factor") or 2)
        cap = parse_duration(str(backoff.get("maxDuration") or ""), 180.0)
        attempts = max(0, int(state.get("retryCount") or 0) - 1)
        return float(min(duration * factor**attempts, cap))

    async def _retry(self, app: Obj, state: dict[str, Any], message: str) -> bool:
        """Schedules the operation's next attempt when ``operation.retry`` allows one: the phase
        stays Running, ``finishedAt`` marks the failed attempt (so a restarted controller waits
        the same backoff), ``retryCount`` counts attempts."""
        retry = (state.get("operation") or {}).get("retry") or {}
        limit = int(retry.get("limit") or 0)
        attempts = int(state.get("retryCount") or 0)
        if limit == 0 or (limit > 0 and attempts >= limit):
            return False
        state = copy.deepcopy(state)
        state["retryCount"] = attempts + 1
        delay = self._retry_delay(state)
        state["finishedAt"] = now()
        state["message"] = f"{message}. Retrying attempt #{attempts + 1} in {delay:g}s"
        await self._write_state(app, state)
        self.c.op_queue.add_after(app["metadata"]["name"], delay, slot="retry")
        return True

    async def _retry_when_due(self, app: Obj, state: dict[str, Any]) -> float | None:
        waited = _seconds_since(state.get("finishedAt")) or 0.0
        remaining = self._retry_delay(state) - waited
        if remaining > 0:
            return remaining
        state = copy.deepcopy(state)
        state.pop("finishedAt", None)
        state["startedAt"] = now()  # the attempt's start: the sync timeout counts from here
        state["message"] = f"Retrying attempt #{state.get('retryCount', 1)}"
        state["syncResult"]["resources"] = []
        await self._write_state(app, state)
        return 0.0

    def _history(self, app: Obj, state: dict[str, Any]) -> list[dict[str, Any]]:
        history = list((app.get("status") or {}).get("history") or [])
        entry = {
            "id": max((int(h.get("id", 0)) for h in history), default=-1) + 1,
            "revision": state["syncResult"]["revision"],
            "source": state["syncResult"].get("source") or {},
            "deployedAt": state["finishedAt"],
            "deployStartedAt": state.get("startedAt", ""),
            "initiatedBy": (state.get("operation") or {}).get("initiatedBy") or {},
        }
        limit = (app.get("spec") or {}).get("revisionHistoryLimit")
        limit = DEFAULT_HISTORY_LIMIT if limit is None else int(limit)
        history.append(entry)
        return history[-limit:] if limit > 0 else []

    async def _write_state(
        self, app: Obj, state: dict[str, Any], extra: dict[str, Any] | None = None
    ) -> None:
        old_status = app.get("status") or {}
        new = {"operationState": _sanitize_state(state), **(extra or {})}
        old = {k: old_status[k] for k in new if k in old_status}
        patch = merge_patch(old, new)
        if not patch:
            return
        name = app["metadata"]["name"]
        updated = await self.c.kube.patch(
            self.c.app_info, name, {"status": patch}, namespace=self.c.config.namespace, subresource="status"
        )
        self.c.apps.store[(self.c.config.namespace, name)] = updated
        self._written[name] = updated

    async def _terminate(self, app: Obj, state: dict[str, Any], message: str, *, retry: bool = False) -> None:
        """Ends a running operation: hooks still running are deleted (their results say
        "Terminated"), then Failed with ``message`` — retried only after a timeout."""
        results = Results((state.get("syncResult") or {}).get("resources") or [])
        try:
            destination = self._destination(app)
        except OperationError:
            destination = None
        for result in results.items:
            if not result.get("hookType") or result.get("hookPhase") != OperationPhase.RUNNING:
                continue
            if destination is not None:
                key = ResourceKey(
                    str(result.get("group", "")),
                    str(result["kind"]),
                    str(result.get("namespace", "")),
                    str(result["name"]),
                )
                try:
                    info = await destination.client.resource(api_version_of(result), key.kind)
                    await destination.client.delete(
                        info, key.name, namespace=key.namespace or None, propagation_policy="Background"
                    )
                except NotFoundError:
                    pass
                except KubeError as err:
                    log.warning("running hook not deleted", extra={"hook": str(key), "error": err.message})
            result.update(hookPhase=str(OperationPhase.FAILED), message="Terminated")
        state = copy.deepcopy(state)
        state["syncResult"]["resources"] = results.items
        await self._finish(app, state, OperationPhase.FAILED, message, retry=retry)

    # --- the running operation ---------------------------------------------------------------------

    async def _render(
        self, app: Obj, source: dict[str, Any], revision: str, *, hard: bool
    ) -> types_pb2.ManifestResponse:
        destination = self._destination(app)
        spec = app.get("spec") or {}
        project_name = str(spec.get("project") or "default")
        request = self.c.repo_creds.scope(
            repo_pb2.ManifestRequest(
                repo=self.c.repo_creds.for_url(str(source.get("repoURL", "")), project_name),
                application_source=from_k8s(source, types_pb2.ApplicationSource),
                revision=revision,
                no_cache=hard,
                app_name=app["metadata"]["name"],
                namespace=str((spec.get("destination") or {}).get("namespace") or ""),
                kube_version=await self.c._kube_version(destination),
            ),
            project_name,
            self.c.projects.get(self.c.config.namespace, project_name),
        )
        try:
            response: types_pb2.ManifestResponse = await self.c._repo.GenerateManifests(
                request, metadata=self.c._tokens.metadata(), timeout=self.c.config.repo_timeout
            )
        except grpc.aio.AioRpcError as err:
            raise OperationError(f"rpc error: code = {err.code().name} desc = {err.details()}") from None
        return response

    def _destination(self, app: Obj) -> Destination:
        conditions, destination = self.c._validate(app)
        if destination is None:
            raise OperationError(
                "; ".join(message for _, message in conditions) or "invalid application spec"
            )
        return destination

    @staticmethod
    def _settings(app: Obj, state: dict[str, Any]) -> SyncSettings:
        spec = app.get("spec") or {}
        sync = (state.get("operation") or {}).get("sync") or {}
        strategy = sync.get("syncStrategy") or {}
        return SyncSettings(
            options=SyncOptions.parse(
                [*((spec.get("syncPolicy") or {}).get("syncOptions") or []), *(sync.get("syncOptions") or [])]
            ),
            prune=bool(sync.get("prune")),
            force=bool(
                (strategy.get("apply") or {}).get("force") or (strategy.get("hook") or {}).get("force")
            ),
            dry_run=bool(sync.get("dryRun")),
        )

    def _sync_client(self, app: Obj, destination: Destination) -> KubeClient:
        """What the sync applies and prunes with: the controller's own client, or, with ferry-cm's
        application.sync.impersonation.enabled, one acting as the service account the project's
        destinationServiceAccounts give the destination (Argo CD >= 2.13); none matching is an
        error of the operation, in Argo CD's words."""
        if self.c.settings().data.get(IMPERSONATION_SETTING, "").strip().lower() != "true":
            return destination.client
        spec = app.get("spec") or {}
        namespace = str((spec.get("destination") or {}).get("namespace") or "")
        # the server the app names (kubernetes.default.svc for in-cluster), as Argo CD matches it
        server = str((spec.get("destination") or {}).get("server") or "") or destination.config.server
        project = self.c.projects.get(self.c.config.namespace, str(spec.get("project") or "default")) or {}
        user = sync_service_account(project, server, namespace)
        if user is None:
            raise OperationError(
                "failed to find a matching service account to impersonate: no matching service account "
                f"found for destination server {server} and namespace {namespace}"
            )
        return self.c.destinations.impersonating(destination, user)

    async def _context(self, app: Obj, state: dict[str, Any], settings: SyncSettings) -> SyncContext:
        name = app["metadata"]["name"]
        spec = app.get("spec") or {}
        destination = self._destination(app)
        revision = state["syncResult"]["revision"]
        manifests = self._manifests.get((name, revision))
        if manifests is None:  # a resumed operation (controller restart): render the same revision
            source = state["syncResult"].get("source") or spec.get("source") or {}
            response = await self._render(app, source, revision, hard=False)
            manifests = [json.loads(m) for m in response.manifests]
            self._manifests[(name, revision)] = manifests
        cache = destination.cache
        await cache.watch({(m["apiVersion"], m["kind"]) for m in manifests})
        namespaced = await kinds_namespaced(destination.client, manifests)
        destination_namespace = str((spec.get("destination") or {}).get("namespace") or "")
        desired_keys = {
            ResourceKey.of(
                desired_object(
                    m, app=name, destination_namespace=destination_namespace, namespaced=namespaced
                )
            )
            for m in manifests
        }
        extras = [
            obj
            for obj in cache.managed_by(name, instance_label_value(name))
            if owning_app(obj) == name and not is_hook(obj) and ResourceKey.of(obj) not in desired_keys
        ]
        ignore: list[IgnoreRule] = []
        try:
            ignore = [
                rule_from_spec(r) for r in spec.get("ignoreDifferences") or []
            ] + self.c.settings().ignore_rules
        except (IgnoreRuleError, ValueError):
            ignore = []
        return SyncContext(
            app=app,
            manifests=manifests,
            revision=revision,
            client=self._sync_client(app, destination),
            cache=cache,
            extras=extras,
            checker=self.c._health_checker(),
            ignore=ignore,
            destination_namespace=destination_namespace,
            namespaced=namespaced,
            settings=settings,
        )

    def _plan(self, ctx: SyncContext, state: dict[str, Any]) -> Plan:
        sync = (state.get("operation") or {}).get("sync") or {}
        strategy = sync.get("syncStrategy") or {}
        selected = sync.get("resources") or []
        started = parse_time(str(state.get("startedAt") or ""))
        return plan_sync(
            ctx.manifests,
            live=ctx.cache.get,
            extras=ctx.extras,
            options=PlanOptions(
                app=ctx.app["metadata"]["name"],
                destination_namespace=ctx.destination_namespace,
                namespaced=ctx.namespaced,
                selected=frozenset(
                    (
                        str(r.get("group", "")),
                        str(r.get("kind", "")),
                        str(r.get("namespace") or ""),
                        str(r.get("name", "")),
                    )
                    for r in selected
                )
                if selected
                else None,
                # hooks run neither in a selective sync nor with the apply strategy (Argo CD's rule)
                skip_hooks=bool(selected) or "apply" in strategy,
                prune_last=ctx.settings.options.enabled("PruneLast"),
                revision=ctx.revision,
                started_at=int(started.timestamp()) if started else 0,
            ),
        )

    async def _check_before_apply(self, ctx: SyncContext, plan: Plan) -> Plan:
        """What the project allows, checked every step before anything is applied (and before any
        dry run): each object's kind and namespace on the app's cluster (controller/permissions.py).
        A refusal raises NotPermitted (the operation fails; nothing is applied); refused prunes
        are left out of the plan."""
        spec = ctx.app.get("spec") or {}
        project = self.c.projects.get(self.c.config.namespace, spec.get("project") or "default") or {}
        config = self._destination(ctx.app).config
        server = self.c.destinations.server_label(config)
        refusal = object_refusal(project, server=server, cluster_name=config.name)
        return await permitted_plan(ctx, plan, ctx.settings.options, refusal)

    async def _in_sync(self, ctx: SyncContext, plan: Plan) -> frozenset[ResultKey]:
        """ApplyOutOfSyncOnly: the resources whose live object already matches Git (the dry runs
        behind this comparison are cached, so it usually sends no request)."""
        name = ctx.app["metadata"]["name"]
        comparison = await compare(
            name,
            instance_label_value(name),
            ctx.manifests,
            client=ctx.client,
            cache=ctx.cache,
            dry_runs=self.c.dry_runs,
            checker=ctx.checker,
            ignore=ctx.ignore,
            destination_namespace=ctx.destination_namespace,
            server_side_diff=self.c.config.server_side_diff,
        )
        unchanged = {r.key for r in comparison.resources if r.live is not None and not r.diff.modified}
        return frozenset(
            t.result_key for t in plan.tasks if not t.is_hook and not t.prune and t.key in unchanged
        )

    def _confirmed(self, app: Obj, state: dict[str, Any]) -> bool:
        """Prunes asking for confirmation were approved (``ferry app confirm-deletion``) since
        the operation started."""
        approved = deletion_approved_at(app)
        started = parse_time(str(state.get("startedAt") or ""))
        return approved is not None and started is not None and approved >= started

    async def _assess(self, ctx: SyncContext, plan: Plan, results: Results) -> list[TaskState]:
        """Every planned task with its result; running ones moved on from their object's health."""
        states = []
        for task in plan.tasks:
            result = results.get(task.result_key)
            live = task.live
            if result is not None and _phase(result) is OperationPhase.RUNNING:
                live = await self.runner.live(ctx, task.key, api_version_of(result))
                verdict = assess(task, live, ctx.checker.check(live) if live is not None else None)
                if verdict is not None:
                    result["hookPhase"] = str(verdict.phase)
                    if verdict.message:
                        result["message"] = verdict.message
                    if verdict.sync_failed:
                        result["status"] = str(ResultCode.SYNC_FAILED)
            deleting = bool(((live or {}).get("metadata") or {}).get("deletionTimestamp"))
            states.append(
                TaskState(
                    task, _phase(result), _code(result), str((result or {}).get("message", "")), deleting
                )
            )
        return states

    def _message(self, text: str, warnings: list[str]) -> str:
        if not warnings:
            return text
        shown = warnings[:MAX_WARNINGS_IN_MESSAGE]
        more = f" and {len(warnings) - len(shown)} more" if len(warnings) > len(shown) else ""
        return f"{text}; warnings: {'; '.join(shown)}{more}"

    async def _advance(self, app: Obj, state: dict[str, Any]) -> float | None:
        spec = app.get("spec") or {}
        sync = (state.get("operation") or {}).get("sync") or {}
        settings = self._settings(app, state)
        ctx = await self._context(app, state, settings)
        plan = self._plan(ctx, state)
        warnings = option_warnings(spec, ctx.manifests, sync.get("syncOptions") or [])
        results = Results((state.get("syncResult") or {}).get("resources") or [])
        state = copy.deepcopy(state)
        plan = await self._check_before_apply(ctx, plan)

        if settings.dry_run:
            await self._dry_run_only(app, state, ctx, plan, warnings)
            return None

        skip = (
            await self._in_sync(ctx, plan) if settings.options.enabled("ApplyOutOfSyncOnly") else frozenset()
        )
        main = [t for t in plan.tasks if t.phase is not SyncPhase.SYNC_FAIL and t.result_key not in skip]
        if not results:  # the first step: nothing applied yet
            if settings.options.enabled("CreateNamespace") and ctx.destination_namespace:
                await self._ensure_namespace(ctx, spec)
            failures = await self.runner.dry_run(ctx, main)
            if failures:
                state["syncResult"]["resources"] = failures
                message = "one or more objects failed to apply (dry run); nothing was applied"
                await self._finish(app, state, OperationPhase.FAILED, self._message(message, warnings))
                return None

        states = await self._assess(ctx, plan, results)
        step = next_step(
            states, app_options=settings.options, prune_confirmed=self._confirmed(app, state), skip=skip
        )
        if isinstance(step, Run):
            blocking = [
                t
                for t in step.tasks
                if t.is_hook
                and t.live is not None
                and t.desired is not None
                and HookDeletePolicy.BEFORE_HOOK_CREATION in delete_policies(t.desired)
            ]
            if blocking:  # the previous run of these hooks goes first; the next step creates them
                for task in blocking:
                    if task.live is not None and not (task.live.get("metadata") or {}).get(
                        "deletionTimestamp"
                    ):
                        await self.runner.delete(ctx, task.live)
                message = waiting_message([TaskState(t) for t in blocking], deletion=True)
                return await self._wait(
                    app, state, results, self._message(message, warnings), POLL_SECONDS / 4
                )
            for task in step.tasks:
                results.put(
                    await (self.runner.prune(ctx, task) if task.prune else self.runner.apply(ctx, task))
                )
            group = [
                TaskState(t, _phase(r), _code(r), str((r or {}).get("message", "")))
                for t in step.tasks
                for r in [results.get(t.result_key)]
            ]
            step = after_run(group, final=step.final)
            if isinstance(step, Wait):
                return await self._wait(
                    app, state, results, self._message(step.message, warnings), APPLIED_SETTLE_SECONDS
                )
        if isinstance(step, Wait):
            return await self._wait(app, state, results, self._message(step.message, warnings), POLL_SECONDS)
        if isinstance(step, Fail):
            return await self._fail(app, state, ctx, states, results, self._message(step.message, warnings))
        assert isinstance(step, Succeed)
        state["syncResult"]["resources"] = results.items
        await self.runner.delete_hooks(ctx, results.items, HookDeletePolicy.HOOK_SUCCEEDED)
        await self._finish(app, state, OperationPhase.SUCCEEDED, self._message(step.message, warnings))
        return None

    async def _wait(
        self, app: Obj, state: dict[str, Any], results: Results, message: str, delay: float
    ) -> float:
        state["syncResult"]["resources"] = results.items
        state["message"] = message
        await self._write_state(app, state)
        return delay

    async def _dry_run_only(
        self, app: Obj, state: dict[str, Any], ctx: SyncContext, plan: Plan, warnings: list[str]
    ) -> None:
        """A dry-run operation: every object dry-run applied, nothing changed, hooks not run."""
        tasks = [t for t in plan.tasks if not t.is_hook]
        failures = await self.runner.dry_run(ctx, tasks)
        results = failures or [
            await self.runner.prune(ctx, t)
            if t.prune
            else result_for(t, ResultCode.SYNCED, "(dry run)", OperationPhase.SUCCEEDED)
            for t in tasks
        ]
        state["syncResult"]["resources"] = results
        if failures:
            message = "one or more objects failed to apply (dry run)"
            await self._finish(app, state, OperationPhase.FAILED, self._message(message, warnings))
        else:
            message = "successfully synced (dry run)"
            await self._finish(app, state, OperationPhase.SUCCEEDED, self._message(message, warnings))

    async def _fail(
        self,
        app: Obj,
        state: dict[str, Any],
        ctx: SyncContext,
        states: list[TaskState],
        results: Results,
        message: str,
    ) -> float | None:
        """Starts the SyncFail hooks (once), waits for them, then ends the operation as Failed."""
        hooks = [
            TaskState(s.task, _phase(r), _code(r), str((r or {}).get("message", "")))
            for s in states
            if s.task.phase is SyncPhase.SYNC_FAIL
            for r in [results.get(s.task.result_key)]
        ]
        step = sync_fail_step(hooks, message)
        if step.run:
            for task in step.run:
                results.put(await self.runner.apply(ctx, task))
            return await self._wait(
                app, state, results, f"{message}; running SyncFail hooks", APPLIED_SETTLE_SECONDS
            )
        if not step.done:
            return await self._wait(app, state, results, f"{message}; running SyncFail hooks", POLL_SECONDS)
        state["syncResult"]["resources"] = results.items
        await self.runner.delete_hooks(ctx, results.items, HookDeletePolicy.HOOK_FAILED)
        await self._finish(app, state, OperationPhase.FAILED, step.message)
        return None

    async def _ensure_namespace(self, ctx: SyncContext, spec: dict[str, Any]) -> None:
        metadata = (spec.get("syncPolicy") or {}).get("managedNamespaceMetadata") or {}
        namespace = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": ctx.destination_namespace,
                **{k: v for k, v in metadata.items() if k in ("labels", "annotations")},
            },
        }
        try:
            await ctx.client.apply(namespace, field_manager=self.runner.field_manager)
        except Conflict:
            pass
        except KubeError as err:
            raise OperationError(f"namespace {ctx.destination_namespace}: {err.message}") from None


def _older(app: Obj, than: Obj) -> bool:
    """Whether ``app`` is an older version of the object than ``than`` (resourceVersions are etcd
    revisions, increasing; unreadable ones never count as older)."""
    try:
        return int(app["metadata"]["resourceVersion"]) < int(than["metadata"]["resourceVersion"])
    except (KeyError, TypeError, ValueError):
        return False


def _seconds_since(stamp: Any) -> float | None:
    when = parse_time(str(stamp or ""))
    if when is None:
        return None
    return (datetime.datetime.now(datetime.UTC) - when).total_seconds()


def _sanitize_state(state: dict[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = to_k8s(from_k8s(state, types_pb2.OperationState))
    return cleaned

"""Running sync operations: the driver between Applications and the SyncRunner.

An operation starts when ``Application.operation`` is set (by the API server or automation): the
controller records it in ``status.operationState`` (phase Running, the revision resolved once,
results so far) and clears ``operation``. Each step reads that state, does one thing, writes the
state back and returns a delay; the operation queue calls it again after the delay or when one
of the app's live objects changes. Terminating (set by TerminateOperation) ends it between steps.
A successful sync appends to ``status.history`` (trimmed to revisionHistoryLimit, default 10).
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import json
import logging
from typing import TYPE_CHECKING, Any

import grpc

from controller import metrics
from controller.clusters import Destination, kinds_namespaced
from controller.permissions import NotPermitted, permitted_tasks
from controller.status import merge_patch
from controller.sync import POLL_SECONDS, SyncContext, SyncRunner, Task, find_result, now
from ferry.convert import from_k8s, to_k8s
from ferry.engine.annotations import SyncOptions
from ferry.engine.ignore import IgnoreRule, IgnoreRuleError, rule_from_spec
from ferry.engine.status import OperationPhase, ResultCode, SyncPhase
from ferry.engine.tracking import ResourceKey, instance_label_value, owning_app
from ferry.kube.client import Obj
from ferry.kube.errors import Conflict, KubeError, NotFoundError
from ferry.projects import ObjectRefusal, object_refusal
from ferry.settings import parse_duration
from ferry.v1 import repo_pb2, types_pb2

if TYPE_CHECKING:
    from controller.appcontroller import AppController

log = logging.getLogger(__name__)

DEFAULT_HISTORY_LIMIT = 10
TERMINATED = "Operation terminated"


class OperationError(Exception):
    """The operation cannot go on; the message becomes operationState.message (phase Error)."""


class OperationDriver:
    def __init__(self, controller: AppController) -> None:
        self.c = controller
        self.runner = SyncRunner()
        self._manifests: dict[tuple[str, str], list[Obj]] = {}  # (app, revision) -> manifests

    def forget(self, name: str) -> None:
        """Drops what is kept for ``name``'s operations (manifests rendered for a revision)."""
        for key in [k for k in self._manifests if k[0] == name]:
            del self._manifests[key]

    async def step(self, name: str) -> float | None:
        """Advances ``name``'s operation by one step; the delay before the next step, or None."""
        app = self.c.apps.get(self.c.config.namespace, name)
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
            await self._finish(app, state, OperationPhase.FAILED, TERMINATED)
            return None
        try:
            return await self._advance(app, state)
        except NotPermitted as err:
            refused = {**state, "syncResult": {**state["syncResult"], "resources": err.results}}
            await self._finish(app, refused, OperationPhase.FAILED, str(err))
            return None
        except OperationError as err:
            await self._finish(app, state, OperationPhase.ERROR, str(err))
            return None

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

    async def _finish(self, app: Obj, state: dict[str, Any], phase: OperationPhase, message: str) -> None:
        if (
            phase is OperationPhase.FAILED
            and message != TERMINATED
            and await self._retry(app, state, message)
        ):
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

    async def _retry(self, app: Obj, state: dict[str, Any], message: str) -> bool:
        """Starts the operation again after its retry backoff when ``operation.retry`` allows."""
        retry = (state.get("operation") or {}).get("retry") or {}
        limit = int(retry.get("limit") or 0)
        attempts = int(state.get("retryCount") or 0)
        if limit == 0 or (limit > 0 and attempts >= limit):
            return False
        backoff = retry.get("backoff") or {}
        duration = parse_duration(str(backoff.get("duration") or ""), 5.0)
        factor = float(backoff.get("factor") or 2)
        cap = parse_duration(str(backoff.get("maxDuration") or ""), 180.0)
        delay = min(duration * factor**attempts, cap)
        state = copy.deepcopy(state)
        state["retryCount"] = attempts + 1
        state["message"] = f"retrying attempt #{attempts + 1} in {delay:g}s: {message}"
        state["syncResult"]["resources"] = []
        await self._write_state(app, state)
        self.c.op_queue.add_after(app["metadata"]["name"], delay, slot="retry")
        return True

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

    # --- the running operation ---------------------------------------------------------------------

    async def _render(
        self, app: Obj, source: dict[str, Any], revision: str, *, hard: bool
    ) -> types_pb2.ManifestResponse:
        destination = self._destination(app)
        spec = app.get("spec") or {}
        request = repo_pb2.ManifestRequest(
            repo=self.c.repo_creds.for_url(str(source.get("repoURL", ""))),
            application_source=from_k8s(source, types_pb2.ApplicationSource),
            revision=revision,
            no_cache=hard,
            app_name=app["metadata"]["name"],
            namespace=str((spec.get("destination") or {}).get("namespace") or ""),
            kube_version=await self.c._kube_version(destination),
            project_name=str(spec.get("project") or "default"),
        )
        try:
            response: types_pb2.ManifestResponse = await self.c._repo.GenerateManifests(
                request, metadata=self.c._tokens.metadata(), timeout=self.c.config.repo_timeout
            )
        except grpc.aio.AioRpcError as err:
            raise OperationError(f"rpc error: code = {err.code().name} desc = {err.details()}") from None
        return response

    def _refusal(self, app: Obj) -> ObjectRefusal:
        project = self.c.projects.get(self.c.config.namespace, app["spec"].get("project") or "default")
        config = self._destination(app).config
        server = self.c.destinations.server_label(config)
        return object_refusal(project or {}, server=server, cluster_name=config.name)

    def _destination(self, app: Obj) -> Destination:
        conditions, destination = self.c._validate(app)
        if destination is None:
            raise OperationError(
                "; ".join(message for _, message in conditions) or "invalid application spec"
            )
        return destination

    async def _context(self, app: Obj, state: dict[str, Any]) -> SyncContext:
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
        kinds = {(m["apiVersion"], m["kind"]) for m in manifests}
        await cache.watch(kinds)
        namespaced = await kinds_namespaced(destination.client, manifests)
        live: dict[ResourceKey, Obj] = {}
        for informer in cache._managed.values():
            for obj in informer.items():
                if owning_app(obj) == name or ((obj.get("metadata") or {}).get("labels") or {}).get(
                    "ferrycd.io/instance"
                ) == instance_label_value(name):
                    live[ResourceKey.of(obj)] = obj
        desired_keys = set()
        for m in manifests:
            meta = m.get("metadata") or {}
            group = str(m["apiVersion"]).rpartition("/")[0] if "/" in str(m["apiVersion"]) else ""
            ns = (
                meta.get("namespace") or ((spec.get("destination") or {}).get("namespace") or "")
                if namespaced.get((group, m["kind"]), True)
                else ""
            )
            desired_keys.add(ResourceKey(group, str(m["kind"]), str(ns or ""), str(meta.get("name") or "")))
        extras = [
            obj
            for key, obj in live.items()
            if key not in desired_keys and owning_app(obj) == name and not _is_hook(obj)
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
            client=destination.client,
            live=live,
            extras=extras,
            checker=self.c._health_checker(),
            ignore=ignore,
            destination_namespace=str((spec.get("destination") or {}).get("namespace") or ""),
            namespaced=namespaced,
        )

    async def _advance(self, app: Obj, state: dict[str, Any]) -> float | None:
        spec = app.get("spec") or {}
        operation = state.get("operation") or {}
        sync = operation.get("sync") or {}
        options = SyncOptions.parse(
            [
                *((spec.get("syncPolicy") or {}).get("syncOptions") or []),
                *(sync.get("syncOptions") or []),
                *(["Force=true"] if _forced(sync) else []),  # argocd app sync --force
            ]
        )
        ctx = await self._context(app, state)
        # before every step and any dry run, so nothing the project does not permit is applied
        tasks = await permitted_tasks(
            ctx, self.runner.plan(ctx, operation, options), options, self._refusal(app)
        )
        results: list[dict[str, Any]] = [
            dict(r) for r in (state.get("syncResult") or {}).get("resources") or []
        ]
        state = copy.deepcopy(state)

        if sync.get("dryRun"):
            await self._dry_run_only(app, state, ctx, tasks, options)
            return None

        main = [t for t in tasks if t.phase is not SyncPhase.SYNC_FAIL]
        started = any(find_result(results, t) for t in main)
        if not started:
            if options.enabled("CreateNamespace") and ctx.destination_namespace:
                await self._ensure_namespace(ctx, spec)
            failures = await self.runner.dry_run(ctx, main, options)
            if failures:
                state["syncResult"]["resources"] = failures
                await self._finish(
                    app,
                    state,
                    OperationPhase.FAILED,
                    "one or more objects failed to apply (dry run); nothing was applied",
                )
                return None

        failed_message = ""
        for stage in _stages(main):
            pending = [t for t in stage if find_result(results, t) is None]
            if pending:
                for task in pending:
                    if task.prune:
                        results.append(await self.runner.prune_task(ctx, task, options, dry_run=False))
                    else:
                        results.append(await self.runner.apply_task(ctx, task, options))
                state["syncResult"]["resources"] = results
                state["message"] = f"waiting for {_describe(stage[0])}"
                await self._write_state(app, state)
                if any(r.get("status") == ResultCode.SYNC_FAILED for r in results):
                    failed_message = "one or more objects failed to apply"
                    break
                return 0.5  # let the watches see what was applied
            waiting = False
            for task in stage:
                result = find_result(results, task)
                assert result is not None
                verdict = self.runner.task_state(ctx, task, result)
                if task.hook is not None and verdict in ("done", "failed"):
                    result["hookPhase"] = "Succeeded" if verdict == "done" else "Failed"
                if verdict == "failed":
                    failed_message = f"{task.hook or 'resource'} {task.key.kind}/{result.get('name')} failed"
                waiting |= verdict == "waiting"
            state["syncResult"]["resources"] = results
            if failed_message:
                break
            if waiting:
                state["message"] = f"waiting for {_describe(stage[0])}"
                await self._write_state(app, state)
                return POLL_SECONDS
        if failed_message:
            return await self._fail(app, state, ctx, tasks, results, options, failed_message)
        await self.runner.delete_hooks(ctx, results, tasks)
        await self._finish(app, state, OperationPhase.SUCCEEDED, "successfully synced (all tasks run)")
        return None

    async def _dry_run_only(
        self, app: Obj, state: dict[str, Any], ctx: SyncContext, tasks: list[Task], options: SyncOptions
    ) -> None:
        """A dry-run operation: every object dry-run applied, nothing changed, hooks not run."""
        failures = await self.runner.dry_run(ctx, tasks, options)
        state["syncResult"]["resources"] = failures or [
            self.runner.result_for(t, ResultCode.PRUNED if t.prune else ResultCode.SYNCED, "(dry run)")
            for t in tasks
            if t.hook is None
        ]
        if failures:
            await self._finish(
                app, state, OperationPhase.FAILED, "one or more objects failed to apply (dry run)"
            )
        else:
            await self._finish(app, state, OperationPhase.SUCCEEDED, "successfully synced (dry run)")

    async def _fail(
        self,
        app: Obj,
        state: dict[str, Any],
        ctx: SyncContext,
        tasks: list[Task],
        results: list[dict[str, Any]],
        options: SyncOptions,
        message: str,
    ) -> float | None:
        """Runs SyncFail hooks (once), then ends the operation as Failed."""
        for task in [t for t in tasks if t.phase is SyncPhase.SYNC_FAIL]:
            result = find_result(results, task)
            if result is None:
                results.append(await self.runner.apply_task(ctx, task, options))
                state["syncResult"]["resources"] = results
                state["message"] = f"{message}; running SyncFail hooks"
                await self._write_state(app, state)
                return 0.5
            verdict = self.runner.task_state(ctx, task, result)
            if verdict == "waiting":
                await self._write_state(app, state)
                return POLL_SECONDS
            result["hookPhase"] = "Succeeded" if verdict == "done" else "Failed"
        state["syncResult"]["resources"] = results
        await self.runner.delete_hooks(ctx, results, tasks)
        await self._finish(app, state, OperationPhase.FAILED, message)
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


def _stages(tasks: list[Task]) -> list[list[Task]]:
    stages: list[list[Task]] = []
    for task in tasks:
        if stages and stages[-1][0].stage == task.stage:
            stages[-1].append(task)
        else:
            stages.append([task])
    return stages


def _describe(task: Task) -> str:
    if task.prune:
        return "pruning"
    return f"{task.phase} wave {task.wave}" if task.phase is not SyncPhase.SYNC else f"wave {task.wave}"


def _is_hook(obj: Obj) -> bool:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return any(k.endswith("/hook") for k in annotations)


def _sanitize_state(state: dict[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = to_k8s(from_k8s(state, types_pb2.OperationState))
    return cleaned


def _forced(sync: dict[str, Any]) -> bool:
    """Whether the sync's strategy asks for a force apply (apply.force or hook.force)."""
    strategy = sync.get("syncStrategy") or {}
    return bool((strategy.get("apply") or {}).get("force") or (strategy.get("hook") or {}).get("force"))

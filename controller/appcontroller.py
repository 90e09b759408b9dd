"""The reconcile loop: for every Application, know whether its cluster matches Git and whether
what runs is healthy, and write that into ``Application.status`` — only when it changed.

Concurrency model:
- Informers (one asyncio task each) keep Applications, AppProjects, ferry's Secrets and
  ``ferry-cm`` in memory; each destination cluster has a ClusterCache of watches.
- Events become keys in a WorkQueue: an Application spec or refresh-annotation change (refresh
  LATEST/HARD), a change of a live object the app manages (RECENT: compare again with the
  manifests already rendered), and the periodic refresh (LATEST, ``timeout.reconciliation`` +
  jitter after the last LATEST compare).
- ``status_processors`` workers take keys; one app is reconciled by one worker at a time. Nothing
  waits while holding a worker: retries and periodic refreshes are timers on the queue, and so is
  the wait of an auto-sync a sync window blocks (a timer for the next window edge, no polling).
- Sync operations have their own pool of workers (``operation_processors``).
- Sharding (``shards`` > 1, controller/sharding.py): only apps whose destination cluster is in a
  shard this process holds are reconciled; others are skipped when taken from a queue. Gaining a
  shard queues its apps; losing one cancels their running work and drops their clusters' caches.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import hashlib
import json
import logging
import random
import time
from collections.abc import Coroutine, Iterable
from typing import Any, TypeVar

import grpc

from controller import metrics
from controller.automation import Automation, Decision, SelfHealPolicy, automated_policy
from controller.claims import Claims
from controller.clusters import Destination, DestinationError, Destinations
from controller.compare import Comparison, DryRunCache, compare
from controller.config import USER_AGENT, ControllerConfig, StartupError
from controller.deletion import Deletion
from controller.memory import AppMemory
from controller.operations import OperationDriver
from controller.sharding import ShardManager, shard_of, shard_pins
from controller.status import COMPARISON_FIELDS, changed, comparison_status, merge_patch, now
from controller.sync import option_warnings
from controller.workqueue import Refresh, WorkQueue
from ferry import __version__, crds, servicetoken
from ferry.cache import Cache, make_cache
from ferry.convert import from_k8s
from ferry.engine.health import HealthChecker
from ferry.engine.ignore import IgnoreRule, IgnoreRuleError, rule_from_spec
from ferry.engine.syncwindows import WindowState, destination_of, evaluate, project_windows
from ferry.engine.tracking import instance_label_value
from ferry.kube.client import KubeClient, Obj, ResourceInfo
from ferry.kube.config import ClusterConfig
from ferry.kube.errors import Conflict, KubeError, NotFoundError, Unprocessable
from ferry.kube.informer import Informer
from ferry.kube.lease import Leases
from ferry.projects import ObjectRefusal, ensure_default_project, object_refusal, violations
from ferry.repocreds import RepoCredentials
from ferry.settings import (
    APP_API_VERSION,
    IN_CLUSTER_SERVER,
    REFRESH_ANNOTATION,
    REFRESH_REQUESTED_AT_ANNOTATION,
    SECRET_TYPE_LABEL,
    SETTINGS_CONFIGMAP,
    Settings,
    refresh_requested_at_ms,
)
from ferry.tree import TREE_TTL_SECONDS, build_tree, tree_key
from ferry.v1 import repo_pb2, repo_pb2_grpc, types_pb2

log = logging.getLogger(__name__)

# Repo server errors worth retrying soon: it is down, restarting or overloaded. Others (a bad
# path, a missing revision) wait for a change or the next resync.
TRANSIENT_REPO_CODES = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED}
)
REPO_RETRY_SECONDS = 2.0
# A destination whose watches have failed this long is reported unreachable (short blips are not).
UNREACHABLE_AFTER_SECONDS = 5.0
REPO_RETRY_CAP_SECONDS = 60.0
T = TypeVar("T")


def _cluster_label(config: ClusterConfig) -> str:
    """``name (server)``, or just the server when the cluster has no name of its own."""
    return config.server if config.name in ("", config.server) else f"{config.name} ({config.server})"


def _spec_key(spec: dict[str, Any]) -> str:
    """What in the spec decides the manifests and the comparison."""
    material = {k: spec.get(k) for k in ("source", "destination", "project", "ignoreDifferences")}
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


class AppController:
    def __init__(self, config: ControllerConfig, management: KubeClient) -> None:
        self.config = config
        self.kube = management
        self.queue = WorkQueue()
        self.op_queue = WorkQueue()
        self.operations = OperationDriver(self)
        self.deletion = Deletion(self)
        self.claims = Claims()
        self.automation = Automation(
            SelfHealPolicy(
                config.self_heal_backoff_seconds,
                config.self_heal_backoff_factor,
                config.self_heal_backoff_cap_seconds,
            )
        )
        self.memory: dict[str, AppMemory] = {}
        self.dry_runs = DryRunCache()
        self.shared_cache: Cache | None = (
            make_cache(config.redis, initiator="controller") if config.redis is not None else None
        )
        self._published: dict[str, tuple[str, float]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._tokens = servicetoken.TokenSource(config.service_key, "controller")
        self._channel: grpc.aio.Channel | None = None
        self._repo: Any = None  # repo_pb2_grpc.RepoServiceStub on an aio channel (the stubs type it sync)
        self.apps: Informer
        self.projects: Informer
        self.secrets: Informer
        self.settings_cm: Informer
        self.app_info: ResourceInfo
        self.destinations: Destinations
        self.repo_creds: RepoCredentials
        self._checker: HealthChecker = HealthChecker()
        self._checker_source: dict[tuple[str, str], str] = {}
        self.sharding: ShardManager | None = None
        self._lease_client: KubeClient | None = None
        self._inflight: dict[tuple[str, str], asyncio.Task[Any]] = {}  # (queue, app) -> its work
        self._shard_memo: dict[tuple[str, str], int] = {}  # (server, name) -> shard
        self._pins: dict[str, int] | None = None  # server -> shard of cluster secrets' `shard`

    # --- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        ns = self.config.namespace
        if self.config.install_crds:
            await self._install_crds()
        namespace_info = await self.kube.resource("v1", "Namespace")
        try:
            await self.kube.get(namespace_info, ns)
        except NotFoundError:
            raise StartupError(
                f"the control namespace {ns!r} does not exist: create it (or use --install-crds)"
            ) from None
        try:
            await self.kube.resource(APP_API_VERSION, "Application")
        except NotFoundError:
            raise StartupError(
                "ferry's CRDs are not installed: apply deploy/ (or start with --install-crds)"
            ) from None
        self.app_info = await self.kube.resource(APP_API_VERSION, "Application")
        project_info = await self.kube.resource(APP_API_VERSION, "AppProject")
        secret_info = await self.kube.resource("v1", "Secret")
        configmap_info = await self.kube.resource("v1", "ConfigMap")
        self.apps = Informer(self.kube, self.app_info, namespace=ns, handler=self._on_app)
        self.projects = Informer(self.kube, project_info, namespace=ns, handler=self._on_project)
        self.secrets = Informer(
            self.kube, secret_info, namespace=ns, label_selector=SECRET_TYPE_LABEL, handler=self._on_secret
        )
        self.settings_cm = Informer(
            self.kube,
            configmap_info,
            namespace=ns,
            field_selector=f"metadata.name={SETTINGS_CONFIGMAP}",
            handler=self._on_settings,
        )
        self.repo_creds = RepoCredentials(self.secrets)
        self.destinations = Destinations(
            self.kube,
            self.secrets,
            user_agent=self.config.user_agent,
            qps=self.config.kube_qps,
            burst=self.config.kube_burst,
            observer=metrics.observer,
            on_change=self._on_live_change,
            settings=self.settings,
        )
        for informer in (self.settings_cm, self.secrets, self.projects):
            informer.start()
            await informer.wait_synced(60)
        # reconnect within seconds once the repo server is back (gRPC's default backoff grows to 120s)
        self._channel = self.config.repo_server.channel(
            options=[("grpc.initial_reconnect_backoff_ms", 500), ("grpc.max_reconnect_backoff_ms", 5000)],
        )
        self._repo = repo_pb2_grpc.RepoServiceStub(self._channel)
        self.apps.start()
        await self.apps.wait_synced(60)
        metrics.register(metrics.StateCollector(self._app_metrics, self._cluster_metrics))
        metrics.SHARDS_HELD.set(1 if self.config.shards <= 1 else 0)
        for index in range(max(1, self.config.status_processors)):
            self._tasks.append(asyncio.create_task(self._worker(), name=f"status-worker-{index}"))
        for index in range(max(1, self.config.operation_processors)):
            self._tasks.append(
                asyncio.create_task(self._operation_worker(), name=f"operation-worker-{index}")
            )
        if self.config.shards > 1:
            # its own client: renewals never wait behind reconciles in the rate limiter
            self._lease_client = KubeClient(
                self.kube.config,
                user_agent=self.config.user_agent,
                qps=0,
                timeout=self.config.lease_duration / 3,  # a hanging request never outlives a renew deadline
                observer=metrics.observer(IN_CLUSTER_SERVER),
            )
            self.sharding = ShardManager(
                Leases(self._lease_client, ns),
                identity=self.config.shard_id,
                shards=self.config.shards,
                lease_duration=self.config.lease_duration,
                renew_period=self.config.lease_renew_period,
                on_gained=self._shard_gained,
                on_lost=self._shard_lost,
                on_change=metrics.SHARDS_HELD.set,
            )
            self.sharding.start()
        log.info(
            "controller started",
            extra={
                "namespace": ns,
                "applications": len(self.apps.store),
                "shards": self.config.shards,
                "identity": self.config.shard_id,
            },
        )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.sharding is not None:  # after the workers stopped: nobody works on a released shard
            await self.sharding.stop(release=True)
        if self._lease_client is not None:
            await self._lease_client.close()
        # stop() also runs after a failed start, when some parts were never made
        for name in ("apps", "projects", "secrets", "settings_cm"):
            informer = getattr(self, name, None)
            if informer is not None:
                await informer.stop()
        destinations = getattr(self, "destinations", None)
        for destination in destinations.all() if destinations is not None else []:
            await destination.cache.stop()
            if destination.client is not self.kube:
                await destination.client.close()
        if self._channel is not None:
            await self._channel.close()
        if self.shared_cache is not None:
            await self.shared_cache.close()

    async def _install_crds(self) -> None:
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.config.namespace}}
        with contextlib.suppress(Conflict):
            await self.kube.create(namespace)
        for crd in crds.load():
            await self.kube.apply(crd, field_manager=USER_AGENT)
        crd_info = await self.kube.resource("apiextensions.k8s.io/v1", "CustomResourceDefinition")
        for _ in range(100):
            established = True
            for name in ("applications.ferrycd.io", "appprojects.ferrycd.io"):
                crd = await self.kube.get(crd_info, name)
                conditions = (crd.get("status") or {}).get("conditions") or []
                established &= any(c["type"] == "Established" and c["status"] == "True" for c in conditions)
            if established:
                break
            await asyncio.sleep(0.1)
        await self.kube.discover(force=True)
        await ensure_default_project(self.kube, self.config.namespace)

    @property
    def field_manager(self) -> str:
        return self.operations.runner.field_manager

    def settings(self) -> Settings:
        return Settings.from_configmap(self.settings_cm.get(self.config.namespace, SETTINGS_CONFIGMAP))

    def _health_checker(self) -> HealthChecker:
        rules = self.settings().health_rules
        if rules != self._checker_source:
            self._checker = HealthChecker(rules)
            self._checker_source = rules
        return self._checker

    # --- events ------------------------------------------------------------------------------------

    def _on_app(self, event: str, new: Obj | None, old: Obj | None) -> None:
        obj = new or old
        assert obj is not None
        name = obj["metadata"]["name"]
        if event == "DELETED":
            self.queue.forget(name)
            self.op_queue.forget(name)
            self.memory.pop(name, None)
            self.claims.forget(name)
            self.operations.forget(name)
            return
        if (obj.get("metadata") or {}).get("deletionTimestamp"):
            # a refresh asked for while deleting renders again (a fixed deletion hook in Git)
            annotations = (obj.get("metadata") or {}).get("annotations") or {}
            self.queue.add(name, Refresh.LATEST if annotations.get(REFRESH_ANNOTATION) else Refresh.RECENT)
            return
        if _operation_pending(obj):
            self.op_queue.add(name)
        if old is None:
            self.queue.add(name, Refresh.LATEST)
            return
        assert new is not None
        new_annotations = (new.get("metadata") or {}).get("annotations") or {}
        if new_annotations.get(REFRESH_ANNOTATION):
            level = Refresh.HARD if new_annotations[REFRESH_ANNOTATION] == "hard" else Refresh.LATEST
            self.queue.add(name, level)
        elif new.get("spec") != old.get("spec"):
            self.queue.add(name, Refresh.LATEST)
        # status-only changes are our own writes: nothing to do

    def _on_project(self, event: str, new: Obj | None, old: Obj | None) -> None:
        obj = new or old
        assert obj is not None
        if new is not None and old is not None and new.get("spec") == old.get("spec"):
            return
        project = obj["metadata"]["name"]
        for app in self.apps.items():
            if ((app.get("spec") or {}).get("project") or "default") == project:
                self.queue.add(app["metadata"]["name"], Refresh.RECENT)
                if _operation_pending(app):  # an operation a sync window held may run now
                    self.op_queue.add(app["metadata"]["name"])

    def _on_secret(self, event: str, new: Obj | None, old: Obj | None) -> None:
        obj = new or old
        assert obj is not None
        kinds = {
            ((o.get("metadata") or {}).get("labels") or {}).get(SECRET_TYPE_LABEL) for o in (new, old) if o
        }
        if "cluster" in kinds:  # which cluster a destination names, and its shard, may have changed
            self._shard_memo.clear()
            self._pins = None
        if new is not None and old is not None and new.get("data") == old.get("data"):
            return
        kind = ((obj.get("metadata") or {}).get("labels") or {}).get(SECRET_TYPE_LABEL)
        level = Refresh.LATEST if kind in ("repository", "repo-creds") else Refresh.RECENT
        if "cluster" in kinds and self.sharding is not None:  # clusters may have moved between shards
            self._tasks = [t for t in self._tasks if not t.done()]
            self._tasks.append(asyncio.create_task(self._sync_ownership(), name="shard-ownership"))
        for app in self.apps.items():
            self.queue.add(app["metadata"]["name"], level)

    def _on_settings(self, event: str, new: Obj | None, old: Obj | None) -> None:
        if new is not None and old is not None and new.get("data") == old.get("data"):
            return
        for app in self.apps.items():
            self.queue.add(app["metadata"]["name"], Refresh.RECENT)

    def _on_live_change(self, cluster: str, app_or_label: str) -> None:
        for name in self._apps_for(app_or_label):
            memory = self.memory.get(name)
            if memory is None or memory.cluster == cluster:
                self.queue.add(name, Refresh.RECENT)
                app = self.apps.get(self.config.namespace, name)
                if app is not None and _operation_pending(app):
                    self.op_queue.add(name)

    def on_operation_finished(self, app: Obj, state: dict[str, Any]) -> None:
        """Called when an operation ends (automation keeps its bookkeeping here)."""

    def _apps_for(self, app_or_label: str) -> list[str]:
        if self.apps.get(self.config.namespace, app_or_label) is not None:
            return [app_or_label]
        return [
            a["metadata"]["name"]
            for a in self.apps.items()
            if instance_label_value(a["metadata"]["name"]) == app_or_label
        ]

    # --- work --------------------------------------------------------------------------------------

    async def _worker(self) -> None:
        while True:
            name, level = await self.queue.get()
            try:
                if not self.responsible(name):
                    self._drop_app(name)
                    continue
                await self._cancellable("status", name, self.reconcile(name, level))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reconcile failed", extra={"application": name})
                self.queue.add_after(name, 10.0, level)
            finally:
                self.queue.done(name)

    async def _operation_worker(self) -> None:
        while True:
            name, _level = await self.op_queue.get()
            try:
                if not self.responsible(name):
                    self._drop_app(name)
                    delay = None
                else:
                    delay = await self._cancellable("operation", name, self.operations.step(name))
            except asyncio.CancelledError:
                raise
            except KubeError as err:
                log.warning(
                    "operation step failed; retrying", extra={"application": name, "error": err.message}
                )
                delay = 5.0
            except Exception:
                log.exception("operation step failed", extra={"application": name})
                delay = 10.0
            finally:
                self.op_queue.done(name)
            if delay is not None:
                if delay <= 0:
                    self.op_queue.add(name)
                else:
                    self.op_queue.add_after(name, delay)

    async def _cancellable(self, queue: str, name: str, work: Coroutine[Any, Any, T]) -> T | None:
        """Runs ``work``; when sharded, as a task that losing the app's shard cancels (None then)."""
        if self.sharding is None:
            return await work
        task = asyncio.create_task(work, name=f"{queue}:{name}")
        self._inflight[(queue, name)] = task
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            raise
        finally:
            self._inflight.pop((queue, name), None)
        if task.cancelled():
            log.info("work stopped: the app's shard is no longer ours", extra={"application": name})
            return None
        return task.result()

    # --- sharding ----------------------------------------------------------------------------------

    def responsible(self, name: str) -> bool:
        """Whether this process reconciles ``name`` (always, unless sharded)."""
        if self.sharding is None:
            return True
        app = self.apps.get(self.config.namespace, name)
        return app is not None and self.app_shard(app) in self.sharding.held

    def app_shard(self, app: Obj) -> int:
        """The shard of the app's destination cluster; 0 when the destination names no cluster."""
        dest = (app.get("spec") or {}).get("destination") or {}
        key = (str(dest.get("server") or ""), str(dest.get("name") or ""))
        shard = self._shard_memo.get(key)
        if shard is None:
            try:
                config = self.destinations.resolve(*key)
            except DestinationError:
                shard = 0
            else:
                shard = self.cluster_shard(self.destinations.server_label(config))
            self._shard_memo[key] = shard
        return shard

    def cluster_shard(self, server: str) -> int:
        """A cluster's shard: its secret's ``shard`` field when valid, else the hash of its URL."""
        if self._pins is None:
            self._pins = shard_pins(self.secrets.items(), self.config.shards)
        pinned = self._pins.get(server)
        return pinned if pinned is not None else shard_of(server, self.config.shards)

    async def _shard_gained(self, shard: int) -> None:
        for app in self.apps.items():
            if self.app_shard(app) == shard:
                name = app["metadata"]["name"]
                self.queue.add(name, Refresh.LATEST)
                if _operation_pending(app):
                    self.op_queue.add(name)

    async def _shard_lost(self, shard: int) -> None:
        await self._sync_ownership()

    async def _sync_ownership(self) -> None:
        """Stops everything this process no longer owns: running work is cancelled, apps are
        forgotten (queued keys are skipped when taken) and clusters' caches are dropped."""
        if self.sharding is None:
            return
        stopping = [task for (_queue, name), task in self._inflight.items() if not self.responsible(name)]
        for task in stopping:
            task.cancel()
        if stopping:  # they stop at their next await: wait, so nothing of ours overlaps the next owner
            await asyncio.wait(stopping, timeout=self.config.lease_duration / 3)
        for name in list(self.memory):
            if not self.responsible(name):
                self._drop_app(name)
        for destination in self.destinations.all():
            server = self.destinations.server_label(destination.config)
            if self.cluster_shard(server) not in self.sharding.held:
                await self.destinations.drop(destination)
                self.dry_runs.forget_cluster(destination.cache.name)
                log.info("cluster cache dropped: its shard is not ours", extra={"server": server})
        for app in self.apps.items():  # clusters that moved into our shards
            name = app["metadata"]["name"]
            if name not in self.memory and self.responsible(name):
                self.queue.add(name, Refresh.LATEST)
                if _operation_pending(app):
                    self.op_queue.add(name)

    def _drop_app(self, name: str) -> None:
        self.queue.forget(name)
        self.op_queue.forget(name)
        self.memory.pop(name, None)
        self.claims.forget(name)
        self._published.pop(name, None)
        self.operations.forget(name)

    def _schedule_periodic(self, name: str, memory: AppMemory) -> None:
        settings = self.settings()
        resync = (
            self.config.resync_seconds
            if self.config.resync_seconds is not None
            else settings.reconciliation_seconds
        )
        jitter = (
            self.config.jitter_seconds
            if self.config.jitter_seconds is not None
            else settings.reconciliation_jitter_seconds
        )
        if resync <= 0:
            return
        due = memory.last_latest + resync + random.uniform(0, max(0.0, jitter))  # noqa: S311 (jitter, not security)
        self.queue.add_after(name, max(0.5, due - time.monotonic()), Refresh.LATEST, slot="periodic")

    async def reconcile(self, name: str, level: Refresh) -> None:
        app = self.apps.get(self.config.namespace, name)
        if app is None:
            return
        if (app.get("metadata") or {}).get("deletionTimestamp"):
            await self.deletion.finalize(app, level, self.memory.setdefault(name, AppMemory()))
            return
        started = time.monotonic()
        spec = app.get("spec") or {}
        annotations = (app.get("metadata") or {}).get("annotations") or {}
        refresh = annotations.get(REFRESH_ANNOTATION)
        if refresh:
            level = max(level, Refresh.HARD if refresh == "hard" else Refresh.LATEST)
        memory = self.memory.setdefault(name, AppMemory())
        key = _spec_key(spec)
        if key != memory.spec_key:
            level = max(level, Refresh.LATEST)
        conditions, destination = self._validate(app)
        comparison: Comparison | None = None
        if destination is not None:
            if memory.cluster and memory.cluster != destination.cache.name:
                memory.manifests = None
            memory.cluster = destination.cache.name
            if level >= Refresh.LATEST or memory.manifests is None:
                await self._fetch_manifests(
                    app,
                    destination,
                    memory,
                    hard=level == Refresh.HARD,
                    fresh_refs=bool(refresh),
                    refs_read_after_ms=refresh_requested_at_ms(annotations),
                )
                memory.spec_key = key
                memory.last_latest = time.monotonic()
            if memory.manifest_error:
                conditions.append(("ComparisonError", memory.manifest_error))
            else:
                comparison = await self._compare(app, destination, memory, conditions)
        elif level >= Refresh.LATEST:
            memory.last_latest = time.monotonic()
        memory.comparison = comparison
        if comparison is not None and destination is not None:
            await self._publish_tree(name, comparison, destination)
        decision = self._decide(app, comparison, memory.revision)
        conditions += [*await self._manifest_checks(app, memory), *decision.conditions]
        status = comparison_status(
            app, comparison, revision=memory.revision, source_type=memory.source_type, conditions=conditions
        )
        if refresh:
            # before the status write: its watch event would otherwise still carry the annotation
            # and queue a second fresh refresh (a second ls-remote per app per webhook)
            await self._clear_refresh(name, annotations)
        await self._write_status(app, status)
        if decision.operation is not None:
            await self._request_operation(name, decision.operation)
        self._schedule_decision(name, decision)
        failures = memory.transient_failures if memory.manifest_error else memory.cluster_failures
        if failures:
            # the repo server or the cluster is down or overloaded: try again soon, backing off,
            # not at the next resync
            delay = min(REPO_RETRY_CAP_SECONDS, REPO_RETRY_SECONDS * 2 ** (failures - 1))
            self.queue.add_after(name, delay, Refresh.LATEST, slot="repo-retry")
        self._schedule_periodic(name, memory)
        server = self.destinations.server_label(destination.config) if destination else ""
        metrics.RECONCILE.labels(server).observe(time.monotonic() - started)

    def _decide(self, app: Obj, comparison: Comparison | None, revision: str) -> Decision:
        # the sync windows only matter to an auto-sync that could happen: the cron schedules are
        # read then, not at every reconcile of every app
        wanted = comparison is not None and str(comparison.sync_status) == "OutOfSync"
        if wanted and automated_policy(app.get("spec") or {}) is not None:  # {} is auto-sync too
            return self.automation.decide(app, comparison, revision, windows=self.sync_windows(app))
        return self.automation.decide(app, comparison, revision)

    def _schedule_decision(self, name: str, decision: Decision) -> None:
        """Timers for when automation wants to look again: the self-heal backoff, and the next
        edge of the sync windows that block an auto-sync (no polling while blocked)."""
        if decision.retry_after is not None:
            self.queue.add_after(name, decision.retry_after, Refresh.RECENT, slot="self-heal")
        if decision.window_edge is not None:
            wait = (decision.window_edge - datetime.datetime.now(datetime.UTC)).total_seconds()
            self.queue.add_after(name, max(0.0, wait), Refresh.RECENT, slot="sync-window")

    async def _manifest_checks(self, app: Obj, memory: AppMemory) -> list[tuple[str, str]]:
        """What the rendered manifests ask for beyond the comparison: SharedResourceWarnings for
        objects other apps claim too, the deletion-hook finalizers they need, and
        SyncOptionWarning conditions for what ferry does not understand."""
        found = []
        if memory.comparison is not None:
            found += self.claims.update(app["metadata"]["name"], memory.cluster, memory.comparison)
        if memory.manifests is None or memory.manifest_error:
            return found
        await self.deletion.sync_hook_finalizers(app, memory.manifests)
        return found + [
            ("SyncOptionWarning", w) for w in option_warnings(app.get("spec") or {}, memory.manifests)
        ]

    async def _publish_tree(self, name: str, comparison: Comparison, destination: Destination) -> None:
        """Puts the app's resource tree into the shared cache for the API server (when there is one)."""
        if self.shared_cache is None:
            return
        managed = [r.live for r in comparison.resources if r.live is not None]
        tree = build_tree(managed, destination.cache.children_for(name), self._health_checker())
        data = json.dumps(tree, sort_keys=True, separators=(",", ":")).encode()
        digest = hashlib.sha256(data).hexdigest()
        published = self._published.get(name)
        # unchanged trees are re-sent once half their TTL has passed, so a stable app's tree never expires
        if published and published[0] == digest and time.monotonic() - published[1] < TREE_TTL_SECONDS / 2:
            return
        await self.shared_cache.set(tree_key(self.config.namespace, name), data, TREE_TTL_SECONDS)
        self._published[name] = (digest, time.monotonic())

    async def _request_operation(self, name: str, operation: dict[str, Any]) -> None:
        try:
            updated = await self.kube.patch(
                self.app_info, name, {"operation": operation}, namespace=self.config.namespace
            )
        except NotFoundError:
            return
        self.apps.store[(self.config.namespace, name)] = updated
        self.op_queue.add(name)
        log.info("auto-sync", extra={"application": name, "revision": operation["sync"].get("revision", "")})

    def _validate(self, app: Obj) -> tuple[list[tuple[str, str]], Destination | None]:
        spec = app.get("spec") or {}
        conditions: list[tuple[str, str]] = []
        source = spec.get("source") or {}
        dest = spec.get("destination") or {}
        if not source.get("repoURL"):
            conditions.append(("InvalidSpecError", "spec.source.repoURL is required"))
        project_name = spec.get("project") or "default"
        project = self.projects.get(self.config.namespace, project_name)
        if project is None:
            conditions.append(
                ("InvalidSpecError", f"application references project {project_name!r} which does not exist")
            )
        try:
            config = self.destinations.resolve(str(dest.get("server") or ""), str(dest.get("name") or ""))
        except DestinationError as err:
            conditions.append(("InvalidSpecError", str(err)))
            return conditions, None
        if project is not None:
            conditions += [
                ("InvalidSpecError", p) for p in violations(project, spec, cluster_name=config.name)
            ]
        if conditions:
            return conditions, None
        return conditions, self.destinations.get(config)

    def sync_windows(self, app: Obj, at: datetime.datetime | None = None) -> WindowState | None:
        """The app's project's sync windows for the app at ``at`` (now by default); None when
        the project has none."""
        project = self.projects.get(
            self.config.namespace, (app.get("spec") or {}).get("project") or "default"
        )
        entries = project_windows(project)
        if not entries:
            return None
        return evaluate(entries, destination_of(app), at or datetime.datetime.now(datetime.UTC))

    def _refusal(self, app: Obj, destination: Destination) -> ObjectRefusal | None:
        """The project's per-object rules for the app's manifests (the sync checks the same)."""
        project = self.projects.get(
            self.config.namespace, (app.get("spec") or {}).get("project") or "default"
        )
        if project is None:
            return None
        return object_refusal(
            project,
            server=self.destinations.server_label(destination.config),
            cluster_name=destination.config.name,
        )

    async def _fetch_manifests(
        self,
        app: Obj,
        destination: Destination,
        memory: AppMemory,
        *,
        hard: bool,
        fresh_refs: bool = False,
        refs_read_after_ms: int = 0,
    ) -> None:
        """Asks the repo server for the app's manifests. ``fresh_refs`` (a refresh someone asked
        for, e.g. after a webhook push): resolve the revision past the repo server's short-lived
        reference cache first — with references read since ``refs_read_after_ms``, when the
        refresh was asked for, or else since now — and render that exact commit."""
        spec = app["spec"]
        source = spec.get("source") or {}
        assert self._repo is not None
        repository = self.repo_creds.for_url(source.get("repoURL", ""), str(spec.get("project") or "default"))
        revision = str(source.get("targetRevision") or "")
        try:
            if fresh_refs and not hard and not source.get("chart"):
                resolved = await self._repo.ResolveRevision(
                    repo_pb2.ResolveRevisionRequest(
                        repo=repository,
                        revision=revision,
                        no_cache=True,
                        refs_read_after_ms=refs_read_after_ms,
                    ),
                    metadata=self._tokens.metadata(),
                    timeout=self.config.repo_timeout,
                )
                revision = resolved.revision
            project_name = str(spec.get("project") or "default")
            request = self.repo_creds.scope(
                repo_pb2.ManifestRequest(
                    repo=repository,
                    application_source=_source_message(source),
                    revision=revision,
                    no_cache=hard,
                    app_name=app["metadata"]["name"],
                    namespace=str((spec.get("destination") or {}).get("namespace") or ""),
                    kube_version=await self._kube_version(destination),
                ),
                project_name,
                self.projects.get(self.config.namespace, project_name),
            )
            response = await self._repo.GenerateManifests(
                request, metadata=self._tokens.metadata(), timeout=self.config.repo_timeout
            )
        except grpc.aio.AioRpcError as err:
            metrics.REPO_ERRORS.labels(err.code().name).inc()
            memory.manifest_error = f"rpc error: code = {_code_name(err.code())} desc = {err.details()}"
            transient = err.code() in TRANSIENT_REPO_CODES
            memory.transient_failures = memory.transient_failures + 1 if transient else 0
            return
        except ValueError as err:
            memory.manifest_error = f"invalid source: {err}"
            return
        memory.manifest_error = ""
        memory.transient_failures = 0
        memory.manifests = [json.loads(m) for m in response.manifests]
        memory.revision = response.revision
        memory.source_type = response.source_type

    async def _kube_version(self, destination: Destination) -> str:
        if not destination.kube_version:
            try:
                version = await destination.client.server_version()
            except KubeError:
                return ""
            destination.kube_version = version.removeprefix("v").split("+")[0]
        return destination.kube_version

    async def _compare(
        self, app: Obj, destination: Destination, memory: AppMemory, conditions: list[tuple[str, str]]
    ) -> Comparison | None:
        name = app["metadata"]["name"]
        spec = app["spec"]
        ignore: list[IgnoreRule] = []
        try:
            ignore = [
                rule_from_spec(r) for r in spec.get("ignoreDifferences") or []
            ] + self.settings().ignore_rules
        except (IgnoreRuleError, ValueError) as err:
            conditions.append(("InvalidSpecError", f"ignoreDifferences: {err}"))
        cache = destination.cache
        if cache.unreachable_seconds > UNREACHABLE_AFTER_SECONDS:
            # the cache is stale: comparing with it would report what the cluster looked like
            conditions.append(
                (
                    "ComparisonError",
                    f"cluster {_cluster_label(destination.config)} is unreachable: {cache.last_error}",
                )
            )
            memory.cluster_failures += 1
            return None
        memory.cluster_failures = 0
        try:
            return await compare(
                name,
                instance_label_value(name),
                memory.manifests or [],
                client=destination.client,
                cache=destination.cache,
                dry_runs=self.dry_runs,
                checker=self._health_checker(),
                ignore=ignore,
                destination_namespace=str((spec.get("destination") or {}).get("namespace") or ""),
                server_side_diff=self.config.server_side_diff,
                refusal=self._refusal(app, destination),
            )
        except KubeError as err:
            conditions.append(("ComparisonError", f"cluster {destination.cache.name}: {err.message}"))
            return None

    async def _write_status(self, app: Obj, status: dict[str, Any], *, force: bool = False) -> None:
        old = app.get("status") or {}
        if not force and not changed(old, status):
            return
        status["reconciledAt"] = now()
        # every comparison field the old status has: one the new status lacks (conditions that
        # cleared, say — empty lists are omitted) must be removed, not left behind
        old_part = {k: old[k] for k in {*status, *COMPARISON_FIELDS} if k in old}
        patch = merge_patch(old_part, status)
        if not patch:
            return
        name = app["metadata"]["name"]
        try:
            updated = await self.kube.patch(
                self.app_info, name, {"status": patch}, namespace=self.config.namespace, subresource="status"
            )
            metrics.STATUS_WRITES.labels("comparison").inc()
            self.apps.store[(self.config.namespace, name)] = (
                updated  # our view is current before the watch says so
            )
        except NotFoundError:
            pass  # deleted meanwhile

    async def _clear_refresh(self, name: str, annotations: dict[str, str]) -> None:
        patch, patch_type = clear_refresh_patch(annotations)
        try:
            await self.kube.patch(
                self.app_info, name, patch, namespace=self.config.namespace, patch_type=patch_type
            )
        except NotFoundError:
            pass  # deleted meanwhile
        except (Unprocessable, Conflict) as err:
            # asked again meanwhile (or the annotations changed under us): that request stays
            log.debug("refresh request left in place", extra={"application": name, "reason": err.message})

    # --- metrics -----------------------------------------------------------------------------------

    def _app_metrics(self) -> Iterable[dict[str, Any]]:
        for app in self.apps.items():
            if self.sharding is not None and not self.responsible(app["metadata"]["name"]):
                continue  # another controller reports it
            spec = app.get("spec") or {}
            status = app.get("status") or {}
            yield {
                "name": app["metadata"]["name"],
                "project": spec.get("project") or "default",
                "repo": (spec.get("source") or {}).get("repoURL", ""),
                "dest_server": (spec.get("destination") or {}).get("server")
                or (spec.get("destination") or {}).get("name", ""),
                "dest_namespace": (spec.get("destination") or {}).get("namespace", ""),
                "sync_status": (status.get("sync") or {}).get("status", ""),
                "health_status": (status.get("health") or {}).get("status", ""),
                # automated: {} is on (it is a dict, empty or not), enabled: false is off
                "autosync_enabled": str(automated_policy(spec) is not None).lower(),
            }

    def _cluster_metrics(self) -> Iterable[dict[str, Any]]:
        for destination in self.destinations.all():
            yield {
                "server": self.destinations.server_label(destination.config),
                "objects": sum(destination.cache.object_counts().values()),
                "age": destination.cache.age_seconds(),
                "connected": destination.cache.connected,
            }


def _operation_pending(app: Obj) -> bool:
    """An operation was requested or is running."""
    if app.get("operation"):
        return True
    phase = ((app.get("status") or {}).get("operationState") or {}).get("phase")
    return phase in ("Running", "Terminating")


def _source_message(source: dict[str, Any]) -> types_pb2.ApplicationSource:
    return from_k8s(source, types_pb2.ApplicationSource)


def _code_name(code: grpc.StatusCode) -> str:
    return "".join(part.capitalize() for part in code.name.split("_"))


def _version() -> str:
    return __version__


def clear_refresh_patch(annotations: dict[str, str]) -> tuple[Any, str]:
    """The patch (and its type) that removes the refresh request a reconcile served, and only
    that one: a request made meanwhile (a newer refresh-requested-at, e.g. the webhook of a later
    push, or another level) makes the JSON patch's ``test`` fail (422), so it stays and its watch
    event queues the app again. A request without a time (kubectl annotate) is simply removed."""
    if REFRESH_REQUESTED_AT_ANNOTATION not in annotations:
        return {"metadata": {"annotations": {REFRESH_ANNOTATION: None}}}, "merge"
    patch: list[dict[str, str]] = []
    for key in (REFRESH_REQUESTED_AT_ANNOTATION, REFRESH_ANNOTATION):
        if key in annotations:
            pointer = "/metadata/annotations/" + key.replace("~", "~0").replace("/", "~1")
            patch += [
                {"op": "test", "path": pointer, "value": annotations[key]},
                {"op": "remove", "path": pointer},
            ]
    return patch, "json"

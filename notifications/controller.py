"""The notifications controller: watches Applications, AppProjects and the notifications settings,
and delivers what ``notifications.engine`` plans, exactly once per state key.

Concurrency: informers (one task each) call handlers that only enqueue app keys. ``workers``
tasks take keys from one queue; a key is processed by one worker at a time (a key changed while
being processed is processed again afterwards). Only the leader (the holder of the Lease
``ferry-notifications-controller``) evaluates and sends; standbys keep their caches warm.

Delivery state: after each successful send the app's ``notified.notifications.ferrycd.io``
annotation is patched at once (one merge patch), so a restart does not send it again. A failed
send is not recorded: it is retried with exponential backoff (``retry_initial_seconds`` doubling to
``retry_max_seconds``), counted in ``ferry_notifications_deliveries_total{result="failure"}`` and
reported as a Warning event on the app. What was delivered is a Normal event.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from ferry import gotemplate
from ferry.kube.client import KubeClient, Obj, ResourceInfo
from ferry.kube.errors import KubeError, NotFoundError
from ferry.kube.informer import Informer
from ferry.kube.lease import Leases
from ferry.settings import APP_API_VERSION
from notifications import metrics
from notifications.config import CONFIGMAP, SECRET, Config, parse_config
from notifications.engine import (
    NOTIFIED_ANNOTATION,
    Delivery,
    plan,
    read_state,
    render_notification,
    truncate,
    variables,
)
from notifications.leader import LeaderElector
from notifications.services import SendError, send

log = logging.getLogger(__name__)

COMPONENT = "ferry-notifications-controller"
LEASE_NAME = "ferry-notifications-controller"
Key = tuple[str, str]


class StartupError(Exception):
    pass


@dataclass(frozen=True)
class Options:
    namespace: str
    identity: str
    leader_election: bool = True
    lease_duration: int = 15
    lease_renew_period: float = 2.0
    resync_seconds: float = 60.0
    retry_initial_seconds: float = 2.0
    retry_max_seconds: float = 300.0
    workers: int = 4


@dataclass
class _Retry:
    attempts: int
    next_at: float
    last_error: str


@dataclass
class _Work:
    queue: asyncio.Queue[Key] = field(default_factory=asyncio.Queue)
    queued: set[Key] = field(default_factory=set)
    active: set[Key] = field(default_factory=set)
    dirty: set[Key] = field(default_factory=set)


class NotificationsController:
    def __init__(self, client: KubeClient, options: Options) -> None:
        self.client = client
        self.options = options
        self.config = Config()
        self.leading = not options.leader_election
        self._work = _Work()
        self._tasks: list[asyncio.Task[None]] = []
        self._written: dict[
            str, dict[str, int]
        ] = {}  # app uid -> the state we last wrote (we are its only writer)
        self._retries: dict[tuple[str, str], _Retry] = {}
        self._informers: list[Informer] = []
        self._elector: LeaderElector | None = None
        self._app_info: ResourceInfo | None = None
        self._event_info: ResourceInfo | None = None

    # --- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        ns = self.options.namespace
        try:
            self._app_info = await self.client.resource(APP_API_VERSION, "Application")
            project_info = await self.client.resource(APP_API_VERSION, "AppProject")
        except KubeError as err:
            raise StartupError(
                f"the ferrycd.io CRDs are not served ({err.message}): install them (deploy/base/crds) first"
            ) from None
        configmap_info = await self.client.resource("v1", "ConfigMap")
        secret_info = await self.client.resource("v1", "Secret")
        self._event_info = await self.client.resource("v1", "Event")
        self.apps = Informer(self.client, self._app_info, namespace=ns, handler=self._on_app)
        self.projects = Informer(self.client, project_info, namespace=ns, handler=self._on_project)
        self.configmaps = Informer(
            self.client,
            configmap_info,
            namespace=ns,
            field_selector=f"metadata.name={CONFIGMAP}",
            handler=self._on_settings,
        )
        self.secrets = Informer(
            self.client,
            secret_info,
            namespace=ns,
            field_selector=f"metadata.name={SECRET}",
            handler=self._on_settings,
        )
        self._informers = [self.configmaps, self.secrets, self.projects, self.apps]
        for informer in self._informers:
            informer.start()
        for informer in self._informers:
            if not await informer.wait_synced(timeout=60):
                raise StartupError(f"cannot list {informer.info.plural} in {ns}: {informer.last_error}")
        self._reload_config()
        for _ in range(self.options.workers):
            self._tasks.append(asyncio.create_task(self._worker(), name="notifications-worker"))
        self._tasks.append(asyncio.create_task(self._resync(), name="notifications-resync"))
        if self.options.leader_election:
            self._elector = LeaderElector(
                Leases(self.client, ns),
                name=LEASE_NAME,
                identity=self.options.identity,
                lease_duration=self.options.lease_duration,
                renew_period=self.options.lease_renew_period,
                on_started=self._started_leading,
                on_stopped=self._stopped_leading,
            )
            self._elector.start()
        else:
            await self._started_leading()

    async def stop(self) -> None:
        if self._elector is not None:
            await self._elector.stop()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for informer in self._informers:
            await informer.stop()

    def is_leading(self) -> bool:
        return self.leading

    async def _started_leading(self) -> None:
        self.leading = True
        self._written.clear()  # another leader may have written since; the cache is the truth now
        metrics.LEADER.set(1)
        self._enqueue_all()

    async def _stopped_leading(self) -> None:
        self.leading = False
        metrics.LEADER.set(0)

    # --- events ------------------------------------------------------------------------------------

    def _on_app(self, event: str, new: Obj | None, old: Obj | None) -> None:
        obj = new or old
        if obj is None:
            return
        if event == "DELETED":
            uid = (obj.get("metadata") or {}).get("uid", "")
            self._written.pop(uid, None)
            self._retries = {k: v for k, v in self._retries.items() if k[0] != uid}
            return
        self._enqueue(_key(obj))

    def _on_project(self, event: str, new: Obj | None, old: Obj | None) -> None:
        name = ((new or old or {}).get("metadata") or {}).get("name")
        for app in self.apps.items():
            if ((app.get("spec") or {}).get("project") or "default") == name:
                self._enqueue(_key(app))

    def _on_settings(self, event: str, new: Obj | None, old: Obj | None) -> None:
        if not self.configmaps.synced.is_set() or not self.secrets.synced.is_set():
            return
        self._reload_config()
        self._retries.clear()  # a changed configuration deserves a fresh attempt
        self._enqueue_all()

    def _reload_config(self) -> None:
        ns = self.options.namespace
        self.config = parse_config(self.configmaps.get(ns, CONFIGMAP), self.secrets.get(ns, SECRET))
        metrics.CONFIG_ERRORS.set(len(self.config.errors))
        for error in self.config.errors:
            log.warning("notifications configuration", extra={"error": error})

    def _enqueue_all(self) -> None:
        for app in self.apps.items() if self._informers else []:
            self._enqueue(_key(app))

    def _enqueue(self, key: Key) -> None:
        work = self._work
        if key in work.active:
            work.dirty.add(key)
            return
        if key not in work.queued:
            work.queued.add(key)
            work.queue.put_nowait(key)

    async def _resync(self) -> None:
        """Time-based conditions (``time.Now()``) and due retries need no change to fire."""
        while True:
            await asyncio.sleep(self.options.resync_seconds)
            self._enqueue_all()

    async def _worker(self) -> None:
        work = self._work
        while True:
            key = await work.queue.get()
            work.queued.discard(key)
            if key in work.active:
                work.dirty.add(key)
                continue
            work.active.add(key)
            try:
                await self.process(key)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("processing an application failed", extra={"app": "/".join(key)})
            finally:
                work.active.discard(key)
                if key in work.dirty:
                    work.dirty.discard(key)
                    self._enqueue(key)

    # --- the work ----------------------------------------------------------------------------------

    async def process(self, key: Key) -> None:
        if not self.leading:
            return
        app = self.apps.get(*key)
        if app is None:
            return
        meta = app.get("metadata") or {}
        uid = str(meta.get("uid") or "")
        project_name = (app.get("spec") or {}).get("project") or "default"
        project = self.projects.get(key[0], project_name)
        config = self.config
        recorded = read_state(app)
        written = self._written.get(uid)
        if written is not None and written == recorded:
            del self._written[uid]  # the watch caught up: the annotation is the truth again (edits included)
            written = None
        state = dict(written if written is not None else recorded)
        decided = plan(config, app, project, state)
        for trigger, triggered in decided.evaluations:
            metrics.TRIGGER_EVALUATIONS.labels(trigger, str(triggered).lower()).inc()
        for warning in decided.warnings:
            log.info("trigger", extra={"app": meta.get("name"), "detail": warning})
        changed = False
        for forgotten in decided.forget:
            state.pop(forgotten, None)
            changed = True
        if changed:
            await self._persist(app, state)
        now = time.monotonic()
        for delivery in decided.deliveries:
            if not self.is_leading():
                return
            retry = self._retries.get((uid, delivery.key))
            if retry is not None and retry.next_at > now:
                self._wake(key, retry.next_at - now)
                continue
            error = await self._deliver(config, app, project, delivery)
            if error is None:
                self._retries.pop((uid, delivery.key), None)
                state[delivery.key] = int(time.time())
                await self._persist(app, state)
                metrics.DELIVERIES.labels(delivery.destination.service, delivery.trigger, "success").inc()
                await self._event(
                    app,
                    "Normal",
                    "NotificationDelivered",
                    f"Notification about {delivery.trigger} sent to {delivery.destination}",
                )
                continue
            metrics.DELIVERIES.labels(delivery.destination.service, delivery.trigger, "failure").inc()
            if not error.retry and "too many statuses" in str(error):
                state[delivery.key] = int(time.time())  # as Argo CD: GitHub refuses more statuses; done
                await self._persist(app, state)
                await self._event(
                    app,
                    "Warning",
                    "NotificationFailed",
                    f"{delivery.trigger} to {delivery.destination}: {error}",
                )
                continue
            attempts = (retry.attempts if retry else 0) + 1
            delay = min(
                self.options.retry_max_seconds, self.options.retry_initial_seconds * 2 ** (attempts - 1)
            )
            self._retries[(uid, delivery.key)] = _Retry(attempts, time.monotonic() + delay, str(error))
            metrics.PENDING_RETRIES.set(len(self._retries))
            log.warning(
                "notification failed; retrying",
                extra={
                    "app": meta.get("name"),
                    "trigger": delivery.trigger,
                    "destination": str(delivery.destination),
                    "attempt": attempts,
                    "retry_in_seconds": delay,
                    "error": str(error),
                },
            )
            await self._event(
                app,
                "Warning",
                "NotificationFailed",
                f"Notification about {delivery.trigger} to {delivery.destination} failed "
                f"(attempt {attempts}, retrying in {delay:g}s): {error}",
            )
            self._wake(key, delay)
        metrics.PENDING_RETRIES.set(len(self._retries))

    def _wake(self, key: Key, delay: float) -> None:
        asyncio.get_running_loop().call_later(max(delay, 0.05), self._enqueue, key)

    async def _deliver(
        self, config: Config, app: Obj, project: Obj | None, delivery: Delivery
    ) -> SendError | None:
        service = config.services.get(delivery.destination.service)
        if service is None:
            return SendError(f"service {delivery.destination.service!r} is not configured in {CONFIGMAP}")
        env = variables(config, app, project, service.type)
        env["recipient"] = delivery.destination.recipient
        try:
            notification = render_notification(config, delivery.templates, env)
        except KeyError as err:
            return SendError(str(err.args[0]) if err.args else str(err))
        except gotemplate.TemplateError as err:
            return SendError(f"template: {err}")
        try:
            await send(service, notification, delivery.destination)
        except SendError as err:
            return err
        log.info(
            "notification sent",
            extra={
                "app": (app.get("metadata") or {}).get("name"),
                "trigger": delivery.trigger,
                "destination": str(delivery.destination),
            },
        )
        return None

    async def _persist(self, app: Obj, state: dict[str, int]) -> None:
        assert self._app_info is not None
        meta = app.get("metadata") or {}
        state = truncate(state)
        value = json.dumps(state, sort_keys=True, separators=(",", ":")) if state else None
        try:
            await self.client.patch(
                self._app_info,
                meta["name"],
                {"metadata": {"annotations": {NOTIFIED_ANNOTATION: value}}},
                namespace=meta.get("namespace"),
            )
        except NotFoundError:
            return
        except KubeError as err:
            log.warning("cannot record delivery state", extra={"app": meta.get("name"), "error": err.message})
        self._written[str(meta.get("uid") or "")] = dict(state)

    async def _event(self, app: Obj, kind: str, reason: str, message: str) -> None:
        assert self._event_info is not None
        meta = app.get("metadata") or {}
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta.get('name')}.", "namespace": meta.get("namespace")},
            "involvedObject": {
                "apiVersion": app.get("apiVersion") or APP_API_VERSION,
                "kind": "Application",
                "name": meta.get("name"),
                "namespace": meta.get("namespace"),
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "reason": reason,
            "message": message[:1024],
            "type": kind,
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "reportingInstance": self.options.identity,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            await self.client.create(event)
        except KubeError as err:
            log.info("cannot record an event", extra={"app": meta.get("name"), "error": err.message})


def _key(obj: Obj) -> Key:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


_unused: Any = None

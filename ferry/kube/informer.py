"""List + watch of one resource kind, kept in memory, with change callbacks.

The informer lists (in pages), then watches from the list's resourceVersion with bookmarks so a
reconnect resumes where it stopped; a 410 Gone (history compacted) relists; an unreachable API
server is retried with backoff and reported through ``connected``. Changes are reported as
(event type, new object, old object) to the callback, which must not block.

Read-your-writes: a writer that got the API server's reply tells the informer (``wrote``,
``deleted``), so readers of the store see the write at once instead of when its event arrives.
The store may then run ahead of the event stream by such writes, never behind it: an event older
than the stored copy (a smaller resourceVersion, as etcd orders them) does not replace it, and an
object whose deletion was acknowledged is not brought back by its last events still on their way.
The callback still gets every event the watch delivers, in order: it follows the stream, not the
store.

Concurrency: one asyncio task per informer mutates the store from events; ``wrote`` and
``deleted`` mutate it from the writers' tasks (same event loop, no await inside either).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from typing import Any

from ferry.kube.client import KubeClient, Obj, ResourceInfo
from ferry.kube.errors import Forbidden, Gone, KubeError, NotFoundError

log = logging.getLogger(__name__)

Handler = Callable[[str, Obj | None, Obj | None], None]  # (ADDED|MODIFIED|DELETED, new, old)


def object_key(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _uid(obj: Obj | None) -> str:
    return str(((obj or {}).get("metadata") or {}).get("uid") or "")


def _newer(stored: Obj, incoming: Obj) -> bool:
    """Whether the stored copy is newer than the incoming one. resourceVersions are etcd revisions
    (one counter for the whole store); one that is not a number compares as not newer, so the
    event wins, as it did before writers could run ahead of the stream."""
    try:
        return int(stored["metadata"]["resourceVersion"]) > int(incoming["metadata"]["resourceVersion"])
    except (KeyError, TypeError, ValueError):
        return False


class Informer:
    def __init__(
        self,
        client: KubeClient,
        info: ResourceInfo,
        *,
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
        handler: Handler | None = None,
        keep: Callable[[Obj], bool] | None = None,
        watch_timeout: int = 300,
    ) -> None:
        self.client = client
        self.info = info
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.handler = handler
        self.keep = keep  # objects not kept are not stored (still reported as DELETED if they were)
        self.watch_timeout = watch_timeout
        self.store: dict[tuple[str, str], Obj] = {}
        self.synced = asyncio.Event()
        self.connected = True
        self.last_error = ""
        self.kind_gone = False
        self.disconnected_since: float | None = None  # monotonic time of the first failure in a row
        self.resource_version = ""
        self.last_event_at = 0.0
        # uid -> last copy of objects whose deletion a writer acknowledged before its event came
        self._deleted: dict[str, Obj] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> Informer:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"informer:{self.info.plural}")
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def wait_synced(self, timeout: float | None = None) -> bool:
        try:
            await asyncio.wait_for(self.synced.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def get(self, namespace: str, name: str) -> Obj | None:
        return self.store.get((namespace, name))

    def items(self) -> list[Obj]:
        return list(self.store.values())

    def wrote(self, obj: Obj) -> None:
        """The API server's reply to a create, update or patch of ours: stored now unless the
        store already holds something newer at its key."""
        obj.setdefault("apiVersion", self.info.api_version)
        obj.setdefault("kind", self.info.kind)
        key = object_key(obj)
        stored = self.store.get(key)
        if (stored is not None and _newer(stored, obj)) or (self.keep is not None and not self.keep(obj)):
            return
        self.store[key] = obj

    def deleted(self, obj: Obj) -> None:
        """The API server acknowledged deleting ``obj`` (its namespace, name and uid; it is gone,
        not waiting on finalizers: for that, ``wrote`` the reply). Readers stop seeing it now."""
        key = object_key(obj)
        stored = self.store.get(key)
        if stored is None or _uid(stored) != _uid(obj):
            return  # its DELETED event came first (or a newer object has the name): nothing to hide
        del self.store[key]
        self._deleted[_uid(stored)] = stored  # until its DELETED event, or a list without it

    def _emit(self, kind: str, new: Obj | None, old: Obj | None) -> None:
        if self.handler is not None:
            try:
                self.handler(kind, new, old)
            except Exception:
                log.exception("informer handler failed", extra={"resource": self.info.plural})

    def _put(self, obj: Obj, kind: str = "") -> None:
        """Store an object the API server sent; ``kind`` is the watch event's (from a list: none,
        ADDED or MODIFIED by what the store held — a writer's copy may already be there)."""
        obj.setdefault("apiVersion", self.info.api_version)
        obj.setdefault("kind", self.info.kind)
        key = object_key(obj)
        old = self.store.get(key)
        if _uid(obj) in self._deleted or (old is not None and _newer(old, obj)):
            self._emit(kind or "MODIFIED", obj, old)  # a writer is ahead of this event: keep the store
            return
        if self.keep is not None and not self.keep(obj):
            if old is not None:
                del self.store[key]
                self._emit("DELETED", None, old)
            return
        self.store[key] = obj
        self._emit(kind or ("ADDED" if old is None else "MODIFIED"), obj, old)

    def _remove(self, obj: Obj) -> None:
        acknowledged = self._deleted.pop(_uid(obj), None)
        if acknowledged is not None:
            self._emit("DELETED", None, acknowledged)
            return
        key = object_key(obj)
        old = self.store.get(key)
        if old is None:
            return
        if _uid(obj) and _uid(old) and _uid(obj) != _uid(old) and _newer(old, obj):
            self._emit("DELETED", None, obj)  # an older object of that name: a writer has a newer one
            return
        del self.store[key]
        self._emit("DELETED", None, old)

    async def _relist(self) -> None:
        items, version = await self.client.list(
            self.info,
            namespace=self.namespace,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
        )
        fresh = {object_key(o): o for o in items}
        listed = {_uid(o) for o in items}
        for uid in [u for u in self._deleted if u not in listed]:
            self._remove(self._deleted[uid])  # the list shows the acknowledged deletion
        as_listed = {"metadata": {"resourceVersion": version}}
        for key in [k for k in self.store if k not in fresh]:
            if not _newer(self.store[key], as_listed):  # else written after this list was taken
                self._remove(self.store[key])
        for obj in items:
            if _uid(obj) in self._deleted:
                continue  # listed before its acknowledged deletion: still gone to readers
            old = self.store.get(object_key(obj))
            if old is None or old.get("metadata", {}).get("resourceVersion") != obj["metadata"].get(
                "resourceVersion"
            ):
                self._put(obj)
        self.resource_version = version
        self.synced.set()

    async def _run(self) -> None:
        backoff = 0.5
        need_list = True
        while True:
            try:
                if need_list:
                    await self._relist()
                    need_list = False
                watch = self.client.watch(
                    self.info,
                    resource_version=self.resource_version,
                    namespace=self.namespace,
                    label_selector=self.label_selector,
                    field_selector=self.field_selector,
                    timeout_seconds=self.watch_timeout,
                    on_open=self._opened,
                )
                backoff = 0.5
                async for event in watch:
                    obj = event.get("object") or {}
                    version = (obj.get("metadata") or {}).get("resourceVersion")
                    if version:
                        self.resource_version = str(version)
                    self.last_event_at = time.monotonic()
                    kind = event.get("type")
                    if kind == "BOOKMARK":
                        continue
                    if self.field_selector and not _matches_field_selector(obj, self.field_selector):
                        continue
                    if kind == "DELETED":
                        self._remove(obj)
                    elif kind in ("ADDED", "MODIFIED"):
                        self._put(obj, kind)
            except asyncio.CancelledError:
                raise
            except Gone:
                need_list = True  # our resourceVersion is too old: start again from a full list
            except (NotFoundError, Forbidden) as err:
                self._failed(err)
                await asyncio.sleep(min(backoff, 30))
                backoff = min(backoff * 2, 30)
            except KubeError as err:
                self._failed(err)
                await asyncio.sleep(backoff + random.uniform(0, backoff / 2))  # noqa: S311 (jitter)
                backoff = min(backoff * 2, 30)
                need_list = not self.resource_version
            except Exception as err:
                log.exception("informer failed", extra={"resource": self.info.plural})
                self._failed(err)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30)
                need_list = True

    def _opened(self) -> None:
        self.connected, self.last_error, self.disconnected_since = True, "", None
        self.kind_gone = False

    @property
    def unreachable_seconds(self) -> float:
        """How long the watch has been failing without a break (0 while connected)."""
        return 0.0 if self.disconnected_since is None else time.monotonic() - self.disconnected_since

    def _failed(self, err: Exception) -> None:
        if self.disconnected_since is None:
            self.disconnected_since = time.monotonic()
        if self.connected:
            log.warning(
                "watch interrupted",
                extra={"resource": self.info.plural, "server": self.client.server, "error": str(err)},
            )
        self.connected = False
        self.last_error = str(err)
        # the kind is no longer served (its CRD deleted): the cluster itself answers fine
        self.kind_gone = isinstance(err, NotFoundError)


def _matches_field_selector(obj: Obj, selector: str) -> bool:
    # The API server filters watch events by field selector already; list/watch races aside,
    # this only guards the metadata.name / metadata.namespace selectors ferry uses.
    for term in selector.split(","):
        path, _, value = term.partition("=")
        current: Any = obj
        for part in path.split("."):
            current = current.get(part) if isinstance(current, dict) else None
        if str(current or "") != value:
            return False
    return True

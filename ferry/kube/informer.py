"""List + watch of one resource kind, kept in memory, with change callbacks.

The informer lists (in pages), then watches from the list's resourceVersion with bookmarks so a
reconnect resumes where it stopped; a 410 Gone (history compacted) relists; an unreachable API
server is retried with backoff and reported through ``connected``. Changes are reported as
(event type, new object, old object) to the callback, which must not block.

Concurrency: one asyncio task per informer; the store is only mutated by that task.
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

    def _emit(self, kind: str, new: Obj | None, old: Obj | None) -> None:
        if self.handler is not None:
            try:
                self.handler(kind, new, old)
            except Exception:
                log.exception("informer handler failed", extra={"resource": self.info.plural})

    def _put(self, obj: Obj) -> None:
        obj.setdefault("apiVersion", self.info.api_version)
        obj.setdefault("kind", self.info.kind)
        key = object_key(obj)
        old = self.store.get(key)
        if self.keep is not None and not self.keep(obj):
            if old is not None:
                del self.store[key]
                self._emit("DELETED", None, old)
            return
        self.store[key] = obj
        self._emit("ADDED" if old is None else "MODIFIED", obj, old)

    def _remove(self, obj: Obj) -> None:
        old = self.store.pop(object_key(obj), None)
        if old is not None:
            self._emit("DELETED", None, old)

    async def _relist(self) -> None:
        items, version = await self.client.list(
            self.info,
            namespace=self.namespace,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
        )
        fresh = {object_key(o): o for o in items}
        for key in [k for k in self.store if k not in fresh]:
            self._remove(self.store[key])
        for obj in items:
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
                        self._put(obj)
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

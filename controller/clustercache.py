"""What ferry knows about one destination cluster, kept current by watches — never the whole
cluster.

- Managed kinds: only kinds some app's manifests use are watched, and only objects carrying the
  ``ferrycd.io/instance`` label (a label selector, so the API server filters: 50,000 unmanaged
  ConfigMaps cost nothing here).
- Children for the resource tree (ReplicaSets, Pods, Jobs): watched when a workload kind is
  managed; only objects whose owner chain leads to a managed object are stored.
- Every change is reported as (cluster, app) so that app is reconciled.

Watches resume from resourceVersion with bookmarks, relist on 410 Gone and reconnect after an
API server restart (ferry.kube.informer). Concurrency: one asyncio task per watched kind; the
indexes are only written from those tasks' callbacks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from ferry.engine.tracking import INSTANCE_LABEL, ResourceKey, owning_app
from ferry.kube.client import KubeClient, Obj, ResourceInfo
from ferry.kube.informer import Informer
from ferry.settings import Settings

log = logging.getLogger(__name__)

# Kinds whose objects own other objects shown in the resource tree.
_CHILDREN_OF = {
    ("apps", "Deployment"): [("apps", "ReplicaSet")],
    ("apps", "ReplicaSet"): [("", "Pod")],
    ("apps", "StatefulSet"): [("", "Pod")],
    ("apps", "DaemonSet"): [("", "Pod")],
    ("batch", "Job"): [("", "Pod")],
    ("batch", "CronJob"): [("batch", "Job"), ("", "Pod")],
}
_VERSIONS = {"apps": "apps/v1", "batch": "batch/v1", "": "v1"}


class ClusterCache:
    def __init__(
        self,
        client: KubeClient,
        name: str,
        *,
        on_change: Callable[[str, str], None],
        settings: Callable[[], Settings],
    ) -> None:
        self.client = client
        self.name = name
        self._on_change = on_change
        self._settings = settings
        self._managed: dict[tuple[str, str], Informer] = {}
        self._children: dict[tuple[str, str], Informer] = {}
        self._uid_app: dict[str, str] = {}  # managed and child object uid -> app name
        self._by_app: dict[str, set[tuple[str, str, str, str]]] = {}
        self._lock = asyncio.Lock()
        self.created_at = time.monotonic()

    # --- watching ----------------------------------------------------------------------------------

    async def watch(
        self, kinds: Iterable[tuple[str, str]], *, timeout: float = 30.0
    ) -> dict[tuple[str, str], str]:
        """Makes sure each (apiVersion, kind) is watched and listed; returns errors by kind for
        kinds that cannot be watched (not served, forbidden, excluded)."""
        errors: dict[tuple[str, str], str] = {}
        started: list[Informer] = []
        async with self._lock:
            for api_version, kind in kinds:
                group = api_version.rpartition("/")[0] if "/" in api_version else ""
                if (group, kind) in self._managed:
                    continue
                if not self._settings().resource_allowed(group, kind, self.name):
                    errors[(group, kind)] = "excluded by resource.exclusions/inclusions"
                    continue
                try:
                    info = await self.client.resource(api_version, kind)
                except Exception as err:
                    errors[(group, kind)] = str(err)
                    continue
                informer = Informer(
                    self.client, info, label_selector=INSTANCE_LABEL, handler=self._managed_handler(info)
                ).start()
                self._managed[(group, kind)] = informer
                started.append(informer)
                for child_group, child_kind in _CHILDREN_OF.get((group, kind), []):
                    started += await self._watch_children(child_group, child_kind)
        for informer in started:
            if not await informer.wait_synced(timeout):
                errors[(informer.info.group, informer.info.kind)] = (
                    f"list did not finish: {informer.last_error}"
                )
        return errors

    async def _watch_children(self, group: str, kind: str) -> list[Informer]:
        if (group, kind) in self._children:
            return []
        started = []
        info = await self.client.resource(_VERSIONS[group], kind)
        informer = Informer(self.client, info, keep=self._owned, handler=self._child_handler).start()
        self._children[(group, kind)] = informer
        started.append(informer)
        for child_group, child_kind in _CHILDREN_OF.get((group, kind), []):
            started += await self._watch_children(child_group, child_kind)
        return started

    async def stop(self) -> None:
        for informer in [*self._managed.values(), *self._children.values()]:
            await informer.stop()

    # --- indexes -----------------------------------------------------------------------------------

    def _managed_handler(self, info: ResourceInfo) -> Callable[[str, Obj | None, Obj | None], None]:
        def handle(event: str, new: Obj | None, old: Obj | None) -> None:
            obj = new or old
            assert obj is not None
            key = (info.group, info.kind, *self._ns_name(obj))
            app = owning_app(obj) or self._label_app(obj)
            old_app = (owning_app(old) or self._label_app(old)) if old else None
            uid = str(obj.get("metadata", {}).get("uid", ""))
            if old_app and old_app != app:
                self._by_app.get(old_app, set()).discard(key)
                self._on_change(self.name, old_app)
            if event == "DELETED":
                self._uid_app.pop(uid, None)
                if app:
                    self._by_app.get(app, set()).discard(key)
            elif app:
                self._uid_app[uid] = app
                self._by_app.setdefault(app, set()).add(key)
            if app:
                self._on_change(self.name, app)

        return handle

    @staticmethod
    def _label_app(obj: Obj | None) -> str | None:
        labels = ((obj or {}).get("metadata") or {}).get("labels") or {}
        value = labels.get(INSTANCE_LABEL)
        return str(value) if value else None

    @staticmethod
    def _ns_name(obj: Obj) -> tuple[str, str]:
        meta = obj.get("metadata") or {}
        return str(meta.get("namespace") or ""), str(meta.get("name") or "")

    def _owned(self, obj: Obj) -> bool:
        owners = (obj.get("metadata") or {}).get("ownerReferences") or []
        return any(str(o.get("uid")) in self._uid_app for o in owners)

    def _child_handler(self, event: str, new: Obj | None, old: Obj | None) -> None:
        obj = new or old
        assert obj is not None
        uid = str(obj.get("metadata", {}).get("uid", ""))
        owners = (obj.get("metadata") or {}).get("ownerReferences") or []
        app = next(
            (self._uid_app[str(o.get("uid"))] for o in owners if str(o.get("uid")) in self._uid_app), None
        )
        app = app or self._uid_app.get(uid)
        if event == "DELETED":
            self._uid_app.pop(uid, None)
        elif app:
            self._uid_app[uid] = app
        if app:
            self._on_change(self.name, app)

    # --- reads -------------------------------------------------------------------------------------

    def watching(self, group: str, kind: str) -> bool:
        return (group, kind) in self._managed

    def get(self, key: ResourceKey) -> Obj | None:
        informer = self._managed.get((key.group, key.kind))
        return informer.get(key.namespace, key.name) if informer else None

    def managed_by(self, app: str, label_value: str) -> list[Obj]:
        """Live objects labelled or tracked as belonging to ``app``."""
        found = []
        for key in set(self._by_app.get(app, set())) | set(self._by_app.get(label_value, set())):
            informer = self._managed.get((key[0], key[1]))
            obj = informer.get(key[2], key[3]) if informer else None
            if obj is not None:
                found.append(obj)
        return found

    def children_of(self, uid: str) -> list[Obj]:
        return [
            obj
            for informer in self._children.values()
            for obj in informer.items()
            if any(str(o.get("uid")) == uid for o in (obj.get("metadata") or {}).get("ownerReferences") or [])
        ]

    def children_for(self, app: str) -> list[Obj]:
        """Child objects (ReplicaSets, Pods, Jobs) whose owner chain leads to ``app``'s objects."""
        return [
            obj
            for informer in self._children.values()
            for obj in informer.items()
            if self._uid_app.get(str((obj.get("metadata") or {}).get("uid", ""))) == app
        ]

    @property
    def connected(self) -> bool:
        return all(i.connected for i in [*self._managed.values(), *self._children.values()])

    @property
    def unreachable_seconds(self) -> float:
        """How long some watch of this cluster has been failing without a break (0: all fine).
        A watch of a kind the cluster no longer serves (a deleted CRD) does not count."""
        return max(
            (
                i.unreachable_seconds
                for i in [*self._managed.values(), *self._children.values()]
                if not i.kind_gone
            ),
            default=0.0,
        )

    @property
    def last_error(self) -> str:
        return next(
            (i.last_error for i in [*self._managed.values(), *self._children.values()] if i.last_error), ""
        )

    def object_counts(self) -> dict[str, int]:
        return {
            f"{g}/{k}" if g else k: len(i.store)
            for (g, k), i in [*self._managed.items(), *self._children.items()]
        }

    def age_seconds(self) -> float:
        events = [
            i.last_event_at for i in [*self._managed.values(), *self._children.values()] if i.last_event_at
        ]
        return time.monotonic() - max(events or [self.created_at])

    def debug(self) -> dict[str, Any]:
        return {"managed": sorted(f"{g}/{k}" for g, k in self._managed), "apps": len(self._by_app)}

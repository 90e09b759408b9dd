"""Comparing an application's desired manifests with its cluster: per resource sync status,
health and diff, extras to prune, and the conditions worth telling the user.

An object the app's project does not permit (its kind, or its namespace on the app's cluster) is
not compared at all — its live object is not read, no dry run is sent — and is listed with sync
status Unknown and an ``InvalidSpecError`` condition in Argo CD's words; live objects tracked as
the app's in places the project does not permit are not the app's (never shown, never pruned).

The API server's server-side dry run (what it would store if ferry applied the manifest) is the
most faithful prediction for the diff; it is cached by (cluster, object, manifest hash, live
resourceVersion), so comparing an unchanged app again sends no request at all.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from controller.clustercache import ClusterCache
from ferry.engine.annotations import compare_options, is_hook, is_skipped, sync_wave
from ferry.engine.diff import CONTROLLER_MANAGER, DiffOptions, DiffResult, diff
from ferry.engine.health import HealthChecker, ResourceHealth, aggregate
from ferry.engine.ignore import IgnoreRule
from ferry.engine.status import Health, HealthStatus, SyncStatus
from ferry.engine.tracking import ResourceKey, owning_app, with_tracking
from ferry.kube.client import KubeClient, Obj
from ferry.kube.errors import KubeError
from ferry.projects import ObjectRefusal

log = logging.getLogger(__name__)


@dataclass
class ResourceState:
    key: ResourceKey
    version: str
    desired: Obj | None
    live: Obj | None
    diff: DiffResult
    health: Health | None
    hook: bool = False
    requires_pruning: bool = False
    wave: int = 0
    ignore_extraneous: bool = False
    refusal: str = ""  # why the project does not permit it (then it is not compared)


@dataclass
class Comparison:
    resources: list[ResourceState] = field(default_factory=list)
    conditions: list[tuple[str, str]] = field(default_factory=list)  # (type, message)
    sync_status: SyncStatus = SyncStatus.UNKNOWN
    health: Health = field(default_factory=lambda: Health(HealthStatus.UNKNOWN))
    images: list[str] = field(default_factory=list)
    external_urls: list[str] = field(default_factory=list)


class DryRunCache:
    """Server-side dry-run results by (cluster, object, manifest hash, live resourceVersion)."""

    def __init__(self, max_entries: int = 50_000) -> None:
        self._entries: OrderedDict[tuple[str, ResourceKey, str, str], Obj | None] = OrderedDict()
        self.max_entries = max_entries

    async def get(
        self, client: KubeClient, cluster: str, key: ResourceKey, desired: Obj, live: Obj
    ) -> Obj | None:
        digest = hashlib.sha256(json.dumps(desired, sort_keys=True).encode()).hexdigest()
        version = str((live.get("metadata") or {}).get("resourceVersion", ""))
        cache_key = (cluster, key, digest, version)
        if cache_key in self._entries:
            self._entries.move_to_end(cache_key)
            return self._entries[cache_key]
        try:
            result: Obj | None = await client.apply(desired, field_manager=CONTROLLER_MANAGER, dry_run=True)
        except KubeError as err:
            # An invalid manifest: the engine predicts instead; the sync's own dry run reports it.
            log.debug("dry run failed", extra={"object": str(key), "error": err.message})
            result = None
        self._entries[cache_key] = result
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return result

    def forget_cluster(self, cluster: str) -> None:
        for key in [k for k in self._entries if k[0] == cluster]:
            del self._entries[key]


def _images(obj: Mapping[str, Any]) -> list[str]:
    spec = obj.get("spec") or {}
    template = (
        (spec.get("jobTemplate") or {}).get("spec", spec).get("template", {})
        if isinstance(spec, dict)
        else {}
    )
    pod = template.get("spec") if isinstance(template, dict) and template.get("spec") else spec
    containers = (
        [*(pod.get("containers") or []), *(pod.get("initContainers") or [])] if isinstance(pod, dict) else []
    )
    return [str(c["image"]) for c in containers if isinstance(c, dict) and c.get("image")]


def _external_urls(live: Mapping[str, Any]) -> list[str]:
    if live.get("kind") != "Ingress":
        return []
    urls = []
    for rule in (live.get("spec") or {}).get("rules") or []:
        host = rule.get("host")
        if host:
            urls.append(f"https://{host}" if (live.get("spec") or {}).get("tls") else f"http://{host}")
    return urls


async def _desired(
    app: str, manifests: list[Obj], client: KubeClient, destination_namespace: str, result: Comparison
) -> dict[ResourceKey, tuple[Obj, str, bool]]:
    """Desired objects by identity: namespaced objects defaulted to the destination namespace,
    cluster-scoped ones without a namespace, each carrying ferry's tracking; with their version
    and whether their kind is namespaced (kinds the cluster does not serve count as namespaced)."""
    desired_by_key: dict[ResourceKey, tuple[Obj, str, bool]] = {}
    for manifest in manifests:
        try:
            info = await client.resource(manifest["apiVersion"], manifest["kind"])
        except KubeError:
            info = None
        obj = dict(manifest)
        meta = dict(obj.get("metadata") or {})
        if (info is None or info.namespaced) and not meta.get("namespace") and destination_namespace:
            meta["namespace"] = destination_namespace
        if info is not None and not info.namespaced:
            meta.pop("namespace", None)
        obj["metadata"] = meta
        tracked = with_tracking(obj, app)
        key = ResourceKey.of(tracked)
        if key in desired_by_key:
            result.conditions.append(
                ("RepeatedResourceWarning", f"{key} appears more than once in the manifests")
            )
        version = str(manifest["apiVersion"]).rpartition("/")[2]
        desired_by_key[key] = (tracked, version, info is None or info.namespaced)
        if info is None and not _defined_here(manifests, key):
            result.conditions.append(
                (
                    "ComparisonError",
                    f"{manifest['apiVersion']}/{key.kind} is not served by the destination cluster",
                )
            )
    return desired_by_key


def _defined_here(manifests: list[Obj], key: ResourceKey) -> bool:
    """Whether the manifests include the CRD that defines ``key``'s kind."""
    return any(
        m.get("kind") == "CustomResourceDefinition"
        and (m.get("spec") or {}).get("group") == key.group
        and ((m.get("spec") or {}).get("names") or {}).get("kind") == key.kind
        for m in manifests
    )


async def compare(
    app: str,
    label_value: str,
    manifests: list[Obj],
    *,
    client: KubeClient,
    cache: ClusterCache,
    dry_runs: DryRunCache,
    checker: HealthChecker,
    ignore: list[IgnoreRule],
    destination_namespace: str,
    server_side_diff: bool = True,
    refusal: ObjectRefusal | None = None,
) -> Comparison:
    result = Comparison()
    desired_by_key = await _desired(app, manifests, client, destination_namespace, result)
    watch_errors = await cache.watch({(m["apiVersion"], m["kind"]) for m, _, _ in desired_by_key.values()})
    for (group, kind), message in watch_errors.items():
        if "excluded" in message:
            result.conditions.append(("ExcludedResourceWarning", f"{group}/{kind}: {message}"))

    options = DiffOptions(ignore=ignore)
    healths: list[ResourceHealth] = []
    for key, (desired, version, namespaced) in sorted(desired_by_key.items(), key=lambda kv: str(kv[0])):
        if is_skipped(desired):
            continue
        hook, wave = is_hook(desired), sync_wave(desired)
        refused = refusal(key, namespaced) if refusal is not None else None
        if refused:  # never read nor dry-run: listed as not permitted
            result.conditions.append(("InvalidSpecError", refused))
            missing = diff(desired, None)
            result.resources.append(
                ResourceState(key, version, desired, None, missing, None, hook, wave=wave, refusal=refused)
            )
            continue
        live = cache.get(key)
        if live is not None:
            other = owning_app(live)
            if other and other != app:
                result.conditions.append(
                    ("SharedResourceWarning", shared_resource_message(key, app, other, other))
                )
        dry = None
        if live is not None and server_side_diff and not hook:
            dry = await dry_runs.get(client, cache.name, key, desired, live)
        outcome = diff(desired, live, dry_run=dry, options=options)
        health = checker.check(live) if live is not None else None
        annotations = (desired.get("metadata") or {}).get("annotations") or {}
        ignored_health = annotations.get("ferrycd.io/ignore-healthcheck") == "true" or (
            annotations.get("argocd.argoproj.io/ignore-healthcheck") == "true"
        )
        state = ResourceState(key, version, desired, live, outcome, health, hook=hook, wave=wave)
        result.resources.append(state)
        healths.append(
            ResourceHealth(
                key.group, key.kind, health, live=live is not None, hook=hook, ignored=ignored_health
            )
        )
        if live is not None:
            result.images += _images(live)
            result.external_urls += _external_urls(live)

    result.resources += _extras(app, label_value, cache, desired_by_key, checker, refusal)

    out_of_sync = [
        r
        for r in result.resources
        if r.diff.modified and not r.hook and not (r.requires_pruning and r.ignore_extraneous)
    ]
    result.sync_status = SyncStatus.OUT_OF_SYNC if out_of_sync else SyncStatus.SYNCED
    result.health = aggregate(healths) if healths else Health(HealthStatus.HEALTHY)
    result.images = sorted(set(result.images))
    result.external_urls = sorted(set(result.external_urls))
    return result


def _extras(
    app: str,
    label_value: str,
    cache: ClusterCache,
    desired_by_key: Mapping[ResourceKey, object],
    checker: HealthChecker,
    refusal: ObjectRefusal | None,
) -> list[ResourceState]:
    """Live objects tracked as the app's that Git no longer has: what a sync with prune deletes."""
    extras = []
    for live in cache.managed_by(app, label_value):
        key = ResourceKey.of(live)
        if key in desired_by_key or owning_app(live) != app:
            continue
        if refusal is not None and refusal(key, bool(key.namespace)):
            continue  # not the app's to show or prune (Argo CD drops such live objects too)
        if is_hook(live):
            continue  # hooks left behind are not extras to prune
        version = str(live.get("apiVersion", "")).rpartition("/")[2]
        extraneous = compare_options(live).get("IgnoreExtraneous") == "true"
        extras.append(
            ResourceState(
                key,
                version,
                None,
                live,
                diff(None, live),
                checker.check(live),
                requires_pruning=True,
                ignore_extraneous=extraneous,
            )
        )
    return extras


def shared_resource_message(key: ResourceKey, app: str, other: str, owner: str) -> str:
    """Argo CD's SharedResourceWarning, saying which app owns the object now: the one its tracking
    annotation names (the last to apply it)."""
    return (
        f"{key.kind}/{key.name} is part of applications {app} and {other}; "
        f"{owner} owns it now (its tracking annotation: the last to apply it)"
    )

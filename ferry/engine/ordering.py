"""In which order a sync touches things: one sort key, phase -> wave -> kind -> name.

The kind order is Argo CD's (gitops-engine sync_tasks.go): namespaces and policies first, then
storage, CRDs, RBAC, services, workloads, ingress, API services, and custom resources last — so
a namespace exists before what lives in it and a CRD before its custom resources. Pruning runs
in the reverse order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ferry.engine.annotations import hook_types, sync_wave
from ferry.engine.status import HookType, SyncPhase

KIND_ORDER: tuple[str, ...] = (
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
)
_KIND_RANK = {kind: rank for rank, kind in enumerate(KIND_ORDER)}
_UNKNOWN_KIND_RANK = len(KIND_ORDER)


def kind_rank(kind: str) -> int:
    """Position of a kind in the order; unknown kinds (custom resources) come last."""
    return _KIND_RANK.get(kind, _UNKNOWN_KIND_RANK)


@dataclass(frozen=True, order=False)
class SyncTask:
    """One thing to apply (or prune) in a sync, with what ordering needs to know."""

    phase: SyncPhase
    wave: int
    group: str
    kind: str
    namespace: str
    name: str
    hook: HookType | None = None
    manifest: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def sort_key(self) -> tuple[int, int, int, str, str, str, str]:
        return (
            self.phase.order,
            self.wave,
            kind_rank(self.kind),
            self.kind,
            self.namespace,
            self.name,
            self.group,
        )


def tasks_for(manifest: Mapping[str, Any]) -> list[SyncTask]:
    """The sync tasks of one manifest: one per sync phase it takes part in (a hook may be in
    several phases; Skip hooks and deletion hooks take part in none; ordinary resources: Sync)."""
    meta = manifest.get("metadata") or {}
    api_version = str(manifest.get("apiVersion", ""))
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    common = {
        "wave": sync_wave(manifest),
        "group": group,
        "kind": str(manifest.get("kind", "")),
        "namespace": str(meta.get("namespace", "")),
        "name": str(meta.get("name") or meta.get("generateName", "")),
        "manifest": manifest,
    }
    hooks = hook_types(manifest)
    if not hooks:
        return [SyncTask(phase=SyncPhase.SYNC, **common)]  # type: ignore[arg-type]
    return [
        SyncTask(phase=hook.phase, hook=hook, **common)  # type: ignore[arg-type]
        for hook in sorted(hooks)
        if hook.phase is not None
    ]


def sync_order(tasks: Iterable[SyncTask]) -> list[SyncTask]:
    """Tasks in the order they run. Deterministic: the sort key covers every identifying field."""
    return sorted(tasks, key=lambda t: t.sort_key)


def prune_order(tasks: Iterable[SyncTask]) -> list[SyncTask]:
    """Prunes run in reverse: highest wave first, custom resources before their CRDs."""
    return sorted(tasks, key=lambda t: t.sort_key, reverse=True)


def waves(tasks: Iterable[SyncTask]) -> list[tuple[tuple[SyncPhase, int], list[SyncTask]]]:
    """Ordered tasks grouped by (phase, wave): each group must be healthy before the next starts."""
    groups: list[tuple[tuple[SyncPhase, int], list[SyncTask]]] = []
    for task in sync_order(tasks):
        key = (task.phase, task.wave)
        if groups and groups[-1][0] == key:
            groups[-1][1].append(task)
        else:
            groups.append((key, [task]))
    return groups

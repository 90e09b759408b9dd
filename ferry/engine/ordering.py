"""Which tasks a sync has and in which order they run — the one ordering the controller uses.

``plan_sync`` turns an app's manifests (and the live objects it tracks but Git no longer has)
into ``SyncTask``s, ordered as gitops-engine orders them (sync_tasks.go, sync_context.go):

- phase (PreSync, Sync, PostSync; SyncFail apart) -> wave -> kind -> name. The kind order is
  Argo CD's: namespaces and policies first, then storage, CRDs, RBAC, services, workloads,
  ingress, API services, and custom resources last.
- Prunes (live objects Git no longer has) are Sync tasks in their own wave, with the prune
  waves mirrored (the highest wave's prunes run in the lowest prune wave), so what was created
  last is deleted first; ``PruneLast`` prunes go one wave after the last Sync wave. Within a
  wave, prunes run before applies, custom resources before the CRDs defining them.
- A Namespace or CRD that the same sync creates moves in front of the first task that needs it,
  taking that task's phase and wave.

Pure: plain dicts in, frozen tasks out; no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ferry.engine.annotations import (
    has_hook_annotation,
    hook_types,
    is_skipped,
    problems,
    sync_options,
    sync_wave,
)
from ferry.engine.status import HookType, SyncPhase
from ferry.engine.tracking import ResourceKey, with_tracking

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

Obj = Mapping[str, Any]
# A result's identity in status.operationState.syncResult.resources: (group, kind, namespace, name, phase)
ResultKey = tuple[str, str, str, str, str]


def kind_rank(kind: str) -> int:
    """Position of a kind in the order; unknown kinds (custom resources) come last."""
    return _KIND_RANK.get(kind, _UNKNOWN_KIND_RANK)


def group_of(obj: Obj) -> str:
    api_version = str(obj.get("apiVersion", ""))
    return api_version.rpartition("/")[0] if "/" in api_version else ""


@dataclass(frozen=True)
class SyncTask:
    """One thing a sync does to one object: apply it (a resource or a hook) or prune it."""

    phase: SyncPhase
    wave: int
    group: str
    kind: str
    namespace: str
    name: str
    version: str = ""
    hook: HookType | None = None
    prune: bool = False
    # what to apply (tracked, namespace set); None for prunes
    desired: Obj | None = field(default=None, compare=False, hash=False, repr=False)
    # the object in the cluster now, when there is one
    live: Obj | None = field(default=None, compare=False, hash=False, repr=False)
    # the resource's sync-options annotation (Prune=false, Replace=true, ...)
    options: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def key(self) -> ResourceKey:
        return ResourceKey(self.group, self.kind, self.namespace, self.name)

    @property
    def result_key(self) -> ResultKey:
        return (self.group, self.kind, self.namespace, self.name, str(self.phase))

    @property
    def is_hook(self) -> bool:
        return self.hook is not None

    @property
    def sort_key(self) -> tuple[int, int, int, int, str, str, str, str]:
        rank = kind_rank(self.kind)
        return (
            self.phase.order,
            self.wave,
            0 if self.prune else 1,  # within a wave, prunes go first (gitops-engine's runTasks)
            -rank if self.prune else rank,
            self.kind,
            self.namespace,
            self.name,
            self.group,
        )

    def describe(self) -> str:
        """``group/kind/name``, as Argo CD names a task in its messages."""
        return f"{self.group}/{self.kind}/{self.name}"


def tasks_for(manifest: Obj) -> list[SyncTask]:
    """The sync tasks of one manifest as it is: one per sync phase it takes part in (a hook may be
    in several phases; Skip hooks, deletion hooks and hooks of unknown types take part in none;
    ordinary resources: Sync)."""
    meta = manifest.get("metadata") or {}
    api_version = str(manifest.get("apiVersion", ""))
    common: dict[str, Any] = {
        "wave": sync_wave(manifest),
        "group": group_of(manifest),
        "kind": str(manifest.get("kind", "")),
        "namespace": str(meta.get("namespace") or ""),
        "name": str(meta.get("name") or meta.get("generateName") or ""),
        "version": api_version.rpartition("/")[2],
        "desired": manifest,
        "options": sync_options(manifest),
    }
    if is_skipped(manifest):
        return []
    if not has_hook_annotation(manifest):
        return [SyncTask(phase=SyncPhase.SYNC, **common)]
    return [
        SyncTask(phase=phase, hook=hook, **common)
        for hook in sorted(hook_types(manifest))
        if (phase := hook.phase) is not None
    ]


def sync_order(tasks: Iterable[SyncTask]) -> list[SyncTask]:
    """Tasks in the order they run. Deterministic: the sort key covers every identifying field."""
    return _adjust_dependencies(sorted(tasks, key=lambda t: t.sort_key))


def groups(tasks: Iterable[SyncTask]) -> list[tuple[tuple[SyncPhase, int], list[SyncTask]]]:
    """Ordered tasks grouped by (phase, wave): each group must be done before the next starts."""
    grouped: list[tuple[tuple[SyncPhase, int], list[SyncTask]]] = []
    for task in tasks:
        key = (task.phase, task.wave)
        if grouped and grouped[-1][0] == key:
            grouped[-1][1].append(task)
        else:
            grouped.append((key, [task]))
    return grouped


def _crd_defines(task: SyncTask) -> str | None:
    if task.kind != "CustomResourceDefinition" or task.desired is None:
        return None
    spec = task.desired.get("spec") or {}
    group, kind = spec.get("group"), (spec.get("names") or {}).get("kind")
    return f"{group}/{kind}" if group and kind else None


def _adjust_dependencies(tasks: list[SyncTask]) -> list[SyncTask]:
    """Moves a Namespace in front of the first task in it, and a CRD in front of the first of
    its custom resources, with that task's phase and wave (gitops-engine's adjustDeps)."""
    tasks = _bubble(
        tasks,
        lambda t: t.name if t.kind == "Namespace" and t.group == "" else None,
        lambda t: t.namespace or None,
    )
    return _bubble(tasks, _crd_defines, lambda t: f"{t.group}/{t.kind}")


def _bubble(
    tasks: list[SyncTask],
    dependency: Callable[[SyncTask], str | None],
    reference: Callable[[SyncTask], str | None],
) -> list[SyncTask]:
    tasks = list(tasks)
    first_reference: dict[str, int] = {}
    for index in range(len(tasks)):
        task = tasks[index]
        if task.desired is None:
            continue  # prunes are no one's dependency
        dep_key = dependency(task)
        if dep_key is not None:
            at = first_reference.get(dep_key)
            if at is not None:
                anchor = tasks[at]
                moved = replace(task, phase=anchor.phase, wave=anchor.wave)
                del tasks[index]
                tasks.insert(at, moved)
                first_reference = {k: (i + 1 if i >= at else i) for k, i in first_reference.items()}
        else:
            ref_key = reference(task)
            if ref_key is not None:
                first_reference.setdefault(ref_key, index)
    return tasks


def _mirror_prune_waves(tasks: list[SyncTask]) -> list[SyncTask]:
    """Prune waves mirrored: the prunes of the highest wave take the lowest prune wave and so on."""
    prune_waves = sorted({t.wave for t in tasks if t.prune})
    mirrored = dict(zip(prune_waves, reversed(prune_waves), strict=True))
    return [replace(t, wave=mirrored[t.wave]) if t.prune else t for t in tasks]


@dataclass(frozen=True)
class PlanOptions:
    """How one operation plans its tasks."""

    app: str
    destination_namespace: str = ""
    # (group, kind) -> namespaced, for the kinds the cluster serves (others count as namespaced)
    namespaced: Mapping[tuple[str, str], bool] = field(default_factory=dict)
    # a selective sync: (group, kind, namespace, name), namespace "" matching any; None: everything
    selected: frozenset[tuple[str, str, str, str]] | None = None
    skip_hooks: bool = False  # selective syncs and the apply strategy run no hooks
    prune_last: bool = False  # the app's PruneLast=true
    revision: str = ""  # names generateName hooks, with started_at
    started_at: int = 0  # unix seconds of the operation's start


@dataclass(frozen=True)
class Plan:
    tasks: list[SyncTask]  # in order
    warnings: list[str]  # what the manifests ask for that ferry leaves out


def desired_object(
    manifest: Obj, *, app: str, destination_namespace: str, namespaced: Mapping[tuple[str, str], bool]
) -> dict[str, Any]:
    """What ferry applies for a manifest: namespaced objects without a namespace get the
    destination namespace, cluster-scoped ones lose theirs, and both carry ferry's tracking."""
    obj = dict(manifest)
    meta = dict(obj.get("metadata") or {})
    is_namespaced = namespaced.get((group_of(obj), str(obj.get("kind", ""))), True)
    if is_namespaced and not meta.get("namespace") and destination_namespace:
        meta["namespace"] = destination_namespace
    if not is_namespaced:
        meta.pop("namespace", None)
    obj["metadata"] = meta
    return with_tracking(obj, app)


def _selected(options: PlanOptions, key: ResourceKey) -> bool:
    if options.selected is None:
        return True
    return (key.group, key.kind, key.namespace, key.name) in options.selected or (
        key.group,
        key.kind,
        "",
        key.name,
    ) in options.selected


def _hook_name(generate_name: str, phase: SyncPhase, options: PlanOptions) -> str:
    """A generateName hook's name for this operation, fixed so a resumed operation finds it again
    (gitops-engine's: prefix + revision[:7] + phase + start time)."""
    revision = options.revision[:7] if len(options.revision) >= 8 else options.revision
    return f"{generate_name}{revision}-{phase}-{options.started_at}".lower()


def plan_sync(
    manifests: Sequence[Obj],
    *,
    live: Callable[[ResourceKey], Obj | None],
    extras: Sequence[Obj],
    options: PlanOptions,
) -> Plan:
    """The ordered tasks of one sync: every manifest's tasks (hooks unless skipped), and a prune
    task for every extra (live objects the app tracks that Git no longer has). ``live`` finds
    the object in the cluster now by its key (None: there is none)."""
    tasks: list[SyncTask] = []
    warnings: list[str] = []
    for manifest in manifests:
        obj = desired_object(
            manifest,
            app=options.app,
            destination_namespace=options.destination_namespace,
            namespaced=options.namespaced,
        )
        key = ResourceKey.of(obj)
        label = f"{key.kind}/{key.name or (obj.get('metadata') or {}).get('generateName', '')}"
        warnings += [f"{label}: {problem}" for problem in problems(obj)]
        for task in tasks_for(obj):
            if not task.is_hook:
                if _selected(options, key):
                    tasks.append(replace(task, live=live(key)))
                continue
            if options.skip_hooks:
                continue
            if not key.name:  # generateName: a name of its own for this operation
                name = _hook_name(task.name, task.phase, options)
                named = {**obj, "metadata": {**obj["metadata"], "name": name}}
                tasks.append(replace(task, name=name, desired=named, live=live(replace(task, name=name).key)))
                continue
            tasks.append(replace(task, live=live(task.key)))
    for extra in extras:
        key = ResourceKey.of(extra)
        if not _selected(options, key):
            continue
        api_version = str(extra.get("apiVersion", ""))
        tasks.append(
            SyncTask(
                phase=SyncPhase.SYNC,
                wave=sync_wave(extra),
                group=key.group,
                kind=key.kind,
                namespace=key.namespace,
                name=key.name,
                version=api_version.rpartition("/")[2],
                prune=True,
                live=extra,
                options=sync_options(extra),
            )
        )
    tasks = _mirror_prune_waves(tasks)
    last_wave = max([0, *(t.wave for t in tasks if t.phase is SyncPhase.SYNC)]) + 1
    tasks = [
        replace(t, wave=last_wave)
        if t.prune and (options.prune_last or t.options.get("PruneLast", "").lower() == "true")
        else t
        for t in tasks
    ]
    return Plan(sync_order(tasks), warnings)

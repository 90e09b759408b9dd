"""Hook, wave and option annotations (ferry's, Argo CD's, Helm's), what of them ferry cannot use,
and the one sync plan and order the controller runs (gitops-engine's sync_tasks rules)."""

from __future__ import annotations

from typing import Any

import pytest

from ferry.engine.annotations import (
    SyncOptions,
    compare_options,
    delete_policies,
    deletion_approved_at,
    hook_types,
    is_hook,
    problems,
    sync_options,
    sync_wave,
)
from ferry.engine.ordering import PlanOptions, SyncTask, groups, kind_rank, plan_sync, sync_order, tasks_for
from ferry.engine.status import HookDeletePolicy, HookType
from ferry.engine.tracking import ResourceKey, owning_app


def nothing_live(_key: ResourceKey) -> None:
    return None


def obj(
    kind: str, name: str, api_version: str = "v1", namespace: str = "ns", **annotations: str
) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "annotations": annotations},
    }


WAVE = "argocd.argoproj.io/sync-wave"
HOOK = "argocd.argoproj.io/hook"
OPTIONS = "argocd.argoproj.io/sync-options"


def test_hook_annotations_ferry_wins_over_argo() -> None:
    both = obj("Job", "j", **{"ferrycd.io/hook": "PostSync", HOOK: "PreSync"})
    assert hook_types(both) == {HookType.POST_SYNC}
    assert hook_types(obj("Job", "j", **{HOOK: "PreSync,SyncFail"})) == {
        HookType.PRE_SYNC,
        HookType.SYNC_FAIL,
    }
    assert hook_types(obj("Job", "j")) == frozenset()


def test_helm_hooks_map_as_argo_cd_maps_them() -> None:
    assert hook_types(obj("Job", "j", **{"helm.sh/hook": "pre-install,pre-upgrade"})) == {HookType.PRE_SYNC}
    assert hook_types(obj("Job", "j", **{"helm.sh/hook": "post-install"})) == {HookType.POST_SYNC}
    assert hook_types(obj("Job", "j", **{"helm.sh/hook": "pre-delete"})) == {HookType.PRE_DELETE}
    assert hook_types(obj("Pod", "t", **{"helm.sh/hook": "test"})) == {HookType.SKIP}
    assert sync_wave(obj("Job", "j", **{"helm.sh/hook": "pre-install", "helm.sh/hook-weight": "-5"})) == -5
    assert delete_policies(obj("Job", "j", **{"helm.sh/hook-delete-policy": "hook-succeeded"})) == {
        HookDeletePolicy.HOOK_SUCCEEDED
    }


def test_default_delete_policy_is_before_hook_creation() -> None:
    assert delete_policies(obj("Job", "j", **{HOOK: "PreSync"})) == {HookDeletePolicy.BEFORE_HOOK_CREATION}


def test_unknown_values_are_left_out_and_named() -> None:
    """Lenient as gitops-engine (unknown hook types and policies dropped, a bad wave is 0), and
    never silent: ``problems`` names each one."""
    bad_wave = obj("ConfigMap", "c", **{WAVE: "soon"})
    assert sync_wave(bad_wave) == 0
    assert problems(bad_wave) == ["sync-wave 'soon' is not an integer (wave 0 used)"]
    mixed = obj("Job", "j", **{HOOK: "PreSync,Sometime"})
    assert hook_types(mixed) == {HookType.PRE_SYNC}
    assert problems(mixed) == ["unknown hook type Sometime (ignored)"]
    only_unknown = obj("Job", "j", **{HOOK: "Sometime"})
    assert is_hook(only_unknown)
    assert hook_types(only_unknown) == frozenset()
    assert problems(only_unknown) == ["unknown hook type Sometime (the resource is not applied)"]
    assert tasks_for(only_unknown) == []
    policy = obj("Job", "j", **{HOOK: "PreSync", "argocd.argoproj.io/hook-delete-policy": "Never"})
    assert delete_policies(policy) == {HookDeletePolicy.BEFORE_HOOK_CREATION}
    assert problems(policy) == ["unknown hook-delete-policy Never (ignored)"]
    options = obj("ConfigMap", "c", **{OPTIONS: "Prune=sometimes,Replce=true,Validate=false"})
    assert problems(options) == [
        "sync option Prune=sometimes is not one of confirm|false|true (ignored)",
        "unknown sync option Replce=true (ignored)",
    ]
    assert problems(obj("ConfigMap", "c", **{OPTIONS: "Prune=confirm,ServerSideApply=true"})) == []
    assert SyncOptions.parse(["CreateNamespace=true", "ApplyOutofSyncOnly=true"]).problems() == [
        "unknown sync option ApplyOutofSyncOnly=true (ignored)"
    ]


def test_sync_and_compare_options() -> None:
    options = sync_options(obj("ConfigMap", "c", **{OPTIONS: "Prune=false, Replace=true"}))
    assert options == {"Prune": "false", "Replace": "true"}
    kept = sync_options(obj("ConfigMap", "c", **{"helm.sh/resource-policy": "keep"}))
    assert kept == {"Delete": "false", "Prune": "false"}
    assert compare_options(obj("ConfigMap", "c", **{"ferrycd.io/compare-options": "IgnoreExtraneous"})) == {
        "IgnoreExtraneous": "true"
    }
    app_level = SyncOptions.parse(["CreateNamespace=true", "PrunePropagationPolicy=background"])
    assert app_level.enabled("CreateNamespace")
    assert app_level.get("PrunePropagationPolicy") == "background"
    assert not app_level.enabled("PruneLast")


def test_deletion_approval_is_a_time_on_the_app() -> None:
    app = obj("Application", "a", **{"argocd.argoproj.io/deletion-approved": "2026-01-02T03:04:05Z"})
    approved = deletion_approved_at(app)
    assert approved is not None
    assert approved.isoformat() == "2026-01-02T03:04:05+00:00"
    ours = obj("Application", "a", **{"ferrycd.io/deletion-approved": "2027-01-01T00:00:00Z"})
    assert deletion_approved_at({**ours, **{}}) is not None
    assert deletion_approved_at(obj("Application", "a", **{"ferrycd.io/deletion-approved": "yes"})) is None
    assert deletion_approved_at(obj("Application", "a")) is None


def _names(tasks: list[SyncTask]) -> list[str]:
    return [t.name for t in tasks]


def test_order_is_phase_then_wave_then_kind_then_name() -> None:
    manifests = [
        obj("Deployment", "web", "apps/v1"),
        obj("Service", "web"),
        obj("Namespace", "ns", namespace=""),
        obj("Job", "migrate", "batch/v1", **{HOOK: "PreSync"}),
        obj("Job", "smoke", "batch/v1", **{HOOK: "PostSync"}),
        obj("ConfigMap", "late", **{WAVE: "5"}),
        obj("ConfigMap", "early", **{WAVE: "-1"}),
        obj("Widget", "w", "example.com/v1"),
        obj("CustomResourceDefinition", "widgets.example.com", "apiextensions.k8s.io/v1", namespace=""),
        obj("ConfigMap", "a-config"),
        obj("Pod", "tests", **{"helm.sh/hook": "test"}),
    ]
    ordered = sync_order([t for m in manifests for t in tasks_for(m)])
    # The namespace "ns" moves in front of the first task in it (the PreSync hook "migrate"),
    # taking its phase and wave, as gitops-engine's adjustDeps does; within a wave kinds go in
    # Argo CD's order.
    assert [(t.phase.value, t.name, t.wave) for t in ordered] == [
        ("PreSync", "ns", 0),
        ("PreSync", "migrate", 0),
        ("Sync", "early", -1),
        ("Sync", "a-config", 0),
        ("Sync", "widgets.example.com", 0),
        ("Sync", "web", 0),  # Service
        ("Sync", "web", 0),  # Deployment
        ("Sync", "w", 0),
        ("Sync", "late", 5),
        ("PostSync", "smoke", 0),
    ]
    assert [t.kind for t in ordered[5:7]] == ["Service", "Deployment"]


def test_a_crd_goes_before_its_first_custom_resource() -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com", "annotations": {WAVE: "3"}},
        "spec": {"group": "example.com", "names": {"kind": "Widget"}},
    }
    widget = obj("Widget", "w", "example.com/v1", **{WAVE: "1"})
    ordered = sync_order([*tasks_for(widget), *tasks_for(crd)])
    assert [(t.kind, t.wave) for t in ordered] == [("CustomResourceDefinition", 1), ("Widget", 1)]


def test_groups_are_phase_and_wave() -> None:
    manifests = [obj("ConfigMap", f"c{w}", **{WAVE: str(w)}) for w in (1, 0, 1, 2)]
    grouped = groups(sync_order([t for m in manifests for t in tasks_for(m)]))
    assert [(phase.value, wave, len(tasks)) for (phase, wave), tasks in grouped] == [
        ("Sync", 0, 1),
        ("Sync", 1, 2),
        ("Sync", 2, 1),
    ]


def test_unknown_kinds_come_last() -> None:
    assert kind_rank("Namespace") == 0
    assert kind_rank("APIService") < kind_rank("SomeCustomKind")


def live(
    kind: str, name: str, app: str = "app", api_version: str = "v1", **annotations: str
) -> dict[str, Any]:
    meta = {
        "name": name,
        "namespace": "ns",
        "annotations": {
            "ferrycd.io/tracking-id": f"{app}:{api_version.rpartition('/')[0]}/{kind}:ns/{name}",
            **annotations,
        },
    }
    return {"apiVersion": api_version, "kind": kind, "metadata": meta}


def plan(
    manifests: list[dict[str, Any]], extras: list[dict[str, Any]] | None = None, **options: Any
) -> list[SyncTask]:
    return plan_sync(
        manifests,
        live=nothing_live,
        extras=extras or [],
        options=PlanOptions(app="app", destination_namespace="ns", **options),
    ).tasks


def test_the_plan_tracks_and_namespaces_what_it_applies() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "r", "namespace": "x"},
    }
    tasks = plan_sync(
        [cm, role],
        live=nothing_live,
        extras=[],
        options=PlanOptions(
            app="app",
            destination_namespace="ns",
            namespaced={("rbac.authorization.k8s.io", "ClusterRole"): False},
        ),
    ).tasks
    by_kind = {t.kind: t for t in tasks}
    assert by_kind["ConfigMap"].namespace == "ns"
    assert by_kind["ClusterRole"].namespace == ""  # cluster-scoped: its namespace dropped
    assert by_kind["ConfigMap"].desired is not None
    assert owning_app(by_kind["ConfigMap"].desired) == "app"


def test_generate_name_hooks_get_a_name_fixed_for_the_operation() -> None:
    hook = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"generateName": "migrate-", "annotations": {HOOK: "PreSync,PostSync"}},
    }
    tasks = plan([hook], revision="0123456789abcdef", started_at=1700000000)
    assert [t.name for t in tasks] == [
        "migrate-0123456-presync-1700000000",
        "migrate-0123456-postsync-1700000000",
    ]
    assert tasks[0].desired is not None
    assert tasks[0].desired["metadata"]["name"] == tasks[0].name
    # the same operation (a resumed one) plans the same names
    assert _names(plan([hook], revision="0123456789abcdef", started_at=1700000000)) == _names(tasks)


def test_prune_waves_are_mirrored_so_the_last_created_goes_first() -> None:
    """gitops-engine TestWaveReorderingOfPruneTasks / TestWaitForCleanUpBeforeNextWave."""
    extras = [live("Pod", f"pod-{w}", **{WAVE: str(w)}) for w in (1, 2, 3)]
    tasks = plan([], extras)
    assert [(t.name, t.wave, t.prune) for t in tasks] == [
        ("pod-3", 1, True),
        ("pod-2", 2, True),
        ("pod-1", 3, True),
    ]


def test_prunes_run_first_in_their_wave_custom_resources_before_crds() -> None:
    extras = [
        live("CustomResourceDefinition", "widgets.example.com", api_version="apiextensions.k8s.io/v1"),
        live("Widget", "w", api_version="example.com/v1"),
    ]
    tasks = plan([obj("ConfigMap", "keep")], extras)
    assert [(t.kind, t.prune) for t in tasks] == [
        ("Widget", True),
        ("CustomResourceDefinition", True),
        ("ConfigMap", False),
    ]


def test_prune_last_goes_one_wave_after_the_last_sync_wave() -> None:
    """gitops-engine TestPruneLast: app-level and per resource."""
    manifests = [obj("Pod", "pod-1", **{WAVE: "2"})]
    extras = [live("Pod", "pod-2", **{WAVE: "1"}), live("Pod", "pod-3", **{WAVE: "7"})]
    tasks = plan(manifests, extras, prune_last=True)
    assert tasks[-1].wave == 8
    assert {t.name for t in tasks if t.wave == 8} == {"pod-2", "pod-3"}
    individual = [
        live("Pod", "pod-2", **{WAVE: "1", OPTIONS: "PruneLast=true"}),
        live("Pod", "pod-3", **{WAVE: "7"}),
    ]
    tasks = plan(manifests, individual)
    assert [(t.name, t.wave) for t in tasks] == [("pod-3", 1), ("pod-1", 2), ("pod-2", 8)]
    same_wave = plan([obj("Pod", "pod-1")], [live("Pod", "pod-2")], prune_last=True)
    assert [(t.name, t.wave) for t in same_wave] == [("pod-1", 0), ("pod-2", 1)]


def test_selective_sync_plans_only_what_was_named_and_no_hooks() -> None:
    manifests = [
        obj("ConfigMap", "one"),
        obj("ConfigMap", "two"),
        obj("Job", "hook", "batch/v1", **{HOOK: "PreSync"}),
    ]
    extras = [live("ConfigMap", "old"), live("ConfigMap", "older")]
    tasks = plan(
        manifests,
        extras,
        selected=frozenset({("", "ConfigMap", "", "two"), ("", "ConfigMap", "ns", "old")}),
        skip_hooks=True,
    )
    assert [(t.name, t.prune) for t in tasks] == [("old", True), ("two", False)]


def test_hooks_find_their_live_object_and_resources_theirs() -> None:
    existing = live("Job", "migrate", api_version="batch/v1")
    tasks = plan_sync(
        [obj("Job", "migrate", "batch/v1", **{HOOK: "PreSync"}), obj("ConfigMap", "c")],
        live={ResourceKey("batch", "Job", "ns", "migrate"): existing}.get,
        extras=[],
        options=PlanOptions(app="app", destination_namespace="ns"),
    ).tasks
    assert tasks[0].hook is HookType.PRE_SYNC
    assert tasks[0].live is existing
    assert tasks[1].live is None


def test_the_plan_names_what_it_leaves_out() -> None:
    warnings = plan_sync(
        [obj("ConfigMap", "c", **{OPTIONS: "Prune=maybe"}), obj("Job", "j", "batch/v1", **{HOOK: "Later"})],
        live=nothing_live,
        extras=[],
        options=PlanOptions(app="app", destination_namespace="ns"),
    ).warnings
    assert warnings == [
        "ConfigMap/c: sync option Prune=maybe is not one of confirm|false|true (ignored)",
        "Job/j: unknown hook type Later (the resource is not applied)",
    ]


@pytest.mark.parametrize("hook", ["PreDelete", "PostDelete", "Skip"])
def test_deletion_hooks_and_skip_take_no_part_in_a_sync(hook: str) -> None:
    assert plan([obj("Job", "j", "batch/v1", **{HOOK: hook})]) == []

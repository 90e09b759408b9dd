"""Hook, wave and option annotations (ferry's, Argo CD's, Helm's) and the sync order."""

from __future__ import annotations

from typing import Any

import pytest

from ferry.engine.annotations import (
    AnnotationError,
    SyncOptions,
    compare_options,
    delete_policies,
    hook_types,
    sync_options,
    sync_wave,
)
from ferry.engine.ordering import kind_rank, prune_order, sync_order, tasks_for, waves
from ferry.engine.status import HookDeletePolicy, HookType, SyncPhase


def obj(
    kind: str, name: str, api_version: str = "v1", namespace: str = "ns", **annotations: str
) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "annotations": annotations},
    }


def test_hook_annotations_ferry_wins_over_argo() -> None:
    both = obj("Job", "j", **{"ferrycd.io/hook": "PostSync", "argocd.argoproj.io/hook": "PreSync"})
    assert hook_types(both) == {HookType.POST_SYNC}
    assert hook_types(obj("Job", "j", **{"argocd.argoproj.io/hook": "PreSync,SyncFail"})) == {
        HookType.PRE_SYNC,
        HookType.SYNC_FAIL,
    }
    assert hook_types(obj("Job", "j")) == frozenset()


def test_helm_hooks_map_as_argo_cd_maps_them() -> None:
    assert hook_types(obj("Job", "j", **{"helm.sh/hook": "pre-install,pre-upgrade"})) == {HookType.PRE_SYNC}
    assert hook_types(obj("Job", "j", **{"helm.sh/hook": "post-install"})) == {HookType.POST_SYNC}
    assert hook_types(obj("Pod", "t", **{"helm.sh/hook": "test"})) == {HookType.SKIP}
    assert sync_wave(obj("Job", "j", **{"helm.sh/hook": "pre-install", "helm.sh/hook-weight": "-5"})) == -5
    assert delete_policies(obj("Job", "j", **{"helm.sh/hook-delete-policy": "hook-succeeded"})) == {
        HookDeletePolicy.HOOK_SUCCEEDED
    }


def test_default_delete_policy_is_before_hook_creation() -> None:
    assert delete_policies(obj("Job", "j", **{"argocd.argoproj.io/hook": "PreSync"})) == {
        HookDeletePolicy.BEFORE_HOOK_CREATION
    }


def test_bad_annotations_are_clear_errors() -> None:
    with pytest.raises(AnnotationError, match="sync-wave annotation must be an integer"):
        sync_wave(obj("ConfigMap", "c", **{"argocd.argoproj.io/sync-wave": "soon"}))
    with pytest.raises(AnnotationError, match="hook annotation"):
        hook_types(obj("Job", "j", **{"ferrycd.io/hook": "Sometime"}))


def test_sync_and_compare_options() -> None:
    options = sync_options(
        obj("ConfigMap", "c", **{"argocd.argoproj.io/sync-options": "Prune=false, Replace=true"})
    )
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


def _names(tasks: list[Any]) -> list[str]:
    return [t.name for t in tasks]


def test_order_is_phase_then_wave_then_kind_then_name() -> None:
    manifests = [
        obj("Deployment", "web", "apps/v1"),
        obj("Service", "web"),
        obj("Namespace", "ns", namespace=""),
        obj("Job", "migrate", "batch/v1", **{"argocd.argoproj.io/hook": "PreSync"}),
        obj("Job", "smoke", "batch/v1", **{"argocd.argoproj.io/hook": "PostSync"}),
        obj("ConfigMap", "late", **{"argocd.argoproj.io/sync-wave": "5"}),
        obj("ConfigMap", "early", **{"argocd.argoproj.io/sync-wave": "-1"}),
        obj("Widget", "w", "example.com/v1"),
        obj("CustomResourceDefinition", "widgets.example.com", "apiextensions.k8s.io/v1", namespace=""),
        obj("ConfigMap", "a-config"),
        obj("Pod", "tests", **{"helm.sh/hook": "test"}),
    ]
    tasks = [t for m in manifests for t in tasks_for(m)]
    assert _names(sync_order(tasks)) == [
        "migrate",
        "early",
        "ns",
        "a-config",
        "widgets.example.com",
        "web",  # Service
        "web",  # Deployment
        "w",
        "late",
        "smoke",
    ]
    ordered = sync_order(tasks)
    assert [t.kind for t in ordered[5:7]] == ["Service", "Deployment"]
    assert ordered[0].phase is SyncPhase.PRE_SYNC
    assert ordered[-1].phase is SyncPhase.POST_SYNC


def test_prune_order_is_reversed() -> None:
    tasks = [
        t
        for m in [obj("Namespace", "ns", namespace=""), obj("Deployment", "d", "apps/v1")]
        for t in tasks_for(m)
    ]
    assert [t.kind for t in prune_order(tasks)] == ["Deployment", "Namespace"]


def test_waves_group_tasks() -> None:
    manifests = [obj("ConfigMap", f"c{w}", **{"argocd.argoproj.io/sync-wave": str(w)}) for w in (1, 0, 1, 2)]
    grouped = waves([t for m in manifests for t in tasks_for(m)])
    assert [(phase.value, wave, len(tasks)) for (phase, wave), tasks in grouped] == [
        ("Sync", 0, 1),
        ("Sync", 1, 2),
        ("Sync", 2, 1),
    ]


def test_unknown_kinds_come_last() -> None:
    assert kind_rank("Namespace") == 0
    assert kind_rank("APIService") < kind_rank("SomeCustomKind")


def test_generate_name_hooks_use_the_prefix() -> None:
    hook = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"generateName": "migrate-", "annotations": {"argocd.argoproj.io/hook": "PreSync"}},
    }
    assert tasks_for(hook)[0].name == "migrate-"

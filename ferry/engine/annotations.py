"""What a manifest's annotations ask of a sync: hook phases, waves, delete policies, sync and
compare options.

ferry's own annotations (``ferrycd.io/...``) win; Argo CD's (``argocd.argoproj.io/...``) are
honoured so existing repositories work unchanged; Helm's hook annotations map as Argo CD maps
them (pre-install/pre-upgrade -> PreSync, post-install/post-upgrade -> PostSync, hook-weight ->
wave, resource-policy keep -> Delete=false). Helm hooks Argo CD does not support (test,
rollback) make the resource skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ferry.engine.status import HookDeletePolicy, HookType

FERRY = "ferrycd.io"
ARGO = "argocd.argoproj.io"

_HELM_HOOKS = {
    "pre-install": HookType.PRE_SYNC,
    "pre-upgrade": HookType.PRE_SYNC,
    "post-install": HookType.POST_SYNC,
    "post-upgrade": HookType.POST_SYNC,
    "pre-delete": HookType.PRE_DELETE,
    "post-delete": HookType.POST_DELETE,
}
_HELM_DELETE_POLICIES = {
    "hook-succeeded": HookDeletePolicy.HOOK_SUCCEEDED,
    "hook-failed": HookDeletePolicy.HOOK_FAILED,
    "before-hook-creation": HookDeletePolicy.BEFORE_HOOK_CREATION,
}


class AnnotationError(ValueError):
    """An annotation has a value ferry cannot use; the message names it."""


def annotations_of(obj: Mapping[str, Any]) -> Mapping[str, str]:
    meta = obj.get("metadata") or {}
    return meta.get("annotations") or {}


def _ours_or_argo(annotations: Mapping[str, str], name: str) -> str | None:
    value = annotations.get(f"{FERRY}/{name}")
    return value if value is not None else annotations.get(f"{ARGO}/{name}")


def _csv(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def hook_types(obj: Mapping[str, Any]) -> frozenset[HookType]:
    """The hook types of a manifest; empty when it is an ordinary resource."""
    annotations = annotations_of(obj)
    value = _ours_or_argo(annotations, "hook")
    if value is not None:
        try:
            return frozenset(HookType(item) for item in _csv(value))
        except ValueError as err:
            raise AnnotationError(f"hook annotation {value!r}: {err}") from err
    helm = annotations.get("helm.sh/hook")
    if helm is None:
        return frozenset()
    mapped = {_HELM_HOOKS.get(item) for item in _csv(helm)}
    if None in mapped and len(mapped) == 1:
        return frozenset({HookType.SKIP})  # test / rollback hooks: Argo CD does not run them
    return frozenset(t for t in mapped if t is not None)


def is_hook(obj: Mapping[str, Any]) -> bool:
    return bool(hook_types(obj))


def delete_policies(obj: Mapping[str, Any]) -> frozenset[HookDeletePolicy]:
    """Hook delete policies; BeforeHookCreation when none is given (Argo CD's default)."""
    annotations = annotations_of(obj)
    value = _ours_or_argo(annotations, "hook-delete-policy")
    if value is not None:
        try:
            return frozenset(HookDeletePolicy(item) for item in _csv(value))
        except ValueError as err:
            raise AnnotationError(f"hook-delete-policy annotation {value!r}: {err}") from err
    helm = annotations.get("helm.sh/hook-delete-policy")
    if helm is not None:
        policies = {_HELM_DELETE_POLICIES[item] for item in _csv(helm) if item in _HELM_DELETE_POLICIES}
        if policies:
            return frozenset(policies)
    return frozenset({HookDeletePolicy.BEFORE_HOOK_CREATION})


def sync_wave(obj: Mapping[str, Any]) -> int:
    """Sync wave (default 0; negative allowed); Helm's hook-weight for Helm hooks."""
    annotations = annotations_of(obj)
    value = _ours_or_argo(annotations, "sync-wave")
    if value is None and "helm.sh/hook" in annotations:
        value = annotations.get("helm.sh/hook-weight")
    if value is None:
        return 0
    try:
        return int(value.strip())
    except ValueError as err:
        raise AnnotationError(f"sync-wave annotation must be an integer, not {value!r}") from err


def _options(value: str | None) -> dict[str, str]:
    options: dict[str, str] = {}
    for item in _csv(value or ""):
        key, sep, val = item.partition("=")
        options[key.strip()] = val.strip() if sep else "true"
    return options


def sync_options(obj: Mapping[str, Any]) -> dict[str, str]:
    """Per-resource sync options (``Prune=false``, ``Replace=true``, ...) as key -> value."""
    annotations = annotations_of(obj)
    options = _options(_ours_or_argo(annotations, "sync-options"))
    if annotations.get("helm.sh/resource-policy") == "keep":
        options.setdefault("Delete", "false")
        options.setdefault("Prune", "false")
    return options


def compare_options(obj: Mapping[str, Any]) -> dict[str, str]:
    """Per-resource compare options (``IgnoreExtraneous``, ``ServerSideDiff=true``)."""
    return _options(_ours_or_argo(annotations_of(obj), "compare-options"))


@dataclass(frozen=True)
class SyncOptions:
    """Sync options of an application or operation, parsed from ``Key=Value`` strings."""

    values: Mapping[str, str]

    @staticmethod
    def parse(items: list[str] | tuple[str, ...]) -> SyncOptions:
        return SyncOptions(_options(",".join(items)))

    def enabled(self, key: str) -> bool:
        return self.values.get(key, "").lower() == "true"

    def disabled(self, key: str) -> bool:
        return self.values.get(key, "").lower() == "false"

    def get(self, key: str, default: str = "") -> str:
        return self.values.get(key, default)

"""What a manifest's annotations ask of a sync: hook phases, waves, delete policies, sync and
compare options — and what in them ferry does not understand.

ferry's own annotations (``ferrycd.io/...``) win; Argo CD's (``argocd.argoproj.io/...``) are
honoured so existing repositories work unchanged; Helm's hook annotations map as Argo CD maps
them (pre-install/pre-upgrade -> PreSync, post-install/post-upgrade -> PostSync, pre-delete ->
PreDelete, post-delete -> PostDelete, hook-weight -> wave, resource-policy keep -> Delete=false).
Helm hooks Argo CD does not support (test, rollback) make the resource skipped.

Parsing is lenient, as gitops-engine's: an unknown hook type or delete policy is left out, a
sync-wave that is not an integer counts as wave 0. Leniency is never silence: ``problems(obj)``
and ``SyncOptions.problems()`` name everything that was left out, and the controller reports them
(a ``SyncOptionWarning`` condition and a warning in the operation's message).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ferry.engine.status import HookDeletePolicy, HookType

FERRY = "ferrycd.io"
ARGO = "argocd.argoproj.io"
# An app annotated with a time at or after an operation's start (deletion's start) approves the
# prunes (deletions) that ask for confirmation: ``ferry app confirm-deletion`` sets it.
DELETION_APPROVED = "deletion-approved"

_HELM_HOOKS = {
    "pre-install": HookType.PRE_SYNC,
    "pre-upgrade": HookType.PRE_SYNC,
    "post-install": HookType.POST_SYNC,
    "post-upgrade": HookType.POST_SYNC,
    "pre-delete": HookType.PRE_DELETE,
    "post-delete": HookType.POST_DELETE,
}
_HELM_UNSUPPORTED_HOOKS = frozenset({"test", "test-success", "test-failure", "pre-rollback", "post-rollback"})
_HELM_DELETE_POLICIES = {
    "hook-succeeded": HookDeletePolicy.HOOK_SUCCEEDED,
    "hook-failed": HookDeletePolicy.HOOK_FAILED,
    "before-hook-creation": HookDeletePolicy.BEFORE_HOOK_CREATION,
}

_HOOK_TYPES = frozenset(t.value for t in HookType)
_DELETE_POLICIES = frozenset(p.value for p in HookDeletePolicy)
_BOOLEAN = frozenset({"true", "false"})
# Every sync option Argo CD knows and ferry honours, with the values each takes (lower case).
KNOWN_SYNC_OPTIONS: Mapping[str, frozenset[str]] = {
    "Validate": _BOOLEAN,
    "SkipDryRunOnMissingResource": _BOOLEAN,
    "PruneLast": _BOOLEAN,
    "Replace": _BOOLEAN,
    "Force": _BOOLEAN,
    "ServerSideApply": _BOOLEAN,
    "ApplyOutOfSyncOnly": _BOOLEAN,
    "CreateNamespace": _BOOLEAN,
    "RespectIgnoreDifferences": _BOOLEAN,
    "FailOnSharedResource": _BOOLEAN,
    "Prune": frozenset({"true", "false", "confirm"}),
    "Delete": frozenset({"true", "false", "confirm"}),
    "PrunePropagationPolicy": frozenset({"foreground", "background", "orphan"}),
}
KNOWN_COMPARE_OPTIONS: Mapping[str, frozenset[str]] = {
    "IgnoreExtraneous": _BOOLEAN,
    "ServerSideDiff": _BOOLEAN,
    "IncludeMutationWebhook": _BOOLEAN,
}


class AnnotationError(ValueError):
    """An annotation has a value ferry cannot use; the message names it."""


def annotations_of(obj: Mapping[str, Any]) -> Mapping[str, str]:
    meta = obj.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    return annotations if isinstance(annotations, Mapping) else {}


def _ours_or_argo(annotations: Mapping[str, str], name: str) -> str | None:
    value = annotations.get(f"{FERRY}/{name}")
    if value is None:
        value = annotations.get(f"{ARGO}/{name}")
    return None if value is None else str(value)


def _csv(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def has_hook_annotation(obj: Mapping[str, Any]) -> bool:
    """Whether the manifest says it is a hook at all (ferry's, Argo CD's or Helm's annotation)."""
    annotations = annotations_of(obj)
    return _ours_or_argo(annotations, "hook") is not None or "helm.sh/hook" in annotations


def hook_types(obj: Mapping[str, Any]) -> frozenset[HookType]:
    """The hook types of a manifest that ferry knows; empty for an ordinary resource (and for a
    hook annotation naming only unknown types, which ``problems`` reports)."""
    annotations = annotations_of(obj)
    value = _ours_or_argo(annotations, "hook")
    if value is not None:
        known = {item for item in _csv(value) if item in _HOOK_TYPES}
        if known:
            return frozenset(HookType(item) for item in known)
    helm = annotations.get("helm.sh/hook")
    if helm is None:
        return frozenset()
    items = _csv(helm)
    mapped = {_HELM_HOOKS[item] for item in items if item in _HELM_HOOKS}
    if not mapped and any(item in _HELM_UNSUPPORTED_HOOKS for item in items):
        return frozenset({HookType.SKIP})  # test / rollback hooks: Argo CD does not run them
    return frozenset(mapped)


def is_hook(obj: Mapping[str, Any]) -> bool:
    """A hook (not an ordinary resource): it has a hook annotation and is not only ``Skip``."""
    return has_hook_annotation(obj) and hook_types(obj) != {HookType.SKIP}


def is_skipped(obj: Mapping[str, Any]) -> bool:
    """``hook: Skip`` (alone): the resource takes no part in syncs or comparisons."""
    return hook_types(obj) == {HookType.SKIP}


def delete_policies(obj: Mapping[str, Any]) -> frozenset[HookDeletePolicy]:
    """Hook delete policies; BeforeHookCreation when none is given (Argo CD's default)."""
    annotations = annotations_of(obj)
    policies: set[HookDeletePolicy] = set()
    value = _ours_or_argo(annotations, "hook-delete-policy")
    if value is not None:
        policies |= {HookDeletePolicy(item) for item in _csv(value) if item in _DELETE_POLICIES}
    helm = annotations.get("helm.sh/hook-delete-policy")
    if helm is not None:
        policies |= {_HELM_DELETE_POLICIES[item] for item in _csv(helm) if item in _HELM_DELETE_POLICIES}
    return frozenset(policies or {HookDeletePolicy.BEFORE_HOOK_CREATION})


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def sync_wave(obj: Mapping[str, Any]) -> int:
    """Sync wave (default 0; negative allowed); Helm's hook-weight for Helm hooks. A value that is
    not an integer counts as 0 (as in Argo CD); ``problems`` reports it."""
    annotations = annotations_of(obj)
    wave = _int(_ours_or_argo(annotations, "sync-wave"))
    if wave is None and "helm.sh/hook" in annotations:
        wave = _int(annotations.get("helm.sh/hook-weight"))
    return wave or 0


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


def _option_problems(options: Mapping[str, str], known: Mapping[str, frozenset[str]], what: str) -> list[str]:
    problems = []
    for key, value in options.items():
        if key not in known:
            problems.append(f"unknown {what} {key}={value} (ignored)")
        elif value.lower() not in known[key]:
            allowed = "|".join(sorted(known[key]))
            problems.append(f"{what} {key}={value} is not one of {allowed} (ignored)")
    return problems


def problems(obj: Mapping[str, Any]) -> list[str]:
    """What in a manifest's annotations ferry does not understand and leaves out, one line each."""
    annotations = annotations_of(obj)
    found: list[str] = []
    hook = _ours_or_argo(annotations, "hook")
    if hook is not None:
        unknown = [item for item in _csv(hook) if item not in _HOOK_TYPES]
        if unknown:
            fate = "ignored" if hook_types(obj) else "the resource is not applied"
            found.append(f"unknown hook type {', '.join(unknown)} ({fate})")
    helm = annotations.get("helm.sh/hook")
    if hook is None and helm is not None:
        unknown = [i for i in _csv(helm) if i not in _HELM_HOOKS and i not in _HELM_UNSUPPORTED_HOOKS]
        if unknown:
            found.append(f"unknown helm.sh/hook {', '.join(unknown)} (ignored)")
    policy = _ours_or_argo(annotations, "hook-delete-policy")
    if policy is not None:
        unknown = [item for item in _csv(policy) if item not in _DELETE_POLICIES]
        if unknown:
            found.append(f"unknown hook-delete-policy {', '.join(unknown)} (ignored)")
    wave = _ours_or_argo(annotations, "sync-wave")
    if wave is not None and _int(wave) is None:
        found.append(f"sync-wave {wave!r} is not an integer (wave 0 used)")
    found += _option_problems(
        _options(_ours_or_argo(annotations, "sync-options")), KNOWN_SYNC_OPTIONS, "sync option"
    )
    found += _option_problems(compare_options(obj), KNOWN_COMPARE_OPTIONS, "compare option")
    return found


def deletion_approved_at(app: Mapping[str, Any]) -> datetime.datetime | None:
    """When prunes and deletions asking for confirmation were approved (the app's
    ``ferrycd.io/deletion-approved`` or Argo CD's ``argocd.argoproj.io/deletion-approved``
    annotation, an RFC 3339 time); None when never or unreadable."""
    value = _ours_or_argo(annotations_of(app), DELETION_APPROVED)
    return parse_time(value) if value else None


def parse_time(value: str) -> datetime.datetime | None:
    """An RFC 3339 time as Kubernetes writes them (``2024-01-02T03:04:05Z``); None when not one."""
    try:
        parsed = datetime.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=datetime.UTC)


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

    def problems(self) -> list[str]:
        """Options ferry does not know (or values it does not take), one line each."""
        return _option_problems(self.values, KNOWN_SYNC_OPTIONS, "sync option")


def option_value(resource: Mapping[str, str], app: SyncOptions, key: str) -> str:
    """A sync option's value for one resource: its own annotation wins over the app's option."""
    value = resource.get(key)
    return (value if value is not None else app.get(key)).lower()

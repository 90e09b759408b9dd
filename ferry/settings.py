"""ferry's settings in the control namespace: the ConfigMap ``ferry-cm`` (keys as Argo CD's
``argocd-cm`` where the concept is the same) and the names of the other well-known objects."""

from __future__ import annotations

import fnmatch
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from ferry.engine.health import custom_rules_from_settings
from ferry.engine.ignore import IgnoreRule, rules_from_settings

CONTROL_NAMESPACE = "ferry"
SETTINGS_CONFIGMAP = "ferry-cm"
RBAC_CONFIGMAP = "ferry-rbac-cm"
SECRET = "ferry-secret"  # noqa: S105 (a Secret's name)
SECRET_TYPE_LABEL = "ferrycd.io/secret-type"  # noqa: S105 (a label key)
REFRESH_ANNOTATION = "ferrycd.io/refresh"
# When that refresh was asked for (Unix milliseconds, set beside it by ferry-server): references
# the repo server read since then are fresh enough, so the apps one webhook refreshes share a read.
REFRESH_REQUESTED_AT_ANNOTATION = "ferrycd.io/refresh-requested-at"


def refresh_annotations(level: str) -> dict[str, str]:
    """The annotations that ask the controller for a refresh of ``level`` (normal | hard), now."""
    return {REFRESH_ANNOTATION: level, REFRESH_REQUESTED_AT_ANNOTATION: str(int(time.time() * 1000))}


def refresh_requested_at_ms(annotations: dict[str, str]) -> int:
    """When the pending refresh was asked for, or 0 when that is not known (or garbled)."""
    value = annotations.get(REFRESH_REQUESTED_AT_ANNOTATION, "")
    return int(value) if value.isdigit() else 0


RESOURCES_FINALIZER = "ferrycd.io/resources-finalizer"
# A finalizer name is a qualified name (one optional "prefix/"), so the background variant cannot be
# RESOURCES_FINALIZER + "/background"; it follows Argo CD's form instead
# (resources-finalizer.argocd.argoproj.io/background).
RESOURCES_FINALIZER_BACKGROUND = "resources-finalizer.ferrycd.io/background"
RESOURCES_FINALIZERS = (RESOURCES_FINALIZER, RESOURCES_FINALIZER_BACKGROUND)
IN_CLUSTER_SERVER = "https://kubernetes.default.svc"
IN_CLUSTER_NAME = "in-cluster"
APP_GROUP = "ferrycd.io"
APP_VERSION = "v1alpha1"
APP_API_VERSION = f"{APP_GROUP}/{APP_VERSION}"

_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$")


def parse_duration(text: str, default: float) -> float:
    """Seconds from a Go-style duration ("120s", "3m", "1h30m") or a plain number of seconds."""
    text = (text or "").strip()
    if not text:
        return default
    try:
        return float(text)
    except ValueError:
        pass
    match = _DURATION.match(text)
    if not match or not any(match.groups()):
        raise ValueError(f"not a duration: {text!r} (use e.g. 120s, 3m, 1h)")
    hours, minutes, seconds = match.groups()
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)


@dataclass(frozen=True)
class ResourceFilter:
    """One entry of ``resource.exclusions`` / ``resource.inclusions`` (globs; empty lists mean all)."""

    api_groups: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    clusters: tuple[str, ...] = ()

    def matches(self, group: str, kind: str, cluster: str) -> bool:
        def any_glob(patterns: tuple[str, ...], value: str) -> bool:
            return not patterns or any(fnmatch.fnmatchcase(value, p) for p in patterns)

        return (
            any_glob(self.api_groups, group)
            and any_glob(self.kinds, kind)
            and any_glob(self.clusters, cluster)
        )


def _filters(text: str) -> tuple[ResourceFilter, ...]:
    entries = yaml.safe_load(text or "") or []
    return tuple(
        ResourceFilter(
            api_groups=tuple(e.get("apiGroups") or ()),
            kinds=tuple(e.get("kinds") or ()),
            clusters=tuple(e.get("clusters") or ()),
        )
        for e in entries
        if isinstance(e, dict)
    )


@dataclass(frozen=True)
class Settings:
    data: Mapping[str, str] = field(default_factory=dict)

    @property
    def reconciliation_seconds(self) -> float:
        return parse_duration(self.data.get("timeout.reconciliation", ""), 120.0)

    @property
    def reconciliation_jitter_seconds(self) -> float:
        return parse_duration(self.data.get("timeout.reconciliation.jitter", ""), 60.0)

    @property
    def exclusions(self) -> tuple[ResourceFilter, ...]:
        return _filters(self.data.get("resource.exclusions", ""))

    @property
    def inclusions(self) -> tuple[ResourceFilter, ...]:
        return _filters(self.data.get("resource.inclusions", ""))

    def resource_allowed(self, group: str, kind: str, cluster: str) -> bool:
        """Whether ferry may manage and watch a kind, by ``resource.inclusions``/``exclusions``."""
        if self.inclusions and not any(f.matches(group, kind, cluster) for f in self.inclusions):
            return False
        return not any(f.matches(group, kind, cluster) for f in self.exclusions)

    @property
    def health_rules(self) -> dict[tuple[str, str], str]:
        return custom_rules_from_settings(self.data)

    @property
    def ignore_rules(self) -> list[IgnoreRule]:
        return rules_from_settings(self.data)

    @property
    def url(self) -> str:
        return self.data.get("url", "")

    @staticmethod
    def from_configmap(configmap: Mapping[str, Any] | None) -> Settings:
        return Settings(dict((configmap or {}).get("data") or {}))

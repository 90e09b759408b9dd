"""How ferry marks what it owns: the ``ferrycd.io/tracking-id`` annotation (the proof of
ownership) and the ``ferrycd.io/instance`` label (so watches and lists can select by label).

The tracking id names the app and the object's own identity,
``<app>:<group>/<kind>:<namespace>/<name>``, so an object copied by someone else (same labels,
another name) is not mistaken for one of ours. Argo CD's tracking annotation is deliberately not
read: ferry must never prune what a running Argo CD owns.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TRACKING_ANNOTATION = "ferrycd.io/tracking-id"
INSTANCE_LABEL = "ferrycd.io/instance"
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_MAX_LABEL = 63


@dataclass(frozen=True)
class ResourceKey:
    """Identity of a Kubernetes object within one cluster."""

    group: str
    kind: str
    namespace: str
    name: str

    @staticmethod
    def of(obj: Mapping[str, Any]) -> ResourceKey:
        meta = obj.get("metadata") or {}
        api_version = str(obj.get("apiVersion", ""))
        return ResourceKey(
            group=api_version.rpartition("/")[0] if "/" in api_version else "",
            kind=str(obj.get("kind", "")),
            namespace=str(meta.get("namespace") or ""),
            name=str(meta.get("name") or ""),
        )

    def __str__(self) -> str:
        return f"{self.group}/{self.kind}:{self.namespace}/{self.name}"


def instance_label_value(app: str) -> str:
    """The label value for an app: its name when that is a valid label value, else a stable hash."""
    if len(app) <= _MAX_LABEL and _LABEL_VALUE.match(app):
        return app
    digest = hashlib.sha256(app.encode()).hexdigest()[:16]
    prefix = re.sub(r"[^A-Za-z0-9_.-]", "-", app)[: _MAX_LABEL - len(digest) - 1].strip("-_.")
    return f"{prefix}-{digest}" if prefix else digest


def tracking_id(app: str, key: ResourceKey) -> str:
    return f"{app}:{key}"


def parse_tracking_id(value: str) -> tuple[str, ResourceKey] | None:
    """(app, key) from a tracking id, or None when it is not one."""
    app, sep, rest = value.partition(":")
    group_kind, sep2, ns_name = rest.partition(":")
    if not (sep and sep2 and app):
        return None
    group, sep3, kind = group_kind.partition("/")
    namespace, sep4, name = ns_name.partition("/")
    if not (sep3 and sep4 and kind and name):
        return None
    return app, ResourceKey(group, kind, namespace, name)


def with_tracking(manifest: Mapping[str, Any], app: str) -> dict[str, Any]:
    """A copy of ``manifest`` carrying ferry's tracking annotation and instance label."""
    out = copy.deepcopy(dict(manifest))
    meta = out.setdefault("metadata", {})
    meta.setdefault("annotations", {})[TRACKING_ANNOTATION] = tracking_id(app, ResourceKey.of(out))
    meta.setdefault("labels", {})[INSTANCE_LABEL] = instance_label_value(app)
    return out


def owning_app(obj: Mapping[str, Any]) -> str | None:
    """The app that owns a live object, if its tracking id is valid for this very object."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(TRACKING_ANNOTATION)
    parsed = parse_tracking_id(value) if isinstance(value, str) else None
    if parsed is None:
        return None
    app, key = parsed
    actual = ResourceKey.of(obj)
    # Only group matters of the apiVersion (versions change on upgrades).
    return app if key == actual else None

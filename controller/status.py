"""Application status from a comparison, and writing it only when something changed.

The controller is the only writer of ``Application.status``. It sends a JSON merge patch of the
fields that changed (explicit nulls for fields that went away), so fields it does not touch here
(``history``, ``operationState``, written by the sync engine) stay as they are.

``reconciledAt`` is stamped only together with a real change: an unchanged app is never
rewritten (no status churn, no watch events for every API client).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from controller.compare import Comparison
from ferry.convert import from_k8s, to_k8s
from ferry.engine.status import SyncStatus
from ferry.v1 import types_pb2

# Fields of status this module owns; the sync engine owns the others.
COMPARISON_FIELDS = ("sync", "health", "resources", "conditions", "reconciledAt", "sourceType", "summary")


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _conditions(
    found: list[tuple[str, str]], old: list[Mapping[str, Any]], stamp: str
) -> list[dict[str, Any]]:
    previous = {(c.get("type"), c.get("message")): c.get("lastTransitionTime") for c in old}
    seen = set()
    conditions = []
    for kind, message in found:
        if (kind, message) in seen:
            continue
        seen.add((kind, message))
        conditions.append(
            {"type": kind, "message": message, "lastTransitionTime": previous.get((kind, message)) or stamp}
        )
    return conditions


def comparison_status(
    app: Mapping[str, Any],
    comparison: Comparison | None,
    *,
    revision: str,
    source_type: str,
    conditions: list[tuple[str, str]],
) -> dict[str, Any]:
    """The comparison part of the status. ``comparison`` None: comparing failed (sync Unknown);
    the previous resources are kept so the UI still shows what is there."""
    old = app.get("status") or {}
    spec = app.get("spec") or {}
    stamp = now()
    status: dict[str, Any] = {
        "sync": {
            "status": str(comparison.sync_status if comparison else SyncStatus.UNKNOWN),
            "revision": revision or (old.get("sync") or {}).get("revision", ""),
            "comparedTo": {
                "source": spec.get("source") or {},
                "destination": spec.get("destination") or {},
                **({"ignoreDifferences": spec["ignoreDifferences"]} if spec.get("ignoreDifferences") else {}),
            },
        },
        "sourceType": source_type or old.get("sourceType", ""),
        "conditions": _conditions(
            [*conditions, *(comparison.conditions if comparison else [])], old.get("conditions") or [], stamp
        ),
    }
    if comparison is None:
        status["resources"] = old.get("resources") or []
        status["health"] = old.get("health") or {"status": "Unknown"}
        status["summary"] = old.get("summary") or {}
        return _sanitize(status)
    health_status = str(comparison.health.status)
    old_health = old.get("health") or {}
    status["health"] = {
        "status": health_status,
        "message": comparison.health.message,
        "lastTransitionTime": old_health.get("lastTransitionTime")
        if old_health.get("status") == health_status
        else stamp,
    }
    status["resources"] = [
        {
            "group": r.key.group,
            "version": r.version,
            "kind": r.key.kind,
            "namespace": r.key.namespace,
            "name": r.key.name,
            "status": str(SyncStatus.UNKNOWN if r.refusal else r.diff.status),
            **({"health": {"status": str(r.health.status), "message": r.health.message}} if r.health else {}),
            "hook": r.hook,
            "requiresPruning": r.requires_pruning,
            "syncWave": r.wave,
        }
        for r in comparison.resources
    ]
    status["summary"] = {"images": comparison.images, "externalURLs": comparison.external_urls}
    return _sanitize(status)


def _sanitize(status: dict[str, Any]) -> dict[str, Any]:
    """Through the contract and back: exactly the fields (and forms) the CRD stores, so a status
    never differs from its stored self only by a field the API server would prune."""
    cleaned: dict[str, Any] = to_k8s(from_k8s(status, types_pb2.ApplicationStatus))
    return cleaned


def _without_stamps(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _without_stamps(v) for k, v in value.items() if k not in ("lastTransitionTime", "reconciledAt")
        }
    if isinstance(value, list):
        return [_without_stamps(v) for v in value]
    return value


def changed(old_status: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether the comparison part of the status changed (timestamps aside)."""
    old = _sanitize({k: v for k, v in old_status.items() if k in COMPARISON_FIELDS})
    return bool(_without_stamps(old) != _without_stamps(dict(new)))


def merge_patch(old: Any, new: Any) -> Any:
    """The RFC 7386 merge patch turning ``old`` into ``new`` (nulls for removed keys)."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return new
    patch: dict[str, Any] = {}
    for key in old.keys() - new.keys():
        patch[key] = None
    for key, value in new.items():
        if key not in old:
            patch[key] = value
        elif old[key] != value:
            patch[key] = (
                merge_patch(old[key], value)
                if isinstance(value, dict) and isinstance(old[key], dict)
                else value
            )
    return patch

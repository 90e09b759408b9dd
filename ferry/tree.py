"""An application's resource tree: its managed objects and what they own (ReplicaSets, Pods,
Jobs), as ``ApplicationTree`` JSON. Pure: the caller supplies the objects (the controller from
its cluster cache, the API server from live reads when no published tree exists)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ferry.engine.health import HealthChecker

Obj = dict[str, Any]

TREE_TTL_SECONDS = 600.0


def tree_key(namespace: str, app: str) -> str:
    """Where the controller publishes an app's tree in the shared cache."""
    return f"tree|{namespace}|{app}"


def _images(obj: Obj) -> list[str]:
    spec = obj.get("spec") or {}
    pod = spec if obj.get("kind") == "Pod" else ((spec.get("template") or {}).get("spec") or {})
    return sorted(
        {str(c["image"]) for c in pod.get("containers") or [] if isinstance(c, dict) and c.get("image")}
    )


def _info(obj: Obj) -> list[dict[str, str]]:
    if obj.get("kind") != "Pod":
        return []
    status = obj.get("status") or {}
    containers = status.get("containerStatuses") or []
    ready = sum(1 for c in containers if c.get("ready"))
    restarts = sum(int(c.get("restartCount") or 0) for c in containers)
    return [
        {"name": "Status Reason", "value": str(status.get("reason") or status.get("phase") or "")},
        {"name": "Containers", "value": f"{ready}/{len((obj.get('spec') or {}).get('containers') or [])}"},
        {"name": "Restart Count", "value": str(restarts)},
    ]


def node(obj: Obj, checker: HealthChecker) -> Obj:
    meta = obj.get("metadata") or {}
    api_version = str(obj.get("apiVersion", ""))
    group, _, version = api_version.rpartition("/")
    result: Obj = {
        "group": group,
        "version": version,
        "kind": obj.get("kind", ""),
        "namespace": meta.get("namespace", ""),
        "name": meta.get("name", ""),
        "uid": meta.get("uid", ""),
        "resourceVersion": meta.get("resourceVersion", ""),
        "createdAt": meta.get("creationTimestamp", ""),
        "parentRefs": [
            {
                "group": str(o.get("apiVersion", "")).rpartition("/")[0],
                "kind": o.get("kind", ""),
                "namespace": meta.get("namespace", ""),
                "name": o.get("name", ""),
                "uid": o.get("uid", ""),
            }
            for o in meta.get("ownerReferences") or []
        ],
        "images": _images(obj),
        "info": _info(obj),
    }
    health = checker.check(obj)
    if health is not None:
        result["health"] = {"status": str(health.status), "message": health.message}
    if obj.get("kind") == "Service":
        selector = (obj.get("spec") or {}).get("selector") or {}
        ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        result["networkingInfo"] = {"targetLabels": dict(selector), "ingress": list(ingress)}
    return result


def build_tree(managed: Iterable[Obj], children: Iterable[Obj], checker: HealthChecker) -> Obj:
    """ApplicationTree JSON: managed objects first, then the children owned (transitively) by them."""
    nodes = [node(o, checker) for o in managed]
    known = {n["uid"] for n in nodes if n["uid"]}
    pending = list(children)
    added = True
    while added:  # children whose owner is in the tree, level by level
        added = False
        for obj in list(pending):
            owners = {str(o.get("uid")) for o in (obj.get("metadata") or {}).get("ownerReferences") or []}
            if owners & known:
                nodes.append(node(obj, checker))
                known.add(str((obj.get("metadata") or {}).get("uid", "")))
                pending.remove(obj)
                added = True
    nodes.sort(key=lambda n: (n["kind"], n["namespace"], n["name"]))
    return {"nodes": nodes}

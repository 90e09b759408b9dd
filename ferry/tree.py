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


def pods_of(
    nodes: list[Obj], *, group: str = "", kind: str = "", name: str = "", namespace: str = ""
) -> list[Obj]:
    """The Pod nodes of a tree under the resource (group, kind, name, namespace) — the resource
    itself when it is a Pod, its descendants otherwise; every Pod when no resource is named.
    Raises KeyError when the tree has no such resource."""
    pods = [n for n in nodes if n.get("kind") == "Pod"]
    if not kind and not name:
        return pods
    roots = [
        n
        for n in nodes
        if (not kind or n.get("kind") == kind)
        and (not name or n.get("name") == name)
        and (not group or n.get("group", "") == group)
        and (not namespace or n.get("namespace", "") == namespace)
    ]
    if not roots:
        raise KeyError(f"{kind or 'resource'} {name!r}")
    children: dict[str, list[Obj]] = {}
    for n in nodes:
        for parent in n.get("parentRefs") or []:
            children.setdefault(parent.get("uid", ""), []).append(n)
    found: dict[str, Obj] = {}
    pending = list(roots)
    while pending:
        current = pending.pop()
        if current.get("kind") == "Pod":
            found[current.get("uid") or current.get("name", "")] = current
        pending.extend(children.get(current.get("uid", ""), []))
    return [p for p in pods if (p.get("uid") or p.get("name", "")) in found]

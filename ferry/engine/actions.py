"""Resource actions: the built-in operations a user can run on one live resource of an app, with
Argo CD's names and effects (its resource_customizations/<group>/<kind>/actions scripts):

| kind | actions |
|---|---|
| apps/Deployment | ``restart``, ``pause`` (while not paused), ``resume`` (while paused) |
| apps/StatefulSet, apps/DaemonSet | ``restart`` |
| batch/CronJob | ``create-job``, ``suspend`` (while not suspended), ``resume`` (while suspended) |

``restart`` sets the pod template's ``kubectl.kubernetes.io/restartedAt`` annotation, as
``kubectl rollout restart`` does; ``create-job`` makes a Job from the CronJob's ``jobTemplate``,
owned by the CronJob and annotated ``cronjob.kubernetes.io/instantiate: manual`` as ``kubectl
create job --from`` does. Pure: the caller reads the live object and writes the result.
"""

from __future__ import annotations

import copy
import datetime
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
INSTANTIATE = "cronjob.kubernetes.io/instantiate"


class ActionError(ValueError):
    """The action does not exist for this kind, or cannot run on this object now."""


@dataclass(frozen=True)
class Action:
    name: str
    disabled: bool = False


@dataclass(frozen=True)
class ActionResult:
    """What to write: a JSON merge patch of the object (``patch``), or a new object to create."""

    patch: Obj | None = None
    created: Obj | None = None


def _group_kind(obj: Obj) -> tuple[str, str]:
    api_version = str(obj.get("apiVersion") or "")
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    return group, str(obj.get("kind") or "")


def actions_for(obj: Obj) -> list[Action]:
    """The built-in actions of the object's kind, each marked disabled when it cannot run now."""
    group, kind = _group_kind(obj)
    spec = obj.get("spec") or {}
    if (group, kind) == ("apps", "Deployment"):
        paused = bool(spec.get("paused"))
        return [Action("restart"), Action("pause", disabled=paused), Action("resume", disabled=not paused)]
    if (group, kind) in (("apps", "StatefulSet"), ("apps", "DaemonSet")):
        return [Action("restart")]
    if (group, kind) == ("batch", "CronJob"):
        suspended = bool(spec.get("suspend"))
        return [
            Action("create-job"),
            Action("suspend", disabled=suspended),
            Action("resume", disabled=not suspended),
        ]
    return []


def run_action(obj: Obj, action: str, *, now: datetime.datetime, suffix: str) -> ActionResult:
    """The result of ``action`` on ``obj``; ``suffix`` names a created Job (``<cronjob>-<suffix>``)."""
    _, kind = _group_kind(obj)
    found = {a.name: a for a in actions_for(obj)}
    if action not in found:
        known = ", ".join(found) or "none"
        raise ActionError(f"{kind or 'object'} has no action {action!r} (its actions: {known})")
    if found[action].disabled:
        raise ActionError(f"action {action!r} is not available on {kind} {_name(obj)} now")
    if action == "restart":
        stamp = now.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return ActionResult(
            patch={"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
        )
    if action in ("pause", "resume") and kind == "Deployment":
        return ActionResult(patch={"spec": {"paused": action == "pause"}})
    if action in ("suspend", "resume"):
        return ActionResult(patch={"spec": {"suspend": action == "suspend"}})
    return ActionResult(created=_job_from(obj, suffix))


def _name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _job_from(cronjob: Obj, suffix: str) -> Obj:
    metadata = cronjob.get("metadata") or {}
    template = copy.deepcopy((cronjob.get("spec") or {}).get("jobTemplate") or {})
    job_meta = template.get("metadata") or {}
    name = f"{_name(cronjob)}-{suffix}"[:63].rstrip("-")
    annotations = {**(job_meta.get("annotations") or {}), INSTANTIATE: "manual"}
    owner = {
        "apiVersion": cronjob.get("apiVersion", "batch/v1"),
        "kind": "CronJob",
        "name": _name(cronjob),
        "uid": metadata.get("uid", ""),
        "controller": True,
        "blockOwnerDeletion": True,
    }
    job: Obj = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": metadata.get("namespace", ""),
            "labels": dict(job_meta.get("labels") or {}),
            "annotations": annotations,
            "ownerReferences": [owner] if owner["uid"] else [],
        },
        "spec": template.get("spec") or {},
    }
    return job

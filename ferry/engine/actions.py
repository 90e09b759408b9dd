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

Custom actions are Argo CD's ``resource.customizations.actions.<group>_<kind>`` (``<kind>``
alone for the core group) in ferry-cm, unchanged: a ``discovery.lua`` returning
``{name = {disabled = bool}}`` and ``definitions`` of ``name`` + ``action.lua``, which returns
the modified object (or, Argo CD >= 2.8, a list of ``{operation = "patch"|"create", resource =
...}``). They run in ferry.engine.lua's sandbox, and they replace the built-in actions of their
kind, as in Argo CD.
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from ferry.engine.lua import LuaError, LuaScript, LuaScriptError

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


@dataclass
class CustomActions:
    """One kind's Lua actions from ferry-cm: discovery, and each action's script by name."""

    discovery: LuaScript
    definitions: dict[str, LuaScript] = field(default_factory=dict)


CustomActionSet = Mapping[tuple[str, str], CustomActions]
ACTIONS_PREFIX = "resource.customizations.actions."


def custom_actions_from_settings(data: Mapping[str, str]) -> dict[tuple[str, str], CustomActions]:
    """ferry-cm's ``resource.customizations.actions.<group>_<kind>`` entries, compiled;
    ActionError naming the key for one that is not Argo CD's format or does not compile."""
    found: dict[tuple[str, str], CustomActions] = {}
    for key, text in data.items():
        if not key.startswith(ACTIONS_PREFIX):
            continue
        group, sep, kind = key[len(ACTIONS_PREFIX) :].rpartition("_")
        try:
            spec = yaml.safe_load(text) or {}
        except yaml.YAMLError as err:
            raise ActionError(f"ferry-cm {key}: not YAML: {err}") from None
        if not isinstance(spec, dict) or not isinstance(spec.get("discovery.lua"), str):
            raise ActionError(f"ferry-cm {key}: needs discovery.lua and definitions")
        try:
            custom = CustomActions(LuaScript(spec["discovery.lua"], f"{key} discovery.lua"))
            for definition in spec.get("definitions") or []:
                if not isinstance(definition, dict) or not isinstance(definition.get("action.lua"), str):
                    raise ActionError(f"ferry-cm {key}: each definition needs a name and action.lua")
                name = str(definition.get("name") or "")
                custom.definitions[name] = LuaScript(definition["action.lua"], f"{key} {name} action.lua")
        except LuaError as err:
            raise ActionError(f"ferry-cm {key}: {err}") from None
        found[(group if sep else "", kind)] = custom
    return found


def actions_for(obj: Obj, custom: CustomActionSet | None = None) -> list[Action]:
    """The actions of the object's kind (its custom ones, else the built-in ones), each marked
    disabled when it cannot run now."""
    group, kind = _group_kind(obj)
    own = (custom or {}).get((group, kind))
    if own is not None:
        return _discover(own, obj)
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


def _discover(own: CustomActions, obj: Obj) -> list[Action]:
    try:
        found = own.discovery(obj)
    except LuaScriptError as err:
        raise ActionError(str(err)) from None
    if not isinstance(found, dict):
        raise ActionError("discovery.lua must return a table of actions by name")
    return [
        Action(str(name), disabled=bool(isinstance(props, dict) and props.get("disabled")))
        for name, props in sorted(found.items())
    ]


def run_action(
    obj: Obj, action: str, *, now: datetime.datetime, suffix: str, custom: CustomActionSet | None = None
) -> ActionResult:
    """The result of ``action`` on ``obj``; ``suffix`` names a created Job (``<cronjob>-<suffix>``)."""
    group, kind = _group_kind(obj)
    found = {a.name: a for a in actions_for(obj, custom)}
    if action not in found:
        known = ", ".join(found) or "none"
        raise ActionError(f"{kind or 'object'} has no action {action!r} (its actions: {known})")
    if found[action].disabled:
        raise ActionError(f"action {action!r} is not available on {kind} {_name(obj)} now")
    own = (custom or {}).get((group, kind))
    if own is not None:
        return _run_custom(own, obj, action)
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


def _run_custom(own: CustomActions, obj: Obj, action: str) -> ActionResult:
    script = own.definitions.get(action)
    if script is None:
        raise ActionError(f"action {action!r} is discovered but has no definition")
    try:
        result = script(copy.deepcopy(obj))
    except LuaScriptError as err:
        raise ActionError(str(err)) from None
    if isinstance(result, list):  # Argo CD >= 2.8: [{operation, resource}, ...]
        return _operations(obj, result)
    if not isinstance(result, dict) or result.get("kind") != obj.get("kind"):
        raise ActionError(f"{action} action.lua must return the object (or a list of operations)")
    return ActionResult(patch=merge_patch(obj, result))


def _operations(obj: Obj, operations: list[Any]) -> ActionResult:
    patch: Obj | None = None
    created: Obj | None = None
    for entry in operations:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        operation = entry.get("operation") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            raise ActionError("each operation needs a resource")
        if operation == "patch" and patch is None:
            patch = merge_patch(obj, resource)
        elif operation == "create" and created is None:
            created = resource
        else:
            raise ActionError(f"unsupported operation {operation!r} (one patch and one create at most)")
    return ActionResult(patch=patch, created=created)


def _both_empty(a: Any, b: Any) -> bool:
    """An empty list comes back from Lua as an empty table, i.e. ``{}``: not a change."""
    return a in ([], {}) and b in ([], {})


def merge_patch(original: Any, modified: Any) -> Any:
    """The JSON merge patch (RFC 7386) that turns ``original`` into ``modified``."""
    if not isinstance(original, dict) or not isinstance(modified, dict):
        return modified
    patch: Obj = {}
    for key, value in modified.items():
        if key not in original:
            patch[key] = value
        elif original[key] != value and not _both_empty(original[key], value):
            patch[key] = merge_patch(original[key], value)
    for key in original:
        if key not in modified:
            patch[key] = None
    return patch

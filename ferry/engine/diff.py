"""Is a live object in sync with its desired manifest? A diff without false drift.

The question is answered by predicting what the live object would become if ferry applied the
desired manifest (server-side apply, field manager ``ferry-controller``), and comparing that
prediction with the live object, both normalised:

- When the caller has the API server's own answer — a server-side dry-run apply — that is the
  prediction: defaulting, admission and other managers' fields are all accounted for exactly.
- Otherwise the engine predicts it: desired fields are merged into live (so fields the API
  server defaulted, and fields other managers own, stay as they are: not drift), and fields
  ferry applied before but Git no longer has are removed (read from managedFields: drift).

Known equivalences are normalised on both sides: quantities ("1000m" = "1"), numeric ports
given as strings, empty maps and lists = absent, ``status`` and server-managed metadata ignored.
``ignoreDifferences`` rules remove fields from both sides before comparing. Secret values are
masked in every output (``ferry.engine.secrets``).

Pure: plain dicts in, a DiffResult out.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from ferry.engine import fields, quantity
from ferry.engine.ignore import IgnoreRule, apply_ignore_rules
from ferry.engine.secrets import hide_secret_data
from ferry.engine.status import SyncStatus

CONTROLLER_MANAGER = "ferry-controller"

_VOLATILE_METADATA = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionGracePeriodSeconds",
)
_VOLATILE_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)
_QUANTITY_PARENTS = frozenset({"requests", "limits", "capacity", "allocatable", "hard", "used", "overhead"})
_PORT_KEYS = frozenset({"port", "targetPort", "containerPort", "nodePort", "hostPort"})
# Fields that identify items of a list when every desired item has a distinct value, in the order
# tried (the merge keys of the Kubernetes types that matter: containers, env, volumes, ports, ...).
_LIST_KEYS = ("name", "containerPort", "port", "mountPath", "devicePath", "ip", "topologyKey", "type")


@dataclass(frozen=True)
class DiffOptions:
    ignore: Sequence[IgnoreRule] = ()
    manager: str = CONTROLLER_MANAGER


@dataclass(frozen=True)
class DiffResult:
    modified: bool
    # Normalised live and predicted objects (None when absent); Secret values masked.
    normalized_live: dict[str, Any] | None = None
    predicted_live: dict[str, Any] | None = None
    diff: str = ""
    changed_paths: tuple[str, ...] = field(default_factory=tuple)

    @property
    def status(self) -> SyncStatus:
        return SyncStatus.OUT_OF_SYNC if self.modified else SyncStatus.SYNCED


# --- normalisation -------------------------------------------------------------------------------


def _normalize_value(key: str | None, parent: str | None, value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            nv = _normalize_value(k, key, v)
            if nv is not None and nv not in ({}, []):
                out[k] = nv
        return out
    if isinstance(value, list):
        return [_normalize_value(None, key, v) for v in value]
    if parent in _QUANTITY_PARENTS:
        return quantity.canonical(value)
    if key in _PORT_KEYS and isinstance(value, str) and value.isdigit():
        return int(value)
    return value


def normalize(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A comparable copy: no status, no server-managed metadata, equivalent spellings unified."""
    # _normalize_value builds new containers, so shallow copies of the parts edited here suffice.
    out = {k: v for k, v in obj.items() if k != "status"}
    meta = out.get("metadata")
    if isinstance(meta, Mapping):
        meta = {k: v for k, v in meta.items() if k not in _VOLATILE_METADATA}
        annotations = meta.get("annotations")
        if isinstance(annotations, Mapping):
            meta["annotations"] = {k: v for k, v in annotations.items() if k not in _VOLATILE_ANNOTATIONS}
        out["metadata"] = meta
    normalized: dict[str, Any] = _normalize_value(None, None, out)
    return normalized


# --- prediction ----------------------------------------------------------------------------------


def _list_key(desired: list[Any]) -> str | None:
    if not desired or not all(isinstance(item, dict) for item in desired):
        return None
    for key in _LIST_KEYS:
        values = [item.get(key) for item in desired]
        # merge keys are scalars (a container's name, a port number); a map or list under a key
        # name is just data, and normalisation may change it, so it cannot identify an item
        scalars = all(isinstance(v, str | int | float) for v in values)
        if scalars and len({repr(v) for v in values}) == len(values):
            return key
    return None


def _merge_list(desired: list[Any], live: list[Any]) -> list[Any]:
    key = _list_key(desired)
    if key is not None and all(isinstance(item, dict) for item in live):
        merged = [copy.deepcopy(item) for item in live]
        index = {str(item.get(key)): pos for pos, item in enumerate(merged)}
        for item in desired:
            pos = index.get(str(item.get(key)))
            if pos is None:
                merged.append(copy.deepcopy(item))
            else:
                merged[pos] = _merge(item, merged[pos])
        return merged
    if len(desired) == len(live) and all(
        isinstance(d, dict) and isinstance(lv, dict) for d, lv in zip(desired, live, strict=True)
    ):
        return [_merge(d, lv) for d, lv in zip(desired, live, strict=True)]
    return copy.deepcopy(desired)


def _merge(desired: Any, live: Any) -> Any:
    """``desired`` laid over ``live``: maps merge, keyed lists merge by key, the rest is replaced."""
    if isinstance(desired, dict) and isinstance(live, dict):
        merged = copy.deepcopy(live)
        for key, value in desired.items():
            merged[key] = _merge(value, live[key]) if key in live else copy.deepcopy(value)
        return merged
    if isinstance(desired, list) and isinstance(live, list):
        return _merge_list(desired, live)
    return copy.deepcopy(desired)


def predict(
    desired: Mapping[str, Any], live: Mapping[str, Any], *, manager: str = CONTROLLER_MANAGER
) -> dict[str, Any]:
    """What ``live`` would become after a server-side apply of ``desired`` by ``manager``."""
    predicted: dict[str, Any] = _merge(dict(desired), dict(live))
    ours = fields.owned_paths(live, manager)
    if ours:
        others = fields.owned_paths(live, manager, exclude=True)
        # Apply removes what this manager owned and no longer sends, unless another manager owns it too.
        # Whole list items first: deleting their fields first would leave items their keys no longer find.
        for path in sorted(
            ours - others, key=lambda p: (len(p) - (p[-1] == fields.ITEM), p[-1] != fields.ITEM)
        ):
            if not fields.contains(desired, path) and not _owned_below(others, path):
                fields.delete(predicted, path)
    return predicted


def _owned_below(others: set[fields.Path], path: fields.Path) -> bool:
    base = path[:-1] if path and path[-1] == fields.ITEM else path
    return any(other[: len(base)] == base for other in others)


# --- masking and rendering -----------------------------------------------------------------------


def _yaml(obj: Mapping[str, Any] | None) -> list[str]:
    if obj is None:
        return []
    return yaml.safe_dump(obj, sort_keys=True, default_flow_style=False).splitlines(keepends=True)


def unified(live: Mapping[str, Any] | None, desired: Mapping[str, Any] | None, name: str = "") -> str:
    return "".join(
        difflib.unified_diff(_yaml(live), _yaml(desired), fromfile=f"live/{name}", tofile=f"desired/{name}")
    )


def _changed_paths(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key in sorted(set(a) | set(b)):
            out += _changed_paths(a.get(key), b.get(key), f"{prefix}.{key}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        out = []
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            out += _changed_paths(x, y, f"{prefix}[{index}]")
        return out
    return [] if a == b else [prefix or "."]


# --- the decision --------------------------------------------------------------------------------


def _resource_version(obj: Mapping[str, Any]) -> object:
    return (obj.get("metadata") or {}).get("resourceVersion")


def _identity(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{obj.get('kind', '')}/{ns + '/' if ns else ''}{meta.get('name', '')}"


def diff(
    desired: Mapping[str, Any] | None,
    live: Mapping[str, Any] | None,
    *,
    dry_run: Mapping[str, Any] | None = None,
    options: DiffOptions = DiffOptions(),
) -> DiffResult:
    """Compares a desired manifest with the live object.

    ``desired`` None: the live object is extra (it would be pruned). ``live`` None: the object is
    missing. ``dry_run``: the API server's server-side dry-run apply of ``desired`` onto ``live``,
    used as the prediction when given and made against this very ``live`` (same resourceVersion;
    a dry run of an older or newer version is stale and the engine predicts instead).
    """
    if desired is None and live is None:
        return DiffResult(modified=False)
    if desired is None or live is None:
        [present] = hide_secret_data(normalize(desired if desired is not None else live))  # type: ignore[arg-type]
        name = _identity(present)
        if live is None:
            return DiffResult(True, None, present, unified(None, present, name), (".",))
        return DiffResult(True, present, None, unified(present, None, name), (".",))
    if dry_run is not None and _resource_version(dry_run) == _resource_version(live):
        predicted = dict(dry_run)
    else:
        predicted = predict(_normalize_value(None, None, dict(desired)), live, manager=options.manager)
    norm_live = normalize(live)
    norm_predicted = normalize(predicted)
    if options.ignore:
        apply_ignore_rules(options.ignore, norm_live, live)
        apply_ignore_rules(options.ignore, norm_predicted, live)
    changed = tuple(_changed_paths(norm_live, norm_predicted))
    norm_live, norm_predicted = hide_secret_data(norm_live, norm_predicted)
    text = unified(norm_live, norm_predicted, _identity(live)) if changed else ""
    return DiffResult(bool(changed), norm_live, norm_predicted, text, changed)

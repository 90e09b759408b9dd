"""Secret values never leave ferry in clear: the one masking function every output uses (diffs,
desired and live manifests, GetManifests, GetResource, ManagedResources).

Argo CD's ``HideSecretData``: for each core ``Secret`` among the objects shown together (say the
desired and the live one) ``stringData`` is folded into ``data`` (base64, as the API server
stores it), then each key's values are replaced by runs of ``+`` — the first distinct value by 8,
the next by 12, then 16, ... — so equal values look equal and a changed value looks changed, but
no value (nor its length) shows. The ``kubectl.kubernetes.io/last-applied-configuration``
annotation is masked the same way (it holds the values too), or replaced by ``++++++++`` when it
is not a JSON object. A ``data``/``stringData`` that is not a map is replaced whole.

Pure: objects in, masked copies out; the inputs are never changed.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Mapping
from typing import Any

MASK = "+"
FIRST_MASK = 8
MASK_STEP = 4
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def is_secret(obj: Mapping[str, Any] | None) -> bool:
    """A core Secret (group "", kind Secret), as Argo CD tells them."""
    if not isinstance(obj, Mapping) or obj.get("kind") != "Secret":
        return False
    return "/" not in str(obj.get("apiVersion") or "")


def _fold_string_data(secret: dict[str, Any]) -> None:
    if "stringData" not in secret:
        return
    string_data = secret.pop("stringData")
    data = secret.get("data")
    if not isinstance(string_data, dict) or (data is not None and not isinstance(data, dict)):
        secret["data"] = MASK * FIRST_MASK  # not a map: nothing in it may show
        return
    merged = dict(data or {})
    for key, value in string_data.items():
        merged[key] = base64.b64encode(value.encode()).decode() if isinstance(value, str) else value
    secret["data"] = merged


def _last_applied(secret: dict[str, Any]) -> tuple[dict[str, Any] | None, bool]:
    """(the parsed annotation when it is a Secret's JSON object, whether it is there at all)."""
    annotations = (secret.get("metadata") or {}).get("annotations")
    if not isinstance(annotations, dict) or LAST_APPLIED not in annotations:
        return None, False
    try:
        parsed = json.loads(str(annotations[LAST_APPLIED]))
    except ValueError:
        return None, True
    return (parsed, True) if isinstance(parsed, dict) else (None, True)


def hide_secret_data(*objs: Mapping[str, Any] | None) -> list[Any]:
    """Masked copies of ``objs`` (in order; anything that is not a Secret is returned as it is)."""
    shown: list[Any] = [copy.deepcopy(dict(o)) if o is not None and is_secret(o) else o for o in objs]
    secrets = [o for o in shown if is_secret(o)]
    applied = [_last_applied(s) for s in secrets]
    # values are compared across the objects and their annotations, in Argo CD's order
    everything = secrets + [parsed for parsed, _ in applied if parsed is not None]
    for obj in everything:
        _fold_string_data(obj)
        if "data" in obj and obj["data"] is not None and not isinstance(obj["data"], dict):
            obj["data"] = MASK * FIRST_MASK
    keys = {key for obj in everything if isinstance(obj.get("data"), dict) for key in obj["data"]}
    for key in keys:
        masks: dict[str, str] = {}
        for obj in everything:
            data = obj.get("data")
            if not isinstance(data, dict) or key not in data:
                continue
            value = "" if data[key] is None else str(data[key])
            if value not in masks:
                masks[value] = MASK * (FIRST_MASK + MASK_STEP * len(masks))
            data[key] = masks[value]
    for secret, (parsed, present) in zip(secrets, applied, strict=True):
        if present:
            annotations = secret["metadata"]["annotations"]
            annotations[LAST_APPLIED] = json.dumps(parsed) if parsed is not None else MASK * FIRST_MASK
    return shown


def hide_one(obj: Mapping[str, Any]) -> Any:
    """One object shown on its own (a manifest, a live object)."""
    return hide_secret_data(obj)[0]

"""Argo CD Applications (``argoproj.io/v1alpha1``) made into ferry's, with notes on what changed,
so an existing repository of Application manifests works with ``ferry app create -f``."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from ferry.errors import InvalidArgument
from ferry.settings import APP_API_VERSION, RESOURCES_FINALIZER, RESOURCES_FINALIZER_BACKGROUND

ARGO_API_VERSION = "argoproj.io/v1alpha1"
_FINALIZERS = {
    "resources-finalizer.argocd.argoproj.io": RESOURCES_FINALIZER,
    "resources-finalizer.argocd.argoproj.io/foreground": RESOURCES_FINALIZER,
    "resources-finalizer.argocd.argoproj.io/background": RESOURCES_FINALIZER_BACKGROUND,
}
_UNSUPPORTED_SPEC = ("sources", "sourceHydrator")


def parse_manifest(text: str) -> dict[str, Any]:
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as err:
        raise InvalidArgument(f"manifest is not valid YAML or JSON: {err}") from None
    if len(docs) != 1 or not isinstance(docs[0], dict):
        raise InvalidArgument("manifest must hold exactly one Application object")
    return docs[0]


def convert(app: dict[str, Any], namespace: str = "ferry") -> tuple[dict[str, Any], list[str]]:
    """(ferry Application, notes on what changed). ferry's own manifests pass unchanged;
    ``namespace`` is the control namespace, where applications live."""
    api_version = app.get("apiVersion", APP_API_VERSION)
    if app.get("kind", "Application") != "Application":
        raise InvalidArgument(f"manifest kind must be Application, not {app.get('kind')!r}")
    if api_version not in (APP_API_VERSION, ARGO_API_VERSION):
        raise InvalidArgument(
            f"manifest apiVersion must be {APP_API_VERSION} or {ARGO_API_VERSION}, not {api_version!r}"
        )
    out = copy.deepcopy(app)
    notes: list[str] = []
    if api_version == ARGO_API_VERSION:
        out["apiVersion"] = APP_API_VERSION
        notes.append(f"apiVersion {ARGO_API_VERSION} -> {APP_API_VERSION}")
    meta = out.setdefault("metadata", {})
    finalizers = meta.get("finalizers") or []
    converted = [_FINALIZERS.get(f, f) for f in finalizers]
    for old, new in zip(finalizers, converted, strict=True):
        if old != new:
            notes.append(f"finalizer {old} -> {new}")
    if finalizers:
        meta["finalizers"] = converted
    if meta.get("namespace") and meta["namespace"] != namespace:
        notes.append(
            f"metadata.namespace {meta['namespace']!r} ignored: applications live in the control namespace"
        )
    spec = out.setdefault("spec", {})
    for key in _UNSUPPORTED_SPEC:
        if key in spec:
            raise InvalidArgument(f"spec.{key} is not supported by ferry yet (use a single spec.source)")
    helm = (spec.get("source") or {}).get("helm") or {}
    if "valuesObject" in helm:
        values = helm.pop("valuesObject")
        existing = yaml.safe_load(helm.get("values") or "") or {}
        merged = (
            {**existing, **(values or {})}
            if isinstance(existing, dict) and isinstance(values, dict)
            else values
        )
        helm["values"] = yaml.safe_dump(merged, sort_keys=False)
        notes.append("spec.source.helm.valuesObject folded into spec.source.helm.values (YAML)")
    return out, notes

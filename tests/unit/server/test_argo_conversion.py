"""Argo CD Application manifests become ferry's, with a note for every change."""

from __future__ import annotations

import pytest
import yaml

from ferry.errors import InvalidArgument
from ferry.settings import APP_API_VERSION, RESOURCES_FINALIZER
from server.argo import convert, parse_manifest

ARGO = """
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: guestbook
  namespace: argocd
  finalizers: [resources-finalizer.argocd.argoproj.io]
spec:
  project: default
  source:
    repoURL: https://github.com/argoproj/argocd-example-apps.git
    chart: guestbook
    helm:
      values: |
        replicas: 1
      valuesObject:
        image: {tag: v2}
  destination: {server: https://kubernetes.default.svc, namespace: guestbook}
"""


def test_argo_application_is_converted_with_notes() -> None:
    converted, notes = convert(parse_manifest(ARGO))
    assert converted["apiVersion"] == APP_API_VERSION
    assert converted["metadata"]["finalizers"] == [RESOURCES_FINALIZER]
    assert yaml.safe_load(converted["spec"]["source"]["helm"]["values"]) == {
        "replicas": 1,
        "image": {"tag": "v2"},
    }
    assert "valuesObject" not in converted["spec"]["source"]["helm"]
    assert notes == [
        f"apiVersion argoproj.io/v1alpha1 -> {APP_API_VERSION}",
        f"finalizer resources-finalizer.argocd.argoproj.io -> {RESOURCES_FINALIZER}",
        "metadata.namespace 'argocd' ignored: applications live in the control namespace",
        "spec.source.helm.valuesObject folded into spec.source.helm.values (YAML)",
    ]


def test_ferry_application_passes_unchanged() -> None:
    app = {
        "apiVersion": APP_API_VERSION,
        "kind": "Application",
        "metadata": {"name": "x"},
        "spec": {"project": "p"},
    }
    assert convert(app) == (app, [])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: [", "not valid YAML"),
        ("a: 1\n---\nb: 2\n", "exactly one Application"),
        ("- 1\n", "exactly one Application"),
        ("apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\n", "kind must be Application"),
        ("apiVersion: v1\nkind: Application\n", "apiVersion must be"),
        (
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec: {sources: []}\n",
            "spec.sources is not supported",
        ),
    ],
)
def test_bad_manifests_say_what_to_fix(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        convert(parse_manifest(text))

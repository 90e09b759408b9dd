"""The real helm and kustomize binaries render the corpus chart (with hooks) and overlays."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from ferry_devenv.tools import tool


def _docs(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def test_helm_template_renders_the_podinfo_chart(corpus: Path) -> None:
    out = subprocess.run(
        [str(tool("helm")), "template", "demo", str(corpus / "charts" / "podinfo"), "--namespace", "web"],
        capture_output=True,
        text=True,
        check=True,
    )
    kinds = {(doc["kind"], doc["metadata"]["name"]) for doc in _docs(out.stdout)}
    assert ("Deployment", "demo-podinfo") in kinds
    assert ("Service", "demo-podinfo") in kinds
    hooks = [doc for doc in _docs(out.stdout) if "helm.sh/hook" in doc["metadata"].get("annotations", {})]
    assert hooks, "the chart's test pods carry helm.sh/hook annotations"


def test_kustomize_builds_the_dev_overlay(corpus: Path) -> None:
    out = subprocess.run(
        [str(tool("kustomize")), "build", str(corpus / "deploy" / "overlays" / "dev")],
        capture_output=True,
        text=True,
        check=True,
    )
    docs = _docs(out.stdout)
    namespaced = [d for d in docs if d["kind"] != "Namespace"]
    assert namespaced
    assert all(d["metadata"]["namespace"] == "dev" for d in namespaced)
    assert {"Deployment", "Service", "StatefulSet", "CronJob"} <= {d["kind"] for d in docs}

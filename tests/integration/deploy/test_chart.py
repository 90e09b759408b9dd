"""deploy/chart/ferrycd, ferry's Helm chart, installs exactly what deploy/base does: the chart is
generated from the Kustomize base by hack/chart.py (and committed up to date), and the real helm
renders it into the base's objects — in another namespace and with other images when told to."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import yaml

from ferry_devenv.tools import tool
from tests.integration.deploy.test_deploy import BASE, ROOT, hack_module, kustomize_build

CHART = ROOT / "deploy" / "chart" / "ferrycd"
Obj = dict[str, Any]


def helm_template(*args: str) -> list[Obj]:
    done = subprocess.run(
        [str(tool("helm")), "template", "ferry", str(CHART), "--include-crds", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [o for o in yaml.safe_load_all(done.stdout) if o]


def keyed(objects: list[Obj]) -> dict[tuple[str, str], str]:
    return {(o["kind"], o["metadata"]["name"]): json.dumps(o, sort_keys=True) for o in objects}


def test_chart_is_generated_from_the_base() -> None:
    chart = hack_module("chart")
    files = chart.render(chart.build_base(str(tool("kustomize"))))
    committed = {str(p.relative_to(CHART)): p.read_text() for p in CHART.rglob("*") if p.is_file()}
    assert committed == files, "deploy/chart/ferrycd is stale: run make chart"


def test_chart_renders_the_bases_objects() -> None:
    base = [o for o in kustomize_build(BASE) if o["kind"] != "Namespace"]
    assert keyed(helm_template("--namespace", "ferry")) == keyed(base)


def test_chart_installs_into_the_release_namespace_with_the_images_asked_for() -> None:
    objects = helm_template(
        "--namespace",
        "team-ferry",
        "--set",
        "image.tag=v9.9.9",
        "--set",
        "redis.image=mirror.example/redis:7",
    )
    namespaced = [o for o in objects if "namespace" in o["metadata"]]
    assert namespaced
    assert {o["metadata"]["namespace"] for o in namespaced} == {"team-ferry"}
    subjects = [s for o in objects for s in o.get("subjects") or [] if s.get("kind") == "ServiceAccount"]
    assert subjects
    assert {s["namespace"] for s in subjects} == {"team-ferry"}
    images = {
        c["image"]
        for o in objects
        if o["kind"] in ("Deployment", "StatefulSet")
        for c in [
            *o["spec"]["template"]["spec"]["containers"],
            *o["spec"]["template"]["spec"].get("initContainers", []),
        ]
    }
    assert images == {"ferrycd/ferry:v9.9.9", "mirror.example/redis:7"}

"""Engine throughput: diff and health over 10,000 real-looking objects.

Objects are the corpus manifests (podinfo: Deployments, Services, StatefulSets, CronJobs, HPAs,
...) repeated under new names, each paired with a live version the way the API server stores it
(defaults, server metadata, managedFields of ferry-controller, status). Baseline in the same run:
``copy.deepcopy`` of every live object — the cheapest thing any comparison must at least do.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from ferry.engine.diff import diff
from ferry.engine.health import HealthChecker

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "corpus" / "podinfo" / "deploy"
N = 10_000


def _manifests() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(CORPUS.rglob("*.yaml")):
        if path.name != "kustomization.yaml" and "overlays" not in path.parts:
            docs += [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict) and "kind" in d]
    return docs


def _owned(value: Any) -> Any:
    if isinstance(value, dict):
        return {f"f:{k}": _owned(v) for k, v in value.items()}
    return {}


def _live(desired: dict[str, Any], index: int) -> dict[str, Any]:
    live = copy.deepcopy(desired)
    meta = live.setdefault("metadata", {})
    meta.update(
        uid=f"uid-{index}",
        resourceVersion=str(1000 + index),
        generation=1,
        creationTimestamp="2026-11-26T10:00:00Z",
        managedFields=[{"manager": "ferry-controller", "operation": "Apply", "fieldsV1": _owned(desired)}],
    )
    spec = live.get("spec")
    if isinstance(spec, dict) and live["kind"] == "Deployment":
        spec.setdefault("strategy", {"type": "RollingUpdate"})
        spec.setdefault("revisionHistoryLimit", 10)
        live["status"] = {
            "observedGeneration": 1,
            "replicas": 1,
            "updatedReplicas": 1,
            "availableReplicas": 1,
        }
    return live


def _pairs() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    base = _manifests()
    pairs = []
    for index in range(N):
        desired = copy.deepcopy(base[index % len(base)])
        desired.setdefault("metadata", {})["name"] = f"{desired['metadata'].get('name', 'x')}-{index}"
        pairs.append((desired, _live(desired, index)))
    return pairs


def _rate(label: str, items: int, work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    elapsed = time.perf_counter() - start
    rate = items / elapsed
    print(f"| {label} | {items} | {elapsed:.3f} s | {rate:,.0f} objects/s |")
    return rate


def run() -> None:
    pairs = _pairs()
    checker = HealthChecker()
    lives = [live for _, live in pairs]
    print(f"{len({d['kind'] for d, _ in pairs})} kinds from the corpus, {N} objects")
    print("| measure | objects | time | rate |\n|---|---|---|---|")
    baseline = _rate("baseline: deepcopy of each live object", N, lambda: [copy.deepcopy(x) for x in lives])
    diffs = _rate("diff (engine prediction)", N, lambda: [diff(d, live) for d, live in pairs])
    health = _rate("health", N, lambda: [checker.check(x) for x in lives])
    drifted = sum(diff(d, live).modified for d, live in pairs)
    print(f"\ndiff is {baseline / diffs:.1f}x the cost of a deepcopy; health {baseline / health:.2f}x")
    print(f"objects reported drifted (expected 0): {drifted}")

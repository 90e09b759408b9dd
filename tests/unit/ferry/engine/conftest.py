"""Real manifests for engine tests: the corpus's plain YAML (Kustomize bases, webapp)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

CORPUS = Path(__file__).resolve().parents[3] / "fixtures" / "corpus" / "podinfo"


def corpus_manifests() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted((CORPUS / "deploy").rglob("*.yaml")):
        if path.name == "kustomization.yaml" or "overlays" in path.parts:
            continue
        docs += [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict) and "kind" in d]
    return docs


@pytest.fixture(scope="session")
def manifests() -> list[dict[str, Any]]:
    docs = corpus_manifests()
    assert len(docs) > 20, f"expected the corpus at {CORPUS}"
    return docs

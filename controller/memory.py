"""What the controller remembers about each app between reconciles, in memory only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from controller.compare import Comparison
from ferry.kube.client import Obj


@dataclass
class AppMemory:
    """What the controller remembers about an app between reconciles (never persisted)."""

    spec_key: str = ""
    manifests: list[Obj] | None = None
    revision: str = ""
    source_type: str = ""
    manifest_error: str = ""
    # consecutive renders that failed because the repo server was unreachable or overloaded
    transient_failures: int = 0
    # consecutive reconciles that found the destination cluster unreachable
    cluster_failures: int = 0
    last_latest: float = 0.0
    cluster: str = ""
    summary: dict[str, Any] = field(default_factory=dict)
    comparison: Comparison | None = None

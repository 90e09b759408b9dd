"""Where the development tools built by ``hack/tools.sh`` live, and a clear error when one is missing."""

from __future__ import annotations

import os
from pathlib import Path


class ToolMissingError(RuntimeError):
    pass


def tools_bin() -> Path:
    """The directory ``hack/tools.sh`` links every tool into (same rule as the script)."""
    cache = os.environ.get("FERRY_TOOLS_CACHE")
    if cache:
        return Path(cache) / "bin"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ferry-tools" / "bin"


def tool(name: str) -> Path:
    """Path of a built tool (kube-apiserver, etcd, helm, kustomize, kwok, grpcurl, ...)."""
    path = tools_bin() / name
    if not path.exists():
        raise ToolMissingError(f"{name} is not built: run `make tools` (looked in {tools_bin()})")
    return path


def kwok_stages() -> Path:
    return tool("kwok-stages.yaml")

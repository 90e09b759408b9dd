"""The CLI's configuration file, ``~/.config/ferry/config`` (mode 0600): servers, their tokens and
the current context — like ``argocd``'s. ``FERRY_SERVER`` / ``FERRY_AUTH_TOKEN`` (or --server /
--auth-token) work without a file."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


def default_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "ferry" / "config"


@dataclass
class Context:
    name: str
    server: str
    token: str = ""
    username: str = ""
    insecure: bool = False
    plaintext: bool = False


@dataclass
class Config:
    path: Path
    contexts: dict[str, Context] = field(default_factory=dict)
    current: str = ""

    @staticmethod
    def load(path: Path) -> Config:
        if not path.exists():
            return Config(path)
        data: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
        contexts = {c["name"]: Context(**c) for c in data.get("contexts") or []}
        return Config(path, contexts, str(data.get("current-context", "")))

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "current-context": self.current,
            "contexts": [vars(c) for c in sorted(self.contexts.values(), key=lambda c: c.name)],
        }
        tmp = self.path.with_suffix(".tmp")
        tmp.touch(mode=0o600)
        tmp.chmod(0o600)
        tmp.write_text(yaml.safe_dump(data, sort_keys=False))
        tmp.replace(self.path)

    def active(self) -> Context | None:
        return self.contexts.get(self.current)

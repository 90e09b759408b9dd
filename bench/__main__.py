"""Runs benchmark suites: ``python -m bench [suite ...]`` (all when none is named)."""

from __future__ import annotations

import importlib
import sys

SUITES = ["engine", "reposerver", "sandbox", "plugins", "rbac", "controller", "sync", "api", "loop"]


def main(argv: list[str]) -> None:
    for name in argv or SUITES:
        if name not in SUITES:
            raise SystemExit(f"unknown suite {name!r}; suites: {', '.join(SUITES)}")
        print(f"## {name}", flush=True)
        importlib.import_module(f"bench.{name}").run()


if __name__ == "__main__":
    main(sys.argv[1:])

"""What `pip install ferrycd` ships: the components and their shared code, never the development
environment (ferry_devenv), the tests or the benchmarks. Checked with setuptools' own discovery
over pyproject.toml's rule, the one a wheel build uses."""

from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools import find_namespace_packages

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_ships_the_components_and_not_the_development_environment() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    rule = project["tool"]["setuptools"]["packages"]["find"]
    packages = find_namespace_packages(where=str(ROOT), include=rule["include"])
    assert {p.split(".")[0] for p in packages} == {
        "ferry",
        "server",
        "controller",
        "reposerver",
        "cmpserver",
        "cli",
        "notifications",
    }
    assert "ferry.v1" in packages
    assert not [p for p in packages if "devenv" in p]
    assert set(project["project"]["scripts"]) >= {
        "ferry",
        "ferry-server",
        "ferry-controller",
        "ferry-reposerver",
    }

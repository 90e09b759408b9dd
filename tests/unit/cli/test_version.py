"""The installed executables answer --version and --help."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ferry import __version__

EXECUTABLES = ["ferry", "ferry-server", "ferry-controller", "ferry-reposerver"]


def _executable(name: str) -> str:
    # The console scripts live next to the interpreter running the tests (the virtualenv).
    candidate = Path(sys.executable).parent / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    assert found, f"{name} is not installed; run `make install`"
    return found


@pytest.mark.parametrize("name", EXECUTABLES)
def test_version(name: str) -> None:
    result = subprocess.run([_executable(name), "--version"], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == f"{name} {__version__}"


@pytest.mark.parametrize("name", EXECUTABLES)
def test_help_lists_options(name: str) -> None:
    result = subprocess.run([_executable(name), "--help"], capture_output=True, text=True, check=True)
    assert f"Usage: {name}" in result.stdout
    assert "--version" in result.stdout


def test_server_flags_have_environment_equivalents() -> None:
    result = subprocess.run(
        [_executable("ferry-reposerver"), "--help"], capture_output=True, text=True, check=True
    )
    assert "FERRY_REPOSERVER_PORT" in result.stdout
    assert "FERRY_REPOSERVER_METRICS_PORT" in result.stdout

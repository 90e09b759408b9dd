"""The generated reference pages match the code: docs/cli-reference.md (the CLI's parser),
docs/api-reference.md (the protos) and the metric tables of docs/metrics.md (the components'
registries). A new flag, RPC or metric without `make docs-gen` fails here, naming the stale page."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_generated_docs_are_current() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "hack" / "docs_gen.py"), "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "up to date" in result.stdout

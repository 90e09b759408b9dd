"""The generated reference pages (docs/cli-reference.md from the CLI's parser, the metric tables
of docs/metrics.md from the components' registries) match the code: a new flag or metric without
`make docs-gen` fails here, naming the stale page."""

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

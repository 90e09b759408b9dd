"""ferry.gotemplate renders every corpus case exactly as Go's text/template + sprig did when the
vectors were recorded (output and error message, byte for byte)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.ferry.gotemplate.corpus import CASES, Case
from tests.unit.ferry.gotemplate.oracle import comparable, render

VECTORS: dict[str, dict[str, str]] = json.loads(Path(__file__).with_name("vectors.json").read_text())


def test_every_case_has_a_recorded_vector() -> None:
    missing = [case.template for case in CASES if case.key() not in VECTORS]
    assert not missing, f"run `python -m tests.unit.ferry.gotemplate.record` for: {missing[:5]}"


@pytest.mark.parametrize("case", CASES, ids=[f"{i}:{c.template[:40]}" for i, c in enumerate(CASES)])
def test_renders_as_go(case: Case) -> None:
    want = VECTORS[case.key()]
    assert comparable(render(case)) == want

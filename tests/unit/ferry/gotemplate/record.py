"""Regenerates vectors.json from the Go oracle: ``python -m tests.unit.ferry.gotemplate.record``."""

from __future__ import annotations

import json
from pathlib import Path

from ferry_devenv.tools import tool
from tests.unit.ferry.gotemplate.corpus import CASES
from tests.unit.ferry.gotemplate.oracle import comparable, run_oracle

VECTORS = Path(__file__).with_name("vectors.json")


def main() -> None:
    results = run_oracle(tool("gotemplate-oracle"), CASES)
    vectors = {case.key(): comparable(result) for case, result in zip(CASES, results, strict=True)}
    VECTORS.write_text(json.dumps(vectors, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    print(f"wrote {len(vectors)} vectors to {VECTORS}")


if __name__ == "__main__":
    main()

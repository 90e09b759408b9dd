"""Differential test: ferry.gotemplate against real Go (text/template + sprig v3.3.0, as Argo CD
calls them), built from the Go module proxy by ``hack/tools.sh gotemplate-oracle``.

The corpus (Argo CD's documented ApplicationSet and notification templates plus one case per
feature and error path) and seeded random templates from the template grammar over random JSON
data (``FERRY_GOTEMPLATE_SEEDS`` batches of 440) must render to the same bytes or fail with the
same message.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ferry.gotemplate import gotime
from ferry_devenv.tools import tool
from tests.unit.ferry.gotemplate.corpus import CASES, DATA, Case
from tests.unit.ferry.gotemplate.oracle import comparable, render, run_oracle

pytestmark = pytest.mark.integration

VECTORS = Path(__file__).parents[3] / "unit" / "ferry" / "gotemplate" / "vectors.json"


@pytest.fixture(scope="module")
def oracle() -> Path:
    return tool("gotemplate-oracle")


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    gotime.local.cache_clear()
    yield
    gotime.local.cache_clear()


def mismatches(cases: list[Case], results: list[dict[str, str]]) -> list[str]:
    report = []
    for case, want in zip(cases, results, strict=True):
        got = comparable(render(case))
        if got != comparable(want):
            report.append(f"{case.template!r} {case.options} {case.funcs}\n  go:    {want}\n  ferry: {got}")
    return report


def test_corpus_matches_go(oracle: Path) -> None:
    results = run_oracle(oracle, CASES)
    report = mismatches(CASES, results)
    assert not report, f"{len(report)} of {len(CASES)} differ:\n" + "\n".join(report[:20])


def test_recorded_vectors_are_what_go_says_now(oracle: Path) -> None:
    """vectors.json (used by the unit tier) is still Go's answer: re-record after changing the corpus."""
    recorded = json.loads(VECTORS.read_text())
    results = run_oracle(oracle, CASES)
    stale = [
        c.template for c, r in zip(CASES, results, strict=True) if recorded.get(c.key()) != comparable(r)
    ]
    assert not stale, f"stale vectors, run python -m tests.unit.ferry.gotemplate.record: {stale[:5]}"


# --- generated templates -----------------------------------------------------------------------------

# keys and values are left out: Go returns them in map order, which is random.
KEYS = ["a", "b", "c", "name", "list", "map"]
FIELDS = [".", ".a", ".b", ".c", ".a.b", ".b.c", ".name", ".list", ".map", ".map.a", ".nope", ".a.nope"]
UNARY = [
    "upper", "lower", "title", "trim", "quote", "squote", "len", "not", "toJson", "toString", "empty",
    "first", "last", "rest", "reverse", "uniq", "sortAlpha", "int", "int64", "float64", "add1", "b64enc",
    "sha256sum", "toYaml", "kindOf", "typeOf", "html", "js", "urlquery", "print", "println", "normalize",
    "compact", "toPrettyJson", "snakecase", "camelcase", "kebabcase", "initials", "nospace", "ceil",
]  # fmt: skip
BINARY = [
    "eq", "ne", "lt", "le", "gt", "ge", "and", "or", "default", "index", "add", "sub", "mul", "max", "min",
    "has", "join", "contains", "hasPrefix", "trimPrefix", "printf", "print", "list", "dict", "coalesce",
    "cat", "append", "without", "hasKey", "get", "pluck", "repeat", "trunc", "indent", "replace", "splitList",
    "regexMatch", "semverCompare", "ternary", "mod", "div", "round", "until", "dig",
]  # fmt: skip


class Generator:
    """Random templates from the template grammar (actions, pipelines, if/with/range, variables,
    builtins and sprig functions over fields of random JSON data), seeded so a failure replays."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def value(self, depth: int = 0) -> Any:
        r = self.rng
        kind = r.randrange(9 if depth < 3 else 5)
        if kind == 0:
            return None
        if kind == 1:
            return r.choice([True, False])
        if kind == 2:
            return r.choice([0, 1, -2, 3, 255, 2**40, -(2**35)])
        if kind == 3:
            return r.choice([0.0, 2.5, -0.5, 1e21, 1e-7, 123456789.0, 3.0, 1e6, 0.1 + 0.2])
        if kind == 4:
            return "".join(r.choice("ab <>&\"'\\\n\té1.-_/") for _ in range(r.randrange(6)))
        if kind in (5, 6):
            return [self.value(depth + 1) for _ in range(r.randrange(4))]
        return {r.choice(KEYS): self.value(depth + 1) for _ in range(r.randrange(4))}

    def data(self) -> dict[str, Any]:
        return {self.rng.choice(KEYS): self.value(1) for _ in range(self.rng.randrange(7))}

    def operand(self) -> str:
        r = self.rng
        pool = r.randrange(3)
        if pool == 0:
            return r.choice(FIELDS)
        if pool == 1:
            return r.choice(LITERALS)
        return r.choice(["$", "$x", "$.a"])

    def expression(self, depth: int = 0) -> str:
        r = self.rng
        kind = r.randrange(5 if depth < 2 else 2)
        if kind == 0:
            return self.operand()
        if kind == 1:
            return f"{r.choice(UNARY)} {self.operand()}"
        if kind == 2:
            return f"{r.choice(BINARY)} {self.operand()} {self.operand()}"
        if kind == 3:
            return f"{self.operand()} | {r.choice(UNARY)}"
        return f"{r.choice(BINARY)} ({self.expression(depth + 1)}) {self.operand()}"

    def template(self, depth: int = 0) -> str:
        r = self.rng
        parts = [] if depth else ['{{ $x := "v" }}']
        for _ in range(r.randrange(1, 4)):
            kind = r.randrange(6 if depth < 2 else 2)
            expr = self.expression()
            if kind == 0:
                parts.append(r.choice(["text ", "\n", " ", "a\n  b"]))
            elif kind == 1:
                parts.append("{{" + r.choice(["", "- "]) + expr + r.choice([" }}", " -}}"]))
            elif kind == 2:
                parts.append("{{ if " + expr + " }}" + self.template(depth + 1) + "{{ else }}E{{ end }}")
            elif kind == 3:
                parts.append("{{ with " + expr + " }}" + self.template(depth + 1) + "{{ end }}")
            elif kind == 4:
                body = self.template(depth + 1)
                parts.append(
                    "{{ range $i, $v := " + expr + " }}[{{ $i }}:{{ $v }}]" + body + "{{ else }}none{{ end }}"
                )
            else:
                parts.append("{{ $x = " + expr + " }}{{ $x }}")
        return "".join(parts)


LITERALS = ['"x"', '"a b"', "1", "0", "-2", "2.5", "true", "false", "nil", '"%v-%d"', "'a'", "1e3", '"1.2.3"']
OPTIONS: list[tuple[str, ...]] = [(), ("missingkey=error",), ("missingkey=zero",)]
SEEDS = int(os.environ.get("FERRY_GOTEMPLATE_SEEDS", "4"))
BATCH = 400


@pytest.mark.parametrize("seed", range(SEEDS))
def test_generated_templates_match_go(oracle: Path, seed: int) -> None:
    gen = Generator(seed)
    cases = [Case(gen.template(), gen.data(), gen.rng.choice(OPTIONS)) for _ in range(BATCH)]
    cases += [Case(gen.template(), DATA, gen.rng.choice(OPTIONS)) for _ in range(BATCH // 10)]
    report = mismatches(cases, run_oracle(oracle, cases))
    assert not report, f"seed {seed}: {len(report)} of {len(cases)} differ:\n" + "\n".join(report[:10])

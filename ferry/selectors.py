"""Kubernetes label selectors (``team=web,tier!=db,env in (prod,staging),!legacy,canary``),
parsed once and matched against label maps."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from ferry.errors import InvalidArgument

_SET = re.compile(r"^\s*([A-Za-z0-9./_-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQ = re.compile(r"^\s*([A-Za-z0-9./_-]+)\s*(==|=|!=)\s*([A-Za-z0-9._-]*)\s*$")
_EXISTS = re.compile(r"^\s*(!?)\s*([A-Za-z0-9./_-]+)\s*$")

Matcher = Callable[[Mapping[str, str]], bool]


def _terms(text: str) -> list[str]:
    terms, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    if current.strip():
        terms.append(current)
    return terms


def _in(key: str, values: set[str], *, negate: bool) -> Matcher:
    return lambda labels: (labels.get(key) in values) != negate


def _equals(key: str, value: str, *, negate: bool) -> Matcher:
    return lambda labels: (labels.get(key) == value) != negate


def _exists(key: str, *, negate: bool) -> Matcher:
    return lambda labels: (key in labels) != negate


def parse(selector: str) -> Matcher:
    """A matcher for ``selector``; INVALID_ARGUMENT naming the term that does not parse."""
    checks: list[Matcher] = []
    for term in _terms(selector or ""):
        if match := _SET.match(term):
            values = {v.strip() for v in match.group(3).split(",") if v.strip()}
            checks.append(_in(match.group(1), values, negate=match.group(2) == "notin"))
        elif match := _EQ.match(term):
            checks.append(_equals(match.group(1), match.group(3), negate=match.group(2) == "!="))
        elif match := _EXISTS.match(term):
            checks.append(_exists(match.group(2), negate=bool(match.group(1))))
        else:
            raise InvalidArgument(f"invalid label selector {selector!r}: cannot parse {term.strip()!r}")
    return lambda labels: all(check(labels) for check in checks)

"""Masterminds/semver v3.3 (sprig's ``semver`` and ``semverCompare``): versions, their order, and
constraints (``>= 1.2, < 2``, ``~1.2``, ``^1``, ``1.2.x``, ``1 - 2``, ``||``) with its exact rules,
including that a constraint without a prerelease never matches a prerelease version.

Matching uses RE2 (linear time), as Go's regexp does.
"""

from __future__ import annotations

from typing import Any

import re2

from ferry.gotemplate.errors import FuncError
from ferry.gotemplate.values import BOOL, INT64, STRING, GoFunc, GoObject, GoType, Signature

_SEMVER = (
    r"v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?"
    r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
    r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
)
_CV = (
    r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?"
    r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
    r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
)
_OPS = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^"

_VERSION_RE = re2.compile("^" + _SEMVER + "$")
_CONSTRAINT_RE = re2.compile(rf"^\s*({_OPS})\s*({_CV})\s*$")
_RANGE_RE = re2.compile(rf"\s*({_CV})\s+-\s+({_CV})\s*")
_FIND_RE = re2.compile(rf"({_OPS})\s*({_CV})")
_VALID_RE = re2.compile(rf"^(\s*({_OPS})\s*({_CV})\s*)((?:\s+|,\s*)({_OPS})\s*({_CV})\s*)*$")

VERSION_TYPE = GoType("*semver.Version", "ptr")
_UINT64_MAX = (1 << 64) - 1


class Version(GoObject):
    go_type = VERSION_TYPE

    def __init__(self, major: int, minor: int, patch: int, pre: str, metadata: str, original: str) -> None:
        self.major, self.minor, self.patch = major, minor, patch
        self.pre, self.metadata, self.original = pre, metadata, original

    def go_string(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.pre:
            text += "-" + self.pre
        if self.metadata:
            text += "+" + self.metadata
        return text

    def go_fields(self) -> dict[str, Any] | None:
        return None

    def compare(self, other: Version) -> int:
        for a, b in ((self.major, other.major), (self.minor, other.minor), (self.patch, other.patch)):
            if a != b:
                return -1 if a < b else 1
        if not self.pre and not other.pre:
            return 0
        if not self.pre:
            return 1
        if not other.pre:
            return -1
        return _compare_prerelease(self.pre, other.pre)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self.compare(other) == 0 and self.metadata == other.metadata

    def __hash__(self) -> int:
        return hash((self.major, self.minor, self.patch, self.pre))


def _compare_prerelease(a: str, b: str) -> int:
    aparts, bparts = a.split("."), b.split(".")
    for i in range(max(len(aparts), len(bparts))):
        d = _compare_part(aparts[i] if i < len(aparts) else "", bparts[i] if i < len(bparts) else "")
        if d:
            return d
    return 0


def _compare_part(s: str, o: str) -> int:
    if s == o:
        return 0
    if s == "":
        return -1
    if o == "":
        return 1
    s_num, o_num = s.isdigit() and s.isascii(), o.isdigit() and o.isascii()
    if not s_num and not o_num:
        return 1 if s > o else -1
    if not o_num:
        return -1
    if not s_num:
        return 1
    return 1 if int(s) > int(o) else -1


def parse_version(text: str) -> Version:
    match = _VERSION_RE.match(text)
    if match is None:
        raise FuncError("Invalid Semantic Version")
    parts = [int(match.group(1)), int((match.group(2) or ".0")[1:]), int((match.group(3) or ".0")[1:])]
    if any(p > _UINT64_MAX for p in parts):
        raise FuncError("Error parsing version segment: value out of range")
    pre, metadata = match.group(5) or "", match.group(8) or ""
    for segment in pre.split(".") if pre else []:
        if segment.isdigit() and len(segment) > 1 and segment.startswith("0"):
            raise FuncError("Version segment starts with 0")
    return Version(parts[0], parts[1], parts[2], pre, metadata, text)


def _is_x(text: str) -> bool:
    return text in ("x", "*", "X")


class _Constraint:
    def __init__(self, text: str) -> None:
        if not text:
            self.con, self.orig, self.op = parse_version("0.0.0"), text, ""
            self.dirty, self.minor_dirty, self.patch_dirty = True, False, False
            return
        match = _CONSTRAINT_RE.match(text)
        if match is None:
            raise FuncError(f"improper constraint: {text}")
        self.op, self.orig = match.group(1), match.group(2)
        m3, m4, m5, m6 = (match.group(i) or "" for i in (3, 4, 5, 6))
        self.dirty = self.minor_dirty = self.patch_dirty = False
        if _is_x(m3) or m3 == "":
            ver, self.dirty = f"0.0.0{m6}", True
        elif _is_x(m4.removeprefix(".")) or m4 == "":
            ver, self.dirty, self.minor_dirty = f"{m3}.0.0{m6}", True, True
        elif _is_x(m5.removeprefix(".")) or m5 == "":
            ver, self.dirty, self.patch_dirty = f"{m3}{m4}.0{m6}", True, True
        else:
            ver = match.group(2)
        try:
            self.con = parse_version(ver)
        except FuncError:
            raise FuncError("constraint Parser Error") from None

    def check(self, v: Version) -> bool:
        c = self.con
        op = self.op
        pre_refused = bool(v.pre) and not c.pre
        if op in ("", "="):
            if pre_refused:
                return False
            if self.dirty:
                return self._tilde(v)
            return v.compare(c) == 0
        if op == "!=":
            if self.dirty:
                if v.pre and not c.pre:
                    return False
                if c.major != v.major:
                    return True
                if c.minor != v.minor and not self.minor_dirty:
                    return True
                if self.minor_dirty:
                    return False
                if c.patch != v.patch and not self.patch_dirty:
                    return True
                if self.patch_dirty:
                    if v.pre or c.pre:
                        return _compare_prerelease(v.pre, c.pre) != 0
                    return False
            return v.compare(c) != 0
        if pre_refused:
            return False
        if op == ">":
            if not self.dirty:
                return v.compare(c) == 1
            if v.major != c.major:
                return v.major > c.major
            if self.minor_dirty:
                return False
            if self.patch_dirty:
                return v.minor > c.minor
            return v.compare(c) == 1
        if op == "<":
            return v.compare(c) < 0
        if op in (">=", "=>"):
            return v.compare(c) >= 0
        if op in ("<=", "=<"):
            if not self.dirty:
                return v.compare(c) <= 0
            if v.major > c.major:
                return False
            return not (v.major == c.major and v.minor > c.minor and not self.minor_dirty)
        if op in ("~", "~>"):
            return self._tilde(v)
        if op == "^":
            if v.compare(c) < 0:
                return False
            if c.major > 0 or self.minor_dirty:
                return v.major == c.major
            if c.major == 0 and v.major > 0:
                return False
            if c.minor > 0 or self.patch_dirty:
                return v.minor == c.minor
            if c.minor == 0 and v.minor > 0:
                return False
            return c.patch == v.patch
        raise FuncError(f"improper constraint: {op}{self.orig}")

    def _tilde(self, v: Version) -> bool:
        c = self.con
        if v.pre and not c.pre:
            return False
        if v.compare(c) < 0:
            return False
        if c.major == 0 and c.minor == 0 and c.patch == 0 and not self.minor_dirty and not self.patch_dirty:
            return True
        if v.major != c.major:
            return False
        return not (v.minor != c.minor and not self.minor_dirty)


def parse_constraints(text: str) -> list[list[_Constraint]]:
    for match in list(_RANGE_RE.finditer(text)):
        text = text.replace(match.group(0), f">= {match.group(1)}, <= {match.group(11)} ", 1)
    result: list[list[_Constraint]] = []
    for part in text.split("||"):
        if not _VALID_RE.match(part):
            raise FuncError(f"improper constraint: {part}")
        found = [m.group(0) for m in _FIND_RE.finditer(part)] or [part]
        result.append([_Constraint(s) for s in found])
    return result


def semver_compare(constraint: str, version: str) -> bool:
    ors = parse_constraints(constraint)
    v = parse_version(version)
    return any(all(c.check(v) for c in group) for group in ors)


def _m(name: str, impl: Any, *params: GoType, result: GoType) -> GoFunc:
    return GoFunc(name, Signature(params, None, result, False), impl)


Version.go_methods = {
    "Major": _m("Major", lambda v: v.major, result=GoType("uint64", "uint64")),
    "Minor": _m("Minor", lambda v: v.minor, result=GoType("uint64", "uint64")),
    "Patch": _m("Patch", lambda v: v.patch, result=GoType("uint64", "uint64")),
    "Prerelease": _m("Prerelease", lambda v: v.pre, result=STRING),
    "Metadata": _m("Metadata", lambda v: v.metadata, result=STRING),
    "Original": _m("Original", lambda v: v.original, result=STRING),
    "String": _m("String", lambda v: v.go_string(), result=STRING),
    "LessThan": _m("LessThan", lambda v, o: v.compare(o) < 0, VERSION_TYPE, result=BOOL),
    "GreaterThan": _m("GreaterThan", lambda v, o: v.compare(o) > 0, VERSION_TYPE, result=BOOL),
    "Equal": _m("Equal", lambda v, o: v.compare(o) == 0, VERSION_TYPE, result=BOOL),
    "Compare": _m("Compare", lambda v, o: v.compare(o), VERSION_TYPE, result=GoType("int", "int")),
}
_ = INT64

"""Turning what a user wrote as ``targetRevision`` into a commit SHA, as Argo CD does:
empty or HEAD (the remote's default branch), a branch, a tag, a full SHA, an abbreviated SHA
(7+ hex characters), or a semver constraint over tags (``>=1.2.0 <2``, ``~1.2``, ``^1``,
``1.2.*``; commas mean "and", ``||`` "or", as in Helm and Argo CD).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import semantic_version

_FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
_SHORT_SHA = re.compile(r"^[0-9a-f]{7,39}$")
_CONSTRAINT_CHARS = re.compile(r"[<>=~^*xX|, ]|^\d+(\.\d+)?$")


def is_full_sha(revision: str) -> bool:
    return bool(_FULL_SHA.match(revision))


def is_short_sha(revision: str) -> bool:
    return bool(_SHORT_SHA.match(revision))


def _version(tag: str) -> semantic_version.Version | None:
    try:
        return semantic_version.Version.coerce(tag.removeprefix("v")) if re.match(r"^v?\d", tag) else None
    except ValueError:
        return None


def parse_constraint(text: str) -> semantic_version.NpmSpec | None:
    """A semver constraint, or None when ``text`` is not one (a plain branch or tag name)."""
    if not _CONSTRAINT_CHARS.search(text):
        return None
    spec = re.sub(r"([<>=~^]+)\s+", r"\1", text.strip())  # ">= 1.2" -> ">=1.2"
    spec = re.sub(r"\s*,\s*", " ", spec)  # Masterminds' "and" comma -> npm's space
    spec = re.sub(r"(?<![\w.])v(?=\d)", "", spec)
    try:
        return semantic_version.NpmSpec(spec)
    except ValueError:
        return None


def best_tag(tags: list[str], constraint: semantic_version.NpmSpec) -> str | None:
    """The highest tag satisfying ``constraint`` (pre-releases only when the constraint names one)."""
    candidates = []
    for tag in tags:
        version = _version(tag)
        if version is not None and constraint.match(version):
            candidates.append((version, tag))
    return max(candidates)[1] if candidates else None


def resolve_from_refs(revision: str, refs: Mapping[str, str], head: str | None) -> str | None:
    """The commit SHA ``revision`` names among the remote's refs; None when no ref matches
    (the caller then tries it as an abbreviated SHA)."""
    revision = revision.strip()
    if revision in ("", "HEAD"):
        if head and head in refs:
            return refs[head]
        return refs.get("HEAD")
    if is_full_sha(revision):
        return revision
    for name in (revision, f"refs/heads/{revision}", f"refs/tags/{revision}"):
        if name in refs:
            return refs[name]
    constraint = parse_constraint(revision)
    if constraint is not None:
        tags = [name.removeprefix("refs/tags/") for name in refs if name.startswith("refs/tags/")]
        tag = best_tag(tags, constraint)
        if tag is not None:
            return refs[f"refs/tags/{tag}"]
    return None

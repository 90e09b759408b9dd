"""Removing credentials from text before it reaches a log, an error message or a metric label."""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "******"
_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")
# userinfo as URL parsers see it: it ends at the first '/', '?' or '#', so text after a query or
# fragment mark is never taken for userinfo (``https://evil?@charts.corp/x`` keeps its host)
_STRICT_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s?#]+@")
_AUTH_HEADER = re.compile(r"(?i)(authorization:\s*(?:basic|bearer)\s+)\S+")


def strip_userinfo(url: str) -> str:
    """``https://user:pw@host/x`` -> ``https://host/x`` (for display; credential look-up and
    caches use ferry.repourl.parse)."""
    return _STRICT_USERINFO.sub(r"\g<scheme>", url)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Replaces every given secret (and URL userinfo, Authorization header values) in ``text``."""
    for secret in sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}{REDACTED}@", text)
    return _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{REDACTED}", text)

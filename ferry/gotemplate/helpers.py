"""Argo CD's expression helpers ``time`` and ``strings`` (util/notification/expression), which the
notifications controller puts into both template data (``{{ call .time.Parse ... }}``) and trigger
conditions (``time.Now().Sub(...)``)."""

from __future__ import annotations

from typing import Any

from ferry.gotemplate.errors import FuncError
from ferry.gotemplate.gotime import (
    HOUR,
    LAYOUTS,
    MICROSECOND,
    MILLISECOND,
    MINUTE,
    RFC3339,
    SECOND,
    Duration,
    GoTime,
    parse_time,
)
from ferry.gotemplate.values import STRING, TIME, GoFunc, Signature


def _parse(timestamp: str) -> GoTime:
    try:
        return parse_time(RFC3339, timestamp)
    except ValueError as err:
        raise FuncError(str(err)) from None


def time_helpers() -> dict[str, Any]:
    helpers: dict[str, Any] = {
        "Parse": GoFunc("Parse", Signature((STRING,), None, TIME, False), _parse),
        "Now": GoFunc("Now", Signature((), None, TIME, False), GoTime.now),
        "Nanosecond": Duration(1),
        "Microsecond": Duration(MICROSECOND),
        "Millisecond": Duration(MILLISECOND),
        "Second": Duration(SECOND),
        "Minute": Duration(MINUTE),
        "Hour": Duration(HOUR),
    }
    helpers.update(LAYOUTS)
    return helpers


def strings_helpers() -> dict[str, Any]:
    from ferry.gotemplate.sprig import _lower, _upper  # noqa: PLC0415

    def replace_all(s: str, old: str, new: str) -> str:
        if old == "":
            return new + "".join(ch + new for ch in s)
        return s.replace(old, new)

    return {
        "ReplaceAll": GoFunc(
            "ReplaceAll", Signature((STRING, STRING, STRING), None, STRING, False), replace_all
        ),
        "ToUpper": GoFunc("ToUpper", Signature((STRING,), None, STRING, False), _upper),
        "ToLower": GoFunc("ToLower", Signature((STRING,), None, STRING, False), _lower),
    }

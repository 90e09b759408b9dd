"""Sprig v3.3 (github.com/Masterminds/sprig) template functions, ported from its source with the
same signatures, conversions (spf13/cast), quirks and error messages, plus Argo CD's additions.

Left out on purpose: ``env``, ``expandenv`` and ``getHostByName`` (they reveal the environment; Argo
CD's ApplicationSet controller removes them too) and the key/certificate generators (``genCA``,
``genPrivateKey``, ``buildCustomCert``, ``derivePassword``, ``encryptAES``...). Everything here is
pure except ``now``/``date`` (the clock), the ``rand*`` functions and ``uuidv4``.
"""

from __future__ import annotations

import base64
import binascii
import copy
import decimal
import hashlib
import math
import posixpath
import random
import secrets
import string
import unicodedata
import urllib.parse
import uuid
import zlib
from collections.abc import Callable
from typing import Any

import re2

from ferry.gotemplate import encoding, gofmt, gotime, semver
from ferry.gotemplate.errors import FuncError
from ferry.gotemplate.gotime import Duration, GoTime
from ferry.gotemplate.values import (
    ANY,
    BOOL,
    FLOAT64,
    INT,
    INT64,
    INTLIST,
    LIST,
    MAP,
    NO_VALUE,
    STRING,
    STRLIST,
    STRMAP,
    TIME,
    GoFunc,
    GoInt,
    GoObject,
    GoType,
    IntList,
    NilList,
    Signature,
    StrList,
    StrMap,
    go_equal,
    is_empty,
    kind_of,
    type_name,
)

MAX_BUILD = 1 << 20  # characters or items a single call may build (repeat, until, indent ...)

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


def _guard(size: int, what: str) -> None:
    if size > MAX_BUILD:
        raise FuncError(f"{what}: result would exceed {MAX_BUILD} elements")


def _wrap64(value: int) -> int:
    """Go's int64 overflow wraps around."""
    return (value - INT64_MIN) % (1 << 64) + INT64_MIN


def _b(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _s(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


# --- cast ----------------------------------------------------------------------------------------------


def _float_to_int64(value: float) -> int:
    if math.isnan(value) or math.isinf(value) or not INT64_MIN <= value < 2**63:
        return INT64_MIN  # what amd64 gives for out-of-range conversions
    return int(value)


def _trim_zero_decimal(text: str) -> str:
    found_zero = False
    for i in range(len(text), 0, -1):
        ch = text[i - 1]
        if ch == ".":
            if found_zero:
                return text[: i - 1]
        elif ch == "0":
            found_zero = True
        else:
            return text
    return text


def _parse_int(text: str) -> int | None:
    from ferry.gotemplate.parse import INT64_MAX as MAX  # noqa: PLC0415
    from ferry.gotemplate.parse import INT64_MIN as MIN  # noqa: PLC0415
    from ferry.gotemplate.parse import parse_go_int  # noqa: PLC0415

    value = parse_go_int(text)
    if value is None or not MIN <= value <= MAX:
        return None
    return value


def to_int64(value: Any) -> int:
    """cast.ToInt64."""
    if value is None or value is NO_VALUE:
        return 0
    if isinstance(value, bool):
        return 1 if value else 0
    if isinstance(value, Duration):
        return 0
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return _float_to_int64(value)
    if isinstance(value, str):
        parsed = _parse_int(_trim_zero_decimal(value))
        return parsed if parsed is not None else 0
    return 0


def to_float64(value: Any) -> float:
    """cast.ToFloat64."""
    if value is None or value is NO_VALUE:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, Duration):
        return 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        parsed = _parse_float(value)
        return parsed if parsed is not None else 0.0
    return 0.0


def _parse_float(text: str) -> float | None:
    """strconv.ParseFloat(text, 64)."""
    lowered = text.lower().lstrip("+-")
    if lowered in ("inf", "infinity"):
        return -math.inf if text.startswith("-") else math.inf
    if lowered == "nan":
        return math.nan
    from ferry.gotemplate.parse import parse_go_float  # noqa: PLC0415

    if "_" in text:
        return None
    value = parse_go_float(text)
    if value is None:
        return None
    return value


# --- strings -------------------------------------------------------------------------------------------

GO_SPACE = frozenset("\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008")
GO_SPACE = GO_SPACE | frozenset("\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


def _trim_space(text: str) -> str:
    start, end = 0, len(text)
    while start < end and text[start] in GO_SPACE:
        start += 1
    while end > start and text[end - 1] in GO_SPACE:
        end -= 1
    return text[start:end]


def _upper_rune(ch: str) -> str:
    up = ch.upper()
    return up if len(up) == 1 else ch


def _lower_rune(ch: str) -> str:
    low = ch.lower()
    return low if len(low) == 1 else ch


def _title_rune(ch: str) -> str:
    t = ch.title()
    return t if len(t) == 1 else _upper_rune(ch)


def _upper(text: str) -> str:
    return "".join(_upper_rune(c) for c in text)


def _lower(text: str) -> str:
    return "".join(_lower_rune(c) for c in text)


def _is_letter(ch: str) -> bool:
    return unicodedata.category(ch).startswith("L")


def _is_digit(ch: str) -> bool:
    return unicodedata.category(ch) == "Nd"


def _title(text: str) -> str:
    """strings.Title."""

    def separator(ch: str) -> bool:
        if ord(ch) <= 0x7F:
            return not (ch.isalnum() or ch == "_")
        if _is_letter(ch) or _is_digit(ch):
            return False
        return ch in GO_SPACE

    out: list[str] = []
    prev = " "
    for ch in text:
        out.append(_title_rune(ch) if separator(prev) else ch)
        prev = ch
    return "".join(out)


def _untitle(text: str) -> str:
    out: list[str] = []
    cap = True
    for ch in text:
        if ch in GO_SPACE:
            cap = True
            out.append(ch)
        elif cap:
            out.append(_lower_rune(ch))
            cap = False
        else:
            out.append(ch)
    return "".join(out)


def _abbreviate_full(text: str, offset: int, width: int) -> str:
    data = _b(text)
    if not data:
        return ""
    if width < 4:
        raise FuncError("stringutils illegal argument: Minimum abbreviation width is 4")
    if len(data) <= width:
        return text
    offset = min(offset, len(data))
    if len(data) - offset < width - 3:
        offset = len(data) - (width - 3)
    if offset <= 4:
        return _s(data[: width - 3]) + "..."
    if width < 7:
        raise FuncError("stringutils illegal argument: Minimum abbreviation width with offset is 7")
    if offset + width - 3 < len(data):
        return "..." + _abbreviate_full(_s(data[offset:]), 0, width - 3)
    return "..." + _s(data[len(data) - (width - 3) :])


def _abbrev(width: int, text: str) -> str:
    if width < 4:
        return text
    try:
        return _abbreviate_full(text, 0, width)
    except FuncError:
        return ""


def _abbrevboth(left: int, right: int, text: str) -> str:
    if right < 4 or (left > 0 and right < 7):
        return text
    try:
        return _abbreviate_full(text, left, right)
    except FuncError:
        return ""


def _trunc(count: int, text: str) -> str:
    data = _b(text)
    if count < 0 and len(data) + count > 0:
        return _s(data[len(data) + count :])
    if count >= 0 and len(data) > count:
        return _s(data[:count])
    return text


def _substr(start: int, end: int, text: str) -> str:
    data = _b(text)
    if start < 0:
        if end < 0 or end > len(data):
            raise FuncError(f"runtime error: slice bounds out of range [:{end}] with length {len(data)}")
        return _s(data[:end])
    if end < 0 or end > len(data):
        if start > len(data):
            raise FuncError(f"runtime error: slice bounds out of range [{start}:{len(data)}]")
        return _s(data[start:])
    if start > end:
        raise FuncError(f"runtime error: slice bounds out of range [{start}:{end}]")
    return _s(data[start:end])


def _repeat(count: int, text: str) -> str:
    if count < 0:
        raise FuncError("strings: negative Repeat count")
    _guard(count * len(text), "repeat")
    return text * count


def _trim_cutset(text: str, cutset: str) -> str:
    chars = set(cutset)
    start, end = 0, len(text)
    while start < end and text[start] in chars:
        start += 1
    while end > start and text[end - 1] in chars:
        end -= 1
    return text[start:end]


def _initials(text: str) -> str:
    out: list[str] = []
    last_space = True
    for ch in text:
        is_space = ch in GO_SPACE
        if last_space and not is_space:
            out.append(ch)
        last_space = is_space
    return "".join(out)


def _swapcase(text: str) -> str:
    out: list[str] = []
    whitespace = True
    for ch in text:
        if ch.isupper() or unicodedata.category(ch) == "Lt":
            out.append(_lower_rune(ch))
        elif ch.islower():
            out.append(_title_rune(ch) if whitespace else _upper_rune(ch))
        else:
            out.append(ch)
        whitespace = ch in GO_SPACE
    return "".join(out)


def _wrap_custom(text: str, length: int, newline: str, long_words: bool) -> str:
    if text == "":
        return ""
    newline = newline or "\n"
    length = max(length, 1)
    data = _b(text)
    total, offset = len(data), 0
    out = bytearray()
    nl = _b(newline)
    while total - offset > length:
        if data[offset] == ord(" "):
            offset += 1
            continue
        end = length + offset + 1
        space = data.rfind(b" ", offset, end)
        if space >= offset:
            out += data[offset:space] + nl
            offset = space + 1
        elif long_words:
            out += data[offset : offset + length] + nl
            offset += length
        else:
            end = length + offset
            index = data.find(b" ", end)
            if index == -1:
                out += data[offset:]
                offset = total
            else:
                out += data[offset:index] + nl
                offset = index + 1
    out += data[offset:]
    return _s(bytes(out))


def _is_connector(ch: str) -> bool:
    return ch in ("-", "_") or ch in GO_SPACE


def _is_alphabet(ch: str) -> bool:
    if not _is_letter(ch):
        return False
    code = ord(ch)
    if code < 0x3400:
        return True
    return not (0x4E00 <= code <= 0x9FCC or 0x3400 <= code <= 0x4D85 or 0x20000 <= code <= 0x2FA1F)


def _camelcase(text: str) -> str:
    """xstrings.ToPascalCase (toCamelCase with isBig), rune for rune."""
    if not text:
        return ""
    out: list[str] = []
    chars = list(text)
    i = 0
    r0 = ""
    first_upper = False
    while i < len(chars):
        r0 = chars[i]
        i += 1
        if not _is_connector(r0):
            first_upper = r0.isupper()
            r0 = _upper_rune(r0)
            break
        out.append(r0)
    if i >= len(chars):
        out.append(r0)  # the special case of one rune left: written (again, for a connector)
        return "".join(out)
    while i < len(chars):
        r1 = r0
        r0 = chars[i]
        i += 1
        if _is_connector(r0) and _is_connector(r1):
            out.append(r1)
            continue
        if _is_connector(r1):
            first_upper = r0.isupper()
            r0 = _upper_rune(r0)
        else:
            if first_upper:
                if r0.isupper():
                    r0 = _lower_rune(r0)
                else:
                    first_upper = False
            out.append(r1)
    out.append(r0)
    return "".join(out)


_NUMBER, _UPPER, _ALPHA, _CONNECTOR, _PUNCT, _OTHER = range(1, 7)


def _is_punct(ch: str) -> bool:
    return unicodedata.category(ch).startswith("P")


def _is_number(ch: str) -> bool:
    return unicodedata.category(ch).startswith("N")


def _next_word(text: str) -> tuple[int, str, str]:
    if not text:
        return 0, "", ""
    r = text[0]
    offset = 1
    if _is_connector(r):
        wt = _CONNECTOR
        while offset < len(text) and _is_connector(text[offset]):
            offset += 1
    elif _is_punct(r):
        wt = _PUNCT
        while offset < len(text) and _is_punct(text[offset]):
            offset += 1
    elif r.isupper():
        wt = _UPPER
        if offset < len(text):
            r2 = text[offset]
            if r2.isupper():
                offset += 1
                while offset < len(text) and text[offset].isupper():
                    offset += 1
                if offset < len(text) and _is_alphabet(text[offset]):
                    offset -= 1
            elif _is_alphabet(r2):
                offset += 1
                while offset < len(text) and _is_alphabet(text[offset]) and not text[offset].isupper():
                    offset += 1
    elif _is_alphabet(r):
        wt = _ALPHA
        while offset < len(text) and _is_alphabet(text[offset]) and not text[offset].isupper():
            offset += 1
    elif _is_number(r):
        wt = _NUMBER
        while offset < len(text) and _is_number(text[offset]):
            offset += 1
    else:
        wt = _OTHER
        while offset < len(text):
            c = text[offset]
            if _is_connector(c) or _is_alphabet(c) or _is_number(c) or _is_punct(c):
                break
            offset += 1
    return wt, text[:offset], text[offset:]


def _to_lower_word(out: list[str], wt: int, word: str, connector: str) -> None:
    if wt not in (_UPPER, _CONNECTOR):
        out.append(word)
        return
    for ch in word:
        if _is_connector(ch):
            out.append(connector)
        elif ch.isupper():
            out.append(_lower_rune(ch))
        else:
            out.append(ch)


def _camel_to_lower(text: str, connector: str) -> str:
    """xstrings.camelCaseToLowerCase (snakecase, kebabcase)."""
    if not text:
        return ""
    out: list[str] = []
    wt, word, remaining = _next_word(text)
    while remaining:
        if wt != _CONNECTOR:
            _to_lower_word(out, wt, word, connector)
        prev, last = wt, word
        wt, word, remaining = _next_word(remaining)
        if prev == _NUMBER:
            while wt in (_ALPHA, _NUMBER):
                _to_lower_word(out, wt, word, connector)
                wt, word, remaining = _next_word(remaining)
            if wt not in (0, _PUNCT, _CONNECTOR):
                out.append(connector)
        elif prev == _CONNECTOR:
            _to_lower_word(out, prev, last, connector)
        elif prev == _PUNCT:
            pass
        else:
            if wt != _NUMBER:
                if wt not in (_CONNECTOR, _PUNCT):
                    out.append(connector)
                continue
            if not remaining:
                continue
            last = word
            wt, word, remaining = _next_word(remaining)
            if wt != _ALPHA:
                _to_lower_word(out, _NUMBER, last, connector)
                if wt not in (_CONNECTOR, _PUNCT):
                    out.append(connector)
                continue
            out.append(connector)
            _to_lower_word(out, _NUMBER, last, connector)
            while wt in (_ALPHA, _NUMBER):
                _to_lower_word(out, wt, word, connector)
                wt, word, remaining = _next_word(remaining)
            if wt not in (0, _CONNECTOR, _PUNCT):
                out.append(connector)
    _to_lower_word(out, wt, word, connector)
    return "".join(out)


def strval(value: Any) -> str:
    """sprig's strval: strings as they are, Stringers through String(), else %v."""
    if isinstance(value, str):
        return value
    if isinstance(value, GoObject):
        text = value.go_string()
        if text is not None:
            return text
    return gofmt.sprintf("%v", value)


def strslice(value: Any) -> list[str]:
    if isinstance(value, StrList):
        return StrList(value)
    if isinstance(value, list):
        return StrList(strval(v) for v in value if v is not None)
    if value is None or value is NO_VALUE:
        return StrList()
    return StrList([strval(value)])


def _quote(*args: Any) -> str:
    return " ".join(gofmt.quote(strval(a)) for a in args if a is not None)


def _squote(*args: Any) -> str:
    return " ".join("'" + gofmt.sprintf("%v", a) + "'" for a in args if a is not None)


def _cat(*args: Any) -> str:
    values = [a for a in args if a is not None]
    return gofmt.sprintf(" ".join(["%v"] * len(values)), *values)


def _indent(spaces: int, text: str) -> str:
    if spaces < 0:
        raise FuncError("strings: negative Repeat count")
    pad = " " * spaces
    _guard(len(text) + (text.count("\n") + 1) * len(pad), "indent")
    return pad + text.replace("\n", "\n" + pad)


def _split_go(text: str, sep: str, n: int = -1) -> list[str]:
    """strings.SplitN."""
    if n == 0:
        return []
    if sep == "":
        chars = list(text)
        if n > 0 and len(chars) > n:
            return [*chars[: n - 1], "".join(chars[n - 1 :])]
        return chars
    if n < 0:
        return text.split(sep)
    return text.split(sep, n - 1)


def _split(sep: str, orig: str) -> StrMap:
    return StrMap({f"_{i}": part for i, part in enumerate(_split_go(orig, sep))})


def _splitn(sep: str, n: int, orig: str) -> StrMap:
    return StrMap({f"_{i}": part for i, part in enumerate(_split_go(orig, sep, n))})


def _nospace(text: str) -> str:
    return "".join(c for c in text if c not in GO_SPACE)


def _plural(one: str, many: str, count: int) -> str:
    return one if count == 1 else many


def _atoi(text: str) -> int:
    stripped = text[1:] if text[:1] in "+-" else text
    if not stripped or not stripped.isascii() or not stripped.isdigit():
        return GoInt(0)
    value = int(text)
    return GoInt(max(min(value, INT64_MAX), INT64_MIN))


def _b64dec(text: str) -> str:
    try:
        return _s(base64.b64decode(_b(text), validate=True))
    except binascii.Error:
        return _b64_error(text)


def _b64_error(text: str) -> str:
    data = _b(text)
    alphabet = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    for i, byte in enumerate(data):
        if byte not in alphabet and byte != ord("="):
            return f"illegal base64 data at input byte {i}"
    return f"illegal base64 data at input byte {max(len(data) - (len(data) % 4 or 4), 0)}"


def _b32dec(text: str) -> str:
    try:
        return _s(base64.b32decode(_b(text)))
    except binascii.Error:
        return "illegal base32 data at input byte 0"


# --- numbers -------------------------------------------------------------------------------------------


def _add(*values: Any) -> int:
    return _wrap64(sum(to_int64(v) for v in values))


def _div(a: Any, b: Any) -> int:
    x, y = to_int64(a), to_int64(b)
    if y == 0:
        raise FuncError("runtime error: integer divide by zero")
    q = abs(x) // abs(y)
    return _wrap64(q if (x >= 0) == (y >= 0) else -q)


def _mod(a: Any, b: Any) -> int:
    x, y = to_int64(a), to_int64(b)
    if y == 0:
        raise FuncError("runtime error: integer divide by zero")
    return x - y * int(x / y) if abs(x) < 2**52 else x - y * (_div(x, y))


def _mul(a: Any, *rest: Any) -> int:
    value = to_int64(a)
    for b in rest:
        value = _wrap64(value * to_int64(b))
    return value


def _max(a: Any, *rest: Any) -> int:
    return max([to_int64(a), *(to_int64(b) for b in rest)])


def _min(a: Any, *rest: Any) -> int:
    return min([to_int64(a), *(to_int64(b) for b in rest)])


def _go_max(a: float, b: float) -> float:
    if (math.isinf(a) and a > 0) or (math.isinf(b) and b > 0):
        return math.inf
    if math.isnan(a) or math.isnan(b):
        return math.nan
    return max(a, b)


def _go_min(a: float, b: float) -> float:
    if (math.isinf(a) and a < 0) or (math.isinf(b) and b < 0):
        return -math.inf
    if math.isnan(a) or math.isnan(b):
        return math.nan
    return min(a, b)


def _maxf(a: Any, *rest: Any) -> float:
    value = to_float64(a)
    for b in rest:
        value = _go_max(value, to_float64(b))
    return value


def _minf(a: Any, *rest: Any) -> float:
    value = to_float64(a)
    for b in rest:
        value = _go_min(value, to_float64(b))
    return value


def _go_pow10(places: float) -> float:
    try:
        return math.pow(10, places)
    except OverflowError:
        return math.inf


def _go_floor(value: float) -> float:
    return float(math.floor(value)) if math.isfinite(value) else value


def _go_ceil(value: float) -> float:
    return float(math.ceil(value)) if math.isfinite(value) else value


def _go_div(a: float, b: float) -> float:
    if b == 0:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def _round(a: Any, places: int, *options: float) -> float:
    round_on = options[0] if options else 0.5
    value = to_float64(a)
    power = _go_pow10(float(places))
    digit = power * value if not (math.isinf(power) and value == 0) else math.nan
    fraction = math.modf(digit)[0] if math.isfinite(digit) else (math.nan if math.isnan(digit) else 0.0)
    rounded = _go_ceil(digit) if fraction >= round_on else _go_floor(digit)
    return _go_div(rounded, power)


def _decimal(value: Any) -> decimal.Decimal:
    f = to_float64(value)
    if math.isnan(f) or math.isinf(f):
        raise FuncError(f"Cannot create a Decimal from {gofmt.format_float(f)}")
    return decimal.Decimal(repr(f))


_DEC = decimal.Context(prec=200, rounding=decimal.ROUND_HALF_UP)


def _decimal_op(
    a: Any, rest: tuple[Any, ...], op: Callable[[decimal.Decimal, decimal.Decimal], Any]
) -> float:
    result = _decimal(a)
    for b in rest:
        result = op(result, _decimal(b))
    return float(result)


def _divf_op(x: decimal.Decimal, y: decimal.Decimal) -> decimal.Decimal:
    if y == 0:
        raise FuncError("decimal division by 0")
    return _DEC.divide(x, y).quantize(
        decimal.Decimal(1).scaleb(-16), rounding=decimal.ROUND_HALF_UP, context=_DEC
    )


def _until_step(start: int, stop: int, step: int) -> IntList:
    if stop < start:
        if step >= 0:
            return IntList()
        _guard((start - stop) // -step, "untilStep")
        return IntList(GoInt(i) for i in range(start, stop, step))
    if step <= 0:
        return IntList()
    _guard((stop - start) // step, "untilStep")
    return IntList(GoInt(i) for i in range(start, stop, step))


def _until(count: int) -> IntList:
    return _until_step(0, count, -1 if count < 0 else 1)


def _seq(*params: int) -> str:
    increment = 1
    if len(params) == 0:
        return ""
    if len(params) == 1:
        start, end = 1, params[0]
        if end < start:
            increment = -1
        values = _until_step(start, end + increment, increment)
    elif len(params) == 2:
        start, end = params
        step = -1 if end < start else 1
        values = _until_step(start, end + step, step)
    elif len(params) == 3:
        start, step, end = params
        if end < start:
            increment = -1
            if step > 0:
                return ""
        values = _until_step(start, end + increment, step)
    else:
        return ""
    return " ".join(str(int(v)) for v in values)


def _to_decimal(value: Any) -> int:
    try:
        text = gofmt.sprint(value)
        if not text or not text.lstrip("+-").isdigit():
            return 0
        result = int(text, 8)
        return result if INT64_MIN <= result <= INT64_MAX else 0
    except ValueError:
        return 0


# --- lists and dicts -----------------------------------------------------------------------------------


def _require_list(value: Any, what: str) -> list[Any]:
    if value is None or value is NO_VALUE:
        raise FuncError("runtime error: invalid memory address or nil pointer dereference")
    if isinstance(value, list):
        return value
    raise FuncError(f"Cannot {what} type {kind_of(value)}")


def _push(lst: Any, v: Any) -> list[Any]:
    return [*_require_list(lst, "push on"), v]


def _prepend(lst: Any, v: Any) -> list[Any]:
    return [v, *_require_list(lst, "prepend on")]


def _first(lst: Any) -> Any:
    items = _require_list(lst, "find first on")
    return items[0] if items else None


def _last(lst: Any) -> Any:
    items = _require_list(lst, "find last on")
    return items[-1] if items else None


def _rest(lst: Any) -> list[Any]:
    items = _require_list(lst, "find rest on")
    return NilList() if not items else list(items[1:])


def _initial(lst: Any) -> list[Any]:
    items = _require_list(lst, "find initial on")
    return NilList() if not items else list(items[:-1])


def _reverse(lst: Any) -> list[Any]:
    return list(reversed(_require_list(lst, "find reverse on")))


def _compact(lst: Any) -> list[Any]:
    return [v for v in _require_list(lst, "compact on") if not is_empty(v)]


def _uniq(lst: Any) -> list[Any]:
    out: list[Any] = []
    for item in _require_list(lst, "find uniq on"):
        if not any(go_equal(item, seen) for seen in out):
            out.append(item)
    return out


def _without(lst: Any, *omit: Any) -> list[Any]:
    return [v for v in _require_list(lst, "find without on") if not any(go_equal(v, o) for o in omit)]


def _has(needle: Any, haystack: Any) -> bool:
    if haystack is None:
        return False
    items = _require_list(haystack, "find has on")
    return any(go_equal(needle, item) for item in items)


def _slice(lst: Any, *indices: Any) -> Any:
    if lst is None or lst is NO_VALUE:
        raise FuncError("runtime error: invalid memory address or nil pointer dereference")
    if not isinstance(lst, list):
        raise FuncError(f"list should be type of slice or array but {kind_of(lst)}")
    if not lst:
        return None
    start = to_int64(indices[0]) if indices else 0
    end = len(lst) if len(indices) < 2 else to_int64(indices[1])
    if start < 0 or end < start or end > len(lst):
        raise FuncError("reflect.Value.Slice: slice index out of bounds")
    if isinstance(lst, StrList):
        return StrList(lst[start:end])
    if isinstance(lst, IntList):
        return IntList(lst[start:end])
    return list(lst[start:end])


def _concat(*lists: Any) -> Any:
    out: list[Any] = []
    for lst in lists:
        if lst is None:
            raise FuncError("runtime error: invalid memory address or nil pointer dereference")
        if not isinstance(lst, list):
            raise FuncError(f"Cannot concat type {kind_of(lst)} as list")
        out.extend(lst)
    return out if out else None


def _chunk(size: int, lst: Any) -> list[Any]:
    items = _require_list(lst, "chunk")
    if size <= 0:
        raise FuncError(
            "runtime error: integer divide by zero"
            if size == 0
            else "runtime error: makeslice: len out of range"
        )
    return [list(items[i : i + size]) for i in range(0, len(items), size)] or [[]]


def _sort_alpha(lst: Any) -> list[str]:
    if isinstance(lst, list):
        return StrList(sorted(strslice(lst), key=_b))
    return StrList([strval(lst)])


def _dict(*values: Any) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for i in range(0, len(values), 2):
        key = strval(values[i])
        result[key] = values[i + 1] if i + 1 < len(values) else ""
    return result


def _get(d: dict[str, Any] | None, key: str) -> Any:
    if d is not None and key in d:
        return d[key]
    return ""


def _set(d: dict[str, Any] | None, key: str, value: Any) -> dict[str, Any]:
    if d is None:
        raise FuncError("assignment to entry in nil map")
    d[key] = value
    return d


def _unset(d: dict[str, Any] | None, key: str) -> dict[str, Any] | None:
    if d is not None:
        d.pop(key, None)
    return d


def _has_key(d: dict[str, Any] | None, key: str) -> bool:
    return d is not None and key in d


def _pluck(key: str, *dicts: dict[str, Any] | None) -> list[Any]:
    return [d[key] for d in dicts if d is not None and key in d]


def _keys(*dicts: dict[str, Any] | None) -> list[str]:
    return StrList(k for d in dicts if d is not None for k in d)


def _pick(d: dict[str, Any] | None, *keys: str) -> dict[str, Any]:
    return {k: d[k] for k in keys if d is not None and k in d}


def _omit(d: dict[str, Any] | None, *keys: str) -> dict[str, Any]:
    return {k: v for k, v in (d or {}).items() if k not in keys}


def _values(d: dict[str, Any] | None) -> list[Any]:
    return list((d or {}).values())


def _mergo(dst: dict[str, Any], src: dict[str, Any], *, overwrite: bool) -> None:
    """dario.cat/mergo Merge / MergeWithOverwrite of map[string]interface{} values: nested maps
    merge; otherwise a source value replaces a missing or empty one, or any one when overwriting."""
    for key, value in src.items():
        if value is None:
            if overwrite:
                dst[key] = None
            continue
        present = key in dst
        current = dst.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            _mergo(current, value, overwrite=overwrite)
        if (
            present
            and not is_empty(current)
            and (isinstance(value, list) or (isinstance(value, dict) and isinstance(current, dict)))
        ):
            continue
        if overwrite or not present or is_empty(current):
            dst[key] = value


def _merge(dst: dict[str, Any] | None, *srcs: dict[str, Any] | None) -> Any:
    if dst is None:
        return ""
    for src in srcs:
        _mergo(dst, src or {}, overwrite=False)
    return dst


def _merge_overwrite(dst: dict[str, Any] | None, *srcs: dict[str, Any] | None) -> Any:
    if dst is None:
        return ""
    for src in srcs:
        _mergo(dst, src or {}, overwrite=True)
    return dst


def _dig(*args: Any) -> Any:
    if len(args) < 3:
        raise FuncError("dig needs at least three arguments")
    current = args[-1]
    if not isinstance(current, dict) or isinstance(current, StrMap):
        raise FuncError(
            f"interface conversion: interface {{}} is {type_name(current)}, not map[string]interface {{}}"
        )
    default = args[-2]
    keys = args[:-2]
    for i, key in enumerate(keys):
        if not isinstance(key, str):
            raise FuncError(f"interface conversion: interface {{}} is {type_name(key)}, not string")
        if key not in current:
            return default
        current = current[key]
        if i < len(keys) - 1 and (not isinstance(current, dict) or isinstance(current, StrMap)):
            raise FuncError(
                f"interface conversion: interface {{}} is {type_name(current)}, not map[string]interface {{}}"
            )
    return current


def _deep_copy(value: Any) -> Any:
    return copy.deepcopy(value)


# --- regular expressions -------------------------------------------------------------------------------

_RE_CACHE: dict[str, Any] = {}


def _compile(pattern: str) -> Any:
    compiled = _RE_CACHE.get(pattern)
    if compiled is None:
        options = re2.Options()
        options.max_mem = 8 << 20
        options.log_errors = False
        try:
            compiled = re2.compile(pattern, options)
        except re2.error as err:
            raise FuncError(f"error parsing regexp: {_go_regexp_error(err)}") from None
        if len(_RE_CACHE) > 256:
            _RE_CACHE.clear()
        _RE_CACHE[pattern] = compiled
    return compiled


_RE2_ERRORS = {
    "missing ]": "missing closing ]",
    "missing )": "missing closing )",
    "unexpected )": "unexpected )",
    "no argument for repetition operator": "missing argument to repetition operator",
    "bad repetition operator": "invalid nested repetition operator",
    "bad repetition argument": "invalid repeat count",
    "invalid escape sequence": "invalid escape sequence",
    "invalid character class range": "invalid character class range",
    "invalid character class": "invalid character class",
    "invalid perl operator": "invalid or unsupported Perl syntax",
    "trailing \\\\": "trailing backslash at end of expression",
    "invalid named capture group": "invalid named capture",
    "duplicate capture group name": "duplicate capture group name",
    "bad UTF-8": "invalid UTF-8",
    "pattern too large - compile failed": "expression too large",
}


def _go_regexp_error(err: Exception) -> str:
    """RE2's message in Go's words: ``missing closing ]: `[a` ``."""
    raw = err.args[0] if err.args else ""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    code, sep, fragment = text.partition(": ")
    message = _RE2_ERRORS.get(code, code)
    return f"{message}: `{fragment}`" if sep else message


def _must_compile(pattern: str) -> Any:
    try:
        return _compile(pattern)
    except FuncError as err:
        quoted = (
            f"`{pattern}`"
            if "`" not in pattern and all(c == "\t" or c.isprintable() for c in pattern)
            else gofmt.quote(pattern)
        )
        raise FuncError(f"regexp: Compile({quoted}): {err}") from None


def _regex_match(pattern: str, text: str) -> bool:
    try:
        return _compile(pattern).search(text) is not None
    except FuncError:
        return False


def _must_regex_match(pattern: str, text: str) -> bool:
    return _compile(pattern).search(text) is not None


def _find_all(compiled: Any, text: str, n: int) -> list[str]:
    out: list[str] = []
    if n == 0:
        return NilList()
    pos, last_end = 0, -1
    while pos <= len(text):
        match = compiled.search(text, pos)
        if match is None:
            break
        start, end = match.span()
        if end == start == last_end:  # Go skips an empty match right after the previous match
            pos = start + 1
            continue
        out.append(match.group(0))
        last_end = end
        pos = end if end > start else end + 1
        if 0 < n <= len(out):
            break
    return StrList(out) if out else NilList()


def _regex_find_all(pattern: str, text: str, n: int) -> list[str]:
    return _find_all(_must_compile(pattern), text, n)


def _regex_find(pattern: str, text: str) -> str:
    match = _must_compile(pattern).search(text)
    return match.group(0) if match else ""


def _expand(template: str, match: Any) -> str:
    """regexp.Expand: $1, ${1}, $name, ${name}, $$."""
    out: list[str] = []
    i = 0
    while i < len(template):
        ch = template[i]
        if ch != "$" or i + 1 >= len(template):
            out.append(ch)
            i += 1
            continue
        nxt = template[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
            continue
        if nxt == "{":
            close = template.find("}", i + 2)
            name = template[i + 2 : close] if close > 0 else ""
            if close < 0 or not name or not all(c.isalnum() or c == "_" for c in name):
                out.append("$")
                i += 1
                continue
            i = close + 1
        else:
            j = i + 1
            while j < len(template) and (template[j].isalnum() or template[j] == "_"):
                j += 1
            name = template[i + 1 : j]
            if not name:
                out.append("$")
                i += 1
                continue
            i = j
        out.append(_group(match, name))
    return "".join(out)


def _group(match: Any, name: str) -> str:
    try:
        if name.isdigit():
            index = int(name)
            if index > match.re.groups:
                return ""
            return match.group(index) or ""
        if name in match.re.groupindex:
            return match.group(name) or ""
    except (IndexError, ValueError):
        return ""
    return ""


def _replace_all(compiled: Any, text: str, repl: Callable[[Any], str]) -> str:
    out: list[str] = []
    pos, last_end, cursor = 0, -1, 0
    while pos <= len(text):
        match = compiled.search(text, pos)
        if match is None:
            break
        start, end = match.span()
        if end == start == last_end:
            pos = start + 1
            continue
        out.append(text[cursor:start])
        out.append(repl(match))
        cursor = end
        last_end = end
        pos = end if end > start else end + 1
        _guard(sum(len(p) for p in out), "regexReplaceAll")
    out.append(text[cursor:])
    return "".join(out)


def _regex_replace_all(pattern: str, text: str, repl: str) -> str:
    return _replace_all(_must_compile(pattern), text, lambda m: _expand(repl, m))


def _regex_replace_all_literal(pattern: str, text: str, repl: str) -> str:
    return _replace_all(_must_compile(pattern), text, lambda _m: repl)


def _regex_split(pattern: str, text: str, n: int) -> list[str]:
    compiled = _must_compile(pattern)
    if n == 0:
        return NilList()
    if len(pattern) > 0 and len(text) == 0:
        return StrList([""])
    matches: list[tuple[int, int]] = []
    pos, last_end = 0, -1
    while pos <= len(text):
        match = compiled.search(text, pos)
        if match is None:
            break
        start, end = match.span()
        if end == start == last_end:
            pos = start + 1
            continue
        matches.append((start, end))
        last_end = end
        pos = end if end > start else end + 1
    out: list[str] = []
    beg = 0
    for start, end in matches:
        if n > 0 and len(out) == n - 1:
            break
        if end == 0:
            continue
        out.append(text[beg:start])
        beg = end
    out.append(text[beg:])
    return StrList(out)


def _quote_meta(text: str) -> str:
    return "".join("\\" + c if c in "\\.+*?()|[]{}^$" else c for c in text)


# --- dates ---------------------------------------------------------------------------------------------


def _time_of(value: Any) -> GoTime:
    if isinstance(value, GoTime):
        return value
    if isinstance(value, int) and not isinstance(value, (bool, GoObject)):
        return GoTime(int(value), 0, gotime.local())
    return GoTime.now()


def _date_in_zone(fmt: str, date: Any, zone: str) -> str:
    try:
        loc = gotime.load_location(zone)
    except ValueError:
        loc = gotime.UTC
    return _time_of(date).in_location(loc).format(fmt)


def _date(fmt: str, date: Any) -> str:
    return _date_in_zone(fmt, date, "Local")


def _date_modify(fmt: str, date: GoTime) -> GoTime:
    try:
        delta = gotime.parse_duration(fmt)
    except ValueError:
        return date
    return GoTime(date.unix, date.nsec + int(delta), date.loc)


def _must_date_modify(fmt: str, date: GoTime) -> GoTime:
    try:
        delta = gotime.parse_duration(fmt)
    except ValueError as err:
        raise FuncError(str(err)) from None
    return GoTime(date.unix, date.nsec + int(delta), date.loc)


def _ago(date: Any) -> str:
    t = _time_of(date)
    now = GoTime.now()
    diff = now.instant() - t.instant()
    rounded = _round_duration(diff, gotime.SECOND)
    return gotime.duration_string(rounded)


def _round_duration(d: int, m: int) -> int:
    rem = abs(d) % m
    base = abs(d) - rem
    if rem + rem >= m:
        base += m
    return base if d >= 0 else -base


def _duration(sec: Any) -> str:
    n = 0
    if isinstance(sec, str):
        n = _parse_int_base10(sec)
    elif isinstance(sec, int) and not isinstance(sec, (bool, GoInt, GoObject)):
        n = int(sec)
    return gotime.duration_string(_wrap64(n * gotime.SECOND))


def _parse_int_base10(text: str) -> int:
    stripped = text[1:] if text[:1] in "+-" else text
    if not stripped or not stripped.isascii() or not stripped.isdigit():
        return 0
    value = int(text)
    return value if INT64_MIN <= value <= INT64_MAX else 0


def _duration_round(value: Any) -> str:
    d = 0
    if isinstance(value, str):
        try:
            d = int(gotime.parse_duration(value))
        except ValueError:
            d = 0
    elif isinstance(value, int) and not isinstance(value, (bool, GoInt, GoObject)):
        d = int(value)
    elif isinstance(value, GoTime):
        d = GoTime.now().instant() - value.instant()
    u = abs(d)
    year, month, day = gotime.HOUR * 24 * 365, gotime.HOUR * 24 * 30, gotime.HOUR * 24
    for unit, suffix in (
        (year, "y"),
        (month, "mo"),
        (day, "d"),
        (gotime.HOUR, "h"),
        (gotime.MINUTE, "m"),
        (gotime.SECOND, "s"),
    ):
        if u > unit:
            return f"{u // unit}{suffix}"
    return "0s"


def _to_date(fmt: str, text: str) -> GoTime:
    try:
        return gotime.parse_time(fmt, text, gotime.local())
    except ValueError:
        return GoTime.zero()


def _must_to_date(fmt: str, text: str) -> GoTime:
    try:
        return gotime.parse_time(fmt, text, gotime.local())
    except ValueError as err:
        raise FuncError(str(err)) from None


def _unix_epoch(date: GoTime) -> str:
    return str(date.unix)


# --- URLs ----------------------------------------------------------------------------------------------


def _url_parse(text: str) -> dict[str, Any]:
    parts = urllib.parse.urlsplit(text)
    userinfo = ""
    host = parts.netloc
    if "@" in parts.netloc:
        userinfo, _, host = parts.netloc.rpartition("@")
    hostname = host
    if hostname.startswith("["):
        hostname = hostname[1 : hostname.find("]")] if "]" in hostname else hostname
    elif ":" in hostname:
        hostname = hostname.rsplit(":", 1)[0]
    opaque = ""
    path = urllib.parse.unquote(parts.path)
    if parts.scheme and not parts.netloc and not parts.path.startswith("/") and parts.path:
        opaque, path = parts.path, ""
    return {
        "scheme": parts.scheme,
        "host": host,
        "hostname": hostname,
        "path": path,
        "query": parts.query,
        "opaque": opaque,
        "fragment": urllib.parse.unquote(parts.fragment),
        "userinfo": userinfo,
    }


def _dict_string(d: dict[str, Any], key: str) -> str:
    value = d.get(key)
    if value is None and key not in d:
        return ""
    if not isinstance(value, str):
        raise FuncError(f"unable to parse {key} key, must be of type string, but {kind_of(value)} found")
    return value


def _url_join(d: dict[str, Any] | None) -> str:
    d = d or {}
    scheme, host, path = _dict_string(d, "scheme"), _dict_string(d, "host"), _dict_string(d, "path")
    query, opaque, fragment = _dict_string(d, "query"), _dict_string(d, "opaque"), _dict_string(d, "fragment")
    userinfo = _dict_string(d, "userinfo")
    out = ""
    if scheme:
        out += scheme + ":"
    if opaque:
        out += opaque
    else:
        if scheme or host or userinfo:
            if host or path or userinfo:
                out += "//"
            if userinfo:
                out += userinfo + "@"
            out += host
        if path and not path.startswith("/") and host:
            out += "/"
        out += urllib.parse.quote(path, safe="/:@!$&'()*+,;=-._~")
    if query:
        out += "?" + query
    if fragment:
        out += "#" + urllib.parse.quote(fragment, safe="/:@!$&'()*+,;=-._~?")
    return out


# --- Argo CD's additions -------------------------------------------------------------------------------


def normalize(name: str) -> str:
    """Argo CD's SanitizeName: a DNS-1123-ish name (lowercase, [-a-z0-9.], at most 253, trimmed)."""
    lowered = _lower(name)
    cleaned = "".join(c if c in "-." or ("a" <= c <= "z") or ("0" <= c <= "9") else "-" for c in lowered)
    cleaned = _s(_b(cleaned)[:253]) if len(_b(cleaned)) > 253 else cleaned
    return cleaned.strip("-.")


def _slugify(*args: Any) -> str:
    max_size, smart, name = 50, True, ""
    for index, arg in enumerate(args):
        if index == len(args) - 1:
            if not isinstance(arg, str):
                raise FuncError(f"interface conversion: interface {{}} is {type_name(arg)}, not string")
            name = arg
        elif index == 0:
            if not isinstance(arg, GoInt):
                raise FuncError(f"interface conversion: interface {{}} is {type_name(arg)}, not int")
            max_size = int(arg)
        elif index == 1:
            if not isinstance(arg, bool):
                raise FuncError(f"interface conversion: interface {{}} is {type_name(arg)}, not bool")
            smart = arg
    slug = _trim_space(normalize(name))
    slug = slug.replace("&", "and").replace("@", "at")
    slug = _lower(slug)
    if not smart and len(slug) >= max_size:
        slug = slug[:max_size] if max_size >= 0 else slug
    slug = "".join(c if (c.isascii() and (c.isalnum() or c in "-_")) else "-" for c in slug)
    while "--" in slug:
        slug = slug.replace("--", "-")
    slug = slug.strip("-_")
    if max_size > 0 and smart and len(slug) > max_size:
        for i in range(max_size, -1, -1):
            if slug[i] == "-":
                return slug[:i]
        return slug[:max_size]
    return slug


def _to_yaml(value: Any) -> str:
    return encoding.to_yaml(value).removesuffix("\n")


def _to_json(value: Any) -> str:
    try:
        return encoding.to_json(value)
    except FuncError:
        return ""


def _to_pretty_json(value: Any) -> str:
    try:
        return encoding.to_json(value, indent="  ")
    except FuncError:
        return ""


def _to_raw_json(value: Any) -> str:
    return encoding.to_json(value, escape_html=False)


def _from_json(text: str) -> Any:
    try:
        return encoding.from_json(text)
    except FuncError:
        return None


def _fail(message: str) -> str:
    raise FuncError(message)


def _semver(version: str) -> semver.Version:
    return semver.parse_version(version)


def _rand_string(alphabet: str) -> Callable[[int], str]:
    def generate(count: int) -> str:
        if count < 0:
            raise FuncError(f"Requested random string length {count} is less than 0.")
        _guard(count, "random string")
        return "".join(secrets.choice(alphabet) for _ in range(count))

    return generate


def _shuffle(text: str) -> str:
    chars = list(text)
    random.shuffle(chars)
    return "".join(chars)


def _rand_int(low: int, high: int) -> int:
    if high - low <= 0:
        raise FuncError("invalid argument to Intn")
    return GoInt(secrets.randbelow(high - low) + low)


def _replace_empty(src: str, new: str) -> str:
    """strings.Replace with an empty old: insert ``new`` before every rune and at the end."""
    _guard((len(src) + 1) * len(new) + len(src), "replace")
    return new + "".join(ch + new for ch in src)


def _path_clean(path: str) -> str:
    if path == "":
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    cleaned = "/".join(parts)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


def _path_base(path: str) -> str:
    if path == "":
        return "."
    path = path.rstrip("/")
    if path == "":
        return "/"
    return path.rsplit("/", 1)[-1]


def _path_dir(path: str) -> str:
    head, _, _ = path.rpartition("/")
    return _path_clean(head + "/" if "/" in path else "")


def _path_ext(path: str) -> str:
    for i in range(len(path) - 1, -1, -1):
        if path[i] == "/":
            return ""
        if path[i] == ".":
            return path[i:]
    return ""


# --- the map -------------------------------------------------------------------------------------------

TIME_RESULT = TIME
VERSION = semver.VERSION_TYPE
CHUNKS = GoType("[][]interface {}", "slice")


def _fn(
    impl: Callable[..., Any],
    *params: GoType,
    variadic: GoType | None = None,
    result: GoType = ANY,
    error: bool = False,
) -> tuple[Callable[..., Any], Signature]:
    return impl, Signature(tuple(params), variadic, result, error)


_S, _I, _A = STRING, INT, ANY

_TABLE: dict[str, tuple[Callable[..., Any], Signature]] = {
    "hello": _fn(lambda: "Hello!", result=_S),
    # dates
    "ago": _fn(_ago, _A, result=_S),
    "date": _fn(_date, _S, _A, result=_S),
    "date_in_zone": _fn(_date_in_zone, _S, _A, _S, result=_S),
    "dateInZone": _fn(_date_in_zone, _S, _A, _S, result=_S),
    "date_modify": _fn(_date_modify, _S, TIME, result=TIME),
    "dateModify": _fn(_date_modify, _S, TIME, result=TIME),
    "must_date_modify": _fn(_must_date_modify, _S, TIME, result=TIME, error=True),
    "mustDateModify": _fn(_must_date_modify, _S, TIME, result=TIME, error=True),
    "duration": _fn(_duration, _A, result=_S),
    "durationRound": _fn(_duration_round, _A, result=_S),
    "htmlDate": _fn(lambda d: _date_in_zone("2006-01-02", d, "Local"), _A, result=_S),
    "htmlDateInZone": _fn(lambda d, z: _date_in_zone("2006-01-02", d, z), _A, _S, result=_S),
    "mustToDate": _fn(_must_to_date, _S, _S, result=TIME, error=True),
    "now": _fn(GoTime.now, result=TIME),
    "toDate": _fn(_to_date, _S, _S, result=TIME),
    "unixEpoch": _fn(_unix_epoch, TIME, result=_S),
    # strings
    "abbrev": _fn(_abbrev, _I, _S, result=_S),
    "abbrevboth": _fn(_abbrevboth, _I, _I, _S, result=_S),
    "trunc": _fn(_trunc, _I, _S, result=_S),
    "trim": _fn(_trim_space, _S, result=_S),
    "upper": _fn(_upper, _S, result=_S),
    "lower": _fn(_lower, _S, result=_S),
    "title": _fn(_title, _S, result=_S),
    "untitle": _fn(_untitle, _S, result=_S),
    "substr": _fn(_substr, _I, _I, _S, result=_S),
    "repeat": _fn(_repeat, _I, _S, result=_S),
    "trimall": _fn(lambda a, b: _trim_cutset(b, a), _S, _S, result=_S),
    "trimAll": _fn(lambda a, b: _trim_cutset(b, a), _S, _S, result=_S),
    "trimSuffix": _fn(lambda a, b: b.removesuffix(a) if a else b, _S, _S, result=_S),
    "trimPrefix": _fn(lambda a, b: b.removeprefix(a) if a else b, _S, _S, result=_S),
    "nospace": _fn(_nospace, _S, result=_S),
    "initials": _fn(_initials, _S, result=_S),
    "randAlphaNum": _fn(_rand_string(string.ascii_letters + string.digits), _I, result=_S),
    "randAlpha": _fn(_rand_string(string.ascii_letters), _I, result=_S),
    "randAscii": _fn(_rand_string("".join(chr(c) for c in range(32, 127))), _I, result=_S),
    "randNumeric": _fn(_rand_string(string.digits), _I, result=_S),
    "swapcase": _fn(_swapcase, _S, result=_S),
    "shuffle": _fn(_shuffle, _S, result=_S),
    "snakecase": _fn(lambda s: _camel_to_lower(s, "_"), _S, result=_S),
    "camelcase": _fn(_camelcase, _S, result=_S),
    "kebabcase": _fn(lambda s: _camel_to_lower(s, "-"), _S, result=_S),
    "wrap": _fn(lambda n, s: _wrap_custom(s, n, "", False), _I, _S, result=_S),
    "wrapWith": _fn(lambda n, sep, s: _wrap_custom(s, n, sep, True), _I, _S, _S, result=_S),
    "contains": _fn(lambda sub, s: sub in s, _S, _S, result=BOOL),
    "hasPrefix": _fn(lambda sub, s: s.startswith(sub), _S, _S, result=BOOL),
    "hasSuffix": _fn(lambda sub, s: s.endswith(sub), _S, _S, result=BOOL),
    "quote": _fn(_quote, variadic=_A, result=_S),
    "squote": _fn(_squote, variadic=_A, result=_S),
    "cat": _fn(_cat, variadic=_A, result=_S),
    "indent": _fn(_indent, _I, _S, result=_S),
    "nindent": _fn(lambda n, s: "\n" + _indent(n, s), _I, _S, result=_S),
    "replace": _fn(
        lambda old, new, src: src.replace(old, new) if old else _replace_empty(src, new),
        _S,
        _S,
        _S,
        result=_S,
    ),
    "plural": _fn(_plural, _S, _S, _I, result=_S),
    "sha1sum": _fn(lambda s: hashlib.sha1(_b(s)).hexdigest(), _S, result=_S),  # noqa: S324 - sprig's
    "sha256sum": _fn(lambda s: hashlib.sha256(_b(s)).hexdigest(), _S, result=_S),
    "sha512sum": _fn(lambda s: hashlib.sha512(_b(s)).hexdigest(), _S, result=_S),
    "adler32sum": _fn(lambda s: str(zlib.adler32(_b(s))), _S, result=_S),
    "toString": _fn(strval, _A, result=_S),
    "atoi": _fn(_atoi, _S, result=_I),
    "int64": _fn(to_int64, _A, result=INT64),
    "int": _fn(lambda v: GoInt(to_int64(v)), _A, result=_I),
    "float64": _fn(to_float64, _A, result=FLOAT64),
    "seq": _fn(_seq, variadic=_I, result=_S),
    "toDecimal": _fn(_to_decimal, _A, result=INT64),
    "split": _fn(_split, _S, _S, result=STRMAP),
    "splitList": _fn(lambda sep, s: StrList(_split_go(s, sep)), _S, _S, result=STRLIST),
    "splitn": _fn(_splitn, _S, _I, _S, result=STRMAP),
    "toStrings": _fn(strslice, _A, result=STRLIST),
    "until": _fn(_until, _I, result=INTLIST),
    "untilStep": _fn(_until_step, _I, _I, _I, result=INTLIST),
    # arithmetic
    "add1": _fn(lambda i: _wrap64(to_int64(i) + 1), _A, result=INT64),
    "add": _fn(_add, variadic=_A, result=INT64),
    "sub": _fn(lambda a, b: _wrap64(to_int64(a) - to_int64(b)), _A, _A, result=INT64),
    "div": _fn(_div, _A, _A, result=INT64),
    "mod": _fn(_mod, _A, _A, result=INT64),
    "mul": _fn(_mul, _A, variadic=_A, result=INT64),
    "randInt": _fn(_rand_int, _I, _I, result=_I),
    "add1f": _fn(lambda i: _decimal_op(i, (1,), lambda x, y: x + y), _A, result=FLOAT64),
    "addf": _fn(lambda *v: _decimal_op(0.0, v, lambda x, y: x + y), variadic=_A, result=FLOAT64),
    "subf": _fn(lambda a, *v: _decimal_op(a, v, lambda x, y: x - y), _A, variadic=_A, result=FLOAT64),
    "divf": _fn(lambda a, *v: _decimal_op(a, v, _divf_op), _A, variadic=_A, result=FLOAT64),
    "mulf": _fn(lambda a, *v: _decimal_op(a, v, lambda x, y: x * y), _A, variadic=_A, result=FLOAT64),
    "biggest": _fn(_max, _A, variadic=_A, result=INT64),
    "max": _fn(_max, _A, variadic=_A, result=INT64),
    "min": _fn(_min, _A, variadic=_A, result=INT64),
    "maxf": _fn(_maxf, _A, variadic=_A, result=FLOAT64),
    "minf": _fn(_minf, _A, variadic=_A, result=FLOAT64),
    "ceil": _fn(
        lambda a: _go_ceil(to_float64(a)),
        _A,
        result=FLOAT64,
    ),
    "floor": _fn(
        lambda a: float(math.floor(to_float64(a))) if math.isfinite(to_float64(a)) else to_float64(a),
        _A,
        result=FLOAT64,
    ),
    "round": _fn(_round, _A, _I, variadic=FLOAT64, result=FLOAT64),
    # string lists
    "join": _fn(lambda sep, v: sep.join(strslice(v)), _S, _A, result=_S),
    "sortAlpha": _fn(_sort_alpha, _A, result=STRLIST),
    # defaults
    "default": _fn(lambda d, *given: d if not given or is_empty(given[0]) else given[0], _A, variadic=_A),
    "empty": _fn(is_empty, _A, result=BOOL),
    "coalesce": _fn(lambda *v: next((x for x in v if not is_empty(x)), None), variadic=_A),
    "all": _fn(lambda *v: all(not is_empty(x) for x in v), variadic=_A, result=BOOL),
    "any": _fn(lambda *v: any(not is_empty(x) for x in v), variadic=_A, result=BOOL),
    "compact": _fn(_compact, _A, result=LIST),
    "mustCompact": _fn(_compact, _A, result=LIST, error=True),
    "fromJson": _fn(_from_json, _S),
    "toJson": _fn(_to_json, _A, result=_S),
    "toPrettyJson": _fn(_to_pretty_json, _A, result=_S),
    "toRawJson": _fn(_to_raw_json, _A, result=_S),
    "mustFromJson": _fn(encoding.from_json, _S, error=True),
    "mustToJson": _fn(encoding.to_json, _A, result=_S, error=True),
    "mustToPrettyJson": _fn(lambda v: encoding.to_json(v, indent="  "), _A, result=_S, error=True),
    "mustToRawJson": _fn(_to_raw_json, _A, result=_S, error=True),
    "ternary": _fn(lambda vt, vf, v: vt if v else vf, _A, _A, BOOL),
    "deepCopy": _fn(_deep_copy, _A),
    "mustDeepCopy": _fn(_deep_copy, _A, error=True),
    # reflection
    "typeOf": _fn(type_name, _A, result=_S),
    "typeIs": _fn(lambda target, v: target == type_name(v), _S, _A, result=BOOL),
    "typeIsLike": _fn(lambda target, v: type_name(v) in (target, "*" + target), _S, _A, result=BOOL),
    "kindOf": _fn(kind_of, _A, result=_S),
    "kindIs": _fn(lambda target, v: target == kind_of(v), _S, _A, result=BOOL),
    "deepEqual": _fn(
        lambda a, b: (a is None and b is None) or (a is not None and go_equal(a, b)), _A, _A, result=BOOL
    ),
    # paths
    "base": _fn(_path_base, _S, result=_S),
    "dir": _fn(_path_dir, _S, result=_S),
    "clean": _fn(_path_clean, _S, result=_S),
    "ext": _fn(_path_ext, _S, result=_S),
    "isAbs": _fn(lambda p: p.startswith("/"), _S, result=BOOL),
    "osBase": _fn(_path_base, _S, result=_S),
    "osClean": _fn(_path_clean, _S, result=_S),
    "osDir": _fn(_path_dir, _S, result=_S),
    "osExt": _fn(_path_ext, _S, result=_S),
    "osIsAbs": _fn(lambda p: p.startswith("/"), _S, result=BOOL),
    # encoding
    "b64enc": _fn(lambda s: base64.b64encode(_b(s)).decode(), _S, result=_S),
    "b64dec": _fn(_b64dec, _S, result=_S),
    "b32enc": _fn(lambda s: base64.b32encode(_b(s)).decode(), _S, result=_S),
    "b32dec": _fn(_b32dec, _S, result=_S),
    # data structures
    "tuple": _fn(lambda *v: list(v), variadic=_A, result=LIST),
    "list": _fn(lambda *v: list(v), variadic=_A, result=LIST),
    "dict": _fn(_dict, variadic=_A, result=MAP),
    "get": _fn(_get, MAP, _S),
    "set": _fn(_set, MAP, _S, _A, result=MAP),
    "unset": _fn(_unset, MAP, _S, result=MAP),
    "hasKey": _fn(_has_key, MAP, _S, result=BOOL),
    "pluck": _fn(_pluck, _S, variadic=MAP, result=LIST),
    "keys": _fn(_keys, variadic=MAP, result=STRLIST),
    "pick": _fn(_pick, MAP, variadic=_S, result=MAP),
    "omit": _fn(_omit, MAP, variadic=_S, result=MAP),
    "merge": _fn(_merge, MAP, variadic=MAP),
    "mergeOverwrite": _fn(_merge_overwrite, MAP, variadic=MAP),
    "mustMerge": _fn(_merge, MAP, variadic=MAP, error=True),
    "mustMergeOverwrite": _fn(_merge_overwrite, MAP, variadic=MAP, error=True),
    "values": _fn(_values, MAP, result=LIST),
    "append": _fn(_push, _A, _A, result=LIST),
    "push": _fn(_push, _A, _A, result=LIST),
    "mustAppend": _fn(_push, _A, _A, result=LIST, error=True),
    "mustPush": _fn(_push, _A, _A, result=LIST, error=True),
    "prepend": _fn(_prepend, _A, _A, result=LIST),
    "mustPrepend": _fn(_prepend, _A, _A, result=LIST, error=True),
    "first": _fn(_first, _A),
    "mustFirst": _fn(_first, _A, error=True),
    "rest": _fn(_rest, _A, result=LIST),
    "mustRest": _fn(_rest, _A, result=LIST, error=True),
    "last": _fn(_last, _A),
    "mustLast": _fn(_last, _A, error=True),
    "initial": _fn(_initial, _A, result=LIST),
    "mustInitial": _fn(_initial, _A, result=LIST, error=True),
    "reverse": _fn(_reverse, _A, result=LIST),
    "mustReverse": _fn(_reverse, _A, result=LIST, error=True),
    "uniq": _fn(_uniq, _A, result=LIST),
    "mustUniq": _fn(_uniq, _A, result=LIST, error=True),
    "without": _fn(_without, _A, variadic=_A, result=LIST),
    "mustWithout": _fn(_without, _A, variadic=_A, result=LIST, error=True),
    "has": _fn(_has, _A, _A, result=BOOL),
    "mustHas": _fn(_has, _A, _A, result=BOOL, error=True),
    "slice": _fn(_slice, _A, variadic=_A),
    "mustSlice": _fn(_slice, _A, variadic=_A, error=True),
    "concat": _fn(_concat, variadic=_A),
    "dig": _fn(_dig, variadic=_A, error=True),
    "chunk": _fn(_chunk, _I, _A, result=CHUNKS),
    "mustChunk": _fn(_chunk, _I, _A, result=CHUNKS, error=True),
    "uuidv4": _fn(lambda: str(uuid.uuid4()), result=_S),
    "semver": _fn(_semver, _S, result=VERSION, error=True),
    "semverCompare": _fn(semver.semver_compare, _S, _S, result=BOOL, error=True),
    "fail": _fn(_fail, _S, result=_S, error=True),
    # regular expressions
    "regexMatch": _fn(_regex_match, _S, _S, result=BOOL),
    "mustRegexMatch": _fn(_must_regex_match, _S, _S, result=BOOL, error=True),
    "regexFindAll": _fn(_regex_find_all, _S, _S, _I, result=STRLIST),
    "mustRegexFindAll": _fn(
        lambda p, s, n: _find_all(_compile(p), s, n), _S, _S, _I, result=STRLIST, error=True
    ),
    "regexFind": _fn(_regex_find, _S, _S, result=_S),
    "mustRegexFind": _fn(
        lambda p, s: m.group(0) if (m := _compile(p).search(s)) else "", _S, _S, result=_S, error=True
    ),
    "regexReplaceAll": _fn(_regex_replace_all, _S, _S, _S, result=_S),
    "mustRegexReplaceAll": _fn(
        lambda p, s, r: _replace_all(_compile(p), s, lambda m: _expand(r, m)),
        _S,
        _S,
        _S,
        result=_S,
        error=True,
    ),
    "regexReplaceAllLiteral": _fn(_regex_replace_all_literal, _S, _S, _S, result=_S),
    "mustRegexReplaceAllLiteral": _fn(
        lambda p, s, r: _replace_all(_compile(p), s, lambda _m: r), _S, _S, _S, result=_S, error=True
    ),
    "regexSplit": _fn(_regex_split, _S, _S, _I, result=STRLIST),
    "mustRegexSplit": _fn(_regex_split, _S, _S, _I, result=STRLIST, error=True),
    "regexQuoteMeta": _fn(_quote_meta, _S, result=_S),
    # URLs
    "urlParse": _fn(_url_parse, _S, result=MAP),
    "urlJoin": _fn(_url_join, MAP, result=_S),
}


def _build(
    table: dict[str, tuple[Callable[..., Any], Signature]], names: set[str] | None = None
) -> dict[str, GoFunc]:
    return {
        name: GoFunc(name, sig, impl) for name, (impl, sig) in table.items() if names is None or name in names
    }


def sprig_functions() -> dict[str, GoFunc]:
    """sprig.TxtFuncMap() without env, expandenv, getHostByName and the crypto generators."""
    return _build(_TABLE)


ARGO_ADDITIONS: dict[str, tuple[Callable[..., Any], Signature]] = {
    "normalize": _fn(normalize, _S, result=_S),
    "slugify": _fn(_slugify, variadic=_A, result=_S),
    "toYaml": _fn(_to_yaml, _A, result=_S, error=True),
    "fromYaml": _fn(encoding.from_yaml, _S, result=MAP, error=True),
    "fromYamlArray": _fn(encoding.from_yaml_array, _S, result=LIST, error=True),
}


def applicationset_functions() -> dict[str, GoFunc]:
    """Argo CD's ApplicationSet map: sprig's plus normalize, slugify, toYaml, fromYaml, fromYamlArray."""
    return {**_build(_TABLE), **_build(ARGO_ADDITIONS)}


def notification_functions() -> dict[str, GoFunc]:
    """The notifications engine's map: sprig's (Argo CD's engine keeps getHostByName; ferry does not)."""
    return _build(_TABLE)


_unused = (posixpath,)

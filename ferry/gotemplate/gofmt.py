"""Go's ``fmt`` and ``strconv`` formatting as templates see it: ``print``, ``printf``, ``println``,
how an action prints its value (``%v``), ``strconv.Quote`` and ``strconv.FormatFloat``.

Verbs: ``%v %+v %s %q %d %x %X %o %b %c %U %t %f %F %e %E %g %G %T %%`` with flags ``- + # 0 space``,
width and precision (``*`` included), and Go's error forms (``%!d(string=x)``, ``%!s(MISSING)``,
``%!(EXTRA int=1)``). Pure functions over the values of ``ferry.gotemplate.values``.
"""

from __future__ import annotations

import math
import unicodedata
from typing import Any

from ferry.gotemplate.errors import FuncError
from ferry.gotemplate.values import NO_VALUE, GoFunc, GoInt, GoObject, type_name

# Go allocates whatever width a format asks for; a template's %999999999d must not.
MAX_WIDTH = 1 << 16

# --- strconv -----------------------------------------------------------------------------------------


def _is_print(ch: str) -> bool:
    """unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space."""
    if ch == " ":
        return True
    return unicodedata.category(ch)[0] in "LMNPS"


def quote(text: str, *, ascii_only: bool = False) -> str:
    """strconv.Quote (``%q``); with ``ascii_only`` strconv.QuoteToASCII (``%+q``)."""
    out = ['"']
    for ch in text:
        out.append(_escape_rune(ch, '"', ascii_only=ascii_only))
    out.append('"')
    return "".join(out)


def quote_rune(code: int, *, ascii_only: bool = False) -> str:
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        code = 0xFFFD
    return "'" + _escape_rune(chr(code), "'", ascii_only=ascii_only) + "'"


_SIMPLE_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def _escape_rune(ch: str, quote_char: str, *, ascii_only: bool) -> str:
    if ch in (quote_char, "\\"):
        return "\\" + ch
    code = ord(ch)
    if ascii_only:
        if code < 0x80 and _is_print(ch):
            return ch
    elif _is_print(ch):
        return ch
    if ch in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[ch]
    if code < 0x20 or code == 0x7F:
        return f"\\x{code:02x}"
    if 0xDC80 <= code <= 0xDCFF:  # an invalid UTF-8 byte kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _shortest(value: float) -> tuple[str, int]:
    """Shortest round-trip decimal digits of a finite, non-negative float and its decimal point
    position: value = 0.DIGITS * 10^dp."""
    if value == 0:
        return "0", 1
    mantissa, _, exponent = f"{value!r}".partition("e")
    exp = int(exponent) if exponent else 0
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    lead_zeros = len(whole + frac) - len((whole + frac).lstrip("0"))
    dp = len(whole) + exp - lead_zeros
    digits = digits.rstrip("0") or "0"
    return digits, dp


def _rounded(value: float, fmt: str, prec: int) -> tuple[str, int]:
    """Digits and decimal point of ``value`` rounded for a precision (correctly rounded, as Go)."""
    if fmt in "eE":
        text = f"{value:.{prec}e}"
        mantissa, _, exponent = text.partition("e")
        digits = mantissa.replace(".", "")
        return digits, int(exponent) + 1
    if fmt in "gG":
        text = f"{value:.{max(prec, 1) - 1}e}"
        mantissa, _, exponent = text.partition("e")
        return mantissa.replace(".", ""), int(exponent) + 1
    text = f"{value:.{prec}f}"
    whole, _, frac = text.partition(".")
    return whole + frac, len(whole)


def format_float(value: float, fmt: str = "g", prec: int = -1) -> str:
    """strconv.FormatFloat(value, fmt, prec, 64) for fmt in e, E, f, g, G."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    neg = math.copysign(1.0, value) < 0
    value = abs(value)
    shortest = prec < 0
    if shortest:
        digits, dp = _shortest(value)
    elif fmt in "fF":
        digits, dp = _rounded(value, "f", prec)
    elif fmt in "eE":
        digits, dp = _rounded(value, "e", prec)
    else:
        digits, dp = _rounded(value, "g", prec if prec else 1)
    if value == 0:
        digits, dp = "0", 1
    sign = "-" if neg else ""
    if fmt in "gG":
        eprec = prec
        if shortest:
            eprec = 6
        elif eprec > len(digits) and len(digits) >= dp:
            eprec = len(digits)
        if eprec == 0:
            eprec = 1
        exp = dp - 1
        if exp < -4 or exp >= eprec:
            p = len(digits) - 1 if shortest else max(prec, 1) - 1
            if not shortest:
                digits = digits.rstrip("0") or "0"
                p = len(digits) - 1
            return sign + _fmt_e(digits, dp, p, "e" if fmt == "g" else "E")
        p = max(len(digits) - dp, 0) if shortest else max(len(digits.rstrip("0") or "0") - dp, 0)
        if not shortest:
            digits = digits.rstrip("0") or "0"
        return sign + _fmt_f(digits, dp, p)
    if fmt in "eE":
        p = len(digits) - 1 if shortest else prec
        return sign + _fmt_e(digits, dp, p, fmt)
    p = max(len(digits) - dp, 0) if shortest else prec
    return sign + _fmt_f(digits, dp, p)


def _fmt_e(digits: str, dp: int, prec: int, letter: str) -> str:
    first = digits[0]
    rest = (digits[1:] + "0" * prec)[:prec]
    exp = dp - 1 if digits != "0" else 0
    mantissa = first + ("." + rest if prec > 0 else "")
    sign = "+" if exp >= 0 else "-"
    return f"{mantissa}{letter}{sign}{abs(exp):02d}"


def _fmt_f(digits: str, dp: int, prec: int) -> str:
    if dp > 0:
        whole = (digits[:dp] + "0" * max(0, dp - len(digits))) or "0"
        frac = digits[dp:]
    else:
        whole = "0"
        frac = "0" * (-dp) + digits
    frac = (frac + "0" * prec)[:prec]
    return whole + ("." + frac if prec > 0 else "")


# --- fmt ---------------------------------------------------------------------------------------------


class _Spec:
    __slots__ = ("minus", "plus", "plus_v", "precision", "sharp", "space", "width", "zero")

    def __init__(self) -> None:
        self.minus = self.plus = self.plus_v = self.sharp = self.space = self.zero = False
        self.width: int | None = None
        self.precision: int | None = None


def _pad(text: str, spec: _Spec, *, numeric: bool = False) -> str:
    width = spec.width
    if width is None or len(text) >= width:
        return text
    fill = width - len(text)
    if spec.minus:
        return text + " " * fill
    if spec.zero and numeric:
        sign = text[0] if text[:1] in "+- " and text[:1] else ""
        body = text[len(sign) :]
        return sign + "0" * fill + body
    if spec.zero and not numeric:
        return "0" * fill + text
    return " " * fill + text


def _bad(verb: str, value: Any) -> str:
    if value is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({type_name(value)}={format_value(value, 'v', _Spec(), 0)})"


def _fmt_int(value: int, verb: str, spec: _Spec) -> str:
    neg = value < 0
    mag = abs(value)
    if verb == "c":
        return _pad(chr(mag) if mag <= 0x10FFFF else "\ufffd", spec)
    if verb == "q":
        return _pad(quote_rune(mag, ascii_only=spec.plus), spec)
    if verb == "U":
        text = f"U+{mag:04X}"
        if spec.sharp and mag <= 0x10FFFF and _is_print(chr(mag)):
            text += f" '{chr(mag)}'"
        return _pad(text, spec)
    base = {"d": 10, "v": 10, "x": 16, "X": 16, "o": 8, "O": 8, "b": 2}[verb]
    digits = {10: f"{mag}", 16: f"{mag:x}", 8: f"{mag:o}", 2: f"{mag:b}"}[base]
    if verb == "X":
        digits = digits.upper()
    if spec.precision is not None:
        digits = digits.rjust(spec.precision, "0") if not (spec.precision == 0 and mag == 0) else ""
    prefix = ""
    if spec.sharp:
        prefix = {"x": "0x", "X": "0X", "o": "0", "b": "0b"}.get(verb, "")
        if verb == "o" and digits.startswith("0"):
            prefix = ""
    if verb == "O":
        prefix = "0o"
    sign = "-" if neg else ("+" if spec.plus else (" " if spec.space else ""))
    text = sign + prefix + digits
    if spec.zero and spec.width and not spec.minus and spec.precision is None:
        fill = spec.width - len(text)
        if fill > 0:
            text = sign + prefix + "0" * fill + digits
        return text
    return _pad(text, spec)


def _fmt_float(value: float, verb: str, spec: _Spec) -> str:
    if verb == "v":
        verb = "g"
    prec = -1 if spec.precision is None else spec.precision
    if verb in "fF" and spec.precision is None:
        prec = 6
    if verb in "eE" and spec.precision is None:
        prec = 6
    text = format_float(value, "f" if verb == "F" else verb, prec)
    if spec.sharp and verb in "gG" and "." not in text and "e" not in text.lower() and "Inf" not in text:
        text += "."
    if spec.plus and not text.startswith("-") and "NaN" not in text:
        text = "+" + text
    elif spec.space and not text.startswith("-"):
        text = " " + text
    if math.isinf(value) or math.isnan(value):
        saved = spec.zero
        spec.zero = False
        try:
            return _pad(text, spec)
        finally:
            spec.zero = saved
    return _pad(text, spec, numeric=True)


def _fmt_str(text: str, verb: str, spec: _Spec) -> str:
    if spec.precision is not None:
        text = text[: spec.precision]
    if verb in ("s", "v"):
        return _pad(text, spec)
    if verb == "q":
        if spec.sharp and "`" not in text and all(_is_print(c) or c == "\t" for c in text):
            return _pad("`" + text + "`", spec)
        return _pad(quote(text, ascii_only=spec.plus), spec)
    if verb in ("x", "X"):
        data = text.encode("utf-8", "surrogateescape")
        parts = [f"{b:02x}" for b in data]
        if spec.sharp:
            parts = ["0x" + p for p in parts] if spec.space else parts
        sep = " " if spec.space else ""
        out = sep.join(parts)
        if spec.sharp and not spec.space:
            out = "0x" + out
        return _pad(out.upper() if verb == "X" else out, spec)
    return _bad(verb, text)


def format_value(value: Any, verb: str, spec: _Spec, depth: int) -> str:
    """One operand as Go's printArg/printValue formats it."""
    if value is NO_VALUE:
        value = None
    if verb == "T":
        return _pad(type_name(value), spec)
    if value is None:
        if verb == "v" or depth > 0:  # a nil interface inside a container prints as <nil> for any verb
            return _pad("<nil>", spec)
        return _bad(verb, value)
    if isinstance(value, GoObject) and verb in "vsxXq":
        text = value.go_string()
        if text is not None:
            return _fmt_str(text, verb, spec)
    if isinstance(value, bool):
        if verb in "tv":
            return _pad("true" if value else "false", spec)
        return _bad(verb, value)
    if isinstance(value, int):
        if verb in "dvxXobcqUO":
            return _fmt_int(int(value), verb, spec)
        return _bad(verb, value)
    if isinstance(value, float):
        if verb in "vfFeEgG":
            return _fmt_float(value, verb, spec)
        if verb in "xXb":
            return _bad(verb, value)
        return _bad(verb, value)
    if isinstance(value, str):
        return _fmt_str(value, verb, spec)
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: kv[0].encode("utf-8", "surrogateescape"))
        inner = " ".join(
            f"{format_value(k, verb, spec, depth + 1)}:{format_value(v, verb, spec, depth + 1)}"
            for k, v in items
        )
        return f"map[{inner}]"
    if isinstance(value, list):
        return "[" + " ".join(format_value(v, verb, spec, depth + 1) for v in value) + "]"
    if isinstance(value, GoObject):
        fields = value.go_fields()
        if fields is None:
            return _bad(verb, value)
        if spec.plus_v and verb == "v":
            inner = " ".join(f"{k}:{format_value(v, verb, spec, depth + 1)}" for k, v in fields.items())
        else:
            inner = " ".join(format_value(v, verb, spec, depth + 1) for v in fields.values())
        return "{" + inner + "}"
    if isinstance(value, GoFunc):
        return "0x0" if verb == "v" else _bad(verb, value)
    return _bad(verb, value)


def sprint(*args: Any) -> str:
    """fmt.Sprint: spaces between operands when neither is a string."""
    out: list[str] = []
    prev_string = True
    for i, arg in enumerate(args):
        is_string = isinstance(arg, str)
        if i > 0 and not is_string and not prev_string:
            out.append(" ")
        out.append(format_value(arg, "v", _Spec(), 0))
        prev_string = is_string
    return "".join(out)


def sprintln(*args: Any) -> str:
    return " ".join(format_value(a, "v", _Spec(), 0) for a in args) + "\n"


def sprintf(fmt: str, *args: Any) -> str:  # noqa: PLR0915 - fmt.doPrintf, flag by flag
    """fmt.Sprintf."""
    out: list[str] = []
    argi = 0
    i = 0
    n = len(fmt)
    while i < n:
        ch = fmt[i]
        if ch != "%":
            j = fmt.find("%", i)
            j = n if j < 0 else j
            out.append(fmt[i:j])
            i = j
            continue
        i += 1
        spec = _Spec()
        while i < n and fmt[i] in "-+# 0":
            flag = fmt[i]
            if flag == "-":
                spec.minus, spec.zero = True, False
            elif flag == "+":
                spec.plus = True
            elif flag == "#":
                spec.sharp = True
            elif flag == " ":
                spec.space = True
            elif not spec.minus:
                spec.zero = True
            i += 1
        # width
        if i < n and fmt[i] == "*":
            i += 1
            if argi < len(args) and isinstance(args[argi], int) and not isinstance(args[argi], bool):
                spec.width = int(args[argi])
                if spec.width < 0:
                    spec.minus, spec.width = True, -spec.width
            else:
                out.append("%!(BADWIDTH)")
            argi += 1
        else:
            start = i
            while i < n and fmt[i].isdigit():
                i += 1
            if i > start:
                spec.width = int(fmt[start:i])
        if i < n and fmt[i] == ".":
            i += 1
            if i < n and fmt[i] == "*":
                i += 1
                if argi < len(args) and isinstance(args[argi], int) and not isinstance(args[argi], bool):
                    spec.precision = max(int(args[argi]), 0)
                else:
                    out.append("%!(BADPREC)")
                argi += 1
            else:
                start = i
                while i < n and fmt[i].isdigit():
                    i += 1
                spec.precision = int(fmt[start:i]) if i > start else 0
        if (spec.width or 0) > MAX_WIDTH or (spec.precision or 0) > MAX_WIDTH:
            raise FuncError(f"fmt: width or precision above {MAX_WIDTH} (ferry's limit)")
        if i >= n:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            out.append("%")
            continue
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[argi]
        argi += 1
        if verb == "v" and spec.plus:
            spec.plus, spec.plus_v = False, True
        if not verb.isalpha():
            out.append(_bad(verb, arg))
            continue
        out.append(format_value(arg, verb, spec, 0))
    if argi < len(args):
        extra = ", ".join(
            "<nil>" if a is None else f"{type_name(a)}={format_value(a, 'v', _Spec(), 0)}"
            for a in args[argi:]
        )
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def print_value(value: Any) -> str:
    """How ``{{ value }}`` prints (fmt.Fprint of one operand)."""
    return format_value(value, "v", _Spec(), 0)


def int_to_string(value: int) -> str:
    return str(int(value))


__all__ = [
    "GoInt",
    "format_float",
    "format_value",
    "int_to_string",
    "print_value",
    "quote",
    "quote_rune",
    "sprint",
    "sprintf",
    "sprintln",
]

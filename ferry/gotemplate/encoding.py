"""JSON and YAML as Go encodes them for templates: encoding/json (``toJson``, ``toPrettyJson``,
``toRawJson``, ``fromJson``) and sigs.k8s.io/yaml over yaml.v2 (``toYaml``, ``fromYaml``).

Go's JSON sorts map keys, escapes ``<``, ``>``, ``&``, U+2028 and U+2029 and writes floats like
ECMAScript; sigs.k8s.io/yaml goes through JSON, orders keys "naturally" (``a2`` before ``a10``),
double-quotes strings that would read back as something else and writes multi-line strings as
literal blocks. The emitter is libyaml's (PyYAML's C dumper), which yaml.v2 is a port of.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from typing import Any

import yaml

from ferry.gotemplate.errors import FuncError
from ferry.gotemplate.gofmt import format_float
from ferry.gotemplate.gotime import GoTime, format_time
from ferry.gotemplate.values import NO_VALUE, GoFunc, GoObject, NilList, type_name

# --- JSON --------------------------------------------------------------------------------------------


def _json_float(value: float) -> str:
    if math.isinf(value) or math.isnan(value):
        raise FuncError(f"json: unsupported value: {format_float(value)}")
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        return re.sub(r"e([+-])0(\d)$", r"e\1\2", format_float(value, "e", -1))
    return format_float(value, "f", -1)


def _json_string(text: str, *, escape_html: bool) -> str:
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif code < 0x20:
            out.append({8: "\\b", 12: "\\f", 10: "\\n", 13: "\\r", 9: "\\t"}.get(code, f"\\u00{code:02x}"))
        elif escape_html and ch in "<>&":
            out.append(f"\\u00{code:02x}")
        elif ch in ("\u2028", "\u2029"):
            out.append(f"\\u{code:04x}")
        elif 0xDC80 <= code <= 0xDCFF:
            out.append("\\ufffd")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def to_json(value: Any, *, indent: str = "", escape_html: bool = True) -> str:
    """json.Marshal (``indent`` "": compact; "  ": MarshalIndent)."""
    parts: list[str] = []
    _encode(value, parts, indent, 0, escape_html)
    return "".join(parts)


def _encode(value: Any, out: list[str], indent: str, level: int, escape_html: bool) -> None:
    if value is None or value is NO_VALUE or isinstance(value, NilList):
        out.append("null")
    elif isinstance(value, bool):
        out.append("true" if value else "false")
    elif isinstance(value, GoTime):
        out.append('"' + format_time(value, "2006-01-02T15:04:05.999999999Z07:00") + '"')
    elif isinstance(value, int):
        out.append(str(int(value)))
    elif isinstance(value, float):
        out.append(_json_float(value))
    elif isinstance(value, str):
        out.append(_json_string(value, escape_html=escape_html))
    elif isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: kv[0].encode("utf-8", "surrogateescape"))
        _container(out, "{", "}", items, indent, level, escape_html, keyed=True)
    elif isinstance(value, list):
        _container(out, "[", "]", [(None, v) for v in value], indent, level, escape_html, keyed=False)
    elif isinstance(value, GoObject) and value.go_fields() is not None:
        fields = value.go_fields() or {}
        _container(out, "{", "}", list(fields.items()), indent, level, escape_html, keyed=True)
    elif isinstance(value, GoObject) and value.go_string() is not None and value.go_type.kind == "ptr":
        out.append(_json_string(value.go_string() or "", escape_html=escape_html))
    elif isinstance(value, GoFunc):
        raise FuncError(f"json: unsupported type: {type_name(value)}")
    else:
        raise FuncError(f"json: unsupported type: {type_name(value)}")


def _container(
    out: list[str],
    open_: str,
    close: str,
    items: list[tuple[Any, Any]],
    indent: str,
    level: int,
    escape_html: bool,
    *,
    keyed: bool,
) -> None:
    if not items:
        out.append(open_ + close)
        return
    out.append(open_)
    for i, (key, item) in enumerate(items):
        if i:
            out.append(",")
        if indent:
            out.append("\n" + indent * (level + 1))
        if keyed:
            out.append(_json_string(key, escape_html=escape_html))
            out.append(": " if indent else ":")
        _encode(item, out, indent, level + 1, escape_html)
    if indent:
        out.append("\n" + indent * level)
    out.append(close)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


def from_json(text: str) -> Any:
    """json.Unmarshal into interface{}: every number a float64."""
    try:
        return json.loads(text, parse_int=float, parse_constant=_reject_constant)
    except RecursionError:
        raise FuncError("exceeded max depth") from None
    except ValueError as err:
        message = str(err)
        if isinstance(err, json.JSONDecodeError):
            message = _json_error(err)
        raise FuncError(message) from None


def _json_error(err: json.JSONDecodeError) -> str:
    message = go_json_syntax_error(err.doc)
    return message or "invalid JSON"


def _go_char(ch: str) -> str:
    """encoding/json's quoteChar."""
    if ch == "'":
        return "'\\''"
    if ch == '"':
        return "'\"'"
    from ferry.gotemplate.gofmt import quote  # noqa: PLC0415

    return "'" + quote(ch)[1:-1] + "'"


class _JsonSyntax(Exception):
    pass


def go_json_syntax_error(text: str) -> str | None:  # noqa: PLR0915 - one scanner, Go's messages
    """The message Go's JSON scanner gives for the first syntax error in ``text`` (None if valid)."""
    pos = 0
    n = len(text)

    def fail(message: str) -> _JsonSyntax:
        return _JsonSyntax(message)

    def eof() -> _JsonSyntax:
        return _JsonSyntax("unexpected end of JSON input")

    def ws(i: int) -> int:
        while i < n and text[i] in " \t\n\r":
            i += 1
        return i

    def value(i: int, depth: int) -> int:
        if depth > 10000:
            raise fail("exceeded max depth")
        i = ws(i)
        if i >= n:
            raise eof()
        ch = text[i]
        if ch == "{":
            i = ws(i + 1)
            if i < n and text[i] == "}":
                return i + 1
            while True:
                if i >= n:
                    raise eof()
                if text[i] != '"':
                    raise fail(
                        f"invalid character {_go_char(text[i])} looking for beginning of object key string"
                    )
                i = ws(string(i))
                if i >= n:
                    raise eof()
                if text[i] != ":":
                    raise fail(f"invalid character {_go_char(text[i])} after object key")
                i = ws(value(i + 1, depth + 1))
                if i >= n:
                    raise eof()
                if text[i] == "}":
                    return i + 1
                if text[i] != ",":
                    raise fail(f"invalid character {_go_char(text[i])} after object key:value pair")
                i = ws(i + 1)
        if ch == "[":
            i = ws(i + 1)
            if i < n and text[i] == "]":
                return i + 1
            while True:
                i = ws(value(i, depth + 1))
                if i >= n:
                    raise eof()
                if text[i] == "]":
                    return i + 1
                if text[i] != ",":
                    raise fail(f"invalid character {_go_char(text[i])} after array element")
                i += 1
        if ch == '"':
            return string(i)
        if ch == "-" or (ch.isdigit() and ch.isascii()):
            return number(i)
        for word in ("true", "false", "null"):
            if ch == word[0]:
                for j, expected in enumerate(word[1:], start=1):
                    if i + j >= n:
                        raise eof()
                    if text[i + j] != expected:
                        found = _go_char(text[i + j])
                        raise fail(f"invalid character {found} in literal {word} (expecting '{expected}')")
                return i + len(word)
        raise fail(f"invalid character {_go_char(ch)} looking for beginning of value")

    def string(i: int) -> int:
        i += 1
        while True:
            if i >= n:
                raise eof()
            ch = text[i]
            if ch == '"':
                return i + 1
            if ch == "\\":
                i += 1
                if i >= n:
                    raise eof()
                esc = text[i]
                if esc == "u":
                    for j in range(1, 5):
                        if i + j >= n:
                            raise eof()
                        if text[i + j] not in "0123456789abcdefABCDEF":
                            found = _go_char(text[i + j])
                            raise fail(f"invalid character {found} in \\u hexadecimal character escape")
                    i += 5
                    continue
                if esc not in '"\\/bfnrt':
                    raise fail(f"invalid character {_go_char(esc)} in string escape code")
                i += 1
                continue
            if ord(ch) < 0x20:
                raise fail(f"invalid character {_go_char(ch)} in string literal")
            i += 1

    def digits(i: int) -> int:
        while i < n and text[i] in "0123456789":
            i += 1
        return i

    def number(i: int) -> int:
        if text[i] == "-":
            i += 1
            if i >= n:
                raise eof()
            if text[i] not in "0123456789":
                raise fail(f"invalid character {_go_char(text[i])} in numeric literal")
        i = i + 1 if text[i] == "0" else digits(i)
        if i < n and text[i] == ".":
            i += 1
            if i >= n:
                raise eof()
            if text[i] not in "0123456789":
                raise fail(f"invalid character {_go_char(text[i])} after decimal point in numeric literal")
            i = digits(i)
        if i < n and text[i] in "eE":
            i += 1
            if i < n and text[i] in "+-":
                i += 1
            if i >= n:
                raise eof()
            if text[i] not in "0123456789":
                raise fail(f"invalid character {_go_char(text[i])} in exponent of numeric literal")
            i = digits(i)
        return i

    try:
        pos = ws(value(0, 0))
        if pos < n:
            raise fail(f"invalid character {_go_char(text[pos])} after top-level value")
    except _JsonSyntax as err:
        return str(err)
    return None


# --- YAML --------------------------------------------------------------------------------------------

_YAML_SPECIAL = frozenset(
    {"y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "n", "N", "no", "No", "NO", "off", "Off", "OFF"}
    | {"", "~", "null", "Null", "NULL", ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf"}
    | {"+.INF", "-.inf", "-.Inf", "-.INF", "<<", "true", "True", "TRUE", "false", "False", "FALSE"}
)
_BASE60 = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")
_TIMESTAMP = re.compile(
    r"^\d{4}-\d{1,2}-\d{1,2}"
    r"(?:(?:[Tt]|[ \t]+)\d{1,2}:\d{2}:\d{2}(?:\.\d*)?(?:[ \t]*(?:Z|[-+]\d{1,2}(?::\d{2})?))?)?$"
)
_GO_INT = re.compile(r"^[-+]?(0b[01_]+|0o?[0-7_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*)$")
_GO_FLOAT = re.compile(r"^[-+]?(\d[\d_]*\.?[\d_]*([eE][-+]?\d+)?|\.\d[\d_]*([eE][-+]?\d+)?)$")


def _yaml_resolves_to_non_string(text: str) -> bool:
    """yaml.v2's resolve(): would this plain scalar read back as something other than a string?"""
    if text in _YAML_SPECIAL:
        return True
    if text[:1] not in tuple("0123456789+-.") or not text:
        return False
    plain = text.replace("_", "")
    if _GO_INT.match(text) and plain not in ("+", "-"):
        return True
    if _GO_FLOAT.match(plain) and plain not in (".", "+.", "-."):
        return True
    if _BASE60.match(text):
        return True
    return bool(_TIMESTAMP.match(text))


def _yaml_key(text: str) -> tuple[Any, ...]:
    return tuple(_natural_parts(text))


def _natural_parts(text: str) -> list[Any]:
    return [text]


def _yaml_less(a: str, b: str) -> bool:
    """yaml.v2 keyList.Less for two strings."""
    ar, br = list(a), list(b)
    for i in range(min(len(ar), len(br))):
        if ar[i] == br[i]:
            continue
        al, bl = _is_letter(ar[i]), _is_letter(br[i])
        if al and bl:
            return ar[i] < br[i]
        if al or bl:
            return bl
        an = bn = 0
        if ar[i] == "0" or br[i] == "0":
            j = i - 1
            while j >= 0 and ar[j].isdigit():
                if ar[j] != "0":
                    an = bn = 1
                    break
                j -= 1
        ai = i
        while ai < len(ar) and ar[ai].isdigit():
            an = an * 10 + int(ar[ai]) if ar[ai].isascii() else an
            ai += 1
        bi = i
        while bi < len(br) and br[bi].isdigit():
            bn = bn * 10 + int(br[bi]) if br[bi].isascii() else bn
            bi += 1
        if an != bn:
            return an < bn
        if ai != bi:
            return ai < bi
        return ar[i] < br[i]
    return len(ar) < len(br)


def _is_letter(ch: str) -> bool:
    return unicodedata.category(ch).startswith("L")


class _NaturalKey:
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __lt__(self, other: _NaturalKey) -> bool:
        return _yaml_less(self.text, other.text)


def _json_number(text: str) -> Any:
    """How yaml.v2 reads a JSON number: int when it parses as one, else float."""
    try:
        return int(text)
    except ValueError:
        return float(text)


class _Dumper(yaml.CSafeDumper if hasattr(yaml, "CSafeDumper") else yaml.SafeDumper):  # type: ignore[misc]
    """Emits str-tagged scalars only, with the styles yaml.v2 picks; resolves nothing implicitly."""

    yaml_implicit_resolvers: dict[Any, Any] = {}  # noqa: RUF012 - PyYAML's class-level registry


def _scalar(dumper: yaml.SafeDumper, text: str, style: str | None = None) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    if "\n" in text:
        return _scalar(dumper, text, "|")
    if _yaml_resolves_to_non_string(text):
        return _scalar(dumper, text, '"')
    return _scalar(dumper, text)


def _represent_float(dumper: yaml.SafeDumper, value: float) -> yaml.ScalarNode:
    text = format_float(value, "g", -1)
    text = {"+Inf": ".inf", "-Inf": "-.inf", "NaN": ".nan"}.get(text, text)
    return _scalar(dumper, text)


def _represent_dict(dumper: yaml.SafeDumper, value: dict[str, Any]) -> yaml.MappingNode:
    keys = sorted(value, key=_NaturalKey)
    return dumper.represent_mapping("tag:yaml.org,2002:map", [(k, value[k]) for k in keys])


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(float, _represent_float)
_Dumper.add_representer(int, lambda d, v: _scalar(d, str(v)))
_Dumper.add_representer(bool, lambda d, v: _scalar(d, "true" if v else "false"))
_Dumper.add_representer(type(None), lambda d, v: _scalar(d, "null"))
_Dumper.add_representer(dict, _represent_dict)
_Dumper.add_representer(list, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v))


def to_yaml(value: Any) -> str:
    """sigs.k8s.io/yaml.Marshal: through JSON, then yaml.v2 (Argo CD trims the last newline)."""
    data = json.loads(to_json(value), parse_int=_json_number, parse_float=_json_number)
    text = yaml.dump(
        data, Dumper=_Dumper, allow_unicode=True, default_flow_style=False, sort_keys=False, width=80
    )
    if text.endswith("\n...\n"):
        text = text[: -len("...\n")]
    return text


class _Loader(yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader):  # type: ignore[misc]
    """YAML 1.1 as yaml.v2 reads it into interface{}: timestamps stay strings."""


_YAML_BOOLS = {
    "y": True,
    "yes": True,
    "on": True,
    "true": True,
    "n": False,
    "no": False,
    "off": False,
    "false": False,
}


def _construct_bool(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> bool:
    return _YAML_BOOLS[loader.construct_scalar(node).lower()]


_Loader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:y|Y|n|N)$"), list("yYnN"))


def _to_json_types(value: Any) -> Any:
    """The JSON round trip sigs.k8s.io/yaml makes: numbers become float64, keys strings."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, dict):
        return {_key_string(k): _to_json_types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_json_types(v) for v in value]
    if isinstance(value, bytes):
        import base64  # noqa: PLC0415

        return base64.b64encode(value).decode()
    return str(value)


def _key_string(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, float):
        return format_float(key, "g", -1)
    if key is None:
        return "null"
    return str(key)


def load_yaml(text: str) -> Any:
    try:
        return _to_json_types(yaml.load(text, Loader=_Loader))  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        raise FuncError(f"error converting YAML to JSON: yaml: {err}") from None
    except RecursionError:
        raise FuncError("error converting YAML to JSON: too deeply nested") from None


def from_yaml(text: str) -> dict[str, Any]:
    data = load_yaml(text)
    if data is None:
        return {}
    if not isinstance(data, dict):
        kind = "array" if isinstance(data, list) else ("string" if isinstance(data, str) else "number")
        if isinstance(data, bool):
            kind = "bool"
        raise FuncError(
            f"error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {kind} into Go value of "
            "type map[string]interface {}"
        )
    return data


def from_yaml_array(text: str) -> list[Any]:
    data = load_yaml(text)
    if data is None:
        return []
    if not isinstance(data, list):
        kind = "object" if isinstance(data, dict) else ("string" if isinstance(data, str) else "number")
        if isinstance(data, bool):
            kind = "bool"
        raise FuncError(
            f"error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {kind} into Go value of "
            "type []interface {}"
        )
    return data

"""text/template's predefined functions (``funcs.go``): and, or, not, call, index, len, html, js,
urlquery, print, printf, println and the comparisons, with Go's rules and error messages.

``and``, ``or`` and ``call`` are special-cased by the executor; their entries here only carry
signatures. Functions taking ``VALUE`` receive :class:`RV` (reflect.Value) arguments.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import Any

from ferry.gotemplate import gofmt
from ferry.gotemplate.errors import FuncError
from ferry.gotemplate.values import (
    ANY,
    BOOL,
    INT,
    INVALID,
    NO_VALUE,
    RV,
    STRING,
    VALUE,
    Byte,
    GoFunc,
    GoInt,
    GoObject,
    IntList,
    Signature,
    StrList,
    StrMap,
    assignable,
    go_type_of,
    is_int_like,
    is_true,
    type_name,
)


def truth(arg: RV) -> bool:
    return is_true(arg.concrete())[0]


def _not(arg: RV) -> bool:
    return not truth(arg)


def _basic_kind(value: Any) -> str:
    if value is NO_VALUE or value is None:
        return "invalid"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    return "invalid"


def _reflect_kind(value: Any) -> str:
    if value is NO_VALUE or value is None:
        return "invalid"
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "slice"
    if isinstance(value, GoFunc):
        return "func"
    if isinstance(value, GoObject):
        return value.go_type.kind
    return _basic_kind(value)


def _comparable(value: Any) -> bool:
    if isinstance(value, (dict, list, GoFunc)):
        return False
    if isinstance(value, GoObject):
        fields = value.go_fields()
        return fields is None or all(_comparable(v) for v in fields.values() if v is not None)
    return True


def _v(value: Any) -> str:
    return gofmt.print_value(value)


def _eq(arg1: RV, *arg2: RV) -> bool:
    a = arg1.concrete()
    if not arg2:
        raise FuncError("missing argument for comparison")
    k1 = _basic_kind(a)
    for other in arg2:
        b = other.concrete()
        k2 = _basic_kind(b)
        result = False
        if k1 != k2:
            if a is not NO_VALUE and b is not NO_VALUE:
                raise FuncError(f"incompatible types for comparison: {type_name(a)} and {type_name(b)}")
        elif k1 in ("bool", "int", "float", "string"):
            result = a == b
        else:
            ka, kb = _reflect_kind(a), _reflect_kind(b)
            if ka != kb and "invalid" not in (ka, kb):
                raise FuncError(
                    f"non-comparable types {gofmt.sprintf('%s', a)}: {type_name(a)}, {type_name(b)}: {_v(b)}"
                )
            if a is NO_VALUE or b is NO_VALUE:
                result = (a is NO_VALUE) == (b is NO_VALUE)
            else:
                if not _comparable(b):
                    raise FuncError(f"non-comparable type {gofmt.sprintf('%s', b)}: {type_name(b)}")
                result = type_name(a) == type_name(b) and a == b
        if result:
            return True
    return False


def _ne(arg1: RV, arg2: RV) -> bool:
    return not _eq(arg1, arg2)


def _lt(arg1: RV, arg2: RV) -> bool:
    a, b = arg1.concrete(), arg2.concrete()
    k1, k2 = _basic_kind(a), _basic_kind(b)
    if k1 == "invalid" or k2 == "invalid":
        raise FuncError("invalid type for comparison")
    if k1 != k2:
        raise FuncError(f"incompatible types for comparison: {type_name(a)} and {type_name(b)}")
    if k1 == "bool":
        raise FuncError("invalid type for comparison")
    if k1 == "string":
        return bool(a.encode("utf-8", "surrogateescape") < b.encode("utf-8", "surrogateescape"))
    return bool(a < b)


def _le(arg1: RV, arg2: RV) -> bool:
    return _lt(arg1, arg2) or _eq(arg1, arg2)


def _gt(arg1: RV, arg2: RV) -> bool:
    return not _le(arg1, arg2)


def _ge(arg1: RV, arg2: RV) -> bool:
    return not _lt(arg1, arg2)


# --- index and len -----------------------------------------------------------------------------------


def _index_arg(index: Any, cap: int) -> int:
    if isinstance(index, bool) or not isinstance(index, int):
        if index is NO_VALUE:
            raise FuncError("cannot index slice/array with nil")
        raise FuncError(f"cannot index slice/array with type {type_name(index)}")
    if index < 0 or index > cap:
        raise FuncError(f"index out of range: {int(index)}")
    return int(index)


def _index(item: RV, *indexes: RV) -> RV:
    current = item.concrete()
    if current is NO_VALUE:
        raise FuncError("index of untyped nil")
    rv = RV(current)
    for index_rv in indexes:
        index = index_rv.concrete()
        value = rv.v
        if value is None:
            raise FuncError("index of nil pointer")
        if isinstance(value, (list, str)):
            x = _index_arg(index, len(value) if isinstance(value, list) else len(_bytes(value)))
            if isinstance(value, str):
                data = _bytes(value)
                if x >= len(data):
                    raise FuncError("reflect: string index out of range")
                rv = RV(Byte(data[x]))
            else:
                if x >= len(value):
                    raise FuncError("reflect: slice index out of range")
                rv = RV(value[x], iface=not isinstance(value, (StrList, IntList)))
        elif isinstance(value, dict):
            if index is NO_VALUE:
                raise FuncError("value is nil; should be of type string")
            if not isinstance(index, str):
                raise FuncError(f"value has type {type_name(index)}; should be string")
            if isinstance(value, StrMap):
                rv = RV(value.get(index, ""))
            elif index in value:
                rv = RV(value[index], iface=True)
            else:
                rv = RV(None, iface=True)
        else:
            raise FuncError(f"can't index item of type {type_name(value)}")
    return rv


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _len(item: RV) -> int:
    value = item.v
    if value is None:
        raise FuncError("len of nil pointer")
    if value is NO_VALUE:
        raise FuncError("reflect: call of reflect.Value.Type on zero Value")
    if isinstance(value, str):
        return GoInt(len(_bytes(value)))
    if isinstance(value, (list, dict)):
        return GoInt(len(value))
    raise FuncError(f"len of type {type_name(value)}")


# --- call --------------------------------------------------------------------------------------------


def prepare_arg(value: Any, typ: Any) -> Any:
    """prepareArg: a value for a parameter of ``call``ed functions (nil for nillable types)."""
    if value is NO_VALUE:
        if not typ.can_be_nil():
            raise FuncError(f"value is nil; should be of type {typ}")
        return RV(None, iface=True) if typ.kind == "value" else None
    if typ.kind == "value":
        return RV(value)
    if assignable(value, typ):
        return value
    vt = go_type_of(value)
    if vt is not None and is_int_like(vt) and is_int_like(typ):
        return GoInt(value) if typ.kind == "int" else int(value)
    raise FuncError(f"value has type {type_name(value)}; should be {typ}")


def call_function(
    name: str, fn: RV, args: list[RV], invoke: Callable[[GoFunc, list[Any]], Any]
) -> tuple[Any, GoFunc]:
    target = fn.concrete()
    if target is NO_VALUE:
        raise FuncError("call of nil")
    if not isinstance(target, GoFunc):
        raise FuncError(f"non-function {name} of type {type_name(target)}")
    sig = target.signature
    fixed = len(sig.params)
    if sig.variadic is not None:
        if len(args) < fixed:
            raise FuncError(f"wrong number of args for {name}: got {len(args)} want at least {fixed}")
    elif len(args) != fixed:
        raise FuncError(f"wrong number of args for {name}: got {len(args)} want {fixed}")
    argv: list[Any] = []
    for i, arg in enumerate(args):
        typ = sig.params[i] if i < fixed else sig.variadic
        try:
            argv.append(prepare_arg(arg.concrete(), typ))
        except FuncError as err:
            raise FuncError(f"arg {i}: {err}") from None
    return invoke(target, argv), target


# --- escaping ----------------------------------------------------------------------------------------


def eval_args(args: tuple[Any, ...]) -> str:
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return gofmt.sprint(*["<no value>" if a is None or a is NO_VALUE else a for a in args])


_HTML = {"\0": "\ufffd", '"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;"}


def html_escape(text: str) -> str:
    return "".join(_HTML.get(c, c) for c in text)


def js_escape(text: str) -> str:
    out: list[str] = []
    for ch in text:
        code = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == "'":
            out.append("\\'")
        elif ch == '"':
            out.append('\\"')
        elif ch == "<":
            out.append("\\u003C")
        elif ch == ">":
            out.append("\\u003E")
        elif ch == "&":
            out.append("\\u0026")
        elif ch == "=":
            out.append("\\u003D")
        elif code < 0x20:
            out.append(f"\\u00{code:02X}")
        elif code < 0x80:
            out.append(ch)
        elif 0xDC80 <= code <= 0xDCFF:
            out.append("\\uFFFD")
        elif gofmt._is_print(ch):
            out.append(ch)
        else:
            out.append(f"\\u{code:04X}")
    return "".join(out)


def query_escape(text: str) -> str:
    return urllib.parse.quote_plus(_bytes(text), safe="")


def _html(*args: Any) -> str:
    return html_escape(eval_args(args))


def _js(*args: Any) -> str:
    return js_escape(eval_args(args))


def _urlquery(*args: Any) -> str:
    return query_escape(eval_args(args))


def _print(*args: Any) -> str:
    return gofmt.sprint(*args)


def _printf(fmt: str, *args: Any) -> str:
    return gofmt.sprintf(fmt, *args)


def _println(*args: Any) -> str:
    return gofmt.sprintln(*args)


def _unreachable(*_args: Any) -> Any:
    raise AssertionError("special-cased by the executor")


def _f(name: str, impl: Callable[..., Any], *params: Any, variadic: Any = None, result: Any = ANY) -> GoFunc:
    return GoFunc(name, Signature(tuple(params), variadic, result, True), impl)


BUILTINS: dict[str, GoFunc] = {
    "and": _f("and", _unreachable, VALUE, variadic=VALUE, result=VALUE),
    "or": _f("or", _unreachable, VALUE, variadic=VALUE, result=VALUE),
    "call": _f("call", _unreachable, VALUE, variadic=VALUE, result=VALUE),
    "not": _f("not", _not, VALUE, result=BOOL),
    "index": _f("index", _index, VALUE, variadic=VALUE, result=VALUE),
    "len": _f("len", _len, VALUE, result=INT),
    "html": _f("html", _html, variadic=ANY, result=STRING),
    "js": _f("js", _js, variadic=ANY, result=STRING),
    "urlquery": _f("urlquery", _urlquery, variadic=ANY, result=STRING),
    "print": _f("print", _print, variadic=ANY, result=STRING),
    "printf": _f("printf", _printf, STRING, variadic=ANY, result=STRING),
    "println": _f("println", _println, variadic=ANY, result=STRING),
    "eq": _f("eq", _eq, VALUE, variadic=VALUE, result=BOOL),
    "ne": _f("ne", _ne, VALUE, VALUE, result=BOOL),
    "lt": _f("lt", _lt, VALUE, VALUE, result=BOOL),
    "le": _f("le", _le, VALUE, VALUE, result=BOOL),
    "gt": _f("gt", _gt, VALUE, VALUE, result=BOOL),
    "ge": _f("ge", _ge, VALUE, VALUE, result=BOOL),
}

__all__ = ["BUILTINS", "INVALID", "call_function", "html_escape", "js_escape", "query_escape", "truth"]

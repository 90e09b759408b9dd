"""How Go values look from Python: the value model shared by the template engine, its functions and
the notifications expression evaluator.

Templates are run over plain JSON-like data, so most Go values are ordinary Python values:

| Go                          | Python                                                        |
|-----------------------------|---------------------------------------------------------------|
| ``string``, ``bool``        | ``str``, ``bool``                                             |
| ``int64`` (data)            | ``int`` (as Kubernetes' unstructured objects decode integers) |
| ``int`` (constants, ``len``)| :class:`GoInt`                                                |
| ``float64``                 | ``float``                                                     |
| ``map[string]interface{}``  | ``dict``; ``map[string]string``: :class:`StrMap`              |
| ``[]interface{}``           | ``list``; ``[]string``: :class:`StrList`; ``[]int``: :class:`IntList` |
| nil ``interface{}``         | ``None``                                                      |
| an invalid ``reflect.Value``| :data:`NO_VALUE` (a missing map key, "no value")             |
| ``time.Time``, ``time.Duration`` | :class:`GoTime`, :class:`Duration` (``ferry.gotemplate.gotime``) |
| structs, functions          | :class:`GoStruct`, :class:`GoFunc`                            |

Only values of these types can reach a template or a function, and a template can reach only
what :func:`fields_of` and :class:`GoFunc` expose: there is no path from a template to Python
attributes. This module must never give templates access to arbitrary Python objects.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Final


class _NoValue:
    """Go's invalid ``reflect.Value``: what a missing map key evaluates to."""

    _instance: ClassVar[_NoValue | None] = None

    def __new__(cls) -> _NoValue:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NO_VALUE"

    def __bool__(self) -> bool:
        return False


NO_VALUE: Final = _NoValue()


class GoInt(int):
    """A Go ``int`` (a template constant, ``len``, ``atoi``...); a plain ``int`` is an ``int64``."""

    __slots__ = ()


class Byte(int):
    """A Go ``uint8`` (``index`` of a string gives one)."""

    __slots__ = ()


class StrList(list[str]):
    """A Go ``[]string`` (``splitList``, ``keys``, ``sortAlpha``...)."""

    __slots__ = ()


class IntList(list[int]):
    """A Go ``[]int`` (``until``, ``untilStep``)."""

    __slots__ = ()


class NilList(list[Any]):
    """A nil ``[]interface{}``: prints as ``[]``, encodes to JSON as ``null``."""

    __slots__ = ()


class StrMap(dict[str, str]):
    """A Go ``map[string]string`` (``split``, ``splitn``)."""

    __slots__ = ()


@dataclasses.dataclass(frozen=True)
class GoType:
    """A Go type as far as argument checking and error messages need it."""

    name: str  # as Go spells it in messages ("interface {}", "map[string]interface {}")
    kind: str  # reflect.Kind name ("string", "int", "interface", "map", "slice", "struct", ...)

    def can_be_nil(self) -> bool:
        return self.kind in ("interface", "map", "slice", "ptr", "func", "value")

    def __str__(self) -> str:
        return self.name


STRING = GoType("string", "string")
BOOL = GoType("bool", "bool")
INT = GoType("int", "int")
INT64 = GoType("int64", "int64")
FLOAT64 = GoType("float64", "float64")
UINT8 = GoType("uint8", "uint8")
ANY = GoType("interface {}", "interface")
# A reflect.Value parameter (Go's builtins take these): the argument arrives as it is, even invalid.
VALUE = GoType("reflect.Value", "value")
MAP = GoType("map[string]interface {}", "map")
STRMAP = GoType("map[string]string", "map")
LIST = GoType("[]interface {}", "slice")
STRLIST = GoType("[]string", "slice")
INTLIST = GoType("[]int", "slice")
TIME = GoType("time.Time", "struct")
DURATION = GoType("time.Duration", "int64")


@dataclasses.dataclass(frozen=True)
class Signature:
    params: tuple[GoType, ...] = ()
    variadic: GoType | None = None  # element type of a trailing ...T parameter
    result: GoType = ANY
    returns_error: bool = False

    def describe(self) -> str:
        parts = [p.name for p in self.params]
        if self.variadic is not None:
            parts.append("..." + self.variadic.name)
        return f"func({', '.join(parts)}) {self.result.name}"


class GoFunc:
    """A Go function value: a template function, a method bound to its receiver, or a function
    stored in the data (``call .time.Parse ...``). ``impl`` receives Python values converted as
    the signature says (a ``VALUE`` parameter receives an :class:`RV`)."""

    __slots__ = ("impl", "name", "signature")

    def __init__(self, name: str, signature: Signature, impl: Callable[..., Any]) -> None:
        self.name = name
        self.signature = signature
        self.impl = impl

    def __repr__(self) -> str:
        return f"GoFunc({self.name})"


def func(
    *params: GoType,
    variadic: GoType | None = None,
    result: GoType = ANY,
    error: bool = False,
) -> Callable[[Callable[..., Any]], GoFunc]:
    """Decorator: declares a Python callable's Go signature."""

    def wrap(impl: Callable[..., Any]) -> GoFunc:
        name = impl.__name__.rstrip("_")
        return GoFunc(name, Signature(params, variadic, result, error), impl)

    return wrap


class GoObject:
    """Base of Go values with a named type, fields and methods (``time.Time``, ``*semver.Version``,
    structs). Only names listed in ``go_methods`` / ``go_fields`` are reachable from templates."""

    go_type: GoType
    go_methods: ClassVar[dict[str, GoFunc]] = {}

    def go_fields(self) -> dict[str, Any] | None:
        """Exported fields (a struct), or None when the type is not a struct."""
        return None

    def go_string(self) -> str | None:
        """``String()`` (or ``Error()``) when the type implements fmt.Stringer / error."""
        return None

    def go_type_name(self) -> str:
        return self.go_type.name


class GoStruct(GoObject):
    """A plain Go struct value with exported fields (``CommitMetadata``, ``AppDetail``...)."""

    def __init__(self, type_name: str, fields: dict[str, Any]) -> None:
        self.go_type = GoType(type_name, "struct")
        self._fields = dict(fields)

    def go_fields(self) -> dict[str, Any]:
        return self._fields


@dataclasses.dataclass(slots=True)
class RV:
    """A reflect.Value: ``v`` is the Python value (NO_VALUE when invalid); ``iface`` says it is held
    in an ``interface{}`` (a map value or list element), which changes error messages and makes
    ``None`` a nil interface rather than no value."""

    v: Any
    iface: bool = False

    @property
    def valid(self) -> bool:
        return self.v is not NO_VALUE

    def type_name(self) -> str:
        if self.iface:
            return "interface {}"
        return type_name(self.v)

    def concrete(self) -> Any:
        """``indirectInterface``: the value inside an interface (NO_VALUE for a nil one)."""
        if self.v is None:
            return NO_VALUE
        return self.v


INVALID: Final = RV(NO_VALUE)


def type_name(value: Any) -> str:
    """Go's ``%T`` of a value (``<nil>`` for nil)."""
    if value is None or value is NO_VALUE:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, GoInt):
        return "int"
    if isinstance(value, Byte):
        return "uint8"
    if isinstance(value, GoObject):
        return value.go_type_name()
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, StrMap):
        return "map[string]string"
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, StrList):
        return "[]string"
    if isinstance(value, IntList):
        return "[]int"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, GoFunc):
        return value.signature.describe()
    raise TypeError(f"not a template value: {type(value).__name__}")


def kind_of(value: Any) -> str:
    """``reflect.Kind`` name (sprig's ``kindOf``)."""
    if value is None or value is NO_VALUE:
        return "invalid"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, GoInt):
        return "int"
    if isinstance(value, Byte):
        return "uint8"
    if isinstance(value, GoObject):
        return "ptr" if value.go_type.kind == "ptr" else value.go_type.kind
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "slice"
    if isinstance(value, GoFunc):
        return "func"
    return "invalid"


def go_type_of(value: Any) -> GoType | None:
    """The GoType of a concrete value (None for nil / no value)."""
    if value is None or value is NO_VALUE:
        return None
    if isinstance(value, GoObject):
        return value.go_type
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, GoInt):
        return INT
    if isinstance(value, Byte):
        return UINT8
    if isinstance(value, int):
        return INT64
    if isinstance(value, float):
        return FLOAT64
    if isinstance(value, str):
        return STRING
    if isinstance(value, StrMap):
        return STRMAP
    if isinstance(value, dict):
        return MAP
    if isinstance(value, StrList):
        return STRLIST
    if isinstance(value, IntList):
        return INTLIST
    if isinstance(value, list):
        return LIST
    if isinstance(value, GoFunc):
        return GoType(value.signature.describe(), "func")
    raise TypeError(f"not a template value: {type(value).__name__}")


def assignable(value: Any, typ: GoType) -> bool:
    """Whether a concrete value is assignable to a parameter of type ``typ``."""
    if typ.kind in ("interface", "value"):
        return True
    vt = go_type_of(value)
    return vt is not None and vt.name == typ.name


_INT_KINDS = frozenset({"int", "int64"})


def is_int_like(typ: GoType) -> bool:
    return typ.kind in _INT_KINDS


def is_true(value: Any) -> tuple[bool, bool]:
    """text/template's truth of a concrete value: (truth, ok)."""
    if value is NO_VALUE or value is None:
        return False, True
    if isinstance(value, bool):
        return value, True
    if isinstance(value, (int, float)):
        return value != 0, True
    if isinstance(value, (str, dict, list)):
        return len(value) > 0, True
    if isinstance(value, GoObject):
        if value.go_type.kind == "int64":  # Duration
            return int(value) != 0, True  # type: ignore[call-overload]
        return True, True  # structs and non-nil pointers are true
    if isinstance(value, GoFunc):
        return True, True
    return False, False


def is_empty(value: Any) -> bool:
    """sprig's ``empty``: the zero value of its type."""
    truth, _ = is_true(value)
    return not truth


def is_nil(value: Any) -> bool:
    return value is None or value is NO_VALUE


def go_equal(a: Any, b: Any) -> bool:
    """reflect.DeepEqual of two concrete values (sprig's ``has``, ``uniq``, ``without``)."""
    if type_name(a) != type_name(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(go_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(go_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, GoFunc):
        return False
    return bool(a == b)


def fields_of(value: Any) -> dict[str, Any] | None:
    if isinstance(value, GoObject):
        return value.go_fields()
    return None


def methods_of(value: Any) -> dict[str, GoFunc]:
    if isinstance(value, GoObject):
        return type(value).go_methods
    return {}


def from_json(value: Any) -> Any:
    """Validates JSON-like data (from json.loads / YAML) for use as template data; raises
    TypeError naming the first value of another type."""
    if value is None or isinstance(value, (str, bool, int, float, GoObject, GoFunc)):
        return value
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"map key {k!r} is not a string")
            from_json(v)
        return value
    if isinstance(value, list):
        for item in value:
            from_json(item)
        return value
    raise TypeError(f"not a template value: {type(value).__name__}")


def numbers_as_float(value: Any) -> Any:
    """A copy of JSON-like data with every integer as a float, as Go's encoding/json decodes numbers
    into ``interface{}`` (Argo CD's list and Git generators): ``{{ eq .n 3 }}`` then fails as in Argo."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, dict):
        return {k: numbers_as_float(v) for k, v in value.items()}
    if isinstance(value, list):
        return [numbers_as_float(v) for v in value]
    return value


def as_sequence(value: Any) -> Sequence[Any] | None:
    return value if isinstance(value, list) else None

"""A safe evaluator of expr-lang (github.com/expr-lang/expr v1.17, what Argo CD's trigger ``when`` and
``oncePer`` conditions are written in), for the subset notification triggers use.

Syntax: literals (numbers, ``'..'``/``".."``/backquoted strings, ``true``, ``false``, ``nil``, arrays,
maps), member access ``a.b``, ``a["b"]``, optional chaining ``a?.b`` (a nil anywhere after it makes
the whole chain nil), calls ``f(x)`` and methods ``t.Add(d)``, unary ``not ! - +``, binary ``or || and
&& == != < > <= >= in  not in  matches contains startsWith endsWith .. + - * / % ** ^ ??`` with
expr's precedence, the ternary ``c ? a : b``, and the closures ``all any none one filter map count``
over ``#`` / ``.field``. Builtins: ``len abs int float string upper lower trim trimPrefix
trimSuffix keys values first last now duration``.

Values are the data's plain dicts/lists/scalars and ferry.gotemplate's Go values (``time.Time``,
``time.Duration``, functions such as ``time.Parse``). Evaluation walks a tree built by this module:
no ``eval``, no Python attribute access, and a step budget bounds every evaluation.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import re2

from ferry.gotemplate import gofmt
from ferry.gotemplate.errors import FuncError
from ferry.gotemplate.gotime import Duration, GoTime, parse_duration
from ferry.gotemplate.values import DURATION, GoFunc, GoInt, GoObject, fields_of, methods_of, type_name

MAX_STEPS = 100_000
MAX_DEPTH = 100


class ExprError(Exception):
    """A syntax or runtime error, with expr-lang's wording where it has one."""


# --- tokens ------------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>0[xX][0-9a-fA-F_]+|(?:\d[\d_]*)?\.?\d[\d_]*(?:[eE][+-]?\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`[^`]*`)
  | (?P<name>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<op>\?\.|\?\?|\.\.|\*\*|==|!=|<=|>=|&&|\|\||[!<>+\-*/%^()\[\]{},:.?\#|])
    """,
    re.VERBOSE,
)

WORD_OPERATORS = {"and", "or", "not", "in", "matches", "contains", "startsWith", "endsWith"}

BINARY = {
    "or": 10,
    "||": 10,
    "and": 15,
    "&&": 15,
    "==": 20,
    "!=": 20,
    "<": 20,
    ">": 20,
    ">=": 20,
    "<=": 20,
    "in": 20,
    "matches": 20,
    "contains": 20,
    "startsWith": 20,
    "endsWith": 20,
    "..": 25,
    "+": 30,
    "-": 30,
    "*": 60,
    "/": 60,
    "%": 60,
    "**": 100,
    "^": 100,
    "??": 500,
}
RIGHT_ASSOCIATIVE = {"**", "^"}
UNARY = {"not": 50, "!": 50, "-": 90, "+": 90}


@dataclass(frozen=True)
class Token:
    kind: str  # number, string, name, op, eof
    text: str
    pos: int


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if match is None:
            raise ExprError(f"unexpected token {source[pos]!r} (1:{pos + 1})")
        kind = match.lastgroup or ""
        if kind != "space":
            text = match.group(0)
            if kind == "name" and text in WORD_OPERATORS:
                kind = "op"
            tokens.append(Token(kind, text, pos))
        pos = match.end()
    tokens.append(Token("eof", "", pos))
    return tokens


# --- the tree ----------------------------------------------------------------------------------------


@dataclass
class Node:
    pos: int


@dataclass
class Literal(Node):
    value: Any


@dataclass
class Identifier(Node):
    name: str


@dataclass
class Pointer(Node):  # "#" inside a closure
    pass


@dataclass
class Member(Node):
    target: Node
    key: Node
    optional: bool = False
    method: bool = False  # .name (a field or a method name), as opposed to [expr]


@dataclass
class Call(Node):
    callee: Node
    args: list[Node] = field(default_factory=list)


@dataclass
class Chain(Node):
    """A postfix chain containing ``?.``: a nil short-circuits it to nil."""

    node: Node


@dataclass
class Unary(Node):
    op: str
    operand: Node


@dataclass
class Binary(Node):
    op: str
    left: Node
    right: Node
    negate: bool = False  # "not in", "not contains" ...


@dataclass
class Conditional(Node):
    cond: Node
    then: Node
    otherwise: Node


@dataclass
class Array(Node):
    items: list[Node]


@dataclass
class MapLiteral(Node):
    items: list[tuple[Node, Node]]


@dataclass
class Closure(Node):
    body: Node


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = tokenize(source)
        self.i = 0
        self.depth = 0

    def peek(self, offset: int = 0) -> Token:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def next(self) -> Token:
        token = self.peek()
        self.i += 1
        return token

    def expect(self, text: str) -> Token:
        token = self.next()
        if token.text != text or token.kind not in ("op",):
            raise self.error(token, f"expected {text!r}")
        return token

    def error(self, token: Token, message: str = "") -> ExprError:
        what = "unexpected end of expression" if token.kind == "eof" else f"unexpected token {token.text!r}"
        return ExprError(f"{message or what} (1:{token.pos + 1})\n | {self.source}")

    def parse(self) -> Node:
        node = self.expression()
        if self.peek().kind != "eof":
            raise self.error(self.peek())
        return node

    def expression(self, precedence: int = 0) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprError("expression nested too deeply")
        try:
            node = self.unary()
            while True:
                token = self.peek()
                op = token.text if token.kind == "op" else ""
                negate = False
                if op == "not" and self.peek(1).text in (
                    "in",
                    "matches",
                    "contains",
                    "startsWith",
                    "endsWith",
                ):
                    negate = True
                    op = self.peek(1).text
                if op not in BINARY or BINARY[op] < precedence:
                    break
                if op == "|":
                    raise self.error(token, "pipes are not supported")
                self.next()
                if negate:
                    self.next()
                prec = BINARY[op]
                right = self.expression(prec if op in RIGHT_ASSOCIATIVE else prec + 1)
                node = Binary(token.pos, op, node, right, negate)
            if precedence == 0 and self.peek().text == "?" and self.peek().kind == "op":
                token = self.next()
                then = self.expression()
                self.expect(":")
                otherwise = self.expression()
                node = Conditional(token.pos, node, then, otherwise)
            return node
        finally:
            self.depth -= 1

    def unary(self) -> Node:
        token = self.peek()
        if token.kind == "op" and token.text in UNARY:
            self.next()
            operand = self.expression(UNARY[token.text])
            return Unary(token.pos, token.text, operand)
        return self.postfix(self.primary())

    def primary(self) -> Node:
        token = self.next()
        if token.kind == "number":
            return Literal(token.pos, _number(token.text))
        if token.kind == "string":
            return Literal(token.pos, _string(token.text))
        if token.kind == "name":
            if token.text in ("true", "false"):
                return Literal(token.pos, token.text == "true")
            if token.text == "nil":
                return Literal(token.pos, None)
            if self.peek().text == "(" and token.text in CLOSURE_BUILTINS:
                return self.closure_call(token)
            return Identifier(token.pos, token.text)
        if token.text == "(":
            node = self.expression()
            self.expect(")")
            return node
        if token.text == "[":
            items: list[Node] = []
            while self.peek().text != "]":
                items.append(self.expression())
                if self.peek().text != ",":
                    break
                self.next()
            self.expect("]")
            return Array(token.pos, items)
        if token.text == "{":
            pairs: list[tuple[Node, Node]] = []
            while self.peek().text != "}":
                key_token = self.next()
                if key_token.kind == "name":
                    key: Node = Literal(key_token.pos, key_token.text)
                elif key_token.kind in ("string", "number"):
                    key = Literal(
                        key_token.pos,
                        _string(key_token.text) if key_token.kind == "string" else _number(key_token.text),
                    )
                elif key_token.text == "(":
                    key = self.expression()
                    self.expect(")")
                else:
                    raise self.error(key_token)
                self.expect(":")
                pairs.append((key, self.expression()))
                if self.peek().text != ",":
                    break
                self.next()
            self.expect("}")
            return MapLiteral(token.pos, pairs)
        if token.text == "#":
            return Pointer(token.pos)
        if token.text == "." and self.peek().kind == "name":  # .field inside a closure: #.field
            name = self.next()
            return Member(token.pos, Pointer(token.pos), Literal(name.pos, name.text), method=True)
        raise self.error(token)

    def closure_call(self, name: Token) -> Node:
        self.expect("(")
        target = self.expression()
        args: list[Node] = [target]
        if self.peek().text == ",":
            self.next()
            if self.peek().text == "{":
                self.next()
                body = self.expression()
                self.expect("}")
                args.append(Closure(name.pos, body))
            else:
                args.append(Closure(name.pos, self.expression()))
        self.expect(")")
        return Call(name.pos, Identifier(name.pos, name.text), args)

    def postfix(self, node: Node) -> Node:
        optional_seen = False
        while True:
            token = self.peek()
            if token.text in (".", "?.") and token.kind == "op":
                self.next()
                optional = token.text == "?."
                optional_seen = optional_seen or optional
                if optional and self.peek().text == "[":
                    self.next()
                    key = self.expression()
                    self.expect("]")
                    node = Member(token.pos, node, key, optional=True)
                    continue
                name = self.next()
                if name.kind not in ("name", "op") or not re.fullmatch(
                    r"[A-Za-z_$][A-Za-z0-9_$]*", name.text
                ):
                    raise self.error(name)
                node = Member(token.pos, node, Literal(name.pos, name.text), optional=optional, method=True)
            elif token.text == "[" and token.kind == "op":
                self.next()
                key = self.expression()
                self.expect("]")
                node = Member(token.pos, node, key)
            elif token.text == "(" and token.kind == "op" and isinstance(node, (Member, Identifier, Call)):
                self.next()
                args: list[Node] = []
                while self.peek().text != ")":
                    args.append(self.expression())
                    if self.peek().text != ",":
                        break
                    self.next()
                self.expect(")")
                node = Call(token.pos, node, args)
            else:
                break
        return Chain(node.pos, node) if optional_seen else node


def _number(text: str) -> Any:
    clean = text.replace("_", "")
    if clean.lower().startswith("0x"):
        return int(clean, 16)
    if any(c in clean for c in ".eE"):
        return float(clean)
    return int(clean)


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "0": "\0", "a": "\a", "b": "\b"}
_ESCAPES |= {"f": "\f", "v": "\v"}


def _string(text: str) -> str:
    if text.startswith("`"):
        return text[1:-1]
    body = text[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            esc = body[i + 1]
            if esc == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", body[i + 2 : i + 6]):
                out.append(chr(int(body[i + 2 : i + 6], 16)))
                i += 6
                continue
            if esc == "x" and re.fullmatch(r"[0-9a-fA-F]{2}", body[i + 2 : i + 4]):
                out.append(chr(int(body[i + 2 : i + 4], 16)))
                i += 4
                continue
            out.append(_ESCAPES.get(esc, esc))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


# --- evaluation --------------------------------------------------------------------------------------


class _Short(Exception):
    """A nil met at ``?.``: the enclosing chain is nil."""


CLOSURE_BUILTINS = {"all", "any", "none", "one", "filter", "map", "count"}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not isinstance(value, GoObject)


def _type(value: Any) -> str:
    if value is None:
        return "nil"
    try:
        return type_name(value)
    except TypeError:
        return type(value).__name__


def _equal(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, Duration) and isinstance(b, Duration):
        return int(a) == int(b)
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    if isinstance(a, GoTime) and isinstance(b, GoTime):
        return a.instant() == b.instant()
    if type(a) is not type(b) and not (isinstance(a, str) and isinstance(b, str)):
        if isinstance(a, (dict, list)) and isinstance(b, (dict, list)) and type(a) in (dict, list):
            return type(a) is type(b) and a == b
        return False
    return bool(a == b)


def _mismatch(op: str, a: Any, b: Any) -> ExprError:
    return ExprError(f"invalid operation: {op} (mismatched types {_type(a)} and {_type(b)})")


def _compare(op: str, a: Any, b: Any) -> bool:
    if isinstance(a, GoTime) and isinstance(b, GoTime):
        x, y = a.instant(), b.instant()
    elif (
        (_is_number(a) and _is_number(b))
        or (isinstance(a, Duration) and isinstance(b, Duration))
        or (isinstance(a, str) and isinstance(b, str))
    ):
        x, y = a, b
    else:
        raise _mismatch(op, a, b)
    if op == "<":
        return bool(x < y)
    if op == ">":
        return bool(x > y)
    if op == "<=":
        return bool(x <= y)
    return bool(x >= y)


def _arith(op: str, a: Any, b: Any) -> Any:
    if op == "+":
        if isinstance(a, GoTime) and isinstance(b, Duration):
            return GoTime(a.unix, a.nsec + int(b), a.loc)
        if isinstance(a, Duration) and isinstance(b, GoTime):
            return GoTime(b.unix, b.nsec + int(a), b.loc)
        if isinstance(a, Duration) and isinstance(b, Duration):
            return Duration(int(a) + int(b))
        if isinstance(a, str) and isinstance(b, str):
            return a + b
    if op == "-":
        if isinstance(a, GoTime) and isinstance(b, GoTime):
            return Duration(a.instant() - b.instant())
        if isinstance(a, GoTime) and isinstance(b, Duration):
            return GoTime(a.unix, a.nsec - int(b), a.loc)
        if isinstance(a, Duration) and isinstance(b, Duration):
            return Duration(int(a) - int(b))
    if op == "*":
        if isinstance(a, Duration) and isinstance(b, int) and not isinstance(b, bool):
            return Duration(int(a) * int(b))
        if isinstance(b, Duration) and isinstance(a, int) and not isinstance(a, bool):
            return Duration(int(a) * int(b))
    if not (_is_number(a) and _is_number(b)):
        raise _mismatch(op, a, b)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        if b == 0:
            return math.inf if a > 0 else (-math.inf if a < 0 else math.nan)
        return float(a) / float(b)
    if op == "%":
        if isinstance(a, float) or isinstance(b, float):
            raise _mismatch(op, a, b)
        if b == 0:
            raise ExprError("integer divide by zero")
        return int(math.fmod(a, b))
    if op in ("**", "^"):
        try:
            return math.pow(float(a), float(b))
        except (OverflowError, ValueError):
            return math.nan
    raise ExprError(f"unknown operator {op}")


class Evaluator:
    def __init__(self, env: dict[str, Any]) -> None:
        self.env = env
        self.steps = 0
        self.pointer: list[Any] = []

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise ExprError(f"expression evaluation exceeds {MAX_STEPS} steps")

    def eval(self, node: Node) -> Any:
        self.step()
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Identifier):
            if node.name in self.env:
                return self.env[node.name]
            if node.name in BUILTINS:
                return BUILTINS[node.name]
            return None
        if isinstance(node, Pointer):
            if not self.pointer:
                raise ExprError("# is used outside of a closure")
            return self.pointer[-1]
        if isinstance(node, Chain):
            try:
                return self.eval(node.node)
            except _Short:
                return None
        if isinstance(node, Member):
            target = self.eval(node.target)
            if target is None and node.optional:
                raise _Short
            key = self.eval(node.key)
            return fetch(target, key)
        if isinstance(node, Call):
            return self.call(node)
        if isinstance(node, Unary):
            value = self.eval(node.operand)
            if node.op in ("not", "!"):
                if not isinstance(value, bool):
                    raise ExprError(f"invalid operation: {node.op} {_type(value)}")
                return not value
            if not _is_number(value) and not isinstance(value, Duration):
                raise ExprError(f"invalid operation: {node.op} {_type(value)}")
            return -value if node.op == "-" else value
        if isinstance(node, Binary):
            return self.binary(node)
        if isinstance(node, Conditional):
            cond = self.eval(node.cond)
            if not isinstance(cond, bool):
                raise ExprError(f"non-bool expression (type {_type(cond)}) used as condition")
            return self.eval(node.then if cond else node.otherwise)
        if isinstance(node, Array):
            return [self.eval(item) for item in node.items]
        if isinstance(node, MapLiteral):
            return {_map_key(self.eval(k)): self.eval(v) for k, v in node.items}
        raise ExprError(f"cannot evaluate {type(node).__name__}")

    def binary(self, node: Binary) -> Any:
        op = node.op
        if op in ("and", "&&", "or", "||"):
            left = self.eval(node.left)
            if not isinstance(left, bool):
                raise _mismatch(op, left, True)
            if (op in ("and", "&&")) != left:
                return left
            right = self.eval(node.right)
            if not isinstance(right, bool):
                raise _mismatch(op, left, right)
            return right
        if op == "??":
            try:
                left = self.eval(node.left)
            except _Short:
                left = None
            return self.eval(node.right) if left is None else left
        left = self.eval(node.left)
        right = self.eval(node.right)
        result: Any
        if op == "==":
            return _equal(left, right)
        if op == "!=":
            return not _equal(left, right)
        if op in ("<", ">", "<=", ">="):
            return _compare(op, left, right)
        if op == "in":
            result = _in(left, right)
        elif op == "matches":
            if not isinstance(left, str) or not isinstance(right, str):
                raise _mismatch(op, left, right)
            result = _regex(right).search(left) is not None
        elif op in ("contains", "startsWith", "endsWith"):
            if not isinstance(left, str) or not isinstance(right, str):
                raise _mismatch(op, left, right)
            result = {"contains": right in left, "startsWith": left.startswith(right)}.get(
                op, left.endswith(right)
            )
        elif op == "..":
            if not (isinstance(left, int) and isinstance(right, int)):
                raise _mismatch(op, left, right)
            if right - left > 1_000_000:
                raise ExprError("range too large")
            return list(range(left, right + 1))
        else:
            return _arith(op, left, right)
        return not result if node.negate else result

    def call(self, node: Call) -> Any:
        callee = node.callee
        if isinstance(callee, Identifier) and callee.name in CLOSURE_BUILTINS and callee.name not in self.env:
            return self.closure(callee.name, node.args)
        fn = self.eval(callee)
        args = [self.eval(arg) for arg in node.args]
        return invoke(fn, args, callee)

    def closure(self, name: str, args: list[Node]) -> Any:
        items = self.eval(args[0])
        if items is None:
            items = []
        if not isinstance(items, list):
            raise ExprError(f"builtin {name} takes only array (got {_type(items)})")
        if len(args) < 2 or not isinstance(args[1], Closure):
            raise ExprError(f"builtin {name} needs a closure")
        body = args[1].body
        results = []
        for item in items:
            self.pointer.append(item)
            try:
                results.append(self.eval(body))
            finally:
                self.pointer.pop()
        if name == "map":
            return results
        truths = []
        for value in results:
            if not isinstance(value, bool):
                raise ExprError(f"closure of {name} must return bool (got {_type(value)})")
            truths.append(value)
        if name == "all":
            return all(truths)
        if name == "any":
            return any(truths)
        if name == "none":
            return not any(truths)
        if name == "one":
            return truths.count(True) == 1
        if name == "count":
            return truths.count(True)
        return [item for item, keep in zip(items, truths, strict=True) if keep]


def _map_key(key: Any) -> Any:
    if not isinstance(key, (str, int, float, bool)):
        raise ExprError(f"cannot use {_type(key)} as a map key")
    return key


def fetch(target: Any, key: Any) -> Any:
    """runtime.Fetch: a map entry (nil when absent), a list element, a struct field or a method."""
    if target is None:
        raise ExprError(f"cannot fetch {_key_text(key)} from <nil>")
    if isinstance(key, str):
        method = methods_of(target).get(key)
        if method is not None:

            def bound(*args: Any, _m: GoFunc = method, _t: Any = target) -> Any:
                return _m.impl(_t, *args)

            return GoFunc(method.name, method.signature, bound)
    if isinstance(target, dict):
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise ExprError(f"cannot use {_type(key)} as a map key")
        return target.get(key)
    if isinstance(target, (list, str)):
        if isinstance(key, bool) or not isinstance(key, int):
            raise ExprError(f"cannot fetch {_key_text(key)} from {_type(target)}")
        index = key + len(target) if key < 0 else key
        if not 0 <= index < len(target):
            raise ExprError(f"index out of range: {index} (array length is {len(target)})")
        return target[index]
    fields = fields_of(target)
    if fields is not None and isinstance(key, str) and key in fields:
        return fields[key]
    raise ExprError(f"cannot fetch {_key_text(key)} from {_type(target)}")


def _key_text(key: Any) -> str:
    return gofmt.print_value(key) if key is not None else "<nil>"


def invoke(fn: Any, args: list[Any], callee: Node | None = None) -> Any:
    if not isinstance(fn, GoFunc):
        name = callee.key.value if isinstance(callee, Member) and isinstance(callee.key, Literal) else "value"
        raise ExprError(f"{name} is not callable ({_type(fn)})")
    sig = fn.signature
    if sig.variadic is None and len(args) != len(sig.params):
        raise ExprError(
            f"invalid number of arguments for {fn.name} (expected {len(sig.params)}, got {len(args)})"
        )
    converted = []
    for i, arg in enumerate(args):
        typ = sig.params[i] if i < len(sig.params) else sig.variadic
        duration = typ is DURATION and isinstance(arg, int) and not isinstance(arg, (bool, Duration))
        converted.append(Duration(arg) if duration else arg)
    try:
        return fn.impl(*converted)
    except FuncError as err:
        raise ExprError(str(err)) from None
    except (TypeError, ValueError, AttributeError) as err:
        raise ExprError(f"{fn.name}: {err}") from None


def _in(needle: Any, haystack: Any) -> bool:
    if haystack is None:
        return False
    if isinstance(haystack, list):
        return any(_equal(item, needle) for item in haystack)
    if isinstance(haystack, dict):
        return needle in haystack
    fields = fields_of(haystack)
    if fields is not None:
        if not isinstance(needle, str):
            raise ExprError(f"cannot use {_type(needle)} as field name of {_type(haystack)}")
        return needle in fields
    raise ExprError(f"operator in not defined on {_type(haystack)}")


_REGEX_CACHE: dict[str, Any] = {}


def _regex(pattern: str) -> Any:
    compiled = _REGEX_CACHE.get(pattern)
    if compiled is None:
        options = re2.Options()
        options.log_errors = False
        options.max_mem = 8 << 20
        try:
            compiled = re2.compile(pattern, options)
        except re2.error as err:
            raise ExprError(f"error parsing regexp: {err}") from None
        if len(_REGEX_CACHE) > 256:
            _REGEX_CACHE.clear()
        _REGEX_CACHE[pattern] = compiled
    return compiled


# --- builtins ----------------------------------------------------------------------------------------


def _builtin(name: str, impl: Any, arity: int | None = 1) -> GoFunc:
    from ferry.gotemplate.values import ANY, Signature  # noqa: PLC0415

    params = (ANY,) * (arity or 0)
    return GoFunc(name, Signature(params, ANY if arity is None else None, ANY, False), impl)


def _len(value: Any) -> int:
    if isinstance(value, (str, list, dict)):
        return len(value)
    raise ExprError(f"invalid argument for len (type {_type(value)})")


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ExprError("invalid argument for int (type bool)")
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise ExprError(f'strconv.Atoi: parsing "{value}": invalid syntax') from None
    raise ExprError(f"invalid argument for int (type {_type(value)})")


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ExprError("invalid argument for float (type bool)")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise ExprError(f'strconv.ParseFloat: parsing "{value}": invalid syntax') from None
    raise ExprError(f"invalid argument for float (type {_type(value)})")


def _duration(value: Any) -> Duration:
    if not isinstance(value, str):
        raise ExprError(f"invalid argument for duration (type {_type(value)})")
    try:
        return parse_duration(value)
    except ValueError as err:
        raise ExprError(str(err)) from None


def _str_arg(fn: Any) -> Any:
    def wrapped(*args: Any) -> Any:
        if not all(isinstance(a, str) for a in args):
            raise ExprError("expected string arguments")
        return fn(*args)

    return wrapped


BUILTINS: dict[str, GoFunc] = {
    "len": _builtin("len", lambda v: GoInt(_len(v))),
    "abs": _builtin("abs", lambda v: abs(v) if _is_number(v) else _mismatch("abs", v, v)),
    "int": _builtin("int", _to_int),
    "float": _builtin("float", _to_float),
    "string": _builtin("string", lambda v: v if isinstance(v, str) else gofmt.sprintf("%v", v)),
    "upper": _builtin("upper", _str_arg(str.upper)),
    "lower": _builtin("lower", _str_arg(str.lower)),
    "trim": _builtin("trim", _str_arg(str.strip)),
    "trimPrefix": _builtin("trimPrefix", _str_arg(lambda s, p: s.removeprefix(p)), 2),
    "trimSuffix": _builtin("trimSuffix", _str_arg(lambda s, p: s.removesuffix(p)), 2),
    "keys": _builtin("keys", lambda m: list(m) if isinstance(m, dict) else _mismatch("keys", m, m)),
    "values": _builtin(
        "values", lambda m: list(m.values()) if isinstance(m, dict) else _mismatch("values", m, m)
    ),
    "first": _builtin("first", lambda v: v[0] if isinstance(v, list) and v else None),
    "last": _builtin("last", lambda v: v[-1] if isinstance(v, list) and v else None),
    "now": _builtin("now", GoTime.now, 0),
    "duration": _builtin("duration", _duration),
}


# --- the public surface ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Program:
    source: str
    tree: Node

    def run(self, env: dict[str, Any]) -> Any:
        try:
            return Evaluator(env).eval(self.tree)
        except _Short:
            return None
        except RecursionError:
            raise ExprError("expression nested too deeply") from None


def compile_expr(source: str) -> Program:
    """Parses an expression; ExprError for a syntax error (with its position)."""
    try:
        return Program(source, _Parser(source).parse())
    except RecursionError:
        raise ExprError("expression nested too deeply") from None


def to_text(value: Any) -> str:
    """fmt.Sprintf("%v", value): how Argo CD turns an oncePer result into part of a key."""
    return gofmt.sprintf("%v", value)

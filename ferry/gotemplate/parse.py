"""The parser of Go's text/template (``text/template/parse``): nodes, their ``String()`` (which
error messages quote) and the recursive-descent parser, with Go's error messages.

Nesting is bounded (``MAX_DEPTH``) so a hostile template cannot exhaust the Python stack.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from ferry.gotemplate.errors import ParseError
from ferry.gotemplate.gofmt import quote
from ferry.gotemplate.lexer import Item, Lexer, Token

# Go allows 10,000 nested parenthesised expressions; Python's stack is smaller. Control structures
# ({{if}} in {{if}} ...) count too.
MAX_DEPTH = 200


@dataclass
class Source:
    """The text a node was parsed from, for error positions."""

    name: str  # ParseName
    text: str

    def location(self, pos: int) -> str:
        before = self.text[:pos]
        newline = before.rfind("\n")
        column_text = before if newline < 0 else before[newline + 1 :]
        col = len(column_text.encode("utf-8", "surrogateescape"))
        line = 1 + before.count("\n")
        return f"{self.name}:{line}:{col}"


class Node:
    pos: int
    source: Source | None = None

    def __str__(self) -> str:
        raise NotImplementedError


@dataclass(eq=False)
class ListNode(Node):
    pos: int
    nodes: list[Node] = field(default_factory=list)

    def __str__(self) -> str:
        return "".join(str(n) for n in self.nodes)


@dataclass(eq=False)
class TextNode(Node):
    pos: int
    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(eq=False)
class CommentNode(Node):
    pos: int
    text: str

    def __str__(self) -> str:
        return "{{" + self.text + "}}"


@dataclass(eq=False)
class VariableNode(Node):
    pos: int
    ident: list[str]

    def __str__(self) -> str:
        return ".".join(self.ident)


@dataclass(eq=False)
class PipeNode(Node):
    pos: int
    line: int
    decl: list[VariableNode] = field(default_factory=list)
    cmds: list[CommandNode] = field(default_factory=list)
    is_assign: bool = False

    def __str__(self) -> str:
        out = ""
        if self.decl:
            out = ", ".join(str(v) for v in self.decl) + (" = " if self.is_assign else " := ")
        return out + " | ".join(str(c) for c in self.cmds)


@dataclass(eq=False)
class ActionNode(Node):
    pos: int
    line: int
    pipe: PipeNode

    def __str__(self) -> str:
        return "{{" + str(self.pipe) + "}}"


@dataclass(eq=False)
class CommandNode(Node):
    pos: int
    args: list[Node] = field(default_factory=list)

    def __str__(self) -> str:
        parts = []
        for arg in self.args:
            parts.append(f"({arg})" if isinstance(arg, PipeNode) else str(arg))
        return " ".join(parts)


@dataclass(eq=False)
class IdentifierNode(Node):
    pos: int
    ident: str

    def __str__(self) -> str:
        return self.ident


@dataclass(eq=False)
class DotNode(Node):
    pos: int

    def __str__(self) -> str:
        return "."


@dataclass(eq=False)
class NilNode(Node):
    pos: int

    def __str__(self) -> str:
        return "nil"


@dataclass(eq=False)
class FieldNode(Node):
    pos: int
    ident: list[str]

    def __str__(self) -> str:
        return "".join("." + i for i in self.ident)


@dataclass(eq=False)
class ChainNode(Node):
    pos: int
    node: Node
    fields: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        head = f"({self.node})" if isinstance(self.node, PipeNode) else str(self.node)
        return head + "".join("." + f for f in self.fields)


@dataclass(eq=False)
class BoolNode(Node):
    pos: int
    true: bool

    def __str__(self) -> str:
        return "true" if self.true else "false"


@dataclass(eq=False)
class NumberNode(Node):
    pos: int
    text: str
    is_int: bool = False
    is_uint: bool = False
    is_float: bool = False
    int64: int = 0
    uint64: int = 0
    float64: float = 0.0

    def __str__(self) -> str:
        return self.text


@dataclass(eq=False)
class StringNode(Node):
    pos: int
    quoted: str
    text: str

    def __str__(self) -> str:
        return self.quoted


@dataclass(eq=False)
class EndNode(Node):
    pos: int

    def __str__(self) -> str:
        return "{{end}}"


@dataclass(eq=False)
class ElseNode(Node):
    pos: int
    line: int

    def __str__(self) -> str:
        return "{{else}}"


@dataclass(eq=False)
class BranchNode(Node):
    pos: int
    line: int
    pipe: PipeNode
    list: ListNode
    else_list: ListNode | None
    keyword: str = ""

    def __str__(self) -> str:
        out = "{{" + self.keyword + " " + str(self.pipe) + "}}" + str(self.list)
        if self.else_list is not None:
            out += "{{else}}" + str(self.else_list)
        return out + "{{end}}"


class IfNode(BranchNode):
    pass


class RangeNode(BranchNode):
    pass


class WithNode(BranchNode):
    pass


@dataclass(eq=False)
class BreakNode(Node):
    pos: int
    line: int

    def __str__(self) -> str:
        return "{{break}}"


@dataclass(eq=False)
class ContinueNode(Node):
    pos: int
    line: int

    def __str__(self) -> str:
        return "{{continue}}"


@dataclass(eq=False)
class TemplateNode(Node):
    pos: int
    line: int
    name: str
    pipe: PipeNode | None

    def __str__(self) -> str:
        out = "{{template " + quote(self.name)
        if self.pipe is not None:
            out += " " + str(self.pipe)
        return out + "}}"


@dataclass
class Tree:
    name: str
    root: ListNode | None
    source: Source


# --- literals ----------------------------------------------------------------------------------------

_INT_RE = re.compile(r"[+-]?(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|[0-9][0-9_]*)")
_LEGACY_OCTAL_RE = re.compile(r"[+-]?0[0-7_]+")
_FLOAT_RE = re.compile(r"[+-]?(\d[\d_]*\.?[\d_]*([eE][+-]?[\d_]+)?|\.[\d_]+([eE][+-]?[\d_]+)?)")
_HEX_FLOAT_RE = re.compile(r"[+-]?0[xX][0-9a-fA-F_]*\.?[0-9a-fA-F_]*[pP][+-]?[\d_]+")

INT64_MIN, INT64_MAX, UINT64_MAX = -(1 << 63), (1 << 63) - 1, (1 << 64) - 1


def _underscores_ok(text: str) -> bool:
    body = text.lstrip("+-")
    if "_" not in body:
        return True
    if body[:2].lower() in ("0x", "0o", "0b"):
        body = "0" + body[2:] if body[2:3] == "_" else body[2:]
    return not (body.startswith("_") or body.endswith("_") or "__" in body)


def parse_go_int(text: str) -> int | None:
    """strconv.ParseInt/ParseUint with base 0 (without range checks)."""
    if not _INT_RE.fullmatch(text) or not _underscores_ok(text):
        return None
    clean = text.replace("_", "")
    sign = -1 if clean.startswith("-") else 1
    body = clean.lstrip("+-")
    if _LEGACY_OCTAL_RE.fullmatch(text) and len(body) > 1:
        return sign * int(body[1:], 8)
    try:
        return sign * int(body, 0)
    except ValueError:
        return None


def parse_go_float(text: str) -> float | None:
    if not _underscores_ok(text):
        return None
    clean = text.replace("_", "")
    if _HEX_FLOAT_RE.fullmatch(text):
        try:
            return float.fromhex(clean)
        except (ValueError, OverflowError):
            return None
    if not _FLOAT_RE.fullmatch(text):
        return None
    try:
        return float(clean)
    except ValueError:
        return None


def unquote_char(text: str, pos: int = 0) -> tuple[int, int]:
    """strconv.UnquoteChar over ``text`` at ``pos`` inside a quote: (code point, next position)."""
    ch = text[pos]
    if ch != "\\":
        return ord(ch), pos + 1
    esc = text[pos + 1] if pos + 1 < len(text) else ""
    simple = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, "'": 39, '"': 34}
    if esc in simple:
        return simple[esc], pos + 2
    if esc in ("x", "u", "U"):
        size = {"x": 2, "u": 4, "U": 8}[esc]
        digits = text[pos + 2 : pos + 2 + size]
        if len(digits) != size or not all(c in "0123456789abcdefABCDEF" for c in digits):
            raise ValueError("invalid syntax")
        code = int(digits, 16)
        if esc == "x":
            return 0xDC00 + code if code >= 0x80 else code, pos + 2 + size
        if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            raise ValueError("invalid syntax")
        return code, pos + 2 + size
    if esc and esc in "01234567":
        digits = text[pos + 1 : pos + 4]
        if len(digits) != 3 or not all(c in "01234567" for c in digits):
            raise ValueError("invalid syntax")
        code = int(digits, 8)
        if code > 255:
            raise ValueError("invalid syntax")
        return 0xDC00 + code if code >= 0x80 else code, pos + 4
    raise ValueError("invalid syntax")


def unquote(token: str) -> str:
    """strconv.Unquote of a "..." or `...` literal; invalid UTF-8 bytes from \\x escapes are kept
    as surrogate escapes."""
    if token.startswith("`"):
        if len(token) < 2 or not token.endswith("`"):
            raise ValueError("invalid syntax")
        return token[1:-1].replace("\r", "")
    if len(token) < 2 or token[0] != '"' or token[-1] != '"':
        raise ValueError("invalid syntax")
    body = token[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        if body[i] == '"' or body[i] == "\n":
            raise ValueError("invalid syntax")
        if body[i] == "\\" and body[i + 1 : i + 2] == "'":
            raise ValueError("invalid syntax")
        code, i = unquote_char(body, i)
        out.append(chr(code))
    return "".join(out)


N = TypeVar("N", bound=Node)

# --- the parser --------------------------------------------------------------------------------------


BUILTIN_NAMES = frozenset(
    {"and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf", "println"}
    | {"urlquery", "eq", "ge", "gt", "le", "lt", "ne"}
)


class _Parser:
    def __init__(
        self,
        name: str,
        text: str,
        has_function: Callable[[str], bool],
        trees: dict[str, Tree],
        *,
        left: str,
        right: str,
    ):
        self.source = Source(name, text)
        self.name = name
        self.has_function = has_function
        self.trees = trees
        self.lex = Lexer(
            text,
            left=left,
            right=right,
            break_ok=not has_function("break"),
            continue_ok=not has_function("continue"),
        )
        self.token: list[Token] = [Token(Item.EOF, 0, "", 1)] * 3
        self.peek_count = 0
        self.vars: list[str] = ["$"]
        self.action_line = 0
        self.range_depth = 0
        self.depth = 0

    # token buffer

    def next(self) -> Token:
        if self.peek_count > 0:
            self.peek_count -= 1
        else:
            self.token[0] = self.lex.next_item()
        return self.token[self.peek_count]

    def backup(self) -> None:
        self.peek_count += 1

    def backup2(self, t1: Token) -> None:
        self.token[1] = t1
        self.peek_count = 2

    def backup3(self, t2: Token, t1: Token) -> None:
        self.token[1] = t1
        self.token[2] = t2
        self.peek_count = 3

    def peek(self) -> Token:
        if self.peek_count > 0:
            return self.token[self.peek_count - 1]
        self.peek_count = 1
        self.token[0] = self.lex.next_item()
        return self.token[0]

    def next_non_space(self) -> Token:
        while True:
            token = self.next()
            if token.typ != Item.SPACE:
                return token

    def peek_non_space(self) -> Token:
        token = self.next_non_space()
        self.backup()
        return token

    # errors

    def errorf(self, message: str) -> ParseError:
        return ParseError(f"template: {self.name}:{self.token[0].line}: {message}")

    def expect(self, expected: Item, context: str) -> Token:
        token = self.next_non_space()
        if token.typ != expected:
            raise self.unexpected(token, context)
        return token

    def expect_one_of(self, a: Item, b: Item, context: str) -> Token:
        token = self.next_non_space()
        if token.typ not in (a, b):
            raise self.unexpected(token, context)
        return token

    def unexpected(self, token: Token, context: str) -> ParseError:
        if token.typ == Item.ERROR:
            extra = ""
            if self.action_line not in (0, token.line):
                extra = f" in action started at {self.name}:{self.action_line}"
                if token.val.endswith(" action"):
                    extra = extra[len(" in action") :]
            return self.errorf(f"{token}{extra}")
        return self.errorf(f"unexpected {token} in {context}")

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.errorf("max expression depth exceeded")

    # structure

    def _node(self, node: N) -> N:
        node.source = self.source
        return node

    def parse(self) -> None:
        root = ListNode(self.peek().pos)
        self._node(root)
        while self.peek().typ != Item.EOF:
            if self.peek().typ == Item.LEFT_DELIM:
                delim = self.next()
                if self.next_non_space().typ == Item.DEFINE:
                    self.parse_definition()
                    continue
                self.backup2(delim)
            node = self.text_or_action()
            if isinstance(node, (EndNode, ElseNode)):
                raise self.errorf(f"unexpected {node}")
            root.nodes.append(node)
        self.add(self.name, root)

    def add(self, name: str, root: ListNode) -> None:
        existing = self.trees.get(name)
        if existing is None or is_empty_tree(existing.root):
            self.trees[name] = Tree(name, root, self.source)
            return
        if not is_empty_tree(root):
            raise self.errorf(f"template: multiple definition of template {quote(name)}")

    def parse_definition(self) -> None:
        context = "define clause"
        token = self.expect_one_of(Item.STRING, Item.RAW_STRING, context)
        try:
            name = unquote(token.val)
        except ValueError as err:
            raise self.errorf(str(err)) from None
        self.expect(Item.RIGHT_DELIM, context)
        saved = self.vars, self.range_depth
        self.vars, self.range_depth = ["$"], 0
        root, end = self.item_list()
        self.vars, self.range_depth = saved
        if not isinstance(end, EndNode):
            raise self.errorf(f"unexpected {end} in {context}")
        self.add(name, root)

    def item_list(self) -> tuple[ListNode, Node]:
        lst = self._node(ListNode(self.peek_non_space().pos))
        while self.peek_non_space().typ != Item.EOF:
            node = self.text_or_action()
            if isinstance(node, (EndNode, ElseNode)):
                return lst, node
            lst.nodes.append(node)
        raise self.errorf("unexpected EOF")

    def text_or_action(self) -> Node:
        token = self.next_non_space()
        if token.typ == Item.TEXT:
            return self._node(TextNode(token.pos, token.val))
        if token.typ == Item.LEFT_DELIM:
            self.action_line = token.line
            try:
                return self.action()
            finally:
                self.action_line = 0
        if token.typ == Item.COMMENT:
            return self._node(CommentNode(token.pos, token.val))
        raise self.unexpected(token, "input")

    def action(self) -> Node:
        token = self.next_non_space()
        typ = token.typ
        if typ == Item.BLOCK:
            return self.block_control()
        if typ == Item.BREAK:
            return self.break_control(token, "{{break}}", BreakNode)
        if typ == Item.CONTINUE:
            return self.break_control(token, "{{continue}}", ContinueNode)
        if typ == Item.ELSE:
            return self.else_control()
        if typ == Item.END:
            return self._node(EndNode(self.expect(Item.RIGHT_DELIM, "end").pos))
        if typ == Item.IF:
            return self.control("if", IfNode)
        if typ == Item.RANGE:
            return self.control("range", RangeNode)
        if typ == Item.TEMPLATE:
            return self.template_control()
        if typ == Item.WITH:
            return self.control("with", WithNode)
        self.backup()
        token = self.peek()
        return self._node(ActionNode(token.pos, token.line, self.pipeline("command", Item.RIGHT_DELIM)))

    def break_control(self, token: Token, context: str, cls: type[BreakNode] | type[ContinueNode]) -> Node:
        nxt = self.next_non_space()
        if nxt.typ != Item.RIGHT_DELIM:
            raise self.unexpected(nxt, context)
        if self.range_depth == 0:
            raise self.errorf(f"{context} outside {{{{range}}}}")
        return self._node(cls(token.pos, token.line))

    def pipeline(self, context: str, end: Item) -> PipeNode:
        token = self.peek_non_space()
        pipe = self._node(PipeNode(token.pos, token.line))
        while True:  # decls
            v = self.peek_non_space()
            if v.typ != Item.VARIABLE:
                break
            self.next()
            after = self.peek()
            nxt = self.peek_non_space()
            if nxt.typ in (Item.ASSIGN, Item.DECLARE):
                pipe.is_assign = nxt.typ == Item.ASSIGN
                self.next_non_space()
                pipe.decl.append(self._node(VariableNode(v.pos, v.val.split("."))))
                self.vars.append(v.val)
                break
            if nxt.typ == Item.CHAR and nxt.val == ",":
                self.next_non_space()
                pipe.decl.append(self._node(VariableNode(v.pos, v.val.split("."))))
                self.vars.append(v.val)
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space().typ in (Item.VARIABLE, Item.RIGHT_DELIM, Item.RIGHT_PAREN):
                        continue
                    raise self.errorf("range can only initialize variables")
                raise self.errorf(f"too many declarations in {context}")
            if after.typ == Item.SPACE:
                self.backup3(v, after)
            else:
                self.backup2(v)
            break
        while True:
            token = self.next_non_space()
            if token.typ == end:
                self.check_pipeline(pipe, context)
                return pipe
            if token.typ in (
                Item.BOOL,
                Item.CHAR_CONSTANT,
                Item.COMPLEX,
                Item.DOT,
                Item.FIELD,
                Item.IDENTIFIER,
                Item.NUMBER,
                Item.NIL,
                Item.RAW_STRING,
                Item.STRING,
                Item.VARIABLE,
                Item.LEFT_PAREN,
            ):
                self.backup()
                pipe.cmds.append(self.command())
            else:
                raise self.unexpected(token, context)

    def check_pipeline(self, pipe: PipeNode, context: str) -> None:
        if not pipe.cmds:
            raise self.errorf(f"missing value for {context}")
        for i, cmd in enumerate(pipe.cmds[1:]):
            if isinstance(cmd.args[0], (BoolNode, DotNode, NilNode, NumberNode, StringNode)):
                raise self.errorf(f"non executable command in pipeline stage {i + 2}")

    def control(self, context: str, cls: type[BranchNode]) -> BranchNode:
        self._enter()
        mark = len(self.vars)
        try:
            pipe = self.pipeline(context, Item.RIGHT_DELIM)
            if context == "range":
                self.range_depth += 1
            lst, nxt = self.item_list()
            if context == "range":
                self.range_depth -= 1
            else_list: ListNode | None = None
            if isinstance(nxt, ElseNode):
                if context == "if" and self.peek().typ == Item.IF:
                    self.next()
                    else_list = self._node(ListNode(nxt.pos))
                    else_list.nodes.append(self.control("if", IfNode))
                elif context == "with" and self.peek().typ == Item.WITH:
                    self.next()
                    else_list = self._node(ListNode(nxt.pos))
                    else_list.nodes.append(self.control("with", WithNode))
                else:
                    else_list, nxt = self.item_list()
                    if not isinstance(nxt, EndNode):
                        raise self.errorf(f"expected end; found {nxt}")
            return self._node(cls(pipe.pos, pipe.line, pipe, lst, else_list, context))
        finally:
            del self.vars[mark:]
            self.depth -= 1

    def else_control(self) -> Node:
        peek = self.peek_non_space()
        if peek.typ in (Item.IF, Item.WITH):
            return self._node(ElseNode(peek.pos, peek.line))
        token = self.expect(Item.RIGHT_DELIM, "else")
        return self._node(ElseNode(token.pos, token.line))

    def block_control(self) -> Node:
        context = "block clause"
        token = self.next_non_space()
        name = self.template_name(token, context)
        pipe = self.pipeline(context, Item.RIGHT_DELIM)
        saved = self.vars, self.range_depth
        self.vars, self.range_depth = ["$"], 0
        self._enter()
        try:
            root, end = self.item_list()
        finally:
            self.depth -= 1
            self.vars, self.range_depth = saved
        if not isinstance(end, EndNode):
            raise self.errorf(f"unexpected {end} in {context}")
        self.add(name, root)
        return self._node(TemplateNode(token.pos, token.line, name, pipe))

    def template_control(self) -> Node:
        context = "template clause"
        token = self.next_non_space()
        name = self.template_name(token, context)
        pipe: PipeNode | None = None
        if self.next_non_space().typ != Item.RIGHT_DELIM:
            self.backup()
            pipe = self.pipeline(context, Item.RIGHT_DELIM)
        return self._node(TemplateNode(token.pos, token.line, name, pipe))

    def template_name(self, token: Token, context: str) -> str:
        if token.typ in (Item.STRING, Item.RAW_STRING):
            try:
                return unquote(token.val)
            except ValueError as err:
                raise self.errorf(str(err)) from None
        raise self.unexpected(token, context)

    def command(self) -> CommandNode:
        cmd = self._node(CommandNode(self.peek_non_space().pos))
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            token = self.next()
            if token.typ == Item.SPACE:
                continue
            if token.typ in (Item.RIGHT_DELIM, Item.RIGHT_PAREN):
                self.backup()
            elif token.typ != Item.PIPE:
                raise self.unexpected(token, "operand")
            break
        if not cmd.args:
            raise self.errorf("empty command")
        return cmd

    def operand(self) -> Node | None:
        node = self.term()
        if node is None:
            return None
        if self.peek().typ == Item.FIELD:
            chain = self._node(ChainNode(self.peek().pos, node))
            while self.peek().typ == Item.FIELD:
                chain.fields.append(self.next().val[1:])
            if isinstance(node, FieldNode):
                return self._node(FieldNode(chain.pos, str(chain)[1:].split(".")))
            if isinstance(node, VariableNode):
                return self._node(VariableNode(chain.pos, str(chain).split(".")))
            if isinstance(node, (BoolNode, StringNode, NumberNode, NilNode, DotNode)):
                raise self.errorf(f"unexpected . after term {quote(str(node))}")
            return chain
        return node

    def term(self) -> Node | None:
        token = self.next_non_space()
        typ = token.typ
        if typ == Item.IDENTIFIER:
            if not self.has_function(token.val):
                raise self.errorf(f"function {quote(token.val)} not defined")
            return self._node(IdentifierNode(token.pos, token.val))
        if typ == Item.DOT:
            return self._node(DotNode(token.pos))
        if typ == Item.NIL:
            return self._node(NilNode(token.pos))
        if typ == Item.VARIABLE:
            return self.use_var(token)
        if typ == Item.FIELD:
            return self._node(FieldNode(token.pos, token.val[1:].split(".")))
        if typ == Item.BOOL:
            return self._node(BoolNode(token.pos, token.val == "true"))
        if typ in (Item.CHAR_CONSTANT, Item.COMPLEX, Item.NUMBER):
            return self.number(token)
        if typ == Item.LEFT_PAREN:
            self._enter()
            try:
                return self.pipeline("parenthesized pipeline", Item.RIGHT_PAREN)
            finally:
                self.depth -= 1
        if typ in (Item.STRING, Item.RAW_STRING):
            try:
                text = unquote(token.val)
            except ValueError as err:
                raise self.errorf(str(err)) from None
            return self._node(StringNode(token.pos, token.val, text))
        self.backup()
        return None

    def use_var(self, token: Token) -> Node:
        node = self._node(VariableNode(token.pos, token.val.split(".")))
        if node.ident[0] in self.vars:
            return node
        raise self.errorf(f"undefined variable {quote(node.ident[0])}")

    def number(self, token: Token) -> NumberNode:
        text = token.val
        node = self._node(NumberNode(token.pos, text))
        if token.typ == Item.CHAR_CONSTANT:
            try:
                code, end = unquote_char(text, 1)
            except ValueError:
                raise self.errorf("invalid syntax") from None
            if text[end:] != "'":
                raise self.errorf(f"malformed character constant: {text}")
            if 0xDC80 <= code <= 0xDCFF:
                code -= 0xDC00
            node.int64 = node.uint64 = code
            node.float64 = float(code)
            node.is_int = node.is_uint = node.is_float = True
            return node
        if token.typ == Item.COMPLEX or text.endswith("i"):
            raise self.errorf(f"complex constants are not supported: {text}")
        value = parse_go_int(text)
        if value is not None:
            if 0 <= value <= UINT64_MAX and not text.startswith("-"):
                node.is_uint, node.uint64 = True, value
            if INT64_MIN <= value <= INT64_MAX:
                node.is_int, node.int64 = True, value
                if value == 0:
                    node.is_uint, node.uint64 = True, 0
        if node.is_int:
            node.is_float, node.float64 = True, float(node.int64)
        elif node.is_uint:
            node.is_float, node.float64 = True, float(node.uint64)
        else:
            f = parse_go_float(text)
            if f is not None and f not in (float("inf"), float("-inf")):
                if not any(c in text for c in ".eEpP"):
                    raise self.errorf(f"integer overflow: {quote(text)}")
                node.is_float, node.float64 = True, f
                if f == int(f):
                    whole = int(f)
                    if INT64_MIN <= whole <= INT64_MAX:
                        node.is_int, node.int64 = True, whole
                    if 0 <= whole <= UINT64_MAX:
                        node.is_uint, node.uint64 = True, whole
            elif f is not None:
                raise self.errorf(f"strconv.ParseFloat: parsing {quote(text)}: value out of range")
        if not (node.is_int or node.is_uint or node.is_float):
            raise self.errorf(f"illegal number syntax: {quote(text)}")
        return node


def is_empty_tree(node: Node | None) -> bool:
    if node is None:
        return True
    if isinstance(node, CommentNode):
        return True
    if isinstance(node, ListNode):
        return all(is_empty_tree(n) for n in node.nodes)
    if isinstance(node, TextNode):
        return not node.text.strip(" \t\n\r\v\f\x85\xa0")
    return False


def parse(
    name: str,
    text: str,
    functions: Iterable[str],
    trees: dict[str, Tree],
    *,
    left: str = "",
    right: str = "",
) -> None:
    """Parses ``text`` as template ``name`` (plus its ``define`` and ``block`` templates) into
    ``trees``; raises :class:`ParseError` with Go's message."""
    names = frozenset(functions) | BUILTIN_NAMES
    parser = _Parser(name, text, names.__contains__, trees, left=left, right=right)
    parser.parse()

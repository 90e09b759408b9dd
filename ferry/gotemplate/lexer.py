"""The lexer of Go's text/template (``text/template/parse/lex.go``), state for state.

Positions are character offsets into the template; error messages convert them to Go's byte
columns. The lexer never looks past the text it is given and allocates one item per token.
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass


class Item(enum.IntEnum):
    ERROR = 0
    BOOL = 1
    CHAR = 2
    CHAR_CONSTANT = 3
    COMMENT = 4
    COMPLEX = 5
    ASSIGN = 6
    DECLARE = 7
    EOF = 8
    FIELD = 9
    IDENTIFIER = 10
    LEFT_DELIM = 11
    LEFT_PAREN = 12
    NUMBER = 13
    PIPE = 14
    RAW_STRING = 15
    RIGHT_DELIM = 16
    RIGHT_PAREN = 17
    SPACE = 18
    STRING = 19
    TEXT = 20
    VARIABLE = 21
    KEYWORD = 22
    BLOCK = 23
    BREAK = 24
    CONTINUE = 25
    DOT = 26
    DEFINE = 27
    ELSE = 28
    END = 29
    IF = 30
    NIL = 31
    RANGE = 32
    TEMPLATE = 33
    WITH = 34


KEYWORDS = {
    ".": Item.DOT,
    "block": Item.BLOCK,
    "break": Item.BREAK,
    "continue": Item.CONTINUE,
    "define": Item.DEFINE,
    "else": Item.ELSE,
    "end": Item.END,
    "if": Item.IF,
    "range": Item.RANGE,
    "nil": Item.NIL,
    "template": Item.TEMPLATE,
    "with": Item.WITH,
}

LEFT_DELIM = "{{"
RIGHT_DELIM = "}}"
LEFT_COMMENT = "/*"
RIGHT_COMMENT = "*/"
SPACE_CHARS = " \t\r\n"
EOF = ""

StateFn = Callable[[], "StateFn | None"]


@dataclass(frozen=True, slots=True)
class Token:
    typ: Item
    pos: int
    val: str
    line: int

    def __str__(self) -> str:
        if self.typ == Item.EOF:
            return "EOF"
        if self.typ == Item.ERROR:
            return self.val
        if self.typ > Item.KEYWORD:
            return f"<{self.val}>"
        from ferry.gotemplate.gofmt import quote  # noqa: PLC0415 - avoids an import cycle at load

        if len(self.val) > 10:
            return quote(self.val[:10])[:-1] + '"...'
        return quote(self.val)


def is_space(ch: str) -> bool:
    return ch in (" ", "\t", "\r", "\n") and ch != ""


def is_alnum(ch: str) -> bool:
    if ch == "":
        return False
    if ch == "_":
        return True
    cat = unicodedata.category(ch)
    return cat[0] == "L" or cat == "Nd"


def _has_left_trim(s: str, pos: int) -> bool:
    return len(s) - pos >= 2 and s[pos] == "-" and is_space(s[pos + 1])


def _has_right_trim(s: str, pos: int) -> bool:
    return len(s) - pos >= 2 and is_space(s[pos]) and s[pos + 1] == "-"


class Lexer:
    """Go's lexer; ``next_item()`` returns tokens until EOF or ERROR."""

    def __init__(self, text: str, *, left: str = "", right: str = "", break_ok: bool, continue_ok: bool):
        self.input = text
        self.left = left or LEFT_DELIM
        self.right = right or RIGHT_DELIM
        self.pos = 0
        self.start = 0
        self.at_eof = False
        self.paren_depth = 0
        self.line = 1
        self.start_line = 1
        self.inside_action = False
        self.break_ok = break_ok
        self.continue_ok = continue_ok
        self.item: Token = Token(Item.EOF, 0, "EOF", 1)

    # --- primitives ---------------------------------------------------------------------------------

    def next(self) -> str:
        if self.pos >= len(self.input):
            self.at_eof = True
            return EOF
        ch = self.input[self.pos]
        self.pos += 1
        if ch == "\n":
            self.line += 1
        return ch

    def peek(self) -> str:
        ch = self.next()
        self.backup()
        return ch

    def backup(self) -> None:
        if not self.at_eof and self.pos > 0:
            self.pos -= 1
            if self.input[self.pos] == "\n":
                self.line -= 1

    def this_item(self, typ: Item) -> Token:
        token = Token(typ, self.start, self.input[self.start : self.pos], self.start_line)
        self.start = self.pos
        self.start_line = self.line
        return token

    def emit(self, typ: Item) -> None:
        self.item = self.this_item(typ)

    def ignore(self) -> None:
        self.line += self.input.count("\n", self.start, self.pos)
        self.start = self.pos
        self.start_line = self.line

    def accept(self, valid: str) -> bool:
        ch = self.next()
        if ch and ch in valid:
            return True
        self.backup()
        return False

    def accept_run(self, valid: str) -> None:
        while True:
            ch = self.next()
            if not ch or ch not in valid:
                break
        self.backup()

    def errorf(self, message: str) -> None:
        self.item = Token(Item.ERROR, self.start, message, self.start_line)
        self.start = 0
        self.pos = 0
        self.input = ""

    def next_item(self) -> Token:
        self.item = Token(Item.EOF, self.pos, "EOF", self.start_line)
        state: StateFn | None = self.lex_inside_action if self.inside_action else self.lex_text
        while state is not None:
            state = state()
        return self.item

    # --- states (each returns the next state, or None once an item is set) ---------------------------

    def lex_text(self) -> StateFn | None:
        x = self.input.find(self.left, self.pos)
        if x >= 0:
            if x > self.pos:
                self.pos = x
                trim = 0
                delim_end = self.pos + len(self.left)
                if _has_left_trim(self.input, delim_end):
                    segment = self.input[self.start : self.pos]
                    trim = len(segment) - len(segment.rstrip(SPACE_CHARS))
                self.pos -= trim
                self.line += self.input.count("\n", self.start, self.pos)
                token = self.this_item(Item.TEXT)
                self.pos += trim
                self.ignore()
                if token.val:
                    self.item = token
                    return None
            return self.lex_left_delim
        self.pos = len(self.input)
        if self.pos > self.start:
            self.line += self.input.count("\n", self.start, self.pos)
            self.emit(Item.TEXT)
            return None
        self.emit(Item.EOF)
        return None

    def at_right_delim(self) -> tuple[bool, bool]:
        if _has_right_trim(self.input, self.pos) and self.input.startswith(self.right, self.pos + 2):
            return True, True
        if self.input.startswith(self.right, self.pos):
            return True, False
        return False, False

    def lex_left_delim(self) -> StateFn | None:
        self.pos += len(self.left)
        trim = _has_left_trim(self.input, self.pos)
        after = 2 if trim else 0
        if self.input.startswith(LEFT_COMMENT, self.pos + after):
            self.pos += after
            self.ignore()
            return self.lex_comment
        token = self.this_item(Item.LEFT_DELIM)
        self.inside_action = True
        self.pos += after
        self.ignore()
        self.paren_depth = 0
        self.item = token
        return None

    def lex_comment(self) -> StateFn | None:
        self.pos += len(LEFT_COMMENT)
        x = self.input.find(RIGHT_COMMENT, self.pos)
        if x < 0:
            self.errorf("unclosed comment")
            return None
        self.pos = x + len(RIGHT_COMMENT)
        delim, trim = self.at_right_delim()
        if not delim:
            self.errorf("comment ends before closing delimiter")
            return None
        self.line += self.input.count("\n", self.start, self.pos)
        self.this_item(Item.COMMENT)
        if trim:
            self.pos += 2
        self.pos += len(self.right)
        if trim:
            rest = self.input[self.pos :]
            self.pos += len(rest) - len(rest.lstrip(SPACE_CHARS))
        self.ignore()
        return self.lex_text

    def lex_right_delim(self) -> StateFn | None:
        _, trim = self.at_right_delim()
        if trim:
            self.pos += 2
            self.ignore()
        self.pos += len(self.right)
        token = self.this_item(Item.RIGHT_DELIM)
        if trim:
            rest = self.input[self.pos :]
            self.pos += len(rest) - len(rest.lstrip(SPACE_CHARS))
            self.ignore()
        self.inside_action = False
        self.item = token
        return None

    def lex_inside_action(self) -> StateFn | None:
        delim, _ = self.at_right_delim()
        if delim:
            if self.paren_depth == 0:
                return self.lex_right_delim
            self.errorf("unclosed left paren")
            return None
        ch = self.next()
        if ch == EOF:
            self.errorf("unclosed action")
            return None
        if is_space(ch):
            self.backup()
            return self.lex_space
        if ch == "=":
            self.emit(Item.ASSIGN)
            return None
        if ch == ":":
            if self.next() != "=":
                self.errorf("expected :=")
                return None
            self.emit(Item.DECLARE)
            return None
        if ch == "|":
            self.emit(Item.PIPE)
            return None
        if ch == '"':
            return self.lex_quote
        if ch == "`":
            return self.lex_raw_quote
        if ch == "$":
            return self.lex_variable
        if ch == "'":
            return self.lex_char
        if ch == "." and self.pos < len(self.input) and not ("0" <= self.input[self.pos] <= "9"):
            return self.lex_field
        if ch in "+-." or "0" <= ch <= "9":
            self.backup()
            return self.lex_number
        if is_alnum(ch):
            self.backup()
            return self.lex_identifier
        if ch == "(":
            self.paren_depth += 1
            self.emit(Item.LEFT_PAREN)
            return None
        if ch == ")":
            self.paren_depth -= 1
            if self.paren_depth < 0:
                self.errorf("unexpected right paren")
                return None
            self.emit(Item.RIGHT_PAREN)
            return None
        if ord(ch) < 0x80 and ch.isprintable():
            self.emit(Item.CHAR)
            return None
        self.errorf(f"unrecognized character in action: {_rune_repr(ch)}")
        return None

    def lex_space(self) -> StateFn | None:
        spaces = 0
        while True:
            ch = self.peek()
            if not is_space(ch):
                break
            self.next()
            spaces += 1
        if _has_right_trim(self.input, self.pos - 1) and self.input.startswith(self.right, self.pos + 1):
            self.backup()
            if spaces == 1:
                return self.lex_right_delim
        self.emit(Item.SPACE)
        return None

    def lex_identifier(self) -> StateFn | None:
        while True:
            ch = self.next()
            if is_alnum(ch):
                continue
            self.backup()
            word = self.input[self.start : self.pos]
            if not self.at_terminator():
                self.errorf(f"bad character {_rune_repr(ch)}")
                return None
            keyword = KEYWORDS.get(word)
            if keyword is not None and keyword > Item.KEYWORD:
                if (keyword == Item.BREAK and not self.break_ok) or (
                    keyword == Item.CONTINUE and not self.continue_ok
                ):
                    self.emit(Item.IDENTIFIER)
                else:
                    self.emit(keyword)
            elif word[0] == ".":
                self.emit(Item.FIELD)
            elif word in ("true", "false"):
                self.emit(Item.BOOL)
            else:
                self.emit(Item.IDENTIFIER)
            return None

    def lex_field(self) -> StateFn | None:
        return self._field_or_variable(Item.FIELD)

    def lex_variable(self) -> StateFn | None:
        if self.at_terminator():
            self.emit(Item.VARIABLE)
            return None
        return self._field_or_variable(Item.VARIABLE)

    def _field_or_variable(self, typ: Item) -> StateFn | None:
        if self.at_terminator():
            self.emit(Item.VARIABLE if typ == Item.VARIABLE else Item.DOT)
            return None
        ch = ""
        while True:
            ch = self.next()
            if not is_alnum(ch):
                self.backup()
                break
        if not self.at_terminator():
            self.errorf(f"bad character {_rune_repr(ch)}")
            return None
        self.emit(typ)
        return None

    def at_terminator(self) -> bool:
        ch = self.peek()
        if is_space(ch):
            return True
        if ch in (EOF, ".", ",", "|", ":", ")", "("):
            return True
        return self.input.startswith(self.right, self.pos)

    def lex_char(self) -> StateFn | None:
        while True:
            ch = self.next()
            if ch == "\\":
                nxt = self.next()
                if nxt not in (EOF, "\n"):
                    continue
                self.errorf("unterminated character constant")
                return None
            if ch in (EOF, "\n"):
                self.errorf("unterminated character constant")
                return None
            if ch == "'":
                break
        self.emit(Item.CHAR_CONSTANT)
        return None

    def lex_number(self) -> StateFn | None:
        if not self.scan_number():
            self.errorf(f"bad number syntax: {_q(self.input[self.start : self.pos])}")
            return None
        sign = self.peek()
        if sign in ("+", "-") and sign:
            if not self.scan_number() or self.input[self.pos - 1] != "i":
                self.errorf(f"bad number syntax: {_q(self.input[self.start : self.pos])}")
                return None
            self.emit(Item.COMPLEX)
            return None
        self.emit(Item.NUMBER)
        return None

    def scan_number(self) -> bool:
        self.accept("+-")
        digits = "0123456789_"
        if self.accept("0"):
            if self.accept("xX"):
                digits = "0123456789abcdefABCDEF_"
            elif self.accept("oO"):
                digits = "01234567_"
            elif self.accept("bB"):
                digits = "01_"
        self.accept_run(digits)
        if self.accept("."):
            self.accept_run(digits)
        if len(digits) == 11 and self.accept("eE"):
            self.accept("+-")
            self.accept_run("0123456789_")
        if len(digits) == 23 and self.accept("pP"):
            self.accept("+-")
            self.accept_run("0123456789_")
        self.accept("i")
        if is_alnum(self.peek()):
            self.next()
            return False
        return True

    def lex_quote(self) -> StateFn | None:
        while True:
            ch = self.next()
            if ch == "\\":
                nxt = self.next()
                if nxt not in (EOF, "\n"):
                    continue
                self.errorf("unterminated quoted string")
                return None
            if ch in (EOF, "\n"):
                self.errorf("unterminated quoted string")
                return None
            if ch == '"':
                break
        self.emit(Item.STRING)
        return None

    def lex_raw_quote(self) -> StateFn | None:
        while True:
            ch = self.next()
            if ch == EOF:
                self.errorf("unterminated raw quoted string")
                return None
            if ch == "`":
                break
        self.emit(Item.RAW_STRING)
        return None


def _q(text: str) -> str:
    from ferry.gotemplate.gofmt import quote  # noqa: PLC0415

    return quote(text)


def _rune_repr(ch: str) -> str:
    """Go's %#U of a rune."""
    if ch == EOF:
        return "U+FFFFFFFFFFFFFFFF"
    code = ord(ch)
    text = f"U+{code:04X}"
    if ch.isprintable():
        text += f" '{ch}'"
    return text

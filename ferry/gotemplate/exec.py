"""Executing a parsed template (``text/template/exec.go``): walking the tree, evaluating
pipelines, fields, variables and calls with Go's rules, printing values as fmt does.

Templates are user input, so execution is bounded: output size, evaluation steps, nesting of
``{{template}}`` calls and the size of any string a function returns (:class:`Limits`). One
:class:`_State` per execution; a Template can be executed from several threads at once.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any

from ferry.gotemplate import builtins, gofmt
from ferry.gotemplate.errors import ExecError, FuncError, LimitError
from ferry.gotemplate.parse import (
    ActionNode,
    BoolNode,
    BranchNode,
    BreakNode,
    ChainNode,
    CommandNode,
    CommentNode,
    ContinueNode,
    DotNode,
    FieldNode,
    IdentifierNode,
    IfNode,
    ListNode,
    NilNode,
    Node,
    NumberNode,
    PipeNode,
    RangeNode,
    StringNode,
    TemplateNode,
    TextNode,
    Tree,
    VariableNode,
    WithNode,
)
from ferry.gotemplate.values import (
    INVALID,
    NO_VALUE,
    RV,
    GoFunc,
    GoInt,
    GoObject,
    GoType,
    IntList,
    StrList,
    StrMap,
    assignable,
    fields_of,
    is_true,
    methods_of,
    type_name,
)


class MissingKey(enum.StrEnum):
    """The ``missingkey`` option (``invalid`` is Go's other name for ``default``)."""

    DEFAULT = "default"
    INVALID = "invalid"
    ZERO = "zero"
    ERROR = "error"


@dataclasses.dataclass(frozen=True)
class Limits:
    """Bounds on one execution; exceeding one is a :class:`LimitError`."""

    max_output_bytes: int = 1 << 20
    max_steps: int = 1_000_000
    max_template_depth: int = 100
    max_value_bytes: int = 1 << 20


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


def bind(method: GoFunc, receiver: Any) -> GoFunc:
    def impl(*args: Any) -> Any:
        return method.impl(receiver, *args)

    return GoFunc(method.name, method.signature, impl)


class _State:
    def __init__(
        self,
        *,
        name: str,
        trees: Mapping[str, Tree],
        funcs: Mapping[str, GoFunc],
        missingkey: MissingKey,
        limits: Limits,
    ) -> None:
        self.name = name
        self.trees = trees
        self.funcs = funcs
        self.missingkey = missingkey
        self.limits = limits
        self.out: list[str] = []
        self.out_size = 0
        self.steps = 0
        self.depth = 0
        self.node: Node | None = None
        self.vars: list[list[Any]] = []  # [name, RV] pairs

    # --- errors ------------------------------------------------------------------------------------

    def error(self, message: str) -> ExecError:
        """Go's ExecError for the node being evaluated (``template: base:1:3: executing ...``)."""
        node = self.node
        if node is None or node.source is None:
            return ExecError(f"template: {self.name}: {message}")
        location = node.source.location(node.pos)
        return ExecError(f"template: {location}: executing {gofmt.quote(self.name)} at <{node}>: {message}")

    def at(self, node: Node) -> None:
        self.node = node

    def step(self) -> None:
        self.steps += 1
        if self.steps > self.limits.max_steps:
            raise LimitError(f"template: {self.name}: execution exceeds {self.limits.max_steps} steps")

    def write(self, text: str) -> None:
        self.out_size += len(text)
        if self.out_size > self.limits.max_output_bytes:
            raise LimitError(f"template: {self.name}: output exceeds {self.limits.max_output_bytes} bytes")
        self.out.append(text)

    # --- variables ---------------------------------------------------------------------------------

    def push(self, name: str, value: RV) -> None:
        self.vars.append([name, value])

    def mark(self) -> int:
        return len(self.vars)

    def pop(self, mark: int) -> None:
        del self.vars[mark:]

    def set_var(self, name: str, value: RV) -> None:
        for entry in reversed(self.vars):
            if entry[0] == name:
                entry[1] = value
                return
        raise self.error(f"undefined variable: {name}")

    def set_top_var(self, n: int, value: RV) -> None:
        self.vars[len(self.vars) - n][1] = value

    def var_value(self, name: str) -> RV:
        for entry in reversed(self.vars):
            if entry[0] == name:
                return entry[1]  # type: ignore[no-any-return]
        raise self.error(f"undefined variable: {name}")

    # --- walking -----------------------------------------------------------------------------------

    def walk(self, dot: RV, node: Node) -> None:
        self.at(node)
        self.step()
        if isinstance(node, ActionNode):
            value = self.eval_pipeline(dot, node.pipe)
            if not node.pipe.decl:
                self.print_value(node, value)
        elif isinstance(node, TextNode):
            self.write(node.text)
        elif isinstance(node, ListNode):
            for child in node.nodes:
                self.walk(dot, child)
        elif isinstance(node, (IfNode, WithNode)):
            self.walk_if_or_with(isinstance(node, WithNode), dot, node)
        elif isinstance(node, RangeNode):
            self.walk_range(dot, node)
        elif isinstance(node, TemplateNode):
            self.walk_template(dot, node)
        elif isinstance(node, CommentNode):
            pass
        elif isinstance(node, BreakNode):
            raise _Break
        elif isinstance(node, ContinueNode):
            raise _Continue
        else:
            raise self.error(f"unknown node: {node}")

    def walk_if_or_with(self, is_with: bool, dot: RV, node: BranchNode) -> None:
        mark = self.mark()
        try:
            value = self.eval_pipeline(dot, node.pipe)
            truth, ok = is_true(value.concrete())
            if not ok:
                raise self.error(f"if/with can't use {gofmt.print_value(value.v)}")
            if truth:
                self.walk(value if is_with else dot, node.list)
            elif node.else_list is not None:
                self.walk(dot, node.else_list)
        finally:
            self.pop(mark)

    def walk_range(self, dot: RV, node: RangeNode) -> None:  # noqa: PLR0915 - exec.go walkRange, kind by kind
        self.at(node)
        outer = self.mark()
        try:
            value = self.eval_pipeline(dot, node.pipe)
            mark = self.mark()
            decl = node.pipe.decl

            def one_iteration(index: RV, elem: RV) -> None:
                if decl:
                    if node.pipe.is_assign:
                        self.set_var(decl[0].ident[0], index if len(decl) > 1 else elem)
                    else:
                        self.set_top_var(1, elem)
                if len(decl) > 1:
                    if node.pipe.is_assign:
                        self.set_var(decl[1].ident[0], elem)
                    else:
                        self.set_top_var(2, index)
                try:
                    self.walk(elem, node.list)
                except _Continue:
                    pass
                finally:
                    self.pop(mark)

            v = value.v
            ran = False
            try:
                if isinstance(v, int) and not isinstance(v, (bool, GoObject)):
                    if len(decl) > 1:
                        raise self.error(
                            f"can't use {gofmt.print_value(v)} to iterate over more than one variable"
                        )
                    kind = type(v)
                    for i in range(int(v)):
                        ran = True
                        one_iteration(INVALID, RV(kind(i)))
                elif isinstance(v, list):
                    iface = not isinstance(v, (StrList, IntList))
                    for i, elem in enumerate(list(v)):
                        ran = True
                        one_iteration(RV(GoInt(i)), RV(elem, iface=iface))
                elif isinstance(v, dict):
                    iface = not isinstance(v, StrMap)
                    for key in sorted(v, key=lambda k: k.encode("utf-8", "surrogateescape")):
                        ran = True
                        one_iteration(RV(key), RV(v[key], iface=iface))
                elif v is NO_VALUE:
                    pass
                else:
                    raise self.error(f"range can't iterate over {gofmt.print_value(v)}")
            except _Break:
                return
            if not ran and node.else_list is not None:
                self.walk(dot, node.else_list)
        finally:
            self.pop(outer)

    def walk_template(self, dot: RV, node: TemplateNode) -> None:
        self.at(node)
        tree = self.trees.get(node.name)
        if tree is None or tree.root is None:
            raise self.error(f"template {gofmt.quote(node.name)} not defined")
        if self.depth >= self.limits.max_template_depth:
            raise self.error(f"exceeded maximum template depth ({self.limits.max_template_depth})")
        value = self.eval_pipeline(dot, node.pipe) if node.pipe is not None else INVALID
        saved = self.name, self.vars, self.depth
        self.name, self.vars, self.depth = node.name, [["$", value]], self.depth + 1
        try:
            self.walk(value, tree.root)
        finally:
            self.name, self.vars, self.depth = saved

    # --- evaluation --------------------------------------------------------------------------------

    def eval_pipeline(self, dot: RV, pipe: PipeNode | None) -> RV:
        if pipe is None:
            return INVALID
        self.at(pipe)
        value: RV | None = None
        for cmd in pipe.cmds:
            value = self.eval_command(dot, cmd, value)
            if value.iface:
                value = INVALID if value.v is None else RV(value.v)
        assert value is not None
        for variable in pipe.decl:
            if pipe.is_assign:
                self.set_var(variable.ident[0], value)
            else:
                self.push(variable.ident[0], value)
        return value

    def not_a_function(self, args: list[Node], final: RV | None) -> None:
        if len(args) > 1 or final is not None:
            raise self.error(f"can't give argument to non-function {args[0]}")

    def eval_command(self, dot: RV, cmd: CommandNode, final: RV | None) -> RV:
        self.step()
        first = cmd.args[0]
        if isinstance(first, FieldNode):
            return self.eval_field_node(dot, first, cmd.args, final)
        if isinstance(first, ChainNode):
            return self.eval_chain_node(dot, first, cmd.args, final)
        if isinstance(first, IdentifierNode):
            return self.eval_function(dot, first, cmd, cmd.args, final)
        if isinstance(first, PipeNode):
            self.not_a_function(cmd.args, final)
            return self.eval_pipeline(dot, first)
        if isinstance(first, VariableNode):
            return self.eval_variable_node(dot, first, cmd.args, final)
        self.at(first)
        self.not_a_function(cmd.args, final)
        if isinstance(first, BoolNode):
            return RV(first.true)
        if isinstance(first, DotNode):
            return dot
        if isinstance(first, NilNode):
            raise self.error("nil is not a command")
        if isinstance(first, NumberNode):
            return self.ideal_constant(first)
        if isinstance(first, StringNode):
            return RV(first.text)
        raise self.error(f"can't evaluate command {gofmt.quote(str(first))}")

    def ideal_constant(self, constant: NumberNode) -> RV:
        self.at(constant)
        text = constant.text
        is_hex_int = len(text) > 2 and text[0] == "0" and text[1] in "xX" and not any(c in text for c in "pP")
        if (
            constant.is_float
            and not is_hex_int
            and not text.startswith("'")
            and any(c in text for c in ".eEpP")
        ):
            return RV(constant.float64)
        if constant.is_int:
            return RV(GoInt(constant.int64))
        if constant.is_uint:
            raise self.error(f"{text} overflows int")
        return INVALID

    def eval_field_node(self, dot: RV, field: FieldNode, args: list[Node] | None, final: RV | None) -> RV:
        self.at(field)
        return self.eval_field_chain(dot, dot, field, field.ident, args, final)

    def eval_chain_node(self, dot: RV, chain: ChainNode, args: list[Node] | None, final: RV | None) -> RV:
        self.at(chain)
        if not chain.fields:
            raise self.error("internal error: no fields in evalChainNode")
        if isinstance(chain.node, NilNode):
            raise self.error(f"indirection through explicit nil in {chain}")
        pipe = self.eval_arg(dot, None, chain.node)
        return self.eval_field_chain(dot, pipe, chain, chain.fields, args, final)

    def eval_variable_node(
        self, dot: RV, variable: VariableNode, args: list[Node] | None, final: RV | None
    ) -> RV:
        self.at(variable)
        value = self.var_value(variable.ident[0])
        if len(variable.ident) == 1:
            self.not_a_function(args or [variable], final)
            return value
        return self.eval_field_chain(dot, value, variable, variable.ident[1:], args, final)

    def eval_field_chain(
        self,
        dot: RV,
        receiver: RV,
        node: Node,
        ident: list[str],
        args: list[Node] | None,
        final: RV | None,
    ) -> RV:
        for name in ident[:-1]:
            receiver = self.eval_field(dot, name, node, None, None, receiver)
        return self.eval_field(dot, ident[-1], node, args, final, receiver)

    def eval_function(
        self, dot: RV, node: IdentifierNode, cmd: Node, args: list[Node] | None, final: RV | None
    ) -> RV:
        self.at(node)
        name = node.ident
        function = self.funcs.get(name)
        is_builtin = False
        if function is None:
            function = builtins.BUILTINS.get(name)
            is_builtin = function is not None
        if function is None:
            raise self.error(f"{gofmt.quote(name)} is not a defined function")
        return self.eval_call(dot, function, is_builtin, cmd, name, args, final)

    def eval_field(
        self,
        dot: RV,
        name: str,
        node: Node,
        args: list[Node] | None,
        final: RV | None,
        receiver: RV,
    ) -> RV:
        if not receiver.valid:
            if self.missingkey == MissingKey.ERROR:
                raise self.error(f"nil data; no entry for key {gofmt.quote(name)}")
            return INVALID
        typ = receiver.type_name()
        value = receiver.v
        if value is None:
            raise self.error(f"nil pointer evaluating {typ}.{name}")
        method = methods_of(value).get(name)
        if method is not None:
            return self.eval_call(dot, bind(method, value), False, node, name, args, final)
        has_args = (args is not None and len(args) > 1) or final is not None
        fields = fields_of(value)
        if fields is not None and name in fields:
            if has_args:
                raise self.error(f"{name} has arguments but cannot be invoked as function")
            field_value = fields[name]
            return RV(field_value, iface=field_value is None)
        if isinstance(value, dict):
            if has_args:
                raise self.error(f"{name} is not a method but has arguments")
            iface = not isinstance(value, StrMap)
            if name in value:
                return RV(value[name], iface=iface)
            if self.missingkey == MissingKey.ZERO:
                return RV(None, iface=True) if iface else RV("")
            if self.missingkey == MissingKey.ERROR:
                raise self.error(f"map has no entry for key {gofmt.quote(name)}")
            return INVALID
        raise self.error(f"can't evaluate field {name} in type {typ}")

    def eval_call(
        self,
        dot: RV,
        fun: GoFunc,
        is_builtin: bool,
        node: Node,
        name: str,
        args: list[Node] | None,
        final: RV | None,
    ) -> RV:
        arg_nodes = args[1:] if args is not None else []
        sig = fun.signature
        num_in = len(arg_nodes) + (0 if final is None else 1)
        num_fixed = len(arg_nodes)
        total = len(sig.params) + (1 if sig.variadic is not None else 0)
        if sig.variadic is not None:
            num_fixed = len(sig.params)
            if num_in < num_fixed:
                raise self.error(
                    f"wrong number of args for {name}: want at least {num_fixed} got {len(arg_nodes)}"
                )
        elif num_in != total:
            raise self.error(f"wrong number of args for {name}: want {total} got {num_in}")

        if is_builtin and name in ("and", "or"):
            result = INVALID
            want = name == "or"
            for arg in arg_nodes:
                result = self.eval_arg(dot, sig.params[0], arg)
                if builtins.truth(result) == want:
                    return result
            if final is not None:
                result = final
            return result

        argv: list[RV] = []
        i = 0
        while i < num_fixed and i < len(arg_nodes):
            argv.append(self.eval_arg(dot, sig.params[i], arg_nodes[i]))
            i += 1
        if sig.variadic is not None:
            while i < len(arg_nodes):
                argv.append(self.eval_arg(dot, sig.variadic, arg_nodes[i]))
                i += 1
        if final is not None:
            if sig.variadic is not None:
                typ = sig.params[num_in - 1] if num_in - 1 < num_fixed else sig.variadic
            else:
                typ = sig.params[-1]
            argv.append(self.validate_type(final, typ))

        if is_builtin and name == "call":
            callee = str(arg_nodes[0]) if arg_nodes else str(final.v if final is not None else "")
            try:
                result_value, target = builtins.call_function(callee, argv[0], argv[1:], self._invoke)
            except FuncError as err:
                self.at(node)
                raise self.error(f"error calling {name}: {err}") from None
            return self._wrap_result(result_value, target)

        params = [*sig.params]
        pass_args: list[Any] = []
        for index, rv in enumerate(argv):
            ptype = params[index] if index < len(params) else sig.variadic
            pass_args.append(rv if ptype is not None and ptype.kind == "value" else rv.v)
        try:
            result_value = self._invoke(fun, pass_args)
        except FuncError as err:
            self.at(node)
            raise self.error(f"error calling {name}: {err}") from None
        return self._wrap_result(result_value, fun)

    def _wrap_result(self, value: Any, fun: GoFunc) -> RV:
        if isinstance(value, RV):
            return value
        return RV(value, iface=fun.signature.result.kind == "interface")

    def _invoke(self, fun: GoFunc, args: list[Any]) -> Any:
        try:
            result = fun.impl(*args)
        except FuncError:
            raise
        except (ValueError, TypeError, KeyError, IndexError, ZeroDivisionError, OverflowError) as err:
            raise FuncError(str(err) or type(err).__name__) from None
        if isinstance(result, str) and len(result) > self.limits.max_value_bytes:
            raise LimitError(
                f"template: {self.name}: {fun.name} returned more than {self.limits.max_value_bytes} bytes"
            )
        return result

    def validate_type(self, value: RV, typ: GoType | None) -> RV:
        if not value.valid:
            if typ is None:
                return INVALID
            if typ.can_be_nil():
                return INVALID if typ.kind == "value" else RV(None, iface=typ.kind == "interface")
            raise self.error(f"invalid value; expected {typ}")
        if typ is None or typ.kind == "value":
            return value
        if typ.kind == "interface":
            return value
        if value.v is not None and assignable(value.v, typ):
            return RV(value.v)
        got = "interface {}" if value.v is None else type_name(value.v)
        raise self.error(f"wrong type for value; expected {typ}; got {got}")

    def eval_arg(self, dot: RV, typ: GoType | None, node: Node) -> RV:
        self.at(node)
        if isinstance(node, DotNode):
            return self.validate_type(dot, typ)
        if isinstance(node, NilNode):
            if typ is not None and typ.can_be_nil():
                return INVALID if typ.kind == "value" else RV(None, iface=typ.kind == "interface")
            raise self.error(f"cannot assign nil to {typ}")
        if isinstance(node, FieldNode):
            return self.validate_type(self.eval_field_node(dot, node, [node], None), typ)
        if isinstance(node, VariableNode):
            return self.validate_type(self.eval_variable_node(dot, node, None, None), typ)
        if isinstance(node, PipeNode):
            return self.validate_type(self.eval_pipeline(dot, node), typ)
        if isinstance(node, IdentifierNode):
            return self.validate_type(self.eval_function(dot, node, node, None, None), typ)
        if isinstance(node, ChainNode):
            return self.validate_type(self.eval_chain_node(dot, node, None, None), typ)
        if typ is None:
            raise self.error(f"can't handle {node} for arg of type <nil>")
        kind = typ.kind
        if kind == "bool":
            if isinstance(node, BoolNode):
                return RV(node.true)
            raise self.error(f"expected bool; found {node}")
        if kind == "float64":
            if isinstance(node, NumberNode) and node.is_float:
                return RV(node.float64)
            raise self.error(f"expected float; found {node}")
        if kind in ("int", "int64"):
            if isinstance(node, NumberNode) and node.is_int:
                return RV(GoInt(node.int64) if kind == "int" else node.int64)
            raise self.error(f"expected integer; found {node}")
        if kind in ("interface", "value"):
            return self.eval_empty_interface(dot, node)
        if kind == "string":
            if isinstance(node, StringNode):
                return RV(node.text)
            raise self.error(f"expected string; found {node}")
        raise self.error(f"can't handle {node} for arg of type {typ}")

    def eval_empty_interface(self, dot: RV, node: Node) -> RV:
        self.at(node)
        if isinstance(node, BoolNode):
            return RV(node.true)
        if isinstance(node, DotNode):
            return dot
        if isinstance(node, FieldNode):
            return self.eval_field_node(dot, node, None, None)
        if isinstance(node, IdentifierNode):
            return self.eval_function(dot, node, node, None, None)
        if isinstance(node, NumberNode):
            return self.ideal_constant(node)
        if isinstance(node, StringNode):
            return RV(node.text)
        if isinstance(node, VariableNode):
            return self.eval_variable_node(dot, node, None, None)
        if isinstance(node, PipeNode):
            return self.eval_pipeline(dot, node)
        raise self.error(f"can't handle assignment of {node} to empty interface argument")

    def print_value(self, node: Node, value: RV) -> None:
        self.at(node)
        if not value.valid or value.v is None:
            self.write("<no value>")
            return
        if isinstance(value.v, GoFunc):
            raise self.error(f"can't print {node} of type {value.type_name()}")
        self.write(gofmt.print_value(value.v))


def execute(
    *,
    name: str,
    trees: Mapping[str, Tree],
    funcs: Mapping[str, GoFunc],
    data: Any,
    missingkey: MissingKey,
    limits: Limits,
) -> str:
    state = _State(name=name, trees=trees, funcs=funcs, missingkey=missingkey, limits=limits)
    value = RV(data) if data is not None else INVALID
    state.vars = [["$", value]]
    tree = trees.get(name)
    if tree is None or tree.root is None:
        raise state.error(f"{gofmt.quote(name)} is an incomplete or empty template")
    try:
        state.walk(value, tree.root)
    except RecursionError:
        raise LimitError(f"template: {name}: nesting too deep") from None
    return "".join(state.out)

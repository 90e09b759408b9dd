"""Go's text/template with the sprig functions, in Python, rendering as Argo CD renders
ApplicationSet templates (``goTemplate: true``) and notification templates.

```python
from ferry import gotemplate

tmpl = gotemplate.Template("base", gotemplate.APPLICATIONSET, missingkey="error").parse("{{ .name | upper }}")
tmpl.execute({"name": "guestbook"})  # "GUESTBOOK"
gotemplate.render("{{ .x }}", {}, missingkey="error")  # ExecError: ... map has no entry for key "x"
```

Data is JSON-like (dicts, lists, str, int, float, bool, None); see ``ferry.gotemplate.values`` for
how Go types map to Python and ``docs/gotemplate.md`` for the subset and known differences.
Templates are untrusted input: they reach only the data and functions given, never Python
attributes, and execution is bounded by :class:`Limits`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ferry.gotemplate import parse as _parse
from ferry.gotemplate.errors import ExecError, FuncError, LimitError, ParseError, TemplateError
from ferry.gotemplate.exec import Limits, MissingKey, execute
from ferry.gotemplate.gotime import Duration, GoTime
from ferry.gotemplate.sprig import applicationset_functions, notification_functions, sprig_functions
from ferry.gotemplate.values import GoFunc, GoStruct, Signature, func, numbers_as_float

APPLICATIONSET = "applicationset"
NOTIFICATIONS = "notifications"
SPRIG = "sprig"

_FUNCTION_SETS = {
    APPLICATIONSET: applicationset_functions,
    NOTIFICATIONS: notification_functions,
    SPRIG: sprig_functions,
}
_CACHE: dict[str, dict[str, GoFunc]] = {}


def functions(name: str) -> dict[str, GoFunc]:
    """A named function map (``APPLICATIONSET``, ``NOTIFICATIONS``, ``SPRIG``)."""
    if name not in _CACHE:
        _CACHE[name] = _FUNCTION_SETS[name]()
    return _CACHE[name]


def parse_option(option: str) -> MissingKey:
    """A Go template option (``missingkey=error``); ValueError for anything else, with Go's
    panic message."""
    key, sep, value = option.partition("=")
    if sep and key == "missingkey":
        try:
            return MissingKey(value)
        except ValueError:
            pass
    raise ValueError(f"unrecognized option: {option}")


class Template:
    """A named set of parsed templates sharing one function map (Go's ``*template.Template``)."""

    def __init__(
        self,
        name: str,
        funcs: str | Mapping[str, GoFunc] = SPRIG,
        *,
        missingkey: str | MissingKey = MissingKey.DEFAULT,
        options: tuple[str, ...] = (),
        limits: Limits | None = None,
        delims: tuple[str, str] = ("", ""),
    ) -> None:
        self.name = name
        self.funcs: Mapping[str, GoFunc] = functions(funcs) if isinstance(funcs, str) else dict(funcs)
        self.missingkey = MissingKey(missingkey)
        for option in options:
            self.missingkey = parse_option(option)
        self.limits = limits or Limits()
        self.delims = delims
        self.trees: dict[str, _parse.Tree] = {}

    def parse(self, text: str) -> Template:
        """Parses ``text`` as this template (its ``define``\\ s join the set); ParseError."""
        try:
            _parse.parse(self.name, text, self.funcs, self.trees, left=self.delims[0], right=self.delims[1])
        except RecursionError:
            raise ParseError(f"template: {self.name}: nesting too deep") from None
        return self

    def execute(self, data: Any) -> str:
        return self.execute_template(self.name, data)

    def execute_template(self, name: str, data: Any) -> str:
        if name != self.name and name not in self.trees:
            raise ExecError(f'template: no template "{name}" associated with template "{self.name}"')
        return execute(
            name=name,
            trees=self.trees,
            funcs=self.funcs,
            data=data,
            missingkey=self.missingkey,
            limits=self.limits,
        )

    def defined(self) -> list[str]:
        return sorted(self.trees)


def render(
    text: str,
    data: Any,
    *,
    name: str = "base",
    funcs: str | Mapping[str, GoFunc] = APPLICATIONSET,
    missingkey: str | MissingKey = MissingKey.DEFAULT,
    options: tuple[str, ...] = (),
    limits: Limits | None = None,
) -> str:
    """Parses and executes one template, as Argo CD's ApplicationSet Render.Replace does (its
    templates are named ``base``)."""
    template = Template(name, funcs, missingkey=missingkey, options=options, limits=limits)
    return template.parse(text).execute(data)


__all__ = [
    "APPLICATIONSET",
    "NOTIFICATIONS",
    "SPRIG",
    "Duration",
    "ExecError",
    "FuncError",
    "GoFunc",
    "GoStruct",
    "GoTime",
    "LimitError",
    "Limits",
    "MissingKey",
    "ParseError",
    "Signature",
    "Template",
    "TemplateError",
    "func",
    "functions",
    "numbers_as_float",
    "parse_option",
    "render",
]

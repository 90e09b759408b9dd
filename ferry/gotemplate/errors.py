"""Errors of the Go template engine, with Go's messages (``template: name:1:2: executing "name" at
<.x>: map has no entry for key "x"``), so a user sees what Argo CD would show."""

from __future__ import annotations


class TemplateError(Exception):
    """Any error parsing or executing a template; ``str()`` is Go's message."""


class ParseError(TemplateError):
    """The template does not parse."""


class ExecError(TemplateError):
    """Executing the template failed (a missing key with missingkey=error, a function's error...)."""


class LimitError(ExecError):
    """The template exceeded a safety limit (output size, steps, nesting)."""


class FuncError(Exception):
    """Raised by a template function for the ``error`` it returns (or the panic it raises) in Go;
    the executor reports ``error calling <name>: <message>``."""

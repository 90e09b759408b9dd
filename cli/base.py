"""What every ``ferry`` subcommand shares: the click group that turns errors into one line and an
exit code, the connection from the context, and the ``-o`` option."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from cli.connection import Client, CliError, Settings

F = TypeVar("F", bound=Callable[..., Any])

EXIT_DIFFERENT = 1
EXIT_USAGE = 2
EXIT_SERVER = 20
EXIT_OPERATION_FAILED = 21
EXIT_TIMEOUT = 22

EXIT_CODES = f"""\b
Exit codes:
  0   success
  {EXIT_DIFFERENT}   ferry app diff: the live state differs from Git
  {EXIT_USAGE}   usage error (a wrong command, flag or argument)
  {EXIT_SERVER}  error reported by the server, or the server cannot be reached
  {EXIT_OPERATION_FAILED}  the operation (sync, rollback) ended Failed or Error
  {EXIT_TIMEOUT}  timed out waiting (app sync, app wait)
"""


class FerryGroup(click.Group):
    """Turns CliError into one line on stderr and its exit code; never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CliError as err:
            click.echo(f"ferry: {err.message}", err=True)
            ctx.exit(err.code)


def group(name: str, help_text: str) -> click.Group:
    """A subcommand group (``app``, ``repo``, ...) with ferry's error handling."""
    return FerryGroup(name=name, help=help_text)


def settings(ctx: click.Context) -> Settings:
    value: Settings = ctx.find_root().obj
    return value


def client(ctx: click.Context) -> Client:
    return Client(settings(ctx))


def output_option(*choices: str) -> Callable[[F], F]:
    return click.option(
        "-o", "--output", type=click.Choice(list(choices)), default=None, help="Output format."
    )


def usage(message: str) -> CliError:
    return CliError(message, EXIT_USAGE)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: str, flag: str) -> int:
    """Seconds in ``90s``, ``30m``, ``24h``, ``7d`` or a plain number of seconds; 0 means never."""
    text = value.strip()
    try:
        if text and text[-1] in _UNITS:
            return int(float(text[:-1]) * _UNITS[text[-1]])
        return int(text)
    except ValueError:
        raise usage(f"{flag} takes a duration such as 90s, 30m, 24h or 7d, got {value!r}") from None


def read_file(path: str, flag: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as err:
        raise usage(f"{flag}: cannot read {path}: {err.strerror}") from None


def confirmed(question: str, yes: bool) -> bool:
    """True when -y was given or the user agrees; without a terminal to ask on, -y is required."""
    if yes:
        return True
    if not sys.stdin.isatty():
        raise usage(f"{question.rstrip('?')}: needs confirmation, add -y")
    return click.confirm(question)

"""Command-line conventions shared by the ferry executables.

Every flag has an environment-variable equivalent: ``FERRY_<COMPONENT>_<FLAG>`` (for example
``--metrics-port`` of ferry-reposerver is ``FERRY_REPOSERVER_METRICS_PORT``), shown in ``--help``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from ferry import __version__, subproc
from ferry.logs import LOG_FORMATS, LOG_LEVELS, configure_logging

F = TypeVar("F", bound=Callable[..., Any])

CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"], "show_default": True}


def version_option(prog_name: str) -> Callable[[F], F]:
    return click.version_option(__version__, "--version", prog_name=prog_name, message="%(prog)s %(version)s")


def logging_options(func: F) -> F:
    """Adds ``--loglevel`` and ``--logformat`` and configures logging before the command runs."""

    def configure(ctx: click.Context, _param: click.Parameter, value: str) -> str:
        ctx.meta[f"ferry.{_param.name}"] = value
        level = ctx.meta.get("ferry.loglevel", "info")
        fmt = ctx.meta.get("ferry.logformat", "text")
        configure_logging(level=level, fmt=fmt)
        return value

    func = click.option(
        "--logformat",
        type=click.Choice(LOG_FORMATS),
        default="text",
        show_envvar=True,
        callback=configure,
        help="Log format.",
    )(func)
    return click.option(
        "--loglevel",
        type=click.Choice(LOG_LEVELS),
        default="info",
        show_envvar=True,
        callback=configure,
        is_eager=True,
        help="Log level.",
    )(func)


def listen_options(*, port: int, metrics_port: int | None) -> Callable[[F], F]:
    """Adds ``--address``, ``--port`` (when the process serves gRPC) and ``--metrics-port``."""

    def decorate(func: F) -> F:
        if metrics_port is not None:
            func = click.option(
                "--metrics-port",
                type=click.IntRange(0, 65535),
                default=metrics_port,
                show_envvar=True,
                help="Port of the Prometheus /metrics endpoint (0 picks a free port).",
            )(func)
        if port:
            func = click.option(
                "--port",
                type=click.IntRange(0, 65535),
                default=port,
                show_envvar=True,
                help="gRPC port (0 picks a free port).",
            )(func)
        return click.option(
            "--address",
            default="127.0.0.1",
            show_envvar=True,
            help="Address to listen on (use 0.0.0.0 inside a cluster).",
        )(func)

    return decorate


_TOOL_LIMITS: tuple[tuple[str, str, click.ParamType[Any], str], ...] = (
    ("tool-cpu-limit", "cpu_seconds", click.IntRange(1), "CPU seconds {what} may use (RLIMIT_CPU)."),
    (
        "tool-memory-limit",
        "memory_bytes",
        click.IntRange(16 * 1024**2),
        "Bytes of memory (data segment, RLIMIT_DATA) {what} may use.",
    ),
    (
        "tool-max-file-size",
        "file_bytes",
        click.IntRange(1024**2),
        "Largest file in bytes {what} may write (RLIMIT_FSIZE; bounds git pack files too).",
    ),
    (
        "tool-max-output",
        "output_bytes",
        click.IntRange(1024),
        "Bytes of stdout and stderr {what} may write before it is killed.",
    ),
)


def tool_limit_options(what: str) -> Callable[[F], F]:
    """The sandbox limits of ferry.subproc as flags (``--tool-cpu-limit``, ``--tool-memory-limit``,
    ``--tool-max-file-size``, ``--tool-max-output``); ``what`` names what they bound in the help."""

    def decorate(func: F) -> F:
        for flag, field, kind, text in reversed(_TOOL_LIMITS):
            func = click.option(
                f"--{flag}",
                type=kind,
                default=getattr(subproc.Limits, field),
                show_envvar=True,
                show_default=True,
                help=text.format(what=what),
            )(func)
        return func

    return decorate


def tool_limits(options: dict[str, Any]) -> subproc.Limits:
    """The Limits the tool limit flags give; takes their values out of ``options``."""
    return subproc.Limits(
        **{field: options.pop(flag.replace("-", "_")) for flag, field, _, _ in _TOOL_LIMITS}
    )

"""Entry point of the ``ferry`` command."""

from __future__ import annotations

import click

from ferry.cmdline import CONTEXT_SETTINGS, version_option

PROG = "ferry"


@click.group(context_settings=CONTEXT_SETTINGS)
@version_option(PROG)
def command() -> None:
    """ferry: GitOps continuous delivery for Kubernetes.

    Exit codes: 0 success, 1 error reported by the server or a failed operation,
    2 usage error.
    """


def main() -> None:
    command.main(prog_name=PROG, auto_envvar_prefix="FERRY")

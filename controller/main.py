"""Entry point of ``ferry-controller``."""

from __future__ import annotations

import asyncio
import signal

import click

from ferry.cmdline import CONTEXT_SETTINGS, listen_options, logging_options, version_option
from ferry.serving import start_metrics_server

PROG = "ferry-controller"


async def _wait_for_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


@click.command(context_settings=CONTEXT_SETTINGS)
@version_option(PROG)
@logging_options
@listen_options(port=0, metrics_port=8082)
def command(address: str, metrics_port: int, **_logging: str) -> None:
    """Reconcile Applications: compare clusters with Git and converge them."""
    start_metrics_server(address, metrics_port)
    asyncio.run(_wait_for_signal())


def main() -> None:
    command.main(prog_name=PROG, auto_envvar_prefix="FERRY_CONTROLLER")

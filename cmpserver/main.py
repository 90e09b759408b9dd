"""Entry point of ``ferry-cmp-server``: one plugin.yaml, served on
``<socket-dir>/<name>[-<version>].sock``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from pathlib import Path
from typing import Any

import click

from cmpserver.config import DEFAULT_CONFIG, PluginConfigError, load
from cmpserver.isolation import IsolationMode, IsolationUnavailable, setup
from cmpserver.plugin import Plugin
from cmpserver.service import PluginService
from ferry import cmp, subproc
from ferry.cmdline import CONTEXT_SETTINGS, logging_options, tool_limit_options, tool_limits, version_option
from ferry.interceptors import standard_interceptors
from ferry.serving import GrpcServer, ServiceRegistration, serve_until_signalled
from ferry.v1 import cmp_pb2, cmp_pb2_grpc

PROG = "ferry-cmp-server"
log = logging.getLogger(__name__)


@click.command(context_settings=CONTEXT_SETTINGS)
@version_option(PROG)
@logging_options
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path(DEFAULT_CONFIG),
    show_envvar=True,
    help="The plugin's plugin.yaml (Argo CD's ConfigManagementPlugin).",
)
@click.option(
    "--socket-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(cmp.DEFAULT_SOCKET_DIR),
    show_envvar=True,
    help="Where to create the socket <name>[-<version>].sock (the repo server's --plugin-socket-dir).",
)
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    show_envvar=True,
    help="Private directory apps are extracted into (a temporary directory when empty).",
)
@click.option(
    "--exec-timeout",
    type=click.FloatRange(0.1),
    default=90.0,
    show_envvar=True,
    help="Seconds each of the plugin's commands (init, generate, discover) may run.",
)
@click.option(
    "--max-archive-size",
    type=click.IntRange(1024),
    default=cmp.DEFAULT_MAX_ARCHIVE_BYTES,
    show_envvar=True,
    help="Bytes an app's archive (and its files together) may have.",
)
@click.option(
    "--max-archive-entries",
    type=click.IntRange(1),
    default=cmp.DEFAULT_MAX_ARCHIVE_ENTRIES,
    show_envvar=True,
    help="Files and directories an app's archive may have.",
)
@tool_limit_options("one command of the plugin")
@click.option(
    "--isolation",
    type=click.Choice([m.value for m in IsolationMode]),
    default=IsolationMode.AUTO.value,
    show_envvar=True,
    help="namespace: each command sees only its app dir, its HOME and read-only system dirs "
    "(user, mount and PID namespaces); none: the host's filesystem (the container isolates, as in "
    "Argo CD); auto: namespace where the kernel allows it.",
)
@click.option(
    "--isolation-bind",
    "isolation_binds",
    multiple=True,
    type=click.Path(exists=True, file_okay=False),
    show_envvar=True,
    help="Another directory isolated commands see read-only (where the plugin's tools live).",
)
def command(
    config: Path,
    socket_dir: Path,
    work_dir: Path | None,
    exec_timeout: float,
    max_archive_size: int,
    max_archive_entries: int,
    isolation: str,
    isolation_binds: tuple[str, ...],
    **options: Any,
) -> None:
    """Serve ferry.v1.ConfigManagementPluginService for one config management plugin."""
    try:
        plugin_config = load(config)
    except PluginConfigError as err:
        raise click.UsageError(str(err)) from None
    work = work_dir or Path(tempfile.mkdtemp(prefix=f"ferry-cmp-{plugin_config.name}-"))
    work.mkdir(mode=0o700, parents=True, exist_ok=True)
    subproc.configure(limits=tool_limits(options), sandbox_root=work / "home")  # the rest: logging
    try:
        isolated = setup(IsolationMode(isolation), work, isolation_binds)
    except IsolationUnavailable as err:
        raise click.UsageError(str(err)) from None
    plugin = Plugin(
        plugin_config,
        work_dir=work / "apps",
        timeout=exec_timeout,
        max_archive_bytes=max_archive_size,
        max_archive_entries=max_archive_entries,
        isolation=isolated,
    )
    socket_dir.mkdir(parents=True, exist_ok=True)
    socket = cmp.socket_path(socket_dir, plugin_config.name, plugin_config.version)
    with contextlib.suppress(FileNotFoundError):
        socket.unlink()  # a previous run's; binding fails on an existing file

    async def serve() -> None:
        server = GrpcServer(
            address="",
            port=0,
            unix_socket=str(socket),
            services=[
                ServiceRegistration(
                    cmp_pb2.DESCRIPTOR.services_by_name["ConfigManagementPluginService"].full_name,
                    PluginService(plugin),
                    cmp_pb2_grpc.add_ConfigManagementPluginServiceServicer_to_server,
                )
            ],
            # no tokens: the socket's directory is shared with the repo server only
            interceptors=standard_interceptors(None),
            max_message_bytes=max_archive_size + 1024 * 1024,
        )

        async def remove_socket() -> None:
            with contextlib.suppress(FileNotFoundError):
                socket.unlink()

        await serve_until_signalled(server, on_stop=remove_socket)

    log.info(
        "plugin loaded",
        extra={"plugin": plugin.full_name, "socket": str(socket), "isolated": isolated.enabled},
    )
    asyncio.run(serve())


def main() -> None:
    command.main(prog_name=PROG, auto_envvar_prefix="FERRY_CMP_SERVER")

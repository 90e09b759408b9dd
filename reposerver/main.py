"""Entry point of ``ferry-reposerver``."""

from __future__ import annotations

import asyncio

import click

from ferry.cmdline import CONTEXT_SETTINGS, listen_options, logging_options, version_option
from ferry.serving import GrpcServer, ServiceRegistration, serve_until_signalled, start_metrics_server
from ferry.v1 import repo_pb2, repo_pb2_grpc

PROG = "ferry-reposerver"


@click.command(context_settings=CONTEXT_SETTINGS)
@version_option(PROG)
@logging_options
@listen_options(port=8081, metrics_port=8084)
def command(address: str, port: int, metrics_port: int, **_logging: str) -> None:
    """Serve ferry.v1.RepoService: render manifests from Git and Helm repositories."""
    servicer = repo_pb2_grpc.RepoServiceServicer()  # type: ignore[abstract]  # RPCs answer UNIMPLEMENTED until built
    server = GrpcServer(
        address=address,
        port=port,
        services=[
            ServiceRegistration(
                repo_pb2.DESCRIPTOR.services_by_name["RepoService"].full_name,
                servicer,
                repo_pb2_grpc.add_RepoServiceServicer_to_server,
            )
        ],
    )
    start_metrics_server(address, metrics_port)
    asyncio.run(serve_until_signalled(server))


def main() -> None:
    command.main(prog_name=PROG, auto_envvar_prefix="FERRY_REPOSERVER")

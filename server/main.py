"""Entry point of ``ferry-server``."""

from __future__ import annotations

import asyncio

import click

from ferry.cmdline import CONTEXT_SETTINGS, listen_options, logging_options, version_option
from ferry.serving import GrpcServer, ServiceRegistration, serve_until_signalled, start_metrics_server
from ferry.v1 import application_pb2, application_pb2_grpc, session_pb2, session_pb2_grpc

PROG = "ferry-server"


@click.command(context_settings=CONTEXT_SETTINGS)
@version_option(PROG)
@logging_options
@listen_options(port=8080, metrics_port=8083)
@click.option("--insecure", is_flag=True, show_envvar=True, help="Serve gRPC without TLS (local use only).")
def command(address: str, port: int, metrics_port: int, insecure: bool, **_logging: str) -> None:
    """Serve the ferry API: applications, sessions and management services."""
    server = GrpcServer(
        address=address,
        port=port,
        services=[
            ServiceRegistration(
                application_pb2.DESCRIPTOR.services_by_name["ApplicationService"].full_name,
                application_pb2_grpc.ApplicationServiceServicer(),  # type: ignore[abstract]  # RPCs answer UNIMPLEMENTED until built
                application_pb2_grpc.add_ApplicationServiceServicer_to_server,
            ),
            ServiceRegistration(
                session_pb2.DESCRIPTOR.services_by_name["SessionService"].full_name,
                session_pb2_grpc.SessionServiceServicer(),  # type: ignore[abstract]  # RPCs answer UNIMPLEMENTED until built
                session_pb2_grpc.add_SessionServiceServicer_to_server,
            ),
        ],
    )
    start_metrics_server(address, metrics_port)
    asyncio.run(serve_until_signalled(server))


def main() -> None:
    command.main(prog_name=PROG, auto_envvar_prefix="FERRY_SERVER")

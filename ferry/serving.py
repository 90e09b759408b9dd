"""How every ferry process serves: one gRPC server with health and reflection, a Prometheus
``/metrics`` endpoint on its own port, and graceful shutdown on SIGTERM/SIGINT.

A component builds a :class:`GrpcServer` from its servicers, then calls :func:`serve_forever`.
Tests start and stop the same class in-process. This module knows nothing about what a service
does; it must never import a component.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import CollectorRegistry, start_http_server

log = logging.getLogger(__name__)

# Messages above this size are refused with RESOURCE_EXHAUSTED rather than buffered.
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
# What ferry's own clients accept and send: gRPC clients refuse replies over 4 MiB by default,
# while a render (--max-manifest-output-size, 32 MiB) or an app's manifests may be larger.
CLIENT_MESSAGE_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.max_receive_message_length", DEFAULT_MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", DEFAULT_MAX_MESSAGE_BYTES),
)


@dataclass(frozen=True)
class ServiceRegistration:
    """A servicer and the generated function that adds it to a server."""

    full_name: str  # e.g. "ferry.v1.RepoService", as listed by reflection and health
    servicer: object
    add_to_server: Callable[[Any, grpc.aio.Server], None]


@dataclass(frozen=True)
class TlsConfig:
    cert_chain_pem: bytes
    private_key_pem: bytes


@dataclass
class GrpcServer:
    """One gRPC server: build it, ``await start()``, ``await stop(grace)``."""

    address: str
    port: int
    services: Sequence[ServiceRegistration]
    interceptors: Sequence[grpc.aio.ServerInterceptor] = ()
    tls: TlsConfig | None = None
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    # Serve on this Unix socket instead of address:port (a plugin server's socket).
    unix_socket: str = ""
    bound_port: int = field(default=0, init=False)
    _server: grpc.aio.Server | None = field(default=None, init=False)
    _health: health.aio.HealthServicer | None = field(default=None, init=False)

    async def start(self) -> int:
        """Binds and starts serving; returns the bound port (useful when ``port`` is 0)."""
        options = [
            ("grpc.max_receive_message_length", self.max_message_bytes),
            ("grpc.max_send_message_length", self.max_message_bytes),
            ("grpc.so_reuseport", 0),
        ]
        server = grpc.aio.server(interceptors=list(self.interceptors), options=options)
        for svc in self.services:
            svc.add_to_server(svc.servicer, server)
        health_servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        names = [svc.full_name for svc in self.services]
        reflection.enable_server_reflection(
            [*names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME],
            server,
        )
        target = f"unix:{self.unix_socket}" if self.unix_socket else f"{self.address}:{self.port}"
        if self.tls is None:
            self.bound_port = server.add_insecure_port(target)
        else:
            creds = grpc.ssl_server_credentials([(self.tls.private_key_pem, self.tls.cert_chain_pem)])
            self.bound_port = server.add_secure_port(target, creds)
        await server.start()
        serving = health_pb2.HealthCheckResponse.SERVING
        await health_servicer.set("", serving)
        for name in names:
            await health_servicer.set(name, serving)
        self._server, self._health = server, health_servicer
        shown = target if self.unix_socket else f"{self.address}:{self.bound_port}"
        log.info("gRPC server listening", extra={"address": shown})
        return self.bound_port

    async def stop(self, grace: float | None = 5.0) -> None:
        """Reports NOT_SERVING, then lets in-flight calls finish for ``grace`` seconds."""
        if self._server is None:
            return
        if self._health is not None:
            await self._health.enter_graceful_shutdown()
        await self._server.stop(grace)
        self._server = None

    async def wait_for_termination(self) -> None:
        if self._server is not None:
            await self._server.wait_for_termination()


def start_metrics_server(address: str, port: int, registry: CollectorRegistry | None = None) -> int:
    """Serves Prometheus ``/metrics`` on its own port in a daemon thread; returns the bound port."""
    kwargs: dict[str, Any] = {"addr": address}
    if registry is not None:
        kwargs["registry"] = registry
    httpd, _thread = start_http_server(port, **kwargs)
    bound = int(httpd.server_address[1])
    log.info("metrics listening", extra={"address": f"{address}:{bound}"})
    return bound


async def serve_until_signalled(
    server: GrpcServer,
    *,
    on_start: Callable[[], Awaitable[None]] | None = None,
    on_stop: Callable[[], Awaitable[None]] | None = None,
    grace: float = 10.0,
) -> None:
    """Runs ``server`` until SIGTERM or SIGINT, then stops it gracefully."""
    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop_requested.set)
    await server.start()
    if on_start is not None:
        await on_start()
    await stop_requested.wait()
    log.info("shutting down", extra={"grace_seconds": grace})
    if on_stop is not None:
        await on_stop()
    await server.stop(grace)

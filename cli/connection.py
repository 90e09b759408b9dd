"""Connecting to ferry-server: TLS with the system's roots (or, with --insecure, trusting the
certificate the server presents, as ``argocd --insecure`` does), plaintext with --plaintext;
the session token travels as ``authorization: Bearer`` metadata."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from cli.config import Config, Context, default_path
from ferry.serving import CLIENT_MESSAGE_OPTIONS
from ferry.v1 import (
    account_pb2_grpc,
    application_pb2_grpc,
    cluster_pb2_grpc,
    project_pb2_grpc,
    repository_pb2_grpc,
    session_pb2_grpc,
    version_pb2_grpc,
)


class CliError(Exception):
    """A problem to report in one line (exit code 20 unless ``code`` says otherwise)."""

    def __init__(self, message: str, code: int = 20) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass
class Settings:
    """Where and how to connect, from flags, environment and the config file."""

    server: str
    token: str
    insecure: bool
    plaintext: bool
    config: Config


def _address(server: str) -> str:
    server = server.removeprefix("https://").removeprefix("http://").rstrip("/")
    return server if ":" in server else f"{server}:443"


def _server_certificate(address: str) -> bytes:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=10) as raw:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            with context.wrap_socket(raw, server_hostname=host) as tls:
                der = tls.getpeercert(binary_form=True)
    except OSError as err:
        raise CliError(f"cannot reach {address}: {err.strerror or err}") from None
    if der is None:
        raise CliError(f"{address} presented no certificate")
    return ssl.DER_cert_to_PEM_cert(der).encode()


def channel(settings: Settings) -> grpc.Channel:
    if not settings.server:
        raise CliError("no server: run 'ferry login SERVER', or set --server / FERRY_SERVER")
    address = _address(settings.server)
    options: list[tuple[str, Any]] = list(CLIENT_MESSAGE_OPTIONS)
    if settings.plaintext:
        return grpc.insecure_channel(address, options=options)
    if settings.insecure:
        root = _server_certificate(address)
        options.append(("grpc.ssl_target_name_override", "localhost"))
        return grpc.secure_channel(
            address, grpc.ssl_channel_credentials(root_certificates=root), options=options
        )
    return grpc.secure_channel(address, grpc.ssl_channel_credentials(), options=options)


class Client:
    """Typed stubs of every service over one channel, with the session token attached."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.channel = channel(settings)
        self.apps = application_pb2_grpc.ApplicationServiceStub(self.channel)
        self.sessions = session_pb2_grpc.SessionServiceStub(self.channel)
        self.repos = repository_pb2_grpc.RepositoryServiceStub(self.channel)
        self.clusters = cluster_pb2_grpc.ClusterServiceStub(self.channel)
        self.projects = project_pb2_grpc.ProjectServiceStub(self.channel)
        self.accounts = account_pb2_grpc.AccountServiceStub(self.channel)
        self.version = version_pb2_grpc.VersionServiceStub(self.channel)
        self.server_settings = version_pb2_grpc.SettingsServiceStub(self.channel)

    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.settings.token}"),) if self.settings.token else ()

    def call(self, stub: Any, method: str, request: Any, *, timeout: float = 120) -> Any:
        try:
            return getattr(stub, method)(request, metadata=self.metadata(), timeout=timeout)
        except grpc.RpcError as err:
            raise rpc_error(err, self.settings) from None

    def call_with_trailers(self, stub: Any, method: str, request: Any) -> tuple[Any, list[tuple[str, str]]]:
        try:
            reply, call = getattr(stub, method).with_call(request, metadata=self.metadata(), timeout=120)
        except grpc.RpcError as err:
            raise rpc_error(err, self.settings) from None
        return reply, list(call.trailing_metadata() or ())

    def stream(self, stub: Any, method: str, request: Any, *, timeout: float | None = None) -> Any:
        try:
            yield from getattr(stub, method)(request, metadata=self.metadata(), timeout=timeout)
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                return
            raise rpc_error(err, self.settings) from None


def rpc_error(err: grpc.RpcError, settings: Settings) -> CliError:
    code = err.code()
    details = err.details() or code.name
    if code == grpc.StatusCode.UNAVAILABLE:
        lower = details.lower()
        if "certificate" in lower or "ssl" in lower or "handshake" in lower:
            return CliError(
                f"TLS verification of {settings.server} failed: "
                "retry with --insecure to trust its certificate"
            )
        if "connect" in lower or "dns" in lower:
            return CliError(f"cannot reach {settings.server}: is ferry-server running there?")
    if code == grpc.StatusCode.UNAUTHENTICATED:
        if "expired" in details:
            return CliError(f"your session expired: run 'ferry login {settings.server}'")
        if "missing credentials" in details:
            return CliError(f"not logged in: run 'ferry login {settings.server}'")
    return CliError(details)


def resolve(config_path: str, server: str, token: str, insecure: bool, plaintext: bool) -> Settings:
    config = Config.load(default_path_or(config_path))
    active: Context | None = config.active()
    if active is not None and (not server or server == active.server):
        return Settings(
            server=server or active.server,
            token=token or active.token,
            insecure=insecure or active.insecure,
            plaintext=plaintext or active.plaintext,
            config=config,
        )
    return Settings(server=server, token=token, insecure=insecure, plaintext=plaintext, config=config)


def default_path_or(path: str) -> Path:
    return Path(path) if path else default_path()

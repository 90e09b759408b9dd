"""Entry point of ``ferry-server``."""

from __future__ import annotations

import asyncio
import base64
import importlib
import ipaddress
import logging
import ssl
import tempfile
from pathlib import Path
from typing import Any

import click
import grpc
from aiohttp import web

from ferry import __version__, pki, servicetoken
from ferry.cache import make_cache
from ferry.cmdline import CONTEXT_SETTINGS, listen_options, logging_options, version_option
from ferry.interceptors import bearer_token, standard_interceptors
from ferry.kube.client import KubeClient
from ferry.kube.config import ClusterConfig, ConfigError
from ferry.kube.errors import Conflict, NotFoundError
from ferry.mesh import redis_config, redis_options, repo_server_client_options, repo_server_target
from ferry.serving import (
    CLIENT_MESSAGE_OPTIONS,
    GrpcServer,
    ServiceRegistration,
    TlsConfig,
    serve_until_signalled,
    start_metrics_server,
)
from ferry.settings import CONTROL_NAMESPACE
from ferry.v1 import (
    account_pb2,
    application_pb2,
    application_pb2_grpc,
    cluster_pb2,
    project_pb2,
    repository_pb2,
    session_pb2,
    session_pb2_grpc,
    version_pb2,
)
from server.applications import ApplicationService
from server.http import HttpApi
from server.management import (
    AccountService,
    ClusterService,
    ProjectService,
    RepositoryService,
    SettingsService,
    VersionService,
)
from server.session_service import SessionService
from server.sessions import AuthOptions, Caller, ThrottleLimits
from server.state import USER_AGENT, ServerState

PROG = "ferry-server"
TLS_SECRET = "ferry-server-tls"  # noqa: S105 (a Secret's name)
log = logging.getLogger(__name__)

# RPCs anyone may call: logging in (and, with the management services, version and settings).
PUBLIC = ("ferry.v1.SessionService/Create", "ferry.v1.VersionService", "ferry.v1.SettingsService/Get")


async def tls_from_secret(
    kube: KubeClient, namespace: str, hosts: list[str], *, retry: bool = True
) -> TlsConfig:
    """The serving certificate from ``ferry-server-tls``; self-signed and stored on first start."""
    info = await kube.resource("v1", "Secret")
    try:
        secret = await kube.get(info, TLS_SECRET, namespace)
        data = secret.get("data") or {}
        return TlsConfig(base64.b64decode(data["tls.crt"]), base64.b64decode(data["tls.key"]))
    except NotFoundError:
        pass
    except (KeyError, ValueError) as err:
        log.warning(
            "unusable TLS secret; making a new certificate", extra={"secret": TLS_SECRET, "error": str(err)}
        )
    pair = pki.issue_cert(None, "ferry-server", hosts=hosts)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": TLS_SECRET, "namespace": namespace},
        "type": "kubernetes.io/tls",
        "data": {
            "tls.crt": base64.b64encode(pair.cert_pem).decode(),
            "tls.key": base64.b64encode(pair.key_pem).decode(),
        },
    }
    try:
        await kube.create(secret)
    except Conflict:
        if not retry:
            raise click.ClickException(
                f"the Secret {TLS_SECRET} exists but has no usable tls.crt/tls.key; fix or delete it"
            ) from None
        return await tls_from_secret(kube, namespace, hosts, retry=False)  # another replica stored one first
    log.info("created a self-signed TLS certificate", extra={"secret": TLS_SECRET})
    return TlsConfig(pair.cert_pem, pair.key_pem)


def management_services(state: ServerState) -> list[ServiceRegistration]:
    def registration(module: Any, service: str, servicer: Any) -> ServiceRegistration:
        grpc_module = importlib.import_module(module.__name__ + "_grpc")
        return ServiceRegistration(
            module.DESCRIPTOR.services_by_name[service].full_name,
            servicer,
            getattr(grpc_module, f"add_{service}Servicer_to_server"),
        )

    return [
        registration(repository_pb2, "RepositoryService", RepositoryService(state)),
        registration(cluster_pb2, "ClusterService", ClusterService(state)),
        registration(project_pb2, "ProjectService", ProjectService(state)),
        registration(account_pb2, "AccountService", AccountService(state)),
        registration(version_pb2, "VersionService", VersionService()),
        registration(version_pb2, "SettingsService", SettingsService(state)),
    ]


async def _serve(
    address: str, port: int, http_port: int, insecure: bool, state: ServerState, hosts: list[str]
) -> None:
    await state.start()

    async def authenticate(metadata: dict[str, str], method: str) -> Caller:
        return await state.authenticate(bearer_token(metadata))

    tls = None if insecure else await tls_from_secret(state.kube, state.namespace, hosts)
    server = GrpcServer(
        address=address,
        port=port,
        services=[
            ServiceRegistration(
                application_pb2.DESCRIPTOR.services_by_name["ApplicationService"].full_name,
                ApplicationService(state),
                application_pb2_grpc.add_ApplicationServiceServicer_to_server,
            ),
            ServiceRegistration(
                session_pb2.DESCRIPTOR.services_by_name["SessionService"].full_name,
                SessionService(state),
                session_pb2_grpc.add_SessionServiceServicer_to_server,
            ),
            *management_services(state),
        ],
        interceptors=standard_interceptors(
            authenticate, exempt=PUBLIC, recheck_interval=state.auth.stream_recheck_seconds
        ),
        tls=tls,
    )
    runner: web.AppRunner | None = None
    channel: grpc.aio.Channel | None = None

    async def start_http() -> None:
        nonlocal runner, channel
        # the gateway calls the gRPC port it sits next to; a wildcard listen address means loopback
        host = "127.0.0.1" if address in ("", "0.0.0.0") else "[::1]" if address == "::" else address  # noqa: S104 (comparing, not binding)
        target = (
            f"[{host}]:{server.bound_port}"
            if ":" in host and not host.startswith("[")
            else f"{host}:{server.bound_port}"
        )
        if tls is None:
            channel = grpc.aio.insecure_channel(target, options=CLIENT_MESSAGE_OPTIONS)
        else:
            credentials = grpc.ssl_channel_credentials(root_certificates=tls.cert_chain_pem)
            channel = grpc.aio.secure_channel(
                target,
                credentials,
                options=[*CLIENT_MESSAGE_OPTIONS, ("grpc.ssl_target_name_override", "localhost")],
            )
        runner = web.AppRunner(HttpApi(state, channel, secure_cookies=tls is not None).app(), access_log=None)
        await runner.setup()
        ssl_context = None
        if tls is not None:
            ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            with tempfile.TemporaryDirectory() as tmp:
                cert, key = Path(tmp) / "tls.crt", Path(tmp) / "tls.key"
                cert.write_bytes(tls.cert_chain_pem)
                key.write_bytes(tls.private_key_pem)
                ssl_context.load_cert_chain(cert, key)
        await web.TCPSite(runner, address, http_port, ssl_context=ssl_context).start()
        log.info("HTTP listening", extra={"address": f"{address}:{http_port}", "tls": tls is not None})

    async def stop_http() -> None:
        if runner is not None:
            await runner.cleanup()
        if channel is not None:
            await channel.close()

    try:
        await serve_until_signalled(server, on_start=start_http, on_stop=stop_http)
    finally:
        await state.stop()
        await state.kube.close()


@click.command(context_settings=CONTEXT_SETTINGS)
@version_option(PROG)
@logging_options
@listen_options(port=8080, metrics_port=8083)
@click.option(
    "--insecure", is_flag=True, show_envvar=True, help="Serve gRPC and HTTP without TLS (local use only)."
)
@click.option(
    "--http-port",
    type=click.IntRange(0, 65535),
    default=8090,
    show_envvar=True,
    help="Port of the REST/JSON API, webhooks and web UI.",
)
@click.option("--namespace", default=CONTROL_NAMESPACE, show_envvar=True, help="Control namespace.")
@click.option(
    "--kubeconfig",
    default="",
    show_envvar=True,
    help="Kubeconfig of the management cluster (in-cluster when empty).",
)
@click.option("--context", "kube_context", default="", show_envvar=True, help="Context in --kubeconfig.")
@repo_server_client_options
@click.option(
    "--service-key-file", default="", show_envvar=True, help="Service key file; FERRY_SERVICE_KEY otherwise."
)
@click.option(
    "--redis",
    "redis_url",
    default="",
    show_envvar=True,
    help="Redis URL of the shared cache (resource trees).",
)
@redis_options
@click.option(
    "--tls-host",
    "tls_hosts",
    multiple=True,
    default=["localhost", "127.0.0.1"],
    show_envvar=True,
    help="Names in the self-signed certificate (repeatable).",
)
@click.option(
    "--dex-server",
    default="",
    show_envvar=True,
    help="URL of the bundled Dex (dex.config), proxied at /api/dex, e.g. https://ferry-dex-server:5556.",
)
@click.option(
    "--dex-server-ca",
    default="",
    show_envvar=True,
    help="CA certificate file (PEM) that Dex's certificate is checked against (system roots otherwise).",
)
@click.option(
    "--login-max-fail-count",
    type=click.IntRange(1),
    default=5,
    show_envvar=True,
    help="Failed logins for one user name within --login-failure-window before further attempts are refused.",
)
@click.option(
    "--login-max-fail-count-per-address",
    type=click.IntRange(0),
    default=20,
    show_envvar=True,
    help="Different user names failing from one source address within the window; 0: no limit.",
)
@click.option(
    "--login-failure-window",
    type=click.FloatRange(1),
    default=300.0,
    show_envvar=True,
    help="Seconds a failed login counts.",
)
@click.option(
    "--login-max-tracked",
    type=click.IntRange(1),
    default=10_000,
    show_envvar=True,
    help="User names (and as many addresses) whose failures are remembered.",
)
@click.option(
    "--login-workers",
    type=click.IntRange(1),
    default=2,
    show_envvar=True,
    help="Threads checking passwords (bcrypt), away from the event loop.",
)
@click.option(
    "--max-concurrent-logins",
    type=click.IntRange(1),
    default=50,
    show_envvar=True,
    help="Logins checking a password or waiting to at once; more are refused (RESOURCE_EXHAUSTED).",
)
@click.option(
    "--max-revoked-tokens",
    type=click.IntRange(1),
    default=10_000,
    show_envvar=True,
    help="Revoked unexpired tokens kept (a small Secret each); beyond, a logout ends the account's sessions.",
)
@click.option(
    "--trusted-proxy",
    "trusted_proxies",
    multiple=True,
    show_envvar=True,
    help="Network (CIDR) of a reverse proxy whose X-Forwarded-For names the client (repeatable).",
)
@click.option(
    "--stream-recheck-interval",
    type=click.FloatRange(0.1),
    default=60.0,
    show_envvar=True,
    help="Seconds between checks of a streaming call's token and permissions (Watch, PodLogs).",
)
def command(
    address: str,
    port: int,
    metrics_port: int,
    insecure: bool,
    http_port: int,
    namespace: str,
    kubeconfig: str,
    kube_context: str,
    repo_server: str,
    repo_server_ca_file: str,
    repo_server_plaintext: bool,
    service_key_file: str,
    redis_url: str,
    redis_password_file: str,
    redis_ca_file: str,
    tls_hosts: tuple[str, ...],
    dex_server: str,
    dex_server_ca: str,
    login_max_fail_count: int,
    login_max_fail_count_per_address: int,
    login_failure_window: float,
    login_max_tracked: int,
    login_workers: int,
    max_concurrent_logins: int,
    max_revoked_tokens: int,
    trusted_proxies: tuple[str, ...],
    stream_recheck_interval: float,
    **_logging: str,
) -> None:
    """Serve the ferry API: applications, sessions and management services."""
    key = servicetoken.load_key(key_file=service_key_file or None)
    if not key:
        raise click.UsageError(
            "no service key for the repo server: set --service-key-file or FERRY_SERVICE_KEY"
        )
    target = repo_server_target(repo_server, repo_server_ca_file, repo_server_plaintext)
    redis = redis_config(redis_url, redis_password_file, redis_ca_file)
    try:
        cluster = (
            ClusterConfig.from_kubeconfig(kubeconfig, kube_context or None)
            if kubeconfig
            else ClusterConfig.in_cluster()
        )
    except (ConfigError, OSError) as err:
        raise click.UsageError(str(err)) from None
    try:
        dex_ca = Path(dex_server_ca).read_text() if dex_server_ca else ""
    except OSError as err:
        raise click.UsageError(f"--dex-server-ca: {err}") from None
    try:
        proxies = tuple(ipaddress.ip_network(p, strict=False) for p in trusted_proxies)
    except ValueError as err:
        raise click.UsageError(f"--trusted-proxy: {err}") from None
    auth = AuthOptions(
        throttle=ThrottleLimits(
            max_failures=login_max_fail_count,
            max_failures_per_address=login_max_fail_count_per_address,
            window=login_failure_window,
            max_tracked=login_max_tracked,
        ),
        login_workers=login_workers,
        max_concurrent_logins=max_concurrent_logins,
        max_revoked_tokens=max_revoked_tokens,
        trusted_proxies=proxies,
        stream_recheck_seconds=stream_recheck_interval,
    )
    start_metrics_server(address, metrics_port)

    async def main() -> None:
        kube = KubeClient(cluster, user_agent=f"{USER_AGENT}/{__version__}")
        cache = make_cache(redis, initiator="server") if redis is not None else None
        state = ServerState(
            kube,
            namespace,
            repo_server=target,
            service_key=key,
            shared_cache=cache,
            dex_server=dex_server,
            dex_ca=dex_ca,
            auth=auth,
        )
        await _serve(address, port, http_port, insecure, state, list(tls_hosts))

    asyncio.run(main())


def main() -> None:
    command.main(prog_name=PROG, auto_envvar_prefix="FERRY_SERVER")

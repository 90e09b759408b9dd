"""Entry point of ``ferry-reposerver``."""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ferry import cmp, servicetoken, subproc
from ferry.cache import make_cache
from ferry.cmdline import (
    CONTEXT_SETTINGS,
    listen_options,
    logging_options,
    tool_limit_options,
    tool_limits,
    version_option,
)
from ferry.interceptors import bearer_token, standard_interceptors
from ferry.mesh import redis_config, redis_options, serving_tls, serving_tls_options
from ferry.serving import GrpcServer, ServiceRegistration, serve_until_signalled, start_metrics_server
from ferry.v1 import repo_pb2, repo_pb2_grpc
from reposerver.generator import Generator, GeneratorConfig
from reposerver.limits import DEFAULT_LIMITS, Limits
from reposerver.render import Tools
from reposerver.service import RepoService

PROG = "ferry-reposerver"
log = logging.getLogger(__name__)

# --- limits: what one request or commit may cost (docs/security/limits.md) ------------------------
_LIMIT_FLAGS: list[tuple[str, click.ParamType[Any], str]] = [
    ("max-repo-files", click.IntRange(1), "Files and directories one request may walk or materialize."),
    ("max-repo-size", click.IntRange(1), "Bytes of file content one request may read or materialize."),
    ("max-file-size", click.IntRange(1), "Bytes of any single file a request reads or materializes."),
    ("max-combined-manifests-size", click.IntRange(1), "Bytes of manifest files one directory app may have."),
    (
        "max-manifest-output-size",
        click.IntRange(1),
        "Bytes of rendered manifests (JSON) one render may produce.",
    ),
    (
        "max-yaml-alias-expansion",
        click.IntRange(0),
        "Nodes YAML aliases may add when expanded, per document.",
    ),
    ("max-manifest-depth", click.IntRange(1), "Nesting depth of any YAML/JSON document and rendered object."),
    ("jsonnet-timeout", click.FloatRange(0.1), "Seconds the Jsonnet evaluation of one render may take."),
    (
        "jsonnet-max-memory",
        click.IntRange(64 * 1024 * 1024),
        "Bytes of memory (data segment, RLIMIT_DATA) the Jsonnet worker may use.",
    ),
    (
        "parallelism-limit-per-repo",
        click.IntRange(0),
        "Renders of one repository at once (0: half of --parallelism-limit, at least 1).",
    ),
    ("helm-max-index-bytes", click.IntRange(1), "Bytes a Helm repository's index.yaml may have."),
    ("helm-max-chart-bytes", click.IntRange(1), "Bytes a Helm chart archive may have."),
]


def limit_options(command: Callable[..., None]) -> Callable[..., None]:
    """One flag per Limits field, its default that of Limits."""
    for flag, kind, text in reversed(_LIMIT_FLAGS):
        default = getattr(DEFAULT_LIMITS, flag.replace("-", "_"))
        command = click.option(
            f"--{flag}", type=kind, default=default, show_default=True, show_envvar=True, help=text
        )(command)
    return command


def limits_from(options: dict[str, Any]) -> Limits:
    return Limits(
        **{flag.replace("-", "_"): options.pop(flag.replace("-", "_")) for flag, _, _ in _LIMIT_FLAGS}
    )


@click.command(context_settings=CONTEXT_SETTINGS)
@version_option(PROG)
@logging_options
@listen_options(port=8081, metrics_port=8084)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(tempfile.gettempdir()) / "ferry-reposerver",
    show_envvar=True,
    help="Git mirrors and Helm chart archives.",
)
@click.option(
    "--redis",
    "redis_url",
    default="",
    show_envvar=True,
    help="Redis URL of the shared cache (in-process when empty).",
)
@click.option(
    "--parallelism-limit", type=click.IntRange(1), default=4, show_envvar=True, help="Renders run at once."
)
@click.option(
    "--revision-cache-expiration",
    type=click.FloatRange(0),
    default=60.0,
    show_envvar=True,
    help="Seconds a remote's references stay cached.",
)
@click.option(
    "--exec-timeout",
    type=click.FloatRange(1),
    default=90.0,
    show_envvar=True,
    help="Seconds helm and kustomize may run.",
)
@click.option(
    "--allow-local-repos",
    is_flag=True,
    show_envvar=True,
    help="Allow file:// repository URLs (development and tests only: they read the repo server's "
    "disk, other tenants' mirrors included). Local paths are refused even with it.",
)
@click.option(
    "--mirror-max-idle",
    type=click.FloatRange(0),
    default=7 * 24 * 3600.0,
    show_envvar=True,
    help="Seconds a Git mirror may go unused before it is removed (looked for hourly); 0 keeps them.",
)
@click.option(
    "--kustomize-remote-bases",
    type=click.Choice(["deny", "project"]),
    default="deny",
    show_envvar=True,
    help="Remote bases in kustomizations (resources: URLs): deny refuses them; project lets "
    "kustomize fetch, anonymously in its sandbox, those the app's project's sourceRepos permit.",
)
@click.option(
    "--plugin-socket-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(cmp.DEFAULT_SOCKET_DIR),
    show_envvar=True,
    help="Sockets of the config management plugins (ferry-cmp-server), one <name>[-<version>].sock each.",
)
@click.option(
    "--plugin-timeout",
    type=click.FloatRange(1),
    default=190.0,
    show_envvar=True,
    help="Seconds one call to a config management plugin (init and generate) may take.",
)
# tool sandbox limits (docs/security/reposerver.md)
@tool_limit_options("one helm, kustomize or git process")
@click.option("--helm-path", default="", show_envvar=True, help="helm binary (found on PATH when empty).")
@click.option(
    "--kustomize-path", default="", show_envvar=True, help="kustomize binary (found on PATH when empty)."
)
@click.option(
    "--service-key-file",
    default="",
    show_envvar=True,
    help="File with the service key (ferry-secret service.key); FERRY_SERVICE_KEY otherwise.",
)
@click.option(
    "--disable-auth",
    is_flag=True,
    show_envvar=True,
    help="Accept calls without a service token (tests only).",
)
@serving_tls_options
@redis_options
@limit_options
def command(
    address: str,
    port: int,
    metrics_port: int,
    cache_dir: Path,
    redis_url: str,
    parallelism_limit: int,
    revision_cache_expiration: float,
    exec_timeout: float,
    allow_local_repos: bool,
    kustomize_remote_bases: str,
    mirror_max_idle: float,
    plugin_socket_dir: Path,
    plugin_timeout: float,
    helm_path: str,
    kustomize_path: str,
    service_key_file: str,
    disable_auth: bool,
    tls_cert_file: str,
    tls_key_file: str,
    disable_tls: bool,
    redis_password_file: str,
    redis_ca_file: str,
    **options: Any,
) -> None:
    """Serve ferry.v1.RepoService: render manifests from Git and Helm repositories."""
    tool = tool_limits(options)
    limits = limits_from(options)  # the rest are the logging options
    key = servicetoken.load_key(key_file=service_key_file or None)
    if not key and not disable_auth:
        raise click.UsageError(
            "no service key: set --service-key-file or FERRY_SERVICE_KEY (or --disable-auth)"
        )
    tls = serving_tls(tls_cert_file, tls_key_file, disable_tls)
    if tls is None:
        log.warning("serving gRPC without TLS (--disable-tls): repository credentials travel in clear")
    redis = redis_config(redis_url, redis_password_file, redis_ca_file)
    subproc.configure(limits=tool)
    tools = Tools(
        helm=helm_path or shutil.which("helm") or "helm",
        kustomize=kustomize_path or shutil.which("kustomize") or "kustomize",
        timeout=exec_timeout,
    )
    config = GeneratorConfig(
        cache_dir=cache_dir,
        parallelism=parallelism_limit,
        ref_cache_seconds=revision_cache_expiration,
        limits=limits,
        tools=tools,
        allow_local_repos=allow_local_repos,
        kustomize_remote_bases=kustomize_remote_bases,
        mirror_max_idle_seconds=mirror_max_idle,
        plugin_socket_dir=plugin_socket_dir,
        plugin_timeout=plugin_timeout,
    )
    if allow_local_repos:
        log.warning("--allow-local-repos: file:// repository URLs are allowed (development only)")

    def authenticate(metadata: dict[str, str], method: str) -> str:
        return servicetoken.verify(key, bearer_token(metadata))

    async def serve() -> None:
        cache = make_cache(redis, initiator="reposerver")
        generator = Generator(config, cache)
        collector = asyncio.create_task(generator.collect_mirrors(), name="mirror-collector")
        server = GrpcServer(
            address=address,
            port=port,
            services=[
                ServiceRegistration(
                    repo_pb2.DESCRIPTOR.services_by_name["RepoService"].full_name,
                    RepoService(generator),
                    repo_pb2_grpc.add_RepoServiceServicer_to_server,
                )
            ],
            interceptors=standard_interceptors(None if disable_auth else authenticate),
            tls=tls,
        )

        async def stop() -> None:
            collector.cancel()
            await cache.close()

        await serve_until_signalled(server, on_stop=stop)

    cache_dir.mkdir(parents=True, exist_ok=True)
    start_metrics_server(address, metrics_port)
    asyncio.run(serve())


def main() -> None:
    command.main(prog_name=PROG, auto_envvar_prefix="FERRY_REPOSERVER")

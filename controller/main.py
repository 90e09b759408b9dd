"""Entry point of ``ferry-controller``."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket

import click

from controller import metrics
from controller.appcontroller import AppController
from controller.config import ControllerConfig, StartupError
from ferry import servicetoken
from ferry.cmdline import CONTEXT_SETTINGS, listen_options, logging_options, version_option
from ferry.kube.client import KubeClient
from ferry.kube.config import ClusterConfig, ConfigError
from ferry.kube.errors import KubeError
from ferry.mesh import redis_config, redis_options, repo_server_client_options, repo_server_target
from ferry.serving import start_metrics_server
from ferry.settings import CONTROL_NAMESPACE

PROG = "ferry-controller"
log = logging.getLogger(__name__)


async def _run(config: ControllerConfig, cluster: ClusterConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    client = KubeClient(
        cluster,
        user_agent=config.user_agent,
        qps=config.kube_qps,
        burst=config.kube_burst,
        observer=metrics.observer("https://kubernetes.default.svc"),
    )
    controller = AppController(config, client)
    try:
        try:
            await controller.start()
        except StartupError as err:
            raise click.ClickException(str(err)) from None
        except KubeError as err:
            raise click.ClickException(
                f"cannot reach the management cluster {cluster.server}: {err.message}"
            ) from None
        await stop.wait()
        log.info("shutting down")
    finally:
        await controller.stop()
        await client.close()


@click.command(context_settings=CONTEXT_SETTINGS)
@version_option(PROG)
@logging_options
@listen_options(port=0, metrics_port=8082)
@click.option(
    "--namespace",
    default=CONTROL_NAMESPACE,
    show_envvar=True,
    help="Control namespace (Applications, settings).",
)
@click.option(
    "--kubeconfig",
    default="",
    show_envvar=True,
    help="Kubeconfig of the management cluster (in-cluster when empty).",
)
@click.option("--context", "kube_context", default="", show_envvar=True, help="Context in --kubeconfig.")
@repo_server_client_options
@click.option("--repo-server-timeout-seconds", type=click.FloatRange(1), default=120.0, show_envvar=True)
@click.option(
    "--service-key-file", default="", show_envvar=True, help="Service key file; FERRY_SERVICE_KEY otherwise."
)
@click.option(
    "--status-processors",
    type=click.IntRange(1),
    default=20,
    show_envvar=True,
    help="Workers comparing apps.",
)
@click.option(
    "--operation-processors",
    type=click.IntRange(1),
    default=10,
    show_envvar=True,
    help="Workers running syncs.",
)
@click.option(
    "--kube-qps",
    type=click.FloatRange(0),
    default=50.0,
    show_envvar=True,
    help="Requests per second to each cluster (client-go's default is 5).",
)
@click.option(
    "--kube-burst", type=click.IntRange(1), default=100, show_envvar=True, help="Burst above --kube-qps."
)
@click.option(
    "--app-resync",
    type=click.FloatRange(0),
    default=None,
    show_envvar=True,
    help="Seconds between periodic refreshes (ferry-cm timeout.reconciliation when unset).",
)
@click.option(
    "--app-resync-jitter",
    type=click.FloatRange(0),
    default=None,
    show_envvar=True,
    help="Random seconds added to --app-resync (ferry-cm timeout.reconciliation.jitter when unset).",
)
@click.option(
    "--self-heal-backoff-timeout-seconds",
    type=click.FloatRange(0),
    default=2.0,
    show_envvar=True,
    help="Wait before the second self-heal attempt (grows by --self-heal-backoff-factor).",
)
@click.option("--self-heal-backoff-factor", type=click.FloatRange(1), default=3.0, show_envvar=True)
@click.option("--self-heal-backoff-cap-seconds", type=click.FloatRange(0), default=300.0, show_envvar=True)
@click.option(
    "--sync-timeout",
    type=click.FloatRange(0),
    default=None,
    show_envvar=True,
    help="Seconds after which a running sync is terminated (and retried per its retry policy); "
    "0: never (ferry-cm controller.sync.timeout.seconds when unset, default 0).",
)
@click.option(
    "--redis",
    "redis_url",
    default="",
    show_envvar=True,
    help="Redis URL of the shared cache: resource trees are published there for the API server.",
)
@redis_options
@click.option(
    "--install-crds",
    is_flag=True,
    show_envvar=True,
    help="Install the CRDs and a default AppProject (development).",
)
@click.option(
    "--server-side-diff/--no-server-side-diff",
    default=True,
    show_envvar=True,
    help="Use the API server's dry run (cached) as the diff's prediction.",
)
@click.option(
    "--shards",
    type=click.IntRange(1),
    default=1,
    show_envvar=True,
    help="Split destination clusters into this many shards, each held by one controller through a "
    "Lease; 1 reconciles everything here and uses no Lease.",
)
@click.option(
    "--shard-id",
    default="",
    show_envvar=True,
    help="This controller's identity in the shard Leases (unique per process; default hostname-pid).",
)
@click.option(
    "--lease-duration",
    type=click.IntRange(2),
    default=15,
    show_envvar=True,
    help="Seconds a shard stays with a controller that stopped renewing its Lease.",
)
@click.option(
    "--lease-renew-period",
    type=click.FloatRange(0.1),
    default=2.0,
    show_envvar=True,
    help="Seconds between reads and renewals of the shard Leases (at most a third of --lease-duration).",
)
def command(
    address: str,
    metrics_port: int,
    namespace: str,
    kubeconfig: str,
    kube_context: str,
    repo_server: str,
    repo_server_ca_file: str,
    repo_server_plaintext: bool,
    repo_server_timeout_seconds: float,
    service_key_file: str,
    status_processors: int,
    operation_processors: int,
    kube_qps: float,
    kube_burst: int,
    app_resync: float | None,
    app_resync_jitter: float | None,
    self_heal_backoff_timeout_seconds: float,
    self_heal_backoff_factor: float,
    self_heal_backoff_cap_seconds: float,
    sync_timeout: float | None,
    redis_url: str,
    redis_password_file: str,
    redis_ca_file: str,
    install_crds: bool,
    server_side_diff: bool,
    shards: int,
    shard_id: str,
    lease_duration: int,
    lease_renew_period: float,
    **_logging: str,
) -> None:
    """Reconcile Applications: compare clusters with Git and converge them."""
    if lease_renew_period * 3 > lease_duration:
        raise click.UsageError("--lease-renew-period must be at most a third of --lease-duration")
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
    config = ControllerConfig(
        namespace=namespace,
        repo_server=target,
        service_key=key,
        status_processors=status_processors,
        operation_processors=operation_processors,
        kube_qps=kube_qps,
        kube_burst=kube_burst,
        repo_timeout=repo_server_timeout_seconds,
        resync_seconds=app_resync,
        jitter_seconds=app_resync_jitter,
        install_crds=install_crds,
        redis=redis,
        server_side_diff=server_side_diff,
        self_heal_backoff_seconds=self_heal_backoff_timeout_seconds,
        self_heal_backoff_factor=self_heal_backoff_factor,
        self_heal_backoff_cap_seconds=self_heal_backoff_cap_seconds,
        sync_timeout_seconds=sync_timeout,
        shards=shards,
        shard_id=shard_id or f"{socket.gethostname()}-{os.getpid()}",
        lease_duration=lease_duration,
        lease_renew_period=lease_renew_period,
    )
    start_metrics_server(address, metrics_port)
    asyncio.run(_run(config, cluster))


def main() -> None:
    command.main(prog_name=PROG, auto_envvar_prefix="FERRY_CONTROLLER")

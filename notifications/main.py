"""Entry point of ``ferry-notifications-controller``."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket

import click

from ferry.cmdline import CONTEXT_SETTINGS, listen_options, logging_options, version_option
from ferry.kube.client import KubeClient
from ferry.kube.config import ClusterConfig, ConfigError
from ferry.kube.errors import KubeError
from ferry.serving import GrpcServer, start_metrics_server
from ferry.settings import CONTROL_NAMESPACE
from notifications.controller import NotificationsController, Options, StartupError

PROG = "ferry-notifications-controller"
log = logging.getLogger(__name__)


async def _run(options: Options, cluster: ClusterConfig, address: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    client = KubeClient(cluster, user_agent=f"{PROG} ({options.identity})")
    controller = NotificationsController(client, options)
    health = GrpcServer(address=address, port=port, services=[])
    try:
        try:
            await controller.start()
        except StartupError as err:
            raise click.ClickException(str(err)) from None
        except KubeError as err:
            raise click.ClickException(
                f"cannot reach the management cluster {cluster.server}: {err.message}"
            ) from None
        if port:
            await health.start()
        log.info(
            "notifications controller started",
            extra={"namespace": options.namespace, "identity": options.identity},
        )
        await stop.wait()
        log.info("shutting down")
    finally:
        await health.stop(grace=1)
        await controller.stop()
        await client.close()


@click.command(context_settings=CONTEXT_SETTINGS)
@version_option(PROG)
@logging_options
@listen_options(port=9002, metrics_port=9001)
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
@click.option(
    "--leader-election/--no-leader-election",
    default=True,
    show_envvar=True,
    help="Send only while holding the Lease ferry-notifications-controller (so replicas never double-send).",
)
@click.option(
    "--identity",
    default="",
    show_envvar=True,
    help="This process's identity in the Lease (default hostname-pid).",
)
@click.option(
    "--lease-duration",
    type=click.IntRange(2),
    default=15,
    show_envvar=True,
    help="Seconds a stopped leader keeps the Lease.",
)
@click.option(
    "--lease-renew-period",
    type=click.FloatRange(0.1),
    default=2.0,
    show_envvar=True,
    help="Seconds between Lease renewals (at most a third of --lease-duration).",
)
@click.option(
    "--resync-seconds",
    type=click.FloatRange(0.1),
    default=60.0,
    show_envvar=True,
    help="Seconds between evaluations of every app (time-based conditions), besides every change.",
)
@click.option(
    "--retry-initial-seconds",
    type=click.FloatRange(0.01),
    default=2.0,
    show_envvar=True,
    help="Wait before retrying a failed delivery (doubles each time).",
)
@click.option(
    "--retry-max-seconds",
    type=click.FloatRange(0.01),
    default=300.0,
    show_envvar=True,
    help="Longest wait between retries.",
)
@click.option(
    "--workers", type=click.IntRange(1), default=4, show_envvar=True, help="Applications processed at once."
)
def command(
    address: str,
    port: int,
    metrics_port: int,
    namespace: str,
    kubeconfig: str,
    kube_context: str,
    leader_election: bool,
    identity: str,
    lease_duration: int,
    lease_renew_period: float,
    resync_seconds: float,
    retry_initial_seconds: float,
    retry_max_seconds: float,
    workers: int,
    **_logging: str,
) -> None:
    """Send notifications about Applications (Argo CD's triggers, templates and services)."""
    if lease_renew_period * 3 > lease_duration:
        raise click.UsageError("--lease-renew-period must be at most a third of --lease-duration")
    try:
        cluster = (
            ClusterConfig.from_kubeconfig(kubeconfig, kube_context or None)
            if kubeconfig
            else ClusterConfig.in_cluster()
        )
    except (ConfigError, OSError) as err:
        raise click.UsageError(str(err)) from None
    options = Options(
        namespace=namespace,
        identity=identity or f"{socket.gethostname()}-{os.getpid()}",
        leader_election=leader_election,
        lease_duration=lease_duration,
        lease_renew_period=lease_renew_period,
        resync_seconds=resync_seconds,
        retry_initial_seconds=retry_initial_seconds,
        retry_max_seconds=retry_max_seconds,
        workers=workers,
    )
    start_metrics_server(address, metrics_port)
    asyncio.run(_run(options, cluster, address, port))


def main() -> None:
    command.main(prog_name=PROG, auto_envvar_prefix="FERRY_NOTIFICATIONS")

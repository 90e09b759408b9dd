"""``ferry cluster ...``: register clusters ferry deploys to, list, inspect and remove them.

``cluster add`` is the one command that talks to Kubernetes itself: from a kubeconfig context it
creates a ServiceAccount with a cluster-admin-like ClusterRole in the target cluster, asks the
TokenRequest API for a token, and registers the cluster with that token."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import click
from kubernetes import client as k8s
from kubernetes import config as kubeconfig
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from cli.base import client, confirmed, group, output_option, parse_duration, usage
from cli.connection import CliError
from cli.output import structured, table
from ferry.convert import to_k8s
from ferry.v1 import cluster_pb2

cluster = group("cluster", "Manage clusters ferry deploys to.")

SERVICE_ACCOUNT = "ferry-manager"
CLUSTER_ROLE = "ferry-manager-role"
CLUSTER_ROLE_BINDING = "ferry-manager-role-binding"


def _kube_client(kubeconfig_path: str, context: str) -> k8s.ApiClient:
    path = (
        kubeconfig_path
        or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
        or str(Path.home() / ".kube/config")
    )
    try:
        contexts, _ = kubeconfig.list_kube_config_contexts(config_file=path)  # type: ignore[no-untyped-call]
    except (ConfigException, OSError) as err:
        raise usage(f"kubeconfig {path}: {err}") from None
    names = [c["name"] for c in contexts or []]
    if context not in names:
        raise usage(f"kubeconfig {path} has no context {context!r} (contexts: {', '.join(names) or 'none'})")
    try:
        api: k8s.ApiClient = kubeconfig.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=path, context=context, persist_config=False
        )
        return api
    except ConfigException as err:
        raise usage(f"kubeconfig {path}: {err}") from None
    except OSError as err:
        raise usage(f"kubeconfig {path}: {err.strerror}") from None


def _create(kind: str, name: str, call: Any, *args: Any) -> None:
    try:
        call(*args)
        click.echo(f'{kind} "{name}" created', err=True)
    except ApiException as err:
        if err.status != 409:
            raise CliError(
                f"creating {kind} {name!r} in the target cluster failed: {err.status} {err.reason}"
            ) from None
        click.echo(f'{kind} "{name}" already exists', err=True)


def install_service_account(api: k8s.ApiClient, namespace: str, expires_in: int) -> str:
    """Create the ServiceAccount, ClusterRole and binding (idempotently) and return a token for it."""
    core, rbac = k8s.CoreV1Api(api), k8s.RbacAuthorizationV1Api(api)
    _create(
        "ServiceAccount",
        SERVICE_ACCOUNT,
        core.create_namespaced_service_account,
        namespace,
        {"metadata": {"name": SERVICE_ACCOUNT, "namespace": namespace}},
    )
    _create(
        "ClusterRole",
        CLUSTER_ROLE,
        rbac.create_cluster_role,
        {
            "metadata": {"name": CLUSTER_ROLE},
            "rules": [
                {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                {"nonResourceURLs": ["*"], "verbs": ["*"]},
            ],
        },
    )
    _create(
        "ClusterRoleBinding",
        CLUSTER_ROLE_BINDING,
        rbac.create_cluster_role_binding,
        {
            "metadata": {"name": CLUSTER_ROLE_BINDING},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": CLUSTER_ROLE},
            "subjects": [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": namespace}],
        },
    )
    request = k8s.AuthenticationV1TokenRequest(
        spec=k8s.V1TokenRequestSpec(audiences=[], expiration_seconds=expires_in or None)
    )
    try:
        reply = core.create_namespaced_service_account_token(SERVICE_ACCOUNT, namespace, request)
    except ApiException as err:
        raise CliError(
            f"TokenRequest for {namespace}/{SERVICE_ACCOUNT} failed: {err.status} {err.reason}"
        ) from None
    if reply.status is None or not reply.status.token:
        raise CliError(f"TokenRequest for {namespace}/{SERVICE_ACCOUNT} returned no token")
    click.echo(
        f"token for {namespace}/{SERVICE_ACCOUNT} expires {reply.status.expiration_timestamp}", err=True
    )
    return reply.status.token


@cluster.command()
@click.argument("context")
@click.option(
    "--kubeconfig", "kubeconfig_path", default="", help="Kubeconfig file ($KUBECONFIG or ~/.kube/config)."
)
@click.option("--name", default="", help="Name of the cluster in ferry (the context by default).")
@click.option(
    "--namespace", "namespaces", multiple=True, help="Only manage these namespaces (all by default)."
)
@click.option("--label", "labels", multiple=True, help="Label NAME=VALUE on the cluster.")
@click.option(
    "--system-namespace", default="kube-system", help="Namespace of the ferry-manager ServiceAccount."
)
@click.option("--token-expiry", default="8760h", help="Lifetime of the token (the cluster may cap it).")
@click.option("--upsert", is_flag=True, help="Replace the cluster if it is registered.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def add(
    ctx: click.Context,
    context: str,
    kubeconfig_path: str,
    name: str,
    namespaces: tuple[str, ...],
    labels: tuple[str, ...],
    system_namespace: str,
    token_expiry: str,
    upsert: bool,
    yes: bool,
) -> None:
    """Register the cluster of a kubeconfig CONTEXT, creating ferry's ServiceAccount in it."""
    label_map = {}
    for label in labels:
        key, sep, value = label.partition("=")
        if not sep:
            raise usage(f"--label takes NAME=VALUE, got {label!r}")
        label_map[key] = value
    expires_in = parse_duration(token_expiry, "--token-expiry")
    api = _kube_client(kubeconfig_path, context)
    config = api.configuration
    question = (
        f"Create ServiceAccount '{SERVICE_ACCOUNT}' with full cluster privileges in context "
        f"'{context}' ({config.host})?"
    )
    if not confirmed(question, yes):
        raise CliError("cancelled", 1)
    token = install_service_account(api, system_namespace, expires_in)
    tls = cluster_pb2.TLSClientConfig(insecure=not config.verify_ssl)
    if config.ssl_ca_cert:
        tls.ca_data = base64.b64encode(Path(config.ssl_ca_cert).read_bytes()).decode()
    message = cluster_pb2.Cluster(
        server=config.host,
        name=name or context,
        namespaces=namespaces,
        labels=label_map,
        config=cluster_pb2.ClusterConfig(bearer_token=token, tls_client_config=tls),
    )
    c = client(ctx)
    c.call(c.clusters, "Create", cluster_pb2.ClusterCreateRequest(cluster=message, upsert=upsert))
    click.echo(f"Cluster '{config.host}' added")


def _query(server_or_name: str) -> cluster_pb2.ClusterQuery:
    if server_or_name.startswith(("https://", "http://")):
        return cluster_pb2.ClusterQuery(server=server_or_name)
    return cluster_pb2.ClusterQuery(name=server_or_name)


HEADERS = ["SERVER", "NAME", "VERSION", "STATUS", "MESSAGE", "APPS"]


def _row(item: cluster_pb2.Cluster) -> tuple[str, ...]:
    state = item.info.connection_state
    return (
        item.server,
        item.name,
        item.info.server_version,
        state.status,
        state.message,
        str(item.info.applications_count),
    )


@cluster.command("list")
@output_option("json", "yaml", "server")
@click.pass_context
def list_command(ctx: click.Context, output: str | None) -> None:
    """List clusters and whether ferry can reach them."""
    c = client(ctx)
    reply = c.call(c.clusters, "List", cluster_pb2.ClusterQuery())
    if output in ("json", "yaml"):
        structured([to_k8s(i) for i in reply.items], output)
    elif output == "server":
        for item in reply.items:
            click.echo(item.server)
    else:
        table(HEADERS, [_row(i) for i in reply.items])


@cluster.command()
@click.argument("server_or_name")
@output_option("json", "yaml", "wide")
@click.pass_context
def get(ctx: click.Context, server_or_name: str, output: str | None) -> None:
    """Show a cluster by URL or name."""
    c = client(ctx)
    item = c.call(c.clusters, "Get", _query(server_or_name))
    if output in ("json", "yaml"):
        structured(item, output)
    else:
        rows = [_row(item)]
        if output == "wide":
            table(
                [*HEADERS, "NAMESPACES", "LABELS"],
                [
                    rows[0]
                    + (
                        ",".join(item.namespaces),
                        ",".join(f"{k}={v}" for k, v in sorted(item.labels.items())),
                    )
                ],
            )
        else:
            table(HEADERS, rows)


@cluster.command()
@click.argument("servers_or_names", nargs=-1, required=True)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def rm(ctx: click.Context, servers_or_names: tuple[str, ...], yes: bool) -> None:
    """Remove clusters from ferry (nothing in the cluster is deleted)."""
    c = client(ctx)
    for item in servers_or_names:
        if not confirmed(f"Remove cluster '{item}' from ferry?", yes):
            continue
        c.call(c.clusters, "Delete", _query(item))
        click.echo(f"Cluster '{item}' removed")

"""``ferry repo ...``: register, list, inspect and remove repositories and their credentials."""

from __future__ import annotations

import sys

import click

from cli.base import client, group, output_option, read_file
from cli.output import structured, table
from ferry.convert import to_k8s
from ferry.v1 import repository_pb2, types_pb2

repo = group("repo", "Manage repositories.")


@repo.command()
@click.argument("url")
@click.option("--username", default="", help="User for HTTPS.")
@click.option("--password", default="", help="Password or access token for HTTPS.")
@click.option("--bearer-token", default="", help="Bearer token for HTTPS.")
@click.option("--ssh-private-key-path", default="", help="Private key file for ssh:// and git@ URLs.")
@click.option("--known-hosts-path", default="", help="known_hosts file to verify the SSH host with.")
@click.option("--tls-client-cert-path", default="", help="Client certificate (PEM) for HTTPS.")
@click.option("--tls-client-cert-key-path", default="", help="Its private key (PEM).")
@click.option("--ca-path", default="", help="CA bundle (PEM) to trust for this repository.")
@click.option("--insecure-skip-server-verification", is_flag=True, help="Skip TLS and host key verification.")
@click.option(
    "--force-http-basic-auth", is_flag=True, help="Send basic auth without waiting for a challenge."
)
@click.option("--type", "repo_type", type=click.Choice(["git", "helm"]), default="git")
@click.option("--name", default="", help="Name (Helm repositories need one).")
@click.option("--project", default="", help="Scope the repository to this project.")
@click.option("--upsert", is_flag=True, help="Replace the repository if it exists.")
@click.option(
    "--creds-only", is_flag=True, help="Store a credential template for every URL starting with URL."
)
@click.pass_context
def add(
    ctx: click.Context,
    url: str,
    username: str,
    password: str,
    bearer_token: str,
    ssh_private_key_path: str,
    known_hosts_path: str,
    tls_client_cert_path: str,
    tls_client_cert_key_path: str,
    ca_path: str,
    insecure_skip_server_verification: bool,
    force_http_basic_auth: bool,
    repo_type: str,
    name: str,
    project: str,
    upsert: bool,
    creds_only: bool,
) -> None:
    """Add a repository; the server checks that it can reach it with these credentials."""
    if username and not password and sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True)
    files = {
        "ssh_private_key": (ssh_private_key_path, "--ssh-private-key-path"),
        "known_hosts": (known_hosts_path, "--known-hosts-path"),
        "tls_client_cert_data": (tls_client_cert_path, "--tls-client-cert-path"),
        "tls_client_cert_key": (tls_client_cert_key_path, "--tls-client-cert-key-path"),
        "ca_data": (ca_path, "--ca-path"),
    }
    message = types_pb2.Repository(
        repo=url,
        username=username,
        password=password,
        bearer_token=bearer_token,
        type=repo_type,
        name=name,
        project=project,
        insecure=insecure_skip_server_verification,
        force_http_basic_auth=force_http_basic_auth,
    )
    for field, (path, flag) in files.items():
        if path:
            setattr(message, field, read_file(path, flag))
    c = client(ctx)
    c.call(
        c.repos,
        "CreateRepository",
        repository_pb2.RepoCreateRequest(repo=message, upsert=upsert, creds_only=creds_only),
    )
    click.echo(f"Repository '{url}' added")


def _rows(items: list[types_pb2.Repository]) -> list[tuple[str, ...]]:
    return [
        (
            r.type or "git",
            r.name,
            r.repo,
            str(r.insecure).lower(),
            str(r.has_credentials).lower(),
            r.connection_state.status,
            r.connection_state.message,
            r.project,
        )
        for r in items
    ]


HEADERS = ["TYPE", "NAME", "REPO", "INSECURE", "CREDS", "STATUS", "MESSAGE", "PROJECT"]


@repo.command("list")
@output_option("json", "yaml", "url")
@click.option("--refresh", is_flag=True, help="Test the connection to each repository again.")
@click.pass_context
def list_command(ctx: click.Context, output: str | None, refresh: bool) -> None:
    """List repositories and whether ferry can reach them."""
    c = client(ctx)
    reply = c.call(c.repos, "ListRepositories", repository_pb2.RepoQuery(force_refresh=refresh))
    if output in ("json", "yaml"):
        structured([to_k8s(r) for r in reply.items], output)
    elif output == "url":
        for item in reply.items:
            click.echo(item.repo)
    else:
        table(HEADERS, _rows(list(reply.items)))


@repo.command()
@click.argument("url")
@output_option("json", "yaml", "url")
@click.option("--refresh", is_flag=True, help="Test the connection again.")
@click.pass_context
def get(ctx: click.Context, url: str, output: str | None, refresh: bool) -> None:
    """Show a repository."""
    c = client(ctx)
    item = c.call(c.repos, "Get", repository_pb2.RepoQuery(repo=url, force_refresh=refresh))
    if output in ("json", "yaml"):
        structured(item, output)
    elif output == "url":
        click.echo(item.repo)
    else:
        table(HEADERS, _rows([item]))


@repo.command()
@click.argument("urls", nargs=-1, required=True)
@click.pass_context
def rm(ctx: click.Context, urls: tuple[str, ...]) -> None:
    """Remove repositories (applications using them keep their spec)."""
    c = client(ctx)
    for url in urls:
        c.call(c.repos, "DeleteRepository", repository_pb2.RepoQuery(repo=url))
        click.echo(f"Repository '{url}' removed")

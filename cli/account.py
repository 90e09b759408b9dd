"""``ferry account ...``: local accounts, their passwords and API tokens, and ``can-i``."""

from __future__ import annotations

import sys

import click

from cli.base import client, group, output_option, parse_duration, usage
from cli.output import structured, table
from ferry.convert import to_k8s
from ferry.v1 import account_pb2

account = group("account", "Manage accounts.")


@account.command("list")
@output_option("json", "yaml", "name")
@click.pass_context
def list_command(ctx: click.Context, output: str | None) -> None:
    """List local accounts."""
    c = client(ctx)
    reply = c.call(c.accounts, "ListAccounts", account_pb2.ListAccountRequest())
    if output in ("json", "yaml"):
        structured([to_k8s(a) for a in reply.items], output)
    elif output == "name":
        for item in reply.items:
            click.echo(item.name)
    else:
        table(
            ["NAME", "ENABLED", "CAPABILITIES"],
            [(a.name, str(a.enabled).lower(), ", ".join(a.capabilities)) for a in reply.items],
        )


@account.command()
@click.option("-a", "--account", "name", default="", help="Account (yours by default).")
@output_option("json", "yaml")
@click.pass_context
def get(ctx: click.Context, name: str, output: str | None) -> None:
    """Show an account and its tokens."""
    c = client(ctx)
    item = c.call(c.accounts, "GetAccount", account_pb2.GetAccountRequest(name=name))
    if output:
        structured(item, output)
        return
    click.echo(f"{'Name:':<14}{item.name}")
    click.echo(f"{'Enabled:':<14}{str(item.enabled).lower()}")
    click.echo(f"{'Capabilities:':<14}{', '.join(item.capabilities)}")
    click.echo()
    click.echo("Tokens:")
    if not item.tokens:
        click.echo("NONE")
        return
    table(
        ["ID", "ISSUED AT", "EXPIRING AT"],
        [(t.id, t.issued_at, t.expires_at or "never") for t in item.tokens],
    )


@account.command("update-password")
@click.option("-a", "--account", "name", default="", help="Account (yours by default).")
@click.option("--current-password", default="", help="Your current password (prompted when missing).")
@click.option("--new-password", default="", help="The new password (prompted when missing).")
@click.pass_context
def update_password(ctx: click.Context, name: str, current_password: str, new_password: str) -> None:
    """Change a password (an admin may reset another account's without its current password)."""
    interactive = sys.stdin.isatty()
    if not current_password and interactive:
        current_password = click.prompt("*** Enter password of currently logged in user", hide_input=True)
    if not new_password:
        if not interactive:
            raise usage("--new-password is required without a terminal to prompt on")
        new_password = click.prompt("*** Enter new password", hide_input=True, confirmation_prompt=True)
    c = client(ctx)
    c.call(
        c.accounts,
        "UpdatePassword",
        account_pb2.UpdatePasswordRequest(
            name=name, current_password=current_password, new_password=new_password
        ),
    )
    click.echo("Password updated")


@account.command("generate-token")
@click.option("-a", "--account", "name", default="", help="Account (yours by default).")
@click.option(
    "-e", "--expires-in", default="0", help="Lifetime such as 24h or 7d; 0: one year (tokens always expire)."
)
@click.option("--id", "token_id", default="", help="Token id (random by default).")
@click.pass_context
def generate_token(ctx: click.Context, name: str, expires_in: str, token_id: str) -> None:
    """Issue an API token for an account with the apiKey capability; it is printed once."""
    c = client(ctx)
    reply = c.call(
        c.accounts,
        "CreateToken",
        account_pb2.CreateTokenRequest(
            name=name, expires_in=parse_duration(expires_in, "--expires-in"), id=token_id
        ),
    )
    click.echo(reply.token)


@account.command("delete-token")
@click.argument("token_id")
@click.option("-a", "--account", "name", default="", help="Account (yours by default).")
@click.pass_context
def delete_token(ctx: click.Context, token_id: str, name: str) -> None:
    """Revoke an API token."""
    c = client(ctx)
    c.call(c.accounts, "DeleteToken", account_pb2.DeleteTokenRequest(name=name, id=token_id))
    click.echo(f"Token '{token_id}' deleted")


@account.command("can-i")
@click.argument("action")
@click.argument("resource")
@click.argument("subresource", default="*")
@click.pass_context
def can_i(ctx: click.Context, action: str, resource: str, subresource: str) -> None:
    """Print yes or no: may the caller do ACTION on RESOURCE (e.g. sync applications 'default/*')?"""
    c = client(ctx)
    reply = c.call(
        c.accounts, "CanI", account_pb2.CanIRequest(action=action, resource=resource, subresource=subresource)
    )
    click.echo(reply.value)

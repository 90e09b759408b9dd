"""Entry point of the ``ferry`` command: a thin gRPC client of ferry-server, with argocd's
command and flag names. No business logic lives here: the server validates and decides."""

from __future__ import annotations

import contextlib
import getpass
import sys
from typing import Any

import click
import click.shell_completion

from cli import account, actions, admin, app, cluster, project, repo, sso
from cli.base import EXIT_CODES, FerryGroup, client, settings
from cli.config import Context
from cli.connection import Client, CliError, Settings, resolve
from cli.output import structured, table
from ferry import __version__
from ferry.cmdline import CONTEXT_SETTINGS, version_option
from ferry.convert import to_k8s
from ferry.oidc import DEFAULT_CLI_PORT, DEFAULT_SCOPES
from ferry.v1 import session_pb2, version_pb2

PROG = "ferry"


@click.group(cls=FerryGroup, context_settings={**CONTEXT_SETTINGS, "show_default": False}, epilog=EXIT_CODES)
@version_option(PROG)
@click.option("--server", envvar="FERRY_SERVER", default="", help="ferry-server address (host:port).")
@click.option("--auth-token", envvar="FERRY_AUTH_TOKEN", default="", help="Session or API token.")
@click.option("--insecure", is_flag=True, help="Trust the server's certificate without verifying it.")
@click.option("--plaintext", is_flag=True, help="Connect without TLS.")
@click.option(
    "--config", "config_path", envvar="FERRY_CONFIG", default="", help="Config file (~/.config/ferry/config)."
)
@click.pass_context
def command(
    ctx: click.Context, server: str, auth_token: str, insecure: bool, plaintext: bool, config_path: str
) -> None:
    """ferry: GitOps continuous delivery for Kubernetes."""
    ctx.obj = resolve(config_path, server, auth_token, insecure, plaintext)


@command.command()
@click.argument("server")
@click.option("--username", default="", help="Account name (prompted when missing).")
@click.option("--password", default="", help="Password (prompted when missing).")
@click.option("--name", default="", help="Name of the context to store (the server by default).")
@click.option(
    "--insecure", "login_insecure", is_flag=True, help="Trust the server's certificate without verifying it."
)
@click.option("--plaintext", "login_plaintext", is_flag=True, help="Connect without TLS.")
@click.option("--sso", is_flag=True, help="Log in through the server's SSO provider (OIDC) in a browser.")
@click.option(
    "--sso-port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_CLI_PORT,
    show_default=True,
    help="Local port that receives the SSO callback (http://localhost:PORT/auth/callback).",
)
@click.option(
    "--sso-launch-browser/--no-sso-launch-browser",
    default=True,
    help="Open the login page in a browser (the URL is printed either way).",
)
@click.option("--sso-timeout", type=float, default=300.0, help="Seconds to wait for the SSO login.")
@click.pass_context
def login(
    ctx: click.Context,
    server: str,
    username: str,
    password: str,
    name: str,
    login_insecure: bool,
    login_plaintext: bool,
    sso: bool,
    sso_port: int,
    sso_launch_browser: bool,
    sso_timeout: float,
) -> None:
    """Log in to SERVER and store the session as the current context."""
    base = settings(ctx)
    conn = Settings(
        server=server,
        token="",
        insecure=login_insecure or base.insecure,
        plaintext=login_plaintext or base.plaintext,
        config=base.config,
    )
    if sso:
        _sso_login(conn, name or server, sso_port, sso_launch_browser, sso_timeout)
        return
    if not username:
        username = click.prompt("Username")
    if not password:
        password = getpass.getpass("Password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    reply = Client(conn).call(
        Client(conn).sessions,
        "Create",
        session_pb2.SessionCreateRequest(username=username, password=password),
    )
    context_name = name or server
    base.config.contexts[context_name] = Context(
        context_name, server, reply.token, username, conn.insecure, conn.plaintext
    )
    base.config.current = context_name
    base.config.save()
    click.echo(f"'{username}' logged in successfully")
    click.echo(f"Context '{context_name}' updated")


def _sso_login(conn: Settings, context_name: str, port: int, launch_browser: bool, timeout: float) -> None:
    api = Client(conn)
    found = api.call(api.server_settings, "Get", version_pb2.SettingsQuery())
    oidc = found.oidc_config
    if not oidc.issuer:
        raise CliError(f"SSO is not configured on {conn.server}: log in with --username and --password")
    provider = sso.Provider(
        issuer=oidc.issuer,
        client_id=oidc.cli_client_id or oidc.client_id,
        scopes=list(oidc.scopes) or list(DEFAULT_SCOPES),
        root_ca=oidc.root_ca,
        insecure=conn.insecure,
    )
    token, claims = sso.login(
        provider, port=port, launch_browser=launch_browser, timeout=timeout, echo=click.echo
    )
    who = sso.display_name(claims)
    conn.config.contexts[context_name] = Context(
        context_name, conn.server, token, who, conn.insecure, conn.plaintext
    )
    conn.config.current = context_name
    conn.config.save()
    click.echo(f"'{who}' logged in successfully")
    click.echo(f"Context '{context_name}' updated")


@command.command()
@click.argument("context_name", required=False)
@click.pass_context
def logout(ctx: click.Context, context_name: str | None) -> None:
    """Log out: revoke the session and forget its token."""
    base = settings(ctx)
    name = context_name or base.config.current
    context = base.config.contexts.get(name)
    if context is None:
        raise CliError(f"no context named {name!r}")
    if context.token:
        conn = Settings(context.server, context.token, context.insecure, context.plaintext, base.config)
        # an expired or unreachable session is still forgotten locally
        with contextlib.suppress(CliError):
            Client(conn).call(Client(conn).sessions, "Delete", session_pb2.SessionDeleteRequest())
    context.token = ""
    base.config.save()
    click.echo(f"Logged out from '{name}'")


@command.command("context")
@click.argument("context_name", required=False)
@click.pass_context
def context_command(ctx: click.Context, context_name: str | None) -> None:
    """List contexts, or switch to CONTEXT_NAME."""
    config = settings(ctx).config
    if context_name:
        if context_name not in config.contexts:
            raise CliError(
                f"no context named {context_name!r}; known: {', '.join(sorted(config.contexts)) or 'none'}"
            )
        config.current = context_name
        config.save()
        click.echo(f"Switched to context '{context_name}'")
        return
    rows = [
        ("*" if c.name == config.current else "", c.name, c.server)
        for c in sorted(config.contexts.values(), key=lambda c: c.name)
    ]
    table(["CURRENT", "NAME", "SERVER"], rows)


@command.command()
@click.option("--client", "client_only", is_flag=True, help="Only the client's version.")
@click.option("-o", "--output", type=click.Choice(["json", "yaml", "short"]), default=None)
@click.pass_context
def version(ctx: click.Context, client_only: bool, output: str | None) -> None:
    """The versions of the client and of the server."""
    data: dict[str, Any] = {"client": {"Version": f"v{__version__}"}}
    if not client_only:
        c = client(ctx)
        data["server"] = {
            k: v for k, v in to_k8s(c.call(c.version, "Version", version_pb2.VersionRequest())).items() if v
        }
    if output in ("json", "yaml"):
        structured(data, output)
        return
    click.echo(f"ferry: v{__version__}")
    if "server" in data:
        click.echo(f"ferry-server: {data['server'].get('Version', '')}")
        if output != "short":
            for key, value in data["server"].items():
                if key != "Version":
                    click.echo(f"  {key}: {value}")


def completion_script(shell: str) -> str:
    """The shell's completion script, generated by click from the command tree."""
    cls = click.shell_completion.get_completion_class(shell)
    if cls is None:
        raise CliError(f"no completion for shell {shell!r}")
    return cls(command, {}, PROG, "_FERRY_COMPLETE").source()


@command.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script, e.g. source <(ferry completion bash)."""
    click.echo(completion_script(shell))


app.app.add_command(actions.actions)  # ferry app actions
for _group in (app.app, repo.repo, cluster.cluster, project.proj, account.account, admin.admin):
    command.add_command(_group)


def main() -> None:
    command.main(prog_name=PROG)

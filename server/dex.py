"""The bundled Dex: its configuration generated from ``ferry-cm`` ``dex.config``, as Argo CD does.

``dex.config`` holds what Dex itself defines — ``connectors`` (GitHub, LDAP, SAML, OIDC, ...) and
optionally ``staticPasswords``/``enablePasswordDB``, ``staticClients``, ``expiry``, ``logger``,
``storage``. Strings ``$key`` are replaced by ``key`` of ferry-secret (connector secrets stay out
of the ConfigMap). ferry adds:

- ``issuer: <url>/api/dex`` (``url`` of ferry-cm is required): browsers reach Dex through
  ferry-server, which proxies ``/api/dex/`` to ``--dex-server``;
- two clients: ``ferry`` (confidential; its secret is derived from the server's signing key, so
  ferry-server knows it without storing it; redirect ``<url>/auth/callback``) and ``ferry-cli``
  (public, for ``ferry login --sso``; redirect ``http://localhost:8085/auth/callback``);
- ``web.http: 0.0.0.0:5556``, ``storage: memory``, and no approval screen, unless given.

``ferry-dex gencfg`` prints (or ``-o`` writes) the configuration; ``ferry-dex rundex`` writes it,
runs ``dex serve`` and restarts Dex when the settings change (what the Dex workload runs).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import logging
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click
import yaml

from ferry.cmdline import CONTEXT_SETTINGS, logging_options, version_option
from ferry.kube.client import KubeClient
from ferry.kube.config import ClusterConfig, ConfigError
from ferry.kube.errors import NotFoundError
from ferry.oidc import CLI_REDIRECT_PATH, DEFAULT_CLI_PORT
from ferry.settings import CONTROL_NAMESPACE, SECRET, SETTINGS_CONFIGMAP
from server.oidc import DEX_CLI_CLIENT_ID, DEX_CLIENT_ID, DEX_PATH, dex_client_secret

log = logging.getLogger(__name__)
PROG = "ferry-dex"
DEFAULT_LISTEN = "0.0.0.0:5556"


class DexConfigError(ValueError):
    pass


def _substitute(value: Any, secrets: dict[str, str]) -> Any:
    if isinstance(value, str) and value.startswith("$") and len(value) > 1:
        key = value[1:]
        if key not in secrets:
            raise DexConfigError(f"dex.config refers to ${key}, which ferry-secret does not have")
        return secrets[key]
    if isinstance(value, dict):
        return {k: _substitute(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, secrets) for v in value]
    return value


def _parse(text: str) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(text or "") or {}
    except yaml.YAMLError as err:
        raise DexConfigError(f"dex.config is not YAML: {err}") from None
    if not isinstance(raw, dict):
        raise DexConfigError("dex.config must be a YAML mapping")
    return raw


def dex_connectors(text: str) -> list[tuple[str, str]]:
    """(name, type) of each connector of ``dex.config``; nothing when it does not parse."""
    try:
        raw = _parse(text)
    except DexConfigError:
        return []
    return [
        (str(c.get("name") or c.get("id") or ""), str(c.get("type") or ""))
        for c in raw.get("connectors") or []
        if isinstance(c, dict)
    ]


def generate(settings: dict[str, str], secrets: dict[str, str]) -> dict[str, Any] | None:
    """Dex's configuration for these settings; None when ``dex.config`` is not set."""
    if not settings.get("dex.config", "").strip():
        return None
    url = settings.get("url", "").rstrip("/")
    if not url:
        raise DexConfigError("dex.config needs url in ferry-cm (Dex's issuer is <url>/api/dex)")
    signing_key = secrets.get("server.secretkey", "")
    if not signing_key:
        raise DexConfigError("ferry-secret has no server.secretkey yet: start ferry-server first")
    config = _substitute(copy.deepcopy(_parse(settings["dex.config"])), secrets)
    for key in ("connectors", "staticClients", "staticPasswords"):
        if not isinstance(config.get(key) or [], list):
            raise DexConfigError(f"dex.config {key} must be a list")
    ours: list[dict[str, Any]] = [
        {
            "id": DEX_CLIENT_ID,
            "name": "ferry",
            "secret": dex_client_secret(signing_key),
            "redirectURIs": [url + CLI_REDIRECT_PATH],
        },
        {
            "id": DEX_CLI_CLIENT_ID,
            "name": "ferry CLI",
            "public": True,
            "redirectURIs": [
                f"http://localhost:{DEFAULT_CLI_PORT}{CLI_REDIRECT_PATH}",
                f"http://127.0.0.1:{DEFAULT_CLI_PORT}{CLI_REDIRECT_PATH}",
            ],
        },
    ]
    taken = {str(c["id"]) for c in ours}
    clients = [
        c for c in config.get("staticClients") or [] if isinstance(c, dict) and c.get("id") not in taken
    ]
    config["issuer"] = url + DEX_PATH
    config["staticClients"] = ours + clients
    config.setdefault("storage", {"type": "memory"})
    config.setdefault("web", {"http": DEFAULT_LISTEN})
    oauth2 = config.setdefault("oauth2", {})
    if isinstance(oauth2, dict):
        oauth2.setdefault("skipApprovalScreen", True)
    if config.get("staticPasswords"):
        config.setdefault("enablePasswordDB", True)
    return dict(config)


async def _read_settings(kube: KubeClient, namespace: str) -> tuple[dict[str, str], dict[str, str]]:
    configmap = await kube.resource("v1", "ConfigMap")
    secret = await kube.resource("v1", "Secret")
    try:
        settings = dict((await kube.get(configmap, SETTINGS_CONFIGMAP, namespace)).get("data") or {})
    except NotFoundError:
        settings = {}
    try:
        raw = (await kube.get(secret, SECRET, namespace)).get("data") or {}
        secrets = {k: base64.b64decode(v).decode() for k, v in raw.items()}
    except NotFoundError:
        secrets = {}
    return settings, secrets


def _cluster(kubeconfig: str, context: str) -> ClusterConfig:
    try:
        return (
            ClusterConfig.from_kubeconfig(kubeconfig, context or None)
            if kubeconfig
            else ClusterConfig.in_cluster()
        )
    except (ConfigError, OSError) as err:
        raise click.UsageError(str(err)) from None


async def _generate_from_cluster(cluster: ClusterConfig, namespace: str) -> str:
    kube = KubeClient(cluster, user_agent=PROG)
    try:
        settings, secrets = await _read_settings(kube, namespace)
    finally:
        await kube.close()
    config = generate(settings, secrets)
    if config is None:
        raise DexConfigError(f"{SETTINGS_CONFIGMAP} has no dex.config")
    return yaml.safe_dump(config, sort_keys=False)


_cluster_options = [
    click.option("--namespace", default=CONTROL_NAMESPACE, show_envvar=True, help="Control namespace."),
    click.option("--kubeconfig", default="", show_envvar=True, help="Kubeconfig (in-cluster when empty)."),
    click.option("--context", "kube_context", default="", show_envvar=True, help="Context in --kubeconfig."),
]


def cluster_options(func: Any) -> Any:
    for option in reversed(_cluster_options):
        func = option(func)
    return func


@click.group(context_settings=CONTEXT_SETTINGS)
@version_option(PROG)
def command() -> None:
    """The bundled Dex: its configuration from ferry-cm dex.config, and running it."""


@command.command()
@cluster_options
@click.option("-o", "--output", default="", help="Write the configuration to this file (stdout otherwise).")
def gencfg(namespace: str, kubeconfig: str, kube_context: str, output: str) -> None:
    """Print Dex's configuration generated from ferry-cm dex.config and ferry-secret."""
    try:
        text = asyncio.run(_generate_from_cluster(_cluster(kubeconfig, kube_context), namespace))
    except DexConfigError as err:
        raise click.ClickException(str(err)) from None
    if output:
        Path(output).write_text(text)
    else:
        click.echo(text, nl=False)


@command.command()
@cluster_options
@logging_options
@click.option("--dex", "dex_binary", default="dex", show_envvar=True, help="The dex executable.")
@click.option("--config-file", default="/tmp/dex.yaml", show_envvar=True, help="Where to write Dex's config.")  # noqa: S108
@click.option("--poll-seconds", default=10.0, show_envvar=True, help="How often the settings are read again.")
def rundex(
    namespace: str,
    kubeconfig: str,
    kube_context: str,
    dex_binary: str,
    config_file: str,
    poll_seconds: float,
    **_logging: str,
) -> None:
    """Run Dex with the generated configuration; restart it when the configuration changes."""
    cluster = _cluster(kubeconfig, kube_context)
    path = Path(config_file)
    proc: subprocess.Popen[bytes] | None = None
    stopping = False

    def stop(*_args: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    current = ""
    try:
        while not stopping:
            try:
                text = asyncio.run(_generate_from_cluster(cluster, namespace))
            except (DexConfigError, OSError) as err:
                log.error("cannot generate Dex's configuration", extra={"error": str(err)})
                text = current
            if text and text != current:
                if proc is not None:
                    log.info("dex.config changed: restarting Dex")
                    proc.terminate()
                    proc.wait(30)
                path.write_text(text)
                path.chmod(0o600)
                proc = subprocess.Popen([dex_binary, "serve", str(path)])
                current = text
            if proc is not None and proc.poll() is not None:
                log.error("Dex exited; starting it again", extra={"code": proc.returncode})
                proc = subprocess.Popen([dex_binary, "serve", str(path)])
            deadline = time.monotonic() + max(poll_seconds, 1.0)
            while time.monotonic() < deadline and not stopping:
                time.sleep(0.1)
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            proc.wait(30)
    sys.exit(0)


def main() -> None:
    command.main(prog_name=PROG, auto_envvar_prefix="FERRY_DEX")

"""How ferry's components reach each other, and the flags that say so.

- The repo server serves gRPC over TLS (``--tls-cert-file``/``--tls-key-file``; ``--disable-tls``
  only on request). Its clients, the controller and the API server, verify its certificate
  against ``--repo-server-ca-file`` (and its name: the host of ``--repo-server`` must be in the
  certificate); ``--repo-server-plaintext`` only on request. One of the two must be given:
  nothing falls back to plaintext by itself.
- Callers still prove who they are with the service token (``ferry.servicetoken``): TLS keeps
  the repository credentials the requests carry from being read or changed on the way and
  proves the server is the repo server; the token proves the caller is ferry. (Mutual TLS would
  add a second client credential mounted beside the first, for no property the token lacks.)
- Redis: ``--redis`` (``redis://`` or, with TLS, ``rediss://``), the password from
  ``--redis-password-file`` or ``FERRY_REDIS_PASSWORD`` (never a flag: argv is world-readable),
  and ``--redis-ca-file`` for the server's certificate.

Secrets read here are kept out of ``repr`` so that no log line or traceback shows them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click
import grpc

from ferry.cache import RedisConfig
from ferry.serving import CLIENT_MESSAGE_OPTIONS, TlsConfig

F = TypeVar("F", bound=Callable[..., Any])
REDIS_PASSWORD_ENV = "FERRY_REDIS_PASSWORD"  # noqa: S105 (a variable's name)


@dataclass(frozen=True)
class RepoServerTarget:
    """Where the repo server is and how to reach it: TLS checked against ``ca_pem``, or
    plaintext when ``ca_pem`` is None."""

    address: str
    ca_pem: bytes | None = field(default=None, repr=False)

    def channel(self, options: Sequence[tuple[str, Any]] = ()) -> grpc.aio.Channel:
        given = {name for name, _ in options}
        merged = [*options, *(option for option in CLIENT_MESSAGE_OPTIONS if option[0] not in given)]
        if self.ca_pem is None:
            return grpc.aio.insecure_channel(self.address, options=merged)
        credentials = grpc.ssl_channel_credentials(root_certificates=self.ca_pem)
        return grpc.aio.secure_channel(self.address, credentials, options=merged)


def _read(path: str, flag: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as err:
        raise click.UsageError(f"{flag}: {err}") from None


def repo_server_client_options(func: F) -> F:
    """``--repo-server``, ``--repo-server-ca-file``, ``--repo-server-plaintext``."""
    func = click.option(
        "--repo-server-plaintext",
        is_flag=True,
        show_envvar=True,
        help="Reach the repo server without TLS (a repo server started with --disable-tls).",
    )(func)
    func = click.option(
        "--repo-server-ca-file",
        default="",
        show_envvar=True,
        help="CA certificate (PEM) the repo server's TLS certificate is checked against.",
    )(func)
    return click.option(
        "--repo-server", default="127.0.0.1:8081", show_envvar=True, help="Address of ferry-reposerver."
    )(func)


def repo_server_target(address: str, ca_file: str, plaintext: bool) -> RepoServerTarget:
    if plaintext and ca_file:
        raise click.UsageError("--repo-server-ca-file and --repo-server-plaintext exclude each other")
    if plaintext:
        return RepoServerTarget(address)
    if not ca_file:
        raise click.UsageError(
            "the repo server is reached over TLS: set --repo-server-ca-file (or --repo-server-plaintext)"
        )
    return RepoServerTarget(address, _read(ca_file, "--repo-server-ca-file"))


def serving_tls_options(func: F) -> F:
    """``--tls-cert-file``, ``--tls-key-file``, ``--disable-tls`` (the repo server's)."""
    func = click.option(
        "--disable-tls",
        is_flag=True,
        show_envvar=True,
        help="Serve gRPC without TLS (its callers then need --repo-server-plaintext).",
    )(func)
    func = click.option(
        "--tls-key-file", default="", show_envvar=True, help="Private key (PEM) of --tls-cert-file."
    )(func)
    return click.option(
        "--tls-cert-file", default="", show_envvar=True, help="Serving certificate (PEM, chain first)."
    )(func)


def serving_tls(cert_file: str, key_file: str, disable: bool) -> TlsConfig | None:
    if disable:
        if cert_file or key_file:
            raise click.UsageError("--disable-tls and --tls-cert-file/--tls-key-file exclude each other")
        return None
    if not cert_file or not key_file:
        raise click.UsageError(
            "no TLS certificate: set --tls-cert-file and --tls-key-file (or --disable-tls)"
        )
    return TlsConfig(_read(cert_file, "--tls-cert-file"), _read(key_file, "--tls-key-file"))


def redis_options(func: F) -> F:
    """``--redis-password-file`` and ``--redis-ca-file`` (next to a component's ``--redis``)."""
    func = click.option(
        "--redis-ca-file",
        default="",
        show_envvar=True,
        help="CA certificate (PEM) Redis's TLS certificate is checked against (rediss:// URLs).",
    )(func)
    return click.option(
        "--redis-password-file",
        default="",
        show_envvar=True,
        help=f"File with the Redis password ({REDIS_PASSWORD_ENV} otherwise).",
    )(func)


def redis_config(url: str, password_file: str, ca_file: str) -> RedisConfig | None:
    """The Redis to use; None without ``url``."""
    if not url:
        return None
    if password_file:
        password = _read(password_file, "--redis-password-file").decode().strip()
    else:
        password = os.environ.get(REDIS_PASSWORD_ENV, "")
    if ca_file and not url.startswith("rediss://"):
        raise click.UsageError("--redis-ca-file needs a rediss:// URL (Redis over TLS)")
    if ca_file:
        _read(ca_file, "--redis-ca-file")
    return RedisConfig(url, password, ca_file)

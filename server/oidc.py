"""Single sign-on: the OIDC provider ferry-server trusts, and checking the ID tokens it issues.

Settings, from ``ferry-cm`` (read live; a change applies to the next request):

- ``oidc.config``: a provider of your own, as Argo CD takes it (YAML)::

      name: Corp SSO
      issuer: https://sso.example.com
      clientID: ferry
      clientSecret: $oidc.corp.clientSecret   # "$key": the value of key in ferry-secret
      cliClientID: ferry-cli                  # a public client for `ferry login --sso`
      requestedScopes: [openid, profile, email, groups]
      groupsClaim: groups                     # the claim holding the user's groups
      enablePKCEAuthentication: true          # PKCE (S256) on the browser flow (default true)
      allowedAudiences: [ferry, ferry-cli]    # default: clientID and cliClientID
      rootCA: |                               # PEM, when the provider's certificate needs it
        -----BEGIN CERTIFICATE-----

- ``dex.config``: a bundled Dex (see ``server/dex.py``); ferry-server then trusts
  ``<url>/api/dex`` with the clients it generated, and reaches Dex through ``--dex-server``.

``oidc.config`` wins when both are set. ``ferry-rbac-cm`` ``scopes`` (default: the groups claim)
names the claims whose values are RBAC subjects besides the user (``[groups, email]``).

RBAC subjects of an SSO user live apart from local accounts and roles (``ferry.oidc.sso_subjects``):
each value (the user id, each group...) is a subject as ``sso:<value>``, and bare as Argo CD
uses it unless the bare value is a local account's name or starts with ``role:``, ``proj:`` or
``sso:``. An IdP user or group called ``admin`` is therefore never the local admin; grant it
explicitly as ``g, sso:admin, role:admin`` if that is meant.

Tokens: a bearer token whose ``iss`` is not ``ferry`` is an ID token of the provider. It is
accepted when signed with an asymmetric algorithm by a key of the issuer's JWKS (fetched through
discovery, cached for ``JWKS_TTL``, fetched again when a token names an unknown key: rotation),
issued by exactly the configured issuer, for one of the allowed audiences, and not expired; a
revoked one (``SessionService/Delete``, ``/auth/logout``) is refused like a local session.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import ssl
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import jwt
import yaml

from ferry.errors import FailedPrecondition, Unauthenticated
from ferry.oidc import (
    ASYMMETRIC_ALGORITHMS,
    DEFAULT_SCOPES,
    ClaimsError,
    check_claims,
    group_subjects,
    sso_subjects,
    user_identifier,
)
from server.sessions import ISSUER as LOCAL_ISSUER
from server.sessions import Caller, TokenKind

log = logging.getLogger(__name__)

JWKS_TTL = 300.0  # seconds a fetched key set is trusted without asking again
DISCOVERY_TTL = 3600.0
MIN_REFETCH = 1.0  # seconds: an unknown key id fetches the key set again at most this often
FETCH_TIMEOUT = 10.0
DEX_PATH = "/api/dex"
DEX_CLIENT_ID = "ferry"
DEX_CLI_CLIENT_ID = "ferry-cli"


class ConfigError(ValueError):
    """``oidc.config`` / ``dex.config`` cannot be used; the message says why."""


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    client_id: str
    client_secret: str = ""
    name: str = ""
    cli_client_id: str = ""
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    groups_claim: str = "groups"
    pkce: bool = True
    root_ca: str = ""
    allowed_audiences: tuple[str, ...] = ()
    dex: bool = False  # the bundled Dex, reached through dex_server
    dex_server: str = ""

    @property
    def audiences(self) -> tuple[str, ...]:
        if self.allowed_audiences:
            return self.allowed_audiences
        return tuple(a for a in (self.client_id, self.cli_client_id) if a)


def resolve_secret(value: Any, secrets: Mapping[str, str], where: str) -> str:
    """``$key`` is the value of ``key`` in ferry-secret (as Argo CD resolves settings)."""
    text = str(value or "")
    if not text.startswith("$"):
        return text
    key = text[1:]
    if key not in secrets:
        raise ConfigError(f"{where} refers to ${key}, which ferry-secret does not have")
    return secrets[key]


def dex_client_secret(signing_key: str) -> str:
    """The secret of ferry's client in the generated Dex configuration, derived from the server's
    signing key so that ferry-server and the Dex configuration agree without storing it."""
    return hmac.new(signing_key.encode(), b"ferry-dex-client", hashlib.sha256).hexdigest()[:40]


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of strings")
    return tuple(value)


def parse_settings(
    settings: Mapping[str, str], secrets: Mapping[str, str], *, dex_server: str = ""
) -> OidcSettings | None:
    """The provider ferry trusts, from ferry-cm and ferry-secret; None when SSO is not set up."""
    text = settings.get("oidc.config", "").strip()
    if text:
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise ConfigError(f"oidc.config is not YAML: {err}") from None
        if not isinstance(raw, dict):
            raise ConfigError("oidc.config must be a YAML mapping")
        issuer = str(raw.get("issuer") or "").rstrip("/")
        client_id = str(raw.get("clientID") or "")
        if not issuer or not client_id:
            raise ConfigError("oidc.config needs issuer and clientID")
        parts = urllib.parse.urlsplit(issuer)
        if parts.scheme != "https" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ConfigError(f"oidc.config issuer {issuer!r} must be an https URL")
        pkce = raw.get("enablePKCEAuthentication", True)
        if not isinstance(pkce, bool):
            raise ConfigError("oidc.config enablePKCEAuthentication must be true or false")
        return OidcSettings(
            issuer=issuer,
            client_id=client_id,
            client_secret=resolve_secret(raw.get("clientSecret"), secrets, "oidc.config clientSecret"),
            name=str(raw.get("name") or ""),
            cli_client_id=str(raw.get("cliClientID") or ""),
            scopes=_strings(raw.get("requestedScopes"), "oidc.config requestedScopes") or DEFAULT_SCOPES,
            groups_claim=str(raw.get("groupsClaim") or "groups"),
            pkce=pkce,
            root_ca=resolve_secret(raw.get("rootCA"), secrets, "oidc.config rootCA"),
            allowed_audiences=_strings(raw.get("allowedAudiences"), "oidc.config allowedAudiences"),
        )
    if settings.get("dex.config", "").strip():
        url = settings.get("url", "").rstrip("/")
        if not url:
            raise ConfigError("dex.config needs url in ferry-cm (Dex's issuer is <url>/api/dex)")
        if not dex_server:
            raise ConfigError("dex.config is set but ferry-server was started without --dex-server")
        return OidcSettings(
            issuer=url + DEX_PATH,
            client_id=DEX_CLIENT_ID,
            client_secret=dex_client_secret(secrets.get("server.secretkey", "")),
            name="Dex",
            cli_client_id=DEX_CLI_CLIENT_ID,
            dex=True,
            dex_server=dex_server.rstrip("/"),
        )
    return None


def rbac_scopes(rbac: Mapping[str, str], oidc: OidcSettings) -> tuple[str, ...]:
    """``ferry-rbac-cm`` ``scopes`` (``[groups, email]``); the groups claim when unset."""
    text = rbac.get("scopes", "").strip()
    if not text:
        return (oidc.groups_claim,)
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        value = None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    log.error("ferry-rbac-cm scopes is not a list of claim names; using the groups claim")
    return (oidc.groups_claim,)


def token_id(token: str) -> str:
    """The revocation id of an ID token (they need not have a jti)."""
    return "oidc-" + hashlib.sha256(token.encode()).hexdigest()[:32]


def unverified_issuer(token: str) -> str:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        raise Unauthenticated("invalid token: not a JWT") from None
    return str(claims.get("iss", ""))


# --- the provider: discovery and keys ---------------------------------------------------------------


@dataclass
class Provider:
    """Discovery and JWKS of one issuer, cached. With ``fetch_base`` (the bundled Dex), URLs under
    the issuer are fetched from that address instead (ferry-server reaches Dex directly, not
    through its own public URL)."""

    issuer: str
    root_ca: str = ""
    fetch_base: str = ""
    _discovery: dict[str, Any] = field(default_factory=dict)
    _discovered_at: float = 0.0
    _keys: dict[str, jwt.PyJWK] = field(default_factory=dict)
    _keys_at: float = 0.0
    min_refetch: float = MIN_REFETCH
    _refetched_at: float = float("-inf")
    _fetching: asyncio.Future[None] | None = None
    _session: aiohttp.ClientSession | None = None

    def _ssl(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.root_ca:
            context.load_verify_locations(cadata=self.root_ca)
        return context

    def internal_url(self, url: str) -> str:
        if self.fetch_base and url.startswith(self.issuer):
            return self.fetch_base + DEX_PATH + url[len(self.issuer) :]
        return url

    async def http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self._ssl()),
                timeout=aiohttp.ClientTimeout(total=FETCH_TIMEOUT),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _get_json(self, url: str) -> dict[str, Any]:
        http = await self.http()
        try:
            async with http.get(self.internal_url(url)) as resp:
                if resp.status != 200:
                    raise FailedPrecondition(f"identity provider: GET {url} answered HTTP {resp.status}")
                body = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as err:
            raise FailedPrecondition(f"identity provider unreachable: GET {url}: {err}") from None
        if not isinstance(body, dict):
            raise FailedPrecondition(f"identity provider: GET {url} is not a JSON object")
        return body

    async def discovery(self) -> dict[str, Any]:
        if self._discovery and time.monotonic() - self._discovered_at < DISCOVERY_TTL:
            return self._discovery
        document = await self._get_json(self.issuer + "/.well-known/openid-configuration")
        if str(document.get("issuer", "")).rstrip("/") != self.issuer:
            raise FailedPrecondition(
                f"the discovery document names issuer {document.get('issuer')!r}, not {self.issuer!r}"
            )
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(document.get(key), str):
                raise FailedPrecondition(f"the discovery document of {self.issuer} has no {key}")
        self._discovery, self._discovered_at = document, time.monotonic()
        return document

    async def _fetch_keys(self) -> None:
        document = await self.discovery()
        jwks = await self._get_json(document["jwks_uri"])
        keys: dict[str, jwt.PyJWK] = {}
        for entry in jwks.get("keys") or []:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            try:
                key = jwt.PyJWK.from_dict(entry)
            except (jwt.PyJWKError, jwt.InvalidKeyError):
                continue
            keys[str(entry.get("kid", ""))] = key
        self._keys, self._keys_at = keys, time.monotonic()
        log.info("fetched the identity provider's keys", extra={"issuer": self.issuer, "keys": len(keys)})

    async def key(self, kid: str) -> jwt.PyJWK | None:
        """The issuer's key ``kid``. A known key of a fresh key set is answered from memory, with
        no lock and no wait, whatever other tokens are doing. The key set is fetched again when it
        is older than JWKS_TTL, and when a token names a key it lacks (the provider rotated its
        keys) — but then at most once per ``min_refetch`` seconds: a token naming an unknown key
        sooner is refused at once, never made to wait. One fetch runs at a time; callers that
        need it meanwhile share it. So tokens with made-up key ids can neither flood the provider
        nor hold up anyone else's login."""
        now = time.monotonic()
        fresh = bool(self._keys_at) and now - self._keys_at <= JWKS_TTL
        if fresh and kid in self._keys:
            return self._keys[kid]
        if fresh:
            if now - self._refetched_at < self.min_refetch:
                return None
            self._refetched_at = now
        await self._refresh()
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        if self._fetching is None or self._fetching.done():
            self._fetching = asyncio.ensure_future(self._fetch_keys())
            # retrieved here too, so a fetch whose callers all left does not warn
            self._fetching.add_done_callback(lambda f: f.cancelled() or f.exception())
        await asyncio.shield(self._fetching)


async def verify_id_token(
    provider: Provider, token: str, *, audiences: tuple[str, ...], nonce: str | None = None
) -> dict[str, Any]:
    """The claims of a valid ID token of the provider; Unauthenticated saying why otherwise."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise Unauthenticated("invalid token: not a JWT") from None
    alg = header.get("alg")
    if alg not in ASYMMETRIC_ALGORITHMS:
        raise Unauthenticated(f"invalid token: algorithm {alg!r} is not accepted")
    issuer = unverified_issuer(token)
    if issuer != provider.issuer:
        raise Unauthenticated(
            f"invalid token: issuer {issuer!r} is not trusted (expected {provider.issuer!r})"
        )
    kid = str(header.get("kid", ""))
    key = await provider.key(kid)
    if key is None:
        raise Unauthenticated(f"invalid token: the issuer has no signing key {kid!r}")
    if key.algorithm_name and key.algorithm_name != alg:
        raise Unauthenticated(f"invalid token: key {kid!r} is for {key.algorithm_name}, not {alg}")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=[alg],
            options={
                "verify_exp": False,
                "verify_aud": False,
                "verify_iss": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.InvalidSignatureError:
        raise Unauthenticated("invalid token: signature verification failed") from None
    except jwt.InvalidTokenError as err:
        raise Unauthenticated(f"invalid token: {err}") from None
    try:
        check_claims(claims, issuer=provider.issuer, audiences=audiences, now=time.time(), nonce=nonce)
    except ClaimsError as err:
        if err.expired:
            raise Unauthenticated("token expired: log in again") from None
        raise Unauthenticated(f"invalid token: {err}") from None
    return claims


class Oidc:
    """The server's view of SSO: the current settings (rebuilt when ferry-cm or ferry-secret
    change), the provider with its caches, and verification of bearer ID tokens into callers."""

    def __init__(
        self,
        settings: Callable[[], dict[str, str]],
        secrets: Callable[[], dict[str, str]],
        rbac: Callable[[], dict[str, str]],
        *,
        dex_server: str = "",
        dex_ca: str = "",
        local_accounts: Callable[[], frozenset[str]] = frozenset,
    ) -> None:
        self._settings = settings
        self._secrets = secrets
        self._rbac = rbac
        self._local_accounts = local_accounts
        self._refused: set[str] = set()  # bare values already logged as refused
        self.dex_server = dex_server
        self.dex_ca = dex_ca
        self._key: tuple[Any, ...] = ()
        self._current: OidcSettings | None = None
        self._provider: Provider | None = None
        self._error = ""

    def settings(self) -> OidcSettings | None:
        """The provider's settings; None when SSO is not configured (or misconfigured: logged)."""
        data, secrets = self._settings(), self._secrets()
        key = (
            data.get("oidc.config"),
            data.get("dex.config"),
            data.get("url"),
            tuple(sorted(secrets.items())),
        )
        if key != self._key:
            self._key = key
            try:
                self._current = parse_settings(data, secrets, dex_server=self.dex_server)
                self._error = ""
            except ConfigError as err:
                self._current, self._error = None, str(err)
                log.error("SSO is not usable", extra={"error": str(err)})
            old = self._provider
            self._provider = None
            if old is not None:
                task = asyncio.get_running_loop().create_task(old.close())
                task.add_done_callback(lambda _t: None)
        return self._current

    def required(self) -> OidcSettings:
        current = self.settings()
        if current is None:
            raise FailedPrecondition(
                f"SSO is not usable: {self._error}" if self._error else "SSO is not configured"
            )
        return current

    def provider(self) -> Provider:
        current = self.required()
        if self._provider is None:
            self._provider = Provider(
                current.issuer,
                root_ca=self.dex_ca if current.dex else current.root_ca,
                fetch_base=current.dex_server if current.dex else "",
            )
        return self._provider

    async def close(self) -> None:
        if self._provider is not None:
            await self._provider.close()

    async def verify(self, token: str, *, nonce: str | None = None) -> tuple[Caller, dict[str, Any]]:
        current = self.settings()
        if current is None:
            issuer = unverified_issuer(token)
            raise Unauthenticated(f"invalid token: issuer {issuer!r} is not trusted (SSO is not configured)")
        claims = await verify_id_token(self.provider(), token, audiences=current.audiences, nonce=nonce)
        scopes = rbac_scopes(self._rbac(), current)
        username = user_identifier(claims)
        groups = tuple(group_subjects(claims, scopes))
        subjects, refused = sso_subjects(username, groups, self._local_accounts())
        for value in refused:
            if value not in self._refused and len(self._refused) < 1000:
                self._refused.add(value)
                log.warning(
                    "an SSO identity names a local account or role: only its sso: form is an RBAC subject",
                    extra={"value": value, "subject": f"sso:{value}"},
                )
        caller = Caller(
            username=username,
            groups=groups,
            issuer=current.issuer,
            jti=token_id(token),
            expires_at=int(claims["exp"]),
            kind=TokenKind.SSO,
            sso_subjects=subjects,
        )
        return caller, claims


async def authenticate(
    token: str,
    oidc: Oidc,
    local: Callable[[str], Caller],
    revoked: Callable[[str], bool],
) -> Caller:
    """A caller from a bearer token: ferry's own sessions and API tokens (``iss: ferry``), else an
    ID token of the SSO provider."""
    if unverified_issuer(token) == LOCAL_ISSUER:
        return local(token)
    caller, _ = await oidc.verify(token)
    if revoked(caller.jti):
        raise Unauthenticated("token revoked: log in again")
    return caller

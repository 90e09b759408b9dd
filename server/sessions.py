"""Sessions: JWTs the API server issues and checks.

Tokens are HS256 JWTs signed with ``server.secretkey`` from ferry-secret, with claims iss
(``ferry``), sub (the account, or ``proj:<project>:<role>`` for project tokens), iat, nbf, exp
and jti. Every token ferry issues expires, and a token without ``exp`` is refused: login
sessions last ``users.session.duration`` (default 24h; ``0``, a negative or an unreadable value
means the default — unlike Argo CD, where ``0`` makes sessions that never expire), API and
project tokens the ``expiresIn`` asked for, or a year when none was.

A token is refused (UNAUTHENTICATED, saying why) when its signature, algorithm or expiry is
wrong, when it was revoked (``server.revocations``: one small Secret per revocation, dropped
when the token expires), when it was issued before the account's last password change or its
last forced logout, when the account is disabled or lost the capability, or when an API token
was deleted.

Login throttling (``LoginThrottle``), before any password is checked:
- per user name: ``max_failures`` failures within ``window`` seconds make further attempts for
  that name fail fast (RESOURCE_EXHAUSTED) until the window passes — for unknown names too, so
  the answer tells nothing about which accounts exist;
- per source address: failures for ``max_failures_per_address`` different user names from one
  address (so cycling through many names from one address does not multiply the guesses);
- globally: at most ``Bcrypt.max_pending`` logins check passwords at once (``server.accounts``).
Failures are kept for at most ``max_tracked`` names and as many addresses; when full, the entry
with the fewest recent failures goes first (so a flood of made-up names cannot push out the
record of an account under attack). Unknown users and wrong passwords get the same answer in the
same time (the same bcrypt cost).
"""

from __future__ import annotations

import asyncio
import enum
import heapq
import ipaddress
import itertools
import json
import logging
import math
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import jwt

from ferry.errors import PermissionDenied, ResourceExhausted, Unauthenticated
from ferry.settings import parse_duration
from server.accounts import Accounts
from server.revocations import Revocations, RevocationsFull
from server.secretstore import SecretStore

log = logging.getLogger(__name__)

ISSUER = "ferry"
LEGACY_REVOKED_KEY = "session.revoked"  # before revocations were Secrets of their own
MAX_USERNAME = 32
DEFAULT_SESSION_SECONDS = 24 * 3600
DEFAULT_TOKEN_SECONDS = 365 * 24 * 3600  # API and project tokens asked for without an expiry


class TokenKind(enum.StrEnum):
    SESSION = "session"  # a password login
    API = "api"  # an account's API token
    PROJECT = "project"  # a project role's token
    SSO = "sso"  # an ID token of the SSO provider


@dataclass(frozen=True)
class Caller:
    """Who is calling: the subjects RBAC checks and what the session says about them."""

    username: str
    groups: tuple[str, ...] = ()
    issuer: str = ISSUER
    jti: str = ""
    expires_at: int = 0
    project_role: str = ""  # "proj:<project>:<role>" for project tokens
    kind: TokenKind = TokenKind.SESSION
    # SSO callers: their RBAC subjects, decided when the token was verified (ferry.oidc.sso_subjects)
    sso_subjects: tuple[str, ...] = ()

    @property
    def subjects(self) -> list[str]:
        if self.project_role:
            return [self.project_role]
        if self.issuer != ISSUER:
            return list(self.sso_subjects)
        return [self.username, *self.groups]

    def is_account(self, name: str) -> bool:
        """Whether the caller is the local account ``name`` itself (a session or API token of it):
        never an SSO user or a project token that happens to carry the same name."""
        return (
            self.issuer == ISSUER
            and self.kind in (TokenKind.SESSION, TokenKind.API)
            and self.username == name
        )


@dataclass(frozen=True)
class ThrottleLimits:
    max_failures: int = 5  # per user name (Argo CD's ARGOCD_SESSION_FAILURE_MAX_FAIL_COUNT)
    max_failures_per_address: int = 20  # different user names failing from one address; 0: no limit
    window: float = 300.0  # seconds (ARGOCD_SESSION_FAILURE_WINDOW_SECONDS)
    max_tracked: int = 10_000  # names (and addresses) remembered (ARGOCD_SESSION_MAX_CACHE_SIZE)


IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class AuthOptions:
    """ferry-server's flags for logins, revocations and streams (see docs/security/authentication.md)."""

    throttle: ThrottleLimits = field(default_factory=ThrottleLimits)
    login_workers: int = 2  # threads hashing passwords
    max_concurrent_logins: int = 50  # logins checking passwords (or waiting to) at once
    max_revoked_tokens: int = 10_000
    trusted_proxies: tuple[IpNetwork, ...] = ()
    stream_recheck_seconds: float = 60.0


def peer_host(peer: str) -> str:
    """The host of a gRPC peer string (``ipv4:10.0.0.1:5000``, ``ipv6:[::1]:5000``); "" otherwise."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rpartition(":")[0]
    if kind == "ipv6":
        return rest.rpartition(":")[0].strip("[]")
    return ""


def client_address(peer: str, forwarded_for: str, trusted: Sequence[IpNetwork]) -> str:
    """The address a login comes from: the direct peer, or — when the peer is a trusted proxy —
    the nearest address of ``X-Forwarded-For`` that is not a trusted proxy itself (everything
    left of it could be made up by the client)."""

    def is_trusted(host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in trusted)

    host = peer
    if not is_trusted(host):
        return host
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        host = hop
        if not is_trusted(hop):
            break
    return host


class _Failures:
    """Recent failures per key, each under an item (an attempt, or the user name tried): at most
    ``limit`` items per key and ``max_keys`` keys, so memory stays bounded whatever is sent."""

    def __init__(self, limit: int, window: float, max_keys: int, clock: Callable[[], float]) -> None:
        self.limit, self.window, self.max_keys, self.clock = limit, window, max_keys, clock
        self.items: dict[str, OrderedDict[str, float]] = {}

    def _recent(self, key: str) -> OrderedDict[str, float]:
        recent = self.items.get(key)
        if recent is None:
            return OrderedDict()
        cutoff = self.clock() - self.window
        while recent and next(iter(recent.values())) < cutoff:
            recent.popitem(last=False)
        if not recent:
            del self.items[key]
        return recent

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may try again; 0 when it may now."""
        if self.limit <= 0:
            return 0.0
        recent = self._recent(key)
        if len(recent) < self.limit:
            return 0.0
        return max(0.0, next(iter(recent.values())) + self.window - self.clock())

    def add(self, key: str, item: str, stamp: float) -> None:
        if self.limit <= 0:
            return
        if key not in self.items and len(self.items) >= self.max_keys:
            self._make_room()
        recent = self.items.setdefault(key, OrderedDict())
        recent[item] = stamp
        recent.move_to_end(item)  # oldest first: the window drops from the front
        while len(recent) > self.limit:
            recent.popitem(last=False)

    def remove(self, key: str, item: str) -> None:
        recent = self.items.get(key)
        if recent is not None:
            recent.pop(item, None)
            if not recent:
                del self.items[key]

    def clear(self, key: str) -> None:
        self.items.pop(key, None)

    def _make_room(self) -> None:
        """Drops keys whose failures all left the window; if that is not enough, the tenth of the
        keys with the fewest recent failures (then the oldest last one): a key near its limit
        stays, and the scan is paid once per many insertions, not on each of a flood's."""
        for key in list(self.items):
            self._recent(key)
        if len(self.items) >= self.max_keys:
            victims = heapq.nsmallest(
                max(1, self.max_keys // 10),
                self.items,
                key=lambda k: (len(self.items[k]), next(reversed(self.items[k].values()))),
            )
            for key in victims:
                del self.items[key]


@dataclass
class LoginThrottle:
    """Failed logins per user name (each attempt counts) and per source address (each different
    user name counts: someone mistyping their own password is the per-name limit's business, a
    sweep over many names from one address is this one's)."""

    limits: ThrottleLimits = field(default_factory=ThrottleLimits)
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        limits = self.limits
        self.by_user = _Failures(limits.max_failures, limits.window, limits.max_tracked, self.clock)
        self.by_address = _Failures(
            limits.max_failures_per_address, limits.window, limits.max_tracked, self.clock
        )
        self._attempts = itertools.count()

    def begin(self, username: str, address: str) -> str:
        """Refuses (RESOURCE_EXHAUSTED) when the name or the address has failed too often; else
        counts the attempt as a failure until ``succeeded`` says otherwise (so attempts running
        at the same time cannot all pass the check). Returns the attempt's id."""
        wait = self.by_user.retry_after(username)
        if wait:
            raise ResourceExhausted(f"too many failed logins for {username!r}; try again in {int(wait) + 1}s")
        if address:
            wait = self.by_address.retry_after(address)
            if wait:
                raise ResourceExhausted(
                    f"too many failed logins from {address}; try again in {int(wait) + 1}s"
                )
        attempt = str(next(self._attempts))
        stamp = self.clock()
        self.by_user.add(username, attempt, stamp)
        if address:
            self.by_address.add(address, username, stamp)
        return attempt

    def succeeded(self, username: str, address: str, attempt: str) -> None:
        self.by_user.clear(username)
        if address:
            self.by_address.remove(address, username)

    def abandon(self, username: str, address: str, attempt: str) -> None:
        """The attempt was not decided (the server was too busy to check it): it counts for nothing."""
        self.by_user.remove(username, attempt)
        if address:
            self.by_address.remove(address, username)


def session_duration(text: str) -> tuple[int, bool]:
    """(seconds, whether ``text`` was usable) for ``users.session.duration``: the default 24h when
    it is unset, unreadable, zero or negative — a login never yields a token that does not expire."""
    try:
        seconds = int(parse_duration(text, DEFAULT_SESSION_SECONDS))
    except ValueError:
        return DEFAULT_SESSION_SECONDS, False
    if seconds <= 0:
        return DEFAULT_SESSION_SECONDS, False
    return seconds, True


class SessionManager:
    def __init__(
        self,
        store: SecretStore,
        accounts: Accounts,
        settings: Callable[[], dict[str, str]],
        revocations: Revocations,
        *,
        throttle: LoginThrottle | None = None,
    ) -> None:
        self.store = store
        self.accounts = accounts
        self.settings = settings
        self.revocations = revocations
        self.throttle = throttle or LoginThrottle()
        self._warned_duration = ""

    def session_seconds(self) -> int:
        """``users.session.duration`` (see :func:`session_duration`), its misuse logged once."""
        text = self.settings().get("users.session.duration", "")
        seconds, valid = session_duration(text)
        if not valid and text != self._warned_duration:
            self._warned_duration = text
            log.error(
                "ferry-cm users.session.duration must be a positive duration; using 24h",
                extra={"value": text},
            )
        return seconds

    def mint(
        self, subject: str, *, expires_in: int | None, jti: str | None = None, **extra: Any
    ) -> tuple[str, dict[str, Any]]:
        """A signed token for ``subject``; ``expires_in`` None or 0 means DEFAULT_TOKEN_SECONDS."""
        if expires_in is not None and expires_in < 0:
            raise ValueError("expires_in must not be negative")
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + (expires_in or DEFAULT_TOKEN_SECONDS),
            "jti": jti or str(uuid.uuid4()),
        }
        claims.update(extra)
        return jwt.encode(claims, self.store.signing_key(), algorithm="HS256"), claims

    async def login(self, username: str, password: str, *, address: str = "") -> str:
        """A session token for a local account; the same failure for unknown users and wrong passwords."""
        if not username or len(username.encode()) > MAX_USERNAME:
            raise Unauthenticated("invalid username or password")
        attempt = self.throttle.begin(username, address)
        account = self.accounts.get(username)
        hashed = (
            account.password_hash if account and account.enabled and "login" in account.capabilities else ""
        )
        try:
            matches = await self.accounts.bcrypt.check(password, hashed)
        except ResourceExhausted:
            self.throttle.abandon(username, address, attempt)
            raise
        if not matches:
            log.warning("failed login", extra={"username": username, "address": address})
            raise Unauthenticated("invalid username or password")
        self.throttle.succeeded(username, address, attempt)
        assert account is not None
        # a token issued in the second the account's sessions were ended would count as ended
        wait = math.floor(account.sessions_not_before) + 1 - time.time()
        if wait > 0:
            await asyncio.sleep(wait)
        token, _ = self.mint(username, expires_in=self.session_seconds())
        return token

    def revoked(self, token_id: str) -> bool:
        return token_id in self.revocations

    async def revoke(self, caller: Caller) -> None:
        """Ends the caller's token. Beyond the revocation limit, a login session ends with all
        other sessions of its account issued until now (one timestamp per account instead of one
        object per token); other tokens then cannot be revoked until revocations expire."""
        if not caller.jti:
            return
        try:
            await self.revocations.revoke(caller.jti, caller.expires_at)
        except RevocationsFull as err:
            if caller.kind != TokenKind.SESSION:
                raise ResourceExhausted(f"cannot revoke the token now: {err}; try again later") from None
            log.warning(
                "revocation limit reached: ending every session of the account",
                extra={"account": caller.username},
            )
            await self.accounts.end_sessions(caller.username)

    async def migrate_legacy_revocations(self) -> None:
        """Revocations kept in ferry-secret ``session.revoked`` before they had Secrets of their own."""
        legacy = self.store.get(LEGACY_REVOKED_KEY)
        if not legacy:
            return
        now = int(time.time())
        for token_id, expires_at in (json.loads(legacy) or {}).items():
            if int(expires_at) > now:  # entries without expiry are moot: such tokens are refused
                try:
                    await self.revocations.revoke(str(token_id), int(expires_at))
                except RevocationsFull:
                    break
        await self.store.update(lambda _: {LEGACY_REVOKED_KEY: None})

    def verify(self, token: str, projects: Callable[[str], dict[str, Any] | None]) -> Caller:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise Unauthenticated("invalid token: not a JWT") from None
        if header.get("alg") != "HS256":
            raise Unauthenticated(f"invalid token: algorithm {header.get('alg')!r} is not accepted")
        try:
            claims = jwt.decode(
                token,
                self.store.signing_key(),
                algorithms=["HS256"],
                issuer=ISSUER,
                options={"require": ["iat", "sub", "jti", "exp"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("token expired: log in again") from None
        except jwt.MissingRequiredClaimError as err:
            raise Unauthenticated(
                f"invalid token: it has no {err.claim!r} claim (tokens must expire)"
            ) from None
        except jwt.InvalidTokenError as err:
            raise Unauthenticated(f"invalid token: {err}") from None
        jti = str(claims["jti"])
        if self.revoked(jti):
            raise Unauthenticated("token revoked: log in again")
        subject = str(claims["sub"])
        if subject.startswith("proj:"):
            return self._project_caller(claims, projects)
        username = subject.split(":", 1)[0]
        account = self.accounts.get(username)
        if account is None or not account.enabled:
            raise Unauthenticated(f"account {username!r} is disabled or does not exist")
        if int(claims["iat"]) < int(account.password_mtime):
            raise Unauthenticated("token issued before the last password change: log in again")
        api = bool(claims.get("api"))
        if api:
            if "apiKey" not in account.capabilities or not any(t.get("id") == jti for t in account.tokens):
                raise Unauthenticated("API token was deleted or the account cannot use API keys")
        else:
            if "login" not in account.capabilities:
                raise Unauthenticated(f"account {username!r} cannot log in")
            if int(claims["iat"]) <= account.sessions_not_before:
                raise Unauthenticated("token revoked (every session of the account was ended): log in again")
        return Caller(
            username=username,
            groups=tuple(claims.get("groups") or ()),
            jti=jti,
            expires_at=int(claims["exp"]),
            kind=TokenKind.API if api else TokenKind.SESSION,
        )

    @staticmethod
    def _project_caller(claims: dict[str, Any], projects: Callable[[str], dict[str, Any] | None]) -> Caller:
        _, project, role = [*str(claims["sub"]).split(":", 2), "", ""][:3]
        proj = projects(project)
        roles = {r.get("name"): r for r in ((proj or {}).get("spec") or {}).get("roles") or []}
        if role not in roles:
            raise Unauthenticated(f"project role {project}/{role} no longer exists")
        if not any(str(t.get("id")) == str(claims["jti"]) for t in roles[role].get("jwtTokens") or []):
            raise Unauthenticated("project token was deleted")
        return Caller(
            username=str(claims["sub"]),
            jti=str(claims["jti"]),
            expires_at=int(claims["exp"]),
            project_role=str(claims["sub"]),
            kind=TokenKind.PROJECT,
        )


def require(allowed: bool, what: str) -> None:
    if not allowed:
        raise PermissionDenied(f"permission denied: {what}")

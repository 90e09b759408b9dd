"""Sessions: JWTs the API server issues and checks.

Tokens are HS256 JWTs signed with ``server.secretkey`` from ferry-secret, with claims iss
(``ferry``), sub (the account, or ``proj:<project>:<role>`` for project tokens), iat, nbf, exp
and jti. A token is refused (UNAUTHENTICATED, saying why) when its signature, algorithm or
expiry is wrong, when it was revoked (revocations are stored in ferry-secret, so they survive
restarts and reach every replica), when it was issued before the account's last password change,
when the account is disabled or lost the capability, or when an API token was deleted.

Login throttling: five failures for a user within five minutes make further attempts fail fast
(RESOURCE_EXHAUSTED) until the window passes; unknown users and wrong passwords get the same
answer in the same time.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt

from ferry.errors import PermissionDenied, ResourceExhausted, Unauthenticated
from ferry.settings import parse_duration
from server.accounts import Accounts, check_password
from server.secretstore import SecretStore

ISSUER = "ferry"
REVOKED_KEY = "session.revoked"
MAX_FAILURES = 5
FAILURE_WINDOW = 300.0
MAX_USERNAME = 32


@dataclass(frozen=True)
class Caller:
    """Who is calling: the subjects RBAC checks and what the session says about them."""

    username: str
    groups: tuple[str, ...] = ()
    issuer: str = ISSUER
    jti: str = ""
    expires_at: int = 0
    project_role: str = ""  # "proj:<project>:<role>" for project tokens

    @property
    def subjects(self) -> list[str]:
        return [self.project_role] if self.project_role else [self.username, *self.groups]


@dataclass
class LoginThrottle:
    failures: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))

    def check(self, username: str) -> None:
        recent = self._recent(username)
        if len(recent) >= MAX_FAILURES:
            wait = int(recent[0] + FAILURE_WINDOW - time.monotonic()) + 1
            raise ResourceExhausted(f"too many failed logins for {username!r}; try again in {wait}s")

    def failed(self, username: str) -> None:
        self._recent(username).append(time.monotonic())

    def succeeded(self, username: str) -> None:
        self.failures.pop(username, None)

    def _recent(self, username: str) -> deque[float]:
        recent = self.failures[username]
        while recent and recent[0] < time.monotonic() - FAILURE_WINDOW:
            recent.popleft()
        return recent


class SessionManager:
    def __init__(
        self, store: SecretStore, accounts: Accounts, settings: Callable[[], dict[str, str]]
    ) -> None:
        self.store = store
        self.accounts = accounts
        self.settings = settings
        self.throttle = LoginThrottle()

    def _duration(self) -> int:
        return int(parse_duration(self.settings().get("users.session.duration", ""), 24 * 3600.0))

    def mint(
        self, subject: str, *, expires_in: int | None, jti: str | None = None, **extra: Any
    ) -> tuple[str, dict[str, Any]]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "jti": jti or str(uuid.uuid4()),
        }
        if expires_in:
            claims["exp"] = now + expires_in
        claims.update(extra)
        return jwt.encode(claims, self.store.signing_key(), algorithm="HS256"), claims

    def login(self, username: str, password: str) -> str:
        """A session token for a local account; the same failure for unknown users and wrong passwords."""
        if not username or len(username.encode()) > MAX_USERNAME:
            raise Unauthenticated("invalid username or password")
        self.throttle.check(username)
        account = self.accounts.get(username)
        hashed = (
            account.password_hash if account and account.enabled and "login" in account.capabilities else ""
        )
        if not check_password(password, hashed):
            self.throttle.failed(username)
            raise Unauthenticated("invalid username or password")
        self.throttle.succeeded(username)
        token, _ = self.mint(username, expires_in=self._duration())
        return token

    def revoked(self) -> dict[str, int]:
        return {k: int(v) for k, v in json.loads(self.store.get(REVOKED_KEY) or "{}").items()}

    async def revoke(self, jti: str, expires_at: int) -> None:
        now = int(time.time())

        def change(data: dict[str, str]) -> dict[str, str | None]:
            entries = {
                k: v
                for k, v in json.loads(data.get(REVOKED_KEY) or "{}").items()
                if int(v) == 0 or int(v) > now
            }
            entries[jti] = expires_at
            return {REVOKED_KEY: json.dumps(entries)}

        await self.store.update(change)

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
                options={"require": ["iat", "sub", "jti"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("token expired: log in again") from None
        except jwt.InvalidTokenError as err:
            raise Unauthenticated(f"invalid token: {err}") from None
        jti = str(claims["jti"])
        if jti in self.revoked():
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
        if claims.get("api"):
            if "apiKey" not in account.capabilities or not any(t.get("id") == jti for t in account.tokens):
                raise Unauthenticated("API token was deleted or the account cannot use API keys")
        elif "login" not in account.capabilities:
            raise Unauthenticated(f"account {username!r} cannot log in")
        return Caller(
            username=username,
            groups=tuple(claims.get("groups") or ()),
            jti=jti,
            expires_at=int(claims.get("exp", 0)),
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
        return Caller(username=str(claims["sub"]), jti=str(claims["jti"]), project_role=str(claims["sub"]))


def require(allowed: bool, what: str) -> None:
    if not allowed:
        raise PermissionDenied(f"permission denied: {what}")

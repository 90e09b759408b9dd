"""Service tokens: how the controller and the API server prove to the repo server that they are
ferry. A short-lived JWT (HS256) signed with the service key from the Secret ``ferry-secret``
(key ``service.key``), presented as ``authorization: Bearer <token>`` gRPC metadata.

The key reaches each process as a file (the mounted Secret) or an environment variable; the repo
server never talks to Kubernetes to get it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import jwt

from ferry.errors import Unauthenticated

ISSUER = "ferry"
AUDIENCE = "ferry-reposerver"
SECRET_KEY_NAME = "service.key"  # noqa: S105 (a key name, not a key)
LIFETIME_SECONDS = 300


def load_key(*, key_file: str | None, env_var: str = "FERRY_SERVICE_KEY") -> bytes:
    """The service key from a file (preferred) or an environment variable; empty when neither."""
    if key_file:
        return Path(key_file).read_bytes().strip()
    return os.environ.get(env_var, "").encode()


def mint(key: bytes, subject: str, *, lifetime: int = LIFETIME_SECONDS) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": subject,
        "iat": now,
        "nbf": now - 5,
        "exp": now + lifetime,
    }
    return jwt.encode(claims, key, algorithm="HS256")


def verify(key: bytes, token: str) -> str:
    """The subject of a valid token; Unauthenticated (saying why) otherwise."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("service token expired") from None
    except jwt.InvalidTokenError as err:
        raise Unauthenticated(f"invalid service token: {err}") from None
    return str(claims["sub"])


class TokenSource:
    """Mints a token and reuses it until a minute before it expires."""

    def __init__(self, key: bytes, subject: str) -> None:
        self._key, self._subject = key, subject
        self._token, self._expires = "", 0.0

    def metadata(self) -> tuple[tuple[str, str], ...]:
        if time.time() > self._expires - 60:
            self._token = mint(self._key, self._subject)
            self._expires = time.time() + LIFETIME_SECONDS
        return (("authorization", f"Bearer {self._token}"),)

"""OpenID Connect pieces shared by ferry-server and the ``ferry`` CLI, all pure: PKCE pairs,
authorization request URLs, and the checks an ID token's claims must pass (issuer, audience,
authorized party, expiry, issue time, nonce).

Signatures are checked by the caller with the issuer's JWKS; only asymmetric algorithms are
accepted (``none`` and the HMAC family would let anyone who knows the client secret — or no one
at all — mint tokens).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import urllib.parse
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Algorithms an ID token may be signed with: public-key signatures only.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
# Clock skew tolerated between ferry and the identity provider, in seconds.
LEEWAY = 10
DEFAULT_SCOPES = ("openid", "profile", "email", "groups")
CLI_REDIRECT_PATH = "/auth/callback"
DEFAULT_CLI_PORT = 8085
# RBAC subjects of SSO users are qualified with this; bare values starting with a reserved prefix
# (roles, project roles, qualified subjects) are never subjects.
SSO_SUBJECT_PREFIX = "sso:"
RESERVED_SUBJECT_PREFIXES = ("role:", "proj:", SSO_SUBJECT_PREFIX)


class ClaimsError(ValueError):
    """Why a token's claims are refused; ``expired`` tells expiry apart (the CLI suggests a login)."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


def random_token(size: int = 32) -> str:
    return secrets.token_urlsafe(size)


@dataclass(frozen=True)
class Pkce:
    verifier: str
    challenge: str
    method: str = "S256"


def new_pkce() -> Pkce:
    """A code verifier (RFC 7636: 43-128 characters) and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    return Pkce(verifier, s256(verifier))


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorization_url(
    endpoint: str,
    *,
    client_id: str,
    redirect_uri: str,
    scopes: Sequence[str],
    state: str,
    nonce: str,
    pkce: Pkce | None,
) -> str:
    """The authorization code request (``response_type=code``) to send the browser to."""
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(dict.fromkeys(["openid", *scopes])),
        "state": state,
        "nonce": nonce,
    }
    if pkce is not None:
        params["code_challenge"] = pkce.challenge
        params["code_challenge_method"] = pkce.method
    parts = urllib.parse.urlsplit(endpoint)
    query = "&".join(q for q in (parts.query, urllib.parse.urlencode(params)) if q)
    return urllib.parse.urlunsplit(parts._replace(query=query))


def _audiences(claims: Mapping[str, Any]) -> list[str]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list) and all(isinstance(a, str) for a in aud):
        return list(aud)
    return []


def check_claims(
    claims: Mapping[str, Any],
    *,
    issuer: str,
    audiences: Sequence[str],
    now: float,
    nonce: str | None = None,
    leeway: float = LEEWAY,
) -> None:
    """Raises ClaimsError unless the claims are those of a current ID token of ``issuer`` for one
    of ``audiences`` (OpenID Connect Core 3.1.3.7); with ``nonce``, the token must carry it."""
    if claims.get("iss") != issuer:
        raise ClaimsError(f"issuer {claims.get('iss')!r} is not trusted (expected {issuer!r})")
    token_audiences = _audiences(claims)
    if not token_audiences:
        raise ClaimsError("the token names no audience")
    if not set(token_audiences) & set(audiences):
        raise ClaimsError(f"audience {', '.join(token_audiences)} is not this server's client")
    if len(token_audiences) > 1 and claims.get("azp") not in audiences:
        raise ClaimsError(f"authorized party {claims.get('azp')!r} is not this server's client")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise ClaimsError("the token has no subject")
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise ClaimsError("the token has no expiry")
    if now > exp + leeway:
        raise ClaimsError("token expired", expired=True)
    iat = claims.get("iat")
    if not isinstance(iat, int | float) or isinstance(iat, bool):
        raise ClaimsError("the token has no issue time")
    if iat > now + leeway:
        raise ClaimsError("the token was issued in the future")
    nbf = claims.get("nbf")
    if isinstance(nbf, int | float) and nbf > now + leeway:
        raise ClaimsError("the token is not valid yet")
    if nonce is not None and not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
        raise ClaimsError("nonce mismatch: the token was not issued for this login")


def group_subjects(claims: Mapping[str, Any], scopes: Sequence[str]) -> list[str]:
    """RBAC subjects from the claims named by ``scopes`` (Argo CD's ``scopes``, e.g. groups,
    email): a list claim gives each string in it, a string claim itself."""
    subjects: list[str] = []
    for scope in scopes:
        value = claims.get(scope)
        if isinstance(value, str) and value:
            subjects.append(value)
        elif isinstance(value, list):
            subjects += [v for v in value if isinstance(v, str) and v]
    return list(dict.fromkeys(subjects))


def user_identifier(claims: Mapping[str, Any]) -> str:
    """Who the token is about, for RBAC: Dex's federated user id when present, else ``sub``."""
    federated = claims.get("federated_claims")
    if isinstance(federated, dict) and isinstance(federated.get("user_id"), str) and federated["user_id"]:
        return str(federated["user_id"])
    return str(claims.get("sub", ""))


def sso_subjects(
    user: str, groups: Sequence[str], local_accounts: Collection[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(RBAC subjects, refused bare values) of an SSO user: for the user id and each group, the
    qualified ``sso:<value>`` always, and the bare value (how Argo CD policies name users and
    groups) unless it could be taken for something it is not — the name of a local account, or a
    role, project role or qualified subject (``role:``, ``proj:``, ``sso:``; any case, any
    surrounding space). So no identity provider can make a user ``admin`` or a group
    ``role:admin``."""
    subjects: list[str] = []
    refused: list[str] = []
    for value in dict.fromkeys([user, *groups]):
        if not value:
            continue
        subjects.append(SSO_SUBJECT_PREFIX + value)
        bare = value.strip()
        if bare in local_accounts or bare.lower().startswith(RESERVED_SUBJECT_PREFIXES) or bare != value:
            refused.append(value)
        else:
            subjects.append(value)
    return tuple(subjects), tuple(refused)

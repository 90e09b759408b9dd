"""SSO's pure parts: ID token claims, return URLs, oidc.config / dex.config parsing, RBAC subjects
from claims, and token verification against a key set held in memory (no provider)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import jwt
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa

from ferry.errors import Unauthenticated
from ferry.oidc import (
    ClaimsError,
    authorization_url,
    check_claims,
    group_subjects,
    new_pkce,
    s256,
    sso_subjects,
    user_identifier,
)
from server.dex import DexConfigError, dex_connectors, generate
from server.oidc import (
    ConfigError,
    OidcSettings,
    Provider,
    dex_client_secret,
    parse_settings,
    rbac_scopes,
    verify_id_token,
)
from server.sso import ReturnUrlError, safe_return_url

ISSUER = "https://sso.example.com"
NOW = 1_800_000_000


def claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": "ferry",
        "sub": "user-1",
        "iat": NOW - 10,
        "exp": NOW + 3600,
        "nonce": "n-1",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def check(c: dict[str, Any], nonce: str | None = None) -> None:
    check_claims(c, issuer=ISSUER, audiences=("ferry", "ferry-cli"), now=NOW, nonce=nonce)


# --- claims ---------------------------------------------------------------------------------------


def test_good_claims_pass() -> None:
    check(claims(), nonce="n-1")
    check(claims(aud="ferry-cli"))
    check(claims(aud=["ferry", "other"], azp="ferry"))


@pytest.mark.parametrize(
    ("changed", "reason"),
    [
        ({"iss": "https://evil.example.com"}, "issuer 'https://evil.example.com' is not trusted"),
        ({"iss": ISSUER + "/"}, "is not trusted"),
        ({"aud": "someone-else"}, "audience someone-else is not this server's client"),
        ({"aud": None}, "names no audience"),
        ({"aud": ["ferry", "other"], "azp": "other"}, "authorized party 'other'"),
        ({"sub": None}, "no subject"),
        ({"exp": None}, "no expiry"),
        ({"exp": NOW - 61}, "token expired"),
        ({"iat": NOW + 3600}, "issued in the future"),
        ({"nbf": NOW + 3600}, "not valid yet"),
    ],
)
def test_bad_claims_are_refused_saying_why(changed: dict[str, Any], reason: str) -> None:
    with pytest.raises(ClaimsError, match=reason):
        check(claims(**changed))


def test_expiry_tolerates_ten_seconds_of_skew_and_says_it_expired() -> None:
    check(claims(exp=NOW - 9))
    with pytest.raises(ClaimsError) as err:
        check(claims(exp=NOW - 11))
    assert err.value.expired


def test_nonce_must_match_when_expected() -> None:
    with pytest.raises(ClaimsError, match="nonce mismatch"):
        check(claims(nonce="other"), nonce="n-1")
    with pytest.raises(ClaimsError, match="nonce mismatch"):
        check(claims(nonce=None), nonce="n-1")


def test_rbac_subjects_from_claims() -> None:
    c = {"sub": "s", "groups": ["devs", "ops", 3], "email": "a@x.io"}
    assert group_subjects(c, ["groups"]) == ["devs", "ops"]
    assert group_subjects(c, ["groups", "email"]) == ["devs", "ops", "a@x.io"]
    assert group_subjects(c, ["missing"]) == []
    assert user_identifier(c) == "s"
    assert user_identifier({"sub": "s", "federated_claims": {"user_id": "alice"}}) == "alice"


def test_sso_subjects_never_name_a_local_account_or_a_role() -> None:
    """Finding 20: an IdP user ``admin`` or a group ``role:admin`` / ``proj:p:r`` is not the local
    admin nor that role; each keeps its qualified ``sso:`` subject, which policies can name."""
    local = frozenset({"admin", "ci"})
    subjects, refused = sso_subjects(
        "admin", ["devs", "role:admin", "Proj:team-a:owner", "ci", "sso:admin", " admin", "my-org:ops"], local
    )
    assert {"admin", "role:admin", "ci"}.isdisjoint(subjects)
    assert not [s for s in subjects if s.lower().startswith(("role:", "proj:"))]
    assert subjects == (
        "sso:admin",
        "sso:devs",
        "devs",
        "sso:role:admin",
        "sso:Proj:team-a:owner",
        "sso:ci",
        "sso:sso:admin",
        "sso: admin",
        "sso:my-org:ops",
        "my-org:ops",
    )
    assert refused == ("admin", "role:admin", "Proj:team-a:owner", "ci", "sso:admin", " admin")
    # an ordinary user keeps the bare subjects Argo CD policies use
    assert sso_subjects("alice@example.com", ["devs"], local) == (
        ("sso:alice@example.com", "alice@example.com", "sso:devs", "devs"),
        (),
    )


def test_pkce_and_the_authorization_url() -> None:
    pkce = new_pkce()
    assert 43 <= len(pkce.verifier) <= 128
    # RFC 7636 appendix B
    assert (
        s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )
    url = authorization_url(
        "https://sso.example.com/auth?tenant=a",
        client_id="ferry",
        redirect_uri="https://ferry.example.com/auth/callback",
        scopes=["profile", "openid", "groups"],
        state="st",
        nonce="no",
        pkce=pkce,
    )
    assert url.startswith("https://sso.example.com/auth?tenant=a&response_type=code&")
    assert "scope=openid+profile+groups" in url
    assert f"code_challenge={pkce.challenge}" in url
    assert "code_challenge_method=S256" in url


# --- return URLs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", "/"),
        ("/applications", "/applications"),
        ("/applications?sync=OutOfSync#top", "/applications?sync=OutOfSync#top"),
        ("https://ferry.example.com/applications/web", "/applications/web"),
        ("HTTPS://FERRY.EXAMPLE.COM/x", "/x"),
    ],
)
def test_same_origin_return_urls(value: str, expected: str) -> None:
    assert safe_return_url(value, "https://ferry.example.com") == expected


@pytest.mark.parametrize(
    "value",
    [
        "https://evil.example.com/",
        "//evil.example.com/x",
        "/\\evil.example.com",
        "\\\\evil.example.com",
        "http://ferry.example.com/",  # another scheme is another origin
        "https://ferry.example.com:8443/",
        "https://ferry.example.com@evil.example.com/",
        "javascript:alert(1)",
        "applications",
        "/x\r\nSet-Cookie: a=b",
        "https://ferry.example.com//evil.example.com",
    ],
)
def test_off_site_return_urls_are_refused(value: str) -> None:
    with pytest.raises(ReturnUrlError):
        safe_return_url(value, "https://ferry.example.com")


# --- settings ---------------------------------------------------------------------------------------


def test_oidc_config_with_a_secret_reference() -> None:
    text = yaml.safe_dump(
        {
            "name": "Corp",
            "issuer": ISSUER + "/",
            "clientID": "ferry",
            "clientSecret": "$oidc.corp.secret",
            "cliClientID": "ferry-cli",
            "requestedScopes": ["openid", "groups"],
            "groupsClaim": "roles",
            "enablePKCEAuthentication": False,
        }
    )
    parsed = parse_settings({"oidc.config": text}, {"oidc.corp.secret": "s3cret"})
    assert parsed == OidcSettings(
        issuer=ISSUER,
        client_id="ferry",
        client_secret="s3cret",
        name="Corp",
        cli_client_id="ferry-cli",
        scopes=("openid", "groups"),
        groups_claim="roles",
        pkce=False,
    )
    assert parsed.audiences == ("ferry", "ferry-cli")
    assert parse_settings({}, {}) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("issuer: https://x\n", "needs issuer and clientID"),
        ("[a]", "must be a YAML mapping"),
        ("issuer: http://sso.example.com\nclientID: a\n", "must be an https URL"),
        ("issuer: https://x\nclientID: a\nclientSecret: $missing\n", r"\$missing, which ferry-secret"),
        ("issuer: https://x\nclientID: a\nrequestedScopes: openid\n", "must be a list of strings"),
        ("issuer: https://x\nclientID: a\nenablePKCEAuthentication: maybe\n", "true or false"),
        ("issuer: [\n", "not YAML"),
    ],
)
def test_bad_oidc_config_says_why(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_settings({"oidc.config": text}, {})


def test_dex_settings_and_generated_config() -> None:
    settings = {
        "url": "https://ferry.example.com/",
        "dex.config": yaml.safe_dump(
            {
                "connectors": [
                    {"type": "github", "id": "gh", "name": "GitHub", "config": {"clientSecret": "$gh.secret"}}
                ],
                "staticClients": [{"id": "ferry", "secret": "hijack"}, {"id": "grafana", "secret": "g"}],
            }
        ),
    }
    secrets = {"server.secretkey": "k" * 40, "gh.secret": "from-ferry-secret"}
    oidc = parse_settings(settings, secrets, dex_server="https://dex:5556")
    assert oidc is not None
    assert oidc.issuer == "https://ferry.example.com/api/dex"
    assert (oidc.client_id, oidc.cli_client_id, oidc.dex) == ("ferry", "ferry-cli", True)
    assert oidc.client_secret == dex_client_secret("k" * 40) != dex_client_secret("other")
    config = generate(settings, secrets)
    assert config is not None
    assert config["issuer"] == oidc.issuer
    assert config["connectors"][0]["config"]["clientSecret"] == "from-ferry-secret"
    clients = {c["id"]: c for c in config["staticClients"]}
    assert set(clients) == {"ferry", "ferry-cli", "grafana"}
    assert clients["ferry"]["secret"] == oidc.client_secret  # dex.config cannot replace ferry's client
    assert clients["ferry"]["redirectURIs"] == ["https://ferry.example.com/auth/callback"]
    assert clients["ferry-cli"]["public"] is True
    assert config["storage"] == {"type": "memory"}
    assert dex_connectors(settings["dex.config"]) == [("GitHub", "github")]
    with pytest.raises(ConfigError, match="--dex-server"):
        parse_settings(settings, secrets)
    with pytest.raises(ConfigError, match="needs url"):
        parse_settings({"dex.config": "connectors: []"}, secrets, dex_server="https://dex")
    with pytest.raises(DexConfigError, match=r"\$gh.secret"):
        generate(settings, {"server.secretkey": "k"})
    assert generate({}, secrets) is None


def test_oidc_config_wins_over_dex_config() -> None:
    parsed = parse_settings(
        {
            "oidc.config": f"issuer: {ISSUER}\nclientID: a\n",
            "dex.config": "connectors: []",
            "url": "https://f",
        },
        {},
    )
    assert parsed is not None
    assert parsed.issuer == ISSUER


def test_rbac_scopes() -> None:
    oidc = OidcSettings(issuer=ISSUER, client_id="a", groups_claim="roles")
    assert rbac_scopes({}, oidc) == ("roles",)
    assert rbac_scopes({"scopes": "[groups, email]"}, oidc) == ("groups", "email")
    assert rbac_scopes({"scopes": "{not: a list}"}, oidc) == ("roles",)


# --- verification with keys held in memory ------------------------------------------------------------


class MemoryProvider(Provider):
    """A provider whose key sets come from a list the test changes (rotation), fetches counted."""

    def __init__(self, key_sets: list[dict[str, Any]]) -> None:
        super().__init__(ISSUER)
        self.key_sets = key_sets
        self.fetches = 0

    async def _fetch_keys(self) -> None:
        self.fetches += 1
        self._keys = {k["kid"]: jwt.PyJWK.from_dict(k) for k in self.key_sets[-1]["keys"]}
        self._keys_at = time.monotonic()


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {"keys": [{**jwk, "kid": kid, "use": "sig", "alg": "RS256"}]}


def sign(key: Any, kid: str, alg: str = "RS256", **overrides: Any) -> str:
    now = int(time.time())
    return jwt.encode(claims(iat=now, exp=now + 600, **overrides), key, algorithm=alg, headers={"kid": kid})


def run(provider: Provider, token: str, nonce: str | None = None) -> dict[str, Any]:
    return asyncio.run(verify_id_token(provider, token, audiences=("ferry",), nonce=nonce))


def test_verification_accepts_a_good_token_and_refuses_forgeries() -> None:
    key, other = rsa_key(), rsa_key()
    provider = MemoryProvider([jwks(key, "k1")])
    assert run(provider, sign(key, "k1"), nonce="n-1")["sub"] == "user-1"

    def refused(token: str, message: str, nonce: str | None = None) -> None:
        with pytest.raises(Unauthenticated, match=message):
            run(provider, token, nonce)

    payload = base64.urlsafe_b64encode(json.dumps(claims(iat=int(time.time()))).encode()).rstrip(b"=")
    unsigned = base64.urlsafe_b64encode(b'{"alg":"none","kid":"k1"}').rstrip(b"=") + b"." + payload + b"."
    refused(unsigned.decode(), "algorithm 'none' is not accepted")
    refused(sign(b"k" * 32, "k1", alg="HS256"), "algorithm 'HS256' is not accepted")
    refused(sign(other, "k1"), "signature verification failed")
    refused(
        sign(key, "k1", iss="https://evil.example.com"), "issuer 'https://evil.example.com' is not trusted"
    )
    refused(sign(key, "k1", aud="someone-else"), "audience someone-else")
    refused(sign(key, "k1", nonce="other"), "nonce mismatch", nonce="n-1")
    now = int(time.time())
    expired = jwt.encode(
        claims(iat=now - 7200, exp=now - 3600), key, algorithm="RS256", headers={"kid": "k1"}
    )
    refused(expired, "token expired")
    refused("not-a-jwt", "not a JWT")


def test_an_unknown_key_id_fetches_the_keys_again_rotation() -> None:
    old, new = rsa_key(), rsa_key()
    provider = MemoryProvider([jwks(old, "k1")])
    provider.min_refetch = 0.0
    run(provider, sign(old, "k1"))
    assert provider.fetches == 1
    run(provider, sign(old, "k1"))
    assert provider.fetches == 1, "cached"
    provider.key_sets.append(jwks(new, "k2"))
    run(provider, sign(new, "k2"))
    assert provider.fetches == 2
    with pytest.raises(Unauthenticated, match="no signing key 'k1'"):
        run(provider, sign(old, "k1"))  # rotated out
    assert provider.fetches == 3


class GatedProvider(MemoryProvider):
    """Fetches wait for ``gate`` (a provider that answers slowly), counted as they start."""

    def __init__(self, key_sets: list[dict[str, Any]]) -> None:
        super().__init__(key_sets)
        self.gate = asyncio.Event()
        self.gate.set()

    async def _fetch_keys(self) -> None:
        self.fetches += 1
        await self.gate.wait()
        self._keys = {k["kid"]: jwt.PyJWK.from_dict(k) for k in self.key_sets[-1]["keys"]}
        self._keys_at = time.monotonic()


def test_unknown_key_ids_neither_hold_up_other_logins_nor_flood_the_provider() -> None:
    """Finding 17: tokens naming made-up key ids used to hold the provider's lock while sleeping
    and fetching, so every SSO request waited behind them."""
    key = rsa_key()
    good = sign(key, "k1")

    async def scenario() -> None:
        provider = GatedProvider([jwks(key, "k1")])
        await verify_id_token(provider, good, audiences=("ferry",))
        assert provider.fetches == 1
        provider.gate.clear()  # from now on the provider takes as long as the test says
        forged = [
            asyncio.create_task(verify_id_token(provider, sign(key, f"r{i}"), audiences=("ferry",)))
            for i in range(30)
        ]
        await asyncio.sleep(0)
        # a token with a known key is answered while the refetch for the made-up ones hangs
        claims = await asyncio.wait_for(verify_id_token(provider, good, audiences=("ferry",)), timeout=10)
        assert claims["sub"] == "user-1"
        assert provider.fetches == 2, "thirty unknown key ids share one fetch"
        provider.gate.set()
        results = await asyncio.gather(*forged, return_exceptions=True)
        assert all(isinstance(r, Unauthenticated) and "no signing key" in r.message for r in results)
        # right after that fetch, more made-up ids are refused at once, without fetching again
        for i in range(30, 40):
            with pytest.raises(Unauthenticated, match="no signing key"):
                await asyncio.wait_for(verify_id_token(provider, sign(key, f"r{i}"), audiences=("ferry",)), 1)
        assert provider.fetches == 2

    asyncio.run(scenario())

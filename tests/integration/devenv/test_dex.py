"""Real Dex over HTTPS (certificate from a local CA) with users and groups in a real LDAP
directory: discovery, signed ID tokens carrying each user's groups, refused passwords, and new
signing keys after a restart on the same issuer."""

from __future__ import annotations

import urllib.error
from collections.abc import Iterator

import jwt
import pytest

from ferry import pki
from ferry_devenv.dex import DexClient, DexServer, DexUser, LdapDirectory

USERS = [
    DexUser("alice", "alice-pw", groups=("deployers", "everyone")),
    DexUser("bob", "bob-pw", groups=("everyone",)),
]


@pytest.fixture(scope="module")
def dex() -> Iterator[DexServer]:
    ldap = LdapDirectory(USERS).start()
    server = DexServer(pki.new_ca("dex-test-ca"), ldap, clients=[DexClient("app", "app-secret")])
    server.start()
    yield server
    server.stop()
    ldap.stop()


def _claims(dex: DexServer, token: str) -> dict[str, object]:
    keys = jwt.PyJWKSet.from_dict(dex.get_json("/keys"))
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in keys.keys if k.key_id == kid)
    claims: dict[str, object] = jwt.decode(
        token, key.key, algorithms=["RS256"], audience="app", issuer=dex.issuer
    )
    return claims


def test_discovery_is_served_over_https_with_the_local_ca(dex: DexServer) -> None:
    document = dex.get_json("/.well-known/openid-configuration")
    assert document["issuer"] == dex.issuer
    assert dex.issuer.startswith("https://127.0.0.1:")
    assert "S256" in document["code_challenge_methods_supported"]


def test_each_user_gets_their_groups_from_ldap(dex: DexServer) -> None:
    alice = _claims(dex, dex.password_grant("app", "app-secret", "alice", "alice-pw")["id_token"])
    bob = _claims(dex, dex.password_grant("app", "app-secret", "bob", "bob-pw")["id_token"])
    assert alice["email"] == "alice@ferry.test"
    assert sorted(alice["groups"]) == ["deployers", "everyone"]  # type: ignore[call-overload]
    assert bob["groups"] == ["everyone"]
    assert alice["sub"] != bob["sub"]


def test_a_wrong_password_is_refused(dex: DexServer) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        dex.password_grant("app", "app-secret", "alice", "wrong")
    assert refused.value.code == 401


def test_a_restart_keeps_the_issuer_and_rotates_the_keys(dex: DexServer) -> None:
    before = {k["kid"] for k in dex.get_json("/keys")["keys"]}
    issuer = dex.issuer
    dex.restart()
    assert dex.issuer == issuer
    assert not before & {k["kid"] for k in dex.get_json("/keys")["keys"]}

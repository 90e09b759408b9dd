"""Single sign-on against a real provider: Dex (built by hack/tools.sh) over HTTPS with a local CA,
its users and groups in a real LDAP directory (slapd), in front of the real ferry-server,
controller and repo server.

- A browser (headless Chromium) opens an app's page, clicks the web UI's "Log in via" button,
  logs in on Dex's own login form through /auth/login and /auth/callback, lands on the page it
  asked for, and its session works on the REST API; the
  CLI does the same with ``ferry login --sso`` (its printed URL driven with plain HTTP posts to
  Dex's form) and its token works on gRPC.
- A user whose LDAP group maps to a role syncs only what that role allows: the allowed sync is
  carried out by the controller, the other is PERMISSION_DENIED and writes nothing.
- Refused, each with its reason and nothing changed: wrong issuer (another Dex), wrong audience
  (another client of the same Dex), expired, unsigned, HMAC-signed and wrongly signed tokens,
  mismatched and replayed state, mismatched nonce, off-site return URLs. Dex restarted with new
  keys: new tokens work at once (the key set is fetched again), old ones are refused.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import html
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import jwt
import pytest
import requests
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa
from kubernetes import client as k8s

from ferry import pki
from ferry.oidc import LEEWAY
from ferry.v1 import account_pb2, application_pb2, session_pb2, types_pb2, version_pb2
from ferry_devenv.controlplane import ControlPlane
from ferry_devenv.dex import DexClient, DexServer, DexUser, LdapDirectory
from ferry_devenv.gitrepo import GitRepo
from ferry_devenv.process import free_port
from tests.conftest import CONTROL_NS, RunningServer
from tests.e2e.test_ui import UI_DIR, chromium, wait_for
from tests.integration.controller.test_sync import deployment
from tests.integration.server.conftest import Api, admin_password, secret_data, upsert_configmap

SCRIPT = Path(__file__).parent / "ui" / "sso_e2e.mjs"
ARTIFACTS = Path(os.environ.get("FERRY_UI_ARTIFACTS", Path(__file__).parent / "artifacts" / "ui"))
CLIENT_SECRET = "ferry-sso-client-secret"
SECRET_KEY = "oidc.dex.clientSecret"
USERS = {
    "alice": DexUser("alice", "alice-sso-pw", groups=("sso-deployers", "everyone")),
    "bob": DexUser("bob", "bob-sso-pw", groups=("sso-viewers",)),
    # an IdP whose user and groups are named like ferry's local account robot, admin and roles
    "robot": DexUser("robot", "robot-sso-pw", groups=("admin", "role:admin", "proj:default:ci")),
}
SSO_POLICY = """
p, role:sso-deployer, applications, get, default/*, allow
p, role:sso-deployer, applications, sync, default/sso-ok-*, allow
g, sso-deployers, role:sso-deployer
g, sso-viewers, role:readonly
"""


@dataclass
class Sso:
    dex: DexServer
    foreign: DexServer  # another issuer
    server: RunningServer
    api: Api
    bundle: Path  # CA certificates of Dex and ferry-server, for requests

    def token(self, user: str, client: str = "ferry", secret: str = CLIENT_SECRET) -> str:
        u = USERS[user]
        return str(self.dex.password_grant(client, secret, u.username, u.password)["id_token"])

    def http(self) -> requests.Session:
        session = requests.Session()
        session.verify = str(self.bundle)
        # per request: REQUESTS_CA_BUNDLE in the environment would win over session.verify
        session.request = functools.partial(  # type: ignore[method-assign]
            session.request, timeout=60, verify=str(self.bundle)
        )
        return session


def _patch_secret(kube: k8s.ApiClient, data: dict[str, str | None]) -> None:
    body = {
        "data": {k: base64.b64encode(v.encode()).decode() if v is not None else None for k, v in data.items()}
    }
    k8s.CoreV1Api(kube).patch_namespaced_secret("ferry-secret", CONTROL_NS, body)


def _configmap(kube: k8s.ApiClient, name: str) -> dict[str, str]:
    try:
        return dict(k8s.CoreV1Api(kube).read_namespaced_config_map(name, CONTROL_NS).data or {})
    except k8s.ApiException:
        return {}


@pytest.fixture(scope="module")
def sso(
    server_process: RunningServer, kube: k8s.ApiClient, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Sso]:
    ca = pki.new_ca("sso-test-ca")
    ldap = LdapDirectory(list(USERS.values())).start()
    callback = f"{server_process.http_url}/auth/callback"
    dex = DexServer(
        ca,
        ldap,
        clients=[
            DexClient("ferry", CLIENT_SECRET, [callback]),
            DexClient("ferry-cli", public=True),
            DexClient("other-app", "other-secret", ["https://other.example.com/callback"]),
        ],
    ).start()
    foreign = DexServer(ca, ldap, clients=[DexClient("ferry", CLIENT_SECRET, [callback])]).start()
    settings, rbac = _configmap(kube, "ferry-cm"), _configmap(kube, "ferry-rbac-cm")
    api = Api(server_process, kube)
    bundle = tmp_path_factory.mktemp("sso") / "ca-bundle.pem"
    bundle.write_text(ca.cert_pem.decode() + secret_data(kube, "ferry-server-tls")["tls.crt"])
    try:
        _patch_secret(kube, {SECRET_KEY: CLIENT_SECRET})
        oidc = {
            "name": "Test Dex",
            "issuer": dex.issuer,
            "clientID": "ferry",
            "clientSecret": f"${SECRET_KEY}",
            "cliClientID": "ferry-cli",
            "requestedScopes": ["openid", "profile", "email", "groups"],
            "rootCA": ca.cert_pem.decode(),
        }
        upsert_configmap(kube, "ferry-cm", {**settings, "oidc.config": yaml.safe_dump(oidc)})
        upsert_configmap(
            kube, "ferry-rbac-cm", {**rbac, "policy.csv": rbac.get("policy.csv", "") + SSO_POLICY}
        )

        def configured() -> bool:
            found = api.call("settings", "Get", version_pb2.SettingsQuery(), token="")
            return bool(found.oidc_config.issuer == dex.issuer)

        wait_for("the server to see oidc.config", configured, timeout=30)
        yield Sso(dex, foreign, server_process, api, bundle)
    finally:
        upsert_configmap(kube, "ferry-cm", settings)
        upsert_configmap(kube, "ferry-rbac-cm", rbac)
        _patch_secret(kube, {SECRET_KEY: None})
        api.close()
        foreign.stop()
        dex.stop()
        ldap.stop()


@dataclass
class Apps:
    allowed: str
    denied: str
    admin: Api

    def get(self, name: str) -> dict[str, Any]:
        from ferry.convert import to_k8s  # noqa: PLC0415

        app = self.admin.call("apps", "Get", application_pb2.ApplicationQuery(name=name))
        result: dict[str, Any] = to_k8s(app)
        return result


@pytest.fixture
def apps(
    sso: Sso,
    kube: k8s.ApiClient,
    workload_plane: ControlPlane,  # the sync's Deployment becomes Available
    git_repo: Callable[[str], GitRepo],
    namespace: str,
) -> Iterator[Apps]:
    admin = Api(sso.server, kube)
    admin.login("admin", admin_password(kube))
    repo = git_repo("sso-apps")
    repo.commit("v1", {"app/web.yaml": yaml.safe_dump(deployment("sso-web"))})
    suffix = namespace[-5:]
    names = (f"sso-ok-{suffix}", f"sso-no-{suffix}")
    for name in names:
        app = types_pb2.Application()
        app.metadata.name = name
        app.spec.project = "default"
        app.spec.source.repo_url = f"file://{repo.bare}"
        app.spec.source.path = "app"
        app.spec.destination.server = "https://kubernetes.default.svc"
        app.spec.destination.namespace = namespace
        admin.call("apps", "Create", application_pb2.ApplicationCreateRequest(application=app))
    try:
        yield Apps(names[0], names[1], admin)
    finally:
        for name in names:
            admin.call("apps", "Delete", application_pb2.ApplicationDeleteRequest(name=name, cascade=False))
        admin.close()


def _form_action(page: requests.Response) -> str:
    match = re.search(r'<form method="post" action="([^"]+)"', page.text)
    assert match, f"no login form at {page.url}:\n{page.text[:2000]}"
    return urllib.parse.urljoin(page.url, html.unescape(match.group(1)))


def dex_login(session: requests.Session, start: str, user: DexUser, stop_at: str) -> str:
    """Follows ``start`` to Dex's login form, posts the user's credentials like a browser, and
    follows redirects until one goes to ``stop_at`` (not followed): returns that URL."""
    page = session.get(start)
    assert page.status_code == 200, page.text
    answer = session.post(
        _form_action(page), data={"login": user.username, "password": user.password}, allow_redirects=False
    )
    for _ in range(10):
        assert answer.status_code in (302, 303), (
            f"{answer.status_code} from {answer.url}: {answer.text[:500]}"
        )
        location = urllib.parse.urljoin(answer.url, answer.headers["Location"])
        if location.startswith(stop_at):
            return location
        answer = session.get(location, allow_redirects=False)
    raise AssertionError("too many redirects")


def _no_operation(apps: Apps, name: str) -> None:
    app = apps.get(name)
    assert "operation" not in app
    assert not app.get("status", {}).get("operationState"), app.get("status")


# --- browser ------------------------------------------------------------------------------------------


def test_browser_logs_in_on_dex_and_its_groups_drive_rbac(sso: Sso, apps: Apps) -> None:
    artifacts = ARTIFACTS / "sso"
    return_path = f"/applications/{apps.allowed}"
    config = {
        "url": sso.server.http_url,
        "issuer": sso.dex.issuer,
        "username": "alice",
        "password": USERS["alice"].password,
        "returnPath": return_path,
        "allowedApp": apps.allowed,
        "deniedApp": apps.denied,
        "chromium": chromium(),
        "uiDir": str(UI_DIR),
        "artifacts": str(artifacts),
    }
    proc = subprocess.run(
        ["node", str(SCRIPT)],
        env={**os.environ, "FERRY_SSO_E2E": json.dumps(config)},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    print(proc.stdout, proc.stderr)
    assert proc.returncode == 0, f"the browser run failed:\n{proc.stdout}\n{proc.stderr}"
    result = json.loads(proc.stdout.split("[sso-e2e] result ", 1)[1].splitlines()[0])
    assert result["ssoButton"] == "Log in via Test Dex"  # oidc.config's name
    assert result["ssoHref"] == f"/auth/login?return_url={urllib.parse.quote(return_path, safe='')}"
    assert result["loginPage"].startswith(sso.dex.issuer + "/auth/ldap")
    assert "Invalid" in result["wrongPassword"]
    assert result["landedAt"] == sso.server.http_url + return_path
    assert result["cookie"] == {"httpOnly": True, "sameSite": "Strict", "secure": True}
    assert not result["stateCookieLeft"]
    info = result["userinfo"]
    assert info["status"] == 200
    assert info["body"]["loggedIn"] is True
    assert info["body"]["iss"] == sso.dex.issuer
    assert sorted(info["body"]["groups"]) == ["everyone", "sso-deployers"]
    assert result["syncAllowed"]["status"] == 200, result["syncAllowed"]
    assert result["syncDenied"]["status"] == 403, result["syncDenied"]
    assert "permission denied" in result["syncDenied"]["body"]["message"]
    assert result["afterLogout"].endswith("/login")
    assert result["userinfoAfterLogout"]["status"] == 401

    def synced() -> bool:
        state = apps.get(apps.allowed).get("status", {}).get("operationState", {})
        return bool(state.get("phase") == "Succeeded")

    wait_for("the SSO user's sync", synced, timeout=120, state=lambda: apps.get(apps.allowed).get("status"))
    assert apps.get(apps.allowed)["status"]["operationState"]["operation"]["initiatedBy"]["username"]
    _no_operation(apps, apps.denied)
    for name in ("sso-01-dex-login", "sso-02-after-login", "sso-03-logged-out"):
        assert (artifacts / f"{name}.png").stat().st_size > 0


# --- CLI ----------------------------------------------------------------------------------------------


def _ferry(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = str(Path(sys.executable).parent / "ferry")
    return subprocess.run(
        [exe, "--config", str(config), *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_cli_sso_login_and_rbac(sso: Sso, apps: Apps, tmp_path: Path) -> None:
    config = tmp_path / "ferry-config"
    port = free_port()
    server = sso.server.address
    exe = str(Path(sys.executable).parent / "ferry")
    proc = subprocess.Popen(
        [exe, "--config", str(config), "login", server, "--insecure", "--sso", "--sso-port", str(port),
         "--no-sso-launch-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        lines: queue.Queue[str] = queue.Queue()

        def read() -> None:
            for line in proc.stdout or []:
                lines.put(line)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        url = ""
        deadline = time.monotonic() + 60
        while not url and time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                line = lines.get(timeout=1)
                if line.startswith("https://"):
                    url = line.strip()
            assert proc.poll() is None, (
                f"ferry login ended early: {proc.stderr.read() if proc.stderr else ''}"
            )
        assert url.startswith(sso.dex.issuer + "/auth?"), url
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
        assert query["client_id"] == ["ferry-cli"]
        assert query["code_challenge_method"] == ["S256"]
        assert query["redirect_uri"] == [f"http://localhost:{port}/auth/callback"]
        http = sso.http()
        callback = dex_login(http, url, USERS["alice"], f"http://localhost:{port}/auth/callback")
        done = http.get(callback.replace("localhost", "127.0.0.1", 1))
        assert done.status_code == 200
        assert "Logged in" in done.text
        proc.wait(timeout=60)
        reader.join(timeout=10)
        out = "".join(lines.queue)
        err = proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "'alice@ferry.test' logged in successfully" in out
    stored = yaml.safe_load(config.read_text())
    token = stored["contexts"][0]["token"]
    assert jwt.decode(token, options={"verify_signature": False})["aud"] == "ferry-cli"
    assert oct(config.stat().st_mode)[-3:] == "600"

    # the stored ID token works on gRPC, with the group's role
    assert (
        _ferry(config, "account", "can-i", "sync", "applications", f"default/{apps.allowed}").stdout.strip()
        == "yes"
    )
    assert (
        _ferry(config, "account", "can-i", "sync", "applications", f"default/{apps.denied}").stdout.strip()
        == "no"
    )
    denied = _ferry(config, "app", "sync", apps.denied, "--async")
    assert denied.returncode == 20
    assert "permission denied" in denied.stderr
    _no_operation(apps, apps.denied)
    allowed = _ferry(config, "app", "sync", apps.allowed, "--async")
    assert allowed.returncode == 0, allowed.stderr
    assert apps.get(apps.allowed).get("operation") or apps.get(apps.allowed)["status"].get("operationState")

    # logging out revokes the ID token on the server
    assert _ferry(config, "logout").returncode == 0
    with pytest.raises(grpc.RpcError) as revoked:
        sso.api.call("sessions", "GetUserInfo", session_pb2.GetUserInfoRequest(), token=token)
    assert revoked.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "revoked" in (revoked.value.details() or "")


# --- API: tokens ----------------------------------------------------------------------------------------


def _resign(token: str, key: Any, alg: str, **changes: Any) -> str:
    header = jwt.get_unverified_header(token)
    claims = {**jwt.decode(token, options={"verify_signature": False}), **changes}
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": header.get("kid", "")})


def _unsigned(token: str) -> str:
    _, payload, _ = token.split(".")
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    return f"{header}.{payload}."


def test_group_mapped_user_on_grpc_and_rest(sso: Sso, apps: Apps) -> None:
    bob = sso.token("bob")
    info = sso.api.call("sessions", "GetUserInfo", session_pb2.GetUserInfoRequest(), token=bob)
    assert (info.logged_in, list(info.groups), info.iss) == (True, ["sso-viewers"], sso.dex.issuer)
    # readonly: may read, may not sync
    assert sso.api.call("apps", "Get", application_pb2.ApplicationQuery(name=apps.allowed), token=bob)
    with pytest.raises(grpc.RpcError) as denied:
        sso.api.call("apps", "Sync", application_pb2.ApplicationSyncRequest(name=apps.allowed), token=bob)
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    _no_operation(apps, apps.allowed)
    rest = sso.http().get(
        f"{sso.server.http_url}/api/v1/applications/{apps.allowed}",
        headers={"Authorization": f"Bearer {bob}"},
    )
    assert rest.status_code == 200, rest.text


def test_bad_tokens_are_refused_and_change_nothing(sso: Sso, apps: Apps) -> None:
    good = sso.token("alice")
    before = apps.get(apps.allowed)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cases = {
        "wrong issuer": (
            str(
                sso.foreign.password_grant("ferry", CLIENT_SECRET, "alice", USERS["alice"].password)[
                    "id_token"
                ]
            ),
            f"issuer '{sso.foreign.issuer}' is not trusted",
        ),
        "wrong audience": (
            sso.token("alice", client="other-app", secret="other-secret"),
            "audience other-app is not this server's client",
        ),
        "unsigned": (_unsigned(good), "algorithm 'none' is not accepted"),
        "HMAC with the client secret": (
            _resign(good, CLIENT_SECRET.encode() * 2, "HS256"),
            "algorithm 'HS256'",
        ),
        "wrongly signed": (_resign(good, stranger, "RS256"), "signature verification failed"),
        "altered claims": (
            _resign(good, stranger, "RS256", groups=["admin"]),
            "signature verification failed",
        ),
        "garbage": ("not.a.jwt", "not a JWT"),
    }
    for case, (token, message) in cases.items():
        with pytest.raises(grpc.RpcError) as refused:
            sso.api.call(
                "apps", "Sync", application_pb2.ApplicationSyncRequest(name=apps.allowed), token=token
            )
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED, case
        assert message in (refused.value.details() or ""), (case, refused.value.details())
        rest = sso.http().post(
            f"{sso.server.http_url}/api/v1/applications/{apps.allowed}/sync",
            json={},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert rest.status_code == 401, (case, rest.text)
    after = apps.get(apps.allowed)  # the controller may have written status; nothing else changed
    assert after["spec"] == before["spec"]
    assert after["metadata"].get("annotations") == before["metadata"].get("annotations")
    _no_operation(apps, apps.allowed)
    # the good one does work
    info = sso.api.call("sessions", "GetUserInfo", session_pb2.GetUserInfoRequest(), token=good)
    assert info.logged_in


# --- browser flow: refusals --------------------------------------------------------------------------------


def _start(sso: Sso, http: requests.Session, return_url: str = "/applications") -> requests.Response:
    started = http.get(
        f"{sso.server.http_url}/auth/login", params={"return_url": return_url}, allow_redirects=False
    )
    assert started.status_code == 303, started.text
    return started


def _session_cookie(response: requests.Response) -> bool:
    return "ferry.token=" in response.headers.get("Set-Cookie", "")


def test_off_site_return_urls_are_refused(sso: Sso) -> None:
    http = sso.http()
    for value in (
        "https://evil.example.com/",
        "//evil.example.com/",
        "/\\evil.example.com",
        "http://127.0.0.1:1/",
    ):
        answer = http.get(
            f"{sso.server.http_url}/auth/login", params={"return_url": value}, allow_redirects=False
        )
        assert answer.status_code == 400, value
        assert "return_url" in answer.text
        assert "Set-Cookie" not in answer.headers
    # an absolute URL of the server itself is fine
    assert _start(sso, http, f"{sso.server.http_url}/settings").status_code == 303


def test_state_must_match_and_be_used_once(sso: Sso) -> None:
    http = sso.http()
    callback_base = f"{sso.server.http_url}/auth/callback"
    started = _start(sso, http, "/applications?sync=OutOfSync")
    assert "state=" in started.headers["Location"]
    assert "nonce=" in started.headers["Location"]
    callback = dex_login(http, started.headers["Location"], USERS["alice"], callback_base)
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(callback).query))

    mismatched = http.get(callback_base, params={**params, "state": "forged"}, allow_redirects=False)
    assert mismatched.status_code == 400
    assert "state mismatch" in mismatched.text
    assert not _session_cookie(mismatched)

    done = http.get(callback, allow_redirects=False)
    assert done.status_code == 303, done.text
    assert done.headers["Location"] == "/applications?sync=OutOfSync"
    assert _session_cookie(done)
    token = http.cookies.get("ferry.token")
    info = http.get(f"{sso.server.http_url}/api/v1/session/userinfo", cookies={"ferry.token": token or ""})
    assert info.json()["loggedIn"] is True

    # the same answer again, with the state cookie a replaying attacker kept
    replay = requests.get(
        callback,
        cookies={"ferry.oauthstate": started.cookies["ferry.oauthstate"] or ""},
        allow_redirects=False,
        verify=str(sso.bundle),
        timeout=60,
    )
    assert replay.status_code == 400
    assert "state already used" in replay.text
    assert not _session_cookie(replay)

    # no state cookie at all: a callback this browser did not start
    stray = requests.get(callback, allow_redirects=False, verify=str(sso.bundle), timeout=60)
    assert stray.status_code == 400
    assert "no login in progress" in stray.text


def test_a_token_for_another_nonce_is_refused(sso: Sso) -> None:
    http = sso.http()
    started = _start(sso, http)
    location = urllib.parse.urlsplit(started.headers["Location"])
    query = dict(urllib.parse.parse_qsl(location.query))
    tampered = location._replace(query=urllib.parse.urlencode({**query, "nonce": "someone-elses-nonce"}))
    callback = dex_login(
        http, urllib.parse.urlunsplit(tampered), USERS["alice"], f"{sso.server.http_url}/auth/callback"
    )
    refused = http.get(callback, allow_redirects=False)
    assert refused.status_code == 401
    assert "nonce mismatch" in refused.text
    assert not _session_cookie(refused)


def test_sso_identities_are_never_local_accounts_or_roles(sso: Sso, kube: k8s.ApiClient) -> None:
    """Finding 20: an IdP user robot (a local account here) in IdP groups admin, role:admin and
    proj:default:ci got the rights of all three, and AccountService let it mint API tokens for
    the local robot. Now its subjects are sso:robot, sso:admin, ... — which a policy may grant."""
    user = USERS["robot"]
    token = sso.dex.password_grant(
        "ferry",
        CLIENT_SECRET,
        user.username,
        user.password,
        scopes="openid profile email groups federated:id",
    )["id_token"]
    info = sso.api.call("sessions", "GetUserInfo", session_pb2.GetUserInfoRequest(), token=token)
    assert (info.username, sorted(info.groups)) == ("robot", ["admin", "proj:default:ci", "role:admin"])

    def can(resource: str, action: str, subresource: str) -> str:
        request = account_pb2.CanIRequest(resource=resource, action=action, subresource=subresource)
        answer: str = sso.api.call("accounts", "CanI", request, token=token).value
        return answer

    assert can("clusters", "delete", "*") == "no"
    assert can("applications", "sync", "default/anything") == "no"
    for call, request in (
        ("CreateToken", account_pb2.CreateTokenRequest(name="robot", expires_in=60)),
        ("GetAccount", account_pb2.GetAccountRequest(name="robot")),
        ("UpdatePassword", account_pb2.UpdatePasswordRequest(name="robot", new_password="taken-over-1")),
    ):
        with pytest.raises(grpc.RpcError) as refused:
            sso.api.call("accounts", call, request, token=token)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED, (call, refused.value.details())
    listed = sso.api.call("accounts", "ListAccounts", account_pb2.ListAccountRequest(), token=token)
    assert not list(listed.items)

    rbac = _configmap(kube, "ferry-rbac-cm")
    try:  # the qualified subject is how a policy means this IdP group
        upsert_configmap(
            kube,
            "ferry-rbac-cm",
            {**rbac, "policy.csv": rbac["policy.csv"] + "p, sso:admin, clusters, get, *, allow\n"},
        )
        wait_for("the policy naming sso:admin", lambda: can("clusters", "get", "*") == "yes", timeout=30)
        assert can("clusters", "delete", "*") == "no"
    finally:
        upsert_configmap(kube, "ferry-rbac-cm", rbac)


# --- key rotation and expiry (restarts Dex: last) ----------------------------------------------------------


def test_key_rotation_and_expiry(sso: Sso) -> None:
    old = sso.token("alice")
    sso.api.call("sessions", "GetUserInfo", session_pb2.GetUserInfoRequest(), token=old)
    sso.dex.restart(id_token_ttl="2s")  # new signing keys, short-lived tokens
    try:
        fresh = sso.token("alice")
        assert jwt.get_unverified_header(fresh)["kid"] != jwt.get_unverified_header(old)["kid"]
        info = sso.api.call("sessions", "GetUserInfo", session_pb2.GetUserInfoRequest(), token=fresh)
        assert info.logged_in  # the server fetched the new keys by itself
        with pytest.raises(grpc.RpcError) as rotated_out:
            sso.api.call("sessions", "GetUserInfo", session_pb2.GetUserInfoRequest(), token=old)
        assert rotated_out.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "no signing key" in (rotated_out.value.details() or "")
        # accepted for its 2 s lifetime plus the clock skew tolerated (LEEWAY), then refused
        refusals: list[grpc.RpcError] = []

        def refused() -> bool:
            try:
                sso.api.call("sessions", "GetUserInfo", session_pb2.GetUserInfoRequest(), token=fresh)
            except grpc.RpcError as err:
                refusals.append(err)
                return True
            return False

        wait_for("the short-lived token to expire", refused, timeout=60)
        assert refusals[0].code() == grpc.StatusCode.UNAUTHENTICATED
        assert "token expired" in (refusals[0].details() or "")
        expires = jwt.decode(fresh, options={"verify_signature": False})["exp"]
        assert time.time() >= expires + LEEWAY  # not before the skew tolerated has passed too
    finally:
        sso.dex.restart(id_token_ttl="1h")

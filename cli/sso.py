"""``ferry login SERVER --sso``: the authorization code flow with PKCE from the command line, as
``argocd login --sso`` does it.

The server's SettingsService names the provider (issuer, the CLI's client id, scopes, its CA).
The CLI listens on ``http://localhost:PORT/auth/callback`` (``--sso-port``, default 8085), opens
the browser at the provider's login page (or prints the URL to open), checks the ``state`` of
the answer, exchanges the code with the PKCE verifier, checks the ID token's issuer, audience,
expiry and ``nonce``, and stores the ID token as the context's token: ferry-server verifies it on
every call.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import secrets
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import webbrowser
from dataclasses import dataclass, field
from typing import Any

import jwt

from cli.connection import CliError
from ferry.oidc import (
    CLI_REDIRECT_PATH,
    ClaimsError,
    authorization_url,
    check_claims,
    new_pkce,
    random_token,
)

PAGE = (
    "<!doctype html><html><head><meta charset=utf-8><title>ferry</title></head><body>"
    "<h1>{title}</h1><p>{text}</p></body></html>"
)


@dataclass
class Provider:
    issuer: str
    client_id: str
    scopes: list[str]
    root_ca: str = ""
    insecure: bool = False

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif self.root_ca:
            context.load_verify_locations(cadata=self.root_ca)
        return context

    def fetch(self, url: str, data: dict[str, str] | None = None) -> dict[str, Any]:
        if urllib.parse.urlsplit(url).scheme not in ("https", "http"):
            raise CliError(f"the identity provider's address {url!r} is not an http(s) URL")
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(url, data=body, method="POST" if body else "GET")  # noqa: S310
        if body:
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
        request.add_header("Accept", "application/json")
        try:
            with urllib.request.urlopen(request, context=self.ssl_context(), timeout=30) as resp:  # noqa: S310
                answer = json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as err:
            try:
                detail = json.loads(err.read() or b"{}")
            except ValueError:
                detail = {}
            reason = detail.get("error_description") or detail.get("error") or err.reason
            raise CliError(f"the identity provider refused: {reason} (HTTP {err.code})") from None
        except (urllib.error.URLError, OSError, ValueError) as err:
            reason = getattr(err, "reason", err)
            if isinstance(reason, ssl.SSLError) or "CERTIFICATE" in str(reason):
                raise CliError(
                    f"TLS verification of the identity provider {url} failed: {reason} "
                    "(retry with --insecure to skip it)"
                ) from None
            raise CliError(f"cannot reach the identity provider at {url}: {reason}") from None
        if not isinstance(answer, dict):
            raise CliError(f"the identity provider's answer at {url} is not a JSON object")
        return answer


@dataclass
class _Answer:
    params: dict[str, str] = field(default_factory=dict)
    done: threading.Event = field(default_factory=threading.Event)


def _callback_server(port: int, answer: _Answer) -> http.server.HTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urllib.parse.urlsplit(self.path)
            if parts.path != CLI_REDIRECT_PATH:
                self.send_error(404)
                return
            params = dict(urllib.parse.parse_qsl(parts.query))
            ok = "code" in params and not answer.done.is_set()
            title = "Logged in" if ok else "Login failed"
            text = (
                "You can close this window and return to the terminal."
                if ok
                else "See the terminal for what went wrong."
            )
            body = PAGE.format(title=title, text=text).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            if not answer.done.is_set():
                answer.params = params
                answer.done.set()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    try:
        return http.server.HTTPServer(("127.0.0.1", port), Handler)
    except OSError as err:
        raise CliError(f"cannot listen on 127.0.0.1:{port} for the login callback: {err.strerror}") from None


def login(
    provider: Provider,
    *,
    port: int,
    launch_browser: bool,
    timeout: float,
    echo: Any,
) -> tuple[str, dict[str, Any]]:
    """(ID token, its claims) after the user logged in at the provider."""
    discovery = provider.fetch(provider.issuer.rstrip("/") + "/.well-known/openid-configuration")
    if str(discovery.get("issuer", "")).rstrip("/") != provider.issuer.rstrip("/"):
        raise CliError(f"the provider calls itself {discovery.get('issuer')!r}, not {provider.issuer!r}")
    answer = _Answer()
    server = _callback_server(port, answer)
    redirect_uri = f"http://localhost:{server.server_port}{CLI_REDIRECT_PATH}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        state, nonce, pkce = random_token(), random_token(), new_pkce()
        url = authorization_url(
            str(discovery["authorization_endpoint"]),
            client_id=provider.client_id,
            redirect_uri=redirect_uri,
            scopes=provider.scopes,
            state=state,
            nonce=nonce,
            pkce=pkce,
        )
        echo("Log in with your browser at this address (it is opened for you when possible):")
        echo(url)
        if launch_browser:
            with contextlib.suppress(webbrowser.Error):
                webbrowser.open(url)
        if not answer.done.wait(timeout):
            raise CliError(f"no login within {timeout:.0f}s: run the command again")
    finally:
        server.shutdown()
        server.server_close()
    params = answer.params
    if params.get("error"):
        raise CliError(f"the identity provider said {params['error']}: {params.get('error_description', '')}")
    if not secrets.compare_digest(params.get("state", ""), state):
        raise CliError("state mismatch: the answer does not belong to this login")
    tokens = provider.fetch(
        str(discovery["token_endpoint"]),
        {
            "grant_type": "authorization_code",
            "code": params.get("code", ""),
            "redirect_uri": redirect_uri,
            "client_id": provider.client_id,
            "code_verifier": pkce.verifier,
        },
    )
    id_token = tokens.get("id_token")
    if not isinstance(id_token, str) or not id_token:
        raise CliError("the identity provider answered without an ID token")
    # Straight from the token endpoint over TLS: the server checks the signature on every call.
    claims = jwt.decode(id_token, options={"verify_signature": False})
    try:
        check_claims(
            claims,
            issuer=provider.issuer.rstrip("/"),
            audiences=[provider.client_id],
            now=time.time(),
            nonce=nonce,
        )
    except ClaimsError as err:
        raise CliError(f"the ID token is not acceptable: {err}") from None
    return id_token, claims


def display_name(claims: dict[str, Any]) -> str:
    for key in ("email", "preferred_username", "name", "sub"):
        if isinstance(claims.get(key), str) and claims[key]:
            return str(claims[key])
    return ""

"""The browser side of single sign-on, on ferry-server's HTTP port:

- ``GET /auth/login?return_url=/applications``: starts an authorization code flow with the
  provider (PKCE S256 unless turned off, a random ``state`` and ``nonce``). What the callback
  needs is kept in the cookie ``ferry.oauthstate`` — a short-lived HS256 token signed with the
  server's key (HttpOnly, SameSite=Lax so it comes back from the provider's redirect, path
  ``/auth/callback``), so any replica can finish the login. ``return_url`` must be on this
  server (a path, or an absolute URL of the same origin): anything else is 400.
- ``GET /auth/callback?code=...&state=...``: the state must equal the cookie's and may be used
  once; the code is exchanged at the provider's token endpoint (with the client secret and the
  PKCE verifier); the ID token must verify (signature, issuer, audience, expiry) and carry the
  login's nonce. Then the ID token becomes the session — the cookies ``ferry.token`` and
  ``ferry.csrf`` of a password login — and the browser goes back to ``return_url``.
- ``GET|POST /auth/logout``: revokes the session's token, clears the cookies, goes to ``/login``.
- ``/api/dex/...``: proxied to the bundled Dex (``--dex-server``) when ``dex.config`` is used.

Every refusal is a plain-text answer with its HTTP status and reason, and changes nothing.
"""

from __future__ import annotations

import logging
import secrets
import ssl
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import aiohttp
import jwt
from aiohttp import web

from ferry.errors import FerryError, Unauthenticated
from ferry.oidc import authorization_url, new_pkce, random_token
from server.oidc import DEX_PATH, Oidc, OidcSettings, unverified_issuer, verify_id_token
from server.state import ServerState

log = logging.getLogger(__name__)

STATE_COOKIE = "ferry.oauthstate"
CALLBACK_PATH = "/auth/callback"
LOGIN_TIMEOUT = 600  # seconds between /auth/login and the callback
STATE_AUDIENCE = "ferry-oauth-state"
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


class ReturnUrlError(ValueError):
    pass


def safe_return_url(value: str, origin: str) -> str:
    """The path to send the browser back to: a path on this server, or an absolute URL whose
    origin is ``origin`` (reduced to its path). Anything that could leave the site is refused."""
    if not value:
        return "/"
    if any(c in value for c in "\\\r\n\t") or any(ord(c) < 0x20 for c in value):
        raise ReturnUrlError("return_url has characters a URL cannot have")
    parts = urllib.parse.urlsplit(value)
    if parts.scheme or parts.netloc:
        own = urllib.parse.urlsplit(origin)
        if (parts.scheme.lower(), parts.netloc.lower()) != (own.scheme.lower(), own.netloc.lower()):
            raise ReturnUrlError(f"return_url {value!r} is not on this server ({origin})")
    elif not value.startswith("/") or value.startswith("//"):
        raise ReturnUrlError(f"return_url {value!r} must be a path on this server, starting with one /")
    path = parts.path or "/"
    if path.startswith("//"):
        raise ReturnUrlError(f"return_url {value!r} must be a path on this server, starting with one /")
    return urllib.parse.urlunsplit(("", "", path, parts.query, parts.fragment))


def _refuse(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=f"login failed: {message}\n", content_type="text/plain")


class SsoRoutes:
    def __init__(
        self,
        state: ServerState,
        *,
        secure_cookies: bool,
        set_session: Callable[[web.Response, str], None],
        session_cookies: tuple[str, ...],
    ) -> None:
        self.state = state
        self.secure_cookies = secure_cookies
        self.set_session = set_session
        self.session_cookies = session_cookies
        self._used_states: dict[str, float] = {}
        self._proxy: aiohttp.ClientSession | None = None

    @property
    def oidc(self) -> Oidc:
        oidc: Oidc = self.state.oidc
        return oidc

    def add_to(self, application: web.Application) -> None:
        router = application.router
        application.on_cleanup.append(lambda _app: self.close())
        router.add_get("/auth/login", self.login)
        router.add_get(CALLBACK_PATH, self.callback)
        router.add_route("GET", "/auth/logout", self.logout)
        router.add_route("POST", "/auth/logout", self.logout)
        router.add_route("*", DEX_PATH + "/{tail:.*}", self.dex_proxy)
        router.add_route("*", DEX_PATH, self.dex_proxy)

    def origin(self, request: web.Request) -> str:
        url = self.state.settings().get("url", "").rstrip("/")
        if url:
            parts = urllib.parse.urlsplit(url)
            return f"{parts.scheme}://{parts.netloc}"
        return f"{request.scheme}://{request.host}"

    def _redirect_uri(self, request: web.Request) -> str:
        url = self.state.settings().get("url", "").rstrip("/")
        return (url or self.origin(request)) + CALLBACK_PATH

    def _key(self) -> bytes:
        return bytes(self.state.secret_store.signing_key())

    # --- /auth/login ----------------------------------------------------------------------------

    async def login(self, request: web.Request) -> web.StreamResponse:
        try:
            return_url = safe_return_url(request.query.get("return_url", ""), self.origin(request))
        except ReturnUrlError as err:
            return _refuse(400, str(err))
        try:
            settings = self.oidc.required()
            discovery = await self.oidc.provider().discovery()
        except FerryError as err:
            return _refuse(503 if "unreachable" in err.message else 404, err.message)
        state, nonce = random_token(), random_token()
        pkce = new_pkce() if settings.pkce else None
        redirect_uri = self._redirect_uri(request)
        cookie = jwt.encode(
            {
                "aud": STATE_AUDIENCE,
                "exp": int(time.time()) + LOGIN_TIMEOUT,
                "state": state,
                "nonce": nonce,
                "verifier": pkce.verifier if pkce else "",
                "return_url": return_url,
                "redirect_uri": redirect_uri,
                "issuer": settings.issuer,
            },
            self._key(),
            algorithm="HS256",
        )
        target = authorization_url(
            discovery["authorization_endpoint"],
            client_id=settings.client_id,
            redirect_uri=redirect_uri,
            scopes=settings.scopes,
            state=state,
            nonce=nonce,
            pkce=pkce,
        )
        response = _see_other(target)
        response.set_cookie(
            STATE_COOKIE,
            cookie,
            httponly=True,
            samesite="Lax",
            secure=self.secure_cookies,
            path=CALLBACK_PATH,
            max_age=LOGIN_TIMEOUT,
        )
        return response

    # --- /auth/callback -------------------------------------------------------------------------

    def _consume_state(self, state: str, expires: float) -> bool:
        """False when this state was already used (a replayed callback)."""
        now = time.time()
        for old in [s for s, until in self._used_states.items() if until < now]:
            del self._used_states[old]
        if state in self._used_states:
            return False
        self._used_states[state] = expires
        return True

    async def callback(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        if query.get("error"):
            detail = query.get("error_description", "")
            return _refuse(
                401, f"the identity provider said {query['error']}{': ' + detail if detail else ''}"
            )
        raw = request.cookies.get(STATE_COOKIE, "")
        if not raw:
            return _refuse(400, "no login in progress (the state cookie is missing or expired): start again")
        try:
            login = jwt.decode(raw, self._key(), algorithms=["HS256"], audience=STATE_AUDIENCE)
        except jwt.ExpiredSignatureError:
            return _refuse(400, "the login took too long (its state expired): start again")
        except jwt.InvalidTokenError:
            return _refuse(400, "the state cookie is not one this server made: start again")
        state = query.get("state", "")
        if not state or not _equal(state, str(login["state"])):
            return _refuse(400, "state mismatch: this answer belongs to another login")
        if not self._consume_state(state, float(login["exp"])):
            return _refuse(400, "state already used: a login can be completed only once")
        code = query.get("code", "")
        if not code:
            return _refuse(400, "the identity provider sent no code")
        try:
            settings = self.oidc.required()
            if settings.issuer != login.get("issuer"):
                return _refuse(400, "the SSO settings changed during the login: start again")
            id_token = await self._exchange(settings, code, login)
            await verify_id_token(
                self.oidc.provider(), id_token, audiences=settings.audiences, nonce=str(login["nonce"])
            )
        except FerryError as err:
            log.warning("SSO login refused", extra={"reason": err.message})
            return _refuse(401, err.message)
        response = _see_other(str(login["return_url"]))
        self.set_session(response, id_token)
        response.del_cookie(STATE_COOKIE, path=CALLBACK_PATH)
        return response

    async def _exchange(self, settings: OidcSettings, code: str, login: dict[str, Any]) -> str:
        provider = self.oidc.provider()
        discovery = await provider.discovery()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": str(login["redirect_uri"]),
        }
        if login.get("verifier"):
            form["code_verifier"] = str(login["verifier"])
        auth = None
        if settings.client_secret:
            auth = aiohttp.BasicAuth(
                urllib.parse.quote(settings.client_id, safe=""),
                urllib.parse.quote(settings.client_secret, safe=""),
            )
        else:
            form["client_id"] = settings.client_id
        http = await provider.http()
        try:
            async with http.post(
                provider.internal_url(discovery["token_endpoint"]), data=form, auth=auth
            ) as resp:
                body = await resp.json(content_type=None)
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as err:
            raise Unauthenticated(f"the token endpoint could not be reached: {err}") from None
        if status != 200 or not isinstance(body, dict):
            reason = body.get("error_description") or body.get("error") if isinstance(body, dict) else ""
            raise Unauthenticated(f"the identity provider refused the code: {reason or status}")
        id_token = body.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise Unauthenticated("the identity provider answered without an ID token")
        return id_token

    # --- /auth/logout ---------------------------------------------------------------------------

    async def logout(self, request: web.Request) -> web.StreamResponse:
        token = request.cookies.get(self.session_cookies[0], "")
        if token:
            try:
                if unverified_issuer(token) != "ferry":
                    caller, _ = await self.oidc.verify(token)
                else:
                    caller = self.state.sessions.verify(token, self.state.project)
                await self.state.sessions.revoke(caller)
            except FerryError:
                pass  # an invalid or expired session is only forgotten
        response = _see_other("/login")
        for name in self.session_cookies:
            response.del_cookie(name, path="/")
        return response

    # --- /api/dex -------------------------------------------------------------------------------

    async def dex_proxy(self, request: web.Request) -> web.StreamResponse:
        base = self.oidc.dex_server
        if not base:
            return web.Response(status=404, text="Dex is not configured (ferry-server --dex-server)\n")
        if self._proxy is None or self._proxy.closed:
            context = ssl.create_default_context()
            if self.oidc.dex_ca:
                context.load_verify_locations(cadata=self.oidc.dex_ca)
            self._proxy = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=context if base.startswith("https") else False),
                timeout=aiohttp.ClientTimeout(total=30),
                auto_decompress=False,
            )
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        body = await request.read()
        try:
            async with self._proxy.request(
                request.method,
                base.rstrip("/") + request.path_qs,
                headers=headers,
                data=body or None,
                allow_redirects=False,
            ) as upstream:
                payload = await upstream.read()
                out_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP}
                response = web.Response(status=upstream.status, body=payload)
                for key, value in out_headers.items():
                    response.headers.add(key, value)
                return response
        except aiohttp.ClientError as err:
            return web.Response(status=502, text=f"Dex is unreachable: {err}\n")

    async def close(self) -> None:
        if self._proxy is not None:
            await self._proxy.close()


def _equal(a: str, b: str) -> bool:
    return secrets.compare_digest(a.encode(), b.encode())


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})

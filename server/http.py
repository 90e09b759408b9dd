"""ferry-server's HTTP side (:8090, TLS like gRPC): the REST/JSON gateway under ``/api``, the
OpenAPI document, Git webhooks, health, and the web UI at ``/`` (the single-page app built from
``ui/`` into ``server/webui``; any other non-``/api`` path answers its ``index.html``).

Authentication: an ``Authorization: Bearer`` header, or the HttpOnly, SameSite=Strict session
cookie ``ferry.token`` that ``POST /api/v1/session`` sets. Cookie-authenticated requests that
change state must echo the ``ferry.csrf`` cookie in the ``X-Ferry-CSRF`` header (double-submit
CSRF protection); bearer requests need not (a browser cannot add that header cross-site).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from pathlib import Path
from typing import Any

import grpc
from aiohttp import web
from google.protobuf.message_factory import GetMessageClass

from ferry.v1 import (
    account_pb2,
    application_pb2,
    cluster_pb2,
    project_pb2,
    repository_pb2,
    session_pb2,
    version_pb2,
)
from server import gateway, openapi, sso, webhook
from server.session_service import CLIENT_ADDRESS_HEADER, GATEWAY_KEY_HEADER
from server.sessions import client_address
from server.state import ServerState

log = logging.getLogger(__name__)

TOKEN_COOKIE = "ferry.token"  # noqa: S105 (a cookie name)
CSRF_COOKIE = "ferry.csrf"
CSRF_HEADER = "X-Ferry-CSRF"
UI_DIR = Path(__file__).parent / "webui"
UI_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; object-src 'none'; "
        "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
# A stream's headers go out with its first item or after this long without one.
STREAM_HEADERS_AFTER = 1.0
# How often a quiet stream checks that its client is still there.
STREAM_IDLE_CHECK = 10.0
SERVICES = [
    application_pb2.DESCRIPTOR.services_by_name["ApplicationService"],
    session_pb2.DESCRIPTOR.services_by_name["SessionService"],
    repository_pb2.DESCRIPTOR.services_by_name["RepositoryService"],
    cluster_pb2.DESCRIPTOR.services_by_name["ClusterService"],
    project_pb2.DESCRIPTOR.services_by_name["ProjectService"],
    account_pb2.DESCRIPTOR.services_by_name["AccountService"],
    version_pb2.DESCRIPTOR.services_by_name["VersionService"],
    version_pb2.DESCRIPTOR.services_by_name["SettingsService"],
]


def _json(status: int, body: Any, **kwargs: Any) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json", **kwargs)


def _error(code: grpc.StatusCode, message: str) -> web.Response:
    return _json(gateway.HTTP_STATUS.get(code, 500), gateway.error_body(code, message))


class HttpApi:
    def __init__(self, state: ServerState, grpc_channel: grpc.aio.Channel, *, secure_cookies: bool) -> None:
        self.state = state
        self.channel = grpc_channel
        self.secure_cookies = secure_cookies
        self.routes = gateway.routes(SERVICES)
        self.webhook_replays = webhook.ReplayGuard()
        self.openapi = openapi.document(SERVICES)

    def app(self) -> web.Application:
        application = web.Application(client_max_size=16 * 1024 * 1024)
        application.router.add_get("/healthz", self.healthz)
        application.router.add_get("/api/openapi.json", self.openapi_json)
        application.router.add_post("/api/webhook", self.webhook)
        sso.SsoRoutes(
            self.state,
            secure_cookies=self.secure_cookies,
            set_session=self._set_session,
            session_cookies=(TOKEN_COOKIE, CSRF_COOKIE),
        ).add_to(application)  # /auth/login, /auth/callback, /auth/logout, /api/dex/
        application.router.add_route("*", "/api/{tail:.*}", self.transcode)
        application.router.add_get("/{tail:.*}", self.ui)
        return application

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def ui(self, request: web.Request) -> web.StreamResponse:
        """The web UI: a built file (hashed assets cached for good), else index.html (SPA routes)."""
        tail = request.match_info["tail"]
        if tail == "api" or tail.startswith("api/"):
            return _error(grpc.StatusCode.NOT_FOUND, f"no API operation {request.method} {request.path}")
        root = UI_DIR.resolve()
        index = root / "index.html"
        if tail:
            candidate = (root / tail).resolve()
            if candidate.is_relative_to(root) and candidate.is_file():
                immutable = candidate.parent.name == "assets"
                cache = "public, max-age=31536000, immutable" if immutable else "no-cache"
                return web.FileResponse(candidate, headers={**UI_HEADERS, "Cache-Control": cache})
            if tail.startswith("assets/"):
                return web.Response(status=404, text="not found\n")
        if not index.is_file():
            return web.Response(
                status=404, text="The web UI is not built: run `make ui` (needs Node and npm).\n"
            )
        return web.FileResponse(index, headers={**UI_HEADERS, "Cache-Control": "no-cache"})

    async def openapi_json(self, request: web.Request) -> web.Response:
        return _json(200, self.openapi)

    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            push = webhook.parse(dict(request.headers), body, self.state.secret_store.data())
        except webhook.WebhookError as err:
            return _json(err.status, {"error": err.message})
        if push is None:
            return _json(200, {"refreshed": []})
        ignored = self.webhook_replays.why_ignored(push)
        if ignored:
            return _json(200, {"refreshed": [], "ignored": ignored})
        return _json(200, {"refreshed": await webhook.refresh_matching(self.state, push)})

    def _credentials(self, request: web.Request) -> tuple[str, bool] | web.Response:
        """(token, from cookie) — or an error response when a cookie request lacks the CSRF header."""
        header = request.headers.get("Authorization", "")
        if header:
            return header.removeprefix("Bearer ").strip(), False
        token = request.cookies.get(TOKEN_COOKIE, "")
        if token and request.method not in ("GET", "HEAD", "OPTIONS"):
            expected = request.cookies.get(CSRF_COOKIE, "")
            if not expected or not secrets.compare_digest(expected, request.headers.get(CSRF_HEADER, "")):
                return _error(
                    grpc.StatusCode.PERMISSION_DENIED,
                    f"missing or wrong {CSRF_HEADER} header for a cookie session",
                )
        return token, bool(token)

    async def transcode(self, request: web.Request) -> web.StreamResponse:
        # Match the still-encoded path: a repository or cluster URL is one path segment only while
        # its slashes stay %2F (Argo CD's REST paths take them that way); match() decodes values.
        found = gateway.match(self.routes, request.method, request.rel_url.raw_path)
        if found is None:
            return _error(grpc.StatusCode.NOT_FOUND, f"no API operation {request.method} {request.path}")
        route, path_values = found
        credentials = self._credentials(request)
        if isinstance(credentials, web.Response):
            return credentials
        token, _ = credentials
        body: Any = None
        if route.body:
            raw = await request.read()
            try:
                body = json.loads(raw) if raw else {}
            except json.JSONDecodeError as err:
                return _error(grpc.StatusCode.INVALID_ARGUMENT, f"request body is not JSON: {err}")
        try:
            message = gateway.build_request(route, path_values, request.query.items(), body)
        except gateway.RequestError as err:
            return _error(grpc.StatusCode.INVALID_ARGUMENT, str(err))
        metadata: tuple[tuple[str, str], ...] = (("authorization", f"Bearer {token}"),) if token else ()
        if route.full_method == "/ferry.v1.SessionService/Create":
            metadata += self._client_address(request)
        response_cls = GetMessageClass(route.method.output_type)
        if route.streaming:
            return await self._stream(request, route, message, metadata, response_cls)
        call: Any = self.channel.unary_unary(
            route.full_method,
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=response_cls.FromString,
        )
        try:
            reply: Any = await call(message, metadata=metadata, timeout=300)
        except grpc.aio.AioRpcError as err:
            return _error(err.code(), err.details() or err.code().name)
        response = _json(200, gateway.to_json(reply))
        if route.full_method == "/ferry.v1.SessionService/Create":
            self._set_session(response, reply.token)
        elif route.full_method == "/ferry.v1.SessionService/Delete":
            response.del_cookie(TOKEN_COOKIE, path="/")
            response.del_cookie(CSRF_COOKIE, path="/")
        return response

    def _client_address(self, request: web.Request) -> tuple[tuple[str, str], ...]:
        """Who logs in, for throttling per address: the HTTP client (or, behind a trusted proxy,
        the client it names), passed to the gRPC side with the key that vouches for it."""
        address = client_address(
            request.remote or "", request.headers.get("X-Forwarded-For", ""), self.state.auth.trusted_proxies
        )
        return ((GATEWAY_KEY_HEADER, self.state.gateway_key), (CLIENT_ADDRESS_HEADER, address))

    def _set_session(self, response: web.Response, token: str) -> None:
        response.set_cookie(
            TOKEN_COOKIE, token, httponly=True, samesite="Strict", secure=self.secure_cookies, path="/"
        )
        response.set_cookie(
            CSRF_COOKIE,
            secrets.token_urlsafe(24),
            httponly=False,
            samesite="Strict",
            secure=self.secure_cookies,
            path="/",
        )

    async def _stream(
        self, request: web.Request, route: gateway.Route, message: Any, metadata: Any, response_cls: Any
    ) -> web.StreamResponse:
        """A server stream as newline-delimited JSON. An error before anything was sent is a plain
        error response with its HTTP status; the headers go out with the first item, or after
        ``STREAM_HEADERS_AFTER`` seconds without one (a watch resumed from a resourceVersion, a
        followed log with no line yet), so a client knows it is connected; a later error is a last
        ``{"error": ...}`` line. Every ``STREAM_IDLE_CHECK`` seconds without an item the stream ends
        if the client has gone (aiohttp does not cancel handlers when a client leaves)."""
        call: Any = self.channel.unary_stream(
            route.full_method,
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=response_cls.FromString,
        )
        stream = call(message, metadata=metadata)
        items = stream.__aiter__()
        response: web.StreamResponse | None = None
        pending: asyncio.Future[Any] | None = None
        try:
            while True:
                pending = asyncio.ensure_future(items.__anext__())
                while not pending.done():
                    wait = STREAM_HEADERS_AFTER if response is None else STREAM_IDLE_CHECK
                    await asyncio.wait({pending}, timeout=wait)
                    if pending.done():
                        break
                    if request.transport is None or request.transport.is_closing():
                        return response or web.StreamResponse(status=499)
                    if response is None:
                        response = await _open_stream(request)
                try:
                    item = pending.result()
                except StopAsyncIteration:
                    break
                finally:
                    pending = None
                if response is None:
                    response = await _open_stream(request)
                await response.write((json.dumps({"result": gateway.to_json(item)}) + "\n").encode())
        except grpc.aio.AioRpcError as err:
            if response is None:
                return _error(err.code(), err.details() or err.code().name)
            await response.write(
                (json.dumps({"error": gateway.error_body(err.code(), err.details() or "")}) + "\n").encode()
            )
        finally:
            if pending is not None:
                pending.cancel()
            stream.cancel()
        if response is None:
            response = await _open_stream(request)
        await response.write_eof()
        return response


async def _open_stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(
        status=200, headers={"Content-Type": "application/x-ndjson", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    return response

"""ferry.v1.SessionService: log in, log out, who am I.

Logins are throttled per source address too (``server.sessions.LoginThrottle``). The address is
the gRPC peer's; a call from ferry-server's own REST gateway carries the HTTP client's address
instead, vouched for by a per-process key only the gateway knows (``GATEWAY_KEY_HEADER``), so a
gRPC client cannot claim someone else's address. Behind a reverse proxy, ``--trusted-proxy``
names the proxies whose ``X-Forwarded-For`` is believed.
"""

from __future__ import annotations

import secrets

from prometheus_client import Counter

from ferry.errors import FerryError, InvalidArgument
from ferry.interceptors import CALLER, Context
from ferry.v1 import session_pb2, session_pb2_grpc
from server.sessions import Caller, client_address, peer_host
from server.state import ServerState

LOGINS = Counter("ferry_login_request_total", "Login attempts.", ["status"])
GATEWAY_KEY_HEADER = "x-ferry-gateway-key"
CLIENT_ADDRESS_HEADER = "x-ferry-client-address"


def login_address(state: ServerState, context: Context) -> str:
    metadata = {k.lower(): v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
    vouched = metadata.get(GATEWAY_KEY_HEADER, "")
    if vouched and secrets.compare_digest(vouched.encode(), state.gateway_key.encode()):
        return metadata.get(CLIENT_ADDRESS_HEADER, "")
    return client_address(
        peer_host(context.peer() or ""), metadata.get("x-forwarded-for", ""), state.auth.trusted_proxies
    )


class SessionService(session_pb2_grpc.SessionServiceServicer):
    def __init__(self, state: ServerState) -> None:
        self.s = state

    async def Create(
        self, request: session_pb2.SessionCreateRequest, context: Context
    ) -> session_pb2.SessionResponse:
        if request.token:
            raise InvalidArgument(
                "exchanging tokens needs SSO, which is not configured; log in with username and password"
            )
        if not request.username or not request.password:
            raise InvalidArgument("username and password are required")
        try:
            token = await self.s.sessions.login(
                request.username, request.password, address=login_address(self.s, context)
            )
        except FerryError as err:
            LOGINS.labels("failure" if err.code.name != "RESOURCE_EXHAUSTED" else "throttled").inc()
            raise
        LOGINS.labels("success").inc()
        return session_pb2.SessionResponse(token=token)

    async def Delete(
        self, request: session_pb2.SessionDeleteRequest, context: Context
    ) -> session_pb2.SessionResponse:
        caller = CALLER.get()
        assert isinstance(caller, Caller)
        await self.s.sessions.revoke(caller)
        return session_pb2.SessionResponse(token="")

    async def GetUserInfo(
        self, request: session_pb2.GetUserInfoRequest, context: Context
    ) -> session_pb2.GetUserInfoResponse:
        caller = CALLER.get()
        assert isinstance(caller, Caller)
        return session_pb2.GetUserInfoResponse(
            logged_in=True, username=caller.username, iss=caller.issuer, groups=list(caller.groups)
        )

"""ferry.v1.SessionService: log in, log out, who am I."""

from __future__ import annotations

from prometheus_client import Counter

from ferry.errors import FerryError, InvalidArgument
from ferry.interceptors import CALLER, Context
from ferry.v1 import session_pb2, session_pb2_grpc
from server.sessions import Caller
from server.state import ServerState

LOGINS = Counter("ferry_login_request_total", "Login attempts.", ["status"])


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
            token = self.s.sessions.login(request.username, request.password)
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
        if caller.jti:
            await self.s.sessions.revoke(caller.jti, caller.expires_at)
        return session_pb2.SessionResponse(token="")

    async def GetUserInfo(
        self, request: session_pb2.GetUserInfoRequest, context: Context
    ) -> session_pb2.GetUserInfoResponse:
        caller = CALLER.get()
        assert isinstance(caller, Caller)
        return session_pb2.GetUserInfoResponse(
            logged_in=True, username=caller.username, iss=caller.issuer, groups=list(caller.groups)
        )

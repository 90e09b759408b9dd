"""Server interceptors shared by every ferry gRPC server, applied in this order:
logging -> metrics -> authentication -> error mapping.

- Logging: one line per call (method, code, duration) at debug, warnings for server errors.
- Metrics: go-grpc-prometheus names (``grpc_server_started_total``, ``grpc_server_handled_total``
  {grpc_type, grpc_service, grpc_method, grpc_code}, ``grpc_server_handling_seconds``) so
  existing dashboards work.
- Authentication: a pluggable check of the call's metadata; health and reflection are exempt.
  A server stream is checked again every ``recheck_interval`` seconds while it runs (the same
  check, so a revoked or expired token or a disabled account ends it with UNAUTHENTICATED), and
  so is what its handler registered with :func:`recheck_while_streaming` (its RBAC: a removed
  grant ends it with PERMISSION_DENIED). Nothing a stream waits for holds the check up.
- Error mapping: FerryError -> its status and message; anything else -> INTERNAL with a short
  message (the traceback goes to the log, never to the client).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc
from prometheus_client import Counter, Histogram

from ferry.errors import FerryError, Unauthenticated

log = logging.getLogger(__name__)

STARTED = Counter(
    "grpc_server_started_total", "RPCs started on the server.", ["grpc_type", "grpc_service", "grpc_method"]
)
HANDLED = Counter(
    "grpc_server_handled_total",
    "RPCs completed on the server, regardless of success or failure.",
    ["grpc_type", "grpc_service", "grpc_method", "grpc_code"],
)
HANDLING = Histogram(
    "grpc_server_handling_seconds",
    "Response latency of RPCs handled by the server.",
    ["grpc_type", "grpc_service", "grpc_method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)

EXEMPT_SERVICES = (
    "grpc.health.v1.Health",
    "grpc.reflection.v1alpha.ServerReflection",
    "grpc.reflection.v1.ServerReflection",
)

# The authenticated caller of the current RPC (set by the authentication interceptor).
CALLER: contextvars.ContextVar[Any] = contextvars.ContextVar("ferry_caller", default=None)
# Checks a streaming handler registered, run again with the caller's authentication.
_STREAM_CHECKS: contextvars.ContextVar[list[Callable[[], Any]] | None] = contextvars.ContextVar(
    "ferry_stream_checks", default=None
)
DEFAULT_RECHECK_INTERVAL = 60.0


def recheck_while_streaming(check: Callable[[], Any]) -> None:
    """Runs ``check()`` (awaited when it returns an awaitable) each time the authentication
    interceptor checks the current stream again; a FerryError it raises ends the stream with
    that error. Outside a stream (or without authentication) it does nothing."""
    checks = _STREAM_CHECKS.get()
    if checks is not None:
        checks.append(check)


if TYPE_CHECKING:  # the stubs are generic; the runtime classes are not subscriptable
    Context = grpc.aio.ServicerContext[Any, Any]
    Handler = grpc.RpcMethodHandler[Any, Any]
else:
    Context = grpc.aio.ServicerContext
    Handler = grpc.RpcMethodHandler
Behaviour = Callable[[Any, Context], Any]


def _split(method: str) -> tuple[str, str]:
    service, _, name = method.lstrip("/").rpartition("/")
    return service, name


def _wrap(handler: Handler, wrap: Callable[[Behaviour, bool], Behaviour]) -> Handler:
    """A handler whose behaviour is wrapped; ``wrap(behaviour, streaming_response)``.

    The stubs type behaviours as synchronous; on a grpc.aio server they are coroutines."""
    h: Any = handler
    if h.unary_unary:
        return grpc.unary_unary_rpc_method_handler(
            wrap(h.unary_unary, False), handler.request_deserializer, handler.response_serializer
        )
    if h.unary_stream:
        return grpc.unary_stream_rpc_method_handler(
            wrap(h.unary_stream, True), handler.request_deserializer, handler.response_serializer
        )
    if h.stream_unary:
        return grpc.stream_unary_rpc_method_handler(
            wrap(h.stream_unary, False), handler.request_deserializer, handler.response_serializer
        )
    return grpc.stream_stream_rpc_method_handler(
        wrap(h.stream_stream, True), handler.request_deserializer, handler.response_serializer
    )


def _grpc_type(handler: Handler) -> str:
    if handler.unary_unary:
        return "unary"
    if handler.unary_stream:
        return "server_stream"
    if handler.stream_unary:
        return "client_stream"
    return "bidi_stream"


class _Interceptor(grpc.aio.ServerInterceptor):
    def wrap(self, behaviour: Behaviour, streaming: bool, method: str, handler: Handler) -> Behaviour:
        raise NotImplementedError

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        return _wrap(handler, lambda behaviour, streaming: self.wrap(behaviour, streaming, method, handler))


def _code_of(context: Context) -> grpc.StatusCode:
    code: Any = context.code()  # a StatusCode once set; None (or 0 in some versions) while OK
    if isinstance(code, grpc.StatusCode):
        return code
    return grpc.StatusCode.OK if code in (None, 0) else grpc.StatusCode.UNKNOWN


class LoggingInterceptor(_Interceptor):
    def wrap(self, behaviour: Behaviour, streaming: bool, method: str, handler: Handler) -> Behaviour:
        if streaming:

            async def stream(request: Any, context: Context) -> AsyncIterator[Any]:
                start = time.monotonic()
                try:
                    async for item in behaviour(request, context):
                        yield item
                finally:
                    self._log(method, context, start)

            return stream

        async def unary(request: Any, context: Context) -> Any:
            start = time.monotonic()
            try:
                return await behaviour(request, context)
            finally:
                self._log(method, context, start)

        return unary

    @staticmethod
    def _log(method: str, context: Context, start: float) -> None:
        code = _code_of(context)
        extra = {"method": method, "code": code.name, "ms": round((time.monotonic() - start) * 1000, 1)}
        if code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN):
            log.warning("rpc failed", extra=extra)
        else:
            log.debug("rpc", extra=extra)


class MetricsInterceptor(_Interceptor):
    def wrap(self, behaviour: Behaviour, streaming: bool, method: str, handler: Handler) -> Behaviour:
        service, name = _split(method)
        kind = _grpc_type(handler)

        def done(context: Context, start: float) -> None:
            HANDLED.labels(kind, service, name, _code_of(context).name).inc()
            HANDLING.labels(kind, service, name).observe(time.monotonic() - start)

        if streaming:

            async def stream(request: Any, context: Context) -> AsyncIterator[Any]:
                STARTED.labels(kind, service, name).inc()
                start = time.monotonic()
                try:
                    async for item in behaviour(request, context):
                        yield item
                finally:
                    done(context, start)

            return stream

        async def unary(request: Any, context: Context) -> Any:
            STARTED.labels(kind, service, name).inc()
            start = time.monotonic()
            try:
                return await behaviour(request, context)
            finally:
                done(context, start)

        return unary


class AuthInterceptor(_Interceptor):
    """Runs ``authenticate(metadata, method)`` before every non-exempt call; its result (awaited
    when it is awaitable) is the caller, available to handlers as ``CALLER.get()``. It raises
    Unauthenticated to refuse."""

    def __init__(
        self,
        authenticate: Callable[[dict[str, str], str], Any],
        *,
        exempt: tuple[str, ...] = (),
        recheck_interval: float = DEFAULT_RECHECK_INTERVAL,
    ) -> None:
        self._authenticate = authenticate
        self._exempt = (*EXEMPT_SERVICES, *exempt)
        self.recheck_interval = recheck_interval

    def wrap(self, behaviour: Behaviour, streaming: bool, method: str, handler: Handler) -> Behaviour:
        service, name = _split(method)
        if service in self._exempt or f"{service}/{name}" in self._exempt:
            return behaviour

        async def authenticated(context: Context) -> Any:
            metadata = {k.lower(): v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
            caller = self._authenticate(metadata, method)
            if inspect.isawaitable(caller):
                caller = await caller
            return caller

        async def check(context: Context) -> None:
            try:
                CALLER.set(await authenticated(context))
            except FerryError as err:
                await context.abort(err.code, err.message)

        async def recheck(context: Context, checks: list[Callable[[], Any]]) -> None:
            try:
                await authenticated(context)
                for registered in checks:
                    result = registered()
                    if inspect.isawaitable(result):
                        await result
            except FerryError as err:
                log.info(
                    "stream ended: its caller is no longer allowed",
                    extra={"method": method, "why": err.message},
                )
                await context.abort(err.code, err.message)

        if streaming:

            async def stream(request: Any, context: Context) -> AsyncIterator[Any]:
                await check(context)
                checks: list[Callable[[], Any]] = []
                _STREAM_CHECKS.set(checks)
                async for item in _checked_every(
                    behaviour(request, context), self.recheck_interval, lambda: recheck(context, checks)
                ):
                    yield item

            return stream

        async def unary(request: Any, context: Context) -> Any:
            await check(context)
            return await behaviour(request, context)

        return unary


async def _checked_every(
    stream: AsyncIterator[Any], interval: float, recheck: Callable[[], Awaitable[None]]
) -> AsyncIterator[Any]:
    """The items of ``stream``, with ``recheck()`` awaited every ``interval`` seconds meanwhile —
    also while the stream waits for its next item, which comes in a task of its own (with this
    context) for that reason."""
    items = stream.__aiter__()
    loop = asyncio.get_running_loop()
    due = loop.time() + interval
    pending: asyncio.Future[Any] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(items.__anext__())
            await asyncio.wait({pending}, timeout=max(0.0, due - loop.time()))
            if pending.done():
                done, pending = pending, None
                try:
                    item = done.result()
                except StopAsyncIteration:
                    return
                yield item
            if loop.time() >= due:
                await recheck()
                due = loop.time() + interval
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        aclose = getattr(items, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()


class ErrorMappingInterceptor(_Interceptor):
    def wrap(self, behaviour: Behaviour, streaming: bool, method: str, handler: Handler) -> Behaviour:
        async def fail(context: Context, err: Exception) -> None:
            if isinstance(err, FerryError):
                await context.abort(err.code, err.message)
            incident = uuid.uuid4().hex[:12]
            log.error("unexpected error", exc_info=err, extra={"method": method, "incident": incident})
            await context.abort(
                grpc.StatusCode.INTERNAL, f"internal error (incident {incident}; see the server log)"
            )

        if streaming:

            async def stream(request: Any, context: Context) -> AsyncIterator[Any]:
                try:
                    async for item in behaviour(request, context):
                        yield item
                except grpc.aio.AbortError:
                    raise
                except Exception as err:
                    await fail(context, err)

            return stream

        async def unary(request: Any, context: Context) -> Any:
            try:
                return await behaviour(request, context)
            except grpc.aio.AbortError:
                raise
            except Exception as err:
                await fail(context, err)

        return unary


def standard_interceptors(
    authenticate: Callable[[dict[str, str], str], Any] | None = None,
    *,
    exempt: tuple[str, ...] = (),
    recheck_interval: float = DEFAULT_RECHECK_INTERVAL,
) -> list[grpc.aio.ServerInterceptor]:
    chain: list[grpc.aio.ServerInterceptor] = [LoggingInterceptor(), MetricsInterceptor()]
    if authenticate is not None:
        chain.append(AuthInterceptor(authenticate, exempt=exempt, recheck_interval=recheck_interval))
    chain.append(ErrorMappingInterceptor())
    return chain


def bearer_token(metadata: dict[str, str]) -> str:
    header = metadata.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("missing credentials: send 'authorization: Bearer <token>' metadata")
    return token.strip()

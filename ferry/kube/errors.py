"""Kubernetes API errors, typed by status, and their translation to ferry's errors (gRPC codes)."""

from __future__ import annotations

from typing import Any

from ferry import errors


class KubeError(Exception):
    """An error answer of the API server (or no answer); ``status`` is the HTTP status (0: none)."""

    status = 0
    retryable = False

    def __init__(
        self, message: str, *, body: dict[str, Any] | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.body = body or {}
        if status is not None:
            self.status = status

    @property
    def reason(self) -> str:
        return str(self.body.get("reason", ""))


class BadRequest(KubeError):
    status = 400


class Unauthorized(KubeError):
    status = 401


class Forbidden(KubeError):
    status = 403


class NotFoundError(KubeError):
    status = 404


class Conflict(KubeError):
    status = 409


class Gone(KubeError):
    """410: a watch's resourceVersion is too old; relist."""

    status = 410


class Unprocessable(KubeError):
    status = 422


class TooManyRequests(KubeError):
    status = 429
    retryable = True


class ServerError(KubeError):
    retryable = True


class Unreachable(KubeError):
    """No answer: connection refused, TLS failure, timeout."""

    retryable = True


_BY_STATUS: dict[int, type[KubeError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFoundError,
    409: Conflict,
    410: Gone,
    422: Unprocessable,
    429: TooManyRequests,
}


def from_response(status: int, body: dict[str, Any] | str) -> KubeError:
    parsed = body if isinstance(body, dict) else {}
    message = str(parsed.get("message") or body or f"HTTP {status}")
    cls = _BY_STATUS.get(status, ServerError if status >= 500 else KubeError)
    return cls(message, body=parsed, status=status)


def to_ferry(err: KubeError, what: str = "") -> errors.FerryError:
    """The error a gRPC client sees for a Kubernetes error (404 NOT_FOUND, 409 ALREADY_EXISTS or
    ABORTED, 403 PERMISSION_DENIED, 422 INVALID_ARGUMENT, unreachable UNAVAILABLE)."""
    prefix = f"{what}: " if what else ""
    text = f"{prefix}{err.message}"
    if isinstance(err, NotFoundError):
        return errors.NotFound(text)
    if isinstance(err, Conflict):
        if err.reason == "AlreadyExists":
            return errors.AlreadyExists(text)
        return errors.Aborted(text)
    if isinstance(err, Forbidden):
        return errors.PermissionDenied(text)
    if isinstance(err, Unprocessable | BadRequest):
        return errors.InvalidArgument(text)
    if isinstance(err, Unauthorized):
        return errors.Unavailable(f"{prefix}the cluster refused ferry's credentials: {err.message}")
    if isinstance(err, TooManyRequests):
        return errors.ResourceExhausted(text)
    return errors.Unavailable(text)

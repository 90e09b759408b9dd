"""Typed errors that carry the gRPC status they become, translated once at the server edge.

Code raises ``InvalidArgument("path ../x leaves the repository")``; the error-mapping
interceptor turns it into that status and message. Anything else that escapes a handler
becomes INTERNAL with a generic message (the traceback goes to the log, never to the client).
"""

from __future__ import annotations

import grpc


class FerryError(Exception):
    """Base of errors a client may see; ``code`` is the gRPC status."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(FerryError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(FerryError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(FerryError):
    code = grpc.StatusCode.ALREADY_EXISTS


class PermissionDenied(FerryError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(FerryError):
    code = grpc.StatusCode.UNAUTHENTICATED


class FailedPrecondition(FerryError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class Aborted(FerryError):
    code = grpc.StatusCode.ABORTED


class ResourceExhausted(FerryError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(FerryError):
    code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceeded(FerryError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class Internal(FerryError):
    code = grpc.StatusCode.INTERNAL


def from_status(code: grpc.StatusCode, message: str) -> FerryError:
    """The FerryError carrying ``code`` (an answer passed on from another ferry service);
    UNAVAILABLE for codes without one."""
    for cls in FerryError.__subclasses__():
        if cls.code == code:
            return cls(message)
    return Unavailable(message)

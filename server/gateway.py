"""The REST/JSON gateway: every RPC with a ``google.api.http`` annotation, served over HTTP by
one generic transcoder driven by the contracts' descriptors — no hand-written route per method.

A request becomes the RPC's request message (path parameters, query parameters and the body as
the annotation says), is sent to the server's own gRPC port with the caller's credentials (so
authentication, RBAC, metrics and error mapping are exactly the gRPC ones), and the answer comes
back as JSON with the contracts' JSON names. Errors are ``{"error", "code", "message"}`` with the
gRPC code mapped to an HTTP status; server streams are newline-delimited JSON
(``{"result": ...}`` per line, as grpc-gateway writes them).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import grpc
from google.api import annotations_pb2
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor, MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from ferry.convert import from_k8s, to_k8s

HTTP_STATUS = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}


class RequestError(Exception):
    """The HTTP request cannot become an RPC request (bad JSON, wrong field type)."""


@dataclass(frozen=True)
class Route:
    verb: str
    template: str
    regex: re.Pattern[str]
    params: tuple[str, ...]  # dotted field paths bound from the path, in order
    body: str  # "" none, "*" whole message, else a field name
    method: MethodDescriptor

    @property
    def full_method(self) -> str:
        return f"/{self.method.containing_service.full_name}/{self.method.name}"

    @property
    def streaming(self) -> bool:
        return bool(self.method.server_streaming)


_VAR = re.compile(r"\{([a-zA-Z0-9_.]+)(?:=([^}]*))?\}")


def _compile(template: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    params: list[str] = []
    pattern = ""
    position = 0
    for match in _VAR.finditer(template):
        pattern += re.escape(template[position : match.start()])
        params.append(match.group(1))
        pattern += "(.+)" if match.group(2) == "**" else "([^/]+)"
        position = match.end()
    pattern += re.escape(template[position:])
    return re.compile(f"^{pattern}$"), tuple(params)


def routes(services: Iterable[ServiceDescriptor]) -> list[Route]:
    found = []
    for service in services:
        for method in service.methods:
            options = method.GetOptions()
            if not options.HasExtension(annotations_pb2.http):
                continue
            rule = options.Extensions[annotations_pb2.http]
            for binding in [rule, *rule.additional_bindings]:
                verb = binding.WhichOneof("pattern")
                if verb not in ("get", "put", "post", "delete", "patch"):
                    continue
                template = getattr(binding, verb)
                regex, params = _compile(template)
                found.append(Route(verb.upper(), template, regex, params, binding.body or rule.body, method))
    # literal segments win over variables: longer literal prefixes first
    return sorted(found, key=lambda r: (-len(r.template.split("{")[0]), r.template))


def match(table: list[Route], verb: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for route in table:
        if route.verb != verb:
            continue
        found = route.regex.match(path)
        if found:
            values = {
                name: urllib.parse.unquote(value)
                for name, value in zip(route.params, found.groups(), strict=True)
            }
            return route, values
    return None


def _field(descriptor: Any, name: str) -> FieldDescriptor | None:
    for field in descriptor.fields:
        if name in (field.name, field.json_name):
            found: FieldDescriptor = field
            return found
    return None


def _scalar(field: FieldDescriptor, value: str) -> Any:
    if field.type in (FieldDescriptor.TYPE_BOOL,):
        if value.lower() not in ("true", "false", "1", "0"):
            raise RequestError(f"{field.json_name} must be true or false, not {value!r}")
        return value.lower() in ("true", "1")
    if field.type in (
        FieldDescriptor.TYPE_INT32,
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_UINT32,
        FieldDescriptor.TYPE_UINT64,
    ):
        try:
            return int(value)
        except ValueError:
            raise RequestError(f"{field.json_name} must be an integer, not {value!r}") from None
    if field.type == FieldDescriptor.TYPE_ENUM:
        return value
    return value


def _set_path(message: Message, dotted: str, value: str, *, append: bool = False) -> None:
    parts = dotted.split(".")
    target = message
    for part in parts[:-1]:
        field = _field(target.DESCRIPTOR, part)
        if field is None or field.message_type is None:
            raise RequestError(f"unknown parameter {dotted!r}")
        target = getattr(target, field.name)
    field = _field(target.DESCRIPTOR, parts[-1])
    if field is None or field.message_type is not None:
        raise RequestError(f"unknown parameter {dotted!r}")
    converted = _scalar(field, value)
    if field.is_repeated:
        getattr(target, field.name).append(converted)
    else:
        setattr(target, field.name, converted)


def build_request(
    route: Route, path_values: dict[str, str], query: Iterable[tuple[str, str]], body: Any
) -> Message:
    cls = GetMessageClass(route.method.input_type)
    message = cls()
    if route.body == "*" and body is not None:
        message = _from_json(body, cls)
    elif route.body and body is not None:
        field = _field(route.method.input_type, route.body)
        if field is None or field.message_type is None:
            raise RequestError(f"the body maps to unknown field {route.body!r}")
        getattr(message, field.name).CopyFrom(_from_json(body, GetMessageClass(field.message_type)))
    for name, value in path_values.items():
        _set_path(message, name, value)
    for name, value in query:
        _set_path(message, name, value, append=True)
    return message


def _from_json(body: Any, cls: Any) -> Message:
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    try:
        message: Message = from_k8s(body, cls)
    except json_format.ParseError as err:
        raise RequestError(f"invalid request body: {err}") from None
    return message


def to_json(message: Message) -> dict[str, Any]:
    return to_k8s(message)


def error_body(code: grpc.StatusCode, message: str) -> dict[str, Any]:
    return {"error": message, "code": code.value[0], "message": message}

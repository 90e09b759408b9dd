"""An OpenAPI 3 document generated from the contracts (served at ``/api/openapi.json``): one
operation per annotated RPC, schemas from the messages with their JSON names."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor, ServiceDescriptor

from ferry import __version__
from server.gateway import routes

_TYPES = {
    FieldDescriptor.TYPE_STRING: {"type": "string"},
    FieldDescriptor.TYPE_BOOL: {"type": "boolean"},
    FieldDescriptor.TYPE_INT32: {"type": "integer", "format": "int32"},
    FieldDescriptor.TYPE_INT64: {"type": "integer", "format": "int64"},
    FieldDescriptor.TYPE_UINT32: {"type": "integer"},
    FieldDescriptor.TYPE_UINT64: {"type": "integer"},
    FieldDescriptor.TYPE_DOUBLE: {"type": "number"},
    FieldDescriptor.TYPE_FLOAT: {"type": "number"},
    FieldDescriptor.TYPE_BYTES: {"type": "string", "format": "byte"},
    FieldDescriptor.TYPE_ENUM: {"type": "string"},
}


def _ref(descriptor: Descriptor) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{descriptor.full_name}"}


def _field_schema(field: FieldDescriptor, pending: list[Descriptor]) -> dict[str, Any]:
    message = field.message_type
    if message is not None and message.GetOptions().map_entry:
        return {
            "type": "object",
            "additionalProperties": _field_schema(message.fields_by_name["value"], pending),
        }
    if message is not None:
        pending.append(message)
        schema: dict[str, Any] = _ref(message)
    else:
        schema = dict(_TYPES[field.type])
    return {"type": "array", "items": schema} if field.is_repeated else schema


def document(services: Iterable[ServiceDescriptor]) -> dict[str, Any]:
    services = list(services)
    schemas: dict[str, Any] = {}
    pending: list[Descriptor] = []
    paths: dict[str, Any] = {}
    for route in routes(services):
        method = route.method
        path = route.template
        for param in route.params:
            path = path.replace("{" + param + "=**}", "{" + param + "}")
        parameters = [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in route.params
        ]
        operation: dict[str, Any] = {
            "operationId": f"{method.containing_service.name}_{method.name}",
            "tags": [method.containing_service.name],
            "parameters": parameters,
            "responses": {
                "200": {
                    "description": "A successful response"
                    + (' (a stream: one JSON object per line, {"result": ...})' if route.streaming else ""),
                    "content": {"application/json": {"schema": _ref(method.output_type)}},
                },
                "default": {
                    "description": "An error",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
            },
        }
        pending.append(method.output_type)
        if route.body:
            body_type = (
                method.input_type
                if route.body == "*"
                else method.input_type.fields_by_name[route.body].message_type
            )
            assert body_type is not None
            pending.append(body_type)
            operation["requestBody"] = {
                "content": {"application/json": {"schema": _ref(body_type)}},
                "required": True,
            }
        else:
            for field in method.input_type.fields:
                if (
                    field.message_type is None
                    and field.name not in route.params
                    and field.json_name not in route.params
                ):
                    operation["parameters"].append(
                        {"name": field.json_name, "in": "query", "schema": _field_schema(field, pending)}
                    )
        paths.setdefault(path, {})[route.verb.lower()] = operation
    while pending:
        descriptor = pending.pop()
        if descriptor.full_name in schemas:
            continue
        schemas[descriptor.full_name] = {"type": "object"}  # placeholder breaks recursion
        properties = {f.json_name: _field_schema(f, pending) for f in descriptor.fields}
        schemas[descriptor.full_name] = {"type": "object", "properties": properties}
    schemas["Error"] = {
        "type": "object",
        "properties": {
            "error": {"type": "string"},
            "code": {"type": "integer"},
            "message": {"type": "string"},
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "ferry API", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
        "security": [{"bearer": []}],
    }

"""Conversion between ferry.v1 messages and Kubernetes JSON (plain dicts).

The contracts give every field its Kubernetes/Argo CD JSON name, so an Application message and an
Application custom resource have the same JSON shape. Two details differ and are handled here,
in one place: protobuf's JSON mapping writes 64-bit integers as strings (Kubernetes wants
numbers), and a Kubernetes object carries fields the contracts leave out (managedFields, ...),
which are dropped on the way in.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

M = TypeVar("M", bound=Message)

_INT64_TYPES = frozenset(
    {
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_FIXED64,
        FieldDescriptor.TYPE_SFIXED64,
    }
)


def _numbers_for_int64(value: Any, descriptor: Descriptor) -> Any:
    """Rewrites the string-encoded 64-bit integers of a MessageToDict result as numbers, in place."""
    if not isinstance(value, dict):
        return value
    for field in descriptor.fields:
        if field.json_name not in value:
            continue
        item = value[field.json_name]
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            if value_field.message_type is not None:
                for key, entry in item.items():
                    item[key] = _numbers_for_int64(entry, value_field.message_type)
            elif value_field.type in _INT64_TYPES:
                value[field.json_name] = {k: int(v) for k, v in item.items()}
        elif field.message_type is not None:
            if isinstance(item, list):
                value[field.json_name] = [_numbers_for_int64(v, field.message_type) for v in item]
            else:
                value[field.json_name] = _numbers_for_int64(item, field.message_type)
        elif field.type in _INT64_TYPES:
            value[field.json_name] = [int(v) for v in item] if isinstance(item, list) else int(item)
    return value


def to_k8s(message: Message) -> dict[str, Any]:
    """A message as Kubernetes JSON: Argo CD field names, numbers as numbers, defaults omitted."""
    as_dict = json_format.MessageToDict(message)
    result: dict[str, Any] = _numbers_for_int64(as_dict, cast(Descriptor, message.DESCRIPTOR))
    return result


def from_k8s(obj: dict[str, Any], message_type: type[M]) -> M:
    """A Kubernetes object (or any part of one) as a message; fields the contract lacks are dropped.

    Raises ``google.protobuf.json_format.ParseError`` when a known field has the wrong type.
    """
    return json_format.ParseDict(obj, message_type(), ignore_unknown_fields=True)

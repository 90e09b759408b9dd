"""Field paths of Kubernetes objects and the ownership recorded in ``metadata.managedFields``.

A path is a tuple of steps: a map key (``str``), a list item by its key fields
(``ListKey``), a set value (``SetValue``) or a position (``int``). ``ITEM`` as the last step
means "the list item itself" (fieldsV1's ``"."``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final


@dataclass(frozen=True)
class ListKey:
    """A list item identified by key fields, e.g. a container by ``{"name": "web"}``."""

    fields: tuple[tuple[str, Any], ...]

    def matches(self, item: object, *, lenient: bool = False) -> bool:
        """With ``lenient``, a key field the item leaves out matches: a manifest often omits a key
        field the API server defaults (a Service port's ``protocol: TCP``)."""
        if not isinstance(item, Mapping):
            return False
        return all((lenient and k not in item) or _same(item.get(k), v) for k, v in self.fields)


@dataclass(frozen=True)
class SetValue:
    value: Any

    def matches(self, item: object, *, lenient: bool = False) -> bool:
        return _same(item, self.value)


ITEM: Final = "."
Step = str | int | ListKey | SetValue
Path = tuple[Step, ...]


def _same(a: object, b: object) -> bool:
    # fieldsV1 keys write numbers as JSON numbers; manifests may carry them as strings.
    return a == b or (isinstance(a, int | str) and isinstance(b, int | str) and str(a) == str(b))


def _hashable(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value


def _step(key: str) -> Step:
    kind, _, rest = key.partition(":")
    if kind == "f":
        return rest
    if kind == "k":
        return ListKey(tuple(sorted((k, _hashable(v)) for k, v in json.loads(rest).items())))
    if kind == "v":
        return SetValue(_hashable(json.loads(rest)))
    if kind == "i":
        return int(rest)
    raise ValueError(f"unknown managedFields key {key!r}")


def leaf_paths(fields_v1: Mapping[str, Any], prefix: Path = ()) -> Iterator[Path]:
    """Every owned leaf of a fieldsV1 tree (fields with no owned children, and list items)."""
    for key, child in fields_v1.items():
        if key == ITEM:
            yield (*prefix, ITEM)
            continue
        path = (*prefix, _step(key))
        if child:
            yield from leaf_paths(child, path)
        else:
            yield path


def owned_paths(live: Mapping[str, Any], manager: str, *, exclude: bool = False) -> set[Path]:
    """Leaf paths owned by ``manager`` (or, with ``exclude``, by every other manager)."""
    paths: set[Path] = set()
    for entry in (live.get("metadata") or {}).get("managedFields") or []:
        if (entry.get("manager") == manager) != exclude and entry.get("fieldsV1"):
            paths.update(leaf_paths(entry["fieldsV1"]))
    return paths


def _find_index(items: list[Any], step: Step, *, lenient: bool = False) -> int | None:
    if isinstance(step, int):
        return step if 0 <= step < len(items) else None
    if isinstance(step, ListKey | SetValue):
        for index, item in enumerate(items):
            if step.matches(item, lenient=lenient):
                return index
    return None


def contains(obj: Any, path: Path) -> bool:
    """Whether ``obj`` (a manifest) has a value at ``path``; list keys match leniently."""
    for step in path:
        if step == ITEM:
            return True
        if isinstance(obj, Mapping) and isinstance(step, str):
            if step not in obj:
                return False
            obj = obj[step]
        elif isinstance(obj, list):
            index = _find_index(obj, step, lenient=True)
            if index is None:
                return False
            obj = obj[index]
        else:
            return False
    return True


def delete(obj: Any, path: Path) -> None:
    """Removes the value at ``path`` (a map key, or a whole list item for an ``ITEM`` path)."""
    if path and path[-1] == ITEM:
        path = path[:-1]
    if not path:
        return
    parent = obj
    for step in path[:-1]:
        if isinstance(parent, Mapping) and isinstance(step, str):
            parent = parent.get(step)
        elif isinstance(parent, list):
            index = _find_index(parent, step)
            parent = parent[index] if index is not None else None
        else:
            return
        if parent is None:
            return
    last = path[-1]
    if isinstance(parent, dict) and isinstance(last, str):
        parent.pop(last, None)
    elif isinstance(parent, list):
        index = _find_index(parent, last)
        if index is not None:
            del parent[index]


def delete_pointer(obj: Any, pointer: str) -> None:
    """Removes the value at an RFC 6901 JSON pointer ("/spec/replicas"); absent paths are fine."""
    if not pointer or pointer == "/":
        return
    steps = [part.replace("~1", "/").replace("~0", "~") for part in pointer.lstrip("/").split("/")]
    parent = obj
    for step in steps[:-1]:
        if isinstance(parent, dict):
            parent = parent.get(step)
        elif isinstance(parent, list) and step.isdigit() and int(step) < len(parent):
            parent = parent[int(step)]
        else:
            return
    last = steps[-1]
    if isinstance(parent, dict):
        parent.pop(last, None)
    elif isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        del parent[int(last)]


def delete_plain_path(obj: Any, path: list[str | int]) -> None:
    """Removes the value at a path of keys and indexes (jq's ``path()`` output)."""
    parent = obj
    for step in path[:-1]:
        try:
            parent = parent[step]
        except (KeyError, IndexError, TypeError):
            return
    if not path:
        return
    last = path[-1]
    if isinstance(parent, dict):
        parent.pop(last, None)
    elif isinstance(parent, list) and isinstance(last, int) and 0 <= last < len(parent):
        del parent[last]

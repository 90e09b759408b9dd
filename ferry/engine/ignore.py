"""``ignoreDifferences``: fields left out of the comparison, as Argo CD defines them.

A rule applies to objects matching its group, kind and (optionally) name and namespace, and
removes fields by JSON pointer, by jq path expression, or by the field managers that own them.
Rules come from the Application's ``spec.ignoreDifferences`` and from ``ferry-cm``
(``resource.customizations.ignoreDifferences.<group>_<kind>`` and ``...all``, YAML with
``jsonPointers``, ``jqPathExpressions``, ``managedFieldsManagers``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jq
import yaml

from ferry.engine import fields


class IgnoreRuleError(ValueError):
    """A rule that cannot be used (a jq expression that does not compile); the message says which."""


@dataclass(frozen=True)
class IgnoreRule:
    group: str = ""
    kind: str = ""  # "" or "*" matches every kind
    name: str = ""
    namespace: str = ""
    json_pointers: tuple[str, ...] = ()
    jq_path_expressions: tuple[str, ...] = ()
    managed_fields_managers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for expr in self.jq_path_expressions:
            _compiled(expr)

    def matches(self, obj: Mapping[str, Any]) -> bool:
        meta = obj.get("metadata") or {}
        api_version = str(obj.get("apiVersion", ""))
        group = api_version.rpartition("/")[0] if "/" in api_version else ""
        # Argo CD semantics: an empty group is the core group; "*" and globs match several.
        return (
            fnmatch.fnmatchcase(group, self.group)
            and (not self.kind or fnmatch.fnmatchcase(str(obj.get("kind", "")), self.kind))
            and (not self.name or meta.get("name") == self.name)
            and (not self.namespace or meta.get("namespace") == self.namespace)
        )


_JQ_CACHE: dict[str, Any] = {}


def _compiled(expr: str) -> Any:
    program = _JQ_CACHE.get(expr)
    if program is None:
        try:
            program = jq.compile(f"[path({expr})]")
        except ValueError as err:
            raise IgnoreRuleError(f"jq path expression {expr!r} does not compile: {err}") from err
        _JQ_CACHE[expr] = program
    return program


def _jq_paths(expr: str, obj: Mapping[str, Any]) -> list[list[str | int]]:
    try:
        found = _compiled(expr).input_value(obj).first()
    except ValueError:
        return []  # the expression does not apply to this object's shape
    return [p for p in found or [] if isinstance(p, list)]


def apply_ignore_rules(rules: Iterable[IgnoreRule], obj: dict[str, Any], live: Mapping[str, Any]) -> None:
    """Removes ignored fields from ``obj`` in place; ``live`` supplies managedFields ownership."""
    for rule in rules:
        if not rule.matches(live):
            continue
        for pointer in rule.json_pointers:
            fields.delete_pointer(obj, pointer)
        for expr in rule.jq_path_expressions:
            # delete deepest / last positions first so earlier deletions do not shift later paths
            for path in sorted(
                _jq_paths(expr, obj), key=lambda p: [str(s).zfill(12) for s in p], reverse=True
            ):
                fields.delete_plain_path(obj, path)
        for manager in rule.managed_fields_managers:
            for owned in sorted(fields.owned_paths(live, manager), key=len, reverse=True):
                fields.delete(obj, owned)


def rule_from_spec(spec: Mapping[str, Any]) -> IgnoreRule:
    """A rule from an Application's ``spec.ignoreDifferences[]`` entry."""
    return IgnoreRule(
        group=str(spec.get("group", "")),
        kind=str(spec.get("kind", "")),
        name=str(spec.get("name", "")),
        namespace=str(spec.get("namespace", "")),
        json_pointers=tuple(spec.get("jsonPointers") or ()),
        jq_path_expressions=tuple(spec.get("jqPathExpressions") or ()),
        managed_fields_managers=tuple(spec.get("managedFieldsManagers") or ()),
    )


def rules_from_settings(data: Mapping[str, str]) -> list[IgnoreRule]:
    """System-level rules from ``ferry-cm`` data (``resource.customizations.ignoreDifferences.*``)."""
    prefix = "resource.customizations.ignoreDifferences."
    rules = []
    for key, text in data.items():
        if not key.startswith(prefix):
            continue
        target = key[len(prefix) :]
        spec = yaml.safe_load(text) or {}
        if not isinstance(spec, Mapping):
            raise IgnoreRuleError(f"{key}: expected a YAML map of jsonPointers / jqPathExpressions")
        if target == "all":
            group, kind = "*", "*"
        else:
            group, sep, kind = target.rpartition("_")
            group = group if sep else ""
        rules.append(rule_from_spec({**spec, "group": group, "kind": kind}))
    return rules


def rules_for(app_rules: Sequence[Mapping[str, Any]], settings: Mapping[str, str]) -> list[IgnoreRule]:
    return [*(rule_from_spec(r) for r in app_rules), *rules_from_settings(settings)]

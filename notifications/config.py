"""The notifications configuration: Argo CD's ``argocd-notifications-cm`` keys, read from the
ConfigMap ``ferry-notifications-cm`` and the Secret ``ferry-notifications-secret``.

| key | meaning |
|---|---|
| ``trigger.<name>`` | YAML list of conditions ``{when, send: [templates], oncePer, description}`` |
| ``template.<name>`` | YAML notification: ``message``, ``email``, ``slack``, ``webhook``, ``github`` |
| ``service.<type>[.<name>]`` | a service and its options; ``$key`` is the Secret's ``key`` |
| ``subscriptions`` | ``[{recipients: [service:recipient], triggers: [...], selector: ...}]`` |
| ``defaultTriggers`` / ``defaultTriggers.<service>`` | the triggers of subscriptions that name none |
| ``context`` | a YAML map templates see as ``.context`` |

Pure: parsing never does I/O. A broken key is reported in ``Config.errors`` (and skipped) rather
than making the whole configuration unusable, so one typo does not silence every notification.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from ferry import gotemplate
from ferry.selectors import parse as parse_selector
from notifications.expr import ExprError, Program, compile_expr

CONFIGMAP = "ferry-notifications-cm"
SECRET = "ferry-notifications-secret"  # noqa: S105 - a Secret's name

SERVICE_TYPES = frozenset({"webhook", "email", "slack", "github"})


@dataclass(frozen=True)
class Condition:
    when: str
    send: tuple[str, ...]
    once_per: str = ""
    description: str = ""
    program: Program | None = None
    once_per_program: Program | None = None


@dataclass(frozen=True)
class Service:
    name: str  # what subscriptions name (``slack``, or ``<name>`` of service.webhook.<name>)
    type: str
    options: dict[str, Any]


@dataclass(frozen=True)
class GlobalSubscription:
    recipients: tuple[str, ...]
    triggers: tuple[str, ...]
    selector: str

    def matches(self, labels: dict[str, str]) -> bool:
        return not self.selector or parse_selector(self.selector)(labels)


@dataclass
class Config:
    triggers: dict[str, list[Condition]] = field(default_factory=dict)
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    subscriptions: list[GlobalSubscription] = field(default_factory=list)
    default_triggers: list[str] = field(default_factory=list)
    service_default_triggers: dict[str, list[str]] = field(default_factory=dict)
    context: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


_SECRET_REF = re.compile(r"[$][\w-]+")


def substitute_secrets(value: Any, secrets: dict[str, str], missing: list[str]) -> Any:
    """Replaces ``$key`` in every string of a service's options with the Secret's value (Argo CD's
    replaceStringSecret: an unknown key stays as written)."""
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            key = match.group(0)[1:]
            if key in secrets:
                return secrets[key]
            missing.append(key)
            return match.group(0)

        return _SECRET_REF.sub(replace, value)
    if isinstance(value, dict):
        return {k: substitute_secrets(v, secrets, missing) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute_secrets(v, secrets, missing) for v in value]
    return value


def _yaml(text: str) -> Any:
    return yaml.load(text, Loader=yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader)  # noqa: S506


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("expected a list of strings")
    return list(value)


def decode_secret(secret: dict[str, Any] | None) -> dict[str, str]:
    data = (secret or {}).get("data") or {}
    out: dict[str, str] = {}
    for key, value in data.items():
        try:
            out[key] = base64.b64decode(value).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            continue
    return out


def parse_config(configmap: dict[str, Any] | None, secret: dict[str, Any] | None) -> Config:
    data: dict[str, str] = (configmap or {}).get("data") or {}
    config = Config(secrets=decode_secret(secret))
    for key in sorted(data):
        value = data[key]
        try:
            _parse_key(config, key, value)
        except (yaml.YAMLError, ValueError, TypeError, ExprError, gotemplate.TemplateError) as err:
            config.errors.append(f"{key}: {err}")
    return config


def _parse_key(config: Config, key: str, value: str) -> None:
    if key == "subscriptions":
        for item in _yaml(value) or []:
            if not isinstance(item, dict):
                raise ValueError("each subscription must be a map")
            selector = str(item.get("selector") or "")
            if selector:
                parse_selector(selector)
            config.subscriptions.append(
                GlobalSubscription(
                    tuple(_strings(item.get("recipients"))), tuple(_strings(item.get("triggers"))), selector
                )
            )
    elif key == "defaultTriggers":
        config.default_triggers = _strings(_yaml(value))
    elif key.startswith("defaultTriggers."):
        config.service_default_triggers[key.removeprefix("defaultTriggers.")] = _strings(_yaml(value))
    elif key == "context":
        context = _yaml(value) or {}
        if not isinstance(context, dict):
            raise ValueError("context must be a map")
        config.context = {str(k): "" if v is None else str(v) for k, v in context.items()}
    elif key.startswith("trigger."):
        conditions = _yaml(value) or []
        if not isinstance(conditions, list):
            raise ValueError("a trigger is a list of conditions")
        config.triggers[key.removeprefix("trigger.")] = [_condition(c) for c in conditions]
    elif key.startswith("template."):
        template = _yaml(value) or {}
        if not isinstance(template, dict):
            raise ValueError("a template is a map")
        config.templates[key.removeprefix("template.")] = template
    elif key.startswith("service."):
        parts = key.split(".")
        if len(parts) == 2:
            service_type, name = parts[1], parts[1]
        elif len(parts) == 3:
            service_type, name = parts[1], parts[2]
        else:
            raise ValueError(f"invalid service key; expected 'service.<type>(.<name>)' but got '{key}'")
        if service_type not in SERVICE_TYPES:
            raise ValueError(
                f"service type {service_type!r} is not supported (supported: {sorted(SERVICE_TYPES)})"
            )
        options = _yaml(value) or {}
        if not isinstance(options, dict):
            raise ValueError("service options must be a map")
        missing: list[str] = []
        options = substitute_secrets(options, config.secrets, missing)
        if missing:
            config.errors.append(f"{key}: references {sorted(set(missing))} missing from {SECRET}")
        config.services[name] = Service(name, service_type, options)


def _condition(raw: Any) -> Condition:
    if not isinstance(raw, dict):
        raise ValueError("a condition is a map with when and send")
    when = str(raw.get("when") if raw.get("when") is not None else "false")
    if isinstance(raw.get("when"), bool):
        when = "true" if raw["when"] else "false"
    once_per = str(raw.get("oncePer") or "")
    return Condition(
        when=when,
        send=tuple(_strings(raw.get("send"))),
        once_per=once_per,
        description=str(raw.get("description") or ""),
        program=compile_expr(when),
        once_per_program=compile_expr(once_per) if once_per else None,
    )

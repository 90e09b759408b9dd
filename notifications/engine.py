"""What to send, decided purely from an Application, its AppProject, the configuration and the
delivery state recorded on the app — Argo CD's notifications engine, without I/O.

- Destinations: the app's annotations ``notifications.argoproj.io/subscribe.<trigger>.<service>:
  <recipient>;<recipient>`` (or ferry's ``notifications.ferrycd.io/...``; ``subscribe.<service>``
  uses the default triggers; ``.../subscriptions`` takes a YAML list), the same annotations on its
  AppProject (defaults for every app of the project), and the global ``subscriptions`` whose label
  selector matches the app.
- Triggers: each condition's ``when`` is evaluated; a true one yields a delivery per destination
  unless its state key (``[oncePer:]trigger:[i].<sha1 of when>:service:recipient``) is recorded.
  A false condition without ``oncePer`` forgets its keys, so it notifies again next time it holds.
- State: the annotation ``notified.notifications.ferrycd.io``, a JSON map key → Unix time, at most
  100 entries (the oldest go first), as Argo CD keeps ``notified.notifications.argoproj.io``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import yaml

from ferry import gotemplate
from ferry.gotemplate.helpers import strings_helpers, time_helpers
from ferry.gotemplate.values import STRING, GoFunc, Signature
from notifications.config import Condition, Config
from notifications.expr import ExprError, to_text

log = logging.getLogger(__name__)

ANNOTATION_PREFIXES = ("notifications.argoproj.io", "notifications.ferrycd.io")
NOTIFIED_ANNOTATION = "notified.notifications.ferrycd.io"
STATE_MAX_ENTRIES = 100


@dataclass(frozen=True, order=True)
class Destination:
    service: str
    recipient: str

    def __str__(self) -> str:
        return f"{self.service}:{self.recipient}" if self.recipient else self.service


Destinations = dict[str, list[Destination]]


def _recipients(value: str) -> list[str]:
    return [r.strip() for r in value.split(";") if r.strip()]


def annotation_destinations(
    annotations: dict[str, str], default_triggers: list[str], service_defaults: dict[str, list[str]]
) -> Destinations:
    """Destinations an object's annotations subscribe (Argo CD's Annotations.GetDestinations)."""
    found: list[tuple[str, str, list[str]]] = []
    for key, value in (annotations or {}).items():
        for prefix in ANNOTATION_PREFIXES:
            if key.startswith(prefix + "/subscribe."):
                parts = key[len(prefix + "/subscribe.") :].split(".")
                trigger, service = (parts[0], parts[1]) if len(parts) >= 2 else ("", parts[0])
                found.append((trigger, service, [""] if value == "" else _recipients(value)))
            elif key.startswith(prefix + "/subscriptions"):
                try:
                    items = yaml.safe_load(value) or []
                except yaml.YAMLError as err:
                    log.warning("unreadable subscriptions annotation", extra={"key": key, "error": str(err)})
                    continue
                for item in items if isinstance(items, list) else []:
                    if not isinstance(item, dict):
                        continue
                    triggers = [str(t) for t in item.get("trigger") or []]
                    for dest in item.get("destinations") or []:
                        if not isinstance(dest, dict):
                            continue
                        recipients = [str(r) for r in dest.get("recipients") or []]
                        for trigger in triggers or [""]:
                            found.append((trigger, str(dest.get("service") or ""), recipients))
    result: Destinations = {}
    for trigger, service, recipients in found:
        if not service:
            continue
        for recipient in recipients:
            if trigger:
                triggers = [trigger]
            elif service in service_defaults:
                triggers = service_defaults[service]
            else:
                triggers = default_triggers
            for name in triggers:
                result.setdefault(name, []).append(Destination(service, recipient))
    return result


def global_destinations(config: Config, labels: dict[str, str]) -> Destinations:
    result: Destinations = {}
    for subscription in config.subscriptions:
        triggers = list(subscription.triggers) or config.default_triggers
        if not subscription.matches(labels):
            continue
        for trigger in triggers:
            for recipient in subscription.recipients:
                service, _, to = recipient.partition(":")
                result.setdefault(trigger, []).append(Destination(service, to))
    return result


def destinations(config: Config, app: dict[str, Any], project: dict[str, Any] | None) -> Destinations:
    meta = app.get("metadata") or {}
    merged: Destinations = {}
    sources = [
        global_destinations(config, meta.get("labels") or {}),
        annotation_destinations(
            meta.get("annotations") or {}, config.default_triggers, config.service_default_triggers
        ),
    ]
    if project is not None:
        project_annotations = (project.get("metadata") or {}).get("annotations") or {}
        sources.append(
            annotation_destinations(
                project_annotations, config.default_triggers, config.service_default_triggers
            )
        )
    for source in sources:
        for trigger, dests in source.items():
            bucket = merged.setdefault(trigger, [])
            for dest in dests:
                if dest not in bucket:
                    bucket.append(dest)
    return merged


# --- variables ---------------------------------------------------------------------------------------


def _repo_full_name(url: str) -> str:
    path = _repo_path(url)
    parts = [p for p in path.removesuffix(".git").split("/") if p]
    return "/".join(parts[:2]) if len(parts) >= 2 else path.removesuffix(".git")


def _repo_path(url: str) -> str:
    match = re.match(r"^(?:[\w.-]+@)?([\w.-]+):(?!//)(.*)$", url)  # scp-like git@host:org/repo
    if match and "://" not in url:
        return "/" + match.group(2)
    return urllib.parse.urlsplit(url).path


def _repo_https(url: str) -> str:
    match = re.match(r"^(?:[\w.-]+@)?([\w.-]+):(?!//)(.*)$", url)
    if match and "://" not in url:
        return f"https://{match.group(1)}/{match.group(2)}"
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port and parts.scheme in ("https", "http"):
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit(("https", host, parts.path, parts.query, parts.fragment))


def _unavailable(name: str) -> GoFunc:
    def fail(*_args: Any) -> Any:
        raise gotemplate.FuncError(f"repo.{name} is not available in ferry's notifications controller")

    return GoFunc(name, Signature((), STRING, STRING, True), fail)


def repo_helpers() -> dict[str, Any]:
    one = Signature((STRING,), None, STRING, False)
    return {
        "RepoURLToHTTPS": GoFunc("RepoURLToHTTPS", one, _repo_https),
        "FullNameByRepoURL": GoFunc("FullNameByRepoURL", one, _repo_full_name),
        "QueryEscape": GoFunc("QueryEscape", one, lambda s: urllib.parse.quote_plus(s, safe="")),
        "GetCommitMetadata": _unavailable("GetCommitMetadata"),
        "GetAppDetails": _unavailable("GetAppDetails"),
    }


def variables(
    config: Config, app: dict[str, Any], project: dict[str, Any] | None, service_type: str = ""
) -> dict[str, Any]:
    """What templates and conditions see: ``app``, ``appProject``, ``context``, ``secrets``,
    ``serviceType``, and the helpers ``time``, ``strings``, ``repo``."""
    context = dict(config.context)
    if service_type:
        context["notificationType"] = service_type
    return {
        "app": app,
        "appProject": project or {},
        "context": context,
        "secrets": dict(config.secrets),
        "serviceType": service_type,
        "time": time_helpers(),
        "strings": strings_helpers(),
        "repo": repo_helpers(),
    }


# --- triggers ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConditionResult:
    key: str
    once_per: str
    templates: tuple[str, ...]
    triggered: bool


def _hash(text: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha1(text.encode()).digest()).decode().rstrip("=")  # noqa: S324 - Argo CD's key


def run_trigger(conditions: list[Condition], env: dict[str, Any]) -> tuple[list[ConditionResult], list[str]]:
    """Evaluates a trigger's conditions; errors make a condition false and are returned."""
    results: list[ConditionResult] = []
    errors: list[str] = []
    for index, condition in enumerate(conditions):
        triggered = False
        once_per = ""
        try:
            value = condition.program.run(env) if condition.program else False
            triggered = value is True
        except ExprError as err:
            errors.append(f"condition [{index}] ({condition.when}): {err}")
        if triggered and condition.once_per_program is not None:
            try:
                once_per = to_text(condition.once_per_program.run(env))
            except ExprError as err:
                errors.append(f"oncePer of condition [{index}] ({condition.once_per}): {err}")
        results.append(
            ConditionResult(f"[{index}].{_hash(condition.when)}", once_per, condition.send, triggered)
        )
    return results, errors


def state_key(trigger: str, result: ConditionResult, dest: Destination) -> str:
    key = f"{trigger}:{result.key}:{dest.service}:{dest.recipient}"
    return f"{result.once_per}:{key}" if result.once_per else key


def read_state(app: dict[str, Any]) -> dict[str, int]:
    raw = ((app.get("metadata") or {}).get("annotations") or {}).get(NOTIFIED_ANNOTATION) or ""
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {
        str(k): int(v) for k, v in value.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
    }


def truncate(state: dict[str, int]) -> dict[str, int]:
    if len(state) <= STATE_MAX_ENTRIES:
        return state
    keep = sorted(state.items(), key=lambda kv: (kv[1], kv[0]))[len(state) - STATE_MAX_ENTRIES :]
    return dict(keep)


@dataclass(frozen=True)
class Delivery:
    trigger: str
    destination: Destination
    templates: tuple[str, ...]
    key: str


@dataclass
class Plan:
    deliveries: list[Delivery] = field(default_factory=list)
    forget: list[str] = field(default_factory=list)  # state keys whose condition no longer holds
    already: int = 0
    warnings: list[str] = field(default_factory=list)
    evaluations: list[tuple[str, bool]] = field(default_factory=list)  # (trigger, condition held)


def plan(config: Config, app: dict[str, Any], project: dict[str, Any] | None, state: dict[str, int]) -> Plan:
    result = Plan()
    dests = destinations(config, app, project)
    if not dests:
        return result
    env = variables(config, app, project)
    for trigger in sorted(dests):
        conditions = config.triggers.get(trigger)
        if conditions is None:
            result.warnings.append(f"trigger {trigger!r} is not configured")
            continue
        outcomes, errors = run_trigger(conditions, env)
        result.warnings.extend(f"trigger {trigger!r}: {e}" for e in errors)
        for outcome in outcomes:
            result.evaluations.append((trigger, outcome.triggered))
            for dest in dests[trigger]:
                key = state_key(trigger, outcome, dest)
                if not outcome.triggered:
                    if not outcome.once_per and key in state:
                        result.forget.append(key)
                    continue
                if key in state:
                    result.already += 1
                    continue
                result.deliveries.append(Delivery(trigger, dest, outcome.templates, key))
    return result


# --- templates ---------------------------------------------------------------------------------------

TEMPLATE_FIELDS: dict[str, tuple[str, ...]] = {
    "email": ("subject", "body"),
    "slack": ("username", "icon", "attachments", "blocks", "groupingKey"),
    "github": ("repoURLPath", "revisionPath"),
}
GITHUB_DEFAULTS = {
    "repoURLPath": "{{.app.spec.source.repoURL}}",
    "revisionPath": "{{.app.status.operationState.syncResult.revision}}",
}


def _render(name: str, text: Any, env: dict[str, Any]) -> str:
    if text is None or text == "":
        return ""
    if not isinstance(text, str):
        text = str(text)
    template = gotemplate.Template(name, gotemplate.NOTIFICATIONS)
    return template.parse(text).execute(env)


def render_notification(
    config: Config, template_names: tuple[str, ...], env: dict[str, Any]
) -> dict[str, Any]:
    """Renders templates into one notification, as the engine's FormatNotification does: later
    templates override what earlier ones set. Raises TemplateError or KeyError (unknown template)."""
    notification: dict[str, Any] = {"message": ""}
    for name in template_names:
        spec = config.templates.get(name)
        if spec is None:
            raise KeyError(f"template '{name}' is not supported")
        message = _render(name, spec.get("message"), env)
        if message:
            notification["message"] = message
        email = spec.get("email")
        if isinstance(email, dict):
            out = notification.setdefault("email", {})
            for key in TEMPLATE_FIELDS["email"]:
                value = _render(name, email.get(key), env)
                if value:
                    out[key] = value
        slack = spec.get("slack")
        if isinstance(slack, dict):
            out = notification.setdefault("slack", {})
            for key in TEMPLATE_FIELDS["slack"]:
                out[key] = _render(name, slack.get(key), env)
            out["notifyBroadcast"] = bool(slack.get("notifyBroadcast"))
            out["deliveryPolicy"] = str(slack.get("deliveryPolicy") or "Post")
        webhook = spec.get("webhook")
        if isinstance(webhook, dict):
            out = notification.setdefault("webhook", {})
            for hook, raw in webhook.items():
                fields = raw if isinstance(raw, dict) else {}
                out[hook] = {
                    "method": str(fields.get("method") or ""),
                    "path": _render(name + hook, fields.get("path"), env),
                    "body": _render(name + hook, fields.get("body"), env),
                }
        github = spec.get("github")
        if isinstance(github, dict):
            out = notification.setdefault("github", {})
            out["repoURL"] = _render(name, github.get("repoURLPath") or GITHUB_DEFAULTS["repoURLPath"], env)
            out["revision"] = _render(
                name, github.get("revisionPath") or GITHUB_DEFAULTS["revisionPath"], env
            )
            status = github.get("status")
            if isinstance(status, dict):
                out["status"] = {
                    "state": _render(name, status.get("state"), env),
                    "label": _render(name, status.get("label"), env),
                    "targetURL": _render(name, status.get("targetURL"), env),
                }
    return notification

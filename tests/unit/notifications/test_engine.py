"""Subscriptions, trigger state and templates decided as Argo CD's notifications engine decides
them, from plain objects (no I/O)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from notifications.config import parse_config
from notifications.engine import (
    NOTIFIED_ANNOTATION,
    Destination,
    annotation_destinations,
    destinations,
    plan,
    read_state,
    render_notification,
    state_key,
    truncate,
    variables,
)
from notifications.services import SendError, build_email, slack_payload, webhook_request

TRIGGERS = {
    "trigger.on-sync-succeeded": "- when: app.status.operationState.phase in ['Succeeded']\n"
    "  send: [app-sync-succeeded]\n  oncePer: app.status.operationState.syncResult.revision\n",
    "trigger.on-sync-status-unknown": "- when: app.status.sync.status == 'Unknown'\n"
    "  send: [app-sync-status-unknown]\n",
    "template.app-sync-succeeded": "message: '{{.app.metadata.name}} synced'\n"
    "email:\n  subject: 'Synced: {{.app.metadata.name}}'\n",
    "template.app-sync-status-unknown": "message: '{{.app.metadata.name}} is unknown'\n",
    "defaultTriggers": "[on-sync-status-unknown]\n",
    "defaultTriggers.mail": "[on-sync-succeeded]\n",
    "service.slack": "token: $slack-token\n",
    "service.email.mail": "host: smtp.example.com\nport: 587\nfrom: $missing-key\n",
    "context": "argocdUrl: https://ferry.example.com\n",
}


def cm(data: dict[str, str]) -> dict[str, Any]:
    return {"data": data}


def secret(values: dict[str, str]) -> dict[str, Any]:
    return {"data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}}


def app(
    annotations: dict[str, str], status: dict[str, Any], *, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "guestbook",
            "namespace": "ferry",
            "annotations": annotations,
            "labels": labels or {},
        },
        "spec": {"project": "default", "source": {"repoURL": "https://github.com/example/apps.git"}},
        "status": status,
    }


SUCCEEDED = {
    "operationState": {"phase": "Succeeded", "syncResult": {"revision": "r1"}},
    "sync": {"status": "Synced"},
}


def test_annotations_name_triggers_services_and_recipients() -> None:
    dests = annotation_destinations(
        {
            "notifications.argoproj.io/subscribe.on-sync-succeeded.slack": "chan-a; chan-b ;",
            "notifications.ferrycd.io/subscribe.on-sync-succeeded.webhook": "",
            "notifications.argoproj.io/subscribe.slack": "defaults",
            "notifications.argoproj.io/subscribe.mail": "me@example.com",
            "notifications.argoproj.io/subscriptions": "- trigger: [on-deployed]\n  destinations:\n"
            "  - service: slack\n    recipients: [deploys]\n",
            "unrelated/annotation": "x",
        },
        ["on-sync-status-unknown"],
        {"mail": ["on-sync-succeeded"]},
    )
    assert dests == {
        "on-sync-succeeded": [
            Destination("slack", "chan-a"),
            Destination("slack", "chan-b"),
            Destination("webhook", ""),
            Destination("mail", "me@example.com"),
        ],
        "on-sync-status-unknown": [Destination("slack", "defaults")],
        "on-deployed": [Destination("slack", "deploys")],
    }


def test_global_subscriptions_match_labels_and_projects_add_defaults() -> None:
    config = parse_config(
        cm(
            {
                **TRIGGERS,
                "subscriptions": "- recipients: ['slack:ops']\n  triggers: [on-sync-succeeded]\n"
                "  selector: team=web\n",
            }
        ),
        secret({}),
    )
    project = {
        "metadata": {"annotations": {"notifications.argoproj.io/subscribe.on-sync-succeeded.slack": "team"}}
    }
    web = app({}, SUCCEEDED, labels={"team": "web"})
    assert destinations(config, web, project) == {
        "on-sync-succeeded": [Destination("slack", "ops"), Destination("slack", "team")]
    }
    other = app({}, SUCCEEDED, labels={"team": "db"})
    assert destinations(config, other, None) == {}


def test_state_keys_are_argo_cds() -> None:
    config = parse_config(cm(TRIGGERS), secret({}))
    subject = app({"notifications.argoproj.io/subscribe.on-sync-succeeded.slack": "chan"}, SUCCEEDED)
    decided = plan(config, subject, None, {})
    assert len(decided.deliveries) == 1
    key = decided.deliveries[0].key
    # oncePer value, trigger, [index].base64url(sha1(when)) (computed with Go), service, recipient
    assert key == "r1:on-sync-succeeded:[0].zxM90Et6k4Elb1-fHdjtDJq0xR0:slack:chan"
    assert plan(config, subject, None, {key: 1}).deliveries == []


def test_a_condition_without_once_per_notifies_again_after_it_stopped_holding() -> None:
    config = parse_config(cm(TRIGGERS), secret({}))
    annotations = {"notifications.argoproj.io/subscribe.on-sync-status-unknown.slack": "chan"}
    unknown = app(annotations, {"sync": {"status": "Unknown"}})
    first = plan(config, unknown, None, {})
    assert [d.trigger for d in first.deliveries] == ["on-sync-status-unknown"]
    state = {first.deliveries[0].key: 1}
    synced = plan(config, app(annotations, {"sync": {"status": "Synced"}}), None, state)
    assert synced.forget == [first.deliveries[0].key]
    assert plan(config, unknown, None, {}).deliveries == first.deliveries


def test_once_per_keys_are_kept_when_the_condition_stops_holding() -> None:
    config = parse_config(cm(TRIGGERS), secret({}))
    annotations = {"notifications.argoproj.io/subscribe.on-sync-succeeded.slack": "chan"}
    key = plan(config, app(annotations, SUCCEEDED), None, {}).deliveries[0].key
    running = app(annotations, {"operationState": {"phase": "Running", "syncResult": {"revision": "r1"}}})
    assert plan(config, running, None, {key: 1}).forget == []


def test_unknown_trigger_and_broken_condition_are_warnings() -> None:
    config = parse_config(
        cm({**TRIGGERS, "trigger.broken": "- when: app.nope.deeper == 1\n  send: [app-sync-succeeded]\n"}),
        secret({}),
    )
    subject = app(
        {
            "notifications.argoproj.io/subscribe.broken.slack": "chan",
            "notifications.argoproj.io/subscribe.on-nothing.slack": "chan",
        },
        SUCCEEDED,
    )
    decided = plan(config, subject, None, {})
    assert decided.deliveries == []
    assert any("cannot fetch deeper from <nil>" in w for w in decided.warnings)
    assert any("'on-nothing' is not configured" in w for w in decided.warnings)


def test_config_substitutes_secrets_and_reports_broken_keys() -> None:
    config = parse_config(
        cm({**TRIGGERS, "trigger.bad": "- when: (1\n  send: [x]\n", "service.pagerduty": "token: x\n"}),
        secret({"slack-token": "xoxb-1"}),
    )
    assert config.services["slack"].options == {"token": "xoxb-1"}
    assert config.services["mail"].options["from"] == "$missing-key"
    assert config.context == {"argocdUrl": "https://ferry.example.com"}
    errors = "\n".join(config.errors)
    assert "trigger.bad:" in errors
    assert "service type 'pagerduty' is not supported" in errors
    assert "['missing-key'] missing from ferry-notifications-secret" in errors
    assert set(config.triggers) == {"on-sync-succeeded", "on-sync-status-unknown"}


def test_templates_render_with_argo_cds_variables() -> None:
    config = parse_config(cm(TRIGGERS), secret({"hook-token": "s3cret"}))
    config.templates["extra"] = {
        "message": '{{ if eq .serviceType "webhook" }}hook{{ end }} {{ .context.argocdUrl }}'
        " {{ .recipient }}",
        "webhook": {
            "hooks": {
                "method": "POST",
                "path": "/apps/{{.app.metadata.name}}",
                "body": "token={{ .secrets.hookToken }}",
            }
        },
        "github": {"status": {"state": "success", "label": "cd/{{.app.metadata.name}}"}},
    }
    env = variables(config, app({}, SUCCEEDED), None, "webhook")
    env["recipient"] = "someone"
    out = render_notification(config, ("app-sync-succeeded", "extra"), env)
    assert out["message"] == "hook https://ferry.example.com someone"
    assert out["email"] == {"subject": "Synced: guestbook"}
    assert out["webhook"]["hooks"] == {
        "method": "POST",
        "path": "/apps/guestbook",
        "body": "token=<no value>",
    }
    assert out["github"]["repoURL"] == "https://github.com/example/apps.git"
    assert out["github"]["revision"] == "r1"
    assert out["github"]["status"]["label"] == "cd/guestbook"
    with pytest.raises(KeyError, match="template 'nope' is not supported"):
        render_notification(config, ("nope",), env)


def test_state_annotation_round_trip_and_truncation() -> None:
    assert read_state({"metadata": {"annotations": {NOTIFIED_ANNOTATION: json.dumps({"a": 1, "b": 2})}}}) == {
        "a": 1,
        "b": 2,
    }
    assert read_state({"metadata": {"annotations": {NOTIFIED_ANNOTATION: "not json"}}}) == {}
    big = {f"k{i}": i for i in range(150)}
    kept = truncate(big)
    assert len(kept) == 100
    assert min(kept.values()) == 50


def test_webhook_requests_stay_on_the_configured_host() -> None:
    config = parse_config(cm({"service.webhook.hook": "url: https://hooks.example.com/base/\n"}), secret({}))
    service = config.services["hook"]
    assert webhook_request(service, {"message": "m"}) == ("GET", "https://hooks.example.com/base/", "m")
    override = {"message": "m", "webhook": {"hook": {"method": "post", "path": "/x/y", "body": "b"}}}
    assert webhook_request(service, override) == ("POST", "https://hooks.example.com/base/x/y", "b")
    for path in ("@evil.example.com/", "//evil.example.com/x"):
        notification = {"webhook": {"hook": {"method": "POST", "path": path, "body": ""}}}
        _, url, _ = webhook_request(service, notification)
        assert url.startswith("https://hooks.example.com/")


def test_email_headers_cannot_be_injected() -> None:
    config = parse_config(
        cm({"service.email": "host: smtp.example.com\nfrom: ferry@example.com\n"}), secret({})
    )
    service = config.services["email"]
    message = build_email(
        service, {"message": "hello", "email": {"subject": "Synced"}}, Destination("email", "a@x, b@x")
    )
    assert message["To"] == "a@x, b@x"
    with pytest.raises(SendError, match="invalid header"):
        build_email(
            service, {"email": {"subject": "x\nBcc: victim@example.com"}}, Destination("email", "a@x")
        )


def test_slack_payload() -> None:
    config = parse_config(
        cm({"service.slack": "token: t\nicon: ':rocket:'\ndisableUnfurl: true\n"}), secret({})
    )
    payload = slack_payload(
        config.services["slack"], {"message": "m", "slack": {"attachments": '[{"title": "t"}]'}}, "chan"
    )
    assert payload == {
        "channel": "chan",
        "text": "m",
        "icon_emoji": ":rocket:",
        "attachments": [{"title": "t"}],
        "unfurl_links": False,
        "unfurl_media": False,
    }
    with pytest.raises(SendError, match="failed to unmarshal blocks"):
        slack_payload(config.services["slack"], {"slack": {"blocks": "not json"}}, "chan")


def test_state_key_format() -> None:
    from notifications.engine import ConditionResult  # noqa: PLC0415

    result = ConditionResult("[0].abc", "", ("t",), True)
    assert state_key("on-x", result, Destination("slack", "c")) == "on-x:[0].abc:slack:c"

"""ferry-notifications-controller against a real kube-apiserver and real local servers: Argo CD's
catalog triggers and templates, unchanged, delivered once each to Slack's Web API, a webhook and
an SMTP server requiring STARTTLS and AUTH; failures retried, restarts never resending."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ferry.devenv.process import new_workdir
from tests.integration.notifications.conftest import Cluster, NotifierFactory, catalog, settle, wait_for
from tests.integration.notifications.servers import (
    HttpRecorder,
    SmtpServer,
    basic,
    slack_api,
)

pytestmark = pytest.mark.integration

SLACK_TOKEN = "xoxb-test-token"


@pytest.fixture
def slack() -> Iterator[HttpRecorder]:
    server = HttpRecorder(respond=slack_api(SLACK_TOKEN)).start()
    yield server
    server.stop()


@pytest.fixture
def webhook() -> Iterator[HttpRecorder]:
    server = HttpRecorder().start()
    yield server
    server.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(new_workdir("smtp"), username="ferry@example.com", password="smtp-pass").start()
    yield server
    server.stop()


def payload(message: Any) -> str:
    data = message.get_payload(decode=True)
    assert isinstance(data, bytes)
    return data.decode()


def settings(slack: HttpRecorder, webhook: HttpRecorder, smtp: SmtpServer | None = None) -> dict[str, str]:
    data = catalog()
    data["context"] = "argocdUrl: https://ferry.example.com\n"
    data["service.slack"] = f"token: $slack-token\napiURL: {slack.url}/api/\nusername: ferry\n"
    data["service.webhook.hooks"] = (
        f"url: {webhook.url}/ferry\nheaders:\n- name: X-Team\n  value: web\nbasicAuth:\n"
        "  username: hook\n  password: $hook-password\nretryWaitMin: 10ms\nretryWaitMax: 20ms\nretryMax: 1\n"
    )
    if smtp is not None:
        data["service.email"] = (
            f"host: 127.0.0.1\nport: {smtp.port}\nfrom: ferry@example.com\nusername: $email-user\n"
            "password: $email-password\ninsecure_skip_verify: true\n"
        )
    return data


SECRETS = {
    "slack-token": SLACK_TOKEN,
    "hook-password": "hook-pass",
    "email-user": "ferry@example.com",
    "email-password": "smtp-pass",
}

SUCCEEDED: dict[str, Any] = {
    "sync": {"status": "Synced", "revision": "abc123"},
    "health": {"status": "Healthy"},
    "operationState": {
        "phase": "Succeeded",
        "message": "successfully synced (all tasks run)",
        "startedAt": "2024-05-01T10:00:00Z",
        "finishedAt": "2024-05-01T10:00:07Z",
        "syncResult": {"revision": "abc123"},
    },
}


def test_sync_succeeded_sends_one_message_per_destination(
    cluster: Cluster, notifier: NotifierFactory, slack: HttpRecorder, webhook: HttpRecorder, smtp: SmtpServer
) -> None:
    cluster.apply_settings(settings(slack, webhook, smtp), SECRETS)
    cluster.create_app(
        "guestbook",
        {
            "notifications.argoproj.io/subscribe.on-sync-succeeded.slack": "deployments",
            "notifications.argoproj.io/subscribe.on-sync-succeeded.hooks": "",
            "notifications.argoproj.io/subscribe.on-sync-succeeded.email": "dev@example.com, ops@example.com",
        },
    )
    proc = notifier()
    cluster.set_status(
        "guestbook",
        {"operationState": {**SUCCEEDED["operationState"], "phase": "Running", "finishedAt": None}},
    )
    settle(1.5)
    assert slack.requests == []
    assert webhook.requests == []
    assert smtp.mails == []
    cluster.set_status("guestbook", SUCCEEDED)
    wait_for(
        lambda: len(slack.requests) == 1 and len(webhook.requests) == 1 and len(smtp.mails) == 1,
        "one message each",
    )

    # Slack: chat.postMessage with the token, the catalog's text and attachments (JSON, parsed).
    post = slack.requests[0]
    assert post.method == "POST"
    assert post.path == "/api/chat.postMessage"
    assert post.headers["authorization"] == f"Bearer {SLACK_TOKEN}"
    body = post.json()
    assert body["channel"] == "deployments"
    assert body["username"] == "ferry"
    assert body["text"].startswith(
        ":white_check_mark: Application guestbook has been successfully synced at 2024-05-01T10:00:07Z."
    )
    assert "https://ferry.example.com/applications/guestbook?operation=true" in body["text"]
    assert body["attachments"][0]["title"] == "guestbook"
    assert body["attachments"][0]["color"] == "#18be52"
    assert (
        body["attachments"][0]["fields"][1]["value"]
        == ":arrow_heading_up: https://github.com/example/apps.git"
    )

    # The webhook: GET (no webhook block in the template) with the message, headers and basic auth.
    hook = webhook.requests[0]
    assert hook.method == "GET"
    assert hook.path == "/ferry"
    assert hook.headers["x-team"] == "web"
    assert hook.headers["authorization"] == basic("hook", "hook-pass")
    assert hook.body.decode().startswith(
        " Application guestbook has been successfully synced"
    )  # no emoji off Slack

    # Email: STARTTLS, AUTH, the catalog's subject, both recipients.
    mail = smtp.mails[0]
    assert mail.tls
    assert mail.authenticated
    assert smtp.logins == ["ferry@example.com"]
    assert mail.rcpt_tos == ["dev@example.com", "ops@example.com"]
    assert mail.message["Subject"] == "Application guestbook has been successfully synced."
    assert "has been successfully synced at 2024-05-01T10:00:07Z" in payload(mail.message)

    # Nothing more, however often the app changes or is re-evaluated.
    for touch in range(3):
        cluster.set_status("guestbook", {"reconciledAt": f"2024-05-01T10:0{touch + 1}:00Z"})
    settle()
    assert len(slack.requests) == 1
    assert len(webhook.requests) == 1
    assert len(smtp.mails) == 1
    for service in ("slack", "hooks", "email"):
        assert (
            proc.metric(
                "ferry_notifications_deliveries_total",
                service=service,
                trigger="on-sync-succeeded",
                result="success",
            )
            == 1
        )
    assert len(cluster.notified("guestbook")) == 3
    delivered = cluster.events("NotificationDelivered")
    assert len(delivered) == 3
    assert delivered[0]["involvedObject"]["kind"] == "Application"
    assert delivered[0]["type"] == "Normal"

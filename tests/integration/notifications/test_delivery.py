"""ferry-notifications-controller against a real kube-apiserver and real local servers: Argo CD's
catalog triggers and templates, unchanged, delivered once each to Slack's Web API, a webhook and
an SMTP server requiring STARTTLS and AUTH; failures retried, restarts never resending."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ferry_devenv.process import new_workdir
from tests.integration.notifications.conftest import Cluster, NotifierFactory, catalog, settle, wait_for
from tests.integration.notifications.servers import GitHubApp, HttpRecorder, SmtpServer, basic, slack_api

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


FAILED_STATUS: dict[str, Any] = {
    "sync": {"status": "OutOfSync", "revision": "def456"},
    "health": {"status": "Progressing"},
    "operationState": {
        "phase": "Failed",
        "message": 'one or more objects failed to apply, reason: Deployment.apps "web" is invalid: '
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
        "startedAt": "2024-05-01T11:00:00Z",
        "finishedAt": "2024-05-01T11:00:03Z",
        "syncResult": {
            "revision": "def456",
            "resources": [
                {
                    "kind": "ConfigMap",
                    "name": "web-config",
                    "namespace": "guestbook",
                    "status": "Synced",
                    "message": "configured",
                },
                {
                    "group": "apps",
                    "kind": "Deployment",
                    "name": "web",
                    "namespace": "guestbook",
                    "status": "SyncFailed",
                    "message": "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
                },
            ],
        },
    },
}

FAILED_DETAILS = """\
webhook:
  hooks:
    method: POST
    path: /apps/{{ .app.metadata.name }}/failed
    body: |
      {{- $failed := list -}}
      {{- range .app.status.operationState.syncResult.resources -}}
        {{- if eq .status "SyncFailed" -}}
          {{ $failed = append $failed (printf "%s/%s: %s" .kind .name .message) }}
        {{- end -}}
      {{- end -}}
      {"app": {{ toJson .app.metadata.name }},
       "revision": {{ toJson .app.status.operationState.syncResult.revision }},
       "failed": {{ toJson $failed }}}
"""


def test_sync_failed_sends_one_message_naming_the_failing_resource(
    cluster: Cluster, notifier: NotifierFactory, slack: HttpRecorder, webhook: HttpRecorder
) -> None:
    data = settings(slack, webhook)
    data["template.sync-failed-details"] = FAILED_DETAILS
    data["trigger.on-sync-failed"] = data["trigger.on-sync-failed"].replace(
        "send:\n  - app-sync-failed", "send:\n  - app-sync-failed\n  - sync-failed-details"
    )
    assert "sync-failed-details" in data["trigger.on-sync-failed"]
    cluster.apply_settings(data, SECRETS)
    cluster.create_app(
        "web",
        {
            "notifications.argoproj.io/subscribe.on-sync-failed.slack": "alerts",
            "notifications.argoproj.io/subscribe.on-sync-failed.hooks": "",
        },
    )
    notifier()
    cluster.set_status("web", FAILED_STATUS)
    wait_for(
        lambda: len(slack.requests) == 1 and len(webhook.requests) == 1, "one Slack message and one webhook"
    )
    text = slack.requests[0].json()["text"]
    assert text.startswith(
        ":exclamation:  The sync operation of application web has failed at 2024-05-01T11:00:03Z"
    )
    assert 'Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1' in text
    hook = webhook.requests[0]
    assert (hook.method, hook.path) == ("POST", "/ferry/apps/web/failed")
    assert hook.json() == {
        "app": "web",
        "revision": "def456",
        "failed": ["Deployment/web: spec.replicas: Invalid value: -1: must be greater than or equal to 0"],
    }
    settle()
    assert len(slack.requests) == 1
    assert len(webhook.requests) == 1


def test_degraded_notifies_once_per_revision(
    cluster: Cluster, notifier: NotifierFactory, slack: HttpRecorder, webhook: HttpRecorder
) -> None:
    cluster.apply_settings(settings(slack, webhook), SECRETS)
    cluster.create_app("api", {"notifications.argoproj.io/subscribe.on-health-degraded.slack": "alerts"})
    notifier()

    def health(status: str, revision: str) -> None:
        cluster.set_status(
            "api",
            {
                "health": {"status": status},
                "operationState": {
                    "phase": "Succeeded",
                    "startedAt": "2024-05-01T10:00:00Z",
                    "finishedAt": "2024-05-01T10:00:07Z",
                    "syncResult": {"revision": revision},
                },
            },
        )

    health("Degraded", "rev-1")
    wait_for(lambda: len(slack.requests) == 1, "the first Degraded message")
    health("Healthy", "rev-1")
    settle(1.5)
    health("Degraded", "rev-1")  # degraded again, same revision: oncePer keeps it quiet
    settle()
    assert len(slack.requests) == 1
    health("Degraded", "rev-2")
    wait_for(lambda: len(slack.requests) == 2, "a Degraded message for the new revision")
    assert "Application api has degraded." in slack.requests[1].json()["text"]
    settle()
    assert len(slack.requests) == 2
    keys = cluster.notified("api")
    assert sorted(k.split(":")[0] for k in keys) == ["rev-1", "rev-2"]


def test_server_down_is_retried_then_delivered_once(
    cluster: Cluster, notifier: NotifierFactory, slack: HttpRecorder
) -> None:
    down = HttpRecorder()  # its port is chosen, nothing listens on it yet
    cluster.apply_settings(settings(slack, down), SECRETS)
    cluster.create_app("shop", {"notifications.argoproj.io/subscribe.on-sync-succeeded.hooks": ""})
    proc = notifier()
    cluster.set_status("shop", SUCCEEDED)
    wait_for(
        lambda: proc.metric("ferry_notifications_deliveries_total", service="hooks", result="failure") >= 2,
        "failed attempts while the webhook is down",
    )
    failed = cluster.events("NotificationFailed")
    assert failed
    assert failed[0]["type"] == "Warning"
    assert "connect" in failed[0]["message"].lower()
    assert cluster.notified("shop") == {}
    down.start()
    try:
        wait_for(lambda: len(down.requests) == 1, "the delivery once the webhook is up")
        settle()
        assert len(down.requests) == 1
        assert proc.metric("ferry_notifications_deliveries_total", service="hooks", result="success") == 1
        assert len(cluster.notified("shop")) == 1
    finally:
        down.stop()


def test_restart_does_not_resend(
    cluster: Cluster, notifier: NotifierFactory, slack: HttpRecorder, webhook: HttpRecorder
) -> None:
    """Delivered before a SIGKILL: not sent again. Failing at the SIGKILL: sent once after it."""
    flaky = HttpRecorder(respond=lambda _req: (503, {"error": "maintenance"})).start()
    try:
        data = settings(slack, webhook)
        data["service.webhook.flaky"] = (
            f"url: {flaky.url}\nretryMax: 1\nretryWaitMin: 10ms\nretryWaitMax: 10ms\n"
        )
        cluster.apply_settings(data, SECRETS)
        cluster.create_app(
            "cart",
            {
                "notifications.argoproj.io/subscribe.on-sync-succeeded.slack": "deployments",
                "notifications.argoproj.io/subscribe.on-sync-succeeded.flaky": "",
            },
        )
        first = notifier(identity="first")
        cluster.set_status("cart", SUCCEEDED)
        wait_for(
            lambda: len(slack.requests) == 1 and len(flaky.requests) >= 4,
            "Slack sent, the flaky hook failing",
        )
        first.proc.kill()  # SIGKILL: no chance to finish anything
        flaky.respond = None  # the hook recovers while no controller runs
        attempts_before = len(flaky.requests)
        notifier(identity="second")
        wait_for(
            lambda: len(flaky.requests) == attempts_before + 1, "the pending delivery made once", timeout=90
        )
        settle()
        assert len(slack.requests) == 1, "delivered before the kill, so not sent again"
        assert len(flaky.requests) == attempts_before + 1
        assert len(cluster.notified("cart")) == 2
    finally:
        flaky.stop()


def test_github_commit_status_with_an_app_installation_token(
    cluster: Cluster, notifier: NotifierFactory, slack: HttpRecorder, webhook: HttpRecorder
) -> None:
    app = GitHubApp(app_id="12345", installation_id="678")
    github = HttpRecorder(respond=app.responder()).start()
    try:
        data = settings(slack, webhook)
        data["service.github"] = (
            "appID: 12345\ninstallationID: 678\nprivateKey: $github-privateKey\n"
            f"enterpriseBaseURL: {github.url}/api/v3\n"
        )
        data["template.app-deployed"] = data["template.app-deployed"] + (
            "github:\n  status:\n    state: success\n    label: continuous-delivery/{{.app.metadata.name}}\n"
            '    targetURL: "{{.context.argocdUrl}}/applications/{{.app.metadata.name}}?operation=true"\n'
        )
        cluster.apply_settings(data, {**SECRETS, "github-privateKey": app.private_key_pem})
        cluster.create_app("guestbook", {"notifications.argoproj.io/subscribe.on-deployed.github": ""})
        notifier()
        status = {**SUCCEEDED, "health": {"status": "Healthy", "lastTransitionTime": "2024-05-01T10:00:05Z"}}
        cluster.set_status("guestbook", status)
        wait_for(lambda: len(github.matching("POST", "/api/v3/repos/")) == 1, "one commit status")
        token_requests = github.matching("POST", "/api/v3/app/installations/678/access_tokens")
        assert len(token_requests) == 1
        created = github.matching("POST", "/api/v3/repos/")[0]
        assert created.path == "/api/v3/repos/example/apps/statuses/abc123"
        assert created.headers["authorization"] == f"Bearer {app.token}"
        assert created.headers["accept"] == "application/vnd.github+json"
        assert created.json() == {
            "state": "success",
            # the catalog's {{if eq .serviceType "slack"}} renders nothing here, leaving a space
            "description": " Application guestbook is now running new version of deployments manifests.\n",
            "context": "continuous-delivery/guestbook",
            "target_url": "https://ferry.example.com/applications/guestbook?operation=true",
        }
        settle()
        assert len(github.matching("POST", "/api/v3/repos/")) == 1
    finally:
        github.stop()


def test_project_subscription_and_two_replicas_send_once(
    cluster: Cluster, notifier: NotifierFactory, slack: HttpRecorder, webhook: HttpRecorder
) -> None:
    """An AppProject's annotations subscribe all its apps; of two replicas only the leader sends."""
    cluster.apply_settings(settings(slack, webhook), SECRETS)
    cluster.create_project(
        "team", {"notifications.argoproj.io/subscribe.on-sync-succeeded.slack": "team-channel"}
    )
    cluster.create_app("one", {}, project="team")
    cluster.create_app("two", {}, project="team")
    replicas = [notifier("--identity", "a"), notifier("--identity", "b")]
    wait_for(lambda: sum(r.metric("ferry_notifications_leader") for r in replicas) == 1, "one leader")
    cluster.set_status("one", SUCCEEDED)
    cluster.set_status("two", SUCCEEDED)
    wait_for(lambda: len(slack.requests) == 2, "one message per app")
    settle()
    assert sorted(r.json()["channel"] for r in slack.requests) == ["team-channel", "team-channel"]
    texts = sorted(r.json()["text"].split(" has been")[0] for r in slack.requests)
    assert texts == [":white_check_mark: Application one", ":white_check_mark: Application two"]
    assert sum(r.metric("ferry_notifications_deliveries_total", result="success") for r in replicas) == 2


def test_email_verifies_the_server_certificate_unless_told_not_to(
    cluster: Cluster, notifier: NotifierFactory, slack: HttpRecorder, webhook: HttpRecorder, smtp: SmtpServer
) -> None:
    data = settings(slack, webhook, smtp)
    data["service.email"] = data["service.email"].replace("insecure_skip_verify: true\n", "")
    cluster.apply_settings(data, SECRETS)
    cluster.create_app(
        "mail", {"notifications.argoproj.io/subscribe.on-sync-succeeded.email": "dev@example.com"}
    )
    proc = notifier()
    cluster.set_status("mail", SUCCEEDED)
    wait_for(lambda: bool(cluster.events("NotificationFailed")), "a failed delivery")
    assert "CERTIFICATE_VERIFY_FAILED" in cluster.events("NotificationFailed")[0]["message"]
    assert smtp.mails == []
    assert smtp.logins == []  # no credentials were sent to the unverified server
    assert proc.metric("ferry_notifications_deliveries_total", service="email", result="failure") >= 1


def test_standby_takes_over_when_the_leader_dies(
    cluster: Cluster, notifier: NotifierFactory, slack: HttpRecorder, webhook: HttpRecorder
) -> None:
    cluster.apply_settings(settings(slack, webhook), SECRETS)
    cluster.create_app("pay", {"notifications.argoproj.io/subscribe.on-health-degraded.slack": "alerts"})
    replicas = [notifier("--identity", "a"), notifier("--identity", "b")]
    wait_for(lambda: sum(r.metric("ferry_notifications_leader") for r in replicas) == 1, "one leader")
    leader = next(r for r in replicas if r.metric("ferry_notifications_leader") == 1)
    standby = next(r for r in replicas if r is not leader)
    leader.proc.kill()  # SIGKILL: the Lease is not released; it expires (6 s) as the standby observes it
    degraded = {
        "health": {"status": "Degraded"},
        "operationState": {"phase": "Succeeded", "syncResult": {"revision": "r9"}},
    }
    cluster.set_status("pay", degraded)
    wait_for(lambda: standby.metric("ferry_notifications_leader") == 1, "the standby leading", timeout=30)
    wait_for(lambda: len(slack.requests) == 1, "the message, sent by the new leader")
    settle()
    assert len(slack.requests) == 1
    assert standby.metric("ferry_notifications_deliveries_total", service="slack", result="success") == 1

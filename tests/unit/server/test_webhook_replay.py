"""Webhook deliveries: replays and stale pushes are told apart from new ones (finding 21), and a
GitLab token that is not ASCII is a refusal, not a crash."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from server.webhook import ReplayGuard, WebhookError, parse

SECRETS = {"webhook.github.secret": "s3cret", "webhook.gitlab.secret": "s3cret"}
NOW = 1_800_000_000.0


def github(after: str, pushed_at: int | None = int(NOW)) -> tuple[dict[str, str], bytes]:
    repository: dict[str, object] = {"clone_url": "https://github.com/o/r.git", "default_branch": "main"}
    if pushed_at is not None:
        repository["pushed_at"] = pushed_at
    body = json.dumps({"ref": "refs/heads/main", "after": after, "repository": repository}).encode()
    signature = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    return {"X-GitHub-Event": "push", "X-Hub-Signature-256": signature}, body


def test_a_delivery_is_accepted_once_within_the_window() -> None:
    guard = ReplayGuard(window=3600)
    first = parse(*github("a" * 40), SECRETS)
    assert first is not None
    assert guard.why_ignored(first, NOW) == ""
    assert guard.why_ignored(parse(*github("a" * 40), SECRETS), NOW + 5) == "duplicate delivery"  # type: ignore[arg-type]
    assert guard.why_ignored(parse(*github("b" * 40), SECRETS), NOW + 5) == ""  # type: ignore[arg-type]
    # remembered for the window, then forgotten (bounded); the push itself is stale by then
    later = parse(*github("a" * 40, pushed_at=None), SECRETS)
    assert later is not None
    assert guard.why_ignored(later, NOW + 3601) == ""


def test_a_github_push_older_than_the_window_is_stale() -> None:
    push = parse(*github("c" * 40, pushed_at=int(NOW) - 7200), SECRETS)
    assert push is not None
    assert ReplayGuard(window=3600).why_ignored(push, NOW).startswith("stale delivery")


def test_the_list_of_deliveries_is_bounded() -> None:
    guard = ReplayGuard(window=3600, max_entries=100)
    for i in range(1000):
        push = parse(*github(f"{i:040d}"), SECRETS)
        assert push is not None
        assert guard.why_ignored(push, NOW) == ""
    assert len(guard._seen) == 100


@pytest.mark.parametrize("token", ["sécret", "\udce9", "s3cret\u2028"])
def test_a_gitlab_token_that_is_not_ascii_is_refused(token: str) -> None:
    body = json.dumps({"ref": "refs/heads/main", "project": {"web_url": "https://gitlab.com/o/r"}}).encode()
    with pytest.raises(WebhookError) as refused:
        parse({"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": token}, body, SECRETS)
    assert refused.value.status == 401


def test_a_body_that_is_no_json_object_is_a_bad_request() -> None:
    body = b"[1, 2]"
    signature = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    with pytest.raises(WebhookError) as refused:
        parse({"X-GitHub-Event": "push", "X-Hub-Signature-256": signature}, body, SECRETS)
    assert refused.value.status == 400

"""Git webhooks (``POST /api/webhook``): a push to a repository refreshes the applications that
follow it, so a commit reaches the cluster in seconds instead of at the next periodic refresh.

GitHub (X-Hub-Signature-256), GitLab (X-Gitlab-Token), Bitbucket Cloud (X-Hub-Signature) and
Gitea (X-Gitea-Signature) push events, each verified with its secret from ferry-secret
(``webhook.github.secret``, ``webhook.gitlab.secret``, ``webhook.bitbucket.secret``,
``webhook.gitea.secret``). A provider without a configured secret, a missing or wrong signature:
401, nothing changes. Repository URLs match whatever form the push names them in (https or ssh,
``.git`` or not, any case); an app is refreshed when its target revision follows the pushed
branch or tag (HEAD / empty follows the default branch). Several pushes in a burst coalesce: an
app already waiting for a refresh is not annotated again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from typing import Any

from ferry.repourl import canonical
from ferry.settings import REFRESH_ANNOTATION
from server.state import ServerState

log = logging.getLogger(__name__)


class WebhookError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Push:
    provider: str
    urls: frozenset[str]  # canonical forms
    ref: str  # refs/heads/main, refs/tags/v1
    default_branch: str


def _hmac_ok(secret: str, body: bytes, header: str, prefix: str = "sha256=") -> bool:
    if not header.startswith(prefix):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header[len(prefix) :])


def _verified(provider: str, secret: str, headers: dict[str, str], body: bytes) -> bool:
    if provider == "github":
        return _hmac_ok(secret, body, headers.get("x-hub-signature-256", ""))
    if provider == "gitea":
        return _hmac_ok(secret, body, "sha256=" + headers.get("x-gitea-signature", ""))
    if provider == "gitlab":
        return hmac.compare_digest(secret, headers.get("x-gitlab-token", ""))
    return _hmac_ok(secret, body, headers.get("x-hub-signature", ""))


_EVENT_HEADERS = {
    "x-github-event": "github",
    "x-gitea-event": "gitea",
    "x-gitlab-event": "gitlab",
    "x-event-key": "bitbucket",
}


def parse(headers: dict[str, str], body: bytes, secrets: dict[str, str]) -> Push | None:
    """The push a request announces, after verifying it; None for other events (ping, ...)."""
    lower = {k.lower(): v for k, v in headers.items()}
    header = next((h for h in _EVENT_HEADERS if h in lower), None)
    if header is None:
        raise WebhookError(400, "unknown webhook: expected a GitHub, GitLab, Bitbucket or Gitea event")
    provider, event = _EVENT_HEADERS[header], lower[header]
    secret = secrets.get(f"webhook.{provider}.secret", "")
    if not secret:
        raise WebhookError(
            401, f"no secret is configured for {provider} webhooks (ferry-secret webhook.{provider}.secret)"
        )
    if not _verified(provider, secret, lower, body):
        raise WebhookError(401, f"{provider} webhook signature missing or wrong")
    if event not in ("push", "Push Hook", "repo:push"):
        return None
    try:
        payload: dict[str, Any] = json.loads(body)
    except json.JSONDecodeError:
        raise WebhookError(400, "webhook body is not JSON") from None
    return _push(provider, payload)


def _push(provider: str, payload: dict[str, Any]) -> Push:
    repo = payload.get("repository") or payload.get("project") or {}
    urls = set()
    if provider == "bitbucket":
        links = repo.get("links") or {}
        urls.add(str((links.get("html") or {}).get("href", "")))
        full = str(repo.get("full_name", ""))
        if full:
            urls |= {f"https://bitbucket.org/{full}", f"git@bitbucket.org:{full}.git"}
        change = ((payload.get("push") or {}).get("changes") or [{}])[0]
        new = change.get("new") or {}
        kind = "tags" if new.get("type") == "tag" else "heads"
        ref = f"refs/{kind}/{new.get('name', '')}"
        default = str((repo.get("mainbranch") or {}).get("name", "main"))
    else:
        for key in ("clone_url", "ssh_url", "html_url", "git_http_url", "git_ssh_url", "web_url", "url"):
            if repo.get(key):
                urls.add(str(repo[key]))
        ref = str(payload.get("ref", ""))
        default = str(repo.get("default_branch", "main"))
    return Push(provider, frozenset(canonical(u) for u in urls if u), ref, default)


def follows(target_revision: str, push: Push) -> bool:
    revision = (target_revision or "HEAD").strip()
    short = push.ref.split("/", 2)[-1] if push.ref.startswith("refs/") else push.ref
    if revision == "HEAD":
        return push.ref == f"refs/heads/{push.default_branch}"
    return revision in (short, push.ref)


async def refresh_matching(state: ServerState, push: Push) -> list[str]:
    """Annotates every app following the pushed repository and ref; returns their names."""
    refreshed = []
    for app in state.apps.items():
        source = (app.get("spec") or {}).get("source") or {}
        if canonical(str(source.get("repoURL", ""))) not in push.urls or not follows(
            str(source.get("targetRevision", "")), push
        ):
            continue
        name = app["metadata"]["name"]
        if ((app.get("metadata") or {}).get("annotations") or {}).get(REFRESH_ANNOTATION):
            refreshed.append(name)  # a refresh is already pending: coalesce
            continue
        await state.kube.patch(
            state.app_info,
            name,
            {"metadata": {"annotations": {REFRESH_ANNOTATION: "normal"}}},
            namespace=state.namespace,
        )
        refreshed.append(name)
    log.info("webhook push", extra={"provider": push.provider, "ref": push.ref, "refreshed": len(refreshed)})
    return refreshed

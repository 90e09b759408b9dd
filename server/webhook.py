"""Git webhooks (``POST /api/webhook``): a push to a repository refreshes the applications that
follow it, so a commit reaches the cluster in seconds instead of at the next periodic refresh.

GitHub (X-Hub-Signature-256), GitLab (X-Gitlab-Token), Bitbucket Cloud (X-Hub-Signature) and
Gitea (X-Gitea-Signature) push events, each verified with its secret from ferry-secret
(``webhook.github.secret``, ``webhook.gitlab.secret``, ``webhook.bitbucket.secret``,
``webhook.gitea.secret``). A provider without a configured secret, a missing or wrong signature:
401, nothing changes. Repository URLs match whatever form the push names them in (https or ssh,
``.git`` or not, any case); an app is refreshed when its target revision follows the pushed
branch or tag (HEAD / empty follows the default branch). Each app gets
``ferrycd.io/refresh: normal`` and ``ferrycd.io/refresh-requested-at`` (now, after the push):
the repo server may serve every such refresh from one ``git ls-remote`` started since then.

Replays: a delivery is identified by a digest of its provider and its signed body (every real
push differs: its commit ids and times), and one seen within ``REPLAY_WINDOW`` seconds is answered
``200 {"refreshed": [], "ignored": "duplicate delivery"}`` and changes nothing. A GitHub push also
says when it happened (``repository.pushed_at``, signed with the body): one older than the window
is ignored as stale, so a captured request cannot be replayed later either. (The delivery id
headers — X-GitHub-Delivery, X-Gitlab-Event-UUID, X-Request-UUID, X-Gitea-Delivery — are not
signed, so they cannot tell a replay apart.) Each API server replica keeps its own bounded list.

Monorepos: when the push lists its changed files (GitHub, GitLab and Gitea do, for up to 20
commits), an app with the ``argocd.argoproj.io/manifest-generate-paths`` annotation (or
``ferrycd.io/manifest-generate-paths``; ``;``-separated paths, relative to the app's path or
absolute from the repository root) is refreshed only when a changed file lies under one of them,
as in Argo CD. The apps a change most likely touches (annotated paths, or the app's own path) are
refreshed before the response; the others follow in the background, so the reply comes in
milliseconds and the touched app does not wait behind a thousand others.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import logging
import posixpath
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ferry.repourl import canonical
from ferry.settings import refresh_annotations
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
    # repository paths the pushed commits changed; None when the payload does not say (or says
    # only part: GitHub lists at most 20 commits)
    changed: frozenset[str] | None = None
    delivery: str = ""  # digest of the provider and the signed body
    pushed_at: float | None = None  # when the provider says the push happened (GitHub)


GENERATE_PATHS_ANNOTATIONS = (
    "argocd.argoproj.io/manifest-generate-paths",
    "ferrycd.io/manifest-generate-paths",
)
# Seconds a delivery is remembered, and the oldest push (by its own time) that is accepted.
REPLAY_WINDOW = 3600.0
# Patches in flight at once while refreshing (the server's Kubernetes client still rate-limits).
REFRESH_CONCURRENCY = 16
_background: set[asyncio.Task[None]] = set()


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
    if provider == "gitlab":  # bytes: compare_digest refuses str that is not ASCII (was a 500)
        return hmac.compare_digest(
            secret.encode(), headers.get("x-gitlab-token", "").encode("utf-8", "surrogateescape")
        )
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
    if not isinstance(payload, dict):
        raise WebhookError(400, "webhook body is not a JSON object")
    delivery = hashlib.sha256(provider.encode() + b"\0" + body).hexdigest()
    return dataclasses.replace(_push(provider, payload), delivery=delivery, pushed_at=_pushed_at(payload))


def _pushed_at(payload: dict[str, Any]) -> float | None:
    value = (
        (payload.get("repository") or {}).get("pushed_at")
        if isinstance(payload.get("repository"), dict)
        else None
    )
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class ReplayGuard:
    """Deliveries seen within ``window`` seconds (at most ``max_entries``, oldest forgotten first)."""

    def __init__(self, *, window: float = REPLAY_WINDOW, max_entries: int = 10_000) -> None:
        self.window = window
        self.max_entries = max_entries
        self._seen: OrderedDict[str, float] = OrderedDict()

    def why_ignored(self, push: Push, now: float | None = None) -> str:
        """Why ``push`` must be ignored ("" when it is new), remembering it."""
        now = time.time() if now is None else now
        if push.pushed_at is not None and push.pushed_at < now - self.window:
            return "stale delivery: the push is older than the replay window"
        while self._seen and next(iter(self._seen.values())) < now - self.window:
            self._seen.popitem(last=False)
        if push.delivery in self._seen:
            return "duplicate delivery"
        self._seen[push.delivery] = now
        while len(self._seen) > self.max_entries:
            self._seen.popitem(last=False)
        return ""


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
    return Push(
        provider, frozenset(canonical(u) for u in urls if u), ref, default, _changed_files(provider, payload)
    )


def _changed_files(provider: str, payload: dict[str, Any]) -> frozenset[str] | None:
    commits = payload.get("commits")
    if provider == "bitbucket" or not isinstance(commits, list) or not commits:
        return None
    total = payload.get("total_commits_count", payload.get("size", len(commits)))
    if not isinstance(total, int) or total > len(commits):
        return None  # a truncated list: some changes are not named
    changed: set[str] = set()
    for commit in commits:
        for key in ("added", "modified", "removed"):
            changed.update(str(path).lstrip("/") for path in (commit or {}).get(key) or [])
    return frozenset(changed)


def generate_paths(app: dict[str, Any]) -> list[str] | None:
    """The repository paths an app's manifests depend on, from its annotation (None: not given)."""
    annotations = (app.get("metadata") or {}).get("annotations") or {}
    value = next((annotations[a] for a in GENERATE_PATHS_ANNOTATIONS if annotations.get(a)), None)
    if value is None:
        return None
    base = str(((app.get("spec") or {}).get("source") or {}).get("path") or "")
    paths = []
    for raw in str(value).split(";"):
        entry = raw.strip()
        if not entry:
            continue
        joined = entry.lstrip("/") if entry.startswith("/") else posixpath.join(base, entry)
        normal = posixpath.normpath(joined).lstrip("/")
        paths.append("" if normal == "." else normal)
    return paths


def touches(paths: Iterable[str], changed: Iterable[str]) -> bool:
    """Whether a changed file lies under one of ``paths`` (an empty path is the whole repository)."""
    prefixes = [p.rstrip("/") for p in paths]
    return any(not p or f == p or f.startswith(p + "/") for p in prefixes for f in changed)


def follows(target_revision: str, push: Push) -> bool:
    revision = (target_revision or "HEAD").strip()
    short = push.ref.split("/", 2)[-1] if push.ref.startswith("refs/") else push.ref
    if revision == "HEAD":
        return push.ref == f"refs/heads/{push.default_branch}"
    return revision in (short, push.ref)


def plan_refresh(apps: Iterable[dict[str, Any]], push: Push) -> tuple[list[str], list[str]]:
    """(refresh first, refresh after) app names for a push. An app whose refresh is already
    pending is asked again: its earlier request could be served with references read before the
    push (the controller clears only the request it served)."""
    first: list[str] = []
    after: list[str] = []
    for app in apps:
        source = (app.get("spec") or {}).get("source") or {}
        if canonical(str(source.get("repoURL", ""))) not in push.urls or not follows(
            str(source.get("targetRevision", "")), push
        ):
            continue
        name = app["metadata"]["name"]
        declared = generate_paths(app)
        if push.changed is not None and declared is not None and not touches(declared, push.changed):
            continue  # the app said what it depends on, and none of it changed
        likely = declared if declared is not None else [str(source.get("path") or "")]
        if push.changed is None or touches(likely, push.changed):
            first.append(name)
        else:
            after.append(name)
    return first, after


async def refresh_matching(state: ServerState, push: Push) -> list[str]:
    """Annotates every app following the pushed repository and ref, the likely touched ones before
    returning and the rest in the background; returns all their names.

    Every app is asked for a refresh requested now, after the push: references the repo server
    reads from now on see it, so the apps share one read.
    """
    annotations = refresh_annotations("normal")
    first, after = plan_refresh(state.apps.items(), push)
    await _annotate(state, first, annotations)
    if after:
        task = asyncio.create_task(_annotate(state, after, annotations))
        _background.add(task)
        task.add_done_callback(_background.discard)
    log.info(
        "webhook push",
        extra={"provider": push.provider, "ref": push.ref, "refreshed": len(first), "queued": len(after)},
    )
    return first + after


async def _annotate(state: ServerState, names: list[str], annotations: dict[str, str]) -> None:
    gate = asyncio.Semaphore(REFRESH_CONCURRENCY)

    async def one(name: str) -> None:
        async with gate:
            try:
                await state.kube.patch(
                    state.app_info,
                    name,
                    {"metadata": {"annotations": annotations}},
                    namespace=state.namespace,
                )
            except Exception as err:  # one app deleted meanwhile must not stop the others
                log.warning("webhook refresh failed", extra={"application": name, "error": str(err)})

    await asyncio.gather(*(one(n) for n in names))

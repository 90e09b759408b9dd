"""Which apps a push refreshes, and in what order (monorepos: the touched app first)."""

from __future__ import annotations

from typing import Any

from server.webhook import Push, _push, generate_paths, plan_refresh, touches

URL = "https://git.example.com/org/mono.git"


def app(name: str, path: str, annotation: str | None = None, pending: bool = False) -> dict[str, Any]:
    annotations = {}
    if annotation is not None:
        annotations["argocd.argoproj.io/manifest-generate-paths"] = annotation
    if pending:
        annotations["ferrycd.io/refresh"] = "normal"
    return {
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"source": {"repoURL": URL, "path": path, "targetRevision": "HEAD"}},
    }


def push(changed: list[str] | None) -> Push:
    payload: dict[str, Any] = {
        "ref": "refs/heads/main",
        "repository": {"clone_url": URL, "default_branch": "main"},
    }
    if changed is not None:
        payload["commits"] = [{"added": [], "modified": changed, "removed": []}]
    return _push("github", payload)


def test_changed_files_come_from_the_commits_unless_truncated() -> None:
    assert push(["apps/web/cm.yaml"]).changed == frozenset({"apps/web/cm.yaml"})
    assert push(None).changed is None
    truncated = {
        "ref": "refs/heads/main",
        "repository": {"clone_url": URL},
        "commits": [{"modified": ["a"]}],
        "size": 25,
    }
    assert _push("github", truncated).changed is None


def test_generate_paths_relative_absolute_and_dot() -> None:
    assert generate_paths(app("a", "apps/web", ".;../shared;/common/base")) == [
        "apps/web",
        "apps/shared",
        "common/base",
    ]
    assert generate_paths(app("a", "apps/web")) is None
    assert generate_paths(app("a", "", ".")) == [""]


def test_touches() -> None:
    assert touches(["apps/web"], ["apps/web/cm.yaml"])
    assert not touches(["apps/web"], ["apps/webshop/cm.yaml"])
    assert touches([""], ["anything"])


def test_the_touched_app_goes_first_annotated_apps_are_skipped_pending_ones_are_asked_again() -> None:
    apps = [
        app("other", "apps/other"),
        app("web", "apps/web"),
        app("declared-untouched", "apps/api", "."),
        app("declared-touched", "apps/db", "/apps/web"),
        app("waiting", "apps/web", pending=True),
    ]
    first, after = plan_refresh(apps, push(["apps/web/cm.yaml"]))
    # "waiting" too: its pending refresh may have been asked for before the push
    assert first == ["web", "declared-touched", "waiting"]
    assert after == ["other"]
    # without a file list, everything that follows the branch is refreshed at once
    first, after = plan_refresh(apps, push(None))
    assert first == ["other", "web", "declared-untouched", "declared-touched", "waiting"]
    assert after == []

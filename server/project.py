"""Project rules as API errors: a request the project forbids is refused before anything is written."""

from __future__ import annotations

import datetime
from typing import Any

from ferry.engine.syncwindows import destination_of, evaluate, project_windows
from ferry.errors import InvalidArgument, PermissionDenied
from ferry.projects import violations


def check_project(project: dict[str, Any], spec: dict[str, Any], *, cluster_name: str) -> None:
    problems = violations(project, spec, cluster_name=cluster_name)
    if problems:
        raise InvalidArgument("; ".join(problems))


def check_sync_windows(project: dict[str, Any] | None, app: dict[str, Any]) -> None:
    """A manual sync the project's sync windows block is refused (PERMISSION_DENIED, Argo CD's
    code and words), naming the windows."""
    entries = project_windows(project)
    if not entries:
        return
    windows = evaluate(entries, destination_of(app), datetime.datetime.now(datetime.UTC))
    if not windows.can_sync(manual=True):
        raise PermissionDenied(f"Cannot sync: Blocked by sync window {windows.reason(manual=True)}")

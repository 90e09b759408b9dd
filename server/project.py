"""Project rules as API errors: a request the project forbids is refused before anything is written."""

from __future__ import annotations

from typing import Any

from ferry.errors import InvalidArgument
from ferry.projects import violations


def check_project(project: dict[str, Any], spec: dict[str, Any], *, cluster_name: str) -> None:
    problems = violations(project, spec, cluster_name=cluster_name)
    if problems:
        raise InvalidArgument("; ".join(problems))

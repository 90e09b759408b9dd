"""What a chart's dependencies may be fetched from follows the app's project, end to end: the
controller sends the project's sourceRepos and Helm credentials with each manifest request, so a
dependency outside the sourceRepos is the app's ComparisonError, and once permitted it is
fetched with the project's Helm repository credentials (a real recording HTTP listener)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client as k8s

from ferry_devenv.gitrepo import GitRepo
from tests.conftest import CONTROL_NS, GROUP, VERSION
from tests.integration.controller.conftest import Apps
from tests.integration.controller.test_sources import secret
from tests.security._urls import Listener
from tests.security.test_dependencies import AUTH, PASSWORD, USER, serve_charts, umbrella


@pytest.fixture
def charts() -> Iterator[Listener]:
    listener = Listener()
    yield listener
    listener.close()


def messages(app: dict[str, Any]) -> list[str]:
    return [c["message"] for c in (app.get("status") or {}).get("conditions") or []]


def test_dependency_follows_the_projects_source_repos_and_helm_credentials(
    apps: Apps, kube: k8s.ApiClient, charts: Listener, git_repo: Callable[[str], GitRepo], namespace: str
) -> None:
    serve_charts(charts, "/charts", {"1.0.0": "from-dependency"}, auth=True)
    repo = git_repo("umbrella")
    umbrella(repo, f"{charts.base}/charts")
    project = f"deps-{uuid.uuid4().hex[:6]}"
    api = k8s.CustomObjectsApi(kube)
    api.create_namespaced_custom_object(
        GROUP,
        VERSION,
        CONTROL_NS,
        "appprojects",
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "AppProject",
            "metadata": {"name": project, "namespace": CONTROL_NS},
            "spec": {
                "sourceRepos": [f"file://{repo.bare}"],
                "destinations": [{"server": "https://kubernetes.default.svc", "namespace": namespace}],
            },
        },
    )
    name = f"deps-{namespace}"
    credentials = f"helm-{project}"
    try:
        apps.create(name, f"file://{repo.bare}", "app", namespace, project=project)
        app = apps.wait(name, lambda a: bool(messages(a)), what="a ComparisonError")
        assert app["status"]["conditions"][0]["type"] == "ComparisonError"
        assert f"not permitted in project '{project}'" in messages(app)[0]
        assert charts.requests == []  # refused before any request

        api.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            CONTROL_NS,
            "appprojects",
            project,
            {"spec": {"sourceRepos": [f"file://{repo.bare}", f"{charts.base}/*"]}},
        )
        apps.wait(name, lambda a: any("access denied" in m for m in messages(a)), what="anonymous 401")

        secret(
            kube,
            credentials,
            "repository",
            {"url": f"{charts.base}/charts", "type": "helm", "username": USER, "password": PASSWORD},
        )
        app = apps.wait(
            name,
            lambda a: not messages(a) and bool((a.get("status") or {}).get("resources")),
            what="the dependency rendered",
        )
        assert sorted(r["name"] for r in app["status"]["resources"]) == ["from-dependency", "umbrella"]
        assert AUTH in charts.authorizations()
    finally:
        apps.delete(name)
        with contextlib.suppress(k8s.ApiException):  # not made when an earlier step failed
            k8s.CoreV1Api(kube).delete_namespaced_secret(credentials, CONTROL_NS)
        api.delete_namespaced_custom_object(GROUP, VERSION, CONTROL_NS, "appprojects", project)

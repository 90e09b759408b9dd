"""Remote dependencies of a render (issue 19, "remote bases and dependencies"): a chart's Helm
dependencies are fetched by ferry under the project's rules, never by ``helm dependency build``
with credentials picked by a raw string prefix (finding 9's class), and kustomize remote bases
are refused unless the repo server allows them, then checked against the project's sourceRepos.

The charts come from real recording HTTP listeners on 127.0.0.1; the repo server is its own
process with the real helm and kustomize.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import grpc
import yaml

from ferry.v1 import types_pb2
from ferry_devenv.gitrepo import GitRepo
from tests.integration.reposerver.conftest import RepoClient, status_of
from tests.security._urls import Listener, basic, chart_archive, helm_repo, listeners, ok

__all__ = ["listeners"]

USER, PASSWORD = "dep-user", "dep-s3cr3t"
AUTH = basic(USER, PASSWORD)
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"


def serve_charts(listener: Listener, prefix: str, versions: dict[str, str], *, auth: bool) -> None:
    """``prefix``/index.yaml listing chart ``dep`` in ``versions`` (version -> ConfigMap name),
    each archive under ``prefix``; with ``auth`` every path answers only with AUTH (401 else)."""
    entries = []
    for version, configmap in versions.items():
        archive = chart_archive("dep", version, configmap)
        path = f"{prefix}/dep-{version}.tgz"
        entries.append(
            {
                "apiVersion": "v2",
                "name": "dep",
                "version": version,
                "urls": [f"{listener.base}{path}"],
                "digest": hashlib.sha256(archive).hexdigest(),
            }
        )
        serve(listener, path, archive, auth=auth)
    index = yaml.safe_dump({"apiVersion": "v1", "entries": {"dep": entries}}).encode()
    serve(listener, f"{prefix}/index.yaml", index, auth=auth)


def serve(listener: Listener, path: str, body: bytes, *, auth: bool) -> None:
    def route(handler: object) -> tuple[int, dict[str, str], bytes]:
        if not auth or getattr(handler, "headers").get("Authorization") == AUTH:  # noqa: B009
            return ok(body)
        return 401, {"WWW-Authenticate": 'Basic realm="charts"'}, b"unauthorized"

    listener.routes[path] = route


def umbrella(repo: GitRepo, repository: str, version: str = "1.0.0", lock: str | None = None) -> None:
    files = {
        "app/Chart.yaml": (
            "apiVersion: v2\nname: app\nversion: 0.1.0\n"
            f"dependencies:\n- name: dep\n  version: {version!r}\n  repository: {repository!r}\n"
        ),
        "app/templates/cm.yaml": CM.format(name="umbrella"),
    }
    if lock is not None:
        files["app/Chart.lock"] = (
            f"dependencies:\n- name: dep\n  repository: {repository!r}\n  version: {lock}\n"
            "digest: sha256:0\ngenerated: '2026-01-01T00:00:00Z'\n"
        )
    repo.commit("umbrella", files)


def names(response: types_pb2.ManifestResponse) -> list[str]:
    return sorted(json.loads(m)["metadata"]["name"] for m in response.manifests)


def render(client: RepoClient, repo: GitRepo, **kw: Any) -> types_pb2.ManifestResponse:
    response: types_pb2.ManifestResponse = client.manifests(f"file://{repo.bare}", "app", **kw)
    return response


def test_dependency_is_fetched_by_ferry_with_the_registered_credentials(
    client: RepoClient, git_repo: Callable[[str], GitRepo], listeners: Callable[[], Listener]
) -> None:
    charts = listeners()
    serve_charts(charts, "/charts", {"1.0.0": "from-private-dependency"}, auth=True)
    repo = git_repo("dependency-private")
    umbrella(repo, f"{charts.base}/charts")
    registered = helm_repo(f"{charts.base}/charts", USER, PASSWORD, name="private")
    response = render(client, repo, helm_repos=[registered], source_repos=["*"])
    assert names(response) == ["from-private-dependency", "umbrella"]
    # ferry's client fetched the index and the archive, helm fetched nothing itself
    assert {r.headers.get("user-agent") for r in charts.requests} == {"ferry-reposerver"}
    assert {r.path for r in charts.requests} == {"/charts/index.yaml", "/charts/dep-1.0.0.tgz"}


def test_dependency_on_a_lookalike_path_gets_no_credentials(
    client: RepoClient, git_repo: Callable[[str], GitRepo], listeners: Callable[[], Listener]
) -> None:
    """Finding 9's class in the dependency path: ``repository.startswith(registered)`` gave
    ``http://h/charts``'s credentials to ``http://h/charts-evil``."""
    charts = listeners()
    serve_charts(charts, "/charts-evil", {"1.0.0": "lookalike"}, auth=False)
    repo = git_repo("dependency-lookalike")
    umbrella(repo, f"{charts.base}/charts-evil")
    registered = helm_repo(f"{charts.base}/charts", USER, PASSWORD)
    response = render(client, repo, helm_repos=[registered], source_repos=["*"])
    assert names(response) == ["lookalike", "umbrella"]
    assert charts.requests  # it was fetched, anonymously
    assert charts.authorizations() == []


def test_dependency_outside_the_projects_source_repos_is_refused_before_any_request(
    client: RepoClient, git_repo: Callable[[str], GitRepo], listeners: Callable[[], Listener]
) -> None:
    charts = listeners()
    serve_charts(charts, "/charts", {"1.0.0": "not-permitted"}, auth=False)
    repo = git_repo("dependency-not-permitted")
    umbrella(repo, f"{charts.base}/charts")
    for source_repos in ([], ["https://git.example.test/*"], ["*", f"!{charts.base}/*"]):
        code, message = status_of(
            lambda s=source_repos: render(client, repo, source_repos=s, project_name="team-a")
        )
        assert code is grpc.StatusCode.PERMISSION_DENIED, message
        assert "not permitted in project 'team-a'" in message
        assert "sourceRepos" in message
    assert charts.requests == []


def test_chart_lock_pins_the_dependency_version(
    client: RepoClient, git_repo: Callable[[str], GitRepo], listeners: Callable[[], Listener]
) -> None:
    charts = listeners()
    serve_charts(charts, "/charts", {"1.0.0": "version-one-zero", "1.1.0": "version-one-one"}, auth=False)
    floating = git_repo("dependency-floating")
    umbrella(floating, f"{charts.base}/charts", version="^1.0.0")
    assert names(render(client, floating, source_repos=["*"])) == ["umbrella", "version-one-one"]
    locked = git_repo("dependency-locked")
    umbrella(locked, f"{charts.base}/charts", version="^1.0.0", lock="1.0.0")
    assert names(render(client, locked, source_repos=["*"])) == ["umbrella", "version-one-zero"]


def test_dependency_by_repository_name_uses_that_repository(
    client: RepoClient, git_repo: Callable[[str], GitRepo], listeners: Callable[[], Listener]
) -> None:
    charts = listeners()
    serve_charts(charts, "/stable", {"1.0.0": "by-name"}, auth=True)
    repo = git_repo("dependency-by-name")
    umbrella(repo, "@stable")
    registered = helm_repo(f"{charts.base}/stable", USER, PASSWORD, name="stable")
    assert names(render(client, repo, helm_repos=[registered], source_repos=["*"])) == ["by-name", "umbrella"]
    unknown = git_repo("dependency-unknown-name")
    umbrella(unknown, "alias:nope")
    code, message = status_of(lambda: render(client, unknown, helm_repos=[registered], source_repos=["*"]))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert "names no Helm repository registered" in message


def test_oci_and_cyclic_local_dependencies_are_refused_with_what_to_do(
    client: RepoClient, git_repo: Callable[[str], GitRepo]
) -> None:
    oci = git_repo("dependency-oci")
    umbrella(oci, "oci://registry.example.test/charts")
    code, message = status_of(lambda: render(client, oci, source_repos=["*"]))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert "vendor the chart" in message
    cyclic = git_repo("dependency-cycle")
    umbrella(cyclic, "file://..")
    code, message = status_of(lambda: render(client, cyclic, source_repos=["*"]))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert "contains the chart itself" in message


def test_kustomize_remote_base_is_refused_by_default(
    client: RepoClient, git_repo: Callable[[str], GitRepo]
) -> None:
    repo = git_repo("remote-base-default")
    repo.commit(
        "remote base",
        {"app/kustomization.yaml": "resources:\n- https://github.com/example/base//deploy?ref=v1\n"},
    )
    code, message = status_of(lambda: render(client, repo, source_repos=["*"]))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert "remote base 'https://github.com/example/base//deploy?ref=v1' is not fetched" in message
    assert "--kustomize-remote-bases=project" in message

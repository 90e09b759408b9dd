"""The URL and credential findings that need the API: stored credentials are looked up by the
API server and the controller (ferry.repocreds), not by the repo server. Real ferry-server,
ferry-controller and ferry-reposerver processes on a real control plane, recording HTTP
listeners and the real Git HTTP server on 127.0.0.1 (security review findings 6, 9, 10, 13, 14)."""

from __future__ import annotations

import functools
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
import yaml

from ferry.v1 import application_pb2, project_pb2, repository_pb2, types_pb2
from ferry_devenv.gitrepo import GitRepo
from ferry_devenv.servers import HttpServer
from tests.conftest import GIT_PASSWORD, GIT_USER, RunningServer
from tests.integration.server.conftest import Api, admin, api, server_process
from tests.security._urls import Listener, basic, listeners

__all__ = ["admin", "api", "listeners", "server_process"]


def app(name: str, namespace: str, project: str = "default", **source: str) -> types_pb2.Application:
    return types_pb2.Application(
        metadata=types_pb2.ObjectMeta(name=name),
        spec=types_pb2.ApplicationSpec(
            project=project,
            source=types_pb2.ApplicationSource(**source),  # type: ignore[arg-type]
            destination=types_pb2.ApplicationDestination(
                server="https://kubernetes.default.svc", namespace=namespace
            ),
        ),
    )


def create(admin: Api, application: types_pb2.Application) -> tuple[grpc.StatusCode, str]:
    """(OK, "") when the app was created (it is then deleted again after the caller's checks),
    else the error's (code, message)."""
    try:
        admin.call("apps", "Create", application_pb2.ApplicationCreateRequest(application=application))
    except grpc.RpcError as err:
        return err.code(), err.details() or ""
    return grpc.StatusCode.OK, ""


def delete(admin: Api, name: str) -> None:
    """Deletes the app (not its resources) and waits until it is gone."""
    try:
        admin.call("apps", "Delete", application_pb2.ApplicationDeleteRequest(name=name, cascade=False))
    except grpc.RpcError as err:
        if err.code() is not grpc.StatusCode.NOT_FOUND:
            raise
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        code, _ = _status(lambda: admin.call("apps", "Get", application_pb2.ApplicationQuery(name=name)))
        if code is grpc.StatusCode.NOT_FOUND:
            return
        time.sleep(0.3)
    raise AssertionError(f"app {name} still exists 60 s after its deletion")


def wait_for_requests(listener: Listener, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not listener.requests and time.monotonic() < deadline:
        time.sleep(0.2)


def test_a_query_url_does_not_get_a_helm_repositorys_credentials(
    admin: Api, listeners: Callable[..., Listener], namespace: str
) -> None:
    """Finding 6, the review's reproduction: the admin registers http://charts.example.test/x with
    credentials; an app creator uses http://127.0.0.1:<port>?@charts.example.test/x."""
    victim = "http://charts.example.test/x"
    stored = types_pb2.Repository(repo=victim, type="helm", username="u", password="s3cr3t")
    admin.call("repos", "CreateRepository", repository_pb2.RepoCreateRequest(repo=stored, upsert=True))
    attacker = listeners()
    try:
        for mark in ("?", "#"):
            url = f"{attacker.base}{mark}@charts.example.test/x"
            name = f"helm-query-{'q' if mark == '?' else 'f'}"
            code, message = create(
                admin, app(name, namespace, repo_url=url, chart="c", target_revision="1.0.0")
            )
            if code is grpc.StatusCode.OK:
                wait_for_requests(attacker, 15)  # the controller renders it
                delete(admin, name)
            assert attacker.authorizations() == [], f"{basic('u', 's3cr3t')} went to the attacker"
            assert code is grpc.StatusCode.INVALID_ARGUMENT
            assert "has a query ('?') or fragment ('#')" in message
        assert attacker.requests == []
    finally:
        admin.call("repos", "DeleteRepository", repository_pb2.RepoQuery(repo=victim))


def test_a_credential_template_does_not_match_a_lookalike_port(
    admin: Api, listeners: Callable[..., Listener], namespace: str
) -> None:
    """Finding 9: template http://127.0.0.1:80; an app on http://127.0.0.1:80NN/x.git (a raw
    prefix match) got Authorization: Basic on the listener's info/refs request."""
    template = types_pb2.Repository(repo="http://127.0.0.1:80", username="u", password="p")
    admin.call(
        "repos",
        "CreateRepository",
        repository_pb2.RepoCreateRequest(repo=template, creds_only=True, upsert=True),
    )
    lookalike = listeners(range(8000, 8100))
    try:
        code, _ = create(
            admin,
            app(
                "lookalike-port",
                namespace,
                repo_url=f"{lookalike.base}/x.git",
                path="app",
                target_revision="HEAD",
            ),
        )
        if code is grpc.StatusCode.OK:
            delete(admin, "lookalike-port")
        assert [r.path for r in lookalike.requests][:1] == ["/x.git/info/refs?service=git-upload-pack"]
        assert lookalike.authorizations() == []
    finally:
        admin.call("repos", "DeleteRepository", repository_pb2.RepoQuery(repo="http://127.0.0.1:80"))


@pytest.fixture
def teams(admin: Api) -> list[str]:
    names = ["sec-team-a", "sec-team-b"]
    for name in names:
        project = types_pb2.AppProject(
            metadata=types_pb2.ObjectMeta(name=name),
            spec=types_pb2.AppProjectSpec(
                source_repos=["*"], destinations=[types_pb2.ApplicationDestination(server="*", namespace="*")]
            ),
        )
        admin.call("projects", "Create", project_pb2.ProjectCreateRequest(project=project, upsert=True))
    return names


def test_project_scoped_credentials_serve_only_their_project(
    admin: Api, git_repo: Callable[[str], GitRepo], git_http: HttpServer, namespace: str, teams: list[str]
) -> None:
    """Finding 13: a repository Secret with project team-a; an app of team-b (sourceRepos *) on
    that URL rendered team-a's private repository with team-a's credentials."""
    team_a, team_b = teams
    repo = git_repo("team-a-scoped")
    repo.commit(
        "private",
        {
            "app/cm.yaml": yaml.safe_dump(
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "team-a-only"}}
            )
        },
    )
    url = git_http.git_url(repo.name)
    stored = types_pb2.Repository(repo=url, username=GIT_USER, password=GIT_PASSWORD, project=team_a)
    admin.call("repos", "CreateRepository", repository_pb2.RepoCreateRequest(repo=stored, upsert=True))
    try:
        source = {"repo_url": url, "path": "app", "target_revision": "HEAD"}
        code, message = create(admin, app("scoped-a", namespace, team_a, **source))
        assert code is grpc.StatusCode.OK, message  # team-a's own app renders with its credentials
        code, message = create(admin, app("scoped-b", namespace, team_b, **source))
        if code is grpc.StatusCode.OK:
            manifests = admin.call(
                "apps", "GetManifests", application_pb2.ApplicationManifestQuery(name="scoped-b")
            )
            delete(admin, "scoped-b")
            pytest.fail(f"team-b's app was created and rendered: {list(manifests.manifests)}")
        assert code is grpc.StatusCode.PERMISSION_DENIED, (code, message)
        assert "access denied" in message
        assert "team-a-only" not in message
        # the repository API without a project uses unscoped credentials only
        code, message = _status(lambda: admin.call("repos", "ListRefs", repository_pb2.RepoQuery(repo=url)))
        assert code is grpc.StatusCode.PERMISSION_DENIED, (code, message)
        refs = admin.call("repos", "ListRefs", repository_pb2.RepoQuery(repo=url, app_project=team_a))
        assert "main" in refs.branches
    finally:
        delete(admin, "scoped-a")
        admin.call("repos", "DeleteRepository", repository_pb2.RepoQuery(repo=url))
        for name in teams:
            admin.call("projects", "Delete", project_pb2.ProjectQuery(name=name))


def _status(call: Callable[[], object]) -> tuple[grpc.StatusCode, str]:
    try:
        call()
    except grpc.RpcError as err:
        return err.code(), err.details() or ""
    return grpc.StatusCode.OK, ""


def test_a_local_mirror_path_is_refused_for_apps_and_repository_calls(
    admin: Api,
    git_repo: Callable[[str], GitRepo],
    git_http: HttpServer,
    namespace: str,
    reposerver_process: RunningServer,
) -> None:
    """Finding 10 through the API: an app, or a read-only repository call, naming the repo
    server's mirror of another tenant's private repository."""
    repo = git_repo("mirror-victim")
    repo.commit(
        "private",
        {
            "app/cm.yaml": yaml.safe_dump(
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "mirrored"}}
            )
        },
    )
    url = git_http.git_url(repo.name)
    stored = types_pb2.Repository(repo=url, username=GIT_USER, password=GIT_PASSWORD)
    admin.call("repos", "CreateRepository", repository_pb2.RepoCreateRequest(repo=stored, upsert=True))
    try:
        source = {"repo_url": url, "path": "app", "target_revision": "HEAD"}
        assert create(admin, app("mirror-victim", namespace, **source))[0] is grpc.StatusCode.OK
        argv = reposerver_process.proc.argv
        cache = Path(argv[argv.index("--cache-dir") + 1]) / "git"
        mirror_paths = [str(p) for p in cache.iterdir() if (p / "HEAD").exists()]
        assert mirror_paths
        for mirror in mirror_paths:
            thief = app("mirror-thief", namespace, repo_url=mirror, path="app", target_revision="main")
            code, message = create(admin, thief)
            if code is grpc.StatusCode.OK:
                delete(admin, "mirror-thief")
            assert code is grpc.StatusCode.INVALID_ARGUMENT, (code, message)
            assert "is a local path" in message
            query = repository_pb2.RepoQuery(repo=mirror)
            code, message = _status(functools.partial(admin.call, "repos", "ListRefs", query))
            assert code is grpc.StatusCode.INVALID_ARGUMENT, (code, message)
            assert "is a local path" in message
            assert "main" not in message
    finally:
        delete(admin, "mirror-victim")
        admin.call("repos", "DeleteRepository", repository_pb2.RepoQuery(repo=url))


def test_source_repos_globs_do_not_span_dot_segments(
    admin: Api, git_root: Path, git_http: HttpServer, namespace: str
) -> None:
    """Finding 14 through the API: project team-b allows http://<git>/team-b/*; an app on
    http://<git>/team-b/../team-a/private.git rendered team-a's repository."""
    team_a_dir = git_root / "sec-org-a"
    team_a_dir.mkdir(exist_ok=True)
    repo = GitRepo(team_a_dir, "private")
    project = types_pb2.AppProject(
        metadata=types_pb2.ObjectMeta(name="sec-org-b"),
        spec=types_pb2.AppProjectSpec(
            source_repos=[git_http.url("sec-org-b/*")],
            destinations=[types_pb2.ApplicationDestination(server="*", namespace="*")],
        ),
    )
    admin.call("projects", "Create", project_pb2.ProjectCreateRequest(project=project, upsert=True))
    template = types_pb2.Repository(repo=git_http.url(""), username=GIT_USER, password=GIT_PASSWORD)
    admin.call(
        "repos",
        "CreateRepository",
        repository_pb2.RepoCreateRequest(repo=template, creds_only=True, upsert=True),
    )
    try:
        repo.commit(
            "private",
            {
                "app/cm.yaml": yaml.safe_dump(
                    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "org-a"}}
                )
            },
        )
        url = git_http.url("sec-org-b/../sec-org-a/private.git")
        code, message = create(admin, app("dot-segments", namespace, "sec-org-b", repo_url=url, path="app"))
        if code is grpc.StatusCode.OK:
            delete(admin, "dot-segments")
        assert code is grpc.StatusCode.INVALID_ARGUMENT, (code, message)
        assert "dot segments" in message
    finally:
        admin.call("repos", "DeleteRepository", repository_pb2.RepoQuery(repo=git_http.url("")))
        admin.call("projects", "Delete", project_pb2.ProjectQuery(name="sec-org-b"))
        repo.cleanup()
        shutil.rmtree(team_a_dir, ignore_errors=True)


def test_a_helm_repository_scoped_to_team_a_sends_nothing_for_team_b(
    admin: Api, listeners: Callable[..., Listener], namespace: str, teams: list[str]
) -> None:
    """Finding 13 with a recording listener: team-b's app on team-a's scoped Helm repository
    reaches the repository without an Authorization header (and is refused by it)."""
    team_a, team_b = teams
    charts = listeners()
    auth = basic("u", "helm-s3cr3t")
    index = b"apiVersion: v1\nentries:\n  c:\n  - {name: c, version: 1.0.0, urls: [c-1.0.0.tgz]}\n"

    def protected(handler: object) -> tuple[int, dict[str, str], bytes]:
        if getattr(handler, "headers").get("Authorization") == auth:  # noqa: B009
            return 200, {"Content-Type": "application/x-yaml"}, index
        return 401, {"WWW-Authenticate": 'Basic realm="charts"'}, b"unauthorized"

    charts.routes["/index.yaml"] = protected
    stored = types_pb2.Repository(
        repo=charts.base, type="helm", username="u", password="helm-s3cr3t", project=team_a
    )
    admin.call("repos", "CreateRepository", repository_pb2.RepoCreateRequest(repo=stored, upsert=True))
    try:
        source = {"repo_url": charts.base, "chart": "c", "target_revision": "1.0.0"}
        code, message = create(admin, app("helm-scoped-b", namespace, team_b, **source))
        if code is grpc.StatusCode.OK:
            delete(admin, "helm-scoped-b")
        assert charts.requests, "the creation check asked the repository"
        assert charts.authorizations() == []
        assert code is grpc.StatusCode.PERMISSION_DENIED, (code, message)
        assert "access denied (HTTP 401)" in message
        code, message = create(admin, app("helm-scoped-a", namespace, team_a, **source))
        assert code is grpc.StatusCode.OK, message
        assert auth in charts.authorizations()  # team-a's own app sends them
    finally:
        delete(admin, "helm-scoped-a")
        admin.call("repos", "DeleteRepository", repository_pb2.RepoQuery(repo=charts.base))
        for name in teams:
            admin.call("projects", "Delete", project_pb2.ProjectQuery(name=name))

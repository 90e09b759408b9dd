"""The manifest cache, counted in renders (never timed): repeated requests are hits; a commit
that changes none of an app's inputs re-renders nothing; a shared base change re-renders every
app using it; a hard refresh always renders; failures back off; Redis shares the cache between
repo server processes."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator

import grpc
import pytest

from ferry_devenv.gitrepo import GitRepo
from ferry_devenv.process import new_workdir
from ferry_devenv.servers import RedisServer
from ferry_devenv.tools import tool
from tests.conftest import SERVICE_KEY, RunningServer, start_ferry_process
from tests.integration.reposerver.conftest import RepoClient, status_of

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"


# these repo servers render file:// repositories: allowed only with --allow-local-repos
LOCAL_REPOS_ENV = {"FERRY_SERVICE_KEY": SERVICE_KEY, "FERRY_REPOSERVER_ALLOW_LOCAL_REPOS": "true"}


def kustomization(*resources: str) -> str:
    return "resources:\n" + "".join(f"- {r}\n" for r in resources)


@pytest.fixture
def monorepo(git_repo: Callable[[str], GitRepo]) -> GitRepo:
    """Two Kustomize apps sharing a base, and one unrelated directory app."""
    repo = git_repo("mono")
    repo.commit(
        "initial",
        {
            "base/kustomization.yaml": kustomization("cm.yaml"),
            "base/cm.yaml": CM.format(name="shared"),
            "apps/one/kustomization.yaml": kustomization("../../base", "own.yaml"),
            "apps/one/own.yaml": CM.format(name="one"),
            "apps/two/kustomization.yaml": kustomization("../../base", "own.yaml"),
            "apps/two/own.yaml": CM.format(name="two"),
            "apps/three/cm.yaml": CM.format(name="three"),
            "docs/README.md": "hello\n",
        },
    )
    return repo


APPS = ("apps/one", "apps/two", "apps/three")


def render_all(client: RepoClient, repo: GitRepo) -> float:
    """Requests every app at HEAD; returns how many renders that caused."""
    before = client.renders()
    for app in APPS:
        client.manifests(f"file://{repo.bare}", app, app_name=app.rsplit("/", 1)[-1])
    return client.renders() - before


def test_second_request_is_a_cache_hit(client: RepoClient, monorepo: GitRepo) -> None:
    assert render_all(client, monorepo) == 3
    assert render_all(client, monorepo) == 0


def test_commit_outside_every_app_re_renders_nothing(client: RepoClient, monorepo: GitRepo) -> None:
    render_all(client, monorepo)
    monorepo.commit("docs only", {"docs/README.md": "changed\n"})
    assert render_all(client, monorepo) == 0


def test_editing_one_app_re_renders_only_that_app(client: RepoClient, monorepo: GitRepo) -> None:
    render_all(client, monorepo)
    monorepo.commit("app three", {"apps/three/cm.yaml": CM.format(name="three-v2")})
    assert render_all(client, monorepo) == 1
    names = [
        o["metadata"]["name"]
        for o in client.objects(f"file://{monorepo.bare}", "apps/three", app_name="three")
    ]
    assert names == ["three-v2"]


def test_editing_the_shared_base_re_renders_every_app_using_it(client: RepoClient, monorepo: GitRepo) -> None:
    render_all(client, monorepo)
    monorepo.commit("base", {"base/cm.yaml": CM.format(name="shared-v2")})
    assert render_all(client, monorepo) == 2
    one = [
        o["metadata"]["name"] for o in client.objects(f"file://{monorepo.bare}", "apps/one", app_name="one")
    ]
    assert "shared-v2" in one


def test_reused_render_reports_the_new_revision(client: RepoClient, monorepo: GitRepo) -> None:
    client.manifests(f"file://{monorepo.bare}", "apps/three", app_name="three")
    sha = monorepo.commit("unrelated", {"apps/one/own.yaml": CM.format(name="one-v2")})
    assert client.manifests(f"file://{monorepo.bare}", "apps/three", app_name="three").revision == sha


def test_hard_refresh_renders_again(client: RepoClient, monorepo: GitRepo) -> None:
    render_all(client, monorepo)
    before = client.renders()
    client.manifests(f"file://{monorepo.bare}", "apps/one", app_name="one", no_cache=True)
    assert client.renders() - before == 1


def test_repeated_failures_are_answered_from_cache_with_backoff(
    client: RepoClient, monorepo: GitRepo
) -> None:
    monorepo.commit("broken", {"apps/one/own.yaml": "kind: [unclosed\n"})
    before = client.renders()
    for _ in range(3):
        code, _ = status_of(lambda: client.manifests(f"file://{monorepo.bare}", "apps/one", app_name="one"))
        assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert client.renders() - before == 3
    code, message = status_of(lambda: client.manifests(f"file://{monorepo.bare}", "apps/one", app_name="one"))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert "cached after 3 failures" in message
    assert client.renders() - before == 3
    # a hard refresh tries again
    status_of(lambda: client.manifests(f"file://{monorepo.bare}", "apps/one", app_name="one", no_cache=True))
    assert client.renders() - before == 4


@pytest.fixture
def redis_reposervers(redis_server: RedisServer) -> Iterator[tuple[RunningServer, RunningServer]]:
    servers, caches = [], []
    for _ in range(2):
        cache = new_workdir("reposerver-redis")
        caches.append(cache)
        servers.append(
            start_ferry_process(
                "ferry-reposerver",
                [
                    "--cache-dir",
                    str(cache),
                    "--redis",
                    redis_server.url,
                    "--kustomize-path",
                    str(tool("kustomize")),
                    "--helm-path",
                    str(tool("helm")),
                ],
                env=LOCAL_REPOS_ENV,
            )
        )
    yield servers[0], servers[1]
    for server in servers:
        server.stop()
    for cache in caches:
        shutil.rmtree(cache, ignore_errors=True)


def test_redis_shares_renders_between_repo_servers(
    redis_reposervers: tuple[RunningServer, RunningServer], monorepo: GitRepo
) -> None:
    first, second = (RepoClient(s) for s in redis_reposervers)
    assert render_all(first, monorepo) == 3
    assert render_all(second, monorepo) == 0
    first.close()
    second.close()


def test_without_redis_a_repo_server_keeps_working(monorepo: GitRepo) -> None:
    cache = new_workdir("reposerver-dead-redis")
    dead = "redis://127.0.0.1:1/0"
    server = start_ferry_process(
        "ferry-reposerver",
        ["--cache-dir", str(cache), "--redis", dead, "--kustomize-path", str(tool("kustomize"))],
        env=LOCAL_REPOS_ENV,
    )
    client = RepoClient(server)
    try:
        assert render_all(client, monorepo) == 3
        assert server.metric("ferry_redis_request_total", failed="true") > 0
    finally:
        client.close()
        server.stop()
        shutil.rmtree(cache, ignore_errors=True)


def test_a_missing_tool_is_a_failed_precondition(monorepo: GitRepo) -> None:
    cache = new_workdir("reposerver-no-kustomize")
    server = start_ferry_process(
        "ferry-reposerver",
        ["--cache-dir", str(cache), "--kustomize-path", "/nonexistent/kustomize"],
        env=LOCAL_REPOS_ENV,
    )
    client = RepoClient(server)
    try:
        code, message = status_of(lambda: client.manifests(f"file://{monorepo.bare}", "apps/one"))
        assert code is grpc.StatusCode.FAILED_PRECONDITION
        assert "kustomize is not installed" in message
    finally:
        client.close()
        server.stop()
        shutil.rmtree(cache, ignore_errors=True)

"""Repository URLs the repo server refuses (security review findings 10 and 14): local paths
and ``file://`` (another tenant's mirror on the repo server's disk), kustomize ``file://``
remote resources, and dot segments that curl resolves to another org's repository.

The Helm URL findings (6, 15a) are in test_helm_credentials.py; credential-template matching
(9) and sourceRepos (14) as pure functions in tests/unit/ferry/test_repourl.py."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

from ferry.v1 import repo_pb2, types_pb2
from ferry_devenv.gitrepo import GitRepo
from ferry_devenv.servers import GitDaemon, HttpServer
from tests.conftest import GIT_PASSWORD, GIT_USER, RunningServer
from tests.integration.reposerver.conftest import RepoClient, status_of
from tests.security._urls import strict, strict_server

__all__ = ["strict", "strict_server"]

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  secret: {name}-value\n"


def private(git_http: HttpServer, repo: GitRepo) -> types_pb2.Repository:
    return types_pb2.Repository(
        repo=git_http.url(f"{repo.name}.git"), username=GIT_USER, password=GIT_PASSWORD
    )


def names(response: types_pb2.ManifestResponse) -> list[str]:
    import json  # noqa: PLC0415

    return [json.loads(m)["metadata"]["name"] for m in response.manifests]


@pytest.fixture
def victim(
    git_repo: Callable[[str], GitRepo], git_http: HttpServer, strict: RepoClient
) -> tuple[GitRepo, types_pb2.Repository]:
    """Team A's private repository, rendered once with its credentials: its mirror is on disk."""
    repo = git_repo("team-a-private")
    repo.commit(
        "private",
        {
            "app/cm.yaml": CM.format(name="victim-content"),
            "app/kustomization.yaml": "resources:\n- cm.yaml\n",
        },
    )
    creds = private(git_http, repo)
    assert names(strict.manifests(creds, "app")) == ["victim-content"]
    return repo, creds


def mirrors(server: tuple[RunningServer, Path]) -> list[Path]:
    found = [p for p in (server[1] / "git").iterdir() if (p / "HEAD").exists()]
    assert found, "the victim's mirror is on the repo server's disk"
    return found


def test_a_local_mirror_path_is_refused(
    strict: RepoClient,
    strict_server: tuple[RunningServer, Path],
    victim: tuple[GitRepo, types_pb2.Repository],
) -> None:
    """Finding 10: ``repoURL: <cache>/git/<hash>`` cloned another tenant's mirror, no credentials."""
    for mirror in mirrors(strict_server):
        code, message = status_of(lambda mirror=mirror: strict.manifests(str(mirror), "app"))
        assert code is grpc.StatusCode.INVALID_ARGUMENT
        assert "is a local path: local paths and file:// are not allowed as repository URLs" in message
        assert "victim-content" not in message
        # read-only API calls reach the repo server too (ListRefs: an existence oracle)
        request = repo_pb2.ListRefsRequest(repo=types_pb2.Repository(repo=str(mirror)))
        code, message = status_of(lambda request=request: strict.call("ListRefs", request))
        assert code is grpc.StatusCode.INVALID_ARGUMENT
        assert "local path" in message


def test_a_file_url_is_refused_without_the_development_flag(
    strict: RepoClient,
    strict_server: tuple[RunningServer, Path],
    victim: tuple[GitRepo, types_pb2.Repository],
) -> None:
    """Finding 10: ``file://<cache>/git/<hash>``; also the tenant's own file:// repositories."""
    repo, _ = victim
    for url in [*(f"file://{m}" for m in mirrors(strict_server)), f"file://{repo.bare}"]:
        code, message = status_of(lambda url=url: strict.manifests(url, "app"))
        assert code is grpc.StatusCode.INVALID_ARGUMENT
        assert "uses file://" in message
        assert "--allow-local-repos" in message
        assert "victim-content" not in message


def test_kustomize_file_remote_resources_read_no_mirror(
    strict: RepoClient,
    strict_server: tuple[RunningServer, Path],
    victim: tuple[GitRepo, types_pb2.Repository],
    git_repo: Callable[[str], GitRepo],
    git_daemon: GitDaemon,
) -> None:
    """Finding 10, kustomize variant (reproduced with kustomize v5.8.1): a kustomization in an
    allowed repository lists ``file:///<mirror>//app?ref=main`` and kustomize's git reads it."""
    [mirror] = mirrors(strict_server)[:1]
    attacker = git_repo("team-b-allowed")
    attacker.commit(
        "remote base",
        {
            "app/kustomization.yaml": f"resources:\n- file://{mirror}//app?ref=main\n",
        },
    )
    code, message = status_of(lambda: strict.manifests(git_daemon.url(attacker.name), "app"))
    assert code is grpc.StatusCode.INVALID_ARGUMENT, (code, message)
    assert "victim-content" not in message


def test_dot_segments_do_not_reach_another_orgs_repository(
    strict: RepoClient, git_root: Path, git_http: HttpServer, request: pytest.FixtureRequest
) -> None:
    """Finding 14: ``http://git/team-b/../team-a/private.git`` matched ``team-b/*``; curl
    removes the dot segments and fetches team-a's repository (with a template's credentials)."""
    suffix = str(abs(hash(request.node.nodeid)))[:6]
    team_a_dir = git_root / f"team-a-{suffix}"
    team_a_dir.mkdir()
    repo = GitRepo(team_a_dir, "private")
    try:
        repo.commit("private", {"app/cm.yaml": CM.format(name="team-a-only")})
        for path in (
            f"team-b-{suffix}/../team-a-{suffix}/private.git",
            f"team-b-{suffix}/%2e%2e/team-a-{suffix}/private.git",
        ):
            url = git_http.url(path)
            creds = types_pb2.Repository(repo=url, username=GIT_USER, password=GIT_PASSWORD)
            code, message = status_of(lambda creds=creds: strict.manifests(creds, "app"))
            assert code is grpc.StatusCode.INVALID_ARGUMENT
            assert "dot segments" in message
            assert "team-a-only" not in message
    finally:
        repo.cleanup()
        shutil.rmtree(team_a_dir, ignore_errors=True)


@pytest.mark.parametrize(
    ("url", "cause"),
    [
        ("ext::sh -c touch% /tmp/ferry-ext-marker", "remote-helper syntax"),
        ("-uhttps://example.invalid/x", "starts with '-'"),
        ("http://127.0.0.1:9?@example.invalid/x", "query ('?') or fragment ('#')"),
    ],
)
def test_other_urls_git_must_never_see(strict: RepoClient, url: str, cause: str) -> None:
    code, message = status_of(lambda: strict.manifests(url, "app"))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert cause in message
    assert not Path("/tmp/ferry-ext-marker").exists()

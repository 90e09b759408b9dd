"""Caches keyed by the credentials that filled them (security review finding 13, cache part):
references were cached 60 s by URL, full SHAs skipped ``ls-remote``, commits already in the
mirror were read without a fetch, and manifests were cached by URL, path and parameters. So a
request *without* credentials (an app of a project the credentials are not scoped to) was served
a private repository's content. The Helm variant is in test_helm_credentials.py."""

from __future__ import annotations

import json
from collections.abc import Callable

import grpc
import pytest

from ferry.v1 import repo_pb2, types_pb2
from ferry_devenv.gitrepo import GitRepo
from ferry_devenv.servers import HttpServer
from tests.conftest import GIT_PASSWORD, GIT_USER
from tests.integration.reposerver.conftest import RepoClient, status_of
from tests.security._urls import strict, strict_server

__all__ = ["strict", "strict_server"]

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  secret: {name}-value\n"
OTHERS = [types_pb2.Repository(), types_pb2.Repository(username=GIT_USER, password="wrong-password")]


def with_creds(url: str, creds: types_pb2.Repository) -> types_pb2.Repository:
    repo = types_pb2.Repository()
    repo.CopyFrom(creds)
    repo.repo = url
    return repo


@pytest.fixture
def private_repo(
    git_repo: Callable[[str], GitRepo], git_http: HttpServer, strict: RepoClient
) -> tuple[str, str]:
    """(URL, commit) of a private repository rendered once with its credentials."""
    repo = git_repo("private-cache")
    sha = repo.commit("private", {"app/cm.yaml": CM.format(name="private-content")})
    url = git_http.url(f"{repo.name}.git")
    rendered = strict.manifests(
        types_pb2.Repository(repo=url, username=GIT_USER, password=GIT_PASSWORD), "app"
    )
    assert [json.loads(m)["metadata"]["name"] for m in rendered.manifests] == ["private-content"]
    return url, sha


@pytest.mark.parametrize("other", OTHERS, ids=["no-credentials", "wrong-credentials"])
def test_manifests_are_not_served_to_other_credentials(
    strict: RepoClient, private_repo: tuple[str, str], other: types_pb2.Repository
) -> None:
    url, sha = private_repo
    for revision in ("", "main", sha):  # the reference cache, then the mirror by full SHA
        code, message = status_of(
            lambda revision=revision: strict.manifests(with_creds(url, other), "app", revision)
        )
        assert code is grpc.StatusCode.PERMISSION_DENIED, (revision, code, message)
        assert "access denied" in message
        assert "private-content" not in message


@pytest.mark.parametrize("other", OTHERS, ids=["no-credentials", "wrong-credentials"])
def test_references_and_metadata_are_not_served_to_other_credentials(
    strict: RepoClient, private_repo: tuple[str, str], other: types_pb2.Repository
) -> None:
    url, sha = private_repo
    repo = with_creds(url, other)
    calls = {
        "ListRefs": repo_pb2.ListRefsRequest(repo=repo),
        "ResolveRevision": repo_pb2.ResolveRevisionRequest(repo=repo, revision="main"),
        "GetRevisionMetadata": repo_pb2.RepoServerRevisionMetadataRequest(repo=repo, revision=sha),
        "ListApps": repo_pb2.ListAppsRequest(repo=repo, revision=sha),
    }
    for method, request in calls.items():
        code, message = status_of(lambda method=method, request=request: strict.call(method, request))
        assert code is grpc.StatusCode.PERMISSION_DENIED, (method, code, message)
        assert "private-content" not in message


def test_the_right_credentials_still_share_the_cache(
    strict: RepoClient, private_repo: tuple[str, str]
) -> None:
    url, _ = private_repo
    before = strict.renders()
    rendered = strict.manifests(
        types_pb2.Repository(repo=url, username=GIT_USER, password=GIT_PASSWORD), "app"
    )
    assert [json.loads(m)["metadata"]["name"] for m in rendered.manifests] == ["private-content"]
    assert strict.renders() == before  # served from the cache those credentials filled

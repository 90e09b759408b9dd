"""Every kind of bad input gets its own status and a message that says what to fix."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import grpc
import pytest

from ferry.servicetoken import mint
from ferry.v1 import repo_pb2, types_pb2
from ferry_devenv.gitrepo import GitRepo, git
from tests.integration.reposerver.conftest import RepoClient, status_of

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"


@pytest.fixture
def repo(git_repo: Callable[[str], GitRepo]) -> GitRepo:
    r = git_repo("bad")
    r.commit("ok", {"app/cm.yaml": CM.format(name="ok")})
    return r


def fails(client: RepoClient, repo: GitRepo, path: str, **kw: Any) -> tuple[grpc.StatusCode, str]:
    return status_of(lambda: client.manifests(f"file://{repo.bare}", path, **kw))


@pytest.mark.parametrize("path", ["../outside", "app/../../outside", "/etc"])
def test_paths_leaving_the_repository(client: RepoClient, repo: GitRepo, path: str) -> None:
    code, message = fails(client, repo, path)
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert repr(path) in message


def test_symlink_leaving_the_repository(client: RepoClient, repo: GitRepo) -> None:
    os.symlink("/etc/passwd", repo.work / "app" / "passwd.yaml")
    os.symlink("../../../../../../etc", repo.work / "escape")
    repo.commit("links")
    code, message = fails(client, repo, "app")
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert "passwd.yaml" in message
    code, message = fails(client, repo, "escape")
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert "escape" in message


def test_symlink_inside_the_repository_is_followed(client: RepoClient, repo: GitRepo) -> None:
    os.symlink("app", repo.work / "alias")
    repo.commit("alias")
    assert [o["metadata"]["name"] for o in client.objects(f"file://{repo.bare}", "alias")] == ["ok"]


def test_malformed_yaml_names_file_and_line(client: RepoClient, repo: GitRepo) -> None:
    repo.commit(
        "bad yaml", {"app/broken.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n"}
    )
    code, message = fails(client, repo, "app")
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert "app/broken.yaml:" in message
    assert "invalid YAML" in message


def test_malformed_json_and_jsonnet(client: RepoClient, repo: GitRepo) -> None:
    repo.commit("bad json", {"app/x.json": '{"apiVersion": "v1",\n "kind": }'})
    code, message = fails(client, repo, "app")
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert "app/x.json:2" in message
    repo.commit("bad jsonnet", {"app/x.json": None, "app/y.jsonnet": "{ a: }"})
    code, message = fails(client, repo, "app")
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert "app/y.jsonnet:1" in message


def test_object_without_kind(client: RepoClient, repo: GitRepo) -> None:
    repo.commit("no kind", {"app/x.yaml": "apiVersion: v1\nmetadata:\n  name: x\n"})
    code, message = fails(client, repo, "app")
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert "app/x.yaml" in message
    assert "kind" in message


def test_tool_failure_carries_stderr(client: RepoClient, repo: GitRepo) -> None:
    repo.commit("bad kustomization", {"k/kustomization.yaml": "resources:\n- missing.yaml\n"})
    code, message = fails(client, repo, "k")
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert "kustomize build k failed" in message
    assert "missing.yaml" in message


def test_missing_path_and_unknown_revision(client: RepoClient, repo: GitRepo) -> None:
    code, message = fails(client, repo, "nope")
    assert code is grpc.StatusCode.NOT_FOUND
    assert "'nope'" in message
    code, message = fails(client, repo, "app", revision="no-such-branch")
    assert code is grpc.StatusCode.NOT_FOUND
    assert "'no-such-branch'" in message


def test_manifest_size_limit(client: RepoClient, repo: GitRepo) -> None:
    big = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n  x: "
        + "y" * (11 * 1024 * 1024)
        + "\n"
    )
    repo.commit("big", {"big/cm.yaml": big})
    code, message = fails(client, repo, "big")
    assert code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "exceed" in message


def test_missing_repo_url(client: RepoClient) -> None:
    code, message = status_of(lambda: client.call("GenerateManifests", repo_pb2.ManifestRequest()))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert "repoURL" in message


def test_calls_without_a_valid_service_token(client: RepoClient, repo: GitRepo) -> None:
    request = repo_pb2.ResolveRevisionRequest(repo=types_pb2.Repository(repo=f"file://{repo.bare}"))
    cases = {
        "none": (),
        "garbage": (("authorization", "Bearer not-a-jwt"),),
        "wrong key": (("authorization", f"Bearer {mint(b'another-key-of-32-bytes-or-more!!', 'intruder')}"),),
        "expired": (
            ("authorization", f"Bearer {mint(b'test-service-key-0123456789abcdef', 'old', lifetime=-60)}"),
        ),
        "basic": (("authorization", "Basic dXNlcjpwdw=="),),
    }
    for case, metadata in cases.items():
        code, message = status_of(lambda m=metadata: client.call("ResolveRevision", request, metadata=m))
        assert code is grpc.StatusCode.UNAUTHENTICATED, case
        assert message, case
    assert (
        "expired" in status_of(lambda: client.call("ResolveRevision", request, metadata=cases["expired"]))[1]
    )
    assert client.call("ResolveRevision", request).revision == git("rev-parse", "HEAD", cwd=repo.work)

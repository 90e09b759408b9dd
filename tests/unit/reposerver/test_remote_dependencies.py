"""Pure parts of fetching a render's remote dependencies: which repository a kustomize remote
reference names, which registered Helm repository's credentials a chart dependency gets, and
which Helm credentials a project may use."""

from __future__ import annotations

import pytest

from ferry.projects import source_repos_permit
from ferry.repocreds import helm_repositories
from ferry.v1 import types_pb2
from reposerver.render.dependencies import credentials_for
from reposerver.render.kustomize import remote_base_repository
from tests.unit.ferry.test_repourl import b64, secret


@pytest.mark.parametrize(
    ("ref", "repository"),
    [
        ("https://github.com/org/repo//deploy/base?ref=v1", "https://github.com/org/repo"),
        ("github.com/org/repo/deploy/base?ref=v1", "https://github.com/org/repo"),
        ("github.com/org/repo?ref=v1", "https://github.com/org/repo"),
        ("git@github.com:org/repo//base?ref=main", "git@github.com:org/repo"),
        ("git@github.com:org/repo/base?ref=main", "git@github.com:org/repo"),
        ("ssh://git@git.corp/team/apps.git/base?ref=main", "ssh://git@git.corp/team/apps.git"),
        ("git::https://git.corp/team/apps//base?ref=main", "https://git.corp/team/apps"),
        ("https://git.corp:8443/team/apps//base", "https://git.corp:8443/team/apps"),
        ("https://raw.example.test/team/file.yaml", "https://raw.example.test/team/file.yaml"),
        ("file:///var/cache/mirror//app?ref=main", "file:///var/cache/mirror"),
    ],
)
def test_remote_base_repository_is_split_where_kustomize_splits_it(ref: str, repository: str) -> None:
    assert remote_base_repository(ref) == repository


def test_remote_base_checked_against_source_repos() -> None:
    repository = remote_base_repository("https://github.com/team-a/base//deploy?ref=v1")
    assert source_repos_permit(["https://github.com/team-a/*"], repository)
    assert not source_repos_permit(["https://github.com/team-b/*"], repository)
    assert not source_repos_permit([], repository)
    assert not source_repos_permit(["*", "!https://github.com/team-a/*"], repository)


def registered(url: str, password: str, name: str = "") -> types_pb2.Repository:
    return types_pb2.Repository(repo=url, type="helm", username="u", password=password, name=name)


def test_dependency_credentials_match_on_parsed_url_segments() -> None:
    repos = [registered("https://charts.corp", "host"), registered("https://charts.corp/team", "team")]
    assert credentials_for("https://charts.corp/team/stable", repos).password == "team"
    assert credentials_for("https://charts.corp/other", repos).password == "host"
    # the raw prefix match gave these the registered repository's credentials (finding 9's class)
    assert credentials_for("https://charts.corp.evil.example/x", repos).password == ""
    assert credentials_for("https://charts.corp/teamevil", repos).password == "host"
    assert credentials_for("http://charts.corp/team", repos).password == ""  # no https -> http
    exact = credentials_for("https://charts.corp/team/", repos)
    assert (exact.password, exact.repo, exact.type) == ("team", "https://charts.corp/team/", "helm")
    anonymous = credentials_for("https://elsewhere.example/charts", repos)
    assert (anonymous.username, anonymous.password, anonymous.type) == ("", "", "helm")


def test_a_project_gets_its_own_and_unscoped_helm_credentials_only() -> None:
    secrets = [
        secret("repository", "https://charts.corp/shared", type="helm", password="shared"),
        secret("repository", "https://charts.corp/a", type="helm", password="a", project="team-a"),
        secret("repository", "https://charts.corp/b", type="helm", password="b", project="team-b"),
        secret("repo-creds", "https://charts.corp/t", type="helm", password="template"),
        secret("repository", "https://git.corp/apps", password="git"),  # a Git repository
        secret("repository", "https://charts.corp/shared", type="helm", password="a-own", project="team-a"),
        {
            "metadata": {"name": "other", "labels": {}},
            "data": {"url": b64("https://charts.corp/x"), "type": b64("helm")},
        },
    ]
    team_a = {r.repo: r.password for r in helm_repositories(secrets, "team-a")}
    assert team_a == {
        "https://charts.corp/a": "a",
        "https://charts.corp/shared": "a-own",  # scoped beats unscoped for the same URL
        "https://charts.corp/t": "template",
    }
    team_c = {r.repo: r.password for r in helm_repositories(secrets, "team-c")}
    assert team_c == {"https://charts.corp/shared": "shared", "https://charts.corp/t": "template"}

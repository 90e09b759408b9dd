"""ferry.repourl: one parser for repository URLs; credential look-up and sourceRepos on it
(security review findings 6, 9, 13, 14)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from ferry.projects import source_permitted
from ferry.redact import redact, strip_userinfo
from ferry.repocreds import lookup
from ferry.repourl import BadRepoURL, parse
from ferry.settings import SECRET_TYPE_LABEL


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def secret(kind: str, url: str, **data: str) -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"s-{abs(hash((kind, url, tuple(data.items()))))}",
            "labels": {SECRET_TYPE_LABEL: kind},
        },
        "data": {"url": b64(url), **{k: b64(v) for k, v in data.items()}},
    }


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:9999?@charts.example.test/x", "query ('?') or fragment ('#')"),  # finding 6
        ("http://127.0.0.1:9999#@charts.example.test/x", "query ('?') or fragment ('#')"),  # finding 6
        ("file:///dev/zero#", "query ('?') or fragment ('#')"),  # finding 15a
        ("http://gitserver/team-b/../team-a/private.git", "dot segments"),  # finding 14
        ("http://gitserver/team-b/%2e%2e/team-a/private.git", "dot segments"),
        ("http://gitserver/team-b/./x", "dot segments"),
        ("http://gitserver/team-b/..%2fteam-a/x", "encoded separator"),
        ("http://gitserver/team-b//x", "empty path segment"),
        ("ext::sh -c touch% /tmp/pwned", "remote-helper"),
        ("ext::ssh", "remote-helper"),
        ("fd::17", "remote-helper"),
        ("-uhttps://x/y", "starts with '-'"),
        ("https://a@b@host/x", "more than one '@'"),
        ("https://host:99999/x", "invalid port"),
        ("https://host:abc/x", "invalid port"),
        ("https://ho st/x", "whitespace"),
        ("https://host\\@evil/x", "backslash"),
        ("gopher://host/x", "scheme 'gopher'"),
        ("https:///x", "no host"),
        ("https://ex_ample!.com/x", "invalid host"),
        ("file://otherhost/x", "names a host"),
    ],
)
def test_refused_urls_name_the_cause(url: str, why: str) -> None:
    with pytest.raises(BadRepoURL) as info:
        parse(url)
    assert why in info.value.message


def test_parsed_parts() -> None:
    url = parse("https://user:p%40ss@Git.Corp.:8443/org/repo.git/")
    assert (url.kind, url.scheme, url.username, url.password) == ("network", "https", "user", "p@ss")
    assert (url.host, url.port, url.segments) == ("git.corp", 8443, ("org", "repo.git"))
    assert url.identity() == "https://git.corp:8443/org/repo"
    assert parse("https://git.corp/org/repo").identity() == "https://git.corp:443/org/repo"
    assert (
        parse("https://git.corp:443/org/repo.git").identity() == parse("https://git.corp/org/repo").identity()
    )
    assert parse("http://[::1]:8080/x").identity() == "http://[::1]:8080/x"


def test_scp_like_urls_are_ssh() -> None:
    scp = parse("git@github.com:org/repo.git")
    assert (scp.scheme, scp.username, scp.host, scp.segments, scp.scp) == (
        "ssh",
        "git",
        "github.com",
        ("org", "repo.git"),
        True,
    )
    assert (
        scp.identity() == parse("ssh://git@github.com/org/repo").identity() == "ssh://github.com:22/org/repo"
    )
    with pytest.raises(BadRepoURL, match="dot segments"):
        parse("git@github.com:org/../other/repo")


def test_local_paths_and_file_urls_parse_as_such() -> None:
    assert parse("/var/cache/ferry/git/0123abcd").kind == "local"
    assert parse("./repo").kind == "local"
    assert parse("file:///srv/git/x.git").kind == "file"


def test_display_helpers_do_not_take_a_query_for_userinfo() -> None:
    assert strip_userinfo("https://u:pw@host/x") == "https://host/x"
    # the hand-made split turned this into https://charts.corp/x (finding 6)
    assert strip_userinfo("https://evil.example?@charts.corp/x") == "https://evil.example?@charts.corp/x"
    assert redact("fetch https://u:s3cr3t@host/x failed") == "fetch https://******@host/x failed"


# --- credentials (findings 6, 9, 13) ----------------------------------------------------------


def test_templates_match_on_host_port_and_path_segments() -> None:
    template = secret("repo-creds", "https://git.corp", username="u", password="p")
    assert lookup([template], "https://git.corp/x/y.git", "default").password == "p"
    assert lookup([template], "https://git.corp.evil.example/x", "default").password == ""  # finding 9
    assert lookup([template], "http://git.corp/x", "default").password == ""  # no https -> http downgrade
    assert lookup([template], "https://git.corp:8443/x", "default").password == ""
    port80 = secret("repo-creds", "http://127.0.0.1:80", username="u", password="p")
    assert lookup([port80], "http://127.0.0.1:8099/x.git", "default").password == ""  # finding 9
    assert lookup([port80], "http://127.0.0.1/x.git", "default").password == "p"
    org = secret("repo-creds", "https://h/org/", username="u", password="p")  # a trailing slash is fine
    assert lookup([org], "https://h/org/repo", "default").password == "p"
    assert lookup([org], "https://h/organization/repo", "default").password == ""


def test_the_longest_template_and_an_exact_repository_win() -> None:
    secrets = [
        secret("repo-creds", "https://h", password="host"),
        secret("repo-creds", "https://h/org", password="org"),
        secret("repository", "https://h/org/repo.git", password="repo"),
    ]
    assert lookup(secrets, "https://h/org/other", "default").password == "org"
    assert lookup(secrets, "https://h/x/y", "default").password == "host"
    assert lookup(secrets, "https://h/org/repo", "default").password == "repo"


def test_query_and_fragment_urls_get_no_credentials() -> None:
    victim = secret(
        "repository", "http://charts.example.test/x", type="helm", username="u", password="s3cr3t"
    )
    for url in (
        "http://127.0.0.1:9999?@charts.example.test/x",
        "http://127.0.0.1:9999#@charts.example.test/x",
    ):
        found = lookup([victim], url, "default")
        assert (found.username, found.password, found.repo) == ("", "", url)


def test_dot_segments_get_no_credentials() -> None:
    team_a = secret("repository", "http://gitserver/team-a/private.git", password="a")
    assert lookup([team_a], "http://gitserver/team-b/../team-a/private.git", "team-b").password == ""


def test_project_scoped_credentials_serve_only_their_project() -> None:
    scoped = secret("repository", "http://gitserver/team-a/private.git", password="a", project="team-a")
    assert lookup([scoped], "http://gitserver/team-a/private.git", "team-a").password == "a"
    assert lookup([scoped], "http://gitserver/team-a/private.git", "team-b").password == ""  # finding 13
    assert lookup([scoped], "http://gitserver/team-a/private.git", None).password == ""
    template = secret("repo-creds", "http://gitserver/team-a", password="ta", project="team-a")
    assert lookup([template], "http://gitserver/team-a/x", "team-b").password == ""
    # the app's own project's credentials win over unscoped ones for the same URL
    unscoped = secret("repository", "http://gitserver/team-a/private.git", password="shared")
    assert lookup([unscoped, scoped], "http://gitserver/team-a/private.git", "team-a").password == "a"
    assert lookup([scoped, unscoped], "http://gitserver/team-a/private.git", "team-b").password == "shared"


# --- sourceRepos (finding 14) -----------------------------------------------------------------


def project(*repos: str) -> dict[str, Any]:
    return {"metadata": {"name": "team-b"}, "spec": {"sourceRepos": list(repos)}}


def test_source_repos_do_not_match_dot_segments_or_userinfo_tricks() -> None:
    team_b = project("http://gitserver/team-b/*")
    assert source_permitted(team_b, "http://gitserver/team-b/app.git")
    assert source_permitted(team_b, "http://gitserver/team-b/nested/app")  # Argo CD: * spans '/'
    assert not source_permitted(team_b, "http://gitserver/team-b/../team-a/private.git")
    assert not source_permitted(team_b, "http://gitserver/team-b/%2e%2e/team-a/private.git")
    assert not source_permitted(project("https://charts.corp/*"), "http://127.0.0.1:9999?@charts.corp/x")
    assert not source_permitted(project("https://charts.corp/*"), "https://127.0.0.1:9999#@charts.corp/x")
    # a '*' in the host never reaches into the path
    assert not source_permitted(project("https://*.corp/org/*"), "https://evil.example/x.corp/org/y")
    assert source_permitted(project("https://*.corp/org/*"), "https://git.corp/org/y")
    assert not source_permitted(project("*"), "ext::sh -c id")


def test_source_repos_keep_argo_cd_forms() -> None:
    assert source_permitted(project("*"), "https://anything/x")
    assert source_permitted(project("https://github.com/org/repo.git"), "https://github.com/org/repo")
    assert source_permitted(
        project("https://github.com/org/repo"), "https://user:pw@github.com/org/repo.git/"
    )
    assert source_permitted(project("git@github.com:org/*"), "ssh://git@github.com/org/r.git")
    assert source_permitted(project("git@github.com:org/*"), "git@github.com:org/r.git")
    assert source_permitted(project("https://github.com:443/org/*"), "https://github.com/org/r")
    assert not source_permitted(project("https://github.com/org/*"), "http://github.com/org/r")
    denied = project("https://github.com/org/*", "!https://github.com/org/secret")
    assert not source_permitted(denied, "https://github.com/org/secret.git")
    assert source_permitted(denied, "https://github.com/org/public")


def test_project_violations_name_the_url_problem() -> None:
    from ferry.projects import violations  # noqa: PLC0415

    spec = {"source": {"repoURL": "http://127.0.0.1:9999?@charts.corp/x"}, "destination": {}}
    problems = violations(project("*"), spec, cluster_name="in-cluster")
    assert any("has a query ('?') or fragment ('#')" in p for p in problems)
    spec["source"]["repoURL"] = "/var/cache/ferry/git/0123"
    assert any("is a local path" in p for p in violations(project("*"), spec, cluster_name="in-cluster"))

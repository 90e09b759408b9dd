"""Helm repository credentials and the chart cache (security review findings 6, 7, 8, 15a),
against the repo server as its own process with real recording HTTP listeners on 127.0.0.1."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import grpc

from ferry.v1 import repo_pb2
from tests.integration.reposerver.conftest import RepoClient, status_of
from tests.security._urls import (
    HELM_LIMIT,
    Listener,
    basic,
    chart_archive,
    helm_repo,
    helm_source,
    index_yaml,
    listeners,
    ok,
    strict,
    strict_server,
)

__all__ = ["listeners", "strict", "strict_server"]

USER, PASSWORD = "u", "s3cr3t"
AUTH = basic(USER, PASSWORD)


def names(client: RepoClient, repo_url: str, chart: str, version: str, **repo: object) -> list[str]:
    response = client.manifests(
        helm_repo(repo_url, USER, PASSWORD, **repo), source=helm_source(repo_url, chart, version)
    )
    return [json.loads(m)["metadata"]["name"] for m in response.manifests]


def protected(listener: Listener, path: str, body: bytes) -> None:
    """``path`` on ``listener`` answers only with the test's Authorization (401 otherwise)."""

    def route(handler: object) -> tuple[int, dict[str, str], bytes]:
        if getattr(handler, "headers").get("Authorization") == AUTH:  # noqa: B009
            return ok(body)
        return 401, {"WWW-Authenticate": 'Basic realm="charts"'}, b"unauthorized"

    listener.routes[path] = route


def test_query_and_fragment_urls_send_no_credentials_to_the_attacker(
    strict: RepoClient, listeners: Callable[[], Listener]
) -> None:
    """Finding 6: ``http://attacker?@charts.example.test/x`` with the victim's credentials. The
    hand-made ``@`` split took charts.example.test for the host; urllib sent them to attacker."""
    attacker = listeners()
    attacker.routes["/"] = ok(b"apiVersion: v1\nentries: {}\n")
    for mark in ("?", "#"):
        url = f"{attacker.base}{mark}@charts.example.test/x"
        code, message = status_of(lambda url=url: names(strict, url, "c", "1.0.0"))
        assert code is grpc.StatusCode.INVALID_ARGUMENT
        assert "has a query ('?') or fragment ('#')" in message
        # the API's app-creation check (GetAppDetails) refuses it too, before any request
        query = repo_pb2.RepoServerAppDetailsQuery(
            repo=helm_repo(url, USER, PASSWORD), source=helm_source(url, "c", "1.0.0"), app_name="app"
        )
        code, message = status_of(lambda query=query: strict.call("GetAppDetails", query))
        assert code is grpc.StatusCode.INVALID_ARGUMENT
        assert "has a query ('?') or fragment ('#')" in message
    assert attacker.requests == []  # no request at all, so no Authorization header


def test_a_chart_url_on_another_host_gets_no_credentials(
    strict: RepoClient, listeners: Callable[[], Listener]
) -> None:
    """Finding 8 (CVE-2021-32690): the index lists an archive on another host:port."""
    repo, other = listeners(), listeners()
    archive = chart_archive("c", "1.0.0", "from-other-host")
    protected(repo, "/index.yaml", index_yaml("c", "1.0.0", f"{other.base}/c-1.0.0.tgz", archive))
    other.routes["/c-1.0.0.tgz"] = ok(archive)
    assert names(strict, repo.base, "c", "1.0.0") == ["from-other-host"]
    assert repo.authorizations() == [AUTH]  # the repository itself gets them
    assert [r.path for r in other.requests] == ["/c-1.0.0.tgz"]
    assert other.authorizations() == []


def test_a_redirect_to_another_host_gets_no_credentials(
    strict: RepoClient, listeners: Callable[[], Listener]
) -> None:
    """Finding 8, redirect variant: urllib copied the Authorization header to the 302 target."""
    repo, other = listeners(), listeners()
    archive = chart_archive("c", "2.0.0", "redirected")
    protected(repo, "/index.yaml", index_yaml("c", "2.0.0", "c-2.0.0.tgz", archive))
    repo.routes["/c-2.0.0.tgz"] = (302, {"Location": f"{other.base}/x/c-2.0.0.tgz"}, b"")
    other.routes["/x/c-2.0.0.tgz"] = ok(archive)
    assert names(strict, repo.base, "c", "2.0.0") == ["redirected"]
    assert [r.path for r in other.requests] == ["/x/c-2.0.0.tgz"]
    assert other.authorizations() == []
    assert repo.authorizations() == [AUTH, AUTH]  # index and the archive's first hop: same origin


def test_pass_credentials_allows_other_hosts_but_never_redirects(
    strict: RepoClient, listeners: Callable[[], Listener]
) -> None:
    """passCredentials (the repository's, set by whoever registered it) restores Helm's old
    behaviour for chart URLs in the index; a redirect to another host still drops them."""
    repo, other, third = listeners(), listeners(), listeners()
    archive = chart_archive("c", "3.0.0", "passed")
    protected(repo, "/index.yaml", index_yaml("c", "3.0.0", f"{other.base}/c-3.0.0.tgz", archive))
    other.routes["/c-3.0.0.tgz"] = (302, {"Location": f"{third.base}/c-3.0.0.tgz"}, b"")
    third.routes["/c-3.0.0.tgz"] = ok(archive)
    assert names(strict, repo.base, "c", "3.0.0", pass_credentials=True) == ["passed"]
    assert other.authorizations() == [AUTH]
    assert third.authorizations() == []


def test_file_urls_are_refused_promptly(strict: RepoClient) -> None:
    """Finding 15a: ``file:///dev/zero#`` read /dev/zero without end (the fragment hid the
    ``/index.yaml`` suffix); ``file:///etc/passwd#`` was an existence oracle."""
    for url in ("file:///dev/zero#", "file:///dev/zero", "file:///etc/passwd#"):
        start = time.monotonic()
        code, message = status_of(
            lambda url=url: strict.call(
                "GenerateManifests",
                _chart_request(url),
                timeout=20,
            )
        )
        assert time.monotonic() - start < 5
        assert code is grpc.StatusCode.INVALID_ARGUMENT, (url, code, message)
        assert ("is not http:// or https://" in message) or ("fragment ('#')" in message), message
    # and the repo server still answers
    code, message = status_of(
        lambda: strict.call("GenerateManifests", _chart_request("ftp://x/y"), timeout=10)
    )
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert "scheme 'ftp'" in message


def _chart_request(url: str) -> repo_pb2.ManifestRequest:
    return repo_pb2.ManifestRequest(
        repo=helm_repo(url),
        application_source=helm_source(url, "x", "1"),
        app_name="app",
        namespace="default",
    )


def test_index_and_archive_sizes_are_limited(strict: RepoClient, listeners: Callable[[], Listener]) -> None:
    """The index and archive are read up to --helm-max-index-bytes / --helm-max-chart-bytes."""
    repo = listeners()
    huge = b"apiVersion: v1\nentries: {}\n#" + b"x" * (HELM_LIMIT + 10)
    repo.routes["/index.yaml"] = ok(huge)
    code, message = status_of(lambda: names(strict, repo.base, "c", "1.0.0"))
    assert code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert f"over the limit of {HELM_LIMIT} bytes (--helm-max-index-bytes)" in message
    big = listeners()
    big.routes["/index.yaml"] = ok(index_yaml("c", "1.0.0", "c-1.0.0.tgz", digest=""))
    big.routes["/c-1.0.0.tgz"] = ok(b"\0" * (HELM_LIMIT + 10))
    code, message = status_of(lambda: names(strict, big.base, "c", "1.0.0"))
    assert code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert f"over the limit of {HELM_LIMIT} bytes (--helm-max-chart-bytes)" in message


def test_an_attacker_cannot_poison_the_victims_chart_cache(
    strict: RepoClient, listeners: Callable[[], Listener]
) -> None:
    """Finding 7: the archive cache was keyed by ``strip_userinfo(repo)|name|version``, so the
    attacker's ``http://attacker?@victim`` stored the attacker's 9.9.9 under the victim's key."""
    victim, attacker = listeners(), listeners()
    evil = chart_archive("c", "9.9.9", "poisoned")
    attacker.routes["/"] = ok(index_yaml("c", "9.9.9", f"{attacker.base}/c-9.9.9.tgz", evil))
    attacker.routes["/c-9.9.9.tgz"] = ok(evil)
    legit = chart_archive("c", "9.9.9", "legit")
    protected(victim, "/index.yaml", index_yaml("c", "9.9.9", "c-9.9.9.tgz", legit))
    protected(victim, "/c-9.9.9.tgz", legit)
    attack = f"{attacker.base}?@127.0.0.1:{victim.port}"
    status_of(lambda: strict.manifests(helm_repo(attack), source=helm_source(attack, "c", "9.9.9")))
    assert names(strict, victim.base, "c", "9.9.9") == ["legit"]


def test_an_archive_that_does_not_match_the_index_digest_is_refused(
    strict: RepoClient, listeners: Callable[[], Listener]
) -> None:
    """Finding 7: the archive is checked against the index entry's digest."""
    repo = listeners()
    legit, swapped = chart_archive("c", "4.0.0", "legit"), chart_archive("c", "4.0.0", "swapped")
    protected(repo, "/index.yaml", index_yaml("c", "4.0.0", "c-4.0.0.tgz", legit))
    protected(repo, "/c-4.0.0.tgz", swapped)
    code, message = status_of(lambda: names(strict, repo.base, "c", "4.0.0"))
    assert code is grpc.StatusCode.FAILED_PRECONDITION
    assert "does not match the index digest" in message
    assert "swapped" not in message


def test_a_chart_fetched_with_credentials_is_not_served_without_them(
    strict: RepoClient, listeners: Callable[[], Listener]
) -> None:
    """Finding 13, cache part (Helm): the index (60 s) and the manifests were cached by URL
    alone, so a request without credentials was served the private chart's manifests."""
    repo = listeners()
    private = chart_archive("c", "5.0.0", "private-chart")
    protected(repo, "/index.yaml", index_yaml("c", "5.0.0", "c-5.0.0.tgz", private))
    protected(repo, "/c-5.0.0.tgz", private)
    assert names(strict, repo.base, "c", "5.0.0") == ["private-chart"]
    for creds in ((), ("u", "wrong")):
        anonymous = helm_repo(repo.base, *creds)
        code, message = status_of(
            lambda anonymous=anonymous: strict.manifests(
                anonymous, source=helm_source(repo.base, "c", "5.0.0")
            )
        )
        assert code is grpc.StatusCode.PERMISSION_DENIED, (code, message)
        assert "access denied (HTTP 401)" in message
        assert "private-chart" not in message

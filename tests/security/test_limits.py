"""Finding 15 b-f of the security review: one request or commit must not exhaust the repo server.

Each case commits hostile content, asks the repo server (its own process, real git daemon, real
helm/kustomize) to render or list it, and asserts a RESOURCE_EXHAUSTED whose message names the
limit, its value and its flag — within a bounded client timeout, so that the code before the
limits fails here instead of hanging — and that the same server still renders an ordinary app
afterwards. The server runs with small limits so the cases stay fast; the defaults are in
docs/security/limits.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import pytest

from ferry.v1 import repo_pb2, types_pb2
from ferry_devenv.gitrepo import GitRepo
from ferry_devenv.process import new_workdir
from ferry_devenv.servers import GitDaemon
from tests.conftest import RunningServer, start_reposerver
from tests.integration.reposerver.conftest import RepoClient
from tests.security._limits import (
    CM,
    children_of,
    commit_objects,
    directory_chain,
    exponential_jsonnet,
    laughs,
    nested,
    peak_rss_bytes,
    tree_bomb,
    zero_blob,
)

MiB = 1024 * 1024
MAX_FILES = 2000
MAX_FILE = 4 * MiB
MAX_OUTPUT = 2 * MiB
JSONNET_TIMEOUT = 6.0
LIMIT_FLAGS = [
    "--max-repo-files", str(MAX_FILES),
    "--max-file-size", str(MAX_FILE),
    "--max-manifest-output-size", str(MAX_OUTPUT),
    "--jsonnet-timeout", str(JSONNET_TIMEOUT),
    "--jsonnet-max-memory", str(512 * MiB),
    "--parallelism-limit", "4",
    "--parallelism-limit-per-repo", "2",
]  # fmt: skip


@pytest.fixture(scope="module")
def limited() -> Iterator[RunningServer]:
    """A repo server with small limits (the other flags as the integration tier runs it)."""
    cache = new_workdir("reposerver-limits")
    server = start_reposerver(cache, "--revision-cache-expiration", "0", *LIMIT_FLAGS)
    yield server
    server.stop()


@pytest.fixture
def client(limited: RunningServer) -> Iterator[RepoClient]:
    c = RepoClient(limited)
    yield c
    c.close()


@pytest.fixture
def repo(git_repo: Callable[[str], GitRepo]) -> GitRepo:
    return git_repo("hostile")


def request(url: str, path: str, **source: Any) -> repo_pb2.ManifestRequest:
    return repo_pb2.ManifestRequest(
        repo=types_pb2.Repository(repo=url),
        application_source=types_pb2.ApplicationSource(repo_url=url, path=path, **source),
        app_name="app",
        namespace="default",
        no_cache=True,
    )


def refused(call: Callable[[], Any]) -> str:
    """The message of a call that must end in RESOURCE_EXHAUSTED."""
    with pytest.raises(grpc.RpcError) as info:
        call()
    assert info.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED, info.value.details()
    return info.value.details() or ""


def assert_serves(client: RepoClient, git_repo: Callable[[str], GitRepo], daemon: GitDaemon) -> None:
    """The same server process renders an ordinary app, within an ordinary time."""
    healthy = git_repo("healthy")
    healthy.commit("ok", {"app/cm.yaml": CM.format(name="fine")})
    started = time.monotonic()
    response = client.call("GenerateManifests", request(daemon.url(healthy.name), "app"), timeout=30)
    assert [m for m in response.manifests if '"fine"' in m]
    assert time.monotonic() - started < JSONNET_TIMEOUT
    assert client.server.proc.pid is not None
    assert children_of(client.server.proc.pid) == []


# --- 15b: YAML alias bombs --------------------------------------------------------------------


def test_yaml_alias_bomb_is_refused_before_it_is_expanded(
    client: RepoClient, repo: GitRepo, git_repo: Callable[[str], GitRepo], git_daemon: GitDaemon
) -> None:
    repo.commit("nine levels of nine", {"app/laughs.yaml": laughs(9)})
    message = refused(
        lambda: client.call("GenerateManifests", request(git_daemon.url(repo.name), "app"), timeout=60)
    )
    assert "app/laughs.yaml" in message
    assert "100000 nodes (repo-server flag --max-yaml-alias-expansion)" in message
    assert_serves(client, git_repo, git_daemon)


# --- 15c: deep nesting ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file", "depth"),
    [("bomb.yaml", 200_000), ("bomb.json", 200_000), ("deep.yaml", 300), ("deep.json", 300)],
)
def test_deep_nesting_is_refused(
    client: RepoClient,
    repo: GitRepo,
    git_repo: Callable[[str], GitRepo],
    git_daemon: GitDaemon,
    file: str,
    depth: int,
) -> None:
    repo.commit("deep", {f"app/{file}": nested(depth)})
    message = refused(
        lambda: client.call("GenerateManifests", request(git_daemon.url(repo.name), "app"), timeout=60)
    )
    assert f"app/{file}" in message
    assert "the limit of 256 (repo-server flag --max-manifest-depth)" in message
    assert_serves(client, git_repo, git_daemon)


def test_deep_nesting_in_helm_output_is_refused(
    client: RepoClient, repo: GitRepo, git_repo: Callable[[str], GitRepo], git_daemon: GitDaemon
) -> None:
    """helm passes template text through; ferry's parser of its output applies the same limits.
    (helm refuses an alias bomb in its output itself: "document contains excessive aliasing".)"""
    repo.commit(
        "chart",
        {
            "chart/Chart.yaml": "apiVersion: v2\nname: deep\nversion: 0.1.0\n",
            "chart/templates/cm.yaml": CM.format(name="deep") + f"  deep: {nested(300)}\n",
        },
    )
    message = refused(
        lambda: client.call("GenerateManifests", request(git_daemon.url(repo.name), "chart"), timeout=60)
    )
    assert "helm template chart" in message
    assert "the limit of 256 (repo-server flag --max-manifest-depth)" in message
    assert_serves(client, git_repo, git_daemon)


# --- 15d: Jsonnet without end -----------------------------------------------------------------


def test_exponential_jsonnet_is_stopped_and_other_renders_go_on(
    client: RepoClient, repo: GitRepo, git_repo: Callable[[str], GitRepo], git_daemon: GitDaemon
) -> None:
    apps = [f"j{i}" for i in range(4)]
    repo.commit("f(60) four times", {f"{app}/main.jsonnet": exponential_jsonnet(60) for app in apps})
    url = git_daemon.url(repo.name)
    other = git_repo("other")
    other.commit("ok", {"app/cm.yaml": CM.format(name="other")})
    # two rounds of the per-repository share (2), each ending at the Jsonnet time limit
    bound = 2 * JSONNET_TIMEOUT + 30

    def render(app: str) -> str:
        return refused(lambda: client.call("GenerateManifests", request(url, app), timeout=bound))

    with ThreadPoolExecutor(4) as pool:
        calls = [pool.submit(render, app) for app in apps]
        time.sleep(1.5)  # the first two are evaluating, two wait for this repository's share
        started = time.monotonic()
        response = client.call(
            "GenerateManifests", request(git_daemon.url(other.name), "app"), timeout=JSONNET_TIMEOUT
        )
        elapsed = time.monotonic() - started
        assert [m for m in response.manifests if '"other"' in m]
        assert elapsed < JSONNET_TIMEOUT, f"an ordinary render waited {elapsed:.1f}s behind Jsonnet"
        messages = [c.result() for c in calls]
    for app, message in zip(apps, messages, strict=True):
        assert f"{app}/main.jsonnet" in message
        assert "the limit of 6s (repo-server flag --jsonnet-timeout)" in message
    pid = client.server.proc.pid
    assert pid is not None
    deadline = time.monotonic() + 5
    while children_of(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert children_of(pid) == [], "a Jsonnet worker outlived its time limit"
    assert_serves(client, git_repo, git_daemon)


def test_jsonnet_memory_is_limited(
    client: RepoClient, repo: GitRepo, git_repo: Callable[[str], GitRepo], git_daemon: GitDaemon
) -> None:
    """An array of 10**8 numbers needs gigabytes; the worker's data limit (512 MiB here) ends it."""
    hog = (
        "{apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'x'},"
        " data: {a: std.toString(std.range(1, 100000000))}}"
    )
    repo.commit("hog", {"app/main.jsonnet": hog})
    pid = client.server.proc.pid
    assert pid is not None
    message = refused(
        lambda: client.call("GenerateManifests", request(git_daemon.url(repo.name), "app"), timeout=60)
    )
    assert "app/main.jsonnet" in message
    assert f"the limit of {512 * MiB} bytes (repo-server flag --jsonnet-max-memory)" in message
    assert peak_rss_bytes(pid) < 1024 * MiB, "the Jsonnet evaluation used the repo server's memory"
    assert_serves(client, git_repo, git_daemon)


# --- 15e: tree bombs --------------------------------------------------------------------------


def test_tree_of_shared_subtrees_is_refused(
    client: RepoClient, repo: GitRepo, git_repo: Callable[[str], GitRepo], git_daemon: GitDaemon
) -> None:
    bomb = tree_bomb(repo, levels=10, width=10)  # 10**10 files in 10 objects
    sha = commit_objects(
        repo,
        {"kust/kustomization.yaml": "resources:\n- ../bomb\n", "ok/cm.yaml": CM.format(name="ok")},
        {"bomb": bomb},
    )
    url = git_daemon.url(repo.name)
    expected = f"the limit of {MAX_FILES} (repo-server flag --max-repo-files)"

    listing = repo_pb2.ListAppsRequest(repo=types_pb2.Repository(repo=url), revision=sha)
    assert expected in refused(lambda: client.call("ListApps", listing, timeout=60))

    recurse = types_pb2.ApplicationSourceDirectory(recurse=True)
    assert expected in refused(
        lambda: client.call("GenerateManifests", request(url, "bomb", directory=recurse), timeout=60)
    )

    details = repo_pb2.RepoServerAppDetailsQuery(
        repo=types_pb2.Repository(repo=url),
        source=types_pb2.ApplicationSource(repo_url=url, path="kust", target_revision=sha),
        app_name="app",
        no_cache=True,
    )
    assert expected in refused(lambda: client.call("GetAppDetails", details, timeout=60))
    assert_serves(client, git_repo, git_daemon)


def test_deep_directory_chain_costs_one_step_per_directory(
    client: RepoClient, repo: GitRepo, git_repo: Callable[[str], GitRepo], git_daemon: GitDaemon
) -> None:
    """1500 nested directories: within the file limit, so rendered and listed, without recursion
    per directory (RecursionError) or a lookup from the root per entry (quadratic)."""
    sha = commit_objects(repo, {}, {"chain": directory_chain(repo, 1500)})
    url = git_daemon.url(repo.name)
    recurse = types_pb2.ApplicationSourceDirectory(recurse=True)
    response = client.call("GenerateManifests", request(url, "chain", directory=recurse), timeout=60)
    assert [m for m in response.manifests if '"bottom"' in m]
    listing = repo_pb2.ListAppsRequest(repo=types_pb2.Repository(repo=url), revision=sha)
    assert dict(client.call("ListApps", listing, timeout=60).apps) == {}
    assert_serves(client, git_repo, git_daemon)


# --- 15f: huge blobs --------------------------------------------------------------------------


def test_two_gigabyte_blob_is_never_read(
    client: RepoClient, repo: GitRepo, git_repo: Callable[[str], GitRepo], git_daemon: GitDaemon
) -> None:
    blob = zero_blob(repo, 2 << 30)  # a pack of a few MB
    commit_objects(
        repo,
        {"app/cm.yaml": CM.format(name="a"), "kust/kustomization.yaml": "resources:\n- cm.yaml\n"}
        | {"kust/cm.yaml": CM.format(name="k")},
        {"app/big.yaml": blob, "kust/big.bin": blob},
    )
    url = git_daemon.url(repo.name)
    pid = client.server.proc.pid
    assert pid is not None

    message = refused(lambda: client.call("GenerateManifests", request(url, "app"), timeout=120))
    assert "(repo-server flag --max-combined-manifests-size)" in message
    assert "app/big.yaml" in message

    message = refused(lambda: client.call("GenerateManifests", request(url, "kust"), timeout=120))
    assert f"file 'kust/big.bin' (2147483648 bytes) exceeds the limit of {MAX_FILE} bytes" in message
    assert "(repo-server flag --max-file-size)" in message

    assert peak_rss_bytes(pid) < 1024 * MiB, "the repo server read the blob"
    assert_serves(client, git_repo, git_daemon)


# --- output size ------------------------------------------------------------------------------


def test_big_manifest_output_is_refused(
    client: RepoClient, repo: GitRepo, git_repo: Callable[[str], GitRepo], git_daemon: GitDaemon
) -> None:
    template = (
        "{{- range $i := until 3000 }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n"
        '  name: cm-{{ $i }}\ndata:\n  a: {{ repeat 1000 "x" | quote }}\n{{- end }}\n'
    )
    repo.commit(
        "3 MB of ConfigMaps",
        {
            "chart/Chart.yaml": "apiVersion: v2\nname: big\nversion: 0.1.0\n",
            "chart/templates/cms.yaml": template,
        },
    )
    message = refused(
        lambda: client.call("GenerateManifests", request(git_daemon.url(repo.name), "chart"), timeout=60)
    )
    assert f"the limit of {MAX_OUTPUT} bytes (repo-server flag --max-manifest-output-size)" in message
    assert_serves(client, git_repo, git_daemon)

"""Git access over every protocol, credentials that never leak, revision resolution, one fetch
for many concurrent requests, and a corrupt mirror that heals itself."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

from ferry.servicetoken import TokenSource
from ferry.v1 import repo_pb2, repo_pb2_grpc, types_pb2
from ferry_devenv.gitrepo import GitRepo
from ferry_devenv.process import free_port
from ferry_devenv.servers import GitDaemon, HttpServer, SshGitServer
from reposerver.git import Mirrors, normalize_url
from tests.conftest import GIT_PASSWORD, GIT_USER, SERVICE_KEY, RunningServer
from tests.integration.reposerver.conftest import RepoClient, status_of

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"
CANARY_PASSWORD = "CANARY-pw-7f3a9c1e5d"
OTHER_HOST_KEY = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"  # not the server's


@pytest.fixture
def repo(git_repo: Callable[[str], GitRepo]) -> GitRepo:
    r = git_repo("apps")
    r.commit("first", {"app/cm.yaml": CM.format(name="first")})
    return r


def names(client: RepoClient, repository: types_pb2.Repository, revision: str = "") -> list[str]:
    return [o["metadata"]["name"] for o in client.objects(repository, "app", revision)]


def test_git_daemon(client: RepoClient, git_daemon: GitDaemon, repo: GitRepo) -> None:
    assert names(client, types_pb2.Repository(repo=git_daemon.url(repo.name))) == ["first"]


def test_smart_http_with_basic_auth(client: RepoClient, git_http: HttpServer, repo: GitRepo) -> None:
    url = git_http.git_url(repo.name)
    ok = types_pb2.Repository(repo=url, username=GIT_USER, password=GIT_PASSWORD)
    assert names(client, ok) == ["first"]
    code, message = status_of(lambda: client.manifests(types_pb2.Repository(repo=url), "app"))
    assert code is grpc.StatusCode.PERMISSION_DENIED
    assert url in message


def test_credentials_in_the_url_work_and_are_never_echoed(
    client: RepoClient, git_http: HttpServer, repo: GitRepo
) -> None:
    url = git_http.git_url(repo.name).replace("http://", f"http://{GIT_USER}:{GIT_PASSWORD}@")
    assert names(client, types_pb2.Repository(repo=url)) == ["first"]


def test_ssh_with_key_and_known_hosts(client: RepoClient, git_ssh: SshGitServer, repo: GitRepo) -> None:
    good = types_pb2.Repository(
        repo=git_ssh.url(repo.name),
        ssh_private_key=git_ssh.client_private_key,
        known_hosts=git_ssh.known_hosts_line,
    )
    assert names(client, good) == ["first"]
    unknown_host = types_pb2.Repository(
        repo=git_ssh.url(repo.name),
        ssh_private_key=git_ssh.client_private_key,
        known_hosts=f"[127.0.0.1]:{git_ssh.port} ssh-ed25519 {OTHER_HOST_KEY}",
    )
    code, message = status_of(lambda: client.manifests(unknown_host, "app"))
    assert code is grpc.StatusCode.FAILED_PRECONDITION
    assert "host key" in message
    insecure = types_pb2.Repository(
        repo=git_ssh.url(repo.name), ssh_private_key=git_ssh.client_private_key, insecure=True
    )
    assert names(client, insecure) == ["first"]


def test_a_canary_credential_appears_nowhere(
    client: RepoClient,
    reposerver_process: RunningServer,
    git_http: HttpServer,
    git_ssh: SshGitServer,
    repo: GitRepo,
) -> None:
    url = git_http.git_url(repo.name)
    messages = []
    for attempt in (
        types_pb2.Repository(repo=url, username=GIT_USER, password=CANARY_PASSWORD),
        types_pb2.Repository(repo=url.replace("http://", f"http://{GIT_USER}:{CANARY_PASSWORD}@")),
        types_pb2.Repository(repo=url, bearer_token=CANARY_PASSWORD),
    ):
        messages.append(status_of(lambda a=attempt: client.manifests(a, "app"))[1])
    with urllib_metrics(reposerver_process) as metrics_text:
        haystacks = [*messages, reposerver_process.proc.log_path.read_text(), metrics_text]
    for text in haystacks:
        assert CANARY_PASSWORD not in text
    # the process's environment and argv never carried it either: it went to children only
    assert CANARY_PASSWORD not in Path(f"/proc/{reposerver_process.proc.pid}/cmdline").read_text()


class urllib_metrics:  # noqa: N801 (used as a context manager that yields the text)
    def __init__(self, server: RunningServer) -> None:
        self.server = server

    def __enter__(self) -> str:
        import urllib.request  # noqa: PLC0415

        with urllib.request.urlopen(self.server.metrics_url, timeout=10) as resp:
            return str(resp.read().decode())

    def __exit__(self, *_: object) -> None:
        return None


def test_unreachable_server_is_unavailable(client: RepoClient) -> None:
    url = f"http://127.0.0.1:{free_port()}/nothing.git"
    code, message = status_of(lambda: client.manifests(url, "app"))
    assert code is grpc.StatusCode.UNAVAILABLE
    assert "127.0.0.1" in message


def test_missing_repository_is_not_found(client: RepoClient, git_daemon: GitDaemon) -> None:
    code, _ = status_of(lambda: client.manifests(git_daemon.url("no-such-repo"), "app"))
    assert code is grpc.StatusCode.NOT_FOUND


def test_revision_resolution(client: RepoClient, repo: GitRepo) -> None:
    url = f"file://{repo.bare}"
    first = repo.head()
    repo.tag("v1.0.0")
    second = repo.commit("second", {"app/cm.yaml": CM.format(name="second")})
    repo.tag("v1.2.0", message="annotated release")
    repo.push_branch("release")
    third = repo.commit("third", {"app/cm.yaml": CM.format(name="third")})
    repo.tag("v2.0.0")

    def resolve(revision: str) -> str:
        request = repo_pb2.ResolveRevisionRequest(repo=types_pb2.Repository(repo=url), revision=revision)
        return str(client.call("ResolveRevision", request).revision)

    assert resolve("") == third
    assert resolve("HEAD") == third
    assert resolve("main") == third
    assert resolve("release") == second
    assert resolve("v1.0.0") == first
    assert resolve("v1.2.0") == second  # annotated tag peeled to its commit
    assert resolve(first) == first
    assert resolve(">=1.0.0 <2.0.0") == second
    assert resolve("~1.0") == first
    assert resolve("*") == third
    # an abbreviated SHA no ref points at needs the objects; the mirror fetches them
    assert names(client, types_pb2.Repository(repo=url), first[:9]) == ["first"]
    for unknown in ("no-such-branch", ">=9.0.0", "deadbeef"):
        code, message = status_of(lambda u=unknown: resolve(u))
        assert code is grpc.StatusCode.NOT_FOUND
        assert repr(unknown) in message


def test_revision_metadata(client: RepoClient, repo: GitRepo) -> None:
    sha = repo.commit("Add the payments service\n\nWith a body.", {"app/x.yaml": CM.format(name="x")})
    repo.tag("v3.1.0")
    request = repo_pb2.RepoServerRevisionMetadataRequest(
        repo=types_pb2.Repository(repo=f"file://{repo.bare}"), revision=sha
    )
    meta = client.call("GetRevisionMetadata", request)
    assert meta.author == "Ferry Test <test@ferrycd.io>"
    assert meta.message.startswith("Add the payments service")
    assert list(meta.tags) == ["v3.1.0"]
    assert meta.date.endswith("Z")


def test_list_refs(client: RepoClient, repo: GitRepo) -> None:
    repo.push_branch("feature")
    repo.tag("v0.1.0")
    refs = client.call(
        "ListRefs", repo_pb2.ListRefsRequest(repo=types_pb2.Repository(repo=f"file://{repo.bare}"))
    )
    assert list(refs.branches) == ["feature", "main"]
    assert list(refs.tags) == ["v0.1.0"]


def test_fifty_concurrent_requests_for_a_new_revision_fetch_once(
    reposerver_process: RunningServer, git_daemon: GitDaemon, repo: GitRepo
) -> None:
    url = git_daemon.url(repo.name)
    label = normalize_url(url)
    first = RepoClient(reposerver_process)
    first.objects(url, "app")  # the mirror exists
    sha = repo.commit("new", {"app/cm.yaml": CM.format(name="new")})
    before = reposerver_process.metric("ferry_git_request_total", repo=label, request_type="fetch")
    tokens = TokenSource(SERVICE_KEY.encode(), "test")

    async def burst() -> list[str]:
        async with grpc.aio.insecure_channel(reposerver_process.address) as channel:
            stub = repo_pb2_grpc.RepoServiceStub(channel)
            request = repo_pb2.ManifestRequest(
                repo=types_pb2.Repository(repo=url),
                application_source=types_pb2.ApplicationSource(repo_url=url, path="app"),
                revision=sha,
                app_name="app",
            )
            replies = await asyncio.gather(
                *(stub.GenerateManifests(request, metadata=tokens.metadata(), timeout=120) for _ in range(50))
            )
            return [r.revision for r in replies]

    assert asyncio.run(burst()) == [sha] * 50
    after = reposerver_process.metric("ferry_git_request_total", repo=label, request_type="fetch")
    assert after - before == 1
    first.close()


def test_concurrent_fresh_resolutions_share_ls_remotes_and_see_the_push(
    reposerver_process: RunningServer, git_daemon: GitDaemon, repo: GitRepo
) -> None:
    """What a webhook for a monorepo causes: every app asks for the branch past the cache."""
    url = git_daemon.url(repo.name)
    label = normalize_url(url)
    tokens = TokenSource(SERVICE_KEY.encode(), "test")
    request = repo_pb2.ResolveRevisionRequest(
        repo=types_pb2.Repository(repo=url), revision="HEAD", no_cache=True
    )

    async def burst(count: int) -> list[str]:
        async with grpc.aio.insecure_channel(reposerver_process.address) as channel:
            stub = repo_pb2_grpc.RepoServiceStub(channel)
            replies = await asyncio.gather(
                *(stub.ResolveRevision(request, metadata=tokens.metadata(), timeout=60) for _ in range(count))
            )
            return [r.revision for r in replies]

    def ls_remotes() -> float:
        return reposerver_process.metric("ferry_git_request_total", repo=label, request_type="ls-remote")

    asyncio.run(burst(1))
    pushed = repo.commit("pushed", {"app/cm.yaml": CM.format(name="pushed")})
    before = ls_remotes()
    assert asyncio.run(burst(50)) == [pushed] * 50  # each asked after the push: each sees it
    shared = ls_remotes() - before
    assert 1 <= shared <= 3, f"{shared:.0f} ls-remotes for 50 concurrent fresh resolutions"

    async def push_during_a_read() -> tuple[str, str]:
        async with grpc.aio.insecure_channel(reposerver_process.address) as channel:
            stub = repo_pb2_grpc.RepoServiceStub(channel)
            early = asyncio.ensure_future(
                stub.ResolveRevision(request, metadata=tokens.metadata(), timeout=60)
            )
            await asyncio.sleep(0.01)  # the early one's ls-remote is under way
            sha = repo.commit("later", {"app/cm.yaml": CM.format(name="later")})
            late = await stub.ResolveRevision(request, metadata=tokens.metadata(), timeout=60)
            await early
            return sha, late.revision

    later, seen = asyncio.run(push_during_a_read())
    assert seen == later, "a resolution asked after a push must not reuse a read from before it"


def test_resolutions_of_one_refresh_request_share_a_read_made_since(
    reposerver_process: RunningServer, git_daemon: GitDaemon, repo: GitRepo
) -> None:
    """The apps one webhook refreshes, one after another: each says when the refresh was asked
    for, and a read started since then serves them all."""
    url = git_daemon.url(repo.name)
    label = normalize_url(url)
    tokens = TokenSource(SERVICE_KEY.encode(), "test")
    client = RepoClient(reposerver_process)

    def resolve(read_after_ms: int) -> str:
        request = repo_pb2.ResolveRevisionRequest(
            repo=types_pb2.Repository(repo=url),
            revision="HEAD",
            no_cache=True,
            refs_read_after_ms=read_after_ms,
        )
        return str(client.stub.ResolveRevision(request, metadata=tokens.metadata(), timeout=60).revision)

    def ls_remotes() -> float:
        return reposerver_process.metric("ferry_git_request_total", repo=label, request_type="ls-remote")

    resolve(0)
    pushed = repo.commit("pushed", {"app/cm.yaml": CM.format(name="pushed")})
    asked = int(time.time() * 1000)  # the webhook arrives after the push
    before = ls_remotes()
    assert [resolve(asked) for _ in range(20)] == [pushed] * 20
    assert ls_remotes() - before == 1, "one read since the request serves every app"
    # a later push and a later request: the earlier read is not fresh enough for it
    later = repo.commit("later", {"app/cm.yaml": CM.format(name="later")})
    assert resolve(int(time.time() * 1000)) == later
    assert ls_remotes() - before == 2
    # without a request time, each fresh resolution reads again
    resolve(0)
    assert ls_remotes() - before == 3
    code, message = status_of(lambda: resolve(-1))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert "refs_read_after_ms" in message
    client.close()


def test_a_corrupt_mirror_is_cloned_again(
    client: RepoClient, reposerver_process: RunningServer, git_daemon: GitDaemon, repo: GitRepo
) -> None:
    url = git_daemon.url(repo.name)
    client.objects(url, "app")
    cache_dir = Path(reposerver_process.proc.argv[reposerver_process.proc.argv.index("--cache-dir") + 1])
    mirror = Mirrors(cache_dir / "git").path_for(url)
    assert (mirror / "HEAD").exists()
    # corrupt the mirror's object store and HEAD: the next request must repair it by itself
    shutil.rmtree(mirror / "objects")
    (mirror / "HEAD").write_text("garbage\n")
    sha = repo.commit("after corruption", {"app/cm.yaml": CM.format(name="healed")})
    before = reposerver_process.metric("ferry_git_mirror_reclone_total")
    assert [o["metadata"]["name"] for o in client.objects(url, "app", sha)] == ["healed"]
    assert reposerver_process.metric("ferry_git_mirror_reclone_total") >= before
    assert (mirror / "HEAD").read_text().startswith("ref:")

"""The tool sandbox (security review findings 1 and 3): repository content cannot configure the
git that kustomize runs (a ``.gitconfig`` or XDG git config in the repository, ``core.fsmonitor``,
``ext::`` and ``file://`` transports), ferry's own mirrors run no config or hook ferry did not
write, and helm/kustomize are stopped at their output, CPU and memory limits with an error naming
the limit — while the repo server keeps answering.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from ferry.v1 import types_pb2
from ferry_devenv.gitrepo import GitRepo
from ferry_devenv.process import new_workdir
from ferry_devenv.servers import HttpServer
from tests.conftest import start_reposerver
from tests.integration.reposerver.conftest import RepoClient
from tests.security._sandbox import CM, SANDBOX_FLAGS, Isolated, isolated, outcome, url_of

__all__ = ["isolated"]

REMOTE_BASE = "https://example.invalid/org/repo//base?ref=main"


def ext_config(marker: str) -> str:
    """The review's ``.gitconfig``: ext:: allowed, and the remote base's host rewritten to a command."""
    return (
        '[protocol "ext"]\n\tallow = always\n'
        f'[url "ext::sh -c echo% FERRY-RCE-uid=$(id% -u)% >&2;touch% {marker};false% "]\n'
        "\tinsteadOf = https://example.invalid/\n"
    )


@pytest.fixture
def repo(git_repo: Callable[[str], GitRepo]) -> GitRepo:
    return git_repo("sandbox")


def assert_answers_promptly(client: RepoClient, repo: GitRepo) -> None:
    """A normal request right after an attack is served in its usual time."""
    repo.commit("normal app", {"plain/cm.yaml": CM.format(name="normal")})
    start = time.monotonic()
    names = [o["metadata"]["name"] for o in client.objects(url_of(repo), "plain")]
    assert names == ["normal"]
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("config_file", [".gitconfig", ".config/git/config"])
def test_repository_git_config_runs_no_command(isolated: Isolated, repo: GitRepo, config_file: str) -> None:
    """Finding 1, exact (and its XDG variant): HOME was the checkout, so git read the repository's
    config and ran the ext:: command while kustomize fetched the remote base."""
    marker = isolated.base / f"pwned-{config_file.replace('/', '_')}"
    repo.commit(
        "rce",
        {config_file: ext_config(str(marker)), "app/kustomization.yaml": f"resources:\n- {REMOTE_BASE}\n"},
    )
    result = outcome(lambda: isolated.client.manifests(url_of(repo), "app"))
    assert not marker.exists()
    assert "FERRY-RCE-uid=" not in result.text
    assert result.code is grpc.StatusCode.INVALID_ARGUMENT, result.text
    assert "kustomize build app failed" in result.text
    assert isolated.leftovers() == []
    assert_answers_promptly(isolated.client, repo)


def test_repository_fsmonitor_runs_nothing(
    isolated: Isolated, repo: GitRepo, git_repo: Callable[[str], GitRepo]
) -> None:
    """``core.fsmonitor`` in the repository's ``.gitconfig`` (git runs it on checkout), with the
    remote base redirected to a reachable repository so kustomize's git gets that far."""
    base = git_repo("sandbox-base")
    base.commit(
        "base", {"base/kustomization.yaml": "resources:\n- cm.yaml\n", "base/cm.yaml": CM.format(name="b")}
    )
    marker = isolated.base / "pwned-fsmonitor"
    repo.commit(
        "fsmonitor",
        {
            ".gitconfig": (
                f'[core]\n\tfsmonitor = "touch {marker}; false"\n'
                f'[url "file://{base.bare}"]\n\tinsteadOf = https://example.invalid/org/repo\n'
            ),
            "app/kustomization.yaml": f"resources:\n- {REMOTE_BASE}\n",
        },
    )
    outcome(lambda: isolated.client.manifests(url_of(repo), "app"))
    assert not marker.exists()


@pytest.fixture(scope="module")
def anonymous_git_http(git_root: Path) -> Iterator[HttpServer]:
    """Git smart HTTP without authentication: a public remote base kustomize can fetch."""
    server = HttpServer(git_root=git_root)
    server.start()
    yield server
    server.stop()


def test_kustomize_file_remote_base_is_not_a_git_transport(
    isolated: Isolated, repo: GitRepo, git_repo: Callable[[str], GitRepo], anonymous_git_http: HttpServer
) -> None:
    """A ``file://`` remote base may not read a local repository (another tenant's mirror):
    ferry refuses one written in the app's repository before kustomize runs, and for one inside
    a fetched remote base, which ferry never sees, GIT_ALLOW_PROTOCOL stops kustomize's git."""
    other = git_repo("sandbox-other")
    other.commit(
        "private",
        {
            "base/kustomization.yaml": "resources:\n- cm.yaml\n",
            "base/cm.yaml": CM.format(name="private-of-other"),
        },
    )
    file_base = f"file://{other.bare}//base?ref=main"
    repo.commit("file base", {"app/kustomization.yaml": f"resources:\n- {file_base}\n"})
    result = outcome(lambda: isolated.client.manifests(url_of(repo), "app"))
    assert "private-of-other" not in result.text
    assert result.code is grpc.StatusCode.INVALID_ARGUMENT, result.text
    assert "local paths and file:// are never fetched" in result.text

    public = git_repo("sandbox-public")
    public.commit("nested file base", {"base/kustomization.yaml": f"resources:\n- {file_base}\n"})
    remote = f"{anonymous_git_http.git_url(public.name)}//base?ref=main"
    repo.commit("public base", {"app/kustomization.yaml": f"resources:\n- {remote}\n"})
    result = outcome(lambda: isolated.client.manifests(url_of(repo), "app"))
    assert "private-of-other" not in result.text
    assert result.code is grpc.StatusCode.INVALID_ARGUMENT, result.text
    assert "transport 'file' not allowed" in result.text


def test_kustomize_remote_base_outside_the_projects_source_repos_is_not_fetched(
    isolated: Isolated, repo: GitRepo, git_repo: Callable[[str], GitRepo], anonymous_git_http: HttpServer
) -> None:
    """--kustomize-remote-bases=project: a remote base whose repository the project's sourceRepos
    do not permit is refused by ferry before kustomize runs (PERMISSION_DENIED naming the
    repository, not kustomize's error); a permitted one renders."""
    public = git_repo("sandbox-permitted")
    public.commit(
        "base", {"base/kustomization.yaml": "resources:\n- cm.yaml\n", "base/cm.yaml": CM.format(name="pub")}
    )
    remote = f"{anonymous_git_http.git_url(public.name)}//base?ref=main"
    repo.commit("remote base", {"app/kustomization.yaml": f"resources:\n- {remote}\n"})
    result = outcome(
        lambda: isolated.client.manifests(
            url_of(repo), "app", source_repos=["https://git.example.test/*"], project_name="team-a"
        )
    )
    assert result.code is grpc.StatusCode.PERMISSION_DENIED, result.text
    assert f"repository {anonymous_git_http.git_url(public.name)} is not permitted in project 'team-a'" in (
        result.text
    )
    permitted = [f"{anonymous_git_http.url()}*"]
    names = [
        o["metadata"]["name"] for o in isolated.client.objects(url_of(repo), "app", source_repos=permitted)
    ]
    assert names == ["pub"]


def test_tampered_mirror_config_and_hooks_never_run(isolated: Isolated, repo: GitRepo) -> None:
    """Finding 3's escalation: with a file write, an attacker set ``ext::`` and a hook in their own
    mirror, then pushed to force a fetch (which runs with the mirror as cwd)."""
    repo.commit("one", {"app/cm.yaml": CM.format(name="one")})
    assert [o["metadata"]["name"] for o in isolated.client.objects(url_of(repo), "app")] == ["one"]
    mirror = isolated.mirror(url_of(repo))
    ext_marker, hook_marker = isolated.base / "pwned-mirror-ext", isolated.base / "pwned-mirror-hook"
    with (mirror / "config").open("a") as config:
        config.write('[protocol "ext"]\n\tallow = always\n')
        config.write(f'[url "ext::sh -c touch% {ext_marker};false% "]\n\tinsteadOf = file://\n')
    hook = mirror / "hooks" / "reference-transaction"
    hook.write_text(f"#!/bin/sh\ntouch {hook_marker}\n")
    hook.chmod(0o755)
    sha = repo.commit("two", {"app/cm.yaml": CM.format(name="two")})
    names = [o["metadata"]["name"] for o in isolated.client.objects(url_of(repo), "app", revision=sha)]
    assert not ext_marker.exists()
    assert not hook_marker.exists()
    assert names == ["two"]
    assert "ext" not in (mirror / "config").read_text()  # discarded and cloned again
    assert not hook.exists()


@pytest.fixture(scope="module")
def limited() -> Iterator[RepoClient]:
    """A repo server with small tool limits."""
    cache = new_workdir("security-limited")
    server = start_reposerver(
        cache,
        *SANDBOX_FLAGS,
        "--tool-max-output",
        str(1024**2),
        "--tool-cpu-limit",
        "2",
        "--tool-memory-limit",
        str(256 * 1024**2),
    )
    client = RepoClient(server)
    yield client
    client.close()
    server.stop()


CHART = "apiVersion: v2\nname: c\nversion: 0.1.0\n"


@pytest.mark.parametrize(
    ("template", "limit"),
    [
        ('# {{ range until 50000 }}{{ printf "%0100d" . }}{{ end }}\n', "--tool-max-output=1 MiB"),
        ("# {{ range until 100000 }}{{ range until 100000 }}{{ end }}{{ end }}\n", "--tool-cpu-limit=2s"),
        (
            '# {{ $s := "xxxxxxxx" }}{{ range until 40 }}{{ $s = print $s $s }}{{ end }}\n',
            "--tool-memory-limit=256 MiB",
        ),
    ],
    ids=["output", "cpu", "memory"],
)
def test_tool_limits_stop_helm_with_an_error_naming_the_limit(
    limited: RepoClient, repo: GitRepo, template: str, limit: str
) -> None:
    repo.commit("hog", {"c/Chart.yaml": CHART, "c/templates/hog.yaml": template})
    start = time.monotonic()
    source = types_pb2.ApplicationSource(repo_url=url_of(repo), path="c")
    result = outcome(lambda: limited.manifests(url_of(repo), source=source))
    assert result.code is grpc.StatusCode.RESOURCE_EXHAUSTED, result.text
    assert limit in result.text
    assert "helm template c: helm " in result.text
    assert time.monotonic() - start < 30
    assert_answers_promptly(limited, repo)

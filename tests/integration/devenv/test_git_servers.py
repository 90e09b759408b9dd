"""Each Git protocol serves clones (git daemon, smart HTTP with basic auth, ssh with a key), and
the Helm repository and redis-server answer."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from ferry_devenv.gitrepo import GitRepo
from ferry_devenv.servers import GitDaemon, HttpServer, RedisServer, SshGitServer
from ferry_devenv.tools import tool
from tests.conftest import GIT_PASSWORD, GIT_USER, HELM_PASSWORD, HELM_USER


def _clone(url: str, dest: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", **(env or {})}
    return subprocess.run(
        ["git", "clone", "--quiet", url, str(dest)], capture_output=True, text=True, env=full_env, check=False
    )


@pytest.fixture
def repo(git_repo: Callable[[str], GitRepo]) -> GitRepo:
    repo = git_repo("clone-me")
    repo.commit("first", {"app/cm.yaml": "kind: ConfigMap\n"})
    return repo


def test_clone_over_git_daemon(git_daemon: GitDaemon, repo: GitRepo, tmp_path: Path) -> None:
    result = _clone(git_daemon.url(repo.name), tmp_path / "c")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "c" / "app" / "cm.yaml").read_text() == "kind: ConfigMap\n"


def test_clone_over_smart_http_needs_the_password(
    git_http: HttpServer, repo: GitRepo, tmp_path: Path
) -> None:
    plain = git_http.git_url(repo.name)
    denied = _clone(plain, tmp_path / "denied")
    assert denied.returncode != 0
    wrong = _clone(plain.replace("http://", f"http://{GIT_USER}:wrong@"), tmp_path / "wrong")
    assert wrong.returncode != 0
    assert "Authentication failed" in wrong.stderr
    ok = _clone(plain.replace("http://", f"http://{GIT_USER}:{GIT_PASSWORD}@"), tmp_path / "ok")
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "ok" / "app" / "cm.yaml").exists()


def test_clone_over_ssh_with_key(git_ssh: SshGitServer, repo: GitRepo, tmp_path: Path) -> None:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(git_ssh.known_hosts_line + "\n")
    ssh = (
        f"ssh -i {git_ssh.client_key_path} -o IdentitiesOnly=yes -o BatchMode=yes "
        f"-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=yes"
    )
    result = _clone(git_ssh.url(repo.name), tmp_path / "c", env={"GIT_SSH_COMMAND": ssh})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "c" / "app" / "cm.yaml").exists()
    unknown_host = tmp_path / "empty_known_hosts"
    unknown_host.write_text("")
    strict = ssh.replace(str(known_hosts), str(unknown_host))
    refused = _clone(git_ssh.url(repo.name), tmp_path / "refused", env={"GIT_SSH_COMMAND": strict})
    assert refused.returncode != 0
    assert "Host key verification failed" in refused.stderr


def test_helm_repository_serves_the_chart_with_credentials(helm_repo: HttpServer, tmp_path: Path) -> None:
    helm = str(tool("helm"))
    env = {
        **os.environ,
        "HELM_CONFIG_HOME": str(tmp_path / "cfg"),
        "HELM_CACHE_HOME": str(tmp_path / "cache"),
    }
    add = [helm, "repo", "add", "dev", helm_repo.url().rstrip("/")]
    refused = subprocess.run(add, capture_output=True, text=True, env=env, check=False)
    assert refused.returncode != 0
    added = subprocess.run(
        [*add, "--username", HELM_USER, "--password", HELM_PASSWORD], capture_output=True, text=True, env=env,
        check=False,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    found = subprocess.run(
        [helm, "search", "repo", "dev/podinfo"], capture_output=True, text=True, env=env, check=True
    )
    assert "dev/podinfo" in found.stdout


def test_redis_server_answers(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url)
    assert client.ping()
    client.set("k", "v")
    assert client.get("k") == b"v"
    client.close()

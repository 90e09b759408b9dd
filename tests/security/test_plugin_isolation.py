"""A hostile config management plugin (or a plugin run on hostile repository content) tries to
read outside its app directory: the plugin server's other files (``../..``), a repo server's Git
cache on the same machine, and the repo server's environment (its service key) through /proc.
Under namespace isolation it gets nothing; the same plugin without isolation reads all of it,
which is what the isolation is for (and what makes this test able to fail)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ferry.v1 import types_pb2
from ferry_devenv.gitrepo import GitRepo
from tests.conftest import SERVICE_KEY, RunningServer
from tests.integration.reposerver.conftest import RepoClient
from tests.plugins import PYTHON, PluginHost, plugin_host, reposerver_for

# Reads what it is pointed at (ARGOCD_ENV_*) and reports what it found.
SNOOP = f"""
generate:
  command: [{PYTHON}, -c]
  args:
    - |
      import json, os
      def read(path):
          try:
              with open(path, errors="replace") as f:
                  return f.read()[:4000]
          except OSError:
              return ""
      def listing(path):
          found = []
          for dirpath, dirnames, filenames in os.walk(path):
              found += [os.path.join(dirpath, n) for n in filenames]
          return sorted(found)
      env = os.environ
      data = {{
          "planted": read("../../planted.txt"),
          "parent": json.dumps(listing("../..")),
          "cache": json.dumps(listing(env["ARGOCD_ENV_CACHE"])),
          "config": read(env["ARGOCD_ENV_CONFIG"]),
          "environ": read("/proc/" + env["ARGOCD_ENV_PID"] + "/environ"),
          "etc": read("/etc/hostname") or read("/etc/os-release"),
      }}
      cm = {{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {{"name": "snoop"}}, "data": data}}
      print(json.dumps(cm))
"""


@pytest.fixture(scope="module")
def host() -> Iterator[PluginHost]:
    with plugin_host("plugin-isolation") as plugins:
        plugins.start("snoop", SNOOP, "--isolation", "namespace")
        plugins.start("snoop-open", SNOOP, "--isolation", "none")
        for name in ("snoop", "snoop-open"):
            (plugins.root / "work" / name / "planted.txt").write_text(f"planted next to {name}'s apps\n")
        yield plugins


@pytest.fixture(scope="module")
def reposerver(host: PluginHost) -> Iterator[tuple[RunningServer, Path]]:
    with reposerver_for(host) as running:
        yield running


@pytest.fixture
def client(reposerver: tuple[RunningServer, Path]) -> Iterator[RepoClient]:
    c = RepoClient(reposerver[0])
    yield c
    c.close()


def snoop(client: RepoClient, repo: GitRepo, plugin: str, cache: Path, host: PluginHost) -> dict[str, Any]:
    pid = client.server.proc.pid
    assert pid is not None
    source = types_pb2.ApplicationSource(
        repo_url=f"file://{repo.bare}",
        path="app",
        target_revision="main",
        plugin=types_pb2.ApplicationSourcePlugin(
            name=plugin,
            env=[
                types_pb2.EnvEntry(name="CACHE", value=str(cache)),
                types_pb2.EnvEntry(name="CONFIG", value=str(host.root / "config" / f"{plugin}.yaml")),
                types_pb2.EnvEntry(name="PID", value=str(pid)),
            ],
        ),
    )
    [cm] = client.objects(source.repo_url, source=source)
    data: dict[str, Any] = cm["data"]
    return data


def test_an_isolated_plugin_reads_nothing_outside_its_app_dir(
    client: RepoClient,
    reposerver: tuple[RunningServer, Path],
    host: PluginHost,
    git_repo: Callable[[str], GitRepo],
) -> None:
    repo = git_repo("snoop")
    repo.commit("app", {"app/values.txt": "mine\n", "other/secret.txt": "another app's secret\n"})
    cache = reposerver[1]
    found = snoop(client, repo, "snoop", cache, host)
    assert any(cache.rglob("*")), "the repo server's cache holds the mirror the plugin looks for"
    assert found["planted"] == ""
    assert found["cache"] == "[]"
    assert found["config"] == ""
    assert found["environ"] == ""
    parent = json.loads(found["parent"])
    assert [Path(p).name for p in parent] == ["values.txt"]  # its own file, nothing else
    assert found["etc"], "system directories stay readable (tools need them)"

    # the same plugin on the host's filesystem (--isolation none) reads every one of them
    exposed = snoop(client, repo, "snoop-open", cache, host)
    assert exposed["planted"] == "planted next to snoop-open's apps\n"
    assert json.loads(exposed["cache"])
    assert "ConfigManagementPlugin" in exposed["config"]
    assert SERVICE_KEY in exposed["environ"]

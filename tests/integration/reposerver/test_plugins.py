"""Config management plugins end to end: a ferry-reposerver sends apps to real ferry-cmp-server
processes (Argo CD plugin.yaml files, shell and Python commands) over their Unix sockets. Named
plugins, discovery by fileName and by command (before the built-in detection, as in Argo CD),
Argo's environment and parameters, init, lockRepo, errors that reach the caller (a failing plugin's
stderr, timeouts and output limits naming the flag, an unknown plugin naming the installed ones),
and the manifest cache."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest

from ferry.v1 import types_pb2
from ferry_devenv.gitrepo import GitRepo
from tests.conftest import RunningServer
from tests.integration.reposerver.conftest import RepoClient, status_of
from tests.plugins import ENV_CM, PYTHON, PluginHost, plugin_host, reposerver_for

PARAMS = f"""
init:
  command: [sh, -c, 'echo "initialized for $ARGOCD_APP_NAME" > .init-done']
generate:
  command: [{PYTHON}, -c]
  args:
    - |
      import json, os
      params = json.loads(os.environ["ARGOCD_APP_PARAMETERS"])
      data = {{
          "init": open(".init-done").read().strip(),
          "names": ",".join(p["name"] for p in params),
          "replicas": os.environ["PARAM_REPLICAS"],
          "images": os.environ["PARAM_IMAGES_0"] + " " + os.environ["PARAM_IMAGES_1"],
          "team": os.environ["PARAM_LABELS_TEAM"],
      }}
      print(json.dumps({{"apiVersion": "v1", "kind": "List", "items": [
          {{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {{"name": "params"}}, "data": data}}]}}))
lockRepo: true
"""

CUE = """
discover:
  fileName: "*.cue"
generate:
  command: [sh, -c]
  args:
    - |
      printf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: from-cue\\n'
      printf 'data:\\n  files: %s\\n' "$(ls *.cue)"
"""

MARKER = """
discover:
  find:
    command: [sh, -c, 'find . -name marker.txt']
generate:
  command: [sh, -c, 'printf "apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: from-marker\\n"']
"""

FAILING = """
generate:
  command: [sh, -c]
  args: ['echo "cannot render: bad input, see https://deploy:hunter2@git.example/x.git" >&2; exit 3']
"""

MISSING_TOOL = """
generate:
  command: [cdk8s-not-installed, synth]
"""

SLOW = """
generate:
  command: [sh, -c, 'sleep 60']
"""

CHATTY = """
generate:
  command: [sh, -c, 'head -c 5000000 /dev/zero | tr "\\0" "a"']
"""

# lockRepo: one render of a repository at a time. Both see ARGOCD_ENV_DIR, a directory outside
# the app (hence --isolation none), where the runs meet.
LOCKED = """
generate:
  command: [sh, -c]
  args:
    - |
      mkdir "$ARGOCD_ENV_DIR/running" || { echo "another render of this repository is running" >&2; exit 1; }
      sleep 1
      rmdir "$ARGOCD_ENV_DIR/running"
      printf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: %s\\n' "$ARGOCD_APP_NAME"
lockRepo: true
"""

# The control: without lockRepo two renders run at once (each waits, bounded, to see the other).
UNLOCKED = """
generate:
  command: [sh, -c]
  args:
    - |
      touch "$ARGOCD_ENV_DIR/$ARGOCD_APP_NAME"
      i=0
      while [ "$(ls "$ARGOCD_ENV_DIR" | wc -l)" -lt 2 ]; do
        i=$((i + 1)); [ "$i" -gt 300 ] && { echo "ran alone" >&2; exit 1; }; sleep 0.1
      done
      printf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: %s\\n' "$ARGOCD_APP_NAME"
"""


@pytest.fixture(scope="module")
def plugins() -> Iterator[PluginHost]:
    with plugin_host("plugins") as host:
        host.start("envcm", ENV_CM, version="v1.0")
        host.start("params", PARAMS)
        host.start("cue", CUE)
        host.start("marker", MARKER)
        host.start("failing", FAILING)
        host.start("missing-tool", MISSING_TOOL)
        host.start("slow", SLOW, "--exec-timeout", "1")
        host.start("chatty", CHATTY, "--tool-max-output", "1048576")
        host.start("locked", LOCKED, "--isolation", "none")
        host.start("unlocked", UNLOCKED, "--isolation", "none")
        yield host


@pytest.fixture(scope="module")
def plugin_reposerver(plugins: PluginHost) -> Iterator[RunningServer]:
    with reposerver_for(plugins) as (server, _cache):
        yield server


@pytest.fixture
def client(plugin_reposerver: RunningServer) -> Iterator[RepoClient]:
    c = RepoClient(plugin_reposerver)
    yield c
    c.close()


@pytest.fixture
def repo(git_repo: Callable[[str], GitRepo]) -> GitRepo:
    return git_repo("plugins")


def plugin_source(repo: GitRepo, path: str, name: str = "", **plugin: Any) -> types_pb2.ApplicationSource:
    return types_pb2.ApplicationSource(
        repo_url=f"file://{repo.bare}",
        path=path,
        target_revision="main",
        plugin=types_pb2.ApplicationSourcePlugin(name=name, **plugin),
    )


def objects(client: RepoClient, source: types_pb2.ApplicationSource, **kw: Any) -> list[dict[str, Any]]:
    return client.objects(source.repo_url, source=source, **kw)


def test_shell_plugin_fills_a_configmap_from_argo_environment(client: RepoClient, repo: GitRepo) -> None:
    sha = repo.commit(
        "app",
        {
            "apps/web/input.txt": "hello\n",
            "apps/web/.sops.yaml": "creation_rules: []\n",
            "apps/web/.config/tool.yaml": "a: 1\n",
            "apps/other/secret.txt": "not for web\n",
        },
    )
    source = plugin_source(
        repo,
        "apps/web",
        "envcm-v1.0",
        env=[
            types_pb2.EnvEntry(name="STAGE", value="prod"),
            types_pb2.EnvEntry(name="GREETING", value="hi-$ARGOCD_APP_NAME"),
        ],
    )
    response = client.manifests(source.repo_url, source=source, app_name="web", namespace="shop")
    assert response.source_type == "Plugin"
    assert response.revision == sha
    assert list(response.input_paths) == ["apps/web"]
    [cm] = objects(client, source, app_name="web", namespace="shop")
    assert cm["metadata"]["name"] == "web-env"
    data = cm["data"]
    assert data["ARGOCD_ENV_STAGE"] == "prod"
    assert data["ARGOCD_ENV_GREETING"] == "hi-web"
    assert data["ARGOCD_APP_NAME"] == "web"
    assert data["ARGOCD_APP_NAMESPACE"] == "shop"
    assert data["ARGOCD_APP_REVISION"] == sha
    assert data["ARGOCD_APP_SOURCE_PATH"] == "apps/web"
    assert data["ARGOCD_APP_SOURCE_REPO_URL"] == source.repo_url
    assert data["ARGOCD_APP_SOURCE_TARGET_REVISION"] == "main"
    # the sandbox: a private empty HOME, no user git config, and only the app's own files
    assert data["GIT_CONFIG_GLOBAL"] == "/dev/null"
    assert "ferry-sandbox-" in data["HOME"]
    assert data["FILES"].split() == ["./.config/tool.yaml", "./.sops.yaml", "./input.txt"]


def test_python_plugin_reads_parameters_after_init(client: RepoClient, repo: GitRepo) -> None:
    repo.commit("app", {"tool/main.jsonnet": "{}\n"})
    source = plugin_source(
        repo,
        "tool",
        "params",
        parameters=[
            types_pb2.ApplicationSourcePluginParameter(name="replicas", string="3"),
            types_pb2.ApplicationSourcePluginParameter(name="images", array=["web:1", "worker:2"]),
            types_pb2.ApplicationSourcePluginParameter(name="labels", map={"team": "payments"}),
        ],
    )
    [cm] = objects(client, source, app_name="tool-app")
    assert cm["data"] == {
        "init": "initialized for tool-app",
        "names": "replicas,images,labels",
        "replicas": "3",
        "images": "web:1 worker:2",
        "team": "payments",
    }


def test_discovery_by_file_name_and_by_command_before_builtin_detection(
    client: RepoClient, repo: GitRepo
) -> None:
    repo.commit(
        "apps",
        {
            "cue/app.cue": "package app\n",
            "marked/marker.txt": "\n",
            "plain/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\n",
            "kust/kustomization.yaml": "resources: [cm.yaml]\n",
            "kust/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kust\n",
            "kust-cue/kustomization.yaml": "resources: [cm.yaml]\n",
            "kust-cue/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kust\n",
            "kust-cue/also.cue": "package kust\n",
        },
    )
    url = f"file://{repo.bare}"

    def names(path: str, **source: Any) -> list[str]:
        src = types_pb2.ApplicationSource(repo_url=url, path=path, target_revision="main", **source)
        return [o["metadata"]["name"] for o in objects(client, src)]

    assert names("cue") == ["from-cue"]
    assert names("marked") == ["from-marker"]
    assert names("plain") == ["plain"]  # no discover rule fits: a plain directory
    assert names("kust") == ["kust"]  # no plugin claims it: Kustomize by built-in detection
    # as in Argo CD, a matching discover rule wins over the built-in detection (a plugin that
    # post-processes kustomize output discovers kustomizations)...
    assert names("kust-cue") == ["from-cue"]
    # ...and an explicit type block wins over discovery
    assert names("kust-cue", kustomize=types_pb2.ApplicationSourceKustomize()) == ["kust"]
    # a plugin block without a name asks for discovery explicitly
    assert names("cue", plugin=types_pb2.ApplicationSourcePlugin()) == ["from-cue"]
    code, message = status_of(lambda: names("plain", plugin=types_pb2.ApplicationSourcePlugin()))
    assert code is grpc.StatusCode.FAILED_PRECONDITION
    assert "no config management plugin matches the app at 'plain'" in message


def test_unknown_plugin_is_named_with_the_installed_ones(client: RepoClient, repo: GitRepo) -> None:
    repo.commit("app", {"app/x.txt": "x\n"})
    code, message = status_of(lambda: objects(client, plugin_source(repo, "app", "envcm")))
    assert code is grpc.StatusCode.FAILED_PRECONDITION
    assert "config management plugin 'envcm' is not installed" in message
    assert "envcm-v1.0" in message  # a plugin with a version is named <name>-<version>


def test_failing_plugin_stderr_reaches_the_caller_redacted(client: RepoClient, repo: GitRepo) -> None:
    repo.commit("app", {"app/x.txt": "x\n"})
    code, message = status_of(lambda: objects(client, plugin_source(repo, "app", "failing")))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert "plugin failing: generate command" in message
    assert "(exit 3)" in message
    assert "cannot render: bad input" in message
    assert "hunter2" not in message


def test_a_missing_tool_is_named(client: RepoClient, repo: GitRepo) -> None:
    repo.commit("app", {"app/x.txt": "x\n"})
    code, message = status_of(lambda: objects(client, plugin_source(repo, "app", "missing-tool")))
    assert code is grpc.StatusCode.FAILED_PRECONDITION
    assert "plugin missing-tool: generate command 'cdk8s-not-installed' is not installed" in message


def test_timeout_and_output_limits_name_the_limit(client: RepoClient, repo: GitRepo) -> None:
    repo.commit("app", {"app/x.txt": "x\n"})
    code, message = status_of(lambda: objects(client, plugin_source(repo, "app", "slow")))
    assert code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "plugin slow: generate did not finish within 1s" in message
    assert "--exec-timeout=1s" in message
    code, message = status_of(lambda: objects(client, plugin_source(repo, "app", "chatty")))
    assert code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "plugin chatty" in message
    assert "--tool-max-output" in message


def test_renders_are_cached_by_commit_inputs_and_plugin_settings(client: RepoClient, repo: GitRepo) -> None:
    repo.commit("app", {"apps/web/input.txt": "v1\n", "docs/readme.md": "v1\n"})
    source = plugin_source(repo, "apps/web", "envcm-v1.0", env=[types_pb2.EnvEntry(name="STAGE", value="a")])
    objects(client, source)
    before = client.renders()
    objects(client, source)
    assert client.renders() == before  # same commit, same settings: from cache
    repo.commit("docs only", {"docs/readme.md": "v2\n"})
    [cm] = objects(client, source)
    assert client.renders() == before  # the new commit does not touch the app's directory
    assert cm["data"]["ARGOCD_ENV_STAGE"] == "a"
    changed = plugin_source(repo, "apps/web", "envcm-v1.0", env=[types_pb2.EnvEntry(name="STAGE", value="b")])
    [cm] = objects(client, changed)
    assert client.renders() == before + 1  # other plugin env: rendered again
    assert cm["data"]["ARGOCD_ENV_STAGE"] == "b"
    repo.commit("app change", {"apps/web/input.txt": "v2\n"})
    objects(client, changed)
    assert client.renders() == before + 2


@pytest.mark.parametrize("plugin", ["locked", "unlocked"])
def test_lock_repo_runs_one_render_of_a_repository_at_a_time(
    client: RepoClient, repo: GitRepo, plugin: str, tmp_path: Path
) -> None:
    repo.commit("app", {"app/x.txt": "x\n"})
    meeting = tmp_path / "meeting"
    meeting.mkdir()
    source = plugin_source(repo, "app", plugin, env=[types_pb2.EnvEntry(name="DIR", value=str(meeting))])
    with ThreadPoolExecutor(2) as pool:
        rendered = list(pool.map(lambda app: objects(client, source, app_name=app), ["first", "second"]))
    assert sorted(cm["metadata"]["name"] for [cm] in rendered) == ["first", "second"]

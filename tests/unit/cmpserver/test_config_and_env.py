"""plugin.yaml as Argo CD writes it, and the environment a plugin's commands get (Argo's names)."""

from __future__ import annotations

import json

import pytest

from cmpserver.config import PluginConfigError, parse
from cmpserver.plugin import _glob_regex, app_env
from ferry.v1 import cmp_pb2, types_pb2

PLUGIN_YAML = """
apiVersion: argoproj.io/v1alpha1
kind: ConfigManagementPlugin
metadata:
  name: my-plugin
spec:
  version: v1.0
  init:
    command: [sh]
    args: [-c, 'echo "Initializing..."']
  generate:
    command: [sh, -c]
    args: ['echo {}']
  discover:
    find:
      command: [sh, -c, find . -name env.yaml]
  parameters:
    static:
      - name: size
        title: Size
        string: default-string-value
  preserveFileMode: false
  lockRepo: true
"""


def test_argo_plugin_yaml_loads() -> None:
    config = parse(PLUGIN_YAML)
    assert (config.name, config.version, config.lock_repo) == ("my-plugin", "v1.0", True)
    assert config.init.argv == ["sh", "-c", 'echo "Initializing..."']
    assert config.generate.argv == ["sh", "-c", "echo {}"]
    assert config.discover.command.argv == ["sh", "-c", "find . -name env.yaml"]
    assert config.discover.enabled
    assert config.static_parameters[0]["name"] == "size"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: Deployment\nmetadata: {name: x}\nspec: {generate: {command: [a]}}", "kind must be"),
        ("metadata: {}\nspec: {generate: {command: [a]}}", "metadata.name is required"),
        ("metadata: {name: x}\nspec: {}", "spec.generate.command is required"),
        ("metadata: {name: x}\nspec: {generate: {command: sh}}", "spec.generate.command must be a list"),
        ("metadata: {name: ../x}\nspec: {generate: {command: [a]}}", "must not contain '/'"),
        (
            "metadata: {name: x}\nspec: {generate: {command: [a]}, parameters: {dynamic: {command: [a]}}}",
            "dynamic is not supported",
        ),
    ],
)
def test_bad_plugin_yaml_names_the_field(text: str, message: str) -> None:
    with pytest.raises(PluginConfigError, match=message):
        parse(text)


def test_environment_uses_argo_names() -> None:
    req = cmp_pb2.PluginAppRequest(
        app_name="web",
        app_namespace="prod",
        project_name="team",
        revision="0123456789abcdef",
        source_path="apps/web",
        repo_url="https://user:secret@git.example/apps.git",
        target_revision="main",
        kube_version="1.36.3",
        api_versions=["v1", "apps/v1"],
        plugin=types_pb2.ApplicationSourcePlugin(
            env=[types_pb2.EnvEntry(name="STAGE", value="$ARGOCD_APP_NAME-${ARGOCD_APP_NAMESPACE}")],
            parameters=[
                types_pb2.ApplicationSourcePluginParameter(name="replica-count", string="3"),
                types_pb2.ApplicationSourcePluginParameter(name="images", array=["a:1", "b:2"]),
                types_pb2.ApplicationSourcePluginParameter(name="labels", map={"team.io/x": "pay"}),
            ],
        ),
    )
    env = app_env(req)
    assert env["ARGOCD_APP_NAME"] == "web"
    assert env["ARGOCD_APP_NAMESPACE"] == "prod"
    assert env["ARGOCD_APP_PROJECT_NAME"] == "team"
    assert env["ARGOCD_APP_REVISION_SHORT"] == "0123456"
    assert env["ARGOCD_APP_REVISION_SHORT_8"] == "01234567"
    assert env["ARGOCD_APP_SOURCE_REPO_URL"] == "https://git.example/apps.git"
    assert env["ARGOCD_APP_SOURCE_TARGET_REVISION"] == "main"
    assert env["KUBE_API_VERSIONS"] == "v1,apps/v1"
    assert env["ARGOCD_ENV_STAGE"] == "web-prod"
    assert env["PARAM_REPLICA_COUNT"] == "3"
    assert (env["PARAM_IMAGES_0"], env["PARAM_IMAGES_1"]) == ("a:1", "b:2")
    assert env["PARAM_LABELS_TEAM_IO_X"] == "pay"
    assert json.loads(env["ARGOCD_APP_PARAMETERS"]) == [
        {"name": "replica-count", "string": "3"},
        {"name": "images", "array": ["a:1", "b:2"]},
        {"name": "labels", "map": {"team.io/x": "pay"}},
    ]


def test_doublestar_globs() -> None:
    assert _glob_regex("**/*.cue").match("a/b/c.cue")
    assert _glob_regex("**/*.cue").match("c.cue")
    assert _glob_regex("*.cue").match("c.cue")
    assert not _glob_regex("*.cue").match("a/c.cue")
    assert _glob_regex("./subdir/s*.yaml").match("subdir/sa.yaml")

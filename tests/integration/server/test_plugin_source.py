"""spec.source.plugin through the API server: created from a message and from an Argo CD manifest,
read back unchanged (the server's conversion and validation keep it)."""

from __future__ import annotations

from collections.abc import Callable

import yaml

from ferry.convert import to_k8s
from ferry.v1 import application_pb2, types_pb2
from ferry_devenv.gitrepo import GitRepo
from tests.integration.server.conftest import Api
from tests.integration.server.test_smoke import app_message

PLUGIN = {
    "name": "cdk8s-v1.0",
    "env": [{"name": "STAGE", "value": "prod"}],
    "parameters": [
        {"name": "replicas", "string": "3"},
        {"name": "images", "array": ["web:1"]},
        {"name": "labels", "map": {"team": "payments"}},
    ],
}


def test_plugin_source_round_trips_through_the_api(
    admin: Api, git_repo: Callable[[str], GitRepo], namespace: str
) -> None:
    repo = git_repo("plugin-api")
    repo.commit("app", {"app/main.ts": "// cdk8s\n"})
    message = app_message("plugin-msg", repo, namespace)
    message.spec.source.plugin.CopyFrom(
        types_pb2.ApplicationSourcePlugin(
            name="cdk8s-v1.0",
            env=[types_pb2.EnvEntry(name="STAGE", value="prod")],
            parameters=[
                types_pb2.ApplicationSourcePluginParameter(name="replicas", string="3"),
                types_pb2.ApplicationSourcePluginParameter(name="images", array=["web:1"]),
                types_pb2.ApplicationSourcePluginParameter(name="labels", map={"team": "payments"}),
            ],
        )
    )
    manifest = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "plugin-argo", "namespace": "argocd"},
        "spec": {
            "project": "default",
            "source": {"repoURL": f"file://{repo.bare}", "path": "app", "plugin": PLUGIN},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
        },
    }
    created: list[str] = []
    try:
        for request in (
            application_pb2.ApplicationCreateRequest(application=message),
            application_pb2.ApplicationCreateRequest(manifest=yaml.safe_dump(manifest)),
        ):
            created.append(admin.call("apps", "Create", request).metadata.name)
        for name in created:
            got = admin.call("apps", "Get", application_pb2.ApplicationQuery(name=name))
            assert to_k8s(got)["spec"]["source"]["plugin"] == PLUGIN, name
    finally:
        for name in created:
            admin.call("apps", "Delete", application_pb2.ApplicationDeleteRequest(name=name, cascade=False))
    assert created == ["plugin-msg", "plugin-argo"]

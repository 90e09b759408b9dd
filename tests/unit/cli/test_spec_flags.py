"""How ``ferry app create|set`` flags become an Application spec, and the CLI's pure helpers."""

from __future__ import annotations

from typing import Any

import pytest

from cli.app import apply_spec_flags, describe, given, tree_lines, wait_state
from cli.base import parse_duration
from cli.connection import CliError
from cli.progress import operation_done, resource_rows, short_revision


def flags(**values: Any) -> dict[str, Any]:
    return values


def test_source_destination_and_project() -> None:
    spec = apply_spec_flags(
        {},
        flags(
            repo="https://git/x.git",
            path="apps/web",
            revision="v1.2",
            dest_server="https://k",
            dest_namespace="web",
            project="team",
        ),
    )
    assert spec["source"] == {"repoURL": "https://git/x.git", "path": "apps/web", "targetRevision": "v1.2"}
    assert spec["destination"] == {"server": "https://k", "namespace": "web"}
    assert spec["project"] == "team"


def test_sync_policy_flags() -> None:
    spec = apply_spec_flags(
        {}, flags(sync_policy="auto", auto_prune=True, self_heal=True, sync_options=("A=1",))
    )
    assert spec["syncPolicy"] == {"automated": {"prune": True, "selfHeal": True}, "syncOptions": ["A=1"]}
    again = apply_spec_flags(spec, flags(sync_options=("A=1", "B=2")))
    assert again["syncPolicy"]["syncOptions"] == ["A=1", "B=2"]
    manual = apply_spec_flags(again, flags(sync_policy="manual"))
    assert "automated" not in manual["syncPolicy"]
    with pytest.raises(CliError) as err:
        apply_spec_flags({}, flags(self_heal=True))
    assert err.value.code == 2
    assert "--sync-policy auto" in err.value.message


def test_helm_parameters_are_upserted_by_name() -> None:
    spec = apply_spec_flags(
        {}, flags(helm_set=("image.tag=1", "replicas=2"), values_files=("values-prod.yaml",))
    )
    spec = apply_spec_flags(
        spec,
        flags(
            helm_set=("image.tag=2",),
            helm_set_string=("port=8080",),
            values_files=("values-prod.yaml",),
            release_name="web",
        ),
    )
    helm = spec["source"]["helm"]
    assert helm["parameters"] == [
        {"name": "image.tag", "value": "2"},
        {"name": "replicas", "value": "2"},
        {"name": "port", "value": "8080", "forceString": True},
    ]
    assert helm["valueFiles"] == ["values-prod.yaml"]
    assert helm["releaseName"] == "web"
    with pytest.raises(CliError, match="NAME=VALUE"):
        apply_spec_flags({}, flags(helm_set=("no-equals",)))


def test_kustomize_images_replace_the_same_image() -> None:
    spec = apply_spec_flags(
        {}, flags(kustomize_image=("ghcr.io/x/web:1.0", "db=postgres:15"), nameprefix="p-")
    )
    spec = apply_spec_flags(spec, flags(kustomize_image=("ghcr.io/x/web:2.0", "db=postgres:16")))
    assert spec["source"]["kustomize"] == {
        "images": ["ghcr.io/x/web:2.0", "db=postgres:16"],
        "namePrefix": "p-",
    }


def test_jsonnet_and_directory() -> None:
    spec = apply_spec_flags(
        {}, flags(directory_recurse=True, jsonnet_ext_var_str=("env=prod",), jsonnet_tla_str=("replicas=3",))
    )
    assert spec["source"]["directory"] == {
        "recurse": True,
        "jsonnet": {
            "extVars": [{"name": "env", "value": "prod"}],
            "tlas": [{"name": "replicas", "value": "3"}],
        },
    }


def test_given_lists_only_flags_on_the_command_line() -> None:
    assert given(flags(repo=None, helm_set=(), auto_prune=None, path="x", self_heal=False)) == ["path"]


def test_durations() -> None:
    assert [parse_duration(v, "--x") for v in ("90", "90s", "30m", "24h", "7d", "0")] == [
        90,
        90,
        1800,
        86400,
        604800,
        0,
    ]
    with pytest.raises(CliError, match="--x takes a duration"):
        parse_duration("soon", "--x")


def test_short_revision() -> None:
    assert short_revision("a" * 40) == "aaaaaaa"
    assert short_revision("v1.2.3") == "v1.2.3"


APP: dict[str, Any] = {
    "metadata": {"name": "web"},
    "status": {
        "sync": {"status": "Synced"},
        "health": {"status": "Healthy"},
        "resources": [
            {
                "group": "apps",
                "kind": "Deployment",
                "namespace": "web",
                "name": "web",
                "status": "Synced",
                "health": {"status": "Healthy"},
                "syncWave": 1,
            },
        ],
        "operationState": {
            "phase": "Succeeded",
            "syncResult": {
                "resources": [
                    {
                        "group": "apps",
                        "kind": "Deployment",
                        "namespace": "web",
                        "name": "web",
                        "status": "Synced",
                        "message": "deployment.apps/web configured",
                    },
                    {
                        "group": "batch",
                        "kind": "Job",
                        "namespace": "web",
                        "name": "migrate",
                        "hookType": "PreSync",
                        "hookPhase": "Succeeded",
                        "message": "job completed",
                    },
                ]
            },
        },
    },
}


def test_resource_rows_merge_messages_and_hooks() -> None:
    assert resource_rows(APP) == [
        ["apps", "Deployment", "web", "web", "Synced", "Healthy", "", "deployment.apps/web configured"],
        ["batch", "Job", "web", "migrate", "Succeeded", "", "PreSync", "job completed"],
    ]
    assert resource_rows(APP, wide=True)[0][-1] == "1"


def test_operation_done_and_wait_state() -> None:
    assert operation_done(APP)
    assert not operation_done({**APP, "operation": {"sync": {}}})
    assert wait_state(APP, ["sync", "health", "operation"]) == {
        "sync": True,
        "health": True,
        "operation": True,
    }
    running = {
        "status": {**APP["status"], "operationState": {"phase": "Running"}, "health": {"status": "Degraded"}}
    }
    assert wait_state(running, ["health", "operation", "degraded"]) == {
        "health": False,
        "operation": False,
        "degraded": True,
    }


def test_tree_nests_children_under_parents() -> None:
    tree = {
        "nodes": [
            {
                "kind": "Pod",
                "name": "web-1-a",
                "uid": "p",
                "parentRefs": [{"uid": "rs"}],
                "health": {"status": "Healthy"},
            },
            {"group": "apps", "kind": "Deployment", "namespace": "web", "name": "web", "uid": "d"},
            {
                "group": "apps",
                "kind": "ReplicaSet",
                "name": "web-1",
                "uid": "rs",
                "parentRefs": [{"uid": "d"}],
            },
            {"kind": "Service", "name": "web", "uid": "s"},
        ]
    }
    assert [line[0] for line in tree_lines(tree, APP)] == [
        "Deployment/web",
        "└─ ReplicaSet/web-1",
        "   └─ Pod/web-1-a",
        "Service/web",
    ]
    assert tree_lines(tree, APP)[0][1:] == ("Synced", "Healthy")


def test_plugin_flags_name_the_plugin_and_upsert_env_by_name() -> None:
    spec = apply_spec_flags({}, flags(config_management_plugin="cdk8s", plugin_env=("STAGE=dev", "A=1")))
    assert spec["source"]["plugin"] == {
        "name": "cdk8s",
        "env": [{"name": "STAGE", "value": "dev"}, {"name": "A", "value": "1"}],
    }
    spec = apply_spec_flags(spec, flags(plugin_env=("STAGE=prod",)))
    assert spec["source"]["plugin"]["env"] == [
        {"name": "STAGE", "value": "prod"},
        {"name": "A", "value": "1"},
    ]
    assert "plugin_env" in given(flags(plugin_env=("A=1",)))
    with pytest.raises(CliError) as err:
        apply_spec_flags({}, flags(plugin_env=("NOVALUE",)))
    assert "--plugin-env takes NAME=VALUE" in err.value.message


def test_app_get_shows_the_plugin(capsys: pytest.CaptureFixture[str]) -> None:
    app = {
        "metadata": {"name": "web"},
        "spec": {
            "source": {
                "repoURL": "https://git/x.git",
                "path": "web",
                "plugin": {
                    "name": "cdk8s-v1.0",
                    "env": [{"name": "STAGE", "value": "prod"}],
                    "parameters": [{"name": "replicas", "string": "3"}],
                },
            }
        },
    }
    describe(app)
    out = capsys.readouterr().out
    assert "Plugin:             cdk8s-v1.0" in out
    assert "Plugin Env:         STAGE=prod" in out
    assert "Plugin Parameters:  replicas" in out
    describe({"metadata": {"name": "plain"}, "spec": {"source": {"repoURL": "r", "path": "p"}}})
    assert "Plugin" not in capsys.readouterr().out

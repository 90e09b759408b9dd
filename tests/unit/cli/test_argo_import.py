"""``ferry admin import``'s plan of an Argo CD export: what each object becomes, in which order,
and what is reported as not carried over."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import yaml

from cli.argoimport import UnreadableExport, plan, read_objects
from ferry.v1 import application_pb2, cluster_pb2, project_pb2, repository_pb2


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def secret(secret_name: str, kind: str | None, /, **data: str) -> dict[str, Any]:
    labels = {"argocd.argoproj.io/secret-type": kind} if kind else {}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": secret_name, "namespace": "argocd", "labels": labels},
        "data": {k: b64(v) for k, v in data.items()},
    }


APP = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Application",
    "metadata": {
        "name": "guestbook",
        "namespace": "argocd",
        "uid": "1234",
        "resourceVersion": "99",
        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}", "team": "web"},
    },
    "spec": {
        "project": "web",
        "source": {"repoURL": "https://git.example.test/web.git", "path": "app"},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "web"},
    },
    "status": {"sync": {"status": "Synced"}},
}
PROJECT = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "AppProject",
    "metadata": {"name": "web", "namespace": "argocd", "resourceVersion": "7"},
    "spec": {
        "sourceRepos": ["https://git.example.test/*"],
        "destinations": [{"server": "https://kubernetes.default.svc", "namespace": "web"}],
        "signatureKeys": [{"keyID": "4AEE18F83AFDEB23"}],
        "sourceNamespaces": ["team-*"],
        "description": "the web team",
    },
}


def export(*items: dict[str, Any]) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": list(items)})


def test_every_object_gets_a_step_in_the_order_the_api_needs() -> None:
    objects = read_objects(
        export(
            APP,
            PROJECT,
            secret("repo-web", "repository", url="https://git.example.test/web.git"),
            secret("creds", "repo-creds", url="https://git.example.test"),
            secret("prod", "cluster", server="https://10.0.0.1:6443", name="prod"),
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "argocd-cm"},
                "data": {"url": "x"},
            },
            secret("unrelated", None, token="t"),
            {"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet", "metadata": {"name": "set"}},
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "argocd-server"}},
        )
    )
    steps = plan(objects)
    assert [(s.label, s.action) for s in steps] == [
        ("Secret repo-web", "repository"),
        ("Secret creds", "repo-creds"),
        ("Secret prod", "cluster"),
        ("AppProject web", "project"),
        ("Application guestbook", "application"),
        ("ConfigMap argocd-cm", "skip"),
        ("Secret unrelated", "skip"),
        ("ApplicationSet set", "skip"),
        ("Deployment argocd-server", "skip"),
    ]
    notes = {s.label: s.notes for s in steps}
    assert notes["ConfigMap argocd-cm"] == [
        "not imported: copy the keys you use into ferry-cm (same key names) (keys: url)"
    ]
    assert "ApplicationSets are not supported yet" in notes["ApplicationSet set"][0]
    assert "apps/v1 Deployment" in notes["Deployment argocd-server"][0]


def test_repository_secrets_become_repositories_and_templates() -> None:
    [repository, template] = plan(
        [
            secret(
                "repo",
                "repository",
                url="https://git.example.test/web.git",
                username="u",
                password="p",
                project="web",
                insecure="true",
                githubAppPrivateKey="key",
            ),
            secret("creds", "repo-creds", url="https://git.example.test", type="helm", sshPrivateKey="k"),
        ]
    )
    assert isinstance(repository.request, repository_pb2.RepoCreateRequest)
    repo = repository.request.repo
    assert (repo.repo, repo.username, repo.password, repo.project, repo.insecure) == (
        "https://git.example.test/web.git",
        "u",
        "p",
        "web",
        True,
    )
    assert not repository.request.creds_only
    assert repository.notes == [
        "not carried over: githubAppPrivateKey: GitHub App credentials are not supported: "
        "store a token as the password"
    ]
    assert isinstance(template.request, repository_pb2.RepoCreateRequest)
    assert template.request.creds_only
    assert (template.request.repo.type, template.request.repo.ssh_private_key) == ("helm", "k")


def test_cluster_secret_keeps_token_and_tls_and_reports_the_rest() -> None:
    config = json.dumps(
        {
            "bearerToken": "tok",
            "tlsClientConfig": {"caData": "Q0E=", "insecure": False},
            "execProviderConfig": {"command": "aws"},
        }
    )
    [step] = plan(
        [
            secret(
                "prod",
                "cluster",
                server="https://10.0.0.1:6443",
                name="prod",
                namespaces="a, b",
                config=config,
            )
        ]
    )
    assert isinstance(step.request, cluster_pb2.ClusterCreateRequest)
    cluster = step.request.cluster
    assert (cluster.server, cluster.name, list(cluster.namespaces)) == (
        "https://10.0.0.1:6443",
        "prod",
        ["a", "b"],
    )
    assert (cluster.config.bearer_token, cluster.config.tls_client_config.ca_data) == ("tok", "Q0E=")
    assert step.notes == [
        "not carried over: config.execProviderConfig: only bearerToken and tlsClientConfig are supported"
    ]


def test_projects_are_converted_and_unknown_fields_reported() -> None:
    [step] = plan([PROJECT], upsert=True)
    assert isinstance(step.request, project_pb2.ProjectCreateRequest)
    assert step.request.upsert
    project = step.request.project
    assert (project.metadata.name, project.metadata.namespace, project.metadata.resource_version) == (
        "web",
        "",
        "",
    )
    assert list(project.spec.source_repos) == ["https://git.example.test/*"]
    assert project.spec.description == "the web team"
    assert step.notes == [
        "apiVersion argoproj.io/v1alpha1 -> ferrycd.io/v1alpha1",
        "not carried over: spec.signatureKeys",
        "not carried over: spec.sourceNamespaces",
    ]


def test_applications_go_to_the_server_without_status_or_server_managed_fields() -> None:
    [step] = plan([APP])
    assert isinstance(step.request, application_pb2.ApplicationCreateRequest)
    manifest = yaml.safe_load(step.request.manifest)
    assert "status" not in manifest
    assert manifest["metadata"] == {
        "name": "guestbook",
        "namespace": "argocd",
        "annotations": {"team": "web"},
    }
    assert manifest["spec"] == APP["spec"]
    assert step.request.validate


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("kind: [unclosed", "not YAML"),
        ("- just\n- a list\n", "every document must be a Kubernetes object or a List"),
        (yaml.safe_dump({**secret("x", "repository"), "data": {"url": "%%%"}}), "data.url is not base64"),
    ],
)
def test_unreadable_input_is_refused_naming_why(text: str, why: str) -> None:
    with pytest.raises(UnreadableExport, match=why):
        plan(read_objects(text))

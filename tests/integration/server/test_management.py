"""Repositories, clusters, projects and accounts over gRPC: stored credentials never come back,
a repository in use cannot be deleted, projects restrict applications, tokens are revocable."""

from __future__ import annotations

import base64
from collections.abc import Callable

import grpc
import pytest
import yaml
from kubernetes import client as k8s

from ferry.kube.config import ClusterConfig
from ferry.v1 import (
    account_pb2,
    application_pb2,
    cluster_pb2,
    project_pb2,
    repository_pb2,
    session_pb2,
    types_pb2,
    version_pb2,
)
from ferry_devenv.controlplane import ControlPlane
from ferry_devenv.gitrepo import GitRepo
from ferry_devenv.servers import HttpServer
from tests.conftest import CONTROL_NS, GIT_PASSWORD, GIT_USER, GROUP, VERSION, RunningServer
from tests.integration.reposerver.conftest import status_of
from tests.integration.server.conftest import Api
from tests.integration.server.test_smoke import app_message

CANARY = "CANARY-secret-0f9e8d7c6b"


def cm_repo(git_repo: Callable[[str], GitRepo], name: str) -> GitRepo:
    repo = git_repo(name)
    repo.commit(
        "app",
        {
            "app/cm.yaml": yaml.safe_dump(
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
            )
        },
    )
    return repo


def test_repository_credentials_never_come_back(
    admin: Api,
    git_http: HttpServer,
    git_repo: Callable[[str], GitRepo],
    server_process: RunningServer,
    kube: k8s.ApiClient,
) -> None:
    repo = cm_repo(git_repo, "private-repo")
    url = git_http.git_url(repo.name)
    wrong = types_pb2.Repository(repo=url, username=GIT_USER, password=CANARY)
    code, message = status_of(
        lambda: admin.call("repos", "CreateRepository", repository_pb2.RepoCreateRequest(repo=wrong))
    )
    assert code is grpc.StatusCode.FAILED_PRECONDITION
    assert "access denied" in message
    right = types_pb2.Repository(repo=url, username=GIT_USER, password=GIT_PASSWORD)
    created = admin.call("repos", "CreateRepository", repository_pb2.RepoCreateRequest(repo=right))
    assert created.has_credentials
    assert created.password == ""
    got = admin.call("repos", "Get", repository_pb2.RepoQuery(repo=url))
    assert got.connection_state.status == "Successful"
    assert got.password == ""
    listed = admin.call("repos", "ListRepositories", repository_pb2.RepoQuery())
    assert url in [r.repo for r in listed.items]
    # a second, failed attempt with the canary in every field a credential can hide in
    for attempt in (
        types_pb2.Repository(repo=url, password=CANARY, username=GIT_USER),
        types_pb2.Repository(repo=url, bearer_token=CANARY),
    ):
        status_of(
            lambda a=attempt: admin.call(
                "repos",
                "ValidateAccess",
                repository_pb2.RepoAccessQuery(
                    repo=a.repo, username=a.username, password=a.password, bearer_token=a.bearer_token
                ),
            )
        )
    refs = admin.call("repos", "ListRefs", repository_pb2.RepoQuery(repo=url))
    assert "main" in refs.branches
    for text in (str(created), str(got), str(listed), server_process.proc.log_path.read_text(), message):
        assert CANARY not in text
        assert GIT_PASSWORD not in text
    admin.call("repos", "DeleteRepository", repository_pb2.RepoQuery(repo=url))


def test_a_repository_in_use_cannot_be_deleted(
    admin: Api, git_repo: Callable[[str], GitRepo], namespace: str
) -> None:
    repo = cm_repo(git_repo, "used-repo")
    url = f"file://{repo.bare}"
    admin.call(
        "repos", "CreateRepository", repository_pb2.RepoCreateRequest(repo=types_pb2.Repository(repo=url))
    )
    admin.call(
        "apps",
        "Create",
        application_pb2.ApplicationCreateRequest(application=app_message("repo-user", repo, namespace)),
    )
    code, message = status_of(
        lambda: admin.call("repos", "DeleteRepository", repository_pb2.RepoQuery(repo=url))
    )
    assert code is grpc.StatusCode.FAILED_PRECONDITION
    assert "repo-user" in message
    admin.call("apps", "Delete", application_pb2.ApplicationDeleteRequest(name="repo-user", cascade=False))


def test_project_rules_reject_a_violating_app(
    admin: Api, git_repo: Callable[[str], GitRepo], namespace: str
) -> None:
    project = types_pb2.AppProject(
        metadata=types_pb2.ObjectMeta(name="narrow"),
        spec=types_pb2.AppProjectSpec(
            source_repos=["https://git.example.com/*"],
            destinations=[
                types_pb2.ApplicationDestination(
                    server="https://kubernetes.default.svc", namespace="only-here"
                )
            ],
        ),
    )
    admin.call("projects", "Create", project_pb2.ProjectCreateRequest(project=project, upsert=True))
    repo = cm_repo(git_repo, "narrow-app")
    app = app_message("narrow-app", repo, namespace)
    app.spec.project = "narrow"
    code, message = status_of(
        lambda: admin.call("apps", "Create", application_pb2.ApplicationCreateRequest(application=app))
    )
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert "not permitted in project 'narrow'" in message
    assert "do not match any of the allowed destinations" in message
    admin.call("projects", "Delete", project_pb2.ProjectQuery(name="narrow"))


def test_a_deleted_project_is_gone_at_once(admin: Api, kube: k8s.ApiClient) -> None:
    project = types_pb2.AppProject(
        metadata=types_pb2.ObjectMeta(name="short-lived"), spec=types_pb2.AppProjectSpec(source_repos=["*"])
    )
    admin.call("projects", "Create", project_pb2.ProjectCreateRequest(project=project))
    admin.call("projects", "Delete", project_pb2.ProjectQuery(name="short-lived"))
    # nothing depends on a project: no foreground deletion waiting on the garbage collector
    with pytest.raises(k8s.ApiException) as gone:
        k8s.CustomObjectsApi(kube).get_namespaced_custom_object(
            GROUP, VERSION, CONTROL_NS, "appprojects", "short-lived"
        )
    assert gone.value.status == 404
    listed = admin.call("projects", "List", project_pb2.ProjectQuery())
    assert "short-lived" not in [p.metadata.name for p in listed.items]


def test_default_project_cannot_be_deleted_while_used(
    admin: Api, git_repo: Callable[[str], GitRepo], namespace: str
) -> None:
    repo = cm_repo(git_repo, "keeps-default")
    admin.call(
        "apps",
        "Create",
        application_pb2.ApplicationCreateRequest(application=app_message("keeps-default", repo, namespace)),
    )
    code, message = status_of(
        lambda: admin.call("projects", "Delete", project_pb2.ProjectQuery(name="default"))
    )
    assert code is grpc.StatusCode.FAILED_PRECONDITION
    assert "keeps-default" in message
    admin.call(
        "apps", "Delete", application_pb2.ApplicationDeleteRequest(name="keeps-default", cascade=False)
    )


def test_project_role_tokens_work_until_deleted(
    admin: Api, kube: k8s.ApiClient, git_repo: Callable[[str], GitRepo], namespace: str
) -> None:
    project = types_pb2.AppProject(
        metadata=types_pb2.ObjectMeta(name="tokens"),
        spec=types_pb2.AppProjectSpec(
            source_repos=["*"],
            destinations=[types_pb2.ApplicationDestination(server="*", namespace="*")],
            roles=[
                types_pb2.ProjectRole(
                    name="reader", policies=["p, proj:tokens:reader, applications, get, tokens/*, allow"]
                )
            ],
        ),
    )
    admin.call("projects", "Create", project_pb2.ProjectCreateRequest(project=project, upsert=True))
    token = admin.call(
        "projects",
        "CreateToken",
        project_pb2.ProjectTokenCreateRequest(project="tokens", role="reader", id="t1"),
    ).token
    repo = cm_repo(git_repo, "token-apps")
    inside = app_message("in-tokens", repo, namespace)
    inside.spec.project = "tokens"
    outside = app_message("in-default", repo, namespace)
    for app in (inside, outside):
        admin.call("apps", "Create", application_pb2.ApplicationCreateRequest(application=app))
    listed = admin.call("apps", "List", application_pb2.ApplicationQuery(), token=token)
    assert [a.metadata.name for a in listed.items] == ["in-tokens"]  # its project's apps, no other
    for app in (inside, outside):
        admin.call(
            "apps", "Delete", application_pb2.ApplicationDeleteRequest(name=app.metadata.name, cascade=False)
        )
    admin.call(
        "projects",
        "DeleteToken",
        project_pb2.ProjectTokenDeleteRequest(project="tokens", role="reader", id="t1"),
    )
    code, _ = status_of(lambda: admin.call("apps", "List", application_pb2.ApplicationQuery(), token=token))
    assert code is grpc.StatusCode.UNAUTHENTICATED
    # a role cannot be granted more than its project's applications
    project.spec.roles[0].policies.append("p, proj:tokens:reader, clusters, delete, *, allow")
    code, message = status_of(
        lambda: admin.call("projects", "Update", project_pb2.ProjectUpdateRequest(project=project))
    )
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert "may only be granted applications or logs" in message
    admin.call("projects", "Delete", project_pb2.ProjectQuery(name="tokens"))


def test_accounts_passwords_and_api_tokens(admin: Api, kube: k8s.ApiClient) -> None:
    admin_token = admin.token
    accounts = {
        a.name: a for a in admin.call("accounts", "ListAccounts", account_pb2.ListAccountRequest()).items
    }
    assert {"admin", "alice", "robot"} <= set(accounts)
    assert sorted(accounts["robot"].capabilities) == ["apiKey", "login"]
    # admin resets another account's password without knowing it
    admin.call(
        "accounts",
        "UpdatePassword",
        account_pb2.UpdatePasswordRequest(name="alice", new_password="alice-password-1"),
    )
    alice = admin.login("alice", "alice-password-1")
    # alice changes her own: the current password is required
    code, _ = status_of(
        lambda: admin.call(
            "accounts",
            "UpdatePassword",
            account_pb2.UpdatePasswordRequest(new_password="alice-password-2", current_password="wrong"),
            token=alice,
        )
    )
    assert code is grpc.StatusCode.PERMISSION_DENIED
    code, message = status_of(
        lambda: admin.call(
            "accounts",
            "UpdatePassword",
            account_pb2.UpdatePasswordRequest(new_password="x" * 73, current_password="alice-password-1"),
            token=alice,
        )
    )
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert "72 bytes" in message
    assert (
        admin.call(
            "accounts",
            "CanI",
            account_pb2.CanIRequest(resource="applications", action="delete", subresource="default/x"),
            token=alice,
        ).value
        == "no"
    )
    assert (
        admin.call(
            "accounts",
            "CanI",
            account_pb2.CanIRequest(resource="applications", action="sync", subresource="default/x"),
            token=alice,
        ).value
        == "yes"
    )
    code, _ = status_of(
        lambda: admin.call(
            "accounts", "CreateToken", account_pb2.CreateTokenRequest(name="alice"), token=admin_token
        )
    )
    assert code is grpc.StatusCode.FAILED_PRECONDITION  # alice has no apiKey capability
    api_token = admin.call(
        "accounts",
        "CreateToken",
        account_pb2.CreateTokenRequest(name="robot", id="ci", expires_in=3600),
        token=admin_token,
    ).token
    assert (
        admin.call("sessions", "GetUserInfo", session_pb2.GetUserInfoRequest(), token=api_token).username
        == "robot"
    )
    admin.call(
        "accounts", "DeleteToken", account_pb2.DeleteTokenRequest(name="robot", id="ci"), token=admin_token
    )
    code, _ = status_of(
        lambda: admin.call("sessions", "GetUserInfo", session_pb2.GetUserInfoRequest(), token=api_token)
    )
    assert code is grpc.StatusCode.UNAUTHENTICATED


def test_clusters_in_cluster_listed_and_credentials_hidden(
    admin: Api, second_plane: ControlPlane, server_process: RunningServer
) -> None:
    listed = admin.call("clusters", "List", cluster_pb2.ClusterQuery())
    assert "https://kubernetes.default.svc" in [c.server for c in listed.items]
    target = ClusterConfig.from_kubeconfig(second_plane.kubeconfig)
    cluster = cluster_pb2.Cluster(
        server=target.server,
        name="second",
        config=cluster_pb2.ClusterConfig(
            bearer_token=target.token,
            tls_client_config=cluster_pb2.TLSClientConfig(ca_data=base64.b64encode(target.ca_data).decode()),
        ),
    )
    created = admin.call("clusters", "Create", cluster_pb2.ClusterCreateRequest(cluster=cluster))
    assert created.info.connection_state.status == "Successful"
    assert created.info.server_version.startswith("v1.")
    assert created.config.bearer_token == ""
    assert created.has_credentials
    got = admin.call("clusters", "Get", cluster_pb2.ClusterQuery(server=target.server))
    assert got.name == "second"
    assert target.token not in str(got) + str(admin.call("clusters", "List", cluster_pb2.ClusterQuery()))
    assert target.token not in server_process.proc.log_path.read_text()
    admin.call("clusters", "Delete", cluster_pb2.ClusterQuery(server=target.server))


def test_version_and_settings_need_no_login(api: Api) -> None:
    version = api.call("version", "Version", version_pb2.VersionRequest(), token="")
    assert version.version.startswith("v0.")
    assert version.python_version.startswith("3.")
    settings = api.call("settings", "Get", version_pb2.SettingsQuery(), token="")
    assert settings.app_label_key == "ferrycd.io/instance"


@pytest.fixture(autouse=True)
def _no_leftover_secrets(kube: k8s.ApiClient) -> None:
    """Each test starts without repository or cluster secrets from earlier tests."""
    core = k8s.CoreV1Api(kube)
    for secret in core.list_namespaced_secret(CONTROL_NS, label_selector="ferrycd.io/secret-type").to_dict()[
        "items"
    ]:
        core.delete_namespaced_secret(secret["metadata"]["name"], CONTROL_NS)

"""The tenancy matrix: two teams, each an AppProject with its own namespace, repository (with
project-scoped credentials), application and admin account, try every cross-tenant move through
gRPC and REST. Each move ends in its exact status code, and reads of the cluster afterwards show
that nothing was written. Covers security review findings 4 (objects naming a foreign
namespace), 5 (RBAC injection through project roles, frozen and broken policies), 11 (Secret
values in GetManifests and the other reads), 12 (events of foreign objects) and 21 (Create
parsing a manifest before RBAC).

Everything runs against the session's real ferry-server, ferry-controller and ferry-reposerver
processes on a real kube-apiserver; the teams' repositories are served over Git smart HTTP with
basic auth."""

from __future__ import annotations

import base64
import copy
import json
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import grpc
import pytest
import yaml
from google.protobuf import json_format
from kubernetes import client as k8s

from ferry.v1 import account_pb2, application_pb2, project_pb2, repository_pb2, types_pb2
from ferry_devenv.controlplane import ControlPlane
from ferry_devenv.gitrepo import GitRepo
from ferry_devenv.process import free_port
from ferry_devenv.servers import HttpServer
from tests.conftest import CONTROL_NS, GIT_PASSWORD, GIT_USER, GROUP, VERSION, RunningServer
from tests.e2e.conftest import Deployed
from tests.integration.server.conftest import Api, admin_password, upsert_configmap
from tests.integration.server.test_authorization import set_password
from tests.integration.server.test_rest import Http

IN_CLUSTER = "https://kubernetes.default.svc"
OK = grpc.StatusCode.OK
DENIED = grpc.StatusCode.PERMISSION_DENIED
INVALID = grpc.StatusCode.INVALID_ARGUMENT
MISSING = grpc.StatusCode.NOT_FOUND
HTTP_STATUS = {OK: 200, DENIED: 403, INVALID: 400, MISSING: 404}
PASSWORD = "tenant-password-123"
VIEWER = "viewer"  # read-only everywhere (role:readonly in the server tests' policy)


def secret_value(team: str) -> str:
    return f"{team}-secret-value-7f3a"


@dataclass
class Team:
    key: str  # "a" or "b"
    project: str
    namespace: str
    repo: GitRepo
    url: str
    user: str
    app: str
    token: str = ""

    @property
    def config(self) -> str:
        return f"{self.key}-config"


@dataclass
class Tenancy:
    kube: k8s.ApiClient
    server: RunningServer
    api: Api
    rest: Http
    a: Team
    b: Team
    admin: str
    viewer: str
    policy: str  # the ferry-rbac-cm policy.csv the teams' grants are in
    base_settings: dict[str, str] = field(default_factory=dict)

    def pairs(self) -> list[tuple[Team, Team]]:
        return [(self.a, self.b), (self.b, self.a)]


# --- helpers ------------------------------------------------------------------------------------------


def wait_for(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.25)


def grpc_code(call: Callable[[], Any]) -> tuple[grpc.StatusCode, Any]:
    try:
        return OK, call()
    except grpc.RpcError as err:
        return err.code(), err.details()


def login(api: Api, user: str, password: str) -> str:
    def attempt() -> str:
        code, token = grpc_code(lambda: api.login(user, password))
        return str(token) if code is OK else ""

    return str(wait_for(attempt, f"{user} to log in (the server's watch of ferry-secret)"))


def app_json(name: str, project: str, url: str, namespace: str, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "project": project,
            "source": {"repoURL": url, "path": "app", "targetRevision": "HEAD"},
            "destination": {"server": IN_CLUSTER, "namespace": namespace},
            **spec,
        },
    }


def team_files(team: Team) -> dict[str, str]:
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": team.config},
        "data": {"v": "1"},
    }
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": f"{team.key}-secret"},
        "stringData": {"password": secret_value(team.key)},
    }
    return {"app/config.yaml": yaml.safe_dump(configmap), "app/secret.yaml": yaml.safe_dump(secret)}


def project_json(team: Team) -> dict[str, Any]:
    return {
        "metadata": {"name": team.project},
        "spec": {
            "sourceRepos": [team.url],
            "destinations": [{"server": IN_CLUSTER, "namespace": team.namespace}],
            "namespaceResourceWhitelist": [
                {"group": "", "kind": "ConfigMap"},
                {"group": "", "kind": "Secret"},
            ],
            "roles": [
                {
                    "name": "dev",
                    "policies": [f"p, proj:{team.project}:dev, applications, get, {team.project}/*, allow"],
                    "groups": [f"{team.project}-devs"],
                }
            ],
        },
    }


def team_policy(team: Team) -> str:
    role = f"role:{team.project}-admin"
    return "\n".join(
        [
            f"p, {role}, applications, *, {team.project}/*, allow",
            f"p, {role}, logs, get, {team.project}/*, allow",
            f"p, {role}, projects, get, {team.project}, allow",
            f"p, {role}, projects, update, {team.project}, allow",
            f"p, {role}, repositories, get, {team.url}, allow",
            f"g, {team.user}, {role}",
        ]
    )


def app_state(t: Tenancy, name: str) -> dict[str, Any]:
    app = k8s.CustomObjectsApi(t.kube).get_namespaced_custom_object(
        GROUP, VERSION, CONTROL_NS, "applications", name
    )
    assert isinstance(app, dict)
    return app


def operation_state(t: Tenancy, name: str) -> dict[str, Any]:
    state: dict[str, Any] = (app_state(t, name).get("status") or {}).get("operationState") or {}
    return state


def wait_operation(t: Tenancy, name: str, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """The app's operation state once an operation other than ``previous`` has finished."""

    def done() -> dict[str, Any] | None:
        app = app_state(t, name)
        state = (app.get("status") or {}).get("operationState") or {}
        if app.get("operation") or state.get("phase") not in ("Succeeded", "Failed", "Error"):
            return None
        return state if state != previous else None

    result: dict[str, Any] = wait_for(done, f"the operation of {name}", timeout=120)
    return result


def cluster_state(t: Tenancy) -> dict[str, Any]:
    """What a cross-tenant move must not change, read straight from the API server."""
    custom = k8s.CustomObjectsApi(t.kube)
    core = k8s.CoreV1Api(t.kube)
    apps = cast(
        dict[str, Any], custom.list_namespaced_custom_object(GROUP, VERSION, CONTROL_NS, "applications")
    )
    projects = cast(
        dict[str, Any], custom.list_namespaced_custom_object(GROUP, VERSION, CONTROL_NS, "appprojects")
    )
    state: dict[str, Any] = {
        "apps": {a["metadata"]["name"]: a.get("spec") for a in apps["items"]},
        "projects": {p["metadata"]["name"]: p.get("spec") for p in projects["items"]},
    }
    for namespace in (t.a.namespace, t.b.namespace, "kube-system"):
        state[f"configmaps/{namespace}"] = {
            c.metadata.name: c.data for c in core.list_namespaced_config_map(namespace).items if c.metadata
        }
        state[f"secrets/{namespace}"] = {
            s.metadata.name: s.data for s in core.list_namespaced_secret(namespace).items if s.metadata
        }
        meta = core.read_namespace(namespace).metadata
        state[f"namespace/{namespace}"] = (meta.labels, meta.annotations) if meta else None
    return state


@dataclass
class Move:
    """One request, sent by gRPC and by REST, and the code it must end in."""

    what: str
    service: str
    method: str
    request: Any  # a request message (gRPC)
    http: tuple[str, str, Any]  # verb, path (with query), body (REST)
    code: grpc.StatusCode


def run(t: Tenancy, move: Move, token: str) -> list[str]:
    """What went wrong with ``move`` (nothing when both transports gave its code)."""
    wrong = []
    if move.method == "PodLogs":
        stub = t.api.apps

        def call() -> Any:
            stream = stub.PodLogs(move.request, metadata=t.api.meta(token), timeout=30)
            first = next(stream)
            stream.cancel()
            return first

        code, details = grpc_code(call)
    else:
        code, details = grpc_code(lambda: t.api.call(move.service, move.method, move.request, token=token))
    if code is not move.code:
        wrong.append(f"gRPC {move.what}: {code.name} ({details}), want {move.code.name}")
    verb, path, body = move.http
    status, answer = t.rest.request(verb, path, body, token=token)
    want_code = move.code.value[0]
    got_code = answer.get("code", 0) if isinstance(answer, dict) else 0
    if status != HTTP_STATUS[move.code] or (move.code is not OK and got_code != want_code):
        wrong.append(
            f"REST {move.what}: HTTP {status} {answer}, want {HTTP_STATUS[move.code]} code {want_code}"
        )
    return wrong


def query(**params: str) -> str:
    return urllib.parse.urlencode(params)


# --- the two teams ------------------------------------------------------------------------------------


def allow_secret_reads(kube: k8s.ApiClient, namespace: str) -> None:
    """What an operator does for a team namespace whose Secrets ferry-server should diff (deploy/
    ships ferry-server-secret-reader for it; e2e suffixes cluster-scoped names)."""
    rbac = k8s.RbacAuthorizationV1Api(kube)
    readers = [
        str(r.metadata.name)
        for r in rbac.list_cluster_role().items
        if r.metadata and str(r.metadata.name).startswith("ferry-server-secret-reader")
    ]
    for reader in readers:
        binding: Any = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": reader, "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": reader},
            "subjects": [{"kind": "ServiceAccount", "name": "ferry-server", "namespace": CONTROL_NS}],
        }
        rbac.create_namespaced_role_binding(namespace, binding)


@pytest.fixture(scope="module")
def tenancy(
    server_process: RunningServer,
    kube: k8s.ApiClient,
    git_root: Path,
    git_http: HttpServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Tenancy]:
    uid = uuid.uuid4().hex[:6]
    core = k8s.CoreV1Api(kube)
    teams = []
    for key in ("a", "b"):
        repo = GitRepo(git_root, f"tenant-{key}-{uid}")
        team = Team(
            key=key,
            project=f"team-{key}-{uid}",
            namespace=f"tenant-{key}-{uid}",
            repo=repo,
            url=git_http.git_url(repo.name),
            user=f"tenant-{key}",
            app=f"app-{key}-{uid}",
        )
        repo.commit("the team's app", team_files(team))
        core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=team.namespace)))
        allow_secret_reads(kube, team.namespace)
        teams.append(team)
    a, b = teams
    settings = dict(core.read_namespaced_config_map("ferry-cm", CONTROL_NS).data or {})
    rbac = dict(core.read_namespaced_config_map("ferry-rbac-cm", CONTROL_NS).data or {})
    upsert_configmap(
        kube, "ferry-cm", {**settings, "accounts.tenant-a": "login", "accounts.tenant-b": "login"}
    )
    policy = "\n".join([rbac.get("policy.csv", ""), team_policy(a), team_policy(b)])
    upsert_configmap(kube, "ferry-rbac-cm", {**rbac, "policy.csv": policy})
    for user in (a.user, b.user, VIEWER):
        set_password(kube, user, PASSWORD)
    api = Api(server_process, kube)
    rest = Http(server_process, kube, tmp_path_factory.mktemp("tenancy"))
    admin = login(api, "admin", admin_password(kube))
    for team in teams:
        credentials = types_pb2.Repository(
            repo=team.url, username=GIT_USER, password=GIT_PASSWORD, project=team.project
        )
        add = repository_pb2.RepoCreateRequest(repo=credentials, upsert=True)
        api.call("repos", "CreateRepository", add, token=admin)
        project = json_format.ParseDict(project_json(team), types_pb2.AppProject())
        api.call("projects", "Create", project_pb2.ProjectCreateRequest(project=project), token=admin)
    t = Tenancy(kube, server_process, api, rest, a, b, admin, login(api, VIEWER, PASSWORD), policy, settings)
    for team in teams:
        team.token = login(api, team.user, PASSWORD)
        message = json_format.ParseDict(
            app_json(team.app, team.project, team.url, team.namespace), types_pb2.Application()
        )
        api.call("apps", "Create", application_pb2.ApplicationCreateRequest(application=message), token=admin)
        api.call("apps", "Sync", application_pb2.ApplicationSyncRequest(name=team.app), token=team.token)
    for team in teams:
        assert wait_operation(t, team.app)["phase"] == "Succeeded"
    yield t
    for team in teams:
        api.call("apps", "Delete", application_pb2.ApplicationDeleteRequest(name=team.app), token=admin)
    for team in teams:
        wait_for(
            lambda: all(gone.app not in cluster_state(t)["apps"] for gone in teams),
            "the apps to be deleted",
            120,
        )
        api.call("projects", "Delete", project_pb2.ProjectQuery(name=team.project), token=admin)
        api.call("repos", "DeleteRepository", repository_pb2.RepoQuery(repo=team.url), token=admin)
        core.delete_namespace(team.namespace)
        team.repo.cleanup()
    upsert_configmap(kube, "ferry-cm", settings)
    upsert_configmap(kube, "ferry-rbac-cm", rbac)
    api.close()


# --- the moves ----------------------------------------------------------------------------------------


def cross_tenant_moves(me: Team, other: Team) -> list[Move]:
    apps = "/api/v1/applications"
    theirs = f"{apps}/{other.app}"
    mine = f"{apps}/{me.app}"
    into_other_project = app_json(me.app, other.project, me.url, me.namespace)
    other_project = project_json(other)
    return [
        Move(
            "get their app",
            "apps",
            "Get",
            application_pb2.ApplicationQuery(name=other.app),
            ("GET", theirs, None),
            DENIED,
        ),
        Move(
            "sync their app",
            "apps",
            "Sync",
            application_pb2.ApplicationSyncRequest(name=other.app),
            ("POST", f"{theirs}/sync", {}),
            DENIED,
        ),
        Move(
            "delete their app",
            "apps",
            "Delete",
            application_pb2.ApplicationDeleteRequest(name=other.app, cascade=False),
            ("DELETE", f"{theirs}?cascade=false", None),
            DENIED,
        ),
        Move(
            "read their manifests",
            "apps",
            "GetManifests",
            application_pb2.ApplicationManifestQuery(name=other.app),
            ("GET", f"{theirs}/manifests", None),
            DENIED,
        ),
        Move(
            "read their diffs",
            "apps",
            "ManagedResources",
            application_pb2.ResourcesQuery(application_name=other.app),
            ("GET", f"{theirs}/managed-resources", None),
            DENIED,
        ),
        Move(
            "read their tree",
            "apps",
            "ResourceTree",
            application_pb2.ResourcesQuery(application_name=other.app),
            ("GET", f"{theirs}/resource-tree", None),
            DENIED,
        ),
        Move(
            "read their live object",
            "apps",
            "GetResource",
            application_pb2.ApplicationResourceRequest(
                name=other.app,
                namespace=other.namespace,
                resource_name=other.config,
                kind="ConfigMap",
                version="v1",
            ),
            (
                "GET",
                f"{theirs}/resource?"
                + query(namespace=other.namespace, resourceName=other.config, kind="ConfigMap", version="v1"),
                None,
            ),
            DENIED,
        ),
        Move(
            "read their events",
            "apps",
            "ListResourceEvents",
            application_pb2.ApplicationResourceEventsQuery(name=other.app),
            ("GET", f"{theirs}/events", None),
            DENIED,
        ),
        Move(
            "read their logs",
            "apps",
            "PodLogs",
            application_pb2.ApplicationPodLogsQuery(name=other.app),
            ("GET", f"{theirs}/logs", None),
            DENIED,
        ),
        Move(
            "create an app in their project",
            "apps",
            "Create",
            application_pb2.ApplicationCreateRequest(
                application=json_format.ParseDict(
                    app_json(f"{me.key}-intruder", other.project, other.url, other.namespace),
                    types_pb2.Application(),
                )
            ),
            ("POST", apps, app_json(f"{me.key}-intruder", other.project, other.url, other.namespace)),
            DENIED,
        ),
        Move(
            "create an app aimed at their namespace",
            "apps",
            "Create",
            application_pb2.ApplicationCreateRequest(
                application=json_format.ParseDict(
                    app_json(f"{me.key}-aimed", me.project, me.url, other.namespace), types_pb2.Application()
                )
            ),
            ("POST", apps, app_json(f"{me.key}-aimed", me.project, me.url, other.namespace)),
            INVALID,
        ),
        Move(
            "create an app from their repository",
            "apps",
            "Create",
            application_pb2.ApplicationCreateRequest(
                application=json_format.ParseDict(
                    app_json(f"{me.key}-borrowed", me.project, other.url, me.namespace),
                    types_pb2.Application(),
                )
            ),
            ("POST", apps, app_json(f"{me.key}-borrowed", me.project, other.url, me.namespace)),
            INVALID,
        ),
        Move(
            "create an app in their project from a manifest",
            "apps",
            "Create",
            application_pb2.ApplicationCreateRequest(
                manifest=yaml.safe_dump(
                    app_json(f"{me.key}-manifest", other.project, other.url, other.namespace)
                )
            ),
            (
                "POST",
                f"{apps}?"
                + query(
                    manifest=json.dumps(
                        app_json(f"{me.key}-manifest", other.project, other.url, other.namespace)
                    )
                ),
                {},
            ),
            DENIED,
        ),
        Move(
            "move my app into their project",
            "apps",
            "Update",
            application_pb2.ApplicationUpdateRequest(
                application=json_format.ParseDict(into_other_project, types_pb2.Application())
            ),
            ("PUT", mine, into_other_project),
            DENIED,
        ),
        Move(
            "point my app at their namespace",
            "apps",
            "UpdateSpec",
            application_pb2.ApplicationUpdateSpecRequest(
                name=me.app,
                spec=json_format.ParseDict(
                    app_json(me.app, me.project, me.url, other.namespace)["spec"], types_pb2.ApplicationSpec()
                ),
            ),
            ("PUT", f"{mine}/spec", app_json(me.app, me.project, me.url, other.namespace)["spec"]),
            INVALID,
        ),
        Move(
            "patch my app onto their namespace",
            "apps",
            "Patch",
            application_pb2.ApplicationPatchRequest(
                name=me.app,
                patch=json.dumps({"spec": {"destination": {"namespace": other.namespace}}}),
                patch_type="merge",
            ),
            (
                "PATCH",
                mine,
                {
                    "patch": json.dumps({"spec": {"destination": {"namespace": other.namespace}}}),
                    "patchType": "merge",
                },
            ),
            INVALID,
        ),
        Move(
            "change their project",
            "projects",
            "Update",
            project_pb2.ProjectUpdateRequest(
                project=json_format.ParseDict(other_project, types_pb2.AppProject())
            ),
            ("PUT", f"/api/v1/projects/{other.project}", {"project": other_project}),
            DENIED,
        ),
        Move(
            "delete their project",
            "projects",
            "Delete",
            project_pb2.ProjectQuery(name=other.project),
            ("DELETE", f"/api/v1/projects/{other.project}", None),
            DENIED,
        ),
        Move(
            "read their live object through my app (finding 4)",
            "apps",
            "GetResource",
            application_pb2.ApplicationResourceRequest(
                name=me.app,
                namespace=other.namespace,
                resource_name=other.config,
                kind="ConfigMap",
                version="v1",
            ),
            (
                "GET",
                f"{mine}/resource?"
                + query(namespace=other.namespace, resourceName=other.config, kind="ConfigMap", version="v1"),
                None,
            ),
            DENIED,
        ),
        Move(
            "read their object's events through my app (finding 12)",
            "apps",
            "ListResourceEvents",
            application_pb2.ApplicationResourceEventsQuery(
                name=me.app, resource_name=other.config, resource_namespace=other.namespace
            ),
            (
                "GET",
                f"{mine}/events?" + query(resourceName=other.config, resourceNamespace=other.namespace),
                None,
            ),
            MISSING,
        ),
        Move(
            "read their object's events through my app, any namespace (finding 12)",
            "apps",
            "ListResourceEvents",
            application_pb2.ApplicationResourceEventsQuery(name=me.app, resource_name=other.config),
            ("GET", f"{mine}/events?" + query(resourceName=other.config), None),
            MISSING,
        ),
        Move(
            "read their pod's logs through my app",
            "apps",
            "PodLogs",
            application_pb2.ApplicationPodLogsQuery(name=me.app, namespace=other.namespace, pod_name="any"),
            ("GET", f"{mine}/pods/any/logs?" + query(namespace=other.namespace), None),
            MISSING,
        ),
    ]


def event(namespace: str, involved: k8s.V1ObjectReference, reason: str) -> k8s.CoreV1Event:
    return k8s.CoreV1Event(
        metadata=k8s.V1ObjectMeta(name=f"{involved.name}.{uuid.uuid4().hex[:8]}", namespace=namespace),
        involved_object=involved,
        reason=reason,
        message=f"{reason} for the tenancy matrix",
        type="Normal",
    )


def test_every_cross_tenant_move_is_refused_and_writes_nothing(tenancy: Tenancy) -> None:
    t = tenancy
    core = k8s.CoreV1Api(t.kube)
    # an event of each team's ConfigMap, so a read of foreign events would find something
    for team in (t.a, t.b):
        meta = core.read_namespaced_config_map(team.config, team.namespace).metadata
        uid = meta.uid if meta else None
        involved = k8s.V1ObjectReference(
            kind="ConfigMap", name=team.config, namespace=team.namespace, uid=uid
        )
        core.create_namespaced_event(
            team.namespace, event(team.namespace, involved, f"Probe{team.key.upper()}")
        )
    before = cluster_state(t)
    wrong = []
    for me, other in t.pairs():
        for move in cross_tenant_moves(me, other):
            wrong += [f"{me.user}: {w}" for w in run(t, move, me.token)]
    assert not wrong, "\n".join(wrong)
    assert cluster_state(t) == before
    # a team still reads its own object's events (and only that object's)
    own = t.api.call(
        "apps",
        "ListResourceEvents",
        application_pb2.ApplicationResourceEventsQuery(
            name=t.a.app, resource_name=t.a.config, resource_namespace=t.a.namespace
        ),
        token=t.a.token,
    )
    assert [e.reason for e in own.items] == ["ProbeA"]
    assert t.server.metric("grpc_server_handled_total", grpc_code="INTERNAL") == 0


def test_an_object_naming_another_teams_namespace_is_never_applied_nor_read(tenancy: Tenancy) -> None:
    """Finding 4: a push to team a's repository names team b's ConfigMap and kube-system."""
    t = tenancy
    me, other = t.a, t.b
    core = k8s.CoreV1Api(t.kube)
    theirs_before = core.read_namespaced_config_map(other.config, other.namespace).data
    hijack = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": other.config, "namespace": other.namespace},
        "data": {"v": "hijacked"},
    }
    probe = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"ns-bypass-probe-{me.project}", "namespace": "kube-system"},
        "data": {"a": "1"},
    }

    def conditions() -> list[str]:
        found = (app_state(t, me.app).get("status") or {}).get("conditions") or []
        return sorted(c["message"] for c in found if c["type"] == "InvalidSpecError")

    me.repo.commit(
        "objects in foreign namespaces",
        {"app/hijack.yaml": yaml.safe_dump(hijack), "app/probe.yaml": yaml.safe_dump(probe)},
    )
    try:
        refusals = sorted(
            [
                f"namespace {other.namespace} is not permitted in project '{me.project}'",
                f"namespace kube-system is not permitted in project '{me.project}'",
            ]
        )

        t.api.call(
            "apps", "Get", application_pb2.ApplicationQuery(name=me.app, refresh="normal"), token=me.token
        )
        wait_for(lambda: conditions() == refusals, "the not-permitted conditions")
        before = cluster_state(t)
        previous = operation_state(t, me.app)
        t.api.call(
            "apps", "Sync", application_pb2.ApplicationSyncRequest(name=me.app, prune=True), token=me.token
        )
        state = wait_operation(t, me.app, previous)
        assert state["phase"] == "Failed"
        assert state["message"] == "one or more synchronization tasks are not valid"
        assert sorted(r["message"] for r in state["syncResult"]["resources"]) == refusals
        status, _ = t.rest.request("POST", f"/api/v1/applications/{me.app}/sync", {}, token=me.token)
        assert status == 200
        state = wait_operation(t, me.app, state)
        assert state["phase"] == "Failed"
        assert cluster_state(t) == before
        assert core.read_namespaced_config_map(other.config, other.namespace).data == theirs_before
        # reads through the app do not reach the foreign object either
        wrong = run(
            t,
            Move(
                "read the refused object",
                "apps",
                "GetResource",
                application_pb2.ApplicationResourceRequest(
                    name=me.app,
                    namespace=other.namespace,
                    resource_name=other.config,
                    kind="ConfigMap",
                    version="v1",
                ),
                (
                    "GET",
                    f"/api/v1/applications/{me.app}/resource?"
                    + query(
                        namespace=other.namespace, resourceName=other.config, kind="ConfigMap", version="v1"
                    ),
                    None,
                ),
                DENIED,
            ),
            me.token,
        )
        assert not wrong, wrong
        items = t.api.call(
            "apps",
            "ManagedResources",
            application_pb2.ResourcesQuery(application_name=me.app),
            token=me.token,
        ).items
        [refused] = [i for i in items if i.namespace == other.namespace]
        assert refused.live_state == ""
        _, listed = t.rest.request("GET", f"/api/v1/applications/{me.app}/managed-resources", token=me.token)
        assert [i.get("liveState", "") for i in listed["items"] if i["namespace"] == other.namespace] == [""]
    finally:
        me.repo.commit("back to the team's own objects", {"app/hijack.yaml": None, "app/probe.yaml": None})
        t.api.call(
            "apps", "Get", application_pb2.ApplicationQuery(name=me.app, refresh="normal"), token=me.token
        )
        wait_for(lambda: not conditions(), "the conditions to clear")


def test_a_project_admin_cannot_write_policy_lines(tenancy: Tenancy) -> None:
    """Finding 5: a project admin's role groups, names and policies cannot add RBAC lines."""
    t = tenancy
    me = t.a
    injection = f"nobody, proj:{me.project}:dev\ng, {me.user}, role:admin\n#"
    attempts = {
        "a group that ends the line": {"name": "dev", "groups": [injection]},
        "a role name that ends the line": {"name": f"dev\ng, {me.user}, role:admin", "groups": ["x"]},
        "a group with a comma": {"name": "dev", "groups": ["x, role:admin"]},
        "a policy with a newline": {
            "name": "dev",
            "policies": [f"p, proj:{me.project}:dev, applications, get, {me.project}/x\ng"],
        },
    }
    before = cluster_state(t)
    wrong = []
    for what, role in attempts.items():
        project = copy.deepcopy(project_json(me))
        project["spec"]["roles"] = [role]
        move = Move(
            what,
            "projects",
            "Update",
            project_pb2.ProjectUpdateRequest(project=json_format.ParseDict(project, types_pb2.AppProject())),
            ("PUT", f"/api/v1/projects/{me.project}", {"project": project}),
            INVALID,
        )
        wrong += run(t, move, me.token)
    assert not wrong, "\n".join(wrong)
    assert cluster_state(t) == before
    can_i = t.api.call(
        "accounts",
        "CanI",
        account_pb2.CanIRequest(resource="clusters", action="delete", subresource="x"),
        token=me.token,
    )
    assert can_i.value == "no"
    _, answer = t.rest.request("GET", "/api/v1/account/can-i/clusters/delete/x", token=me.token)
    assert answer == {"value": "no"}


def can_i(t: Tenancy, token: str, resource: str, action: str, obj: str) -> str:
    request = account_pb2.CanIRequest(resource=resource, action=action, subresource=obj)
    return str(t.api.call("accounts", "CanI", request, token=token).value)


def set_policy(t: Tenancy, policy: str) -> None:
    rbac = dict(k8s.CoreV1Api(t.kube).read_namespaced_config_map("ferry-rbac-cm", CONTROL_NS).data or {})
    upsert_configmap(t.kube, "ferry-rbac-cm", {**rbac, "policy.csv": policy})


def test_hand_edited_projects_and_policies_neither_inject_nor_freeze_rbac(
    tenancy: Tenancy, deployed: Deployed, control_plane: ControlPlane, reposerver_process: RunningServer
) -> None:
    """Finding 5 from the cluster side: a project edited around the API (kubectl) loses only its
    bad entries, revocations still take effect, and a broken ferry-rbac-cm keeps the last good
    policy and says so — or allows only the built-in admin on a fresh start."""
    t = tenancy
    me, mallory = t.a, t.b
    grant = f"p, {mallory.user}, clusters, get, *, allow"
    set_policy(t, f"{t.policy}\n{grant}")
    wait_for(lambda: can_i(t, mallory.token, "clusters", "get", "x") == "yes", "the grant")
    custom = k8s.CustomObjectsApi(t.kube)
    role = {
        "name": "dev",
        "policies": [
            f"p, proj:{me.project}:dev, applications, get, {me.project}/*, allow",
            f"p, proj:{me.project}:dev, applications, get, {me.project}/x\ng",
        ],
        # mallory's own name is a fair group (it lets us see the server compiled this project)
        "groups": [mallory.user, f"nobody, proj:{me.project}:dev\ng, {mallory.user}, role:admin\n#"],
    }
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, CONTROL_NS, "appprojects", me.project, {"spec": {"roles": [role]}}
    )
    errors_before = t.server.metric("ferry_rbac_policy_load_errors_total", source="appproject")
    try:
        wait_for(
            lambda: can_i(t, mallory.token, "applications", "get", f"{me.project}/{me.app}") == "yes",
            "the hand-edited project's valid entries",
        )
        assert can_i(t, mallory.token, "clusters", "delete", "x") == "no"
        assert t.server.metric("ferry_rbac_policy_load_errors_total", source="appproject") > errors_before
        # the newline policy did not freeze RBAC: removing the grant takes effect
        set_policy(t, t.policy)
        wait_for(lambda: can_i(t, mallory.token, "clusters", "get", "x") == "no", "the revocation")

        # a broken ferry-rbac-cm: the last good policy stays, and the server says so
        set_policy(t, f"{t.policy}\n{grant}")
        wait_for(lambda: can_i(t, mallory.token, "clusters", "get", "x") == "yes", "the grant again")
        broken_before = t.server.metric("ferry_rbac_policy_load_errors_total", source="ferry-rbac-cm")
        set_policy(t, f"{t.policy}\np, {mallory.user}, clusters, get\nthis is not a policy line")
        wait_for(lambda: policy_valid(t, t.server) == 0, "the alert")
        assert (
            t.server.metric("ferry_rbac_policy_load_errors_total", source="ferry-rbac-cm")
            == broken_before + 1
        )
        assert can_i(t, mallory.token, "clusters", "get", "x") == "yes"  # the last good policy
        assert can_i(t, me.token, "applications", "get", f"{me.project}/{me.app}") == "yes"

        # a server started on the broken policy: the built-in admin only
        fresh = deployed.server(control_plane, CONTROL_NS, reposerver_process.address, http_port=free_port())
        try:
            api = Api(fresh, t.kube)
            try:
                code, _ = grpc_code(
                    lambda: api.call(
                        "apps", "Get", application_pb2.ApplicationQuery(name=me.app), token=me.token
                    )
                )
                assert code is DENIED
                request = account_pb2.CanIRequest(resource="clusters", action="delete", subresource="x")
                assert api.call("accounts", "CanI", request, token=t.admin).value == "yes"
                assert fresh.metric("ferry_rbac_policy_valid") == 0
            finally:
                api.close()
        finally:
            fresh.stop()
    finally:
        set_policy(t, t.policy)
        wait_for(lambda: policy_valid(t, t.server) == 1, "the policy to be valid again")
        custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            CONTROL_NS,
            "appprojects",
            me.project,
            {"spec": {"roles": project_json(me)["spec"]["roles"]}},
        )
    assert can_i(t, mallory.token, "clusters", "get", "x") == "no"


def policy_valid(t: Tenancy, server: RunningServer) -> float:
    """ferry_rbac_policy_valid after a request (the server compiles the policy when it checks one)."""
    can_i(t, t.admin, "clusters", "get", "x")
    return server.metric("ferry_rbac_policy_valid")


def test_secret_values_never_leave_in_clear(tenancy: Tenancy) -> None:
    """Finding 11: manifests, diffs and live objects show Secret values masked, to the team and to
    a read-only user, over gRPC and REST."""
    t = tenancy
    me = t.a
    value = secret_value(me.key)
    encoded = base64.b64encode(value.encode()).decode()
    secret_name = f"{me.key}-secret"
    for token in (me.token, t.viewer):
        manifests = t.api.call(
            "apps", "GetManifests", application_pb2.ApplicationManifestQuery(name=me.app), token=token
        )
        [secret] = [json.loads(m) for m in manifests.manifests if json.loads(m)["kind"] == "Secret"]
        assert secret["data"] == {"password": "++++++++"}
        assert "stringData" not in secret
        managed = t.api.call(
            "apps", "ManagedResources", application_pb2.ResourcesQuery(application_name=me.app), token=token
        )
        resource = t.api.call(
            "apps",
            "GetResource",
            application_pb2.ApplicationResourceRequest(
                name=me.app, namespace=me.namespace, resource_name=secret_name, kind="Secret", version="v1"
            ),
            token=token,
        )
        assert json.loads(resource.manifest)["data"] == {"password": "++++++++"}
        shown = [
            json_format.MessageToJson(manifests),
            json_format.MessageToJson(managed),
            resource.manifest,
        ]
        live = query(namespace=me.namespace, resourceName=secret_name, kind="Secret", version="v1")
        for path in ("manifests", "managed-resources", f"resource?{live}"):
            status, body = t.rest.request("GET", f"/api/v1/applications/{me.app}/{path}", token=token)
            assert status == 200, body
            shown.append(json.dumps(body))
        for text in shown:
            assert value not in text
            assert encoded not in text


def test_create_checks_rbac_before_reading_a_manifest(tenancy: Tenancy) -> None:
    """Finding 21: a caller who may create no application gets PERMISSION_DENIED before the server
    parses its manifest, and nobody makes it parse more than 1 MiB."""
    t = tenancy
    before = cluster_state(t)
    garbage = "{not: [yaml" * 1000
    move = Move(
        "a read-only user's unparsable manifest",
        "apps",
        "Create",
        application_pb2.ApplicationCreateRequest(manifest=garbage),
        ("POST", "/api/v1/applications?" + query(manifest=garbage[:2000]), {}),
        DENIED,
    )
    wrong = run(t, move, t.viewer)
    assert not wrong, wrong
    big = app_json(f"{t.a.key}-big", t.a.project, t.a.url, t.a.namespace)
    big["metadata"]["annotations"] = {"filler": "x" * (1024 * 1024 + 1)}
    code, details = grpc_code(
        lambda: t.api.call(
            "apps",
            "Create",
            application_pb2.ApplicationCreateRequest(manifest=json.dumps(big)),
            token=t.a.token,
        )
    )
    assert code is INVALID
    assert "an Application manifest may have at most 1048576" in str(details)
    assert cluster_state(t) == before

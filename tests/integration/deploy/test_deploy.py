"""deploy/ installs ferry: the real kustomize builds deploy/base, the real kube-apiserver accepts
every object (server-side dry run, strict field validation), the CRDs are the generator's, and each
component's RBAC lets it do its job and no more — SubjectAccessReviews as its ServiceAccount, and
ferry-server (with the service-key init script) actually run with nothing but its own token.

The RBAC objects are applied for real from an overlay: a fresh namespace (with the
ServiceAccount subjects of the bindings moved there, as the README's overlay does) and a suffix on
the cluster-scoped names, so nothing collides with the namespace ``ferry`` other tests use.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import grpc
import pytest
import yaml

from controller.main import command as controller_command
from ferry import crds
from ferry.crds.generate import crds as generated_crds
from ferry.crds.generate import render
from ferry.devenv.controlplane import ControlPlane
from ferry.devenv.process import free_port
from ferry.devenv.tools import tool
from ferry.v1 import application_pb2, application_pb2_grpc, session_pb2, session_pb2_grpc
from reposerver.main import command as reposerver_command
from server.main import command as server_command
from tests.conftest import start_ferry_process

Obj = dict[str, Any]
ROOT = Path(__file__).resolve().parents[3]
BASE = ROOT / "deploy" / "base"
IMAGE = "ferrycd/ferry:latest"
FIELD_MANAGER = "ferry-deploy-test"
RBAC_KINDS = ("ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")
CLUSTER_SCOPED_RBAC = ("ClusterRole", "ClusterRoleBinding")
APPLY = "application/apply-patch+yaml"


def kustomize_build(path: Path) -> list[Obj]:
    done = subprocess.run(
        [str(tool("kustomize")), "build", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return [obj for obj in yaml.safe_load_all(done.stdout) if obj]


def named(objects: list[Obj], kind: str, name: str) -> Obj:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} in the build"
    return found[0]


def workloads(objects: list[Obj]) -> list[Obj]:
    return [o for o in objects if o["kind"] in ("Deployment", "StatefulSet")]


def eventually(check: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.25)


class Paths:
    """REST paths of objects, from the API server's discovery (CRDs included once established)."""

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane
        self._resources: dict[tuple[str, str], tuple[str, bool]] = {}

    def _discover(self, api_version: str) -> None:
        prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        status, body = self.plane.request("GET", prefix)
        assert status == 200, f"discovery of {api_version}: {status} {body}"
        for resource in body["resources"]:
            if "/" not in resource["name"]:
                self._resources[(api_version, resource["kind"])] = (resource["name"], resource["namespaced"])

    def of(self, obj: Obj, *, collection: bool = False) -> str:
        key = (obj["apiVersion"], obj["kind"])
        if key not in self._resources:
            self._discover(obj["apiVersion"])
        plural, namespaced = self._resources[key]
        prefix = "/api/v1" if obj["apiVersion"] == "v1" else f"/apis/{obj['apiVersion']}"
        if namespaced:
            prefix += f"/namespaces/{obj['metadata']['namespace']}"
        path = f"{prefix}/{plural}"
        return path if collection else f"{path}/{obj['metadata']['name']}"


def apply(plane: ControlPlane, paths: Paths, obj: Obj, *, dry_run: bool) -> tuple[int, Any]:
    query = f"?fieldManager={FIELD_MANAGER}&force=true&fieldValidation=Strict"
    if dry_run:
        query += "&dryRun=All"
    return plane.request("PATCH", paths.of(obj) + query, obj, content_type=APPLY)


def create(plane: ControlPlane, path: str, obj: Obj) -> Obj:
    status, body = plane.request("POST", path, obj)
    assert status == 201, body
    return dict(body)


# --- the build itself --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base() -> list[Obj]:
    return kustomize_build(BASE)


def test_crds_are_the_generators() -> None:
    """deploy/base/crds holds copies (kustomize reads nothing outside its root); after a proto
    change: `make protos && cp ferry/crds/*.yaml deploy/base/crds/`."""
    for name, crd in generated_crds().items():
        copy = BASE / "crds" / name
        assert copy.read_text() == render(crd), (
            f"{copy} differs from the generator: run `cp ferry/crds/{name} deploy/base/crds/`"
        )


def test_base_has_every_part(base: list[Obj]) -> None:
    kinds = {(o["kind"], o["metadata"]["name"]) for o in base}
    for expected in [
        ("Namespace", "ferry"),
        ("CustomResourceDefinition", "applications.ferrycd.io"),
        ("CustomResourceDefinition", "appprojects.ferrycd.io"),
        ("AppProject", "default"),
        ("ConfigMap", "ferry-cm"),
        ("ConfigMap", "ferry-rbac-cm"),
        ("Secret", "ferry-secret"),
        ("Secret", "ferry-service-key"),
        ("Deployment", "ferry-server"),
        ("Deployment", "ferry-reposerver"),
        ("Deployment", "ferry-redis"),
        ("StatefulSet", "ferry-controller"),
        ("Service", "ferry-server"),
        ("Service", "ferry-reposerver"),
        ("Service", "ferry-redis"),
        ("Service", "ferry-server-metrics"),
        ("Service", "ferry-controller-metrics"),
        ("Service", "ferry-reposerver-metrics"),
    ]:
        assert expected in kinds, f"{expected} missing from deploy/base"
    for obj in base:
        namespaced = obj["kind"] not in (
            "Namespace",
            "CustomResourceDefinition",
            "ClusterRole",
            "ClusterRoleBinding",
        )
        assert obj["metadata"].get("namespace") == ("ferry" if namespaced else None), obj["metadata"]
        assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "ferrycd"
    # The placeholders carry no data: re-applying the base never overwrites what ferry stored.
    for name in ("ferry-secret", "ferry-service-key"):
        assert "data" not in named(base, "Secret", name)


def _envvars(command: click.Command, prefix: str) -> set[str]:
    return {f"{prefix}_{param.name}".upper() for param in command.params if param.name}


def test_workloads(base: list[Obj]) -> None:
    """Images, ServiceAccounts, probes on declared ports, environment variables that are real flags,
    and volumes that point at objects of the base."""
    flags = {
        "ferry-server": _envvars(server_command, "FERRY_SERVER"),
        "ferry-controller": _envvars(controller_command, "FERRY_CONTROLLER"),
        "ferry-reposerver": _envvars(reposerver_command, "FERRY_REPOSERVER"),
    }
    accounts = {o["metadata"]["name"]: o for o in base if o["kind"] == "ServiceAccount"}
    configmaps = {o["metadata"]["name"] for o in base if o["kind"] == "ConfigMap"}
    secret_names = {o["metadata"]["name"] for o in base if o["kind"] == "Secret"}
    assert {o["metadata"]["name"] for o in workloads(base)} == {*flags, "ferry-redis"}
    for workload in workloads(base):
        name = workload["metadata"]["name"]
        pod = workload["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] in accounts, name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        for volume in pod.get("volumes", []):
            if "configMap" in volume:
                assert volume["configMap"]["name"] in configmaps, (name, volume)
            if "secret" in volume:
                assert volume["secret"]["secretName"] in secret_names, (name, volume)
        for container in pod.get("initContainers", []) + pod["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            if name in flags:
                assert container["image"] == IMAGE, (name, container["image"])
                assert "command" not in container, "use args: the image's entrypoint is tini"
                unknown = {
                    e["name"] for e in container.get("env", []) if e["name"].startswith("FERRY_")
                } - flags[name]
                assert not unknown, f"{name}: {unknown} are not flags of {name}"
        main = pod["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in main["ports"]}
        for probe_kind in ("readinessProbe", "livenessProbe"):
            probe = main[probe_kind]
            target = (
                probe.get("httpGet", {}).get("port")
                or probe.get("grpc", {}).get("port")
                or probe.get("tcpSocket", {}).get("port")
            )
            assert target in ports or target in ports.values(), (name, probe_kind, target)
    # The controller runs once; the repo server and Redis get no Kubernetes token.
    controller = named(base, "StatefulSet", "ferry-controller")
    assert controller["spec"]["replicas"] == 1
    for account in ("ferry-reposerver", "ferry-redis"):
        assert accounts[account]["automountServiceAccountToken"] is False
        pod = named(base, "Deployment", account)["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
    # Every Service selects a workload and targets one of its ports.
    for service in (o for o in base if o["kind"] == "Service"):
        selector = service["spec"]["selector"]
        selected = [
            w
            for w in workloads(base)
            if selector.items() <= w["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(selected) == 1, service["metadata"]["name"]
        names = {p["name"] for p in selected[0]["spec"]["template"]["spec"]["containers"][0]["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in names, (service["metadata"]["name"], port)


def test_dockerfile_copies_every_package() -> None:
    """CI cannot build the image; at least every package pyproject.toml installs is copied in."""
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\w+) /src/\1$", dockerfile, re.MULTILINE))
    pyproject = (ROOT / "pyproject.toml").read_text()
    include = re.search(r"^include = \[(.*)\]$", pyproject, re.MULTILINE)
    assert include is not None
    packages = {p.strip().strip('"').rstrip("*") for p in include.group(1).split(",")}
    assert packages == copied, f"pyproject installs {packages}, the Dockerfile copies {copied}"
    assert "COPY pyproject.toml README.md /src/" in dockerfile  # the README is the package's readme


# --- against the API server ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def paths(control_plane: ControlPlane) -> Paths:
    return Paths(control_plane)


@pytest.fixture(scope="module")
def ferry_crds(control_plane: ControlPlane) -> Iterator[None]:
    """ferry's CRDs, established: created (and deleted afterwards) unless another test's controller
    installed them already."""
    collection = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    created = []
    for crd in crds.load():
        name = crd["metadata"]["name"]
        if control_plane.request("GET", f"{collection}/{name}")[0] == 404:
            status, body = control_plane.request("POST", collection, crd)
            assert status == 201, body
            created.append(name)

    def established() -> bool:
        for crd in crds.load():
            _, body = control_plane.request("GET", f"{collection}/{crd['metadata']['name']}")
            conditions = (body.get("status") or {}).get("conditions") or []
            if not any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                return False
        return True

    eventually(established, timeout=30, what="ferry's CRDs to be established")
    yield
    for name in created:
        control_plane.request("DELETE", f"{collection}/{name}")

    def gone() -> bool:
        return all(control_plane.request("GET", f"{collection}/{name}")[0] == 404 for name in created)

    eventually(gone, timeout=60, what="ferry's CRDs to be deleted")  # before a controller reinstalls them


def test_api_server_accepts_every_object(
    control_plane: ControlPlane,
    paths: Paths,
    base: list[Obj],
    ferry_crds: None,
    control_namespace: str,
) -> None:
    """Server-side apply, dry run, strict validation: unknown or misspelt fields are refused."""
    assert control_namespace == "ferry"  # exists, so namespaced objects can be dry-run into it
    refused = []
    for obj in base:
        status, body = apply(control_plane, paths, obj, dry_run=True)
        if status not in (200, 201):
            refused.append(f"{obj['kind']}/{obj['metadata']['name']}: {status} {body}")
    assert not refused, "\n".join(refused)


@dataclass
class Install:
    namespace: str
    suffix: str
    objects: list[Obj]

    def user(self, account: str) -> tuple[str, list[str]]:
        return (
            f"system:serviceaccount:{self.namespace}:{account}",
            ["system:serviceaccounts", f"system:serviceaccounts:{self.namespace}", "system:authenticated"],
        )


OVERLAY = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: {namespace}
resources:
  - {base}
transformers:
  - |-
    apiVersion: builtin
    kind: NamespaceTransformer
    metadata:
      name: service-account-subjects
      namespace: {namespace}
    setRoleBindingSubjects: allServiceAccounts
  - |-
    apiVersion: builtin
    kind: PrefixSuffixTransformer
    metadata:
      name: cluster-scoped-suffix
    suffix: -{suffix}
    fieldSpecs:
      - kind: ClusterRole
        path: metadata/name
      - kind: ClusterRoleBinding
        path: metadata/name
"""


def build_overlay(workdir: Path, namespace: str, suffix: str) -> list[Obj]:
    """deploy/base built for ``namespace``, with ``-suffix`` on the cluster-scoped names."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "kustomization.yaml").write_text(
        OVERLAY.format(namespace=namespace, base=os.path.relpath(BASE, workdir), suffix=suffix)
    )
    objects = kustomize_build(workdir)
    for obj in objects:  # the overlay moved everything away from the shared names
        if obj["kind"] in CLUSTER_SCOPED_RBAC:
            assert obj["metadata"]["name"].endswith(f"-{suffix}"), obj["metadata"]
        elif obj["kind"] in RBAC_KINDS:
            assert obj["metadata"]["namespace"] == namespace, obj["metadata"]
        for subject in obj.get("subjects", []):
            assert subject["namespace"] == namespace, obj
    return objects


def apply_rbac(
    plane: ControlPlane, paths: Paths, namespace: str, objects: list[Obj], kinds: tuple[str, ...]
) -> None:
    """Creates ``namespace`` and applies the objects of ``kinds`` for real."""
    create(
        plane,
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
    )
    for obj in objects:
        if obj["kind"] in kinds:
            status, body = apply(plane, paths, obj, dry_run=False)
            assert status in (200, 201), f"{obj['kind']}/{obj['metadata']['name']}: {status} {body}"


def uninstall_rbac(plane: ControlPlane, paths: Paths, namespace: str, objects: list[Obj]) -> None:
    for obj in objects:
        if obj["kind"] in CLUSTER_SCOPED_RBAC:
            plane.request("DELETE", paths.of(obj))
    plane.request("DELETE", f"/api/v1/namespaces/{namespace}")


@pytest.fixture(scope="module")
def install(
    control_plane: ControlPlane, paths: Paths, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Install]:
    """deploy/base's ServiceAccounts and RBAC applied for real, in a namespace of their own."""
    suffix = secrets.token_hex(3)
    namespace = f"ferry-deploy-{suffix}"
    objects = build_overlay(tmp_path_factory.mktemp("overlay"), namespace, suffix)
    try:
        apply_rbac(control_plane, paths, namespace, objects, RBAC_KINDS)
        yield Install(namespace, suffix, objects)
    finally:
        uninstall_rbac(control_plane, paths, namespace, objects)


APP_NS = "some-app"  # a namespace an Application deploys to (SubjectAccessReviews need no real one)


@dataclass(frozen=True)
class Check:
    account: str
    verb: str
    resource: str
    group: str = ""
    where: str = "control"  # the control namespace, APP_NS, or "cluster" (every namespace)
    name: str = ""
    subresource: str = ""
    allowed: bool = True

    def __str__(self) -> str:
        what = "/".join(p for p in (self.group, self.resource, self.subresource) if p)
        return (
            f"{self.account} {'may' if self.allowed else 'may not'} {self.verb} {what}"
            f"{' ' + self.name if self.name else ''} in {self.where}"
        )


def may(account: str, verbs: str, resource: str, **kwargs: Any) -> list[Check]:
    return [Check(account, verb, resource, **kwargs) for verb in verbs.split()]


def may_not(account: str, verbs: str, resource: str, **kwargs: Any) -> list[Check]:
    return [Check(account, verb, resource, allowed=False, **kwargs) for verb in verbs.split()]


CONTROLLER, SERVER, REPOSERVER, REDIS = "ferry-controller", "ferry-server", "ferry-reposerver", "ferry-redis"
CHECKS: list[Check] = [
    # The controller: its state in the control namespace ...
    *may(CONTROLLER, "get list watch update patch", "applications", group="ferrycd.io"),
    *may(CONTROLLER, "update patch", "applications", group="ferrycd.io", subresource="status"),
    *may(CONTROLLER, "get list watch", "appprojects", group="ferrycd.io"),
    *may(CONTROLLER, "get list watch", "secrets"),
    *may(CONTROLLER, "get list watch", "configmaps", name="ferry-cm"),
    *may(CONTROLLER, "get list create update", "leases", group="coordination.k8s.io"),
    *may_not(SERVER, "update", "leases", group="coordination.k8s.io"),
    # ... and anything an app holds, anywhere on the in-cluster destination.
    *may(CONTROLLER, "get list watch create update patch delete", "deployments", group="apps", where=APP_NS),
    *may(CONTROLLER, "list watch create patch delete", "deployments", group="apps", where="cluster"),
    *may(CONTROLLER, "get list watch create patch delete", "secrets", where=APP_NS),
    *may(
        CONTROLLER, "create patch delete", "clusterroles", group="rbac.authorization.k8s.io", where="cluster"
    ),
    *may(
        CONTROLLER, "create patch", "customresourcedefinitions", group="apiextensions.k8s.io", where="cluster"
    ),
    *may(CONTROLLER, "get create", "namespaces", where="cluster"),
    # The API server: the control namespace ...
    *may(SERVER, "get list watch create update patch delete", "applications", group="ferrycd.io"),
    *may(SERVER, "get list watch create update delete", "appprojects", group="ferrycd.io"),
    *may(SERVER, "get list watch create update delete", "secrets"),
    *may(SERVER, "get list watch", "configmaps", name="ferry-cm"),
    *may(SERVER, "get list watch", "configmaps", name="ferry-rbac-cm"),
    *may(SERVER, "list", "events"),
    *may_not(SERVER, "update patch delete", "configmaps", name="ferry-cm"),
    # ... live resources of apps, their events and logs, read-only, anywhere ...
    *may(SERVER, "get list watch", "deployments", group="apps", where=APP_NS),
    *may(SERVER, "get list", "deployments", group="apps", where="cluster"),
    *may(SERVER, "list", "replicasets", group="apps", where=APP_NS),
    *may(SERVER, "list", "pods", where=APP_NS),
    *may(SERVER, "list", "jobs", group="batch", where=APP_NS),
    *may(SERVER, "list", "events", where=APP_NS),
    *may(SERVER, "get", "pods", subresource="log", where=APP_NS),
    *may(SERVER, "get", "pods", subresource="log", where="cluster"),
    *may(SERVER, "get", "configmaps", where=APP_NS),
    *may(SERVER, "get", "ingresses", group="networking.k8s.io", where=APP_NS),
    *may(SERVER, "get", "clusterroles", group="rbac.authorization.k8s.io", where="cluster"),
    *may(SERVER, "get", "customresourcedefinitions", group="apiextensions.k8s.io", where="cluster"),
    *may(SERVER, "get", "namespaces", where="cluster"),
    # ... but no Secrets outside the control namespace, and no writes there.
    *may_not(SERVER, "get list watch", "secrets", where=APP_NS),
    *may_not(SERVER, "get list watch", "secrets", where="cluster"),
    *may_not(SERVER, "create update patch delete", "deployments", group="apps", where=APP_NS),
    *may_not(SERVER, "delete", "deployments", group="apps", where="cluster"),
    *may_not(SERVER, "create get", "pods", subresource="exec", where=APP_NS),
    *may_not(SERVER, "create get", "pods", subresource="portforward", where=APP_NS),
    *may_not(SERVER, "get", "services", subresource="proxy", where=APP_NS),
    *may_not(SERVER, "get", "nodes", subresource="proxy", where="cluster"),
    *may_not(SERVER, "get update", "applications", group="ferrycd.io", where=APP_NS),
    *may_not(SERVER, "create", "namespaces", where="cluster"),
    *may_not(SERVER, "create", "clusterroles", group="rbac.authorization.k8s.io", where="cluster"),
    *may_not(SERVER, "impersonate", "serviceaccounts", where=APP_NS),
    # The repo server and Redis: nothing at all.
    *[
        check
        for account in (REPOSERVER, REDIS)
        for check in (
            *may_not(account, "get list watch", "secrets"),
            *may_not(account, "get list", "configmaps"),
            *may_not(account, "list", "pods"),
            *may_not(account, "list", "pods", where="cluster"),
            *may_not(account, "get list", "applications", group="ferrycd.io"),
            *may_not(account, "list", "namespaces", where="cluster"),
            *may_not(account, "get", "deployments", group="apps", where=APP_NS),
        )
    ],
]


def allowed(plane: ControlPlane, install: Install, check: Check) -> bool:
    user, groups = install.user(check.account)
    namespace = {"control": install.namespace, "cluster": ""}.get(check.where, check.where)
    attributes = {
        "verb": check.verb,
        "group": check.group,
        "resource": check.resource,
        "subresource": check.subresource,
        "namespace": namespace,
        "name": check.name,
    }
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {"user": user, "groups": groups, "resourceAttributes": attributes},
    }
    status, body = plane.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", review)
    assert status == 201, body
    return bool(body["status"].get("allowed"))


def test_each_component_may_do_its_job_and_no_more(control_plane: ControlPlane, install: Install) -> None:
    # ferry-server's ClusterRole is aggregated by kube-controller-manager: wait until it is filled.
    aggregated = Check(SERVER, "get", "deployments", group="apps", where=APP_NS)
    eventually(
        lambda: allowed(control_plane, install, aggregated), timeout=60, what="the aggregated ClusterRole"
    )
    wrong = [str(check) for check in CHECKS if allowed(control_plane, install, check) != check.allowed]
    assert not wrong, "RBAC differs from what the components need:\n" + "\n".join(wrong)


def test_secret_reader_opens_one_namespace(
    control_plane: ControlPlane, paths: Paths, install: Install
) -> None:
    """The documented opt-in: a RoleBinding to ferry-server-secret-reader in one namespace lets the
    API server get (only get) Secrets there, and nowhere else."""
    apps = f"{install.namespace}-apps"
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "ferry-server-secrets", "namespace": apps},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": f"ferry-server-secret-reader-{install.suffix}",
        },
        "subjects": [{"kind": "ServiceAccount", "name": SERVER, "namespace": install.namespace}],
    }
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": apps}}
    assert control_plane.request("POST", "/api/v1/namespaces", namespace)[0] == 201
    try:
        status, body = apply(control_plane, paths, binding, dry_run=False)
        assert status in (200, 201), body
        assert allowed(control_plane, install, Check(SERVER, "get", "secrets", where=apps))
        assert not allowed(control_plane, install, Check(SERVER, "list", "secrets", where=apps))
        assert not allowed(control_plane, install, Check(SERVER, "get", "secrets", where=APP_NS))
    finally:
        control_plane.request("DELETE", f"/api/v1/namespaces/{apps}")


# --- ferry-server with nothing but its own ServiceAccount token -------------------------------------


def service_account_kubeconfig(plane: ControlPlane, namespace: str, account: str, path: Path) -> Path:
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}
    status, body = plane.request(
        "POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token", request
    )
    assert status == 201, body
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "plane",
                "cluster": {
                    "server": plane.server,
                    "certificate-authority-data": base64.b64encode(plane.ca_path.read_bytes()).decode(),
                },
            }
        ],
        "users": [{"name": account, "user": {"token": body["status"]["token"]}}],
        "contexts": [{"name": account, "context": {"cluster": "plane", "user": account}}],
        "current-context": account,
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def secret_data(plane: ControlPlane, namespace: str, name: str) -> dict[str, str]:
    status, body = plane.request("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}")
    assert status == 200, f"{namespace}/{name}: {status} {body}"
    return {k: base64.b64decode(v).decode() for k, v in (body.get("data") or {}).items()}


def test_server_runs_with_its_service_account(
    control_plane: ControlPlane, ferry_crds: None, install: Install, tmp_path: Path
) -> None:
    """The init container's script and ferry-server itself, with the token of ferry-server's
    ServiceAccount: the key is generated once, the server starts (its watches, ferry-secret, the
    TLS and admin Secrets), reads an app's live ConfigMap elsewhere, and answers PERMISSION_DENIED
    for its Secret there — until ferry-server-secret-reader is bound in that namespace."""
    ns = install.namespace
    kubeconfig = service_account_kubeconfig(control_plane, ns, SERVER, tmp_path / "kubeconfig")
    script = [sys.executable, str(BASE / "generate_service_key.py")]
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "FERRY_SERVER_NAMESPACE": ns}
    runs = [
        subprocess.run(script, env=env, capture_output=True, text=True, timeout=60, check=False) for _ in "12"
    ]
    assert [r.returncode for r in runs] == [0, 0], [r.stderr for r in runs]
    assert runs[0].stdout.startswith("generated"), runs[0].stdout
    assert runs[1].stdout.startswith("kept"), runs[1].stdout
    key = secret_data(control_plane, ns, "ferry-service-key")["service.key"]
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    (tmp_path / "service.key").write_text(key)

    server = start_ferry_process(
        "ferry-server",
        [
            "--kubeconfig",
            str(kubeconfig),
            "--namespace",
            ns,
            "--http-port",
            str(free_port()),
            "--repo-server",
            f"127.0.0.1:{free_port()}",
            "--service-key-file",
            str(tmp_path / "service.key"),
        ],
    )
    apps_ns = f"{ns}-live"
    create(
        control_plane,
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": apps_ns}},
    )
    channel: grpc.Channel | None = None
    try:
        assert secret_data(control_plane, ns, "ferry-secret")["server.secretkey"]
        password = secret_data(control_plane, ns, "ferry-initial-admin-secret")["password"]
        cert = secret_data(control_plane, ns, "ferry-server-tls")["tls.crt"].encode()

        # An app that holds a ConfigMap and a Secret in another namespace (status as the controller
        # would write it).
        for kind, extra in (("ConfigMap", {"data": {"k": "v"}}), ("Secret", {"data": {"k": "dg=="}})):
            plural = kind.lower() + "s"
            obj = {"apiVersion": "v1", "kind": kind, "metadata": {"name": "live"}, **extra}
            create(control_plane, f"/api/v1/namespaces/{apps_ns}/{plural}", obj)
        apps_path = f"/apis/ferrycd.io/v1alpha1/namespaces/{ns}/applications"
        app = create(
            control_plane,
            apps_path,
            {
                "apiVersion": "ferrycd.io/v1alpha1",
                "kind": "Application",
                "metadata": {"name": "live", "namespace": ns},
                "spec": {
                    "project": "default",
                    "source": {"repoURL": "https://example.invalid/repo.git", "path": "."},
                    "destination": {"server": "https://kubernetes.default.svc", "namespace": apps_ns},
                },
            },
        )
        app["status"] = {
            "resources": [
                {"version": "v1", "kind": kind, "namespace": apps_ns, "name": "live"}
                for kind in ("ConfigMap", "Secret")
            ]
        }
        status, body = control_plane.request("PUT", f"{apps_path}/live/status", app)
        assert status == 200, body

        channel = grpc.secure_channel(
            server.address,
            grpc.ssl_channel_credentials(root_certificates=cert),
            options=[("grpc.ssl_target_name_override", "localhost")],
        )
        login = session_pb2.SessionCreateRequest(username="admin", password=password)
        token = session_pb2_grpc.SessionServiceStub(channel).Create(login, timeout=30).token
        stub = application_pb2_grpc.ApplicationServiceStub(channel)

        def get(kind: str) -> Obj:
            request = application_pb2.ApplicationResourceRequest(
                name="live", namespace=apps_ns, resource_name="live", version="v1", kind=kind
            )
            response = stub.GetResource(request, metadata=(("authorization", f"Bearer {token}"),), timeout=30)
            return dict(json.loads(response.manifest))

        def refused(kind: str) -> grpc.StatusCode | None:
            try:
                get(kind)
            except grpc.RpcError as err:
                code: grpc.StatusCode = err.code()
                return code
            return None

        # the server's watch delivers the status first; until then the ConfigMap is no app resource
        eventually(lambda: refused("ConfigMap") is None, timeout=30, what="the app's status in the server")
        assert get("ConfigMap")["data"] == {"k": "v"}
        assert refused("Secret") == grpc.StatusCode.PERMISSION_DENIED

        binding = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "ferry-server-secrets", "namespace": apps_ns},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": f"ferry-server-secret-reader-{install.suffix}",
            },
            "subjects": [{"kind": "ServiceAccount", "name": SERVER, "namespace": ns}],
        }
        create(
            control_plane, f"/apis/rbac.authorization.k8s.io/v1/namespaces/{apps_ns}/rolebindings", binding
        )
        eventually(lambda: refused("Secret") is None, timeout=30, what="the RoleBinding to take effect")
        assert get("Secret")["data"] == {"k": "++++++++"}  # shown masked, like every live Secret
    finally:
        if channel is not None:
            channel.close()
        server.stop()
        control_plane.request("DELETE", f"/api/v1/namespaces/{apps_ns}")


def test_remote_only_installation_needs_no_cluster_roles(
    control_plane: ControlPlane, paths: Paths, ferry_crds: None, tmp_path: Path
) -> None:
    """An installation that deploys only to remote clusters may delete the ClusterRoleBindings:
    the controller and the API server start with nothing but their Roles in the control namespace."""
    suffix = secrets.token_hex(3)
    namespace = f"ferry-roles-{suffix}"
    objects = build_overlay(tmp_path / "overlay", namespace, suffix)
    try:
        apply_rbac(control_plane, paths, namespace, objects, ("ServiceAccount", "Role", "RoleBinding"))
        key = tmp_path / "service.key"
        key.write_text(secrets.token_hex(32))
        common = ["--namespace", namespace, "--repo-server", f"127.0.0.1:{free_port()}"]
        common += ["--service-key-file", str(key)]
        kubeconfig = service_account_kubeconfig(control_plane, namespace, SERVER, tmp_path / "server")
        # Listening on gRPC means started: watches synced, ferry-secret and the TLS and admin
        # Secrets written.
        server = start_ferry_process(
            "ferry-server", ["--kubeconfig", str(kubeconfig), "--http-port", str(free_port()), *common]
        )
        server.stop()
        kubeconfig = service_account_kubeconfig(control_plane, namespace, CONTROLLER, tmp_path / "controller")
        controller = start_ferry_process(
            "ferry-controller", ["--kubeconfig", str(kubeconfig), *common], grpc_port=False
        )
        try:
            controller.proc.wait_until(
                lambda: "controller started" in controller.proc.log_path.read_text(),
                timeout=60,
                what="the controller to start",
            )
        finally:
            controller.stop()
    finally:
        uninstall_rbac(control_plane, paths, namespace, objects)

"""deploy/ installs ferry: the real kustomize builds deploy/base, the real kube-apiserver accepts
every object (server-side dry run, strict field validation), the CRDs are the generator's, and each
component's RBAC lets it do its job and no more — SubjectAccessReviews as its ServiceAccount, and
ferry-server (with the init script that makes the mesh's secrets) actually run with nothing but
its own token. The mesh as the manifests wire it: TLS for the repo server and Redis, whose keys
only they mount (their clients mount the CA alone), and Redis's password.

The opt-in Dex component (deploy/components/dex) gets the same: built into an overlay with the base,
every object dry-run, its ServiceAccount's RBAC checked, and ``ferry-dex rundex`` run with that
ServiceAccount's token and the real dex binary until Dex answers the Deployment's probe path.

The RBAC objects are applied for real from an overlay: a fresh namespace (with the
ServiceAccount subjects of the bindings moved there, as docs/operations.md's overlay does) and a suffix on
the cluster-scoped names, so nothing collides with the namespace ``ferry`` other tests use.
"""

from __future__ import annotations

import base64
import copy
import importlib.util
import json
import os
import re
import secrets
import subprocess
import sys
import time
import tomllib
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import click
import grpc
import pytest
import requests
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from cmpserver.config import parse as parse_plugin
from cmpserver.main import command as cmp_server_command
from controller.main import command as controller_command
from ferry import crds
from ferry.v1 import application_pb2, application_pb2_grpc, session_pb2, session_pb2_grpc
from ferry_devenv.controlplane import ControlPlane
from ferry_devenv.process import ManagedProcess, free_port
from ferry_devenv.tools import tool
from reposerver.main import command as reposerver_command
from server.dex import command as dex_command
from server.main import command as server_command
from server.oidc import DEX_PATH
from tests.conftest import start_ferry_process

Obj = dict[str, Any]
ROOT = Path(__file__).resolve().parents[3]


def hack_module(name: str) -> ModuleType:
    """A generator under hack/ (developer tooling: not a package, loaded from its file)."""
    spec = importlib.util.spec_from_file_location(f"hack_{name}", ROOT / "hack" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BASE = ROOT / "deploy" / "base"
DEX_COMPONENT = ROOT / "deploy" / "components" / "dex"
PLUGIN_COMPONENT = ROOT / "deploy" / "components" / "plugin-example"
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


DEX_OVERLAY = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - {base}
components:
  - {dex}
"""


@pytest.fixture(scope="module")
def with_dex(tmp_path_factory: pytest.TempPathFactory) -> list[Obj]:
    """deploy/base with the Dex component, enabled by an overlay as docs/sso.md shows."""
    workdir = tmp_path_factory.mktemp("with-dex")
    (workdir / "kustomization.yaml").write_text(
        DEX_OVERLAY.format(base=os.path.relpath(BASE, workdir), dex=os.path.relpath(DEX_COMPONENT, workdir))
    )
    return kustomize_build(workdir)


@pytest.fixture(scope="module")
def with_plugin(tmp_path_factory: pytest.TempPathFactory) -> list[Obj]:
    """deploy/base with the example plugin sidecar component, enabled as docs/plugins.md shows."""
    workdir = tmp_path_factory.mktemp("with-plugin")
    (workdir / "kustomization.yaml").write_text(
        DEX_OVERLAY.format(
            base=os.path.relpath(BASE, workdir), dex=os.path.relpath(PLUGIN_COMPONENT, workdir)
        )
    )
    return kustomize_build(workdir)


BUILDS = ("base", "with_dex", "with_plugin")


@pytest.fixture(params=BUILDS)
def build(request: pytest.FixtureRequest) -> list[Obj]:
    """Each installation: the base alone, with the Dex component, with the plugin sidecar."""
    objects: list[Obj] = request.getfixturevalue(request.param)
    return objects


def test_crds_are_the_generators() -> None:
    """deploy/base/crds holds copies (kustomize reads nothing outside its root), written by the
    same generator as ferry/crds (`make protos`)."""
    generator = hack_module("crds")
    for name, crd in generator.crds().items():
        copy = BASE / "crds" / name
        assert copy.read_text() == generator.render(crd), (
            f"{copy} differs from the generator: run make protos"
        )


def assert_placed_and_labelled(objects: list[Obj]) -> None:
    """Namespaced objects in ``ferry``, cluster-scoped ones in none; all labelled part-of ferrycd."""
    for obj in objects:
        namespaced = obj["kind"] not in (
            "Namespace",
            "CustomResourceDefinition",
            "ClusterRole",
            "ClusterRoleBinding",
        )
        assert obj["metadata"].get("namespace") == ("ferry" if namespaced else None), obj["metadata"]
        assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "ferrycd", obj["metadata"]


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
        ("Secret", "ferry-redis"),
        ("Secret", "ferry-reposerver-tls"),
        ("Secret", "ferry-redis-tls"),
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
    assert_placed_and_labelled(base)
    # The placeholders carry no data: re-applying the base never overwrites what ferry stored.
    for name in (
        "ferry-secret",
        "ferry-service-key",
        "ferry-redis",
        "ferry-reposerver-tls",
        "ferry-redis-tls",
    ):
        assert "data" not in named(base, "Secret", name)
    # Without the Dex component, ferry-server is not told of a Dex.
    server_env = named(base, "Deployment", "ferry-server")["spec"]["template"]["spec"]["containers"][0]["env"]
    assert "FERRY_SERVER_DEX_SERVER" not in {e["name"] for e in server_env}


DEX = "ferry-dex-server"


def env_of(workload: Obj) -> dict[str, str]:
    return {
        e["name"]: e.get("value", "") for e in workload["spec"]["template"]["spec"]["containers"][0]["env"]
    }


def test_dex_component_adds_dex_and_points_the_server_at_it(base: list[Obj], with_dex: list[Obj]) -> None:
    """The component adds Dex's objects, changes nothing of the base but ferry-server's --dex-server,
    which names the Service's HTTP port; Dex runs once, from the image the other components run."""
    key = {(o["kind"], o["metadata"]["name"]): o for o in with_dex}
    base_key = {(o["kind"], o["metadata"]["name"]): o for o in base}
    assert set(key) - set(base_key) == {
        (kind, DEX)
        for kind in ("ServiceAccount", "Role", "RoleBinding", "Deployment", "Service", "NetworkPolicy")
    }
    assert set(base_key) <= set(key)
    changed = {k for k in base_key if key[k] != base_key[k]}
    assert changed == {("Deployment", "ferry-server")}, changed
    assert_placed_and_labelled(with_dex)

    server = key[("Deployment", "ferry-server")]
    server_env = env_of(server)
    assert {
        n: v for n, v in server_env.items() if n not in env_of(base_key[("Deployment", "ferry-server")])
    } == {"FERRY_SERVER_DEX_SERVER": f"http://{DEX}:5556"}
    without = copy.deepcopy(server)
    without["spec"]["template"]["spec"]["containers"][0]["env"] = [
        e
        for e in without["spec"]["template"]["spec"]["containers"][0]["env"]
        if e["name"] != "FERRY_SERVER_DEX_SERVER"
    ]
    assert without == base_key[("Deployment", "ferry-server")], "the patch changes more than --dex-server"
    url = urllib.parse.urlsplit(server_env["FERRY_SERVER_DEX_SERVER"])
    service_ports = {p["name"]: p for p in key[("Service", DEX)]["spec"]["ports"]}
    assert (url.scheme, url.hostname, url.port, url.path) == ("http", DEX, service_ports["http"]["port"], "")

    dex = key[("Deployment", DEX)]
    assert dex["spec"]["replicas"] == 1  # in-memory storage: one Dex knows every login in progress
    assert dex["spec"]["strategy"] == {"type": "Recreate"}
    pod = dex["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == server["spec"]["template"]["spec"]["containers"][0]["image"]
    assert container["args"] == ["ferry-dex", "rundex"]
    # Dex's routes live under the issuer's path, <url>/api/dex: so does the probe
    for probe_kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        probe = container[probe_kind]["httpGet"]
        assert (probe["path"], probe["port"]) == (DEX_PATH + "/healthz", "http"), probe_kind
    # the generated configuration (connector secrets in it) goes to an in-memory emptyDir
    env = env_of(dex)
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    config_dir = str(Path(env["FERRY_DEX_RUNDEX_CONFIG_FILE"]).parent)
    assert config_dir in mounts
    (volume,) = [v for v in pod["volumes"] if v["name"] == mounts[config_dir]]
    assert volume["emptyDir"]["medium"] == "Memory"
    # ferry-server's Pods reach Dex's HTTP port; nothing else does
    policy = key[("NetworkPolicy", DEX)]["spec"]
    assert policy["podSelector"]["matchLabels"] == dex["spec"]["selector"]["matchLabels"]
    http_rule = [r for r in policy["ingress"] if {"port": 5556} in r.get("ports", [])]
    assert http_rule == [
        {
            "from": [{"podSelector": {"matchLabels": server["spec"]["selector"]["matchLabels"]}}],
            "ports": [{"port": 5556}],
        }
    ]


# The commands the workloads' containers run (args[0], and a subcommand for groups), with the prefix
# their main() gives click's auto_envvar_prefix.
COMMANDS: dict[str, tuple[click.Command, str]] = {
    "ferry-server": (server_command, "FERRY_SERVER"),
    "ferry-controller": (controller_command, "FERRY_CONTROLLER"),
    "ferry-reposerver": (reposerver_command, "FERRY_REPOSERVER"),
    "ferry-dex": (dex_command, "FERRY_DEX"),
    "ferry-cmp-server": (cmp_server_command, "FERRY_CMP_SERVER"),
}


def command_envvars(args: list[str]) -> set[str]:
    """The environment variables of the options of the command ``args`` runs, named by click itself
    (a group's subcommand gets <prefix>_<SUBCOMMAND>_ from its context)."""
    assert args[0] in COMMANDS, f"{args[0]} is no ferry command"
    command, prefix = COMMANDS[args[0]]
    context = click.Context(command, info_name=args[0], auto_envvar_prefix=prefix)
    if isinstance(command, click.Group):
        subcommand = args[1] if len(args) > 1 else ""
        assert subcommand in command.commands, f"{args} names no subcommand of {args[0]}"
        command = command.commands[subcommand]
        context = click.Context(command, info_name=subcommand, parent=context)
    assert context.auto_envvar_prefix
    return {f"{context.auto_envvar_prefix}_{param.name}".upper() for param in command.params if param.name}


def test_workloads(build: list[Obj], request: pytest.FixtureRequest) -> None:
    """Images, ServiceAccounts, security settings, probes on declared ports, environment variables
    that are real flags of the command each container runs, and volumes that point at objects of
    the build."""
    accounts = {o["metadata"]["name"]: o for o in build if o["kind"] == "ServiceAccount"}
    configmaps = {o["metadata"]["name"] for o in build if o["kind"] == "ConfigMap"}
    secret_names = {o["metadata"]["name"] for o in build if o["kind"] == "Secret"}
    expected = {"ferry-server", "ferry-controller", "ferry-reposerver", "ferry-redis"}
    if request.node.callspec.params["build"] == "with_dex":
        expected.add(DEX)
    assert {o["metadata"]["name"] for o in workloads(build)} == expected
    for workload in workloads(build):
        name = workload["metadata"]["name"]
        pod = workload["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] in accounts, name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for volume in pod.get("volumes", []):
            if "configMap" in volume:
                assert volume["configMap"]["name"] in configmaps, (name, volume)
            if "secret" in volume:
                assert volume["secret"]["secretName"] in secret_names, (name, volume)
        for container in pod.get("initContainers", []) + pod["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}, name
            if name != "ferry-redis":
                assert container["image"] == IMAGE, (name, container["image"])
                assert "command" not in container, "use args: the image's entrypoint is tini"
        main = pod["containers"][0]
        if name != "ferry-redis":
            flags = command_envvars(main["args"])
            unknown = {e["name"] for e in main.get("env", []) if e["name"].startswith("FERRY_")} - flags
            assert not unknown, f"{name}: {unknown} are not flags of {' '.join(main['args'])}"
        ports = {p["name"]: p["containerPort"] for p in main["ports"]}
        for probe_kind in ("readinessProbe", "livenessProbe"):
            probe = main[probe_kind]
            target = (
                probe.get("httpGet", {}).get("port")
                or probe.get("grpc", {}).get("port")
                or probe.get("tcpSocket", {}).get("port")
            )
            assert target in ports or target in ports.values(), (name, probe_kind, target)
    # A server's TLS key is mounted by that server only; its clients mount the CA alone.
    owners = {"ferry-reposerver-tls": "ferry-reposerver", "ferry-redis-tls": "ferry-redis"}
    for workload in workloads(build):
        for volume in workload["spec"]["template"]["spec"].get("volumes", []):
            secret = volume.get("secret", {}).get("secretName", "")
            if secret in owners and owners[secret] != workload["metadata"]["name"]:
                assert volume["secret"]["items"] == [{"key": "ca.crt", "path": "ca.crt"}], (workload, volume)
    # The controller runs once; the repo server and Redis get no Kubernetes token.
    controller = named(build, "StatefulSet", "ferry-controller")
    assert controller["spec"]["replicas"] == 1
    for account in ("ferry-reposerver", "ferry-redis"):
        assert accounts[account]["automountServiceAccountToken"] is False
        pod = named(build, "Deployment", account)["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
    # Every Service selects a workload and targets one of its ports.
    for service in (o for o in build if o["kind"] == "Service"):
        selector = service["spec"]["selector"]
        selected = [
            w
            for w in workloads(build)
            if selector.items() <= w["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(selected) == 1, service["metadata"]["name"]
        names = {p["name"] for p in selected[0]["spec"]["template"]["spec"]["containers"][0]["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in names, (service["metadata"]["name"], port)


def test_plugin_component_runs_a_plugin_server_beside_the_repo_server(with_plugin: list[Obj]) -> None:
    """The sidecar's environment is ferry-cmp-server's flags, its plugin.yaml loads, and its socket
    lands where the repo server looks (both mount one volume at --plugin-socket-dir's default)."""
    pod = named(with_plugin, "Deployment", "ferry-reposerver")["spec"]["template"]["spec"]
    repo_server, sidecar = pod["containers"]
    assert sidecar["args"] == ["ferry-cmp-server"]
    env = {e["name"]: e["value"] for e in sidecar["env"]}
    assert set(env) <= command_envvars(sidecar["args"]), set(env) - command_envvars(sidecar["args"])

    def mounts(container: Obj) -> dict[str, str]:
        return {m["name"]: m["mountPath"] for m in container["volumeMounts"]}

    socket_dir = env["FERRY_CMP_SERVER_SOCKET_DIR"]
    default_dir = next(p for p in reposerver_command.params if p.name == "plugin_socket_dir").default
    assert str(default_dir) == socket_dir
    assert mounts(repo_server)["cmp-plugins"] == mounts(sidecar)["cmp-plugins"] == socket_dir
    assert {"cmp-plugins", "cmp-config", "cmp-tmp"} <= {v["name"] for v in pod["volumes"]}
    config = named(with_plugin, "ConfigMap", "ferry-cmp-env-configmap")
    assert env["FERRY_CMP_SERVER_CONFIG"] == mounts(sidecar)["cmp-config"] + "/plugin.yaml"
    plugin = parse_plugin(config["data"]["plugin.yaml"])
    assert (plugin.name, plugin.version) == ("env-configmap", "v1.0")
    assert sidecar["securityContext"]["readOnlyRootFilesystem"] is True
    assert env["FERRY_CMP_SERVER_WORK_DIR"].startswith(mounts(sidecar)["cmp-tmp"])


def test_dockerfile_copies_every_package() -> None:
    """CI cannot build the image; at least every package pyproject.toml installs is copied in."""
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\w+) /src/\1$", dockerfile, re.MULTILINE))
    pyproject = (ROOT / "pyproject.toml").read_text()
    include = tomllib.loads(pyproject)["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {p.split(".")[0] for p in include}
    assert packages == copied, f"pyproject installs {packages}, the Dockerfile copies {copied}"
    assert "COPY pyproject.toml README.md /src/" in dockerfile  # the README is the package's readme
    # every console script a workload runs is one pyproject installs
    scripts = set(re.findall(r"^([\w-]+) = \"[\w.]+:main\"$", pyproject, re.MULTILINE))
    assert set(COMMANDS) <= scripts, set(COMMANDS) - scripts


def test_dockerfile_ships_the_binaries_the_workloads_run(with_dex: list[Obj]) -> None:
    """The tools stage builds helm, kustomize and dex with hack/tools.sh (tools it knows) and the
    final image has them where the repo server's and Dex's environment says."""
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    built = re.search(
        r"^RUN FERRY_TOOLS_CACHE=/tools /src/hack/tools\.sh ([\w ]+?) \\$", dockerfile, re.MULTILINE
    )
    assert built is not None
    tools_sh = (ROOT / "hack" / "tools.sh").read_text()
    installed = re.search(
        r'^ && install -m 0755 ((?:"\$\(readlink -f /tools/bin/\w+\)"\s*\\?\s*)+) /usr/local/bin/$',
        dockerfile,
        re.MULTILINE,
    )
    assert installed is not None
    copied = re.search(
        r"^COPY --from=tools ((?:/usr/local/bin/\w+ )+)/usr/local/bin/$", dockerfile, re.MULTILINE
    )
    assert copied is not None
    wanted = {
        env_of(named(with_dex, "Deployment", "ferry-reposerver"))["FERRY_REPOSERVER_HELM_PATH"],
        env_of(named(with_dex, "Deployment", "ferry-reposerver"))["FERRY_REPOSERVER_KUSTOMIZE_PATH"],
        env_of(named(with_dex, "Deployment", DEX))["FERRY_DEX_RUNDEX_DEX_BINARY"],
    }
    for path in wanted:
        binary = Path(path).name
        assert path == f"/usr/local/bin/{binary}", path
        assert binary in built.group(1).split(), f"the tools stage does not build {binary}"
        assert re.search(rf"^    {binary}\)$", tools_sh, re.MULTILINE), f"hack/tools.sh has no tool {binary}"
        assert f'"$(readlink -f /tools/bin/{binary})"' in installed.group(1), f"{binary} is not installed"
        assert f"/usr/local/bin/{binary}" in copied.group(1).split(), f"{binary} is not copied"


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
    build: list[Obj],
    ferry_crds: None,
    control_namespace: str,
) -> None:
    """Server-side apply, dry run, strict validation: unknown or misspelt fields are refused (the
    base, and the base with the Dex component)."""
    assert control_namespace == "ferry"  # exists, so namespaced objects can be dry-run into it
    refused = []
    for obj in build:
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
components: {components}
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
    suffix: "-{suffix}"  # quoted: a hex suffix like 613e34 would be a YAML float
    fieldSpecs:
      - kind: ClusterRole
        path: metadata/name
      - kind: ClusterRoleBinding
        path: metadata/name
"""


def build_overlay(workdir: Path, namespace: str, suffix: str, components: tuple[Path, ...] = ()) -> list[Obj]:
    """deploy/base (and ``components``) built for ``namespace``, with ``-suffix`` on the
    cluster-scoped names."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "kustomization.yaml").write_text(
        OVERLAY.format(
            namespace=namespace,
            base=os.path.relpath(BASE, workdir),
            suffix=suffix,
            components=json.dumps([os.path.relpath(c, workdir) for c in components]),
        )
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
    """deploy/base's ServiceAccounts and RBAC, and the Dex component's, applied for real, in a
    namespace of their own."""
    suffix = secrets.token_hex(3)
    namespace = f"ferry-deploy-{suffix}"
    objects = build_overlay(tmp_path_factory.mktemp("overlay"), namespace, suffix, (DEX_COMPONENT,))
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
    # resource actions (ferry-server-actions): patch workloads, create Jobs; nothing else
    *may(SERVER, "patch", "deployments", group="apps", where=APP_NS),
    *may(SERVER, "patch", "cronjobs", group="batch", where=APP_NS),
    *may(SERVER, "create", "jobs", group="batch", where=APP_NS),
    *may_not(SERVER, "create update delete", "deployments", group="apps", where=APP_NS),
    *may_not(SERVER, "patch delete", "jobs", group="batch", where=APP_NS),
    *may_not(SERVER, "patch", "configmaps", where=APP_NS),
    *may_not(SERVER, "delete", "deployments", group="apps", where="cluster"),
    *may_not(SERVER, "create get", "pods", subresource="exec", where=APP_NS),
    *may_not(SERVER, "create get", "pods", subresource="portforward", where=APP_NS),
    *may_not(SERVER, "get", "services", subresource="proxy", where=APP_NS),
    *may_not(SERVER, "get", "nodes", subresource="proxy", where="cluster"),
    *may_not(SERVER, "get update", "applications", group="ferrycd.io", where=APP_NS),
    *may_not(SERVER, "create", "namespaces", where="cluster"),
    *may_not(SERVER, "create", "clusterroles", group="rbac.authorization.k8s.io", where="cluster"),
    *may_not(SERVER, "impersonate", "serviceaccounts", where=APP_NS),
    # Dex (the component): get ferry-cm and ferry-secret, what `ferry-dex rundex` reads by name ...
    *may(DEX, "get", "configmaps", name="ferry-cm"),
    *may(DEX, "get", "secrets", name="ferry-secret"),
    # ... and nothing else: no list or watch (they would not narrow to a name), no other Secret or
    # ConfigMap, no write, nothing in other namespaces.
    *may_not(DEX, "list watch", "configmaps", name="ferry-cm"),
    *may_not(DEX, "list watch", "secrets", name="ferry-secret"),
    *may_not(DEX, "get list watch", "secrets"),
    *may_not(DEX, "get list watch", "configmaps"),
    *[
        check
        for secret in ("ferry-server-tls", "ferry-service-key", "ferry-initial-admin-secret", "cluster-x")
        for check in may_not(DEX, "get", "secrets", name=secret)
    ],
    *may_not(DEX, "get", "configmaps", name="ferry-rbac-cm"),
    *may_not(DEX, "create update patch delete", "secrets", name="ferry-secret"),
    *may_not(DEX, "create update patch delete", "configmaps", name="ferry-cm"),
    *may_not(DEX, "create", "secrets"),
    *may_not(DEX, "create", "configmaps"),
    *may_not(DEX, "get", "secrets", name="ferry-secret", where=APP_NS),
    *may_not(DEX, "get", "configmaps", name="ferry-cm", where=APP_NS),
    *may_not(DEX, "get list", "secrets", where="cluster"),
    *may_not(DEX, "get list", "configmaps", where="cluster"),
    *may_not(DEX, "get list", "applications", group="ferrycd.io"),
    *may_not(DEX, "list", "pods"),
    *may_not(DEX, "list", "namespaces", where="cluster"),
    *may_not(DEX, "get", "deployments", group="apps", where=APP_NS),
    *may_not(DEX, "create", "serviceaccounts", subresource="token"),
    *may_not(DEX, "update", "leases", group="coordination.k8s.io"),
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


def assert_serving_certificate(data: dict[str, str], service: str, namespace: str) -> None:
    """tls.crt serves the Service's names, is signed by ca.crt, and tls.key is its key."""
    cert = x509.load_pem_x509_certificate(data["tls.crt"].encode())
    ca = x509.load_pem_x509_certificate(data["ca.crt"].encode())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName
    )
    assert {service, f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.cluster.local"} <= set(names)
    cert.verify_directly_issued_by(ca)
    key = serialization.load_pem_private_key(data["tls.key"].encode(), password=None)
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()  # type: ignore[union-attr]


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
    script = [sys.executable, str(BASE / "generate_secrets.py")]
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "FERRY_SERVER_NAMESPACE": ns}
    runs = [
        subprocess.run(script, env=env, capture_output=True, text=True, timeout=60, check=False) for _ in "12"
    ]
    assert [r.returncode for r in runs] == [0, 0], [r.stderr for r in runs]
    assert [line.split()[0] for line in runs[0].stdout.splitlines()] == ["generated"] * 4, runs[0].stdout
    assert [line.split()[0] for line in runs[1].stdout.splitlines()] == ["kept"] * 4, runs[1].stdout
    key = secret_data(control_plane, ns, "ferry-service-key")["service.key"]
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    assert key not in runs[0].stdout + runs[0].stderr
    assert len(secret_data(control_plane, ns, "ferry-redis")["auth"]) >= 32
    for service in ("ferry-reposerver", "ferry-redis"):
        assert_serving_certificate(secret_data(control_plane, ns, f"{service}-tls"), service, ns)
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


# --- the Dex component's workload with nothing but its own ServiceAccount token ---------------------


def test_dex_runs_with_its_service_account(control_plane: ControlPlane, paths: Paths, tmp_path: Path) -> None:
    """The Dex Deployment's command and environment (values for this machine where the Pod's differ),
    the real dex binary and ferry-dex-server's token alone: rundex reads ferry-cm and ferry-secret
    (a `$key` of dex.config resolved from it), Dex answers the probes' path, its issuer is
    <url>/api/dex, telemetry (the Service's metrics port) serves when dex.config turns it on, and a
    change of dex.config, read again with the same token, restarts Dex with it."""
    suffix = secrets.token_hex(3)
    namespace = f"ferry-dex-{suffix}"
    objects = build_overlay(tmp_path / "overlay", namespace, suffix, (DEX_COMPONENT,))
    proc: ManagedProcess | None = None
    try:
        apply_rbac(control_plane, paths, namespace, objects, ("ServiceAccount", "Role", "RoleBinding"))
        web, telemetry = free_port(), free_port()
        url = "https://ferry.example.test"
        connector = {"type": "mockCallback", "id": "mock", "name": "Mock"}
        dex_config: Obj = {
            "web": {"http": f"127.0.0.1:{web}"},  # the Pod's default 0.0.0.0:5556, on a free port here
            "telemetry": {"http": f"127.0.0.1:{telemetry}"},
            "connectors": [connector],
            "staticClients": [
                {
                    "id": "extra",
                    "name": "Extra",
                    "secret": "$dex.extra.secret",
                    "redirectURIs": ["https://app.example.test/callback"],
                }
            ],
        }
        settings = {"url": url, "dex.config": yaml.safe_dump(dex_config)}
        configmap = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "ferry-cm"},
            "data": settings,
        }
        create(control_plane, f"/api/v1/namespaces/{namespace}/configmaps", configmap)
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "ferry-secret"},
            "stringData": {"server.secretkey": secrets.token_hex(32), "dex.extra.secret": "extra-s3cret"},
        }
        create(control_plane, f"/api/v1/namespaces/{namespace}/secrets", secret)

        container = named(objects, "Deployment", DEX)["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e.get("value", "") for e in container["env"]}
        config_file = tmp_path / "dex.yaml"
        here = {
            "FERRY_DEX_RUNDEX_NAMESPACE": namespace,  # the Pod's own namespace (fieldRef)
            "FERRY_DEX_RUNDEX_DEX_BINARY": str(tool("dex")),
            "FERRY_DEX_RUNDEX_CONFIG_FILE": str(config_file),
        }
        assert set(here) <= set(env), "the manifest no longer sets these variables"
        outside_a_pod = {  # in a Pod: the in-cluster config and the default interval
            "FERRY_DEX_RUNDEX_KUBECONFIG": str(
                service_account_kubeconfig(control_plane, namespace, DEX, tmp_path / "kubeconfig")
            ),
            "FERRY_DEX_RUNDEX_POLL_SECONDS": "1",
        }
        assert set(outside_a_pod) <= command_envvars(container["args"])
        proc = ManagedProcess(
            DEX,
            [str(Path(sys.executable).parent / container["args"][0]), *container["args"][1:]],
            log_path=tmp_path / "ferry-dex.log",
            env={**os.environ, **env, **here, **outside_a_pod},
        ).start()

        origin = f"http://127.0.0.1:{web}"
        probe = container["readinessProbe"]["httpGet"]["path"]

        def healthy() -> bool:
            return requests.get(origin + probe, timeout=2).status_code == 200

        proc.wait_until(healthy, timeout=60, what=f"Dex to answer {probe}")
        discovery = requests.get(f"{origin}{DEX_PATH}/.well-known/openid-configuration", timeout=5).json()
        assert discovery["issuer"] == url + DEX_PATH
        assert requests.get(f"http://127.0.0.1:{telemetry}/healthz/ready", timeout=5).status_code == 200
        assert "dex" in requests.get(f"http://127.0.0.1:{telemetry}/metrics", timeout=5).text
        assert config_file.stat().st_mode & 0o077 == 0
        generated = yaml.safe_load(config_file.read_text())
        clients = {c["id"]: c for c in generated["staticClients"]}
        assert clients["extra"]["secret"] == "extra-s3cret"  # read from ferry-secret with Dex's token
        assert {"ferry", "ferry-cli"} <= set(clients)

        # another connector: rundex reads the change and restarts Dex with it
        dex_config["connectors"] = [connector, {"type": "mockCallback", "id": "mock2", "name": "Second"}]
        patch = {"data": {"dex.config": yaml.safe_dump(dex_config)}}
        status, body = control_plane.request(
            "PATCH",
            f"/api/v1/namespaces/{namespace}/configmaps/ferry-cm",
            patch,
            content_type="application/merge-patch+json",
        )
        assert status == 200, body
        login = {
            "client_id": "ferry-cli",
            "redirect_uri": "http://localhost:8085/auth/callback",
            "response_type": "code",
            "scope": "openid",
            "state": "s",
        }

        def offers_both() -> bool:
            page = requests.get(f"{origin}{DEX_PATH}/auth", params=login, timeout=2, allow_redirects=False)
            return page.status_code == 200 and "Second" in page.text and "Mock" in page.text

        proc.wait_until(offers_both, timeout=60, what="Dex restarted with the second connector")
        assert "dex.config changed: restarting Dex" in proc.log_path.read_text()
    finally:
        if proc is not None:
            proc.stop()
        uninstall_rbac(control_plane, paths, namespace, objects)

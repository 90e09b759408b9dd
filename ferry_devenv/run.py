"""``make run``: ferry working on this machine in minutes, every part a separate process.

Starts a local control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok
with a fake node) unless ``KUBECONFIG`` names a cluster to use; redis-server when it is installed
(TLS only, with a password); then ferry-reposerver (gRPC over TLS with a certificate of its own),
ferry-controller and ferry-server, which check the repo server's and Redis's certificates. The
certificates, keys and the password live in the run's work directory (keys mode 0600) and go with
it. It serves a sample Git repository with a small app (Deployment + Service + ConfigMap),
registers it, creates an auto-synced Application, waits until it is Synced and Healthy, and prints
the addresses, the admin password and ``ferry`` commands to try. One config management plugin runs
too (ferry-cmp-server with a shell ``generate`` that fills a ConfigMap from ``ARGOCD_ENV_*``), with a
second app rendered by it. Ctrl-C stops everything it
started.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from ferry_devenv.controlplane import ControlPlane
from ferry_devenv.gitrepo import GitRepo
from ferry_devenv.mesh import Mesh
from ferry_devenv.process import ManagedProcess, free_port, new_workdir, port_open
from ferry_devenv.servers import GitDaemon, RedisServer
from ferry_devenv.tools import tool

NAMESPACE = "ferry"
APP_NAME = "guestbook"
APP_NAMESPACE = "guestbook"
PLUGIN_APP_NAME = "guestbook-env"
# An Argo CD plugin.yaml as it would be in a sidecar: a ConfigMap from the app's ARGOCD_ENV_*.
EXAMPLE_PLUGIN = """\
apiVersion: argoproj.io/v1alpha1
kind: ConfigManagementPlugin
metadata:
  name: env-configmap
spec:
  version: v1.0
  generate:
    command: [sh, -c]
    args:
      - |
        echo "apiVersion: v1"
        echo "kind: ConfigMap"
        echo "metadata:"
        echo "  name: $ARGOCD_APP_NAME"
        echo "data:"
        echo "  revision: \\"$ARGOCD_APP_REVISION\\""
        env | grep '^ARGOCD_ENV_' | sort | while IFS='=' read -r k v; do
          echo "  ${k#ARGOCD_ENV_}: \\"$v\\""
        done
"""
IN_CLUSTER = "https://kubernetes.default.svc"
BIN = Path(sys.executable).parent


def sample_app() -> dict[str, str]:
    """The sample repository's files: a web Deployment, its Service and a ConfigMap; and a
    directory the example plugin renders."""
    labels = {"app": "guestbook-ui"}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "guestbook-ui"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "guestbook-ui",
                            "image": "gcr.io/heptio-images/ks-guestbook-demo:0.2",
                            "ports": [{"containerPort": 80}],
                            "envFrom": [{"configMapRef": {"name": "guestbook-config"}}],
                        }
                    ]
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "guestbook-ui"},
        "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 80}]},
    }
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "guestbook-config"},
        "data": {"GREETING": "hello from ferry"},
    }
    return {
        "guestbook/deployment.yaml": yaml.safe_dump(deployment, sort_keys=False),
        "guestbook/service.yaml": yaml.safe_dump(service, sort_keys=False),
        "guestbook/configmap.yaml": yaml.safe_dump(config, sort_keys=False),
        "guestbook-env/README.md": "Rendered by the env-configmap plugin (ferry-cmp-server).\n",
    }


def _port(preferred: int) -> int:
    return preferred if preferred and not port_open(preferred) else free_port()


class Stack:
    """Everything ``make run`` started, stopped in reverse order."""

    def __init__(self) -> None:
        self.workdir = new_workdir("run")
        self.stoppers: list[tuple[str, Callable[[], None]]] = []
        self.plane: ControlPlane | None = None

    def stop(self) -> None:
        # a second Ctrl-C must not cut the orderly stop short (children die with us anyway)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for name, stop in reversed(self.stoppers):
            print(f"stopping {name}", flush=True)
            try:
                stop()
            except Exception as err:  # keep stopping the rest
                print(f"  {name}: {err}", flush=True)
        self.stoppers.clear()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def process(
        self, name: str, args: list[str], env: dict[str, str], ready_port: int = 0, ready_socket: str = ""
    ) -> ManagedProcess:
        """Starts a ferry executable; returns once it listens on ``ready_port`` or ``ready_socket``."""
        proc = ManagedProcess(
            name, [str(BIN / name), *args], log_path=self.workdir / f"{name}.log", env={**os.environ, **env}
        ).start()
        self.stoppers.append((name, proc.stop))
        if ready_socket:
            proc.wait_until(Path(ready_socket).is_socket, timeout=90, what=f"socket {ready_socket}")
        else:
            proc.wait_until(lambda: port_open(ready_port), timeout=90, what=f"port {ready_port}")
        return proc


def step(text: str) -> float:
    print(f"==> {text}", flush=True)
    return time.monotonic()


def kube_api(kubeconfig: Path) -> k8s.ApiClient:
    """A client of the cluster (the kubernetes package, not kubectl: with KUBECONFIG set,
    ``make run`` builds no Kubernetes binary at all)."""
    api: k8s.ApiClient = k8s_config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(kubeconfig)
    )
    return api


def wait_for(what: str, check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what} after {timeout:.0f}s")
        time.sleep(0.5)


def ferry_cli(config_home: Path, *args: str) -> str:
    result = subprocess.run(
        [str(BIN / "ferry"), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "XDG_CONFIG_HOME": str(config_home)},
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"ferry {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> None:
    # Set, not inherited: started as a shell's background job SIGINT comes ignored, and Python
    # then leaves it ignored (Ctrl-C or kill -INT would do nothing). The children started below
    # get the default disposition back on exec, not the ignore.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)  # stop as tidily on SIGTERM as on Ctrl-C
    stack = Stack()
    try:
        _start(stack, args)
        print("Press Ctrl-C to stop everything.", flush=True)
        signal.pause()
    except KeyboardInterrupt:
        print(flush=True)
    finally:
        stack.stop()


def _start(stack: Stack, args: argparse.Namespace) -> None:
    started = time.monotonic()
    env_kubeconfig = os.environ.get("KUBECONFIG", "")
    if env_kubeconfig:
        step(f"using the cluster of KUBECONFIG={env_kubeconfig}")
        kubeconfig = Path(env_kubeconfig.split(os.pathsep)[0])
    else:
        step("starting a local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok)")
        plane = ControlPlane("ferry-run").start(workloads=True)
        stack.plane = plane
        stack.stoppers.append(("control plane", plane.stop))
        kubeconfig = plane.kubeconfig

    redis = shutil.which("redis-server") is not None
    mesh = Mesh.create(stack.workdir / "mesh", redis_tls=redis, redis_password=secrets.token_urlsafe(24))
    redis_args = _start_redis(stack, mesh) if redis else []
    if not redis:
        step("redis-server not installed: using the in-process cache")
    server, http_port, repo_server = _start_components(stack, args, kubeconfig, redis_args, mesh)
    inside = {
        "reposerver": repo_server,
        "reposerver_ca": str(mesh.reposerver.ca),
        "redis": redis_args[1] if redis_args else "",
        "redis_ca": str(mesh.redis.ca) if mesh.redis else "",
    }
    _sample(stack, kubeconfig, server, http_port, started, inside)


def _start_redis(stack: Stack, mesh: Mesh) -> list[str]:
    step("starting redis-server (TLS, password)")
    redis = RedisServer(password=mesh.redis_password, tls=mesh.redis).start()
    stack.stoppers.append(("redis-server", redis.stop))
    assert isinstance(redis, RedisServer)
    return ["--redis", redis.address_url]  # the password reaches them as FERRY_REDIS_PASSWORD


def _start_components(
    stack: Stack, args: argparse.Namespace, kubeconfig: Path, redis_args: list[str], mesh: Mesh
) -> tuple[str, int, str]:
    """ferry-reposerver, ferry-controller (which installs the CRDs) and ferry-server."""
    env = {"FERRY_SERVICE_KEY": secrets.token_hex(24), **mesh.env()}
    step("starting ferry-cmp-server (the example config management plugin env-configmap)")
    sockets = stack.workdir / "plugins"
    plugin_yaml = stack.workdir / "env-configmap.yaml"
    plugin_yaml.write_text(EXAMPLE_PLUGIN)
    stack.process(
        "ferry-cmp-server",
        [
            "--config",
            str(plugin_yaml),
            "--socket-dir",
            str(sockets),
            "--work-dir",
            str(stack.workdir / "cmp"),
        ],
        {},
        ready_socket=str(sockets / "env-configmap-v1.0.sock"),
    )
    repo_port = free_port()
    step("starting ferry-reposerver")
    stack.process(
        "ferry-reposerver",
        [
            "--port",
            str(repo_port),
            "--metrics-port",
            str(free_port()),
            "--cache-dir",
            str(stack.workdir / "reposerver-cache"),
            "--helm-path",
            str(tool("helm")),
            "--kustomize-path",
            str(tool("kustomize")),
            "--plugin-socket-dir",
            str(sockets),
            *redis_args,
        ],
        env,
        repo_port,
    )
    step("starting ferry-controller")
    controller_metrics = free_port()
    stack.process(
        "ferry-controller",
        [
            "--metrics-port",
            str(controller_metrics),
            "--kubeconfig",
            str(kubeconfig),
            "--namespace",
            NAMESPACE,
            "--repo-server",
            f"127.0.0.1:{repo_port}",
            "--install-crds",
            *redis_args,
        ],
        env,
        controller_metrics,
    )
    with kube_api(kubeconfig) as api:
        wait_for("the default AppProject", lambda: _default_project_exists(api), 90)
    grpc_port, http_port = _port(args.port), _port(args.http_port)
    step("starting ferry-server")
    stack.process(
        "ferry-server",
        [
            "--port",
            str(grpc_port),
            "--metrics-port",
            str(free_port()),
            "--http-port",
            str(http_port),
            "--kubeconfig",
            str(kubeconfig),
            "--namespace",
            NAMESPACE,
            "--repo-server",
            f"127.0.0.1:{repo_port}",
            *redis_args,
        ],
        env,
        grpc_port,
    )

    return f"127.0.0.1:{grpc_port}", http_port, f"127.0.0.1:{repo_port}"


def _sample(
    stack: Stack, kubeconfig: Path, server: str, http_port: int, started: float, inside: dict[str, str]
) -> None:
    step("serving a sample Git repository (git daemon)")
    git_root = stack.workdir / "git"
    git_root.mkdir()
    repo = GitRepo(git_root, "sample")
    repo.commit("guestbook: Deployment, Service and ConfigMap", sample_app())
    daemon = GitDaemon(git_root).start()
    assert isinstance(daemon, GitDaemon)
    stack.stoppers.append(("git daemon", daemon.stop))
    repo_url = daemon.url("sample")

    password = _admin_password(kubeconfig)
    cli_home = stack.workdir / "cli"
    step("registering the repository and creating an auto-synced application")
    ferry_cli(cli_home, "login", server, "--insecure", "--username", "admin", "--password", password)
    ferry_cli(cli_home, "repo", "add", repo_url, "--upsert")
    for name, path, *extra in (
        (APP_NAME, "guestbook", "--self-heal", "--auto-prune"),
        (
            PLUGIN_APP_NAME,
            "guestbook-env",
            "--config-management-plugin",
            "env-configmap-v1.0",
            "--plugin-env",
            "GREETING=hello from a plugin",
        ),
    ):
        ferry_cli(
            cli_home,
            "app",
            "create",
            name,
            "--repo",
            repo_url,
            "--path",
            path,
            "--dest-server",
            IN_CLUSTER,
            "--dest-namespace",
            APP_NAMESPACE,
            "--sync-policy",
            "auto",
            "--sync-option",
            "CreateNamespace=true",
            "--upsert",
            *extra,
        )
    for name in (APP_NAME, PLUGIN_APP_NAME):
        step(f"waiting for '{name}' to be Synced and Healthy")
        ferry_cli(cli_home, "app", "wait", name, "--sync", "--health", "--timeout", "300")
    elapsed = time.monotonic() - started
    redis = f"{inside['redis']} (TLS, password)" if inside["redis"] else "not installed: in-process caches"
    print(
        f"""
ferry is running ({elapsed:.0f}s). Every part is its own process; logs are in {stack.workdir}.

  Web UI        https://127.0.0.1:{http_port}/   (self-signed certificate)
  gRPC API      {server} (TLS, self-signed: use --insecure)
  REST API      https://127.0.0.1:{http_port}/api/v1/applications   (OpenAPI: /api/openapi.json)
  admin         username admin, password {password}
  sample repo   {repo_url}
  kubeconfig    {kubeconfig}
  repo server   {inside["reposerver"]} (gRPC over TLS, CA {inside["reposerver_ca"]}; service tokens)
  redis         {redis}

Try:
  ferry login {server} --insecure --username admin --password {password}
  ferry app list
  ferry app get {APP_NAME} -o tree
  ferry app diff {APP_NAME}
  kubectl --kubeconfig {kubeconfig} -n {APP_NAMESPACE} scale deployment guestbook-ui --replicas 3
      (self-heal puts it back to 1)
  ferry app history {APP_NAME}
  kubectl --kubeconfig {kubeconfig} -n {APP_NAMESPACE} get configmap {PLUGIN_APP_NAME} -o yaml
      (rendered by the env-configmap plugin; try ferry app set {PLUGIN_APP_NAME} --plugin-env GREETING=hi)
""",
        flush=True,
    )
    print(
        "READY "
        + json.dumps({"server": server, "password": password, "kubeconfig": str(kubeconfig), **inside}),
        flush=True,
    )


def _default_project_exists(api: k8s.ApiClient) -> bool:
    try:
        k8s.CustomObjectsApi(api).get_namespaced_custom_object(
            "ferrycd.io", "v1alpha1", NAMESPACE, "appprojects", "default"
        )
    except k8s.ApiException as err:
        if err.status == 404:
            return False
        raise
    return True


def _admin_password(kubeconfig: Path) -> str:
    found_password: list[str] = []

    def found(api: k8s.ApiClient) -> bool:
        try:
            secret = k8s.CoreV1Api(api).read_namespaced_secret("ferry-initial-admin-secret", NAMESPACE)
        except k8s.ApiException as err:
            if err.status == 404:
                return False
            raise
        encoded = (secret.data or {}).get("password")
        if encoded:
            found_password.append(base64.b64decode(encoded).decode())
        return bool(found_password)

    with kube_api(kubeconfig) as api:
        wait_for("the initial admin password", lambda: found(api), 60)
    return found_password[0]


def main() -> None:
    parser = argparse.ArgumentParser(prog="make run", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--port", type=int, default=8080, help="gRPC port of ferry-server (a free one if taken)"
    )
    parser.add_argument(
        "--http-port", type=int, default=8090, help="REST port of ferry-server (a free one if taken)"
    )
    run(parser.parse_args())


if __name__ == "__main__":
    main()

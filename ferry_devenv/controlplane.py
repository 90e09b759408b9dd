"""A real Kubernetes control plane on loopback: etcd + kube-apiserver (own CA, service-account keys,
an admin token) + kube-controller-manager, and on request kube-scheduler + kwok with one fake node.

With the workload components, Deployments become Available, Jobs complete and — for Pods labelled
``ferrycd.io/test-fail: "true"`` — containers fail: a Pod with restartPolicy Always crash-loops
(CrashLoopBackOff, not ready), any other Pod ends in phase Failed with exit code 1.

Container logs work too: kwok serves the kubelet API (HTTPS, certificate from the plane's CA) on
127.0.0.1, the fake node's address, so ``kubectl logs`` and GET .../pods/NAME/log reach it through
kube-apiserver like on a real cluster. What a container "printed" is set by the test, before or
after the Pod exists (pod names of Deployments can be left out: every Pod in the namespace)::

    plane.set_pod_logs(ns, ["line 1", "line 2"], pod="web-0")               # every container
    plane.set_pod_logs(ns, ["db up"], pod="web-0", container="db")           # one container
    plane.set_pod_logs(ns, ["boom"], pod="web-0", previous=["last run"])     # --previous too
    plane.set_pod_logs(ns, ["hello"])                                        # every Pod in ns
    plane.append_pod_logs(ns, ["more"], pod="web-0")   # streamed to requests with follow=true

Logs are timestamped stdout lines (tailLines, sinceSeconds, timestamps, limitBytes work), and a
request with follow=true stays open like for a running container. Per-Pod settings win over the
namespace-wide one. A container with no logs set has none to read: the log request fails (400
from kube-apiserver), as kwok answers "no logs found".

    plane = ControlPlane("ferry").start(workloads=True)
    ... use plane.kubeconfig ...
    plane.stop()
"""

from __future__ import annotations

import base64
import datetime
import json
import secrets
import shutil
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from ferry import pki
from ferry_devenv.process import ManagedProcess, free_port, new_workdir
from ferry_devenv.tools import kwok_stages, tool

FAIL_LABEL = "ferrycd.io/test-fail"
FAKE_NODE = "kwok-node-0"
SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.0/16"  # kept apart from SERVICE_CIDR

# A Pending Pod labelled FAIL_LABEL=true fails instead of becoming ready.
_FAIL_STAGE = {
    "apiVersion": "kwok.x-k8s.io/v1alpha1",
    "kind": "Stage",
    "metadata": {"name": "ferry-pod-fail"},
    "spec": {
        "resourceRef": {"apiGroup": "v1", "kind": "Pod"},
        "selector": {
            "matchExpressions": [
                {"key": ".metadata.deletionTimestamp", "operator": "DoesNotExist"},
                {"key": f'.metadata.labels["{FAIL_LABEL}"]', "operator": "In", "values": ["true"]},
                {"key": ".status.phase", "operator": "In", "values": ["Pending"]},
            ]
        },
        "next": {
            "statusTemplate": """\
{{ $now := Now }}
startTime: {{ $now | Quote }}
{{ if eq .spec.restartPolicy "Always" }}
phase: Running
conditions:
- type: Ready
  status: "False"
  reason: ContainersNotReady
  lastTransitionTime: {{ $now | Quote }}
containerStatuses:
{{ range .spec.containers }}
- image: {{ .image | Quote }}
  name: {{ .name | Quote }}
  ready: false
  restartCount: 3
  state:
    waiting:
      reason: CrashLoopBackOff
      message: back-off restarting failed container
  lastState:
    terminated:
      exitCode: 1
      reason: Error
      startedAt: {{ $now | Quote }}
      finishedAt: {{ $now | Quote }}
{{ end }}
{{ else }}
phase: Failed
reason: Error
message: container exited with code 1
containerStatuses:
{{ range .spec.containers }}
- image: {{ .image | Quote }}
  name: {{ .name | Quote }}
  ready: false
  restartCount: 0
  state:
    terminated:
      exitCode: 1
      reason: Error
      startedAt: {{ $now | Quote }}
      finishedAt: {{ $now | Quote }}
{{ end }}
{{ end }}
"""
        },
    },
}


# kwok reads pod logs from Logs (one Pod) and ClusterLogs (selected Pods) objects it watches
# (--enable-crds). Schemas are left open: kwok validates what it reads.
_KWOK_API = "/apis/kwok.x-k8s.io/v1alpha1"
_LOG_CRDS = {"Logs": ("logs", "Namespaced"), "ClusterLogs": ("clusterlogs", "Cluster")}
_OPEN_OBJECT = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
_LOGS_FIELD_MANAGER = "ferry-devenv"


def _log_crd(kind: str, plural: str, scope: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.kwok.x-k8s.io"},
        "spec": {
            "group": "kwok.x-k8s.io",
            "scope": scope,
            "names": {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": plural},
            "versions": [
                {
                    "name": "v1alpha1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {"spec": _OPEN_OBJECT, "status": _OPEN_OBJECT},
                        }
                    },
                    "subresources": {"status": {}},
                }
            ],
        },
    }


def _cri_log(lines: Iterable[str]) -> tuple[str, str]:
    """(file content in the CRI log format kwok parses, what a log request returns for it)."""
    records = [part for line in lines for part in line.split("\n")]
    start = datetime.datetime.now(datetime.UTC)
    content = ""
    for i, record in enumerate(records):
        stamp = (start + datetime.timedelta(microseconds=i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        content += f"{stamp} stdout F {record}\n"
    return content, "".join(f"{record}\n" for record in records)


def _stage_definitions() -> list[dict[str, Any]]:
    """kwok's "fast" stages, with labelled Pods taken out of the happy path, plus the fail stage."""
    stages = [doc for doc in yaml.safe_load_all(kwok_stages().read_text()) if doc]
    not_failing = {"key": f'.metadata.labels["{FAIL_LABEL}"]', "operator": "DoesNotExist"}
    for stage in stages:
        if stage["metadata"]["name"] in ("pod-ready", "pod-complete"):
            stage["spec"]["selector"].setdefault("matchExpressions", []).append(not_failing)
    return [*stages, _FAIL_STAGE]


class ControlPlane:
    """One independent Kubernetes cluster; start several for multi-cluster tests."""

    def __init__(self, name: str = "ferry") -> None:
        self.name = name
        self.workdir = new_workdir(name)
        self.token = secrets.token_hex(16)
        self.apiserver_port = free_port()
        self.server = f"https://127.0.0.1:{self.apiserver_port}"
        self.kubeconfig = self.workdir / "kubeconfig"
        self.ca_path = self.workdir / "pki" / "ca.crt"
        self.audit_log = self.workdir / "audit.log"
        self._etcd_port = free_port()
        self._procs: dict[str, ManagedProcess] = {}
        self._ssl = ssl.create_default_context()
        self._kwok_port: int | None = None
        # (namespace, pod or None for the namespace) -> container or None for all -> log entry
        self._log_entries: dict[tuple[str, str | None], dict[str | None, dict[str, Any]]] = {}
        self._log_files = 0

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self, *, workloads: bool = False) -> ControlPlane:
        try:
            self._write_pki()
            self._start_etcd()
            self._start_apiserver()
            self._write_kubeconfig()
            self._start_controller_manager()
            if workloads:
                self.start_workloads()
        except BaseException:
            self.stop()
            raise
        return self

    def start_workloads(self) -> None:
        """Adds kube-scheduler and kwok with one fake node (idempotent)."""
        if "kwok" in self._procs:
            return
        self._create_log_crds()  # established while the scheduler starts
        self._start_scheduler()
        self._start_kwok()

    def stop(self) -> None:
        """Stops every process in reverse start order and removes the work directory."""
        for name in reversed(list(self._procs)):
            self._procs.pop(name).stop()
        self._kwok_port = None
        shutil.rmtree(self.workdir, ignore_errors=True)

    def restart_apiserver(self) -> None:
        """Stops and restarts kube-apiserver on the same port; data stays in etcd."""
        self._procs.pop("kube-apiserver").stop()
        self._start_apiserver()

    def stop_apiserver(self) -> None:
        """Stops kube-apiserver only (for outage tests); ``start_apiserver`` brings it back."""
        self._procs.pop("kube-apiserver").stop()

    def start_apiserver(self) -> None:
        self._start_apiserver()

    def __enter__(self) -> ControlPlane:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def processes(self) -> dict[str, ManagedProcess]:
        return dict(self._procs)

    # --- container logs ------------------------------------------------------------------------

    def set_pod_logs(
        self,
        namespace: str,
        lines: Iterable[str],
        *,
        pod: str | None = None,
        container: str | None = None,
        previous: Iterable[str] | None = None,
    ) -> None:
        """Sets what log requests return for containers of ``pod`` (every Pod in ``namespace``
        without it): ``lines`` (each one log line, stdout), ``previous`` for ``previous=true``.

        ``container`` limits it to one container; settings for other containers stay. The Pod
        need not exist yet. Returns once kwok serves the new logs; needs ``start_workloads``.
        """
        if self._kwok_port is None:
            raise RuntimeError("pod logs need the workload components: call start_workloads() first")
        content, expected = _cri_log(lines)
        entry: dict[str, Any] = {"logsFile": str(self._write_log_file(content))}
        if container is not None:
            entry["containers"] = [container]
        if previous is not None:
            entry["previousLogsFile"] = str(self._write_log_file(_cri_log(previous)[0]))
        entries = self._log_entries.setdefault((namespace, pod), {})
        entries[container] = entry
        # Entries naming containers first: kwok falls back to the first one naming none.
        spec: dict[str, Any] = {"logs": sorted(entries.values(), key=lambda e: "containers" not in e)}
        metadata: dict[str, Any]
        if pod is None:
            kind, metadata = "ClusterLogs", {"name": f"ferry-logs-{namespace}"}
            path = f"{_KWOK_API}/clusterlogs/{metadata['name']}"
            spec["selector"] = {"matchNamespaces": [namespace]}
        else:
            kind, metadata = "Logs", {"name": pod, "namespace": namespace}
            path = f"{_KWOK_API}/namespaces/{namespace}/logs/{pod}"
        body = {"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": kind, "metadata": metadata, "spec": spec}
        name = metadata["name"]

        def apply() -> None:
            status, reply = self.request(
                "PATCH",
                f"{path}?fieldManager={_LOGS_FIELD_MANAGER}&force=true",
                body,
                content_type="application/apply-patch+yaml",
            )
            if status not in (200, 201):
                raise RuntimeError(f"applying {kind} {name}: {status} {reply}")

        apply()
        probe = f"/containerLogs/{namespace}/{pod or 'ferry-logs-probe'}/{container or 'ferry-logs-probe'}"
        applied = [time.monotonic()]

        def served() -> bool:
            if self._kwok_get(probe) == expected:
                return True
            # kwok v0.8.0 caches its Logs/ClusterLogs list by the watch's resourceVersion, which
            # moves before its store has the object: a read in between keeps the old list until
            # the next change. Such a change (a new annotation value) makes it read again.
            if time.monotonic() - applied[0] > 3:
                metadata["annotations"] = {"ferry.dev/logs-applied": str(time.time_ns())}
                apply()
                applied[0] = time.monotonic()
            return False

        self._procs["kwok"].wait_until(served, timeout=30, what=f"kwok serving {kind} {name}")

    def append_pod_logs(
        self, namespace: str, lines: Iterable[str], *, pod: str | None = None, container: str | None = None
    ) -> None:
        """Appends ``lines`` to the logs ``set_pod_logs`` set with the same ``pod`` and ``container``;
        log requests with ``follow=true`` still open receive them as they arrive."""
        entry = self._log_entries.get((namespace, pod), {}).get(container)
        if entry is None:
            raise KeyError(f"no logs set for pod {pod!r} container {container!r} in {namespace}")
        with Path(entry["logsFile"]).open("a") as logs:
            logs.write(_cri_log(lines)[0])

    def _write_log_file(self, content: str) -> Path:
        # A new file each time: kwok picks the change up with the object, never half-written.
        self._log_files += 1
        path = self.workdir / "pod-logs" / f"{self._log_files}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        return path

    def _kwok_get(self, path: str) -> str | None:
        """GET on kwok's kubelet API (plain HTTP on the same port); body if 200."""
        url = f"http://127.0.0.1:{self._kwok_port}{urllib.parse.quote(path)}"
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return bytes(resp.read()).decode() if resp.status == 200 else None
        except (urllib.error.URLError, OSError):
            return None

    # --- API access for the harness itself (tests use the kubernetes client with kubeconfig) ----

    def request(
        self, method: str, path: str, body: object | None = None, *, content_type: str = "application/json"
    ) -> tuple[int, Any]:
        """One authenticated request to the API server; JSON in, (status, JSON or text) out."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, context=self._ssl, timeout=30) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")

    def metrics(self) -> str:
        status, text = self.request("GET", "/metrics")
        if status != 200:
            raise RuntimeError(f"GET /metrics: {status}")
        return str(text)

    def audit_events(self, *, user_agent_prefix: str = "") -> list[dict[str, Any]]:
        """Requests the API server has handled so far (audit log, stage ResponseComplete)."""
        events: list[dict[str, Any]] = []
        if not self.audit_log.exists():
            return events
        for line in self.audit_log.read_text(errors="replace").splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("stage") != "ResponseComplete":
                continue
            if user_agent_prefix and not str(event.get("userAgent", "")).startswith(user_agent_prefix):
                continue
            events.append(event)
        return events

    # --- pieces ----------------------------------------------------------------------------------

    def _audit_policy(self) -> Path:
        path = self.workdir / "audit-policy.yaml"
        path.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "audit.k8s.io/v1",
                    "kind": "Policy",
                    "omitStages": ["RequestReceived"],
                    "rules": [{"level": "Metadata"}],
                }
            )
        )
        return path

    def _write_pki(self) -> None:
        pki_dir = self.workdir / "pki"
        pki_dir.mkdir(parents=True, exist_ok=True)
        ca = pki.new_ca(f"{self.name}-ca")
        serving = pki.issue_cert(
            ca,
            "kube-apiserver",
            hosts=["127.0.0.1", "localhost", "10.96.0.1", "kubernetes", "kubernetes.default.svc"],
        )
        sa_key = pki.new_rsa_key()
        files = {
            "ca.crt": ca.cert_pem,
            "ca.key": ca.key_pem,
            "apiserver.crt": serving.cert_pem,
            "apiserver.key": serving.key_pem,
            "sa.key": pki.private_key_pem(sa_key),
            "sa.pub": pki.public_key_pem(sa_key),
            "tokens.csv": f"{self.token},admin,admin-uid,system:masters\n".encode(),
        }
        for name, content in files.items():
            (pki_dir / name).write_bytes(content)
            (pki_dir / name).chmod(0o600)
        self._ssl = ssl.create_default_context(cafile=str(self.ca_path))

    def _spawn(self, name: str, argv: list[str]) -> ManagedProcess:
        proc = ManagedProcess(name, argv, log_path=self.workdir / "logs" / f"{name}.log").start()
        self._procs[name] = proc
        return proc

    def _start_etcd(self) -> None:
        peer = free_port()
        url = f"http://127.0.0.1:{self._etcd_port}"
        proc = self._spawn(
            "etcd",
            [
                str(tool("etcd")),
                f"--name={self.name}",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls={url}",
                f"--advertise-client-urls={url}",
                f"--listen-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-cluster={self.name}=http://127.0.0.1:{peer}",
                "--unsafe-no-fsync",
                "--log-level=warn",
                "--quota-backend-bytes=4294967296",
            ],
        )
        proc.wait_until(lambda: _http_ok(f"{url}/health"), timeout=30, what="etcd /health")

    def _start_apiserver(self) -> None:
        pki_dir = self.workdir / "pki"
        proc = self._spawn(
            "kube-apiserver",
            [
                str(tool("kube-apiserver")),
                f"--etcd-servers=http://127.0.0.1:{self._etcd_port}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.apiserver_port}",
                f"--tls-cert-file={pki_dir / 'apiserver.crt'}",
                f"--tls-private-key-file={pki_dir / 'apiserver.key'}",
                f"--client-ca-file={pki_dir / 'ca.crt'}",
                f"--token-auth-file={pki_dir / 'tokens.csv'}",
                "--authorization-mode=Node,RBAC",
                f"--service-account-issuer={self.server}",
                f"--service-account-key-file={pki_dir / 'sa.pub'}",
                f"--service-account-signing-key-file={pki_dir / 'sa.key'}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--allow-privileged=true",
                # No kubelet mints default ServiceAccounts before Pods arrive; keep Pods admissible.
                "--disable-admission-plugins=ServiceAccount",
                # A loopback advertise address is rejected for the kubernetes Service's Endpoints.
                "--endpoint-reconciler-type=none",
                f"--cert-dir={self.workdir / 'certs'}",
                "--profiling=false",
                # Every request with its user agent, so tests can count what one client sent.
                f"--audit-policy-file={self._audit_policy()}",
                f"--audit-log-path={self.audit_log}",
                "--audit-log-format=json",
                "--audit-log-maxsize=0",
                # Pod logs come from kwok's kubelet API on the fake node's InternalIP (127.0.0.1),
                # serving a certificate from this plane's CA.
                f"--kubelet-certificate-authority={pki_dir / 'ca.crt'}",
                "--kubelet-preferred-address-types=InternalIP",
            ],
        )
        proc.wait_until(lambda: self.request("GET", "/readyz")[0] == 200, timeout=90, what="/readyz")

    def _write_kubeconfig(self) -> None:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": self.name,
                    "cluster": {
                        "server": self.server,
                        "certificate-authority-data": base64.b64encode(self.ca_path.read_bytes()).decode(),
                    },
                }
            ],
            "users": [{"name": "admin", "user": {"token": self.token}}],
            "contexts": [{"name": self.name, "context": {"cluster": self.name, "user": "admin"}}],
            "current-context": self.name,
        }
        self.kubeconfig.write_text(yaml.safe_dump(config))
        self.kubeconfig.chmod(0o600)

    def _start_controller_manager(self) -> None:
        port = free_port()
        pki_dir = self.workdir / "pki"
        proc = self._spawn(
            "kube-controller-manager",
            [
                str(tool("kube-controller-manager")),
                f"--kubeconfig={self.kubeconfig}",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={port}",
                f"--service-account-private-key-file={pki_dir / 'sa.key'}",
                f"--root-ca-file={pki_dir / 'ca.crt'}",
                f"--cluster-cidr={POD_CIDR}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--controllers=*,-node-ipam-controller,-cloud-node-lifecycle-controller,-service-lb-controller,-node-route-controller",
            ],
        )
        proc.wait_until(lambda: _http_ok(f"https://127.0.0.1:{port}/healthz"), timeout=60, what="/healthz")

    def _start_scheduler(self) -> None:
        port = free_port()
        proc = self._spawn(
            "kube-scheduler",
            [
                str(tool("kube-scheduler")),
                f"--kubeconfig={self.kubeconfig}",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={port}",
            ],
        )
        proc.wait_until(lambda: _http_ok(f"https://127.0.0.1:{port}/healthz"), timeout=60, what="/healthz")

    def _create_log_crds(self) -> None:
        for kind, (plural, scope) in _LOG_CRDS.items():
            crd = _log_crd(kind, plural, scope)
            status, body = self.request(
                "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd
            )
            if status not in (201, 409):
                raise RuntimeError(f"creating CRD {crd['metadata']['name']}: {status} {body}")

    def _wait_log_crds(self) -> None:
        # kwok watches them from the start: they must be served before it runs.
        self._procs["kube-apiserver"].wait_until(
            lambda: all(
                self.request("GET", f"{_KWOK_API}/{plural}")[0] == 200 for plural, _ in _LOG_CRDS.values()
            ),
            timeout=30,
            what="kwok log CRDs served",
        )

    def _write_kwok_cert(self) -> tuple[Path, Path]:
        pki_dir = self.workdir / "pki"
        ca = pki.KeyPair((pki_dir / "ca.crt").read_bytes(), (pki_dir / "ca.key").read_bytes())
        serving = pki.issue_cert(ca, FAKE_NODE, hosts=["127.0.0.1", "localhost", FAKE_NODE])
        cert, key = pki_dir / "kwok.crt", pki_dir / "kwok.key"
        for path, content in ((cert, serving.cert_pem), (key, serving.key_pem)):
            path.write_bytes(content)
            path.chmod(0o600)
        return cert, key

    def _start_kwok(self) -> None:
        stages = self.workdir / "kwok-stages.yaml"
        stages.write_text(yaml.safe_dump_all(_stage_definitions()))
        self._wait_log_crds()
        cert, key = self._write_kwok_cert()
        port = free_port()
        proc = self._spawn(
            "kwok",
            [
                str(tool("kwok")),
                f"--kubeconfig={self.kubeconfig}",
                f"--config={stages}",
                "--manage-all-nodes=false",
                "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                "--manage-nodes-with-label-selector=",
                "--manage-single-node=",
                f"--cidr={POD_CIDR}",
                # The node's InternalIP and kubelet port: where kube-apiserver asks for pod logs.
                "--node-ip=127.0.0.1",
                f"--node-port={port}",
                "--node-lease-duration-seconds=40",
                # The kubelet API, HTTPS and plain HTTP on one port (kwok tells them apart).
                f"--server-address=127.0.0.1:{port}",
                f"--tls-cert-file={cert}",
                f"--tls-private-key-file={key}",
                "--enable-crds=Logs,ClusterLogs",
            ],
        )
        proc.wait_until(lambda: _http_ok(f"https://127.0.0.1:{port}/healthz"), timeout=60, what="/healthz")
        self._kwok_port = port
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": FAKE_NODE,
                "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {
                    "kubernetes.io/hostname": FAKE_NODE,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "type": "kwok",
                },
            },
            "status": {
                "allocatable": {"cpu": "64", "memory": "256Gi", "pods": "1000"},
                "capacity": {"cpu": "64", "memory": "256Gi", "pods": "1000"},
            },
        }
        status, body = self.request("POST", "/api/v1/nodes", node)
        if status not in (201, 409):
            raise RuntimeError(f"creating the fake node: {status} {body}")
        proc.wait_until(self._node_ready, timeout=60, what=f"node {FAKE_NODE} Ready")

    def _node_ready(self) -> bool:
        status, node = self.request("GET", f"/api/v1/nodes/{FAKE_NODE}")
        if status != 200:
            return False
        conditions = node.get("status", {}).get("conditions", [])
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _http_ok(url: str) -> bool:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # component health ports serve self-signed certificates
    try:
        with urllib.request.urlopen(url, context=context, timeout=5) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False

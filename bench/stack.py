"""What the process benchmarks share: ferry's components as real processes on a real control
plane, the figures read from outside them, and bulk writes to the API server.

- ``start_reposerver`` / ``start_controller`` / ``start_server``: ferry's executables on free
  ports, like tests/conftest.py starts them (service key, --install-crds, TLS for the server).
- ``Ferry.rss`` / ``peak_rss`` / ``cpu_seconds``: read from /proc, so measuring costs the
  measured process nothing; ``Ferry.metric``: a sum over its own Prometheus samples.
- ``ApiMetrics``: a snapshot of kube-apiserver's /metrics (apiserver_request_total and the
  apiserver_request_duration_seconds histogram); the difference of two snapshots counts what
  happened in between.
- ``kube``: ferry's async Kubernetes client without a rate limit; ``bounded`` runs coroutines
  with at most N in flight (the bench's own writes are never the bottleneck it measures).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from ferry import crds
from ferry.kube.client import KubeClient, Obj
from ferry.kube.config import ClusterConfig
from ferry.kube.errors import Conflict
from ferry.projects import ensure_default_project
from ferry_devenv.controlplane import ControlPlane
from ferry_devenv.mesh import PLAINTEXT_ENV
from ferry_devenv.process import ManagedProcess, free_port, new_workdir, port_open

KEY = "bench-service-key-0123456789abcdef"
CONTROL_NS = "ferry"
GROUP, VERSION = "ferrycd.io", "v1alpha1"
APP_API_VERSION = f"{GROUP}/{VERSION}"
IN_CLUSTER = "https://kubernetes.default.svc"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_SAMPLE = re.compile(r"^([A-Za-z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
T = TypeVar("T")


# --- sizes from the environment -----------------------------------------------------------------


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value.replace("_", "").replace(",", "")) if value else default


def env_ints(name: str, default: list[int]) -> list[int]:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    return [int(part.replace("_", "")) for part in value.split(",") if part.strip()]


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name, "").strip()
    return [part.strip() for part in value.split(",") if part.strip()] if value else default


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    return float(value) if value else default


# --- reading figures ----------------------------------------------------------------------------


def samples(text: str, name: str) -> Iterable[tuple[dict[str, str], float]]:
    """(labels, value) of every sample of ``name`` in Prometheus text format."""
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        match = _SAMPLE.match(line)
        if match is None or match.group(1) != name:
            continue
        labels = dict(_LABEL.findall(match.group(2) or ""))
        yield labels, float(match.group(3))


def metric_sum(text: str, name: str, **labels: str) -> float:
    return sum(v for got, v in samples(text, name) if all(got.get(k) == x for k, x in labels.items()))


def proc_status(pid: int, field_name: str) -> int:
    """A ``kB`` field of /proc/<pid>/status in bytes (VmRSS, VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field_name)


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (its threads included), from /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime, stime (fields 14, 15)


def mib(value: float) -> str:
    return f"{value / 2**20:,.1f} MiB"


@dataclass
class Ferry:
    """One ferry executable running under the benchmark."""

    proc: ManagedProcess
    address: str
    metrics_url: str
    workdir: Path

    @property
    def pid(self) -> int:
        assert self.proc.pid is not None, f"{self.proc.name} is not running"
        return self.proc.pid

    def metrics_text(self) -> str:
        with urllib.request.urlopen(self.metrics_url, timeout=30) as resp:  # noqa: S310 (loopback)
            return bytes(resp.read()).decode()

    def metric(self, name: str, **labels: str) -> float:
        return metric_sum(self.metrics_text(), name, **labels)

    def rss(self) -> int:
        return proc_status(self.pid, "VmRSS")

    def peak_rss(self) -> int:
        return proc_status(self.pid, "VmHWM")

    def cpu_seconds(self) -> float:
        return proc_cpu_seconds(self.pid)

    def stop(self) -> None:
        if self.proc.pid is None:
            return  # stopped already
        self.proc.stop()
        if os.environ.get("BENCH_KEEP_LOGS"):
            print(f"({self.proc.name} log kept: {self.proc.log_path})")
            return
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_ferry(
    name: str,
    args: list[str],
    *,
    grpc_port: bool = True,
    loglevel: str = "warn",
    workdir: Path | None = None,
) -> Ferry:
    """Starts a ferry executable on free ports; returns once it listens (gRPC, else metrics)."""
    port, metrics_port = free_port(), free_port()
    workdir = workdir or new_workdir(f"bench-{name}")
    ports = ["--port", str(port)] if grpc_port else []
    proc = ManagedProcess(
        name,
        [
            str(Path(sys.executable).parent / name),
            *ports,
            "--metrics-port",
            str(metrics_port),
            "--loglevel",
            loglevel,
            *args,
        ],
        log_path=workdir / f"{name}.log",
        env={**os.environ, "FERRY_SERVICE_KEY": KEY, **PLAINTEXT_ENV},  # the figures predate mesh TLS
    ).start()
    ready = port if grpc_port else metrics_port
    proc.wait_until(lambda: port_open(ready), timeout=60, what=f"port {ready}")
    return Ferry(proc, f"127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}/metrics", workdir)


def start_reposerver(*extra: str) -> Ferry:
    """ferry-reposerver with its own cache directory; ``extra``: more flags."""
    workdir = new_workdir("bench-ferry-reposerver")
    # the benchmarks' repositories are file:// URLs: allowed here, never by default
    args = ["--cache-dir", str(workdir / "cache"), "--allow-local-repos", *extra]
    return start_ferry("ferry-reposerver", args, workdir=workdir)


def start_controller(plane: ControlPlane, repo_server: Ferry, *extra: str) -> Ferry:
    """ferry-controller installing the CRDs and the default project; returns once both exist."""
    controller = start_ferry(
        "ferry-controller",
        [
            "--kubeconfig",
            str(plane.kubeconfig),
            "--namespace",
            CONTROL_NS,
            "--repo-server",
            repo_server.address,
            "--install-crds",
            *extra,
        ],
        grpc_port=False,
    )
    path = f"/apis/{APP_API_VERSION}/namespaces/{CONTROL_NS}/appprojects/default"
    controller.proc.wait_until(
        lambda: plane.request("GET", path)[0] == 200, timeout=60, what="the default AppProject"
    )
    return controller


def start_server(plane: ControlPlane, repo_server_address: str, *, http_port: int | None = None) -> Ferry:
    """ferry-server with TLS (its self-signed certificate is stored in ferry-server-tls); REST,
    webhooks and UI on ``http_port`` (a free port when not given)."""
    return start_ferry(
        "ferry-server",
        [
            "--kubeconfig",
            str(plane.kubeconfig),
            "--namespace",
            CONTROL_NS,
            "--repo-server",
            repo_server_address,
            "--http-port",
            str(http_port or free_port()),
        ],
    )


# --- kube-apiserver's own figures -----------------------------------------------------------------


@dataclass
class ApiMetrics:
    """kube-apiserver's request counters and mutating-latency histogram at one moment."""

    requests: dict[tuple[str, str, str], float] = field(default_factory=dict)  # (verb, resource, dry_run)
    buckets: dict[tuple[str, float], float] = field(default_factory=dict)  # (kind, le) -> count
    sums: dict[str, float] = field(default_factory=dict)  # kind -> seconds
    counts: dict[str, float] = field(default_factory=dict)

    @staticmethod
    def read(plane: ControlPlane) -> ApiMetrics:
        text = plane.metrics()
        snap = ApiMetrics()
        for labels, value in samples(text, "apiserver_request_total"):
            request = (labels.get("verb", ""), labels.get("resource", ""), labels.get("dry_run", ""))
            snap.requests[request] = snap.requests.get(request, 0.0) + value
        for suffix in ("_bucket", "_sum", "_count"):
            for labels, value in samples(text, "apiserver_request_duration_seconds" + suffix):
                kind = _mutation_kind(labels)
                if kind is None:
                    continue
                if suffix == "_bucket":
                    bucket = (kind, float(labels["le"]))
                    snap.buckets[bucket] = snap.buckets.get(bucket, 0.0) + value
                elif suffix == "_sum":
                    snap.sums[kind] = snap.sums.get(kind, 0.0) + value
                else:
                    snap.counts[kind] = snap.counts.get(kind, 0.0) + value
        return snap

    def minus(self, before: ApiMetrics) -> ApiMetrics:
        def sub(now: dict[Any, float], then: dict[Any, float]) -> dict[Any, float]:
            return {k: v - then.get(k, 0.0) for k, v in now.items() if v - then.get(k, 0.0) > 0}

        return ApiMetrics(
            sub(self.requests, before.requests),
            sub(self.buckets, before.buckets),
            sub(self.sums, before.sums),
            sub(self.counts, before.counts),
        )

    def total(self, *, verb: str = "", resource: str = "") -> float:
        return sum(
            v
            for (got_verb, got_resource, _), v in self.requests.items()
            if (not verb or got_verb == verb) and (not resource or got_resource == resource)
        )

    def by_verb(self) -> dict[str, float]:
        verbs: dict[str, float] = {}
        for (verb, _, dry_run), value in self.requests.items():
            key = f"{verb} (dry run)" if dry_run else verb
            verbs[key] = verbs.get(key, 0.0) + value
        return dict(sorted(verbs.items(), key=lambda kv: -kv[1]))

    def latency(self, kind: str = "write") -> tuple[float, float, float, float]:
        """(count, mean, p50, p99) in seconds of mutating requests: kind ``write`` (POST/PATCH/PUT
        that change something) or ``dry-run`` (server-side dry runs); quantiles interpolated
        within the histogram's buckets."""
        count = self.counts.get(kind, 0.0)
        if count <= 0:
            return 0.0, 0.0, 0.0, 0.0
        mean = self.sums.get(kind, 0.0) / count
        bounds = sorted(le for k, le in self.buckets if k == kind)

        def quantile(q: float) -> float:
            target, lower, below = q * count, 0.0, 0.0
            for le in bounds:
                cumulative = self.buckets.get((kind, le), 0.0)
                if cumulative >= target:
                    if le == float("inf"):
                        return lower
                    share = (target - below) / (cumulative - below) if cumulative > below else 1.0
                    return lower + (le - lower) * share
                lower, below = le, cumulative
            return lower

        return count, mean, quantile(0.5), quantile(0.99)


def _mutation_kind(labels: dict[str, str]) -> str | None:
    if labels.get("verb") not in ("POST", "PATCH", "PUT", "APPLY", "CREATE", "UPDATE"):
        return None
    return "dry-run" if labels.get("dry_run") else "write"


def latency_line(label: str, metrics: ApiMetrics, kind: str = "write") -> str:
    count, mean, p50, p99 = metrics.latency(kind)
    return f"| {label} | {count:,.0f} | {mean * 1000:.1f} ms | {p50 * 1000:.1f} ms | {p99 * 1000:.0f} ms |"


# --- writing to the API server ------------------------------------------------------------------


def kube(plane: ControlPlane, user_agent: str = "ferry-bench") -> KubeClient:
    """An async client of the plane without client-side rate limit."""
    return KubeClient(
        ClusterConfig.from_kubeconfig(plane.kubeconfig), user_agent=user_agent, qps=0, timeout=120
    )


async def bounded(work: Iterable[Callable[[], Awaitable[T]]], concurrency: int) -> list[T]:
    """Runs every callable with at most ``concurrency`` in flight; results in order."""
    semaphore = asyncio.Semaphore(concurrency)

    async def one(job: Callable[[], Awaitable[T]]) -> T:
        async with semaphore:
            return await job()

    return list(await asyncio.gather(*(one(job) for job in work)))


async def create_all(client: KubeClient, objects: list[Obj], concurrency: int = 16) -> None:
    """POSTs every object, at most ``concurrency`` at a time."""
    await bounded([partial(client.create, obj) for obj in objects], concurrency)


async def ensure_namespace(client: KubeClient, name: str) -> None:
    with contextlib.suppress(Conflict):
        await client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


async def install_crds(client: KubeClient) -> None:
    """The CRDs, the control namespace and the default AppProject — what the controller's
    --install-crds does, for benchmarks that run without a controller."""
    for crd in crds.load():
        await client.apply(crd, field_manager="ferry-bench")
    crd_info = await client.resource("apiextensions.k8s.io/v1", "CustomResourceDefinition")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready = True
        for name in ("applications.ferrycd.io", "appprojects.ferrycd.io"):
            conditions = ((await client.get(crd_info, name)).get("status") or {}).get("conditions") or []
            ready &= any(c["type"] == "Established" and c["status"] == "True" for c in conditions)
        if ready:
            break
        await asyncio.sleep(0.1)
    await client.discover(force=True)
    await ensure_namespace(client, CONTROL_NS)
    await ensure_default_project(client, CONTROL_NS)


# One app's manifest in the controller and sync benches: ConfigMap app-<i>, small and distinct.
CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: app-{i}
data:
  index: "{i}"
  greeting: hello from app {i}
"""


def application(
    name: str, repo_url: str, path: str, namespace: str, *, automated: bool = True
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "project": "default",
        "source": {"repoURL": repo_url, "path": path, "targetRevision": "HEAD"},
        "destination": {"server": IN_CLUSTER, "namespace": namespace},
    }
    if automated:
        spec["syncPolicy"] = {"automated": {}}
    return {
        "apiVersion": APP_API_VERSION,
        "kind": "Application",
        "metadata": {"name": name, "namespace": CONTROL_NS},
        "spec": spec,
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

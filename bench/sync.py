"""From creating N Applications to all of them Synced (issue #7), for two app shapes:
``configmap`` (one ConfigMap) and ``workload`` (Deployment + ServiceAccount + Service + ConfigMap,
waited for until Healthy too: kube-scheduler and kwok run the Pods).

Each case gets a fresh control plane, repo server and controller (default flags, automated sync,
apps from one file:// monorepo), so figures never mix. Measured per case:
- wall time from the first create to all Synced (and all Healthy), apps/s;
- requests the API server served meanwhile per app (apiserver_request_total; every client,
  kube-controller-manager and kwok included, the bench's own creates excluded) and the
  controller's own requests per app (ferry_app_k8s_request_total, by verb and kind);
- controller CPU per app and as a share of a core, kube-apiserver's share of a core, controller
  peak RSS (VmHWM of the fresh process);
- the API server's latency of mutating requests (POST/PATCH/PUT/APPLY, not dry runs, from
  apiserver_request_duration_seconds) during the run.
Baseline in the same run, with the controller stopped: the same objects (with ferry's tracking)
server-side applied straight from Python with 32 concurrent PATCHes into another namespace —
the physical limit of the API server here — as apps/s, and the ratio of the two.

Sizes: BENCH_SYNC_APPS (100,1000), BENCH_SYNC_SHAPES (configmap,workload).
"""

from __future__ import annotations

import asyncio
import shutil
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import yaml

from bench.stack import (
    APP_API_VERSION,
    CONFIGMAP,
    CONTROL_NS,
    ApiMetrics,
    Ferry,
    application,
    bounded,
    create_all,
    ensure_namespace,
    env_int,
    env_ints,
    env_list,
    kube,
    mib,
    proc_cpu_seconds,
    samples,
    start_controller,
    start_reposerver,
)
from ferry.engine.diff import CONTROLLER_MANAGER
from ferry.engine.tracking import with_tracking
from ferry.kube.client import Obj
from ferry.kube.informer import Informer
from ferry_devenv.controlplane import ControlPlane
from ferry_devenv.gitrepo import GitRepo
from ferry_devenv.process import new_workdir

SIZES = env_ints("BENCH_SYNC_APPS", [100, 1000])
SHAPES = env_list("BENCH_SYNC_SHAPES", ["configmap", "workload"])
TIMEOUT = env_int("BENCH_SYNC_TIMEOUT", 1800)
BASELINE_CONCURRENCY = 32
APPS_NS, BASELINE_NS = "bench-apps", "bench-baseline"

# Small limits: the fake node has 64 CPUs and room for 1,000 Pods, so 1,000 apps fit.
MAX_WORKLOAD_APPS = 1000
WORKLOAD = (
    CONFIGMAP
    + """---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: app-{i}
---
apiVersion: v1
kind: Service
metadata:
  name: app-{i}
spec:
  selector: {{app: app-{i}}}
  ports: [{{port: 80, targetPort: 8080}}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: app-{i}}}
  template:
    metadata:
      labels: {{app: app-{i}}}
    spec:
      serviceAccountName: app-{i}
      containers:
      - name: web
        image: nginx:1.27
        ports: [{{containerPort: 8080}}]
        envFrom: [{{configMapRef: {{name: app-{i}}}}}]
        resources: {{limits: {{cpu: 10m, memory: 32Mi}}}}
"""
)
TEMPLATES = {"configmap": CONFIGMAP, "workload": WORKLOAD}


def _status(app: Obj, key: str) -> str:
    return str(((app.get("status") or {}).get(key) or {}).get("status", ""))


@dataclass
class Case:
    shape: str
    apps: int
    synced: float = 0.0
    healthy: float = 0.0
    api_requests: float = 0.0
    controller_requests: dict[str, float] = field(default_factory=dict)
    controller_cpu: float = 0.0
    apiserver_cpu: float = 0.0
    peak_rss: int = 0
    run: ApiMetrics = field(default_factory=ApiMetrics)
    baseline_wall: float = 0.0
    baseline_objects: int = 0
    baseline: ApiMetrics = field(default_factory=ApiMetrics)

    @property
    def rate(self) -> float:
        return self.apps / (self.healthy or self.synced)

    @property
    def baseline_rate(self) -> float:
        return self.apps / self.baseline_wall


def _controller_requests(controller: Ferry) -> dict[str, float]:
    counts: dict[str, float] = {}
    for labels, value in samples(controller.metrics_text(), "ferry_app_k8s_request_total"):
        dry = " (dry run)" if labels.get("dry_run") == "true" else ""
        key = f"{labels.get('verb', '')} {labels.get('resource_kind', '')}{dry}"
        counts[key] = counts.get(key, 0.0) + value
    return counts


async def _wait(apps: Informer, names: list[str], done: Any, what: str, deadline: float) -> None:
    while True:
        pending = [n for n in names if not ((a := apps.get(CONTROL_NS, n)) is not None and done(a))]
        if not pending:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(pending)}/{len(names)} apps not {what} after {TIMEOUT}s")
        await asyncio.sleep(0.25)


async def _measure(case: Case, plane: ControlPlane, controller: Ferry, url: str, objects: list[Obj]) -> None:
    client = kube(plane)
    apiserver_pid = plane.processes["kube-apiserver"].pid
    assert apiserver_pid is not None
    try:
        await ensure_namespace(client, APPS_NS)
        await ensure_namespace(client, BASELINE_NS)
        info = await client.resource(APP_API_VERSION, "Application")
        apps = Informer(client, info, namespace=CONTROL_NS).start()
        await apps.wait_synced(60)
        names = [f"app-{i}" for i in range(case.apps)]
        requests0 = _controller_requests(controller)
        before = ApiMetrics.read(plane)
        cpu0, api_cpu0 = controller.cpu_seconds(), proc_cpu_seconds(apiserver_pid)
        start = time.monotonic()
        await create_all(client, [application(n, url, f"apps/{n}", APPS_NS) for n in names])
        deadline = start + TIMEOUT
        await _wait(apps, names, lambda a: _status(a, "sync") == "Synced", "Synced", deadline)
        case.synced = time.monotonic() - start
        if case.shape == "workload":
            await _wait(apps, names, lambda a: _status(a, "health") == "Healthy", "Healthy", deadline)
            case.healthy = time.monotonic() - start
        wall = time.monotonic() - start
        case.controller_cpu = controller.cpu_seconds() - cpu0
        case.apiserver_cpu = (proc_cpu_seconds(apiserver_pid) - api_cpu0) / wall
        case.peak_rss = controller.peak_rss()
        case.run = ApiMetrics.read(plane).minus(before)
        case.api_requests = case.run.total() - case.apps  # the bench's own creates aside
        after = _controller_requests(controller)
        case.controller_requests = {
            k: v - requests0.get(k, 0.0) for k, v in after.items() if v - requests0.get(k, 0.0) > 0
        }
        await apps.stop()
        controller.stop()  # the baseline runs alone

        before = ApiMetrics.read(plane)
        start = time.monotonic()
        await bounded(
            [partial(client.apply, obj, field_manager=CONTROLLER_MANAGER) for obj in objects],
            BASELINE_CONCURRENCY,
        )
        case.baseline_wall = time.monotonic() - start
        case.baseline_objects = len(objects)
        case.baseline = ApiMetrics.read(plane).minus(before)
    finally:
        await client.close()


def run_case(shape: str, apps: int) -> Case:
    case = Case(shape, apps)
    plane = ControlPlane(f"bench-sync-{shape}-{apps}").start(workloads=shape == "workload")
    git_root = new_workdir("bench-git")
    repo = GitRepo(git_root, "monorepo")
    started: list[Ferry] = []
    try:
        files = {f"apps/app-{i}/all.yaml": TEMPLATES[shape].format(i=i) for i in range(apps)}
        repo.write(files)
        repo.commit(f"{apps} {shape} apps")
        objects = [
            with_tracking({**doc, "metadata": {**doc["metadata"], "namespace": BASELINE_NS}}, f"app-{i}")
            for i in range(apps)
            for doc in yaml.safe_load_all(files[f"apps/app-{i}/all.yaml"])
        ]
        reposerver = start_reposerver()
        started.append(reposerver)
        controller = start_controller(plane, reposerver)
        started.append(controller)
        asyncio.run(_measure(case, plane, controller, f"file://{repo.bare}", objects))
    finally:
        for ferry in reversed(started):
            ferry.stop()
        plane.stop()
        repo.cleanup()
        shutil.rmtree(git_root, ignore_errors=True)
    return case


def _ms(metrics: ApiMetrics) -> str:
    _, mean, _, p99 = metrics.latency("write")
    return f"{mean * 1000:.0f} / {p99 * 1000:.0f} ms"


def report(cases: list[Case]) -> None:
    print(
        "| shape | apps | to all Synced | to all Healthy | apps/s | API requests/app (all clients) "
        "| controller requests/app | controller requests/s | controller CPU/app | controller CPU "
        "| apiserver CPU | peak RSS | write latency mean / p99 |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for c in cases:
        controller_requests = sum(c.controller_requests.values()) / c.apps
        print(
            f"| {c.shape} | {c.apps} | {c.synced:.1f} s | {f'{c.healthy:.1f} s' if c.healthy else '-'} "
            f"| {c.rate:.1f} | {c.api_requests / c.apps:.1f} | {controller_requests:.1f} "
            f"| {controller_requests * c.rate:.0f} "
            f"| {c.controller_cpu / c.apps * 1000:.0f} ms "
            f"| {c.controller_cpu / (c.healthy or c.synced) * 100:.0f}% | {c.apiserver_cpu * 100:.0f}% "
            f"| {mib(c.peak_rss)} | {_ms(c.run)} |"
        )
    print(
        "\n| shape | apps | baseline: raw SSA of the same objects | objects/s | apps/s "
        "| write latency mean / p99 | ferry / baseline |"
    )
    print("|---|---|---|---|---|---|---|")
    for c in cases:
        print(
            f"| {c.shape} | {c.apps} | {c.baseline_objects} objects in {c.baseline_wall:.1f} s "
            f"| {c.baseline_objects / c.baseline_wall:,.0f} | {c.baseline_rate:,.1f} | {_ms(c.baseline)} "
            f"| {c.rate / c.baseline_rate:.3f} |"
        )
    print()
    for c in cases:
        top = sorted(
            ((k, v) for k, v in c.controller_requests.items() if v / c.apps >= 0.05), key=lambda kv: -kv[1]
        )
        print(
            f"controller requests per app, {c.shape} x {c.apps}: "
            + ", ".join(f"{k} {v / c.apps:.1f}" for k, v in top)
        )


def run() -> None:
    wall = time.monotonic()
    cases: list[Case] = []
    for shape in SHAPES:
        if shape not in TEMPLATES:
            raise SystemExit(f"unknown shape {shape!r}; shapes: {', '.join(TEMPLATES)}")
        for apps in SIZES:
            if shape == "workload" and apps > MAX_WORKLOAD_APPS:
                raise SystemExit(f"workload apps: at most {MAX_WORKLOAD_APPS} (Pods on the fake node)")
            started = time.monotonic()
            cases.append(run_case(shape, apps))
            print(f"({shape} x {apps}: case wall time {time.monotonic() - started:.0f} s)", flush=True)
    print()
    report(cases)
    print(
        "\nsync: "
        + "; ".join(
            f"{c.shape} x {c.apps} {c.rate:.1f} apps/s ({c.rate / c.baseline_rate:.1%} of raw SSA)"
            for c in cases
        )
        + f"; wall time {time.monotonic() - wall:.0f} s"
    )

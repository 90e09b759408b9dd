"""Controller at steady state: 1,000 Applications of one ConfigMap each, all synced (issue #6).

Real processes (ferry-reposerver, ferry-controller) on a real control plane; the apps are
directories of one Git monorepo served over file://, created with automated sync. Measures:
- the initial sync of every app (wall time; not the point here, see bench/sync.py);
- steady state: controller CPU seconds per no-op reconcile — process CPU from /proc/<pid>/stat
  over a window, divided by the reconciles the controller counted (ferry_app_reconcile_count;
  periodic refreshes every --app-resync seconds, no jitter) — and the Kubernetes requests and
  status writes it sent meanwhile (a no-op reconcile should send none);
- baseline in the same run: the bench process's own CPU per cached GenerateManifests RPC to
  the same repo server for the same apps, manifests decoded — the floor of any refresh;
- controller RSS (median of samples over each window) with no apps, with the apps synced, and
  after 50,000 unmanaged ConfigMaps were created in another namespace (goal: RSS grows by less
  than 10%; reported pass/fail, not asserted), plus CPU per no-op reconcile again.

Sizes: BENCH_CONTROLLER_APPS (1000), BENCH_CONTROLLER_CONFIGMAPS (50000),
BENCH_CONTROLLER_RESYNC (30 s), BENCH_CONTROLLER_WINDOW (60 s).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

import grpc

from bench.stack import (
    APP_API_VERSION,
    CONFIGMAP,
    CONTROL_NS,
    KEY,
    Ferry,
    application,
    bounded,
    create_all,
    ensure_namespace,
    env_float,
    env_int,
    kube,
    metric_sum,
    mib,
    start_controller,
    start_reposerver,
)
from ferry.kube.client import KubeClient, Obj
from ferry.kube.informer import Informer
from ferry.servicetoken import TokenSource
from ferry.v1 import repo_pb2, repo_pb2_grpc, types_pb2
from ferry_devenv.controlplane import ControlPlane
from ferry_devenv.gitrepo import GitRepo
from ferry_devenv.process import new_workdir

APPS = env_int("BENCH_CONTROLLER_APPS", 1000)
UNMANAGED = env_int("BENCH_CONTROLLER_CONFIGMAPS", 50_000)
RESYNC = env_float("BENCH_CONTROLLER_RESYNC", 30.0)
WINDOW = env_float("BENCH_CONTROLLER_WINDOW", 60.0)
GOAL = 1.10  # RSS after / before the unmanaged ConfigMaps
APPS_NS, UNMANAGED_NS = "bench-apps", "bench-unmanaged"


def sync_status(app: Obj) -> str:
    return str(((app.get("status") or {}).get("sync") or {}).get("status", ""))


async def wait_all(
    apps: Informer, names: set[str], done: Any, *, timeout: float, what: str, poll: float = 0.5
) -> float:
    """Seconds until ``done(app)`` holds for every app in ``names`` (the informer's view)."""
    start = time.monotonic()
    while True:
        pending = [n for n in names if not ((a := apps.get(CONTROL_NS, n)) is not None and done(a))]
        if not pending:
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            example = apps.get(CONTROL_NS, pending[0]) or {}
            raise TimeoutError(
                f"{len(pending)}/{len(names)} apps not {what} after {timeout:.0f}s; "
                f"e.g. {pending[0]}: {json.dumps(example.get('status') or {})[:600]}"
            )
        await asyncio.sleep(poll)


@dataclass
class Window:
    seconds: float
    reconciles: float
    cpu: float
    requests: float
    status_writes: float
    rss: list[int]

    @property
    def cpu_per_reconcile(self) -> float:
        return self.cpu / self.reconciles if self.reconciles else float("nan")


def _counters(controller: Ferry) -> tuple[float, float, float]:
    text = controller.metrics_text()
    return (
        metric_sum(text, "ferry_app_reconcile_count"),
        metric_sum(text, "ferry_app_k8s_request_total"),
        metric_sum(text, "ferry_app_status_write_total"),
    )


async def window(controller: Ferry, seconds: float) -> Window:
    """CPU, reconciles and requests over ``seconds``; the metric scrapes are outside the CPU
    window (counters read before the first and after the last CPU reading)."""
    reconciles0, requests0, writes0 = _counters(controller)
    cpu0, start = controller.cpu_seconds(), time.monotonic()
    rss = []
    while time.monotonic() - start < seconds:
        rss.append(controller.rss())
        await asyncio.sleep(min(2.0, max(0.0, seconds - (time.monotonic() - start))))
    cpu1, elapsed = controller.cpu_seconds(), time.monotonic() - start
    reconciles1, requests1, writes1 = _counters(controller)
    return Window(
        elapsed, reconciles1 - reconciles0, cpu1 - cpu0, requests1 - requests0, writes1 - writes0, rss
    )


async def rpc_floor(reposerver: Ferry, url: str, kube_version: str) -> tuple[float, int]:
    """The bench process's CPU seconds per cached GenerateManifests (+ JSON decode), per app."""
    tokens = TokenSource(KEY.encode(), "controller")
    requests = [
        repo_pb2.ManifestRequest(
            repo=types_pb2.Repository(repo=url),
            application_source=types_pb2.ApplicationSource(
                repo_url=url, path=f"apps/app-{i}", target_revision="HEAD"
            ),
            revision="HEAD",
            app_name=f"app-{i}",
            namespace=APPS_NS,
            kube_version=kube_version,
            project_name="default",
        )
        for i in range(APPS)
    ]
    async with grpc.aio.insecure_channel(reposerver.address) as channel:
        stub: Any = repo_pb2_grpc.RepoServiceStub(channel)

        async def call(request: repo_pb2.ManifestRequest) -> int:
            response = await stub.GenerateManifests(request, metadata=tokens.metadata(), timeout=120)
            return len([json.loads(m) for m in response.manifests])

        await bounded([partial(call, r) for r in requests], 16)  # warm: every answer cached
        cpu0 = time.process_time()
        decoded = await bounded([partial(call, r) for r in requests], 16)
        return (time.process_time() - cpu0) / len(requests), sum(decoded)


async def create_configmaps(client: KubeClient, count: int, namespace: str) -> float:
    """Creates ``count`` small ConfigMaps with concurrent POSTs; the wall time."""

    async def one(i: int) -> None:
        await client.create(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"unmanaged-{i}", "namespace": namespace, "labels": {"team": "other"}},
                "data": {"index": str(i), "payload": "x" * 64},
            }
        )

    start = time.monotonic()
    await bounded([partial(one, i) for i in range(count)], 48)
    return time.monotonic() - start


async def measure(plane: ControlPlane, reposerver: Ferry, controller: Ferry, url: str) -> None:
    client = kube(plane)
    rows: list[tuple[str, str]] = []
    try:
        await ensure_namespace(client, APPS_NS)
        await ensure_namespace(client, UNMANAGED_NS)
        idle = await window(controller, 10)
        rss_empty = statistics.median(idle.rss)
        info = await client.resource(APP_API_VERSION, "Application")
        apps = Informer(client, info, namespace=CONTROL_NS).start()
        await apps.wait_synced(60)
        names = {f"app-{i}" for i in range(APPS)}
        start = time.monotonic()
        await create_all(
            client, [application(f"app-{i}", url, f"apps/app-{i}", APPS_NS) for i in range(APPS)]
        )
        synced = (
            time.monotonic()
            - start
            + await wait_all(apps, names, lambda a: sync_status(a) == "Synced", timeout=1800, what="Synced")
        )
        await apps.stop()
        rows.append(("initial sync (automated), wall", f"{synced:.1f} s ({APPS / synced:.1f} apps/s)"))
        await asyncio.sleep(min(RESYNC, 20))  # the syncs' own follow-up reconciles have passed
        steady = await window(controller, WINDOW)
        floor, objects = await rpc_floor(reposerver, url, (await client.server_version()).lstrip("v"))
        assert objects == APPS, f"the floor decoded {objects} manifests for {APPS} apps"
        cm_wall = await create_configmaps(client, UNMANAGED, UNMANAGED_NS)
        await asyncio.sleep(RESYNC)  # every app refreshed at least once with them around
        after = await window(controller, WINDOW)
    finally:
        await client.close()

    rss_steady, rss_after = statistics.median(steady.rss), statistics.median(after.rss)
    growth = rss_after / rss_steady
    verdict = "PASS" if growth < GOAL else "FAIL"
    rows += [
        ("controller idle CPU, no apps", f"{idle.cpu / idle.seconds * 100:.1f}% of a core"),
        ("controller RSS, no apps", mib(rss_empty)),
        (f"controller RSS, {APPS} apps synced", mib(rss_steady)),
        (
            f"no-op reconciles in {steady.seconds:.0f} s (resync {RESYNC:.0f} s)",
            f"{steady.reconciles:,.0f} ({steady.reconciles / steady.seconds:.1f}/s)",
        ),
        (
            "Kubernetes requests / status writes meanwhile",
            f"{steady.requests:.0f} / {steady.status_writes:.0f}",
        ),
        ("controller CPU per no-op reconcile", f"{steady.cpu_per_reconcile * 1000:.2f} ms"),
        ("controller CPU, share of a core", f"{steady.cpu / steady.seconds * 100:.1f}%"),
        ("baseline: bench CPU per cached GenerateManifests + decode", f"{floor * 1000:.2f} ms"),
        ("no-op reconcile / baseline", f"{steady.cpu_per_reconcile / floor:.1f}x"),
        (
            f"{UNMANAGED:,} unmanaged ConfigMaps created in {UNMANAGED_NS}",
            f"{cm_wall:.1f} s ({UNMANAGED / cm_wall:,.0f}/s)",
        ),
        (f"controller RSS with {UNMANAGED:,} unmanaged ConfigMaps", mib(rss_after)),
        ("RSS after / before", f"{growth:.3f} (goal < {GOAL:.2f}: {verdict})"),
        ("controller CPU per no-op reconcile, after", f"{after.cpu_per_reconcile * 1000:.2f} ms"),
        (
            "Kubernetes requests / status writes meanwhile",
            f"{after.requests:.0f} / {after.status_writes:.0f}",
        ),
        ("controller peak RSS (VmHWM)", mib(controller.peak_rss())),
    ]
    print("| measure | value |\n|---|---|")
    for label, value in rows:
        print(f"| {label} | {value} |")
    print(
        f"\ncontroller: {steady.cpu_per_reconcile * 1000:.2f} ms CPU per no-op reconcile "
        f"({steady.cpu_per_reconcile / floor:.1f}x the RPC floor); RSS {mib(rss_steady)} -> {mib(rss_after)} "
        f"with {UNMANAGED:,} unmanaged ConfigMaps (x{growth:.3f}, goal < {GOAL:.2f}: {verdict})"
    )


def run() -> None:
    wall = time.monotonic()
    plane = ControlPlane("bench-controller").start()
    git_root = new_workdir("bench-git")
    repo = GitRepo(git_root, "monorepo")
    started: list[Ferry] = []
    try:
        repo.write({f"apps/app-{i}/configmap.yaml": CONFIGMAP.format(i=i) for i in range(APPS)})
        repo.commit(f"{APPS} apps")
        reposerver = start_reposerver()
        started.append(reposerver)
        controller = start_controller(
            plane, reposerver, "--app-resync", str(RESYNC), "--app-resync-jitter", "0"
        )
        started.append(controller)
        print(
            f"{APPS} apps x 1 ConfigMap (file:// monorepo, automated sync), resync {RESYNC:.0f} s, "
            f"windows of {WINDOW:.0f} s, {UNMANAGED:,} unmanaged ConfigMaps"
        )
        asyncio.run(measure(plane, reposerver, controller, f"file://{repo.bare}"))
    finally:
        for ferry in reversed(started):
            ferry.stop()
        plane.stop()
        repo.cleanup()
        shutil.rmtree(git_root, ignore_errors=True)
    print(f"wall time {time.monotonic() - wall:.0f} s")

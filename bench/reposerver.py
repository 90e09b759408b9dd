"""Repo server on a monorepo of 1,000 directory apps (ConfigMap + Deployment + Service each).

Measures, against a real ferry-reposerver process over gRPC with service tokens:
- cold: rendering every app once (renders caused, wall time, apps/s);
- warm: every app again, all cache hits (p50 / p99 per request);
- baseline in the same run: a trivial RPC (ResolveRevision of a full SHA, no Git work);
- one commit touching one app: every app requested at the new commit (renders caused, p50/p99).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import grpc

from ferry.servicetoken import TokenSource
from ferry.v1 import repo_pb2, repo_pb2_grpc, types_pb2
from ferry_devenv.gitrepo import GitRepo
from ferry_devenv.mesh import PLAINTEXT_ENV
from ferry_devenv.process import ManagedProcess, free_port, new_workdir, port_open

APPS = 1000
CONCURRENCY = 16
KEY = "bench-service-key-0123456789abcdef"

APP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: app-{i}
data:
  index: "{i}"
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
      containers:
      - name: web
        image: nginx:1.27
        resources: {{limits: {{cpu: 100m, memory: 64Mi}}}}
---
apiVersion: v1
kind: Service
metadata:
  name: app-{i}
spec:
  selector: {{app: app-{i}}}
  ports: [{{port: 80}}]
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def renders(metrics_port: int) -> float:
    import urllib.request  # noqa: PLC0415

    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    return sum(
        float(line.split()[-1]) for line in text.splitlines() if line.startswith("ferry_repo_render_total{")
    )


async def timed_requests(stub: Any, requests: list[Any], tokens: TokenSource, method: str) -> list[float]:
    semaphore = asyncio.Semaphore(CONCURRENCY)
    latencies: list[float] = []

    async def one(request: Any) -> None:
        async with semaphore:
            start = time.perf_counter()
            await getattr(stub, method)(request, metadata=tokens.metadata(), timeout=300)
            latencies.append(time.perf_counter() - start)

    await asyncio.gather(*(one(r) for r in requests))
    return latencies


def line(label: str, latencies: list[float], wall: float) -> None:
    print(
        f"| {label} | {len(latencies)} | {wall:.2f} s | {len(latencies) / wall:,.0f}/s | "
        f"{statistics.median(latencies) * 1000:.1f} ms | {percentile(latencies, 0.99) * 1000:.1f} ms |"
    )


async def measure(address: str, metrics_port: int, repo: GitRepo) -> None:
    url = f"file://{repo.bare}"
    tokens = TokenSource(KEY.encode(), "bench")

    def manifest_requests(revision: str) -> list[repo_pb2.ManifestRequest]:
        return [
            repo_pb2.ManifestRequest(
                repo=types_pb2.Repository(repo=url),
                application_source=types_pb2.ApplicationSource(repo_url=url, path=f"apps/app-{i}"),
                revision=revision,
                app_name=f"app-{i}",
                namespace="bench",
            )
            for i in range(APPS)
        ]

    async with grpc.aio.insecure_channel(address) as channel:
        stub = repo_pb2_grpc.RepoServiceStub(channel)
        head = repo.head()
        print("| phase | requests | wall | rate | p50 | p99 |\n|---|---|---|---|---|---|")
        trivial = [repo_pb2.ResolveRevisionRequest(repo=types_pb2.Repository(repo=url), revision=head)] * APPS
        start = time.perf_counter()
        baseline = await timed_requests(stub, trivial, tokens, "ResolveRevision")
        line("baseline: trivial RPC", baseline, time.perf_counter() - start)

        before = renders(metrics_port)
        start = time.perf_counter()
        cold = await timed_requests(stub, manifest_requests(head), tokens, "GenerateManifests")
        line("cold render of every app", cold, time.perf_counter() - start)
        cold_renders = renders(metrics_port) - before

        before = renders(metrics_port)
        start = time.perf_counter()
        warm = await timed_requests(stub, manifest_requests(head), tokens, "GenerateManifests")
        line("warm (cache hits)", warm, time.perf_counter() - start)
        warm_renders = renders(metrics_port) - before

        new = repo.commit("touch one app", {"apps/app-7/extra.yaml": APP.format(i="7-extra")})
        before = renders(metrics_port)
        start = time.perf_counter()
        after = await timed_requests(stub, manifest_requests(new), tokens, "GenerateManifests")
        line("every app after a commit touching one", after, time.perf_counter() - start)
        commit_renders = renders(metrics_port) - before

    counts = f"cold {cold_renders:.0f}, warm {warm_renders:.0f}, after one-app commit {commit_renders:.0f}"
    print(f"\nrenders caused: {counts}")
    print(f"warm p50 is {statistics.median(warm) / statistics.median(baseline):.1f}x the trivial RPC's p50")


def run() -> None:
    root = new_workdir("bench-git")
    cache = new_workdir("bench-reposerver")
    repo = GitRepo(root, "monorepo")
    repo.write({f"apps/app-{i}/all.yaml": APP.format(i=i) for i in range(APPS)})
    repo.commit("1,000 apps")
    port, metrics_port = free_port(), free_port()
    proc = ManagedProcess(
        "ferry-reposerver",
        [
            str(Path(sys.executable).parent / "ferry-reposerver"),
            "--port",
            str(port),
            "--metrics-port",
            str(metrics_port),
            "--cache-dir",
            str(cache),
            "--loglevel",
            "warn",
            "--allow-local-repos",  # the benchmark's repositories are file:// URLs
        ],
        log_path=cache / "reposerver.log",
        env={**os.environ, "FERRY_SERVICE_KEY": KEY, **PLAINTEXT_ENV},
    ).start()
    try:
        proc.wait_until(lambda: port_open(port), timeout=30, what="gRPC port")
        print(f"{APPS} directory apps, concurrency {CONCURRENCY}, in-process LRU cache")
        asyncio.run(measure(f"127.0.0.1:{port}", metrics_port, repo))
    finally:
        proc.stop()
        repo.cleanup()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)

"""Commit-to-live latency for one app of a 1,000-app monorepo, by webhook and by polling, and
the renders each commit caused (issue #12).

Real processes (ferry-reposerver, ferry-controller, ferry-server) on a real control plane; one
Git monorepo served by ``git daemon`` (or file://) with 1,000 directory apps
(``apps/app-NNNN/cm.yaml``, one ConfigMap each), 1,000 Applications with automated sync created
as custom objects, all Synced before anything is measured (their ConfigMaps are first
server-side applied as ferry applies them — its field manager and tracking — so the apps start
Synced without 1,000 sync operations; the initial sync is bench/sync.py's subject, not this).
Each trial commits a change to ONE app's ConfigMap (a random app, seeded) and times, from the
moment the push returned, until the live ConfigMap has the new data (GET every 50 ms), and when
that app's status first named the new commit ("noticed"; the rest is the sync). A trial ends
when every app's ``status.sync.revision`` names the new commit, so the next starts from a quiet
system.
- webhook: a signed GitHub push event (HMAC-SHA256 with ferry-secret ``webhook.github.secret``)
  is POSTed to ferry-server's /api/webhook over verified TLS right after the push; also the
  webhook's response time and where the touched app was in the order the server annotated apps;
- polling: no webhook. The commit is noticed when the repo server's cached ``git ls-remote``
  expires (``--revision-cache-expiration`` E; it is refetched at once, as periodic refreshes
  arrive all the time) and then each app at its next periodic refresh (``--app-resync`` R,
  jitter J): expected latency ≈ U(0, E) + U(0, R + J) + the sync, mean ≈ E/2 + (R + J)/2. Each
  polling commit waits a random U(0, E) first: back-to-back trials last about E each and would
  otherwise always land at the same point of the cache's cycle. Also per commit, when the
  first / median / last of the 1,000 apps noticed it, and every app's notice time pooled over
  the commits (the distribution for "an app");
- per commit, from the repo server's counters: renders (ferry_repo_render_total; goal 1: the
  other apps' paths did not change, so their manifests are reused), manifest cache reuse / miss,
  GenerateManifests and ResolveRevision RPCs handled, ``git ls-remote`` and fetches, and the
  controller's Kubernetes requests. GenerateManifests includes the periodic refreshes that run
  anyway (their steady-state rate x the trial's window is shown beside it).
Baselines in the same run, under the same steady-state load: a direct server-side apply of the
same ConfigMap change from the bench (the physical floor of "live"), one cached GenerateManifests
for one app (the floor of any refresh), and one uncached ResolveRevision (one ls-remote through
the repo server); latencies are also given as multiples of the first two.

Sizes: BENCH_LOOP_APPS (1000), BENCH_LOOP_WEBHOOK_REPEATS (5), BENCH_LOOP_POLL_REPEATS (2),
BENCH_LOOP_RESYNC (30 s), BENCH_LOOP_JITTER (0 s), BENCH_LOOP_REVISION_CACHE (60 s, ferry's
default; Argo CD's is 3 min), BENCH_LOOP_POLL_MS (50), BENCH_LOOP_GIT (daemon | file),
BENCH_LOOP_SEED (12), BENCH_LOOP_BASELINE_CALLS (20), BENCH_LOOP_PREAPPLY (1; 0: the apps'
first automated syncs create the ConfigMaps, ~3 min more at 1,000 apps).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import http.client
import json
import os
import random
import shutil
import ssl
import statistics
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import grpc
import yaml

from bench.api import secret_value
from bench.stack import (
    APP_API_VERSION,
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
    percentile,
    samples,
    start_controller,
    start_reposerver,
    start_server,
)
from ferry.engine.diff import CONTROLLER_MANAGER
from ferry.engine.tracking import with_tracking
from ferry.kube.client import KubeClient, Obj, ResourceInfo
from ferry.kube.errors import NotFoundError
from ferry.kube.informer import Informer
from ferry.servicetoken import TokenSource
from ferry.settings import REFRESH_ANNOTATION, SECRET
from ferry.v1 import repo_pb2, repo_pb2_grpc, types_pb2
from ferry_devenv.controlplane import ControlPlane
from ferry_devenv.gitrepo import GitRepo
from ferry_devenv.process import free_port, new_workdir
from ferry_devenv.servers import GitDaemon

APPS = env_int("BENCH_LOOP_APPS", 1000)
WEBHOOK_REPEATS = env_int("BENCH_LOOP_WEBHOOK_REPEATS", 5)
POLL_REPEATS = env_int("BENCH_LOOP_POLL_REPEATS", 2)
RESYNC = env_float("BENCH_LOOP_RESYNC", 30.0)
JITTER = env_float("BENCH_LOOP_JITTER", 0.0)
REVISION_CACHE = env_float("BENCH_LOOP_REVISION_CACHE", 60.0)
POLL = env_float("BENCH_LOOP_POLL_MS", 50.0) / 1000
SEED = env_int("BENCH_LOOP_SEED", 12)
BASELINE_CALLS = env_int("BENCH_LOOP_BASELINE_CALLS", 20)
PREAPPLY = env_int("BENCH_LOOP_PREAPPLY", 1) != 0
GIT = os.environ.get("BENCH_LOOP_GIT", "daemon").strip() or "daemon"
WEBHOOK_SECRET = "bench-webhook-secret"  # noqa: S105 (a test value)
APPS_NS, BASELINE_NS = "bench-apps", "bench-baseline"
BRANCH = "main"
CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
data:
  index: "{i}"
  version: "{version}"
"""


def app_name(i: int) -> str:
    return f"app-{i:04d}"


def app_path(i: int) -> str:
    return f"apps/{app_name(i)}/cm.yaml"


def configmap(i: int, version: str) -> str:
    return CONFIGMAP.format(name=app_name(i), i=i, version=version)


def _status(app: Obj, key: str, field_name: str = "status") -> str:
    return str(((app.get("status") or {}).get(key) or {}).get(field_name, ""))


# --- what the processes counted -------------------------------------------------------------------


@dataclass
class Counters:
    values: dict[str, float]

    @staticmethod
    def read(reposerver: Ferry, controller: Ferry) -> Counters:
        text = reposerver.metrics_text()
        values: dict[str, float] = {"renders": sum(v for _, v in samples(text, "ferry_repo_render_total"))}
        for labels, value in samples(text, "ferry_repo_cache_request_total"):
            key = f"cache {labels.get('result', '')}"
            values[key] = values.get(key, 0.0) + value
        for labels, value in samples(text, "grpc_server_handled_total"):
            key = labels.get("grpc_method", "")
            values[key] = values.get(key, 0.0) + value
        for labels, value in samples(text, "ferry_git_request_total"):
            key = labels.get("request_type", "")
            values[key] = values.get(key, 0.0) + value
        values["controller requests"] = sum(
            v for _, v in samples(controller.metrics_text(), "ferry_app_k8s_request_total")
        )
        return Counters(values)

    def minus(self, before: Counters) -> dict[str, float]:
        return {k: v - before.values.get(k, 0.0) for k, v in self.values.items()}


# --- the trials ----------------------------------------------------------------------------------


class Tracker:
    """Informer handler: when each app's status first named the commit being waited for."""

    def __init__(self) -> None:
        self.sha = ""
        self.seen: dict[str, float] = {}

    def expect(self, sha: str) -> None:
        self.sha, self.seen = sha, {}

    def handler(self, kind: str, new: Obj | None, old: Obj | None) -> None:
        if new is not None and self.sha and _status(new, "sync", "revision") == self.sha:
            self.seen.setdefault(new["metadata"]["name"], time.monotonic())


@dataclass
class Trial:
    mode: str
    n: int
    app: int
    live: float  # seconds from the push to the new data in the live ConfigMap
    noticed: float  # seconds from the push until the touched app's status named the commit
    notice: list[float]  # seconds from the push until each app's status named the commit
    window: float  # seconds from the push until the trial ended
    counts: dict[str, float]
    hook_seconds: float = 0.0
    hook_position: int = -1
    hook_refreshed: int = 0


@dataclass
class Stage:
    plane: ControlPlane
    repo: GitRepo
    url: str
    reposerver: Ferry
    controller: Ferry
    http_port: int
    client: KubeClient
    apps: Informer
    tracker: Tracker
    cm_info: ResourceInfo
    tls: ssl.SSLContext | None = None
    rng: random.Random = field(default_factory=lambda: random.Random(SEED))
    touched: set[int] = field(default_factory=set)

    def pick(self) -> int:
        while True:
            i = self.rng.randrange(APPS)
            if i not in self.touched or len(self.touched) >= APPS:
                self.touched.add(i)
                return i


def github_push(url: str, before: str, after: str, paths: list[str]) -> bytes:
    """A GitHub push event as GitHub sends it (the fields ferry reads, and the changed files)."""
    payload = {
        "ref": f"refs/heads/{BRANCH}",
        "before": before,
        "after": after,
        "repository": {
            "clone_url": url,
            "html_url": url.removesuffix(".git"),
            "default_branch": BRANCH,
        },
        "commits": [{"id": after, "added": [], "removed": [], "modified": paths}],
        "head_commit": {"id": after, "modified": paths},
    }
    return json.dumps(payload).encode()


def post_webhook(port: int, tls: ssl.SSLContext, body: bytes, event: str = "push") -> tuple[int, Any, float]:
    """(status, JSON answer, seconds) of one signed GitHub event."""
    signature = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": "bench",
        "X-Hub-Signature-256": signature,
    }
    start = time.monotonic()
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=tls, timeout=600)
    try:
        conn.request("POST", "/api/webhook", body=body, headers=headers)
        response = conn.getresponse()
        answer = json.loads(response.read() or b"null")
        return response.status, answer, time.monotonic() - start
    finally:
        conn.close()


async def wait_live(s: Stage, name: str, version: str, timeout: float) -> float:
    """monotonic() of the first GET that showed the ConfigMap with ``version``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            live = await s.client.get(s.cm_info, name, APPS_NS)
            if (live.get("data") or {}).get("version") == version:
                return time.monotonic()
        except NotFoundError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} did not get version {version!r} within {timeout:.0f}s")
        await asyncio.sleep(POLL)


async def wait_noticed(s: Stage, sha: str, timeout: float, *, refreshes: bool) -> None:
    """Until every app's status names ``sha`` (and, after a webhook, no refresh is pending)."""
    deadline = time.monotonic() + timeout
    names = [app_name(i) for i in range(APPS)]
    while True:
        for name in names:
            app = s.apps.get(CONTROL_NS, name)
            if name not in s.tracker.seen and app is not None and _status(app, "sync", "revision") == sha:
                s.tracker.seen[name] = time.monotonic()  # seen before the tracker expected it
        pending = APPS - len(s.tracker.seen)
        annotated = (
            sum(
                1
                for app in s.apps.items()
                if ((app.get("metadata") or {}).get("annotations") or {}).get(REFRESH_ANNOTATION)
            )
            if refreshes
            else 0
        )
        if not pending and not annotated:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"after {timeout:.0f}s: {pending} apps not at {sha[:12]}, {annotated} refreshes pending"
            )
        await asyncio.sleep(0.25)


async def trial(s: Stage, mode: str, n: int) -> Trial:
    i = s.pick()
    name, version = app_name(i), f"{mode}-{n}"
    if mode == "polling":
        await asyncio.sleep(s.rng.uniform(0, REVISION_CACHE))  # a random point of the cache's cycle
    before_sha = s.repo.head()
    before = Counters.read(s.reposerver, s.controller)
    sha = await asyncio.to_thread(s.repo.commit, f"{mode} {n}: {name}", {app_path(i): configmap(i, version)})
    pushed = time.monotonic()
    s.tracker.expect(sha)
    hook: asyncio.Future[tuple[int, Any, float]] | None = None
    if mode == "webhook":
        assert s.tls is not None
        body = github_push(s.url, before_sha, sha, [app_path(i)])
        hook = asyncio.ensure_future(asyncio.to_thread(post_webhook, s.http_port, s.tls, body))
    limit = 600.0 if mode == "webhook" else REVISION_CACHE + RESYNC + JITTER + 180
    live = await wait_live(s, name, version, limit) - pushed
    await wait_noticed(s, sha, limit, refreshes=mode == "webhook")
    result = Trial(
        mode,
        n,
        i,
        live,
        s.tracker.seen[name] - pushed,
        sorted(t - pushed for t in s.tracker.seen.values()),
        0.0,
        {},
    )
    if hook is not None:
        status, answer, seconds = await hook
        if status != 200:
            raise RuntimeError(f"webhook answered {status}: {answer}")
        refreshed = list(answer.get("refreshed") or [])
        result.hook_seconds, result.hook_refreshed = seconds, len(refreshed)
        result.hook_position = refreshed.index(name) + 1 if name in refreshed else -1
    result.window = time.monotonic() - pushed
    result.counts = Counters.read(s.reposerver, s.controller).minus(before)
    s.tracker.expect("")
    return result


# --- baselines -----------------------------------------------------------------------------------


@dataclass
class Baselines:
    ssa: list[float]
    cached_rpc: list[float]
    cached_renders: float
    resolve: list[float]
    steady_gm_rate: float  # GenerateManifests/s at steady state (periodic refreshes)
    steady_ls_remote_rate: float


async def baselines(s: Stage) -> Baselines:
    # direct server-side apply of the same kind of change, from the bench
    ssa = []
    for n in range(BASELINE_CALLS):
        obj = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "floor", "namespace": BASELINE_NS},
            "data": {"index": "0", "version": f"floor-{n}"},
        }
        start = time.perf_counter()
        await s.client.apply(obj, field_manager="ferry-bench")
        ssa.append(time.perf_counter() - start)
    # one cached GenerateManifests (the request the controller sends for app 0), one uncached
    # ResolveRevision (a git ls-remote through the repo server)
    tokens = TokenSource(KEY.encode(), "controller")
    kube_version = (await s.client.server_version()).removeprefix("v").split("+")[0]
    sha = s.repo.head()
    repository = types_pb2.Repository(repo=s.url)
    request = repo_pb2.ManifestRequest(
        repo=repository,
        application_source=types_pb2.ApplicationSource(
            repo_url=s.url, path=f"apps/{app_name(0)}", target_revision="HEAD"
        ),
        revision=sha,
        app_name=app_name(0),
        namespace=APPS_NS,
        kube_version=kube_version,
        project_name="default",
    )
    cached, resolve = [], []
    renders0 = Counters.read(s.reposerver, s.controller).values["renders"]
    async with grpc.aio.insecure_channel(s.reposerver.address) as channel:
        stub: Any = repo_pb2_grpc.RepoServiceStub(channel)
        for _ in range(BASELINE_CALLS):
            start = time.perf_counter()
            response = await stub.GenerateManifests(request, metadata=tokens.metadata(), timeout=60)
            [json.loads(m) for m in response.manifests]
            cached.append(time.perf_counter() - start)
        cached_renders = Counters.read(s.reposerver, s.controller).values["renders"] - renders0
        resolve_request = repo_pb2.ResolveRevisionRequest(repo=repository, revision="HEAD", no_cache=True)
        for _ in range(BASELINE_CALLS):
            start = time.perf_counter()
            await stub.ResolveRevision(resolve_request, metadata=tokens.metadata(), timeout=60)
            resolve.append(time.perf_counter() - start)
    # the periodic refreshes' own rate, for the GenerateManifests counts of the trials
    before, start = Counters.read(s.reposerver, s.controller), time.monotonic()
    await asyncio.sleep(10.0)
    delta = Counters.read(s.reposerver, s.controller).minus(before)
    seconds = time.monotonic() - start
    return Baselines(
        ssa,
        cached,
        cached_renders,
        resolve,
        delta.get("GenerateManifests", 0.0) / seconds,
        delta.get("ls-remote", 0.0) / seconds,
    )


# --- the run ---------------------------------------------------------------------------------------


async def configure_webhook(s: Stage) -> None:
    """The GitHub secret in ferry-secret (which ferry-server created), then a signed ping until
    the server's view of the secret has it."""
    cert = await secret_value(s.client, "ferry-server-tls", "tls.crt")
    s.tls = ssl.create_default_context(cadata=cert.decode())
    await secret_value(s.client, SECRET, "server.secretkey")  # the server created ferry-secret
    info = await s.client.resource("v1", "Secret")
    secret = base64.b64encode(WEBHOOK_SECRET.encode()).decode()
    await s.client.patch(info, SECRET, {"data": {"webhook.github.secret": secret}}, namespace=CONTROL_NS)
    deadline = time.monotonic() + 60
    while True:
        status, answer, _ = await asyncio.to_thread(post_webhook, s.http_port, s.tls, b"{}", "ping")
        if status == 200:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"webhook ping still answered {status}: {answer}")
        await asyncio.sleep(0.2)


async def measure(
    plane: ControlPlane, repo: GitRepo, url: str, reposerver: Ferry, controller: Ferry, http_port: int
) -> tuple[float, Baselines, list[Trial]]:
    client = kube(plane)
    try:
        await ensure_namespace(client, APPS_NS)
        await ensure_namespace(client, BASELINE_NS)
        tracker = Tracker()
        info = await client.resource(APP_API_VERSION, "Application")
        apps = Informer(client, info, namespace=CONTROL_NS, handler=tracker.handler).start()
        await apps.wait_synced(60)
        s = Stage(
            plane,
            repo,
            url,
            reposerver,
            controller,
            http_port,
            client,
            apps,
            tracker,
            await client.resource("v1", "ConfigMap"),
        )
        await configure_webhook(s)
        start = time.monotonic()
        if PREAPPLY:
            objects = [
                with_tracking(
                    {
                        **yaml.safe_load(configmap(i, "0")),
                        "metadata": {"name": app_name(i), "namespace": APPS_NS},
                    },
                    app_name(i),
                )
                for i in range(APPS)
            ]
            await bounded(
                [partial(client.apply, obj, field_manager=CONTROLLER_MANAGER) for obj in objects], 32
            )
        await create_all(
            client, [application(app_name(i), url, f"apps/{app_name(i)}", APPS_NS) for i in range(APPS)]
        )
        deadline = start + 1200
        while True:
            synced = sum(1 for a in apps.items() if _status(a, "sync") == "Synced")
            if synced >= APPS:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{synced}/{APPS} apps Synced after 1200 s")
            await asyncio.sleep(0.5)
        initial = time.monotonic() - start
        how = "ConfigMaps pre-applied" if PREAPPLY else "created by automated syncs"
        print(f"(all {APPS} apps Synced in {initial:.1f} s; {how})", flush=True)
        await asyncio.sleep(5)  # the syncs' follow-up reconciles
        base = await baselines(s)
        trials: list[Trial] = []
        # polling first: the webhook refreshes every app at once, which would bunch their
        # periodic refreshes (jitter 0) and skew the polling distribution
        for n in range(POLL_REPEATS):
            trials.append(await trial(s, "polling", n + 1))
            print(f"(polling {n + 1}: {trials[-1].live:.1f} s)", flush=True)
        for n in range(WEBHOOK_REPEATS):
            trials.append(await trial(s, "webhook", n + 1))
            print(f"(webhook {n + 1}: {trials[-1].live:.2f} s)", flush=True)
        await apps.stop()
        return initial, base, trials
    finally:
        await client.close()


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.1f} ms (max {max(values) * 1000:.1f})"


def report(base: Baselines, trials: list[Trial]) -> None:
    ssa, rpc = statistics.median(base.ssa), statistics.median(base.cached_rpc)
    print("| baseline (same run, steady state) | median (max) |\n|---|---|")
    print(f"| direct server-side apply of the ConfigMap change (the floor of live) | {_ms(base.ssa)} |")
    print(
        f"| one cached GenerateManifests + decode (renders caused: {base.cached_renders:.0f}) "
        f"| {_ms(base.cached_rpc)} |"
    )
    print(f"| one uncached ResolveRevision (git ls-remote via the repo server) | {_ms(base.resolve)} |")
    print(
        f"| steady state: GenerateManifests/s, ls-remote/s (periodic refreshes, resync {RESYNC:.0f} s) "
        f"| {base.steady_gm_rate:.1f}, {base.steady_ls_remote_rate:.3f} |"
    )
    print(
        "\n| mode | # | app | commit → noticed → live | live / SSA | live / cached RPC "
        "| all apps noticed: first / median / last "
        "| webhook answered (app's position) | renders | cache reuse / miss | GenerateManifests "
        "(steady rate x window) | ResolveRevision | ls-remote / fetch | controller k8s requests | window |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for t in trials:
        c = t.counts
        hook = (
            f"{t.hook_seconds:.1f} s, {t.hook_refreshed} apps (#{t.hook_position})"
            if t.mode == "webhook"
            else "-"
        )
        print(
            f"| {t.mode} | {t.n} | {app_name(t.app)} | {t.noticed:.2f} → {t.live:.2f} s "
            f"| {t.live / ssa:,.0f}x | {t.live / rpc:,.0f}x "
            f"| {t.notice[0]:.1f} / {statistics.median(t.notice):.1f} / {t.notice[-1]:.1f} s | {hook} "
            f"| {c.get('renders', 0):.0f} | {c.get('cache reuse', 0):.0f} / {c.get('cache miss', 0):.0f} "
            f"| {c.get('GenerateManifests', 0):.0f} ({base.steady_gm_rate * t.window:.0f}) "
            f"| {c.get('ResolveRevision', 0):.0f} | {c.get('ls-remote', 0):.0f} / {c.get('fetch', 0):.0f} "
            f"| {c.get('controller requests', 0):.0f} | {t.window:.1f} s |"
        )
    print()
    for mode in ("webhook", "polling"):
        live = [t.live for t in trials if t.mode == mode]
        if not live:
            continue
        renders = [t.counts.get("renders", 0.0) for t in trials if t.mode == mode]
        pooled = sorted(x for t in trials if t.mode == mode for x in t.notice)
        quantiles = ", ".join(f"p{q * 100:.0f} {percentile(pooled, q):.1f} s" for q in (0.1, 0.5, 0.9))
        median = statistics.median(live)
        print(
            f"{mode}: commit → live median {median:.2f} s, max {max(live):.2f} s over {len(live)} "
            f"commits ({median / ssa:,.0f}x a direct SSA, {median / rpc:,.0f}x a cached "
            f"GenerateManifests); renders per commit {', '.join(f'{r:.0f}' for r in renders)} (goal 1); "
            f"every app's notice time over {len(live)} x {APPS}: {quantiles}, max {pooled[-1]:.1f} s"
        )
    spread = RESYNC + JITTER
    print(
        f"polling expectation: U(0, E={REVISION_CACHE:.0f} s) until the repo server's ls-remote cache "
        f"expires + U(0, R+J={spread:.0f} s) until the app's next periodic refresh + the sync: mean ≈ "
        f"{(REVISION_CACHE + spread) / 2:.0f} s, max ≈ {REVISION_CACHE + spread:.0f} s"
    )


def run() -> None:
    wall = time.monotonic()
    plane = ControlPlane("bench-loop").start()
    git_root = new_workdir("bench-git")
    repo = GitRepo(git_root, "monorepo", branch=BRANCH)
    daemon: GitDaemon | None = None
    started: list[Ferry] = []
    try:
        repo.write({app_path(i): configmap(i, "0") for i in range(APPS)})
        repo.commit(f"{APPS} apps")
        if GIT == "daemon":
            daemon = GitDaemon(git_root)
            daemon.start()
            url = daemon.url("monorepo")
        elif GIT == "file":
            url = f"file://{repo.bare}"
        else:
            raise SystemExit(f"BENCH_LOOP_GIT: daemon or file, not {GIT!r}")
        reposerver = start_reposerver("--revision-cache-expiration", str(REVISION_CACHE))
        started.append(reposerver)
        controller = start_controller(
            plane, reposerver, "--app-resync", str(RESYNC), "--app-resync-jitter", str(JITTER)
        )
        started.append(controller)
        http_port = free_port()
        started.append(start_server(plane, reposerver.address, http_port=http_port))
        print(
            f"{APPS} apps x 1 ConfigMap ({url.split(':')[0]} monorepo, automated sync), "
            f"resync {RESYNC:.0f} s + jitter {JITTER:.0f} s, revision cache {REVISION_CACHE:.0f} s, "
            f"{WEBHOOK_REPEATS} webhook and {POLL_REPEATS} polling commits, "
            f"live polled every {POLL * 1000:.0f} ms",
            flush=True,
        )
        _, base, trials = asyncio.run(measure(plane, repo, url, reposerver, controller, http_port))
        print()
        report(base, trials)
    finally:
        for ferry in reversed(started):
            ferry.stop()
        if daemon is not None:
            daemon.stop()
        plane.stop()
        repo.cleanup()
        shutil.rmtree(git_root, ignore_errors=True)
    print(f"wall time {time.monotonic() - wall:.0f} s")

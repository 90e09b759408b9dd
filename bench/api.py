"""ferry-server's read API under load (issue #9): ApplicationService List and Get with 1,000 and
5,000 Applications, authenticated as admin over TLS gRPC, at concurrency 1 / 16 / 64.

A real ferry-server process on a real control plane; the Applications are written straight to the
API server as custom objects (creates, then a status like the controller writes for a synced
four-resource app: sync, health, resources, summary, operationState, history), and the server
sees them through its informer. No controller runs (the server does not need one to read) and no
repo server either (List and Get never call it). Measured per size and concurrency, for a
duration each (every worker finishes its last call):
- List: every page at the default page size, as ``ferry app list`` does (one op = all pages);
- Get: one app by name (names drawn at random);
- baseline in the same run: SessionService.GetUserInfo, the cheapest authenticated RPC (same
  interceptor, authentication and TLS; VersionService is cheaper still but skips authentication);
QPS, p50 / p99 latency, response bytes (serialized size), server CPU per call (from /proc), the
ratio of p50 to the baseline's, and server RSS with 0, 1,000 and 5,000 apps.

Sizes: BENCH_API_APPS (1000,5000), BENCH_API_SECONDS (5 per measurement),
BENCH_API_CONCURRENCY (1,16,64).
"""

from __future__ import annotations

import asyncio
import base64
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import grpc

from bench.stack import (
    APP_API_VERSION,
    CONTROL_NS,
    IN_CLUSTER,
    Ferry,
    application,
    bounded,
    create_all,
    env_float,
    env_ints,
    install_crds,
    kube,
    mib,
    percentile,
    start_server,
)
from ferry.kube.client import KubeClient, Obj
from ferry.kube.errors import NotFoundError
from ferry.v1 import application_pb2, application_pb2_grpc, session_pb2, session_pb2_grpc
from ferry_devenv.controlplane import ControlPlane
from ferry_devenv.process import free_port

SIZES = env_ints("BENCH_API_APPS", [1000, 5000])
SECONDS = env_float("BENCH_API_SECONDS", 5.0)
CONCURRENCY = env_ints("BENCH_API_CONCURRENCY", [1, 16, 64])
REPO = "https://git.example.com/platform/monorepo.git"
SHA = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
STAMP = "2026-11-26T10:00:00Z"
KINDS = [
    ("", "v1", "ConfigMap"),
    ("", "v1", "ServiceAccount"),
    ("", "v1", "Service"),
    ("apps", "v1", "Deployment"),
]


def synced_status(name: str) -> dict[str, Any]:
    """What the controller leaves on an app of four resources after a successful automated sync."""
    source = {"repoURL": REPO, "path": f"apps/{name}", "targetRevision": "HEAD"}
    keys = [{"group": g, "version": v, "kind": k, "namespace": "apps", "name": name} for g, v, k in KINDS]
    return {
        "sync": {
            "status": "Synced",
            "revision": SHA,
            "comparedTo": {"source": source, "destination": {"server": IN_CLUSTER, "namespace": "apps"}},
        },
        "health": {"status": "Healthy", "lastTransitionTime": STAMP},
        "resources": [
            {**key, "status": "Synced", "health": {"status": "Healthy"}, "syncWave": 0} for key in keys
        ],
        "summary": {"images": ["nginx:1.27"]},
        "sourceType": "Directory",
        "reconciledAt": STAMP,
        "operationState": {
            "operation": {
                "sync": {"revision": SHA},
                "initiatedBy": {"automated": True},
                "retry": {"limit": 5},
            },
            "phase": "Succeeded",
            "message": "successfully synced (all tasks run)",
            "startedAt": STAMP,
            "finishedAt": STAMP,
            "syncResult": {
                "revision": SHA,
                "source": source,
                "resources": [
                    {
                        **key,
                        "status": "Synced",
                        "message": f"{key['kind'].lower()}/{name} created",
                        "hookPhase": "Running",
                        "syncPhase": "Sync",
                    }
                    for key in keys
                ],
            },
        },
        "history": [
            {"id": 0, "revision": SHA, "deployedAt": STAMP, "deployStartedAt": STAMP, "source": source}
        ],
    }


async def add_apps(client: KubeClient, first: int, last: int) -> float:
    """Creates apps ``first``..``last - 1`` with a synced status; the wall time."""
    info = await client.resource(APP_API_VERSION, "Application")
    names = [f"app-{i:05d}" for i in range(first, last)]
    start = time.monotonic()
    await create_all(
        client,
        [application(n, REPO, f"apps/{n}", "apps", automated=True) for n in names],
        32,
    )

    async def set_status(name: str) -> Obj:
        return await client.patch(
            info, name, {"status": synced_status(name)}, namespace=CONTROL_NS, subresource="status"
        )

    await bounded([partial(set_status, n) for n in names], 32)
    return time.monotonic() - start


@dataclass
class Result:
    label: str
    concurrency: int
    latencies: list[float]
    sizes: list[int]
    wall: float
    server_cpu: float

    @property
    def qps(self) -> float:
        return len(self.latencies) / self.wall

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies)


async def load(server: Ferry, label: str, call: Callable[[], Awaitable[int]], concurrency: int) -> Result:
    """``concurrency`` workers calling back to back for SECONDS (each finishes its last call)."""
    latencies: list[float] = []
    sizes: list[int] = []
    cpu0, start = server.cpu_seconds(), time.monotonic()
    stop_at = start + SECONDS

    async def worker() -> None:
        while time.monotonic() < stop_at:
            began = time.perf_counter()
            sizes.append(await call())
            latencies.append(time.perf_counter() - began)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.monotonic() - start
    return Result(label, concurrency, latencies, sizes, wall, server.cpu_seconds() - cpu0)


class Client:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.apps: Any = application_pb2_grpc.ApplicationServiceStub(channel)
        self.sessions: Any = session_pb2_grpc.SessionServiceStub(channel)
        self.meta: tuple[tuple[str, str], ...] = ()

    async def login(self, password: str) -> None:
        response = await self.sessions.Create(
            session_pb2.SessionCreateRequest(username="admin", password=password), timeout=30
        )
        self.meta = (("authorization", f"Bearer {response.token}"),)

    async def user_info(self) -> int:
        response = await self.sessions.GetUserInfo(
            session_pb2.GetUserInfoRequest(), metadata=self.meta, timeout=300
        )
        return int(response.ByteSize())

    async def get(self, apps: int) -> int:
        name = f"app-{random.randrange(apps):05d}"
        response = await self.apps.Get(
            application_pb2.ApplicationQuery(name=name), metadata=self.meta, timeout=300
        )
        return int(response.ByteSize())

    async def list_all(self) -> tuple[int, int, int]:
        """(apps, bytes, pages) of a full listing, page after page."""
        query = application_pb2.ApplicationQuery()
        apps = size = pages = 0
        while True:
            page = await self.apps.List(query, metadata=self.meta, timeout=300)
            apps, size, pages = apps + len(page.items), size + page.ByteSize(), pages + 1
            if not page.metadata.continue_token:
                return apps, size, pages
            query.continue_token = page.metadata.continue_token

    async def list_bytes(self) -> int:
        return (await self.list_all())[1]


async def wait_visible(client: Client, apps: int, timeout: float = 300) -> None:
    """Until the server lists ``apps`` apps, every one with its status (its informer caught up)."""
    deadline = time.monotonic() + timeout
    while True:
        query = application_pb2.ApplicationQuery()
        seen = synced = 0
        while True:
            page = await client.apps.List(query, metadata=client.meta, timeout=300)
            seen += len(page.items)
            synced += sum(item.status.sync.status == "Synced" for item in page.items)
            if not page.metadata.continue_token:
                break
            query.continue_token = page.metadata.continue_token
        if seen == synced == apps:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the server lists {seen} apps ({synced} with status), not {apps}")
        await asyncio.sleep(1)


async def secret_value(client: KubeClient, name: str, key: str, timeout: float = 60) -> bytes:
    info = await client.resource("v1", "Secret")
    deadline = time.monotonic() + timeout
    while True:
        try:
            secret = await client.get(info, name, CONTROL_NS)
            return base64.b64decode((secret.get("data") or {})[key])
        except (NotFoundError, KeyError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def measure(kube_client: KubeClient, server: Ferry) -> dict[tuple[int, str, int], Result]:
    cert = await secret_value(kube_client, "ferry-server-tls", "tls.crt")
    password = (await secret_value(kube_client, "ferry-initial-admin-secret", "password")).decode()
    credentials = grpc.ssl_channel_credentials(root_certificates=cert)
    options = [("grpc.ssl_target_name_override", "localhost"), ("grpc.max_receive_message_length", 2**30)]
    rows: list[str] = []
    results: dict[tuple[int, str, int], Result] = {}
    rss = [server.rss()]
    notes = [f"server RSS, no apps: {mib(rss[0])}"]
    async with grpc.aio.secure_channel(server.address, credentials, options=options) as channel:
        client = Client(channel)
        await client.login(password)
        have = 0
        for apps in SIZES:
            took = await add_apps(kube_client, have, apps)
            notes.append(f"{apps - have} apps created with status in {took:.1f} s")
            have = apps
            await wait_visible(client, apps)
            listed, size, pages = await client.list_all()
            notes.append(
                f"{apps} apps: server RSS {mib(server.rss())} before load; one listing "
                f"= {pages} pages, {size:,} bytes ({size / listed:,.0f} per app)"
            )
            for concurrency in CONCURRENCY:
                base = await load(server, "GetUserInfo (baseline)", client.user_info, concurrency)
                get = await load(server, "Get", partial(client.get, apps), concurrency)
                listing = await load(server, f"List (all {pages} pages)", client.list_bytes, concurrency)
                for key, result in (("baseline", base), ("get", get), ("list", listing)):
                    results[(apps, key, concurrency)] = result
                    rows.append(
                        f"| {apps} | {result.label} | {concurrency} | {len(result.latencies)} "
                        f"| {result.qps:,.1f} | {result.p50 * 1000:.1f} ms "
                        f"| {percentile(result.latencies, 0.99) * 1000:.1f} ms "
                        f"| {statistics.mean(result.sizes):,.0f} "
                        f"| {result.server_cpu / len(result.latencies) * 1000:.2f} ms "
                        f"| {result.p50 / base.p50:.1f}x |"
                    )
            rss.append(server.rss())
            notes.append(f"{apps} apps: server RSS {mib(rss[-1])} after load")
    notes.append(f"server peak RSS (VmHWM): {mib(server.peak_rss())}")
    print(
        "| apps | RPC | concurrency | calls | QPS | p50 | p99 | response bytes "
        "| server CPU/call | p50 / baseline p50 |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print()
    print("\n".join(notes))
    apps, low, high = SIZES[-1], CONCURRENCY[0], CONCURRENCY[-1]
    listing, get = results[(apps, "list", low)], results[(apps, "get", low)]
    base = results[(apps, "baseline", low)]
    print(
        f"\napi, {apps} apps: List (all pages) p50 {listing.p50 * 1000:.0f} ms at concurrency {low} "
        f"({listing.p50 / base.p50:.0f}x GetUserInfo), {results[(apps, 'list', high)].qps:.1f} listings/s "
        f"at {high}, {statistics.mean(listing.sizes) / 2**20:.1f} MiB; Get p50 {get.p50 * 1000:.1f} ms "
        f"({get.p50 / base.p50:.1f}x); server RSS {mib(rss[0])} -> {mib(rss[-1])}"
    )
    return results


def run() -> None:
    wall = time.monotonic()
    plane = ControlPlane("bench-api").start()
    server: Ferry | None = None
    try:

        async def prepare() -> None:
            client = kube(plane)
            try:
                await install_crds(client)
            finally:
                await client.close()

        asyncio.run(prepare())
        # List and Get never reach the repo server: an address nobody listens on.
        server = start_server(plane, f"127.0.0.1:{free_port()}")

        async def main() -> None:
            assert server is not None
            client = kube(plane)
            try:
                await measure(client, server)
            finally:
                await client.close()

        print(
            f"ferry-server over TLS gRPC, admin session; {', '.join(map(str, SIZES))} apps; "
            f"concurrency {', '.join(map(str, CONCURRENCY))}; {SECONDS:.0f} s per measurement"
        )
        asyncio.run(main())
    finally:
        if server is not None:
            server.stop()
        plane.stop()
    print(f"wall time {time.monotonic() - wall:.0f} s")

"""Shard Leases on a real API server, several ShardManagers in one process: balancing by request
and handover, takeover of a silent holder's shard after the lease duration, a holder that cannot
renew stops before anyone may take over, and release on stop."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable

from controller.sharding import ShardManager, lease_name
from ferry.kube.client import KubeClient
from ferry.kube.config import ClusterConfig
from ferry.kube.lease import LeaseRecord, Leases
from ferry_devenv.controlplane import ControlPlane

DURATION, RENEW = 3, 0.5


class Member:
    """A ShardManager and what it was told."""

    def __init__(self, client: KubeClient, namespace: str, identity: str, shards: int = 2) -> None:
        self.events: list[tuple[str, int, float]] = []
        self.manager = ShardManager(
            Leases(client, namespace),
            identity=identity,
            shards=shards,
            lease_duration=DURATION,
            renew_period=RENEW,
            on_gained=self._gained,
            on_lost=self._lost,
        )

    async def _gained(self, shard: int) -> None:
        self.events.append(("gained", shard, time.monotonic()))

    async def _lost(self, shard: int) -> None:
        self.events.append(("lost", shard, time.monotonic()))

    @property
    def held(self) -> set[int]:
        return set(self.manager.held)


async def until(check: Callable[[], bool], timeout: float, what: str) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def holders(leases: Leases, shards: int = 2) -> list[str]:
    return [LeaseRecord.of(await leases.get(lease_name(i))).holder for i in range(shards)]


def test_balance_takeover_renew_deadline_and_release(control_plane: ControlPlane, namespace: str) -> None:
    silent = socket.create_server(("127.0.0.1", 0))  # listens, never accepts or answers

    async def scenario() -> None:
        config = ClusterConfig.from_kubeconfig(control_plane.kubeconfig)
        client = KubeClient(config, user_agent="ferry-test")
        leases = Leases(client, namespace)
        a, b, c = (Member(client, namespace, name) for name in ("a", "b", "c"))
        try:
            # a alone takes both shards; b asks for one and a hands it over, stopping first
            a.manager.start()
            await until(lambda: a.held == {0, 1}, 10, "a to hold both")
            b.manager.start()
            await until(lambda: len(a.held) == 1 and len(b.held) == 1, 10, "one each")
            assert await holders(leases) == ["a" if s in a.held else "b" for s in range(2)]
            (moved,) = b.held
            lost_at = next(t for kind, s, t in a.events if kind == "lost" and s == moved)
            gained_at = next(t for kind, s, t in b.events if kind == "gained" and s == moved)
            assert lost_at < gained_at

            # c, a third controller, has nothing to ask for: one shard each is fair
            c.manager.start()
            await asyncio.sleep(DURATION)
            assert c.held == set()
            assert len(a.held) == 1
            assert len(b.held) == 1

            # a goes silent (as if SIGKILLed): its shard moves after the lease duration
            (shard_of_a,) = a.held
            await a.manager.stop(release=False)
            silent_at = time.monotonic()
            await until(lambda: shard_of_a in b.held | c.held, DURATION + 4 * RENEW + 2, "a's shard to move")
            assert time.monotonic() - silent_at >= DURATION - RENEW  # never before it expired
            await until(lambda: len(b.held) == 1 and len(c.held) == 1, 10, "b and c one each")

            # b's requests hang (a server that accepts connections and never answers): it gives
            # its shard up within the renew deadline, before c may take it over
            (shard_of_b,) = b.held
            b.manager.leases.client = KubeClient(
                ClusterConfig(f"http://127.0.0.1:{silent.getsockname()[1]}"), user_agent="ferry-test"
            )
            cut_at = time.monotonic()
            await until(lambda: not b.held, DURATION, "b to give up")
            b_stopped = time.monotonic()
            assert b_stopped - cut_at <= DURATION * 2 / 3 + RENEW + 0.5
            await until(lambda: shard_of_b in c.held, DURATION + 4 * RENEW + 2, "c to take b's shard")
            c_started = next(t for kind, s, t in reversed(c.events) if kind == "gained" and s == shard_of_b)
            assert c_started > b_stopped
            await b.manager.stop(release=False)  # cancels its hanging request
            await b.manager.leases.client.close()

            # stopping releases: the Leases name nobody and need not expire
            await c.manager.stop(release=True)
            assert await holders(leases) == ["", ""]
            assert c.held == set()
        finally:
            for member in (a, b, c):
                await member.manager.stop(release=False)
            await client.close()

    try:
        asyncio.run(scenario())
    finally:
        silent.close()

"""Leader election through one Lease, so two replicas never send the same notification twice.

The leader renews the Lease every renew period; a Lease is taken over when its holder, renew time
and transitions have not changed for its duration as this process's monotonic clock measures it
(client-go's rule: no clock-skew assumptions). A leader that could not renew for two thirds of the
duration stops sending before anyone may take over (a watchdog checks, even while a request
hangs). Stopping releases the Lease so a standby takes over at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from ferry.kube.client import Obj
from ferry.kube.errors import Conflict, KubeError, NotFoundError
from ferry.kube.lease import LeaseRecord, Leases, micro_time

log = logging.getLogger(__name__)

Callback = Callable[[], Awaitable[None]]


class LeaderElector:
    def __init__(
        self,
        leases: Leases,
        *,
        name: str,
        identity: str,
        lease_duration: int,
        renew_period: float,
        on_started: Callback,
        on_stopped: Callback,
    ) -> None:
        self.leases = leases
        self.name = name
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_period = renew_period
        self.renew_deadline = lease_duration * 2 / 3
        self._on_started, self._on_stopped = on_started, on_stopped
        self.leading = False
        self._renewed_at = 0.0
        self._observed: tuple[tuple[str, str, int], float] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._run(), name="leader-lease"),
                asyncio.create_task(self._watchdog(), name="leader-lease-deadline"),
            ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self.leading:
            await self._lose("shutting down")
            with contextlib.suppress(KubeError, TimeoutError):
                await asyncio.wait_for(self._release(), 5)

    async def _run(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except KubeError as err:
                log.warning("leader lease: cannot read or write", extra={"error": err.message})
            except Exception:
                log.exception("leader lease: tick failed")
            await asyncio.sleep(max(0.05, self.renew_period - (time.monotonic() - started)))

    async def _watchdog(self) -> None:
        while True:
            await asyncio.sleep(min(self.renew_period, self.renew_deadline / 4))
            if self.leading and time.monotonic() - self._renewed_at > self.renew_deadline:
                await self._lose("not renewed within the renew deadline")

    def _expired(self, lease: Obj) -> bool:
        record = LeaseRecord.of(lease)
        key = (record.holder, record.renew_time, record.transitions)
        now = time.monotonic()
        if self._observed is None or self._observed[0] != key:
            self._observed = (key, now)
        duration = record.duration_seconds or self.lease_duration
        return now - self._observed[1] > duration

    def _record(self, previous: LeaseRecord) -> LeaseRecord:
        stamp = micro_time()
        changed = previous.holder != self.identity
        return LeaseRecord(
            holder=self.identity,
            duration_seconds=self.lease_duration,
            acquire_time=stamp if changed or not previous.acquire_time else previous.acquire_time,
            renew_time=stamp,
            transitions=previous.transitions + (1 if changed and previous.holder else 0),
        )

    async def tick(self) -> None:
        lease = await self.leases.get(self.name)
        sent = time.monotonic()
        if lease is None:
            try:
                await self.leases.create(self.name, self._record(LeaseRecord()))
            except (Conflict, NotFoundError):
                return
            await self._gain(sent, "created the Lease")
            return
        record = LeaseRecord.of(lease)
        expired = self._expired(lease)
        if record.holder and record.holder != self.identity and not expired:
            if self.leading:
                await self._lose(f"taken over by {record.holder}")
            return
        try:
            await self.leases.update(lease, self._record(record))
        except (Conflict, NotFoundError):
            if self.leading:
                await self._lose("the Lease changed under us")
            return
        if time.monotonic() - sent > self.renew_deadline:
            return
        if self.leading:
            self._renewed_at = sent
        else:
            await self._gain(sent, f"previous holder: {record.holder or 'none'}")

    async def _release(self) -> None:
        lease = await self.leases.get(self.name)
        if lease is None or LeaseRecord.of(lease).holder != self.identity:
            return
        previous = LeaseRecord.of(lease)
        await self.leases.update(
            lease,
            LeaseRecord(
                holder="",
                duration_seconds=previous.duration_seconds or self.lease_duration,
                acquire_time=previous.acquire_time,
                renew_time=micro_time(),
                transitions=previous.transitions,
            ),
        )

    async def _gain(self, renewed_at: float, how: str) -> None:
        self.leading = True
        self._renewed_at = renewed_at
        log.info("leading", extra={"lease": self.name, "identity": self.identity, "detail": how})
        await self._on_started()

    async def _lose(self, why: str) -> None:
        if not self.leading:
            return
        self.leading = False
        log.info("stopped leading", extra={"lease": self.name, "identity": self.identity, "detail": why})
        await self._on_stopped()

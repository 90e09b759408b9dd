"""Sharding: several controller processes split the destination clusters between them.

- A cluster belongs to one of ``shards`` shards: ``shard_of(server, shards)``, a jump consistent
  hash (Lamping & Veach, 2014) of the first 8 bytes of SHA-256 of the server URL (trailing ``/``
  removed; the in-cluster destination is ``https://kubernetes.default.svc``). Going from N to N+1
  shards moves only about 1/(N+1) of the clusters. A cluster secret's ``shard`` field pins a
  cluster to a shard instead (as in Argo CD).
- Each shard is held through a Lease ``ferry-controller-shard-<i>`` in the control namespace;
  only its holder reconciles the apps of that shard's clusters.
- Every controller takes every free or expired shard (so no shard is orphaned while a controller
  lives), renews what it holds, and balances: a controller holding at least two fewer shards than
  another asks it for one through an annotation on one of its Leases; that holder hands the Lease
  over. A holder that could not renew for two thirds of the lease duration stops working on the
  shard (a watchdog checks, even while a request hangs) before anyone else may take it.
- Expiry is judged by observation, as client-go does: a Lease whose holder, renewTime and
  transitions have not changed for ``leaseDurationSeconds`` of this process's monotonic clock is
  expired. Clocks of different machines never matter for who holds what; only the freshness of a
  balancing request is judged by wall-clock time.

``plan`` is the pure decision (unit-tested); ``ShardManager`` reads and writes the Leases.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import hashlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

from ferry.kube.client import Obj
from ferry.kube.errors import Conflict, KubeError, NotFoundError
from ferry.kube.lease import LeaseRecord, Leases, micro_time, parse_time
from ferry.settings import SECRET_TYPE_LABEL

log = logging.getLogger(__name__)

LEASE_PREFIX = "ferry-controller-shard-"
SHARD_LABEL = "ferrycd.io/controller-shard"
REQUESTED_BY = "ferrycd.io/shard-requested-by"
REQUESTED_AT = "ferrycd.io/shard-requested-at"

_MULTIPLIER = 2862933555777941757
_MASK = (1 << 64) - 1


def jump_hash(key: int, buckets: int) -> int:
    """Jump consistent hash: the bucket in [0, buckets) of a 64-bit key."""
    if buckets <= 0:
        raise ValueError("buckets must be positive")
    key &= _MASK
    bucket, candidate = -1, 0
    while candidate < buckets:
        bucket = candidate
        key = (key * _MULTIPLIER + 1) & _MASK
        candidate = int((bucket + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return bucket


def normalize_server(server: str) -> str:
    return server.strip().rstrip("/")


def shard_of(server: str, shards: int) -> int:
    """The shard of the cluster at ``server`` (its URL) among ``shards``."""
    if shards <= 1:
        return 0
    digest = hashlib.sha256(normalize_server(server).encode()).digest()
    return jump_hash(int.from_bytes(digest[:8], "big"), shards)


def lease_name(shard: int) -> str:
    return f"{LEASE_PREFIX}{shard}"


def shard_pins(secrets: Iterable[Obj], shards: int) -> dict[str, int]:
    """Server URL -> shard of cluster secrets with a ``shard`` field in [0, shards) (Argo CD's)."""
    pins: dict[str, int] = {}
    for secret in secrets:
        labels = (secret.get("metadata") or {}).get("labels") or {}
        data = secret.get("data") or {}
        if labels.get(SECRET_TYPE_LABEL) != "cluster" or not data.get("shard"):
            continue
        try:
            server = normalize_server(base64.b64decode(data.get("server") or "").decode())
            shard = int(base64.b64decode(data["shard"]).decode().strip())
        except ValueError:
            shard, server = -1, ""
        if not 0 <= shard < shards:
            log.warning(
                "cluster secret: shard is not a number in [0, --shards); hashing its URL instead",
                extra={"secret": (secret.get("metadata") or {}).get("name", "")},
            )
            continue
        pins[server] = shard
    return pins


# --- the decision ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShardView:
    """What a controller knows about one shard's Lease."""

    shard: int
    holder: str = ""  # "" when there is no Lease or it was released
    expired: bool = False  # the holder stopped renewing (never true of our own Leases)
    requested_by: str = ""  # a controller asking for this shard (a fresh request only)


@dataclass
class Plan:
    acquire: list[int] = field(default_factory=list)  # free or expired shards to take
    hand_over: list[tuple[int, str]] = field(default_factory=list)  # (shard, to) our shards to give
    request: int | None = None  # another controller's shard to ask for


def plan(me: str, views: Sequence[ShardView], *, preferred: int = 0) -> Plan:
    """What ``me`` does next, given every shard's Lease.

    Take every free or expired shard (trying ``preferred`` first, so controllers starting
    together tend to take different ones). Hand a shard to a controller that asked for it when we
    hold at least two more than it. Ask for a shard from a controller holding at least two more
    than us (the busiest first, its highest shard first, one not already asked for by another).
    Repeated, this ends with every shard held and holdings differing by at most one (a controller
    with none when there are more controllers than shards)."""
    count = len(views)
    result = Plan()
    owner = {v.shard: v.holder for v in views if v.holder and not v.expired}
    ordered = sorted(views, key=lambda v: (v.shard - preferred) % max(1, count))
    for view in ordered:
        if not view.holder or (view.expired and view.holder != me):
            result.acquire.append(view.shard)
            owner[view.shard] = me
    counts = Counter(owner.values())
    for view in sorted(views, key=lambda v: -v.shard):
        to = view.requested_by
        if owner.get(view.shard) != me or view.shard in result.acquire or not to or to == me:
            continue
        if counts[me] > counts[to] + 1:
            result.hand_over.append((view.shard, to))
            owner[view.shard] = to
            counts[me] -= 1
            counts[to] += 1
    candidates = [
        v
        for v in views
        if owner.get(v.shard) not in (None, me)
        and counts[owner[v.shard]] > counts[me] + 1
        and v.requested_by in ("", me)
    ]
    if candidates:
        best = max(candidates, key=lambda v: (counts[owner[v.shard]], v.requested_by == me, v.shard))
        result.request = best.shard
    return result


# --- the Leases ------------------------------------------------------------------------------------

ShardCallback = Callable[[int], Awaitable[None]]


class ShardManager:
    """Holds shard Leases for one controller process; calls ``on_gained(shard)`` once a shard is
    ours and ``on_lost(shard)`` before anyone else may hold it (handover, release, renew deadline
    passed, taken over)."""

    def __init__(
        self,
        leases: Leases,
        *,
        identity: str,
        shards: int,
        lease_duration: int,
        renew_period: float,
        on_gained: ShardCallback,
        on_lost: ShardCallback,
        on_change: Callable[[int], None] | None = None,
    ) -> None:
        self.leases = leases
        self.identity = identity
        self.shards = shards
        self.lease_duration = lease_duration
        self.renew_period = renew_period
        self.renew_deadline = lease_duration * 2 / 3
        self._on_gained, self._on_lost, self._on_change = on_gained, on_lost, on_change
        self.held: set[int] = set()
        self._renewed_at: dict[int, float] = {}
        self._observed: dict[int, tuple[tuple[str, str, int], float]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._preferred = shard_of(identity, shards)

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._run(), name="shard-leases"),
                asyncio.create_task(self._watchdog(), name="shard-lease-deadlines"),
            ]

    async def stop(self, *, release: bool = True) -> None:
        """Stops renewing; with ``release``, gives up every held Lease so another controller
        takes it at once rather than after the lease duration."""
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for shard in sorted(self.held):
            await self._lose(shard, "shutting down")
            if release:
                with contextlib.suppress(KubeError, TimeoutError):
                    await asyncio.wait_for(self._release(shard), 5)

    async def _run(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except KubeError as err:
                log.warning("shard leases: cannot read or write", extra={"error": err.message})
            except Exception:
                log.exception("shard leases: tick failed")
            await asyncio.sleep(max(0.05, self.renew_period - (time.monotonic() - started)))

    async def _watchdog(self) -> None:
        """Gives up shards not renewed in time, even while a tick waits on a hanging request."""
        while True:
            await asyncio.sleep(min(self.renew_period, self.renew_deadline / 4))
            await self._check_deadlines()

    async def _check_deadlines(self) -> None:
        now = time.monotonic()
        for shard in sorted(self.held):
            if now - self._renewed_at.get(shard, 0.0) > self.renew_deadline:
                await self._lose(shard, "not renewed within the renew deadline")

    async def tick(self) -> None:
        await self._check_deadlines()
        leases: dict[int, Obj] = {}
        for lease in await self.leases.list(SHARD_LABEL):
            index = _shard_label(lease)
            if index is not None and 0 <= index < self.shards:
                leases[index] = lease
        now = time.monotonic()
        views = [self._view(shard, leases.get(shard), now) for shard in range(self.shards)]
        for view in views:
            if view.shard in self.held and view.holder != self.identity:
                await self._lose(view.shard, f"taken over by {view.holder or 'nobody'}")
        decision = plan(self.identity, views, preferred=self._preferred)
        handed = set()
        for shard, to in decision.hand_over:
            if await self._hand_over(leases[shard], shard, to):
                handed.add(shard)
        for shard in decision.acquire:
            await self._acquire(leases.get(shard), shard)
        for view in views:
            if view.holder == self.identity and view.shard not in handed:
                await self._renew(leases[view.shard], view.shard)
        if decision.request is not None:
            await self._request(leases[decision.request], decision.request)

    def _view(self, shard: int, lease: Obj | None, now: float) -> ShardView:
        record = LeaseRecord.of(lease)
        key = (record.holder, record.renew_time, record.transitions)
        seen = self._observed.get(shard)
        if seen is None or seen[0] != key:
            self._observed[shard] = (key, now)
        observed_at = self._observed[shard][1]
        duration = record.duration_seconds or self.lease_duration
        expired = bool(record.holder) and record.holder != self.identity and now - observed_at > duration
        annotations = ((lease or {}).get("metadata") or {}).get("annotations") or {}
        requested_by = str(annotations.get(REQUESTED_BY) or "")
        requested_at = parse_time(str(annotations.get(REQUESTED_AT) or ""))
        age = (
            (datetime.datetime.now(datetime.UTC) - requested_at).total_seconds()
            if requested_at is not None
            else None
        )
        fresh = age is not None and age < 2 * self.lease_duration
        return ShardView(shard, record.holder, expired, requested_by if fresh and record.holder else "")

    # --- writes ------------------------------------------------------------------------------------

    def _record(self, previous: LeaseRecord, holder: str) -> LeaseRecord:
        stamp = micro_time()
        changed = previous.holder != holder
        return LeaseRecord(
            holder=holder,
            duration_seconds=self.lease_duration,
            acquire_time=stamp if changed or not previous.acquire_time else previous.acquire_time,
            renew_time=stamp,
            transitions=previous.transitions + (1 if changed and previous.holder else 0),
        )

    async def _acquire(self, lease: Obj | None, shard: int) -> None:
        previous = LeaseRecord.of(lease)
        record = self._record(previous, self.identity)
        sent = time.monotonic()
        try:
            if lease is None:
                await self.leases.create(
                    lease_name(shard), record, labels={SHARD_LABEL: str(shard)}, annotations={}
                )
            else:
                await self.leases.update(lease, record, annotations=_clear_request(lease, self.identity))
        except (Conflict, NotFoundError):
            return  # another controller was faster; see again next time
        if time.monotonic() - sent > self.renew_deadline:
            return  # so slow that it may already look expired to others; try again next time
        await self._gain(shard, f"acquired (previous holder: {previous.holder or 'none'})", sent)

    async def _renew(self, lease: Obj, shard: int) -> None:
        for _ in range(2):
            record = self._record(LeaseRecord.of(lease), self.identity)
            sent = time.monotonic()
            try:
                await self.leases.update(lease, record, annotations=_clear_request(lease, self.identity))
            except Conflict:
                fresh = await self.leases.get(lease_name(shard))
                if fresh is None or LeaseRecord.of(fresh).holder != self.identity:
                    holder = LeaseRecord.of(fresh).holder if fresh else ""
                    if shard in self.held:
                        await self._lose(shard, f"taken over by {holder or 'nobody'}")
                    return
                lease = fresh
                continue
            except NotFoundError:
                if shard in self.held:
                    await self._lose(shard, "its Lease was deleted")
                return
            if time.monotonic() - sent > self.renew_deadline:
                return  # too late to count; the watchdog gives the shard up
            if shard not in self.held:
                await self._gain(shard, "the Lease names this controller (handed over, or held before)", sent)
            else:
                self._renewed_at[shard] = sent
            return

    async def _hand_over(self, lease: Obj, shard: int, to: str) -> bool:
        await self._lose(shard, f"handed over to {to}")
        record = self._record(LeaseRecord.of(lease), to)
        try:
            await self.leases.update(lease, record, annotations={REQUESTED_BY: None, REQUESTED_AT: None})
        except KubeError as err:
            log.info(
                "shard handover failed; keeping it",
                extra={"shard": shard, "to": to, "error": err.message},
            )
            return False  # still ours: renewed (and gained again) below
        return True

    async def _request(self, lease: Obj, shard: int) -> None:
        annotations = (lease.get("metadata") or {}).get("annotations") or {}
        requested_at = parse_time(str(annotations.get(REQUESTED_AT) or ""))
        if annotations.get(REQUESTED_BY) == self.identity and requested_at is not None:
            age = (datetime.datetime.now(datetime.UTC) - requested_at).total_seconds()
            if age < self.lease_duration / 2:
                return
        try:
            await self.leases.update(
                lease,
                LeaseRecord.of(lease),
                annotations={REQUESTED_BY: self.identity, REQUESTED_AT: micro_time()},
            )
        except (Conflict, NotFoundError):
            return
        log.info(
            "shard requested",
            extra={"shard": shard, "holder": LeaseRecord.of(lease).holder, "identity": self.identity},
        )

    async def _release(self, shard: int) -> None:
        lease = await self.leases.get(lease_name(shard))
        if lease is None or LeaseRecord.of(lease).holder != self.identity:
            return
        previous = LeaseRecord.of(lease)
        record = LeaseRecord(
            holder="",
            duration_seconds=previous.duration_seconds or self.lease_duration,
            acquire_time=previous.acquire_time,
            renew_time=micro_time(),
            transitions=previous.transitions,
        )
        await self.leases.update(lease, record)
        log.info("shard released", extra={"shard": shard, "identity": self.identity})

    # --- bookkeeping -------------------------------------------------------------------------------

    async def _gain(self, shard: int, how: str, renewed_at: float) -> None:
        self.held.add(shard)
        self._renewed_at[shard] = renewed_at
        log.info("shard gained", extra={"shard": shard, "identity": self.identity, "detail": how})
        if self._on_change:
            self._on_change(len(self.held))
        await self._on_gained(shard)

    async def _lose(self, shard: int, why: str) -> None:
        if shard not in self.held:
            return
        self.held.discard(shard)
        self._renewed_at.pop(shard, None)
        log.info("shard lost", extra={"shard": shard, "identity": self.identity, "detail": why})
        if self._on_change:
            self._on_change(len(self.held))
        await self._on_lost(shard)


def _shard_label(lease: Obj) -> int | None:
    value = ((lease.get("metadata") or {}).get("labels") or {}).get(SHARD_LABEL)
    try:
        return int(str(value))
    except ValueError:
        return None


def _clear_request(lease: Obj, identity: str) -> dict[str, str | None]:
    """Our own request on a Lease we now hold is moot; requests of others stay for the planner."""
    annotations = (lease.get("metadata") or {}).get("annotations") or {}
    if annotations.get(REQUESTED_BY) == identity:
        return {REQUESTED_BY: None, REQUESTED_AT: None}
    return {}


__all__ = [
    "LEASE_PREFIX",
    "SHARD_LABEL",
    "Plan",
    "ShardManager",
    "ShardView",
    "jump_hash",
    "lease_name",
    "plan",
    "shard_of",
    "shard_pins",
]

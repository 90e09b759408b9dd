"""Leases (``coordination.k8s.io/v1``): the record client-go's leader election keeps, read and
written as plain dicts.

A Lease's spec says who holds it (``holderIdentity``), for how long a holder that stopped
renewing keeps it (``leaseDurationSeconds``), when it was taken (``acquireTime``) and last renewed
(``renewTime``, a MicroTime), and how often it changed hands (``leaseTransitions``). Writes are
optimistic: an update carries the ``resourceVersion`` it read, so of two contenders exactly one
wins and the other gets ``Conflict``. Whether a Lease has expired is the reader's call; compare
observations over time rather than ``renewTime`` with the local clock (clocks of different
machines disagree), as client-go does.
"""

from __future__ import annotations

import copy
import datetime
from dataclasses import dataclass
from typing import Any

from ferry.kube.client import KubeClient, Obj, ResourceInfo
from ferry.kube.errors import NotFoundError

LEASE_API_VERSION = "coordination.k8s.io/v1"


def micro_time(at: datetime.datetime | None = None) -> str:
    """A Kubernetes MicroTime: RFC 3339 in UTC with microseconds."""
    moment = (at or datetime.datetime.now(datetime.UTC)).astimezone(datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: str) -> datetime.datetime | None:
    """A MicroTime or Time (RFC 3339) as an aware datetime; None when empty or unreadable."""
    if not value:
        return None
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass(frozen=True)
class LeaseRecord:
    """A Lease's spec."""

    holder: str = ""
    duration_seconds: int = 0
    acquire_time: str = ""
    renew_time: str = ""
    transitions: int = 0

    @staticmethod
    def of(lease: Obj | None) -> LeaseRecord:
        spec = (lease or {}).get("spec") or {}
        return LeaseRecord(
            holder=str(spec.get("holderIdentity") or ""),
            duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
            acquire_time=str(spec.get("acquireTime") or ""),
            renew_time=str(spec.get("renewTime") or ""),
            transitions=int(spec.get("leaseTransitions") or 0),
        )

    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"leaseTransitions": self.transitions}
        if self.holder:
            spec["holderIdentity"] = self.holder
        if self.duration_seconds:
            spec["leaseDurationSeconds"] = self.duration_seconds
        if self.acquire_time:
            spec["acquireTime"] = self.acquire_time
        if self.renew_time:
            spec["renewTime"] = self.renew_time
        return spec


class Leases:
    """The Leases of one namespace."""

    def __init__(self, client: KubeClient, namespace: str) -> None:
        self.client = client
        self.namespace = namespace
        self._info: ResourceInfo | None = None

    async def info(self) -> ResourceInfo:
        if self._info is None:
            self._info = await self.client.resource(LEASE_API_VERSION, "Lease")
        return self._info

    async def list(self, label_selector: str = "") -> list[Obj]:
        items, _ = await self.client.list(
            await self.info(), namespace=self.namespace, label_selector=label_selector
        )
        return items

    async def get(self, name: str) -> Obj | None:
        try:
            return await self.client.get(await self.info(), name, namespace=self.namespace)
        except NotFoundError:
            return None

    async def create(
        self,
        name: str,
        record: LeaseRecord,
        *,
        labels: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None,
    ) -> Obj:
        """Creates the Lease; ``Conflict`` (409, AlreadyExists) when someone else did first."""
        metadata: dict[str, Any] = {"name": name, "namespace": self.namespace}
        if labels:
            metadata["labels"] = labels
        if annotations:
            metadata["annotations"] = annotations
        return await self.client.create(
            {"apiVersion": LEASE_API_VERSION, "kind": "Lease", "metadata": metadata, "spec": record.spec()}
        )

    async def update(
        self, lease: Obj, record: LeaseRecord, *, annotations: dict[str, str | None] | None = None
    ) -> Obj:
        """Writes ``record`` (and sets or, with None, removes ``annotations``) over the Lease as it
        was read: ``Conflict`` when it changed since."""
        updated = copy.deepcopy(lease)
        updated.setdefault("apiVersion", LEASE_API_VERSION)
        updated.setdefault("kind", "Lease")
        meta = updated.setdefault("metadata", {})
        if annotations:
            current = dict(meta.get("annotations") or {})
            for key, value in annotations.items():
                if value is None:
                    current.pop(key, None)
                else:
                    current[key] = value
            meta["annotations"] = current
        updated["spec"] = record.spec()
        return await self.client.replace(updated)


__all__ = ["LEASE_API_VERSION", "LeaseRecord", "Leases", "micro_time", "parse_time"]

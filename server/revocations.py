"""Revoked session tokens: one small Secret per revocation, dropped once the token has expired.

``SessionService/Delete`` and ``/auth/logout`` revoke the caller's token by its id (``jti``; an
SSO ID token by a digest of it). Each revocation is its own Secret in the control namespace,
``ferry-revoked-<digest of the id>``, labelled ``ferrycd.io/revoked-token`` and annotated with
the token's expiry. So a logout is one create of a few hundred bytes, never a rewrite of a shared,
growing object; every API server replica learns of it from a watch (and the replica that revoked
it at once); a check is a dictionary look-up.

Bounded: every token ferry accepts has an expiry (tokens without ``exp`` are refused), and a
revocation is deleted by a periodic sweep once its token has expired — it could not be used any
more anyway. On top of that at most ``limit`` revocations are kept at once (``--max-revoked-tokens``);
the caller decides what a logout does beyond it (see ``SessionManager.revoke``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import time
from typing import Any

from ferry.kube.client import KubeClient, Obj, ResourceInfo
from ferry.kube.errors import Conflict, KubeError, NotFoundError
from ferry.kube.informer import Informer

log = logging.getLogger(__name__)

REVOKED_LABEL = "ferrycd.io/revoked-token"
EXPIRES_ANNOTATION = "ferrycd.io/token-expires-at"
NAME_PREFIX = "ferry-revoked-"
# A revocation outlives its token by this much (clock skew between replicas and ID-token leeway).
GRACE_SECONDS = 120
SWEEP_INTERVAL = 600.0
DEFAULT_LIMIT = 10_000


class RevocationsFull(Exception):
    """``limit`` revocations are outstanding: no new object is created."""


def secret_name(token_id: str) -> str:
    return NAME_PREFIX + hashlib.sha256(token_id.encode()).hexdigest()[:40]


def _expires_at(obj: Obj) -> int:
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(EXPIRES_ANNOTATION, "")
    return int(value) if str(value).isdigit() else 0


class Revocations:
    def __init__(
        self, client: KubeClient, info: ResourceInfo, namespace: str, *, limit: int = DEFAULT_LIMIT
    ) -> None:
        self.client = client
        self.info = info
        self.namespace = namespace
        self.limit = limit
        self.informer = Informer(client, info, namespace=namespace, label_selector=REVOKED_LABEL)
        self._sweeper: asyncio.Task[None] | None = None

    def start_sweeping(self, interval: float = SWEEP_INTERVAL) -> None:
        async def loop() -> None:
            while True:
                try:
                    await self.sweep()
                except KubeError as err:
                    log.warning("could not drop expired token revocations", extra={"error": err.message})
                await asyncio.sleep(interval)

        if self._sweeper is None:
            self._sweeper = asyncio.create_task(loop(), name="revocation-sweeper")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None

    def __contains__(self, token_id: object) -> bool:
        return (
            isinstance(token_id, str) and self.informer.get(self.namespace, secret_name(token_id)) is not None
        )

    def __len__(self) -> int:
        return len(self.informer.store)

    async def revoke(self, token_id: str, expires_at: int) -> None:
        """Stores the revocation of ``token_id`` until ``expires_at`` (unix seconds, required)."""
        if expires_at <= 0:
            raise ValueError("a revocation needs the token's expiry")
        if token_id in self:
            return
        if len(self) >= self.limit:
            raise RevocationsFull(f"{len(self)} revoked tokens are outstanding (limit {self.limit})")
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": secret_name(token_id),
                "namespace": self.namespace,
                "labels": {REVOKED_LABEL: "true", "app.kubernetes.io/part-of": "ferrycd"},
                "annotations": {EXPIRES_ANNOTATION: str(int(expires_at))},
            },
            "type": "Opaque",
            "data": {"jti": base64.b64encode(token_id.encode()).decode()},
        }
        try:
            stored = await self.client.create(body)
        except Conflict:
            return  # revoked already (by another replica, or a second logout)
        self.informer.wrote(stored)

    async def sweep(self, now: float | None = None) -> int:
        """Deletes the revocations whose tokens have expired; returns how many."""
        cutoff = (time.time() if now is None else now) - GRACE_SECONDS
        expired = [obj for obj in self.informer.items() if _expires_at(obj) < cutoff]
        for obj in expired:
            name = obj["metadata"]["name"]
            with contextlib.suppress(NotFoundError):  # another replica swept it first
                await self.client.delete(
                    self.info, name, namespace=self.namespace, propagation_policy="Background"
                )
            self.informer.deleted(obj)
        if expired:
            log.info("dropped expired token revocations", extra={"count": len(expired)})
        return len(expired)

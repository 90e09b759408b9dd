"""``ferry-secret``: the server's signing key, account passwords and tokens, and revoked session
ids — durable in Kubernetes, read from a watch, changed with optimistic concurrency (retried on
conflict, so several API server replicas never lose each other's writes)."""

from __future__ import annotations

import base64
import secrets as pysecrets
from collections.abc import Callable
from typing import Any

from ferry.kube.client import KubeClient, Obj, ResourceInfo
from ferry.kube.errors import Conflict, NotFoundError
from ferry.kube.informer import Informer
from ferry.settings import SECRET

SIGNING_KEY = "server.secretkey"


class SecretStore:
    def __init__(self, client: KubeClient, info: ResourceInfo, namespace: str) -> None:
        self.client = client
        self.info = info
        self.namespace = namespace
        self.informer = Informer(client, info, namespace=namespace, field_selector=f"metadata.name={SECRET}")

    def data(self) -> dict[str, str]:
        obj = self.informer.get(self.namespace, SECRET) or {}
        return {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()}

    def get(self, key: str) -> str:
        return self.data().get(key, "")

    async def update(self, change: Callable[[dict[str, str]], dict[str, str | None]]) -> dict[str, str]:
        """Applies ``change(current data)`` (values None delete keys) with retries on conflict."""
        for _ in range(10):
            try:
                current: Obj | None = await self.client.get(self.info, SECRET, self.namespace)
            except NotFoundError:
                current = None
            data = {k: base64.b64decode(v).decode() for k, v in ((current or {}).get("data") or {}).items()}
            updates = change(dict(data))
            for key, value in updates.items():
                if value is None:
                    data.pop(key, None)
                else:
                    data[key] = value
            body: dict[str, Any] = {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": SECRET,
                    "namespace": self.namespace,
                    "labels": {"app.kubernetes.io/part-of": "ferrycd"},
                },
                "type": "Opaque",
                "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
            }
            try:
                if current is None:
                    stored = await self.client.create(body)
                else:
                    body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
                    stored = await self.client.replace(body)
            except Conflict:
                continue
            self.informer.wrote(stored)
            return data
        raise Conflict(f"{SECRET} kept changing; try again")

    async def ensure_signing_key(self) -> None:
        if not self.get(SIGNING_KEY):
            await self.update(
                lambda d: {} if d.get(SIGNING_KEY) else {SIGNING_KEY: pysecrets.token_urlsafe(48)}
            )

    def signing_key(self) -> bytes:
        return self.get(SIGNING_KEY).encode()

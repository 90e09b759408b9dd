"""Init container of ferry-server: puts a random ``service.key`` into the Secret
``ferry-service-key`` of the control namespace when it has none. The key signs the service tokens
the controller and the API server present to the repo server (ferry.servicetoken); the three
Pods mount it from that Secret. An existing key is never replaced.

Runs with ferry-server's ServiceAccount (in-cluster), or with ``KUBECONFIG`` outside a Pod (tests).
Namespace: ``FERRY_SERVER_NAMESPACE``.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import sys

from ferry.kube.client import KubeClient
from ferry.kube.config import ClusterConfig
from ferry.kube.errors import Conflict, KubeError, NotFoundError

SECRET = "ferry-service-key"  # noqa: S105 (a Secret's name)
KEY = "service.key"


async def ensure_key(kube: KubeClient, namespace: str) -> bool:
    """True when it stored a new key, False when one was there already."""
    info = await kube.resource("v1", "Secret")
    for _ in range(10):
        try:
            secret = await kube.get(info, SECRET, namespace)
        except NotFoundError:
            secret = None
        if secret is not None and (secret.get("data") or {}).get(KEY):
            return False
        value = base64.b64encode(secrets.token_hex(32).encode()).decode()
        try:
            if secret is None:
                await kube.create(
                    {
                        "apiVersion": "v1",
                        "kind": "Secret",
                        "metadata": {"name": SECRET, "namespace": namespace},
                        "type": "Opaque",
                        "data": {KEY: value},
                    }
                )
            else:  # replace carries the resourceVersion: a concurrent writer makes it conflict
                secret["data"] = {**(secret.get("data") or {}), KEY: value}
                await kube.replace(secret)
        except Conflict:
            continue
        return True
    raise Conflict(f"{SECRET} kept changing")


async def main() -> int:
    namespace = os.environ.get("FERRY_SERVER_NAMESPACE", "ferry")
    kubeconfig = os.environ.get("KUBECONFIG", "")
    config = ClusterConfig.from_kubeconfig(kubeconfig) if kubeconfig else ClusterConfig.in_cluster()
    kube = KubeClient(config, user_agent="ferry-server/generate-service-key")
    try:
        created = await ensure_key(kube, namespace)
    except KubeError as err:
        print(f"cannot store the service key in {namespace}/{SECRET}: {err.message}", file=sys.stderr)
        return 1
    finally:
        await kube.close()
    print(f"{'generated' if created else 'kept'} the service key in {namespace}/{SECRET}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

"""Init container of ferry-server: fills the Secrets of ferry's mesh in the control namespace,
each only when it lacks its data (nothing that exists is ever replaced):

- ``ferry-service-key`` ``service.key``: a random 256-bit key; the controller and the API server
  sign their calls to the repo server with it (ferry.servicetoken);
- ``ferry-redis`` ``auth``: Redis's password (``requirepass``), given to its three clients;
- ``ferry-reposerver-tls`` and ``ferry-redis-tls`` ``tls.crt``/``tls.key``/``ca.crt``: the repo
  server's and Redis's serving certificates for their Service names, each signed by a CA made
  for it alone whose key is thrown away (ferry.pki.component_certificate). The servers mount
  the certificate and key; their clients mount only ``ca.crt``.

Replace a Secret's data with your own (e.g. from cert-manager) before the first start, or delete
it to have a new one made on the next start of ferry-server.

Runs with ferry-server's ServiceAccount (in-cluster), or with ``KUBECONFIG`` outside a Pod (tests).
Namespace: ``FERRY_SERVER_NAMESPACE``. Prints one line per Secret; never prints a secret.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import sys
from collections.abc import Callable

from ferry import pki
from ferry.kube.client import KubeClient
from ferry.kube.config import ClusterConfig
from ferry.kube.errors import Conflict, KubeError, NotFoundError

SERVICE_KEY_SECRET = "ferry-service-key"  # noqa: S105 (a Secret's name)
REDIS_SECRET = "ferry-redis"  # noqa: S105
REPOSERVER_TLS = "ferry-reposerver-tls"
REDIS_TLS = "ferry-redis-tls"


def service_names(service: str, namespace: str) -> list[str]:
    return [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local",
    ]


def certificate(service: str, namespace: str) -> dict[str, str]:
    made = pki.component_certificate(service, service_names(service, namespace))
    return {
        "tls.crt": made.cert_pem.decode(),
        "tls.key": made.key_pem.decode(),
        "ca.crt": made.ca_pem.decode(),
    }


async def ensure(
    kube: KubeClient, namespace: str, name: str, keys: tuple[str, ...], make: Callable[[], dict[str, str]]
) -> bool:
    """Fills Secret ``name`` with ``make()`` (which writes ``keys``) unless it has all of them
    (what it has is kept). True when it wrote something."""
    info = await kube.resource("v1", "Secret")
    for _ in range(10):
        try:
            secret = await kube.get(info, name, namespace)
        except NotFoundError:
            secret = None
        data = dict((secret or {}).get("data") or {})
        if set(keys) <= set(data):
            return False
        # a certificate and its key belong together: a partial set is made again as a whole
        fresh = {k: base64.b64encode(v.encode()).decode() for k, v in make().items()}
        try:
            if secret is None:
                body = {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": name, "namespace": namespace},
                }
                await kube.create({**body, "type": "Opaque", "data": fresh})
            else:  # replace carries the resourceVersion: a concurrent writer makes it conflict
                secret["data"] = {**data, **fresh}
                await kube.replace(secret)
        except Conflict:
            continue
        return True
    raise Conflict(f"{name} kept changing")


async def main() -> int:
    namespace = os.environ.get("FERRY_SERVER_NAMESPACE", "ferry")
    kubeconfig = os.environ.get("KUBECONFIG", "")
    config = ClusterConfig.from_kubeconfig(kubeconfig) if kubeconfig else ClusterConfig.in_cluster()
    kube = KubeClient(config, user_agent="ferry-server/generate-secrets")
    tls = ("tls.crt", "tls.key", "ca.crt")
    wanted: list[tuple[str, str, tuple[str, ...], Callable[[], dict[str, str]]]] = [
        (
            "the service key",
            SERVICE_KEY_SECRET,
            ("service.key",),
            lambda: {"service.key": secrets.token_hex(32)},
        ),
        ("the Redis password", REDIS_SECRET, ("auth",), lambda: {"auth": secrets.token_urlsafe(32)}),
        (
            "the repo server's certificate",
            REPOSERVER_TLS,
            tls,
            lambda: certificate("ferry-reposerver", namespace),
        ),
        ("Redis's certificate", REDIS_TLS, tls, lambda: certificate("ferry-redis", namespace)),
    ]
    try:
        for what, name, keys, make in wanted:
            created = await ensure(kube, namespace, name, keys, make)
            print(f"{'generated' if created else 'kept'} {what} in {namespace}/{name}")
    except KubeError as err:
        print(f"cannot store ferry's secrets in {namespace}: {err.message}", file=sys.stderr)
        return 1
    finally:
        await kube.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

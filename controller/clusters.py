"""Destination clusters: the in-cluster one (the management cluster ferry runs in) and clusters
registered as Secrets labelled ``ferrycd.io/secret-type: cluster``, found by server URL or name.
One KubeClient and one ClusterCache per destination, created on first use."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass

from controller.clustercache import ClusterCache
from ferry import clusters
from ferry.clusters import DestinationError
from ferry.kube.client import KubeClient, Obj, RequestObserver
from ferry.kube.config import ClusterConfig
from ferry.kube.errors import KubeError
from ferry.kube.informer import Informer
from ferry.settings import IN_CLUSTER_NAME, IN_CLUSTER_SERVER, Settings

log = logging.getLogger(__name__)


@dataclass
class Destination:
    config: ClusterConfig
    client: KubeClient
    cache: ClusterCache
    kube_version: str = ""


class Destinations:
    def __init__(
        self,
        management: KubeClient,
        secrets: Informer,
        *,
        user_agent: str,
        qps: float,
        burst: int,
        observer: Callable[[str], RequestObserver],
        on_change: Callable[[str, str], None],
        settings: Callable[[], Settings],
    ) -> None:
        self.management = management
        self.secrets = secrets
        self._user_agent, self._qps, self._burst = user_agent, qps, burst
        self._observer = observer
        self._on_change = on_change
        self._settings = settings
        self._by_server: dict[str, Destination] = {}
        # (cluster config, user) -> a client acting as that user (sync impersonation)
        self._impersonating: dict[tuple[ClusterConfig, str], KubeClient] = {}

    def resolve(self, server: str, name: str) -> ClusterConfig:
        """The cluster a destination names (server URL wins over name, as in Argo CD)."""
        return clusters.resolve(self.secrets.items(), self.management.config, server, name)

    def get(self, config: ClusterConfig) -> Destination:
        key = config.server if config.name != IN_CLUSTER_NAME else IN_CLUSTER_SERVER
        existing = self._by_server.get(key)
        if existing is not None and existing.config == config:
            return existing
        client = (
            self.management
            if config.name == IN_CLUSTER_NAME
            else KubeClient(
                config,
                user_agent=self._user_agent,
                qps=self._qps,
                burst=self._burst,
                observer=self._observer(config.server),
            )
        )
        destination = Destination(
            config, client, ClusterCache(client, key, on_change=self._on_change, settings=self._settings)
        )
        self._by_server[key] = destination
        if existing is not None:
            log.info("cluster credentials changed; reconnecting", extra={"server": key})
        return destination

    def impersonating(self, destination: Destination, user: str) -> KubeClient:
        """A client of the destination's cluster that acts as ``user`` (Kubernetes
        impersonation): what a sync with impersonation applies and prunes with, so the cluster's
        RBAC for that user bounds it. The controller's own identity needs ``impersonate``."""
        key = (destination.client.config, user)
        client = self._impersonating.get(key)
        if client is None:
            client = KubeClient(
                dataclasses.replace(destination.client.config, impersonate=user),
                user_agent=self._user_agent,
                qps=self._qps,
                burst=self._burst,
                observer=self._observer(destination.config.server),
            )
            self._impersonating[key] = client
        return client

    async def drop(self, destination: Destination) -> None:
        """Stops the cluster's cache and closes its client (never the management cluster's)."""
        key = destination.cache.name
        if self._by_server.get(key) is destination:
            del self._by_server[key]
        await destination.cache.stop()
        if destination.client is not self.management:
            await destination.client.close()
        for cached in [k for k in self._impersonating if k[0] == destination.client.config]:
            await self._impersonating.pop(cached).close()  # its clients acting as other users

    def all(self) -> list[Destination]:
        return list(self._by_server.values())

    @staticmethod
    def server_label(config: ClusterConfig) -> str:
        return clusters.server_label(config)


__all__ = ["Destination", "DestinationError", "Destinations"]


async def kinds_namespaced(client: KubeClient, manifests: list[Obj]) -> dict[tuple[str, str], bool]:
    """(group, kind) -> whether the cluster serves the kind namespaced, for the manifests' kinds it
    knows (discovery is cached by the client)."""
    namespaced: dict[tuple[str, str], bool] = {}
    for api_version, kind in {(str(m.get("apiVersion")), str(m.get("kind"))) for m in manifests}:
        try:
            info = await client.resource(api_version, kind)
        except KubeError:
            continue
        namespaced[(info.group, info.kind)] = info.namespaced
    return namespaced

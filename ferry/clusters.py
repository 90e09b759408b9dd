"""Which cluster an Application's destination names: the in-cluster one (where ferry runs) or a
cluster registered as a Secret labelled ``ferrycd.io/secret-type: cluster``, by server URL (wins)
or by name. Shared by the controller (to reach it) and the API server (to validate and read)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from ferry.kube.client import Obj
from ferry.kube.config import ClusterConfig, ConfigError
from ferry.settings import IN_CLUSTER_NAME, IN_CLUSTER_SERVER, SECRET_TYPE_LABEL

log = logging.getLogger(__name__)


class DestinationError(ValueError):
    """The destination names no known cluster; the message says which and how to register it."""


def registered_clusters(secrets: Iterable[Obj]) -> list[tuple[str, ClusterConfig]]:
    """(secret name, config) of every usable cluster secret."""
    configs = []
    for secret in secrets:
        labels = (secret.get("metadata") or {}).get("labels") or {}
        if labels.get(SECRET_TYPE_LABEL) != "cluster":
            continue
        try:
            configs.append((secret["metadata"]["name"], ClusterConfig.from_secret(secret.get("data") or {})))
        except (ConfigError, ValueError) as err:
            log.warning(
                "unusable cluster secret", extra={"secret": secret["metadata"]["name"], "error": str(err)}
            )
    return configs


def resolve(secrets: Iterable[Obj], management: ClusterConfig, server: str, name: str) -> ClusterConfig:
    server = server.rstrip("/")
    if server == IN_CLUSTER_SERVER or (not server and name == IN_CLUSTER_NAME):
        return ClusterConfig(**{**management.__dict__, "name": IN_CLUSTER_NAME})
    registered = [config for _, config in registered_clusters(secrets)]
    for config in registered:
        if server and config.server == server:
            return config
    for config in registered:
        if not server and name and config.name == name:
            return config
    if server:
        raise DestinationError(
            f"cluster {server!r} is not registered (add a cluster secret or use {IN_CLUSTER_SERVER})"
        )
    if name:
        raise DestinationError(f"no cluster is named {name!r}")
    raise DestinationError("the destination needs a server or a name")


def server_label(config: ClusterConfig) -> str:
    return IN_CLUSTER_SERVER if config.name == IN_CLUSTER_NAME else config.server

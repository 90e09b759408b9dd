"""The controller's configuration (flags and environment, parsed by controller/main.py), and
what it reports when it cannot start."""

from __future__ import annotations

from dataclasses import dataclass, field

from ferry import __version__
from ferry.cache import RedisConfig
from ferry.mesh import RepoServerTarget

USER_AGENT = "ferry-controller"


class StartupError(RuntimeError):
    """The controller cannot start; the message says what to fix."""


@dataclass(frozen=True)
class ControllerConfig:
    namespace: str
    repo_server: RepoServerTarget
    service_key: bytes = field(repr=False)
    status_processors: int = 20
    operation_processors: int = 10
    kube_qps: float = 50.0
    kube_burst: int = 100
    repo_timeout: float = 120.0
    resync_seconds: float | None = None  # overrides ferry-cm timeout.reconciliation
    jitter_seconds: float | None = None
    install_crds: bool = False
    redis: RedisConfig | None = None
    self_heal_backoff_seconds: float = 2.0
    self_heal_backoff_factor: float = 3.0
    self_heal_backoff_cap_seconds: float = 300.0
    server_side_diff: bool = True
    sync_timeout_seconds: float | None = None  # overrides ferry-cm controller.sync.timeout.seconds; 0: none
    shards: int = 1  # 1: this process reconciles every app, and no Lease is ever read
    shard_id: str = ""  # this process's identity in shard Leases
    lease_duration: int = 15
    lease_renew_period: float = 2.0

    @property
    def user_agent(self) -> str:
        """Sharded controllers name themselves, so an API server's audit log tells them apart."""
        base = f"{USER_AGENT}/{__version__}"
        return f"{base} ({self.shard_id})" if self.shards > 1 and self.shard_id else base

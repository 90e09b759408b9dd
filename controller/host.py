"""The controller as the operation driver and app deletion see it.

AppController (controller/appcontroller.py, the reconcile loop) owns an OperationDriver
(controller/operations.py, the sync state machine) and a Deletion (controller/deletion.py, what
happens to an app being deleted). Both call back into the loop that owns them: for its caches,
queues and settings, and for a few steps of a reconcile (validating an app, rendering,
writing its status). ``ControllerHost`` is that boundary, so neither module imports the reconcile
loop and the package has no import cycle; AppController satisfies it, which mypy checks where
the driver and the deletion are built.
"""

from __future__ import annotations

import datetime
from typing import Any, Protocol

from controller.clusters import Destination, Destinations
from controller.compare import DryRunCache
from controller.config import ControllerConfig
from controller.memory import AppMemory
from controller.workqueue import WorkQueue
from ferry.engine.health import HealthChecker
from ferry.engine.syncwindows import WindowState
from ferry.kube.client import KubeClient, Obj, ResourceInfo
from ferry.kube.informer import Informer
from ferry.repocreds import RepoCredentials
from ferry.servicetoken import TokenSource
from ferry.settings import Settings


class ControllerHost(Protocol):
    config: ControllerConfig
    kube: KubeClient
    queue: WorkQueue
    op_queue: WorkQueue
    apps: Informer
    projects: Informer
    app_info: ResourceInfo
    destinations: Destinations
    repo_creds: RepoCredentials
    dry_runs: DryRunCache
    _tokens: TokenSource
    _repo: Any  # repo_pb2_grpc.RepoServiceStub on an aio channel (the stubs type it sync)

    @property
    def field_manager(self) -> str:
        """The field manager of what the controller applies."""
        ...

    def settings(self) -> Settings: ...

    def _health_checker(self) -> HealthChecker: ...

    def on_operation_finished(self, app: Obj, state: dict[str, Any]) -> None: ...

    def _validate(self, app: Obj) -> tuple[list[tuple[str, str]], Destination | None]: ...

    async def _kube_version(self, destination: Destination) -> str: ...

    async def _fetch_manifests(
        self,
        app: Obj,
        destination: Destination,
        memory: AppMemory,
        *,
        hard: bool,
        fresh_refs: bool = False,
        refs_read_after_ms: int = 0,
    ) -> None: ...

    async def _write_status(self, app: Obj, status: dict[str, Any], *, force: bool = False) -> None: ...

    def sync_windows(self, app: Obj, at: datetime.datetime | None = None) -> WindowState | None: ...

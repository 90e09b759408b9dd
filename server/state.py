"""What ferry-server keeps in memory: Applications, AppProjects, ferry's Secrets, settings and
RBAC (all from watches), the compiled RBAC policy, clients for the repo server and for
destination clusters (for live reads), and a broadcaster that feeds Watch streams."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from ferry import clusters, servicetoken
from ferry.cache import Cache
from ferry.errors import InvalidArgument
from ferry.kube.client import KubeClient, Obj
from ferry.kube.config import ClusterConfig
from ferry.kube.informer import Informer
from ferry.mesh import RepoServerTarget
from ferry.rbac import Enforcer, PolicyError, project_policies
from ferry.repocreds import RepoCredentials
from ferry.settings import (
    APP_API_VERSION,
    IN_CLUSTER_NAME,
    RBAC_CONFIGMAP,
    SECRET_TYPE_LABEL,
    SETTINGS_CONFIGMAP,
)
from ferry.v1 import repo_pb2_grpc
from server.accounts import Accounts, Bcrypt
from server.oidc import Oidc, authenticate
from server.revocations import Revocations
from server.secretstore import SecretStore
from server.sessions import AuthOptions, Caller, LoginThrottle, SessionManager

log = logging.getLogger(__name__)
USER_AGENT = "ferry-server"


@dataclass(frozen=True)
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED
    app: Obj


class Broadcaster:
    """Application events fanned out to every open Watch stream (each with its own queue)."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[WatchEvent]] = set()

    def publish(self, event: WatchEvent) -> None:
        for queue in list(self._queues):
            if queue.qsize() < 10_000:
                queue.put_nowait(event)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[WatchEvent]]:
        queue: asyncio.Queue[WatchEvent] = asyncio.Queue()
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)


class ServerState:
    def __init__(
        self,
        kube: KubeClient,
        namespace: str,
        *,
        repo_server: RepoServerTarget,
        service_key: bytes,
        shared_cache: Cache | None,
        dex_server: str = "",
        dex_ca: str = "",
        auth: AuthOptions | None = None,
    ) -> None:
        self.kube = kube
        self.auth = auth or AuthOptions()
        # vouches for the client address the REST gateway passes on (server.session_service)
        self.gateway_key = secrets.token_urlsafe(32)
        self.namespace = namespace
        self.shared_cache = shared_cache
        self.broadcaster = Broadcaster()
        self._repo_channel = repo_server.channel()
        self.repo: Any = repo_pb2_grpc.RepoServiceStub(self._repo_channel)
        self.repo_tokens = servicetoken.TokenSource(service_key, "server")
        self._destination_clients: dict[str, KubeClient] = {}
        self._enforcer: Enforcer | None = None
        self._enforcer_key: tuple[Any, ...] = ()
        self.dex_server = dex_server
        self.dex_ca = dex_ca

    async def start(self) -> None:
        ns = self.namespace
        self.app_info = await self.kube.resource(APP_API_VERSION, "Application")
        self.project_info = await self.kube.resource(APP_API_VERSION, "AppProject")
        secret_info = await self.kube.resource("v1", "Secret")
        configmap_info = await self.kube.resource("v1", "ConfigMap")
        self.apps = Informer(self.kube, self.app_info, namespace=ns, handler=self._on_app)
        self.projects = Informer(self.kube, self.project_info, namespace=ns)
        self.secrets = Informer(self.kube, secret_info, namespace=ns, label_selector=SECRET_TYPE_LABEL)
        self.settings_cm = Informer(
            self.kube, configmap_info, namespace=ns, field_selector=f"metadata.name={SETTINGS_CONFIGMAP}"
        )
        self.rbac_cm = Informer(
            self.kube, configmap_info, namespace=ns, field_selector=f"metadata.name={RBAC_CONFIGMAP}"
        )
        self.secret_store = SecretStore(self.kube, secret_info, ns)
        self.revocations = Revocations(self.kube, secret_info, ns, limit=self.auth.max_revoked_tokens)
        for informer in self._informers():
            informer.start()
        for informer in self._informers():
            await informer.wait_synced(60)
        self.repo_credentials = RepoCredentials(self.secrets)
        hasher = Bcrypt(workers=self.auth.login_workers, max_pending=self.auth.max_concurrent_logins)
        self.accounts = Accounts(self.secret_store, self.settings, hasher=hasher)
        self.sessions = SessionManager(
            self.secret_store,
            self.accounts,
            self.settings,
            self.revocations,
            throttle=LoginThrottle(self.auth.throttle),
        )
        self.oidc = Oidc(
            self.settings,
            self.secret_store.data,
            self.rbac_settings,
            dex_server=self.dex_server,
            dex_ca=self.dex_ca,
            local_accounts=self.accounts.names,
        )
        await self.secret_store.ensure_signing_key()
        initial = await self.accounts.ensure_admin(self.kube, ns)
        if initial:
            log.info("created the admin account; its password is in the secret ferry-initial-admin-secret")
        await self.sessions.migrate_legacy_revocations()
        self.revocations.start_sweeping()

    def _informers(self) -> list[Informer]:
        return [
            self.apps,
            self.projects,
            self.secrets,
            self.settings_cm,
            self.rbac_cm,
            self.secret_store.informer,
            self.revocations.informer,
        ]

    async def stop(self) -> None:
        await self.revocations.stop()
        for informer in self._informers():
            await informer.stop()
        self.accounts.bcrypt.close()
        for client in self._destination_clients.values():
            await client.close()
        await self.oidc.close()
        await self._repo_channel.close()

    def _on_app(self, event: str, new: Obj | None, old: Obj | None) -> None:
        app = new or old
        assert app is not None
        self.broadcaster.publish(WatchEvent(event, app))

    # --- settings and policy -----------------------------------------------------------------------

    def settings(self) -> dict[str, str]:
        cm = self.settings_cm.get(self.namespace, SETTINGS_CONFIGMAP) or {}
        return dict(cm.get("data") or {})

    def rbac_settings(self) -> dict[str, str]:
        cm = self.rbac_cm.get(self.namespace, RBAC_CONFIGMAP) or {}
        return dict(cm.get("data") or {})

    async def authenticate(self, token: str) -> Caller:
        """The caller of a bearer token: a ferry session or API/project token, or an SSO ID token."""
        return await authenticate(token, self.oidc, self._local_caller, self.sessions.revoked)

    def _local_caller(self, token: str) -> Caller:
        return self.sessions.verify(token, self.project)

    def enforcer(self) -> Enforcer:
        """The RBAC policy: ferry-rbac-cm plus every project's role policies, rebuilt on change."""
        rbac = self.rbac_cm.get(self.namespace, RBAC_CONFIGMAP) or {}
        projects = self.projects.items()
        key = (
            (rbac.get("metadata") or {}).get("resourceVersion"),
            tuple(sorted((p["metadata"]["name"], p["metadata"].get("resourceVersion")) for p in projects)),
        )
        if self._enforcer is None or key != self._enforcer_key:
            data = rbac.get("data") or {}
            try:
                self._enforcer = Enforcer.from_config(
                    data.get("policy.csv", ""),
                    default_role=data.get("policy.default", ""),
                    extra=[project_policies(p) for p in projects],
                )
            except PolicyError as err:
                log.error("RBAC policy unusable; keeping the previous one", extra={"error": str(err)})
                if self._enforcer is None:
                    self._enforcer = Enforcer.from_config("")
            self._enforcer_key = key
        return self._enforcer

    def project(self, name: str) -> Obj | None:
        return self.projects.get(self.namespace, name)

    # --- destinations ------------------------------------------------------------------------------

    def destination(self, spec: dict[str, Any]) -> ClusterConfig:
        dest = spec.get("destination") or {}
        try:
            return clusters.resolve(
                self.secrets.items(),
                self.kube.config,
                str(dest.get("server") or ""),
                str(dest.get("name") or ""),
            )
        except clusters.DestinationError as err:
            raise InvalidArgument(str(err)) from None

    def client_for(self, config: ClusterConfig) -> KubeClient:
        if config.name == IN_CLUSTER_NAME:
            return self.kube
        existing = self._destination_clients.get(config.server)
        if existing is not None and existing.config == config:
            return existing
        client = KubeClient(config, user_agent=USER_AGENT)
        self._destination_clients[config.server] = client
        return client

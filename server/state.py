"""What ferry-server keeps in memory: Applications, AppProjects, ferry's Secrets, settings and
RBAC (all from watches), the compiled RBAC policy, clients for the repo server and for
destination clusters (for live reads), and a broadcaster that feeds Watch streams.

The RBAC policy is rebuilt when ferry-rbac-cm or a project changes. A ferry-rbac-cm whose
``policy.csv`` does not parse (edited by hand) is not used: the last good one stays in force
with the projects as they are now, ``ferry_rbac_policy_valid`` drops to 0,
``ferry_rbac_policy_load_errors_total`` counts it and the server logs the line at fault. With
no good one to keep (a server started on a broken ferry-rbac-cm) only the built-in ``admin``
may do anything — projects' roles and ``policy.default`` included — until it is fixed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter, Gauge

from ferry import clusters, servicetoken
from ferry.cache import Cache
from ferry.errors import InvalidArgument
from ferry.kube.client import KubeClient, Obj
from ferry.kube.config import ClusterConfig
from ferry.kube.informer import Informer
from ferry.mesh import RepoServerTarget
from ferry.projects import ensure_default_project
from ferry.rbac import Enforcer, Policy, PolicyError, compile_csv, project_policy
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
POLICY_VALID = Gauge(
    "ferry_rbac_policy_valid",
    "1 when ferry-rbac-cm's policy is in force; 0 when it does not parse (the last good one, or only "
    "the built-in admin, is used instead).",
)
POLICY_ERRORS = Counter(
    "ferry_rbac_policy_load_errors_total",
    "RBAC policies that could not be used, once per version: ferry-rbac-cm (all of it) or an "
    "AppProject (the entries skipped).",
    ["source"],
)


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
        self._configured: tuple[Any, Policy, str] | None = None  # (resourceVersion, policy, default role)
        self._configured_error: tuple[Any, str] | None = None
        self._projects: dict[str, tuple[Any, Policy]] = {}  # name -> (resourceVersion, its roles)
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
        self.enforcer()  # compiled now: ferry_rbac_policy_valid says at once whether the policy is usable
        await self.secret_store.ensure_signing_key()
        await self._ensure_default_project()
        initial = await self.accounts.ensure_admin(self.kube, ns)
        if initial:
            log.info("created the admin account; its password is in the secret ferry-initial-admin-secret")
        await self.sessions.migrate_legacy_revocations()
        self.revocations.start_sweeping()

    async def _ensure_default_project(self) -> None:
        """Create the `default` AppProject when it is missing, as Argo CD's server does at startup:
        a server started before (or without) the controller would otherwise refuse every app of
        project `default`, since a missing project permits nothing."""
        if self.project("default") is None:  # the informer knows: no request when it exists
            await ensure_default_project(self.kube, self.namespace)

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
        """The RBAC policy: ferry-rbac-cm plus every project's roles, rebuilt on change."""
        rbac = self.rbac_cm.get(self.namespace, RBAC_CONFIGMAP) or {}
        projects = self.projects.items()
        key = (
            (rbac.get("metadata") or {}).get("resourceVersion"),
            tuple(sorted((p["metadata"]["name"], p["metadata"].get("resourceVersion")) for p in projects)),
        )
        if self._enforcer is None or key != self._enforcer_key:
            configured = self._configured_policy(rbac)
            self._enforcer = Enforcer.combine(
                configured[0] if configured else None,
                default_role=configured[1] if configured else "",
                projects=[self._project_policy(p) for p in projects],
            )
            self._projects = {
                n: v for n, v in self._projects.items() if n in {p["metadata"]["name"] for p in projects}
            }
            self._enforcer_key = key
        return self._enforcer

    def _configured_policy(self, rbac: Obj) -> tuple[Policy, str] | None:
        """ferry-rbac-cm compiled: the current one, else the last good one, else None."""
        version = (rbac.get("metadata") or {}).get("resourceVersion")
        if self._configured is not None and self._configured[0] == version:
            return self._configured[1], self._configured[2]
        data = rbac.get("data") or {}
        try:
            policy = compile_csv(str(data.get("policy.csv", "")))
        except PolicyError as err:
            if self._configured_error is None or self._configured_error[0] != version:
                self._configured_error = (version, str(err))
                POLICY_ERRORS.labels("ferry-rbac-cm").inc()
                log.error(
                    "RBAC policy in ferry-rbac-cm is unusable; "
                    + (
                        "keeping the last good one"
                        if self._configured
                        else "only the built-in admin is allowed"
                    ),
                    extra={"error": str(err), "resourceVersion": version},
                )
            POLICY_VALID.set(0)
            return (self._configured[1], self._configured[2]) if self._configured else None
        self._configured = (version, policy, str(data.get("policy.default", "")))
        self._configured_error = None
        POLICY_VALID.set(1)
        return policy, self._configured[2]

    def _project_policy(self, project: Obj) -> Policy:
        name = project["metadata"]["name"]
        version = project["metadata"].get("resourceVersion")
        cached = self._projects.get(name)
        if cached is not None and cached[0] == version:
            return cached[1]
        policy, skipped = project_policy(project)
        if skipped:
            POLICY_ERRORS.labels("appproject").inc()
            log.error(
                "AppProject roles with entries ferry cannot use; those entries are ignored",
                extra={"project": name, "errors": "; ".join(skipped)},
            )
        self._projects[name] = (version, policy)
        return policy

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

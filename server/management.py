"""The management services of ferry-server: repositories, clusters, projects, accounts, version
and public settings. Same authentication, RBAC and error rules as ApplicationService; stored
credentials (repository passwords and keys, cluster tokens) are accepted but never returned."""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import json
import platform
import shutil
import subprocess
import time
import uuid
from typing import Any

import _gojsonnet
import grpc

from ferry import __version__
from ferry.convert import from_k8s, to_k8s
from ferry.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    from_status,
)
from ferry.interceptors import CALLER, Context
from ferry.kube.client import Obj
from ferry.kube.config import ClusterConfig, ConfigError
from ferry.kube.errors import KubeError, NotFoundError, to_ferry
from ferry.projects import spec_problems
from ferry.rbac import role_problems
from ferry.repourl import BadRepoURL, normalize, parse
from ferry.settings import APP_API_VERSION, IN_CLUSTER_NAME, IN_CLUSTER_SERVER, SECRET_TYPE_LABEL
from ferry.v1 import (
    account_pb2,
    account_pb2_grpc,
    cluster_pb2,
    cluster_pb2_grpc,
    project_pb2,
    project_pb2_grpc,
    repo_pb2,
    repository_pb2,
    repository_pb2_grpc,
    types_pb2,
    version_pb2,
    version_pb2_grpc,
)
from server.dex import dex_connectors
from server.sessions import Caller, require
from server.state import ServerState

_REPO_FIELDS = {
    "username": "username",
    "password": "password",
    "ssh_private_key": "sshPrivateKey",
    "bearer_token": "bearerToken",
    "tls_client_cert_data": "tlsClientCertData",
    "tls_client_cert_key": "tlsClientCertKey",
    "ca_data": "caData",
    "known_hosts": "knownHosts",
    "type": "type",
    "name": "name",
    "project": "project",
}
_SECRET_FIELDS = ("password", "sshPrivateKey", "bearerToken", "tlsClientCertKey")


def caller() -> Caller:
    who = CALLER.get()
    assert isinstance(who, Caller)
    return who


def enforce(state: ServerState, resource: str, action: str, obj: str) -> None:
    who = caller()
    require(
        state.enforcer().enforce(who.subjects, resource, action, obj),
        f"{who.username} cannot {action} {resource} {obj}",
    )


def _require_repo_url(url: str) -> None:
    """A repository URL the API stores or asks about: one that parses (ferry.repourl) and is not a
    path on the repo server (finding 10). ``file://`` is left to the repo server, which refuses it
    unless it runs with --allow-local-repos."""
    try:
        parsed = parse(url)
    except BadRepoURL as err:
        raise InvalidArgument(
            f"{err.message} (use https://, http://, ssh://, git:// or git@host:path)"
        ) from None
    if parsed.kind == "local":
        raise InvalidArgument(
            f"{url!r} is a local path, not a repository URL: local paths and file:// are not "
            "allowed as repositories (use https://, ssh://, git:// or git@host:path)"
        )


def _project_scope(state: ServerState, project: str) -> str | None:
    """The project whose scoped credentials a repository call may use: only one the caller may
    see (``projects, get``); None (unscoped credentials only) when the call names none."""
    if not project:
        return None
    enforce(state, "projects", "get", project)
    return project


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def _decode(data: dict[str, str]) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in (data or {}).items()}


async def _secret_write(
    state: ServerState, name: str, kind: str, data: dict[str, str], *, replace: bool
) -> None:
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": state.namespace, "labels": {SECRET_TYPE_LABEL: kind}},
        "type": "Opaque",
        "data": {k: _b64(v) for k, v in data.items() if v != ""},
    }
    try:
        if replace:
            info = await state.kube.resource("v1", "Secret")
            current = await state.kube.get(info, name, state.namespace)
            body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            stored = await state.kube.replace(body)
        else:
            stored = await state.kube.create(body)
    except KubeError as err:
        raise to_ferry(err, f"secret {name}") from None
    state.secrets.wrote(stored)


async def _secret_delete(state: ServerState, name: str) -> None:
    info = await state.kube.resource("v1", "Secret")
    known = state.secrets.get(state.namespace, name)
    try:
        await state.kube.delete(info, name, namespace=state.namespace, propagation_policy="Background")
    except NotFoundError:
        pass
    except KubeError as err:
        raise to_ferry(err, f"secret {name}") from None
    if known is not None:
        state.secrets.deleted(known)


def _apps_using(state: ServerState, predicate: Any) -> list[str]:
    return sorted(a["metadata"]["name"] for a in state.apps.items() if predicate(a.get("spec") or {}))


# --- repositories ------------------------------------------------------------------------------------


class RepositoryService(repository_pb2_grpc.RepositoryServiceServicer):
    def __init__(self, state: ServerState) -> None:
        self.s = state

    def _stored(self) -> list[tuple[str, str, dict[str, str]]]:
        """(secret name, kind, data) of every repository and credential template."""
        found = []
        for secret in self.s.secrets.items():
            kind = ((secret.get("metadata") or {}).get("labels") or {}).get(SECRET_TYPE_LABEL)
            if kind in ("repository", "repo-creds"):
                found.append((secret["metadata"]["name"], str(kind), _decode(secret.get("data") or {})))
        return found

    def _find(self, url: str) -> tuple[str, str, dict[str, str]] | None:
        for entry in self._stored():
            if normalize(entry[2].get("url", "")) == normalize(url):
                return entry
        return None

    @staticmethod
    def _public(data: dict[str, str]) -> types_pb2.Repository:
        return types_pb2.Repository(
            repo=data.get("url", ""),
            type=data.get("type", "git") or "git",
            name=data.get("name", ""),
            username=data.get("username", ""),
            insecure=data.get("insecure", "").lower() == "true",
            pass_credentials=data.get("passCredentials", "").lower() == "true",
            project=data.get("project", ""),
            has_credentials=any(data.get(k) for k in _SECRET_FIELDS),
        )

    async def _test(self, repo: types_pb2.Repository) -> types_pb2.ConnectionState:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        try:
            await self.s.repo.TestRepository(
                repo_pb2.TestRepositoryRequest(repo=repo), metadata=self.s.repo_tokens.metadata(), timeout=60
            )
        except grpc.aio.AioRpcError as err:
            return types_pb2.ConnectionState(
                status="Failed", message=err.details() or err.code().name, attempted_at=stamp
            )
        return types_pb2.ConnectionState(status="Successful", attempted_at=stamp)

    async def ListRepositories(
        self, request: repository_pb2.RepoQuery, context: Context
    ) -> repository_pb2.RepositoryList:
        who = caller()
        enforcer = self.s.enforcer()
        items = []
        for _, kind, data in sorted(self._stored(), key=lambda e: e[2].get("url", "")):
            if kind != "repository" or not enforcer.enforce(
                who.subjects, "repositories", "get", data.get("url", "")
            ):
                continue
            public = self._public(data)
            if request.force_refresh:
                public.connection_state.CopyFrom(
                    await self._test(self.s.repo_credentials.for_url(public.repo, public.project or None))
                )
            items.append(public)
        return repository_pb2.RepositoryList(items=items)

    async def Get(self, request: repository_pb2.RepoQuery, context: Context) -> types_pb2.Repository:
        if not request.repo:
            raise InvalidArgument("repo (the repository URL) is required")
        enforce(self.s, "repositories", "get", request.repo)
        entry = self._find(request.repo)
        if entry is None or entry[1] != "repository":
            raise NotFound(f"repository {request.repo!r} not found")
        public = self._public(entry[2])
        public.connection_state.CopyFrom(
            await self._test(self.s.repo_credentials.for_url(public.repo, public.project or None))
        )
        return public

    @staticmethod
    def _data(repo: types_pb2.Repository) -> dict[str, str]:
        data = {
            "url": repo.repo,
            "insecure": "true" if repo.insecure else "",
            "passCredentials": "true" if repo.pass_credentials else "",
        }
        for field, key in _REPO_FIELDS.items():
            data[key] = str(getattr(repo, field))
        if data["type"] not in ("", "git", "helm"):
            raise InvalidArgument(f"repository type must be 'git' or 'helm', not {data['type']!r}")
        return data

    async def CreateRepository(
        self, request: repository_pb2.RepoCreateRequest, context: Context
    ) -> types_pb2.Repository:
        repo = request.repo
        if not repo.repo:
            raise InvalidArgument("repo.repo (the repository URL) is required")
        _require_repo_url(repo.repo)
        enforce(self.s, "repositories", "create", repo.repo)
        kind = "repo-creds" if request.creds_only else "repository"
        data = self._data(repo)
        existing = self._find(repo.repo)
        if existing is not None and existing[1] == kind:
            if not request.upsert:
                raise AlreadyExists(f"repository {repo.repo!r} already exists; use upsert to replace it")
            enforce(self.s, "repositories", "update", repo.repo)
            await _secret_write(self.s, existing[0], kind, data, replace=True)
        else:
            if kind == "repository" and not request.upsert:
                state = await self._test(repo)
                if state.status != "Successful":
                    raise FailedPrecondition(f"unable to connect to repository {repo.repo}: {state.message}")
            prefix = "creds" if request.creds_only else "repo"
            await _secret_write(
                self.s,
                f"{prefix}-{hashlib.sha256(normalize(repo.repo).encode()).hexdigest()[:12]}",
                kind,
                data,
                replace=False,
            )
        return self._public(data)

    async def UpdateRepository(
        self, request: repository_pb2.RepoUpdateRequest, context: Context
    ) -> types_pb2.Repository:
        enforce(self.s, "repositories", "update", request.repo.repo)
        existing = self._find(request.repo.repo)
        if existing is None:
            raise NotFound(f"repository {request.repo.repo!r} not found")
        data = self._data(request.repo)
        for key in _SECRET_FIELDS:  # an update without a credential keeps the stored one
            if not data.get(key) and existing[2].get(key):
                data[key] = existing[2][key]
        await _secret_write(self.s, existing[0], existing[1], data, replace=True)
        return self._public(data)

    async def DeleteRepository(
        self, request: repository_pb2.RepoQuery, context: Context
    ) -> repository_pb2.RepoResponse:
        enforce(self.s, "repositories", "delete", request.repo)
        existing = self._find(request.repo)
        if existing is None:
            raise NotFound(f"repository {request.repo!r} not found")
        if existing[1] == "repository":
            users = _apps_using(
                self.s,
                lambda spec: (
                    normalize((spec.get("source") or {}).get("repoURL", "")) == normalize(request.repo)
                ),
            )
            if users:
                raise FailedPrecondition(
                    f"repository {request.repo!r} is used by applications: {', '.join(users)}"
                )
        await _secret_delete(self.s, existing[0])
        return repository_pb2.RepoResponse()

    async def ValidateAccess(
        self, request: repository_pb2.RepoAccessQuery, context: Context
    ) -> repository_pb2.RepoResponse:
        if not request.repo:
            raise InvalidArgument("repo is required")
        enforce(self.s, "repositories", "create", request.repo)
        repo = from_k8s({k: v for k, v in to_k8s(request).items()}, types_pb2.Repository)
        state = await self._test(repo)
        if state.status != "Successful":
            raise FailedPrecondition(f"unable to connect to repository {request.repo}: {state.message}")
        return repository_pb2.RepoResponse()

    async def ListRefs(self, request: repository_pb2.RepoQuery, context: Context) -> repo_pb2.Refs:
        enforce(self.s, "repositories", "get", request.repo)
        try:
            refs: repo_pb2.Refs = await self.s.repo.ListRefs(
                repo_pb2.ListRefsRequest(
                    repo=self.s.repo_credentials.for_url(
                        request.repo, _project_scope(self.s, request.app_project)
                    ),
                    no_cache=request.force_refresh,
                ),
                metadata=self.s.repo_tokens.metadata(),
                timeout=60,
            )
        except grpc.aio.AioRpcError as err:
            raise _passed_on(err) from None
        return refs

    async def ListApps(
        self, request: repository_pb2.RepoAppsQuery, context: Context
    ) -> repository_pb2.RepoAppsResponse:
        enforce(self.s, "repositories", "get", request.repo)
        try:
            apps = await self.s.repo.ListApps(
                repo_pb2.ListAppsRequest(
                    repo=self.s.repo_credentials.for_url(
                        request.repo, _project_scope(self.s, request.app_project)
                    ),
                    revision=request.revision,
                ),
                metadata=self.s.repo_tokens.metadata(),
                timeout=60,
            )
        except grpc.aio.AioRpcError as err:
            raise _passed_on(err) from None
        return repository_pb2.RepoAppsResponse(
            items=[repository_pb2.AppInfo(path=p, type=t) for p, t in sorted(apps.apps.items())]
        )

    async def GetAppDetails(
        self, request: repository_pb2.RepoAppDetailsQuery, context: Context
    ) -> repo_pb2.RepoAppDetailsResponse:
        enforce(self.s, "repositories", "get", request.source.repo_url)
        try:
            details: repo_pb2.RepoAppDetailsResponse = await self.s.repo.GetAppDetails(
                repo_pb2.RepoServerAppDetailsQuery(
                    repo=self.s.repo_credentials.for_url(
                        request.source.repo_url, _project_scope(self.s, request.app_project)
                    ),
                    source=request.source,
                    app_name=request.app_name,
                ),
                metadata=self.s.repo_tokens.metadata(),
                timeout=60,
            )
        except grpc.aio.AioRpcError as err:
            raise _passed_on(err) from None
        return details


def _passed_on(err: grpc.aio.AioRpcError) -> Exception:
    return from_status(err.code(), err.details() or err.code().name)


# --- clusters ------------------------------------------------------------------------------------------


class ClusterService(cluster_pb2_grpc.ClusterServiceServicer):
    def __init__(self, state: ServerState) -> None:
        self.s = state

    def _stored(self) -> list[tuple[str, dict[str, str]]]:
        return [
            (secret["metadata"]["name"], _decode(secret.get("data") or {}))
            for secret in self.s.secrets.items()
            if ((secret.get("metadata") or {}).get("labels") or {}).get(SECRET_TYPE_LABEL) == "cluster"
        ]

    async def _info(self, config: ClusterConfig) -> cluster_pb2.ClusterInfo:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        client = self.s.client_for(config)
        apps = len(_apps_using(self.s, lambda spec: self._names(spec, config)))
        try:
            version = await asyncio.wait_for(client.server_version(), 10)
        except (KubeError, TimeoutError) as err:
            state = types_pb2.ConnectionState(status="Failed", message=str(err), attempted_at=stamp)
            return cluster_pb2.ClusterInfo(connection_state=state, applications_count=apps)
        state = types_pb2.ConnectionState(status="Successful", attempted_at=stamp)
        return cluster_pb2.ClusterInfo(
            server_version=version, connection_state=state, applications_count=apps
        )

    @staticmethod
    def _names(spec: dict[str, Any], config: ClusterConfig) -> bool:
        dest = spec.get("destination") or {}
        if config.name == IN_CLUSTER_NAME:
            return dest.get("server") == IN_CLUSTER_SERVER or dest.get("name") == IN_CLUSTER_NAME
        return bool(
            dest.get("server") == config.server or (dest.get("name") and dest.get("name") == config.name)
        )

    def _public(
        self, config: ClusterConfig, secret: str | None, data: dict[str, str] | None = None
    ) -> cluster_pb2.Cluster:
        """The cluster as callers see it (no credentials); ``data`` is the secret just written,
        which the informer may not have delivered yet."""
        server = IN_CLUSTER_SERVER if config.name == IN_CLUSTER_NAME else config.server
        stored = data if data is not None else dict(self._stored()).get(secret or "", {})
        labels = json.loads(stored.get("labels") or "{}")
        return cluster_pb2.Cluster(
            server=server,
            name=config.name,
            namespaces=list(config.namespaces),
            has_credentials=secret is not None,
            labels=labels,
        )

    def _configs(self) -> list[tuple[str | None, ClusterConfig]]:
        configs: list[tuple[str | None, ClusterConfig]] = [
            (None, ClusterConfig(**{**self.s.kube.config.__dict__, "name": IN_CLUSTER_NAME}))
        ]
        for name, data in self._stored():
            try:
                configs.append((name, ClusterConfig.from_secret({k: _b64(v) for k, v in data.items()})))
            except ConfigError:
                continue
        return configs

    def _find(self, server: str, name: str) -> tuple[str | None, ClusterConfig]:
        for secret, config in self._configs():
            public = IN_CLUSTER_SERVER if config.name == IN_CLUSTER_NAME else config.server
            if (server and public == server.rstrip("/")) or (not server and name and config.name == name):
                return secret, config
        raise NotFound(f"cluster {server or name!r} not found")

    async def List(self, request: cluster_pb2.ClusterQuery, context: Context) -> cluster_pb2.ClusterList:
        who = caller()
        enforcer = self.s.enforcer()
        visible = [
            (s, c)
            for s, c in self._configs()
            if enforcer.enforce(
                who.subjects, "clusters", "get", IN_CLUSTER_SERVER if c.name == IN_CLUSTER_NAME else c.server
            )
        ]
        infos = await asyncio.gather(*(self._info(c) for _, c in visible))
        items = []
        for (secret, config), info in zip(visible, infos, strict=True):
            cluster = self._public(config, secret)
            cluster.info.CopyFrom(info)
            items.append(cluster)
        return cluster_pb2.ClusterList(items=items)

    async def Get(self, request: cluster_pb2.ClusterQuery, context: Context) -> cluster_pb2.Cluster:
        secret, config = self._find(request.server, request.name)
        public = self._public(config, secret)
        enforce(self.s, "clusters", "get", public.server)
        public.info.CopyFrom(await self._info(config))
        return public

    @staticmethod
    def _data(cluster: cluster_pb2.Cluster) -> dict[str, str]:
        if not cluster.server.startswith("https://") and not cluster.server.startswith("http://"):
            raise InvalidArgument(f"cluster server must be an https:// URL, not {cluster.server!r}")
        if cluster.server.rstrip("/") == IN_CLUSTER_SERVER:
            raise InvalidArgument(
                f"{IN_CLUSTER_SERVER} is the in-cluster destination; it needs no registration"
            )
        tls = cluster.config.tls_client_config
        config: dict[str, Any] = {"tlsClientConfig": {"insecure": tls.insecure}}
        if cluster.config.bearer_token:
            config["bearerToken"] = cluster.config.bearer_token
        for field, key in (("ca_data", "caData"), ("cert_data", "certData"), ("key_data", "keyData")):
            value = getattr(tls, field)
            if value:
                try:
                    base64.b64decode(value, validate=True)
                except ValueError:
                    raise InvalidArgument(f"cluster.config.tlsClientConfig.{key} must be base64") from None
                config["tlsClientConfig"][key] = value
        return {
            "server": cluster.server.rstrip("/"),
            "name": cluster.name or cluster.server,
            "namespaces": ",".join(cluster.namespaces),
            "config": json.dumps(config),
            "labels": json.dumps(dict(sorted(cluster.labels.items()))),
        }

    async def Create(
        self, request: cluster_pb2.ClusterCreateRequest, context: Context
    ) -> cluster_pb2.Cluster:
        cluster = request.cluster
        data = self._data(cluster)
        enforce(self.s, "clusters", "create", data["server"])
        try:
            secret, _ = self._find(data["server"], "")
        except NotFound:
            secret = None
        if secret is not None and not request.upsert:
            raise AlreadyExists(f"cluster {data['server']!r} already exists; use upsert to replace it")
        name = secret or f"cluster-{hashlib.sha256(data['server'].encode()).hexdigest()[:12]}"
        await _secret_write(self.s, name, "cluster", data, replace=secret is not None)
        config = ClusterConfig.from_secret({k: _b64(v) for k, v in data.items()})
        public = self._public(config, name, data)
        public.info.CopyFrom(await self._info(config))
        return public

    async def Update(
        self, request: cluster_pb2.ClusterUpdateRequest, context: Context
    ) -> cluster_pb2.Cluster:
        secret, current = self._find(request.cluster.server, "")
        if secret is None:
            raise InvalidArgument("the in-cluster destination cannot be changed")
        enforce(self.s, "clusters", "update", current.server)
        updated = copy.deepcopy(request.cluster)
        if not updated.config.bearer_token and not updated.config.tls_client_config.key_data:
            stored = json.loads(dict(self._stored())[secret].get("config") or "{}")
            updated.config.CopyFrom(from_k8s(stored, cluster_pb2.ClusterConfig))  # keep stored credentials
        data = self._data(updated)
        await _secret_write(self.s, secret, "cluster", data, replace=True)
        config = ClusterConfig.from_secret({k: _b64(v) for k, v in data.items()})
        return self._public(config, secret, data)

    async def Delete(
        self, request: cluster_pb2.ClusterQuery, context: Context
    ) -> cluster_pb2.ClusterResponse:
        secret, config = self._find(request.server, request.name)
        if secret is None:
            raise InvalidArgument("the in-cluster destination cannot be removed")
        enforce(self.s, "clusters", "delete", config.server)
        await _secret_delete(self.s, secret)
        return cluster_pb2.ClusterResponse()


# --- projects ------------------------------------------------------------------------------------------


class ProjectService(project_pb2_grpc.ProjectServiceServicer):
    def __init__(self, state: ServerState) -> None:
        self.s = state

    def _get(self, name: str) -> Obj:
        if not name:
            raise InvalidArgument("project name is required")
        project = self.s.project(name)
        if project is None:
            raise NotFound(f'project "{name}" not found')
        return project

    @staticmethod
    def _message(project: Obj) -> types_pb2.AppProject:
        shown = {
            k: v for k, v in project.items() if k in ("apiVersion", "kind", "metadata", "spec", "status")
        }
        return from_k8s(shown, types_pb2.AppProject)

    async def _write(self, method: str, *args: Any) -> Obj:
        try:
            result: Obj = await getattr(self.s.kube, method)(*args)
        except KubeError as err:
            raise to_ferry(err, "project") from None
        self.s.projects.wrote(result)
        return result

    def _incoming(self, message: types_pb2.AppProject) -> Obj:
        project = to_k8s(message)
        name = str((project.get("metadata") or {}).get("name") or "")
        if not name:
            raise InvalidArgument("project.metadata.name is required")
        project["apiVersion"], project["kind"] = APP_API_VERSION, "AppProject"
        project["metadata"] = {
            "name": name,
            "namespace": self.s.namespace,
            **{k: v for k, v in project["metadata"].items() if k in ("labels", "annotations")},
        }
        project.pop("status", None)
        return project

    @staticmethod
    def _check(project: Obj) -> None:
        """Refused before anything is written (after RBAC): role names, groups and policies that
        could not be compiled as rows (review finding 5), and destinations Argo CD refuses."""
        problems = role_problems(project) + [f"project.{p}" for p in spec_problems(project)]
        if problems:
            raise InvalidArgument("; ".join(problems))

    async def Create(
        self, request: project_pb2.ProjectCreateRequest, context: Context
    ) -> types_pb2.AppProject:
        project = self._incoming(request.project)
        name = project["metadata"]["name"]
        enforce(self.s, "projects", "create", name)
        self._check(project)
        existing = self.s.project(name)
        if existing is not None:
            if not request.upsert:
                raise AlreadyExists(f'project "{name}" already exists; use upsert to replace its spec')
            enforce(self.s, "projects", "update", name)
            merged = copy.deepcopy(existing)
            merged["spec"] = project.get("spec") or {}
            return self._message(await self._write("replace", merged))
        return self._message(await self._write("create", project))

    async def List(self, request: project_pb2.ProjectQuery, context: Context) -> types_pb2.AppProjectList:
        who = caller()
        enforcer = self.s.enforcer()
        items = [
            self._message(p)
            for p in sorted(self.s.projects.items(), key=lambda p: p["metadata"]["name"])
            if enforcer.enforce(who.subjects, "projects", "get", p["metadata"]["name"])
        ]
        return types_pb2.AppProjectList(items=items)

    async def Get(self, request: project_pb2.ProjectQuery, context: Context) -> types_pb2.AppProject:
        project = self._get(request.name)
        enforce(self.s, "projects", "get", request.name)
        return self._message(project)

    async def Update(
        self, request: project_pb2.ProjectUpdateRequest, context: Context
    ) -> types_pb2.AppProject:
        incoming = self._incoming(request.project)
        current = self._get(incoming["metadata"]["name"])
        enforce(self.s, "projects", "update", incoming["metadata"]["name"])
        self._check(incoming)
        merged = copy.deepcopy(current)
        merged["spec"] = incoming.get("spec") or {}
        return self._message(await self._write("replace", merged))

    async def Delete(
        self, request: project_pb2.ProjectQuery, context: Context
    ) -> project_pb2.ProjectResponse:
        project = self._get(request.name)
        enforce(self.s, "projects", "delete", request.name)
        users = _apps_using(self.s, lambda spec: (spec.get("project") or "default") == request.name)
        if users:
            raise FailedPrecondition(f"project {request.name!r} is used by applications: {', '.join(users)}")
        try:
            # Background: nothing hangs off a project, and Foreground would leave it listed (with
            # a foregroundDeletion finalizer) until the garbage collector gets round to it.
            await self.s.kube.delete(
                self.s.project_info, request.name, namespace=self.s.namespace, propagation_policy="Background"
            )
        except KubeError as err:
            raise to_ferry(err, "project") from None
        self.s.projects.deleted(project)
        return project_pb2.ProjectResponse()

    def _role(self, project: Obj, role: str) -> tuple[Obj, int]:
        merged = copy.deepcopy(project)
        roles = (merged.setdefault("spec", {})).setdefault("roles", [])
        for index, entry in enumerate(roles):
            if entry.get("name") == role:
                return merged, index
        raise NotFound(f"project {project['metadata']['name']!r} has no role {role!r}")

    async def CreateToken(
        self, request: project_pb2.ProjectTokenCreateRequest, context: Context
    ) -> project_pb2.ProjectTokenResponse:
        project = self._get(request.project)
        enforce(self.s, "projects", "update", request.project)
        merged, index = self._role(project, request.role)
        if request.expires_in < 0:
            raise InvalidArgument("expiresIn must not be negative")
        token_id = request.id or str(uuid.uuid4())
        role = merged["spec"]["roles"][index]
        if any(t.get("id") == token_id for t in role.get("jwtTokens") or []):
            raise AlreadyExists(f"role {request.role!r} already has a token with id {token_id!r}")
        token, claims = self.s.sessions.mint(
            f"proj:{request.project}:{request.role}", expires_in=int(request.expires_in) or None, jti=token_id
        )
        entry = {"iat": claims["iat"], "id": token_id, **({"exp": claims["exp"]} if "exp" in claims else {})}
        role.setdefault("jwtTokens", []).append(entry)
        await self._write("replace", merged)
        return project_pb2.ProjectTokenResponse(token=token)

    async def DeleteToken(
        self, request: project_pb2.ProjectTokenDeleteRequest, context: Context
    ) -> project_pb2.ProjectResponse:
        project = self._get(request.project)
        enforce(self.s, "projects", "update", request.project)
        merged, index = self._role(project, request.role)
        role = merged["spec"]["roles"][index]
        tokens = role.get("jwtTokens") or []
        kept = [
            t
            for t in tokens
            if not (
                (request.id and t.get("id") == request.id) or (request.iat and t.get("iat") == request.iat)
            )
        ]
        if len(kept) == len(tokens):
            raise NotFound(f"role {request.role!r} has no token {request.id or request.iat!r}")
        role["jwtTokens"] = kept
        await self._write("replace", merged)
        return project_pb2.ProjectResponse()


# --- accounts ------------------------------------------------------------------------------------------


class AccountService(account_pb2_grpc.AccountServiceServicer):
    def __init__(self, state: ServerState) -> None:
        self.s = state

    def _account(self, name: str) -> Any:
        account = self.s.accounts.get(name)
        if account is None:
            raise NotFound(f'account "{name}" not found')
        return account

    def _own_or(self, name: str, action: str) -> None:
        # only the local account itself: an SSO user or project token of the same name is not it
        if not caller().is_account(name):
            enforce(self.s, "accounts", action, name)

    @staticmethod
    def _message(account: Any) -> account_pb2.Account:
        return account_pb2.Account(
            name=account.name,
            enabled=account.enabled,
            capabilities=sorted(account.capabilities),
            tokens=[
                account_pb2.Token(
                    id=t.get("id", ""), issued_at=int(t.get("iat", 0)), expires_at=int(t.get("exp", 0))
                )
                for t in account.tokens
            ],
        )

    async def CanI(self, request: account_pb2.CanIRequest, context: Context) -> account_pb2.CanIResponse:
        if not request.resource or not request.action:
            raise InvalidArgument("resource and action are required")
        allowed = self.s.enforcer().enforce(
            caller().subjects, request.resource, request.action, request.subresource or "*"
        )
        return account_pb2.CanIResponse(value="yes" if allowed else "no")

    async def UpdatePassword(
        self, request: account_pb2.UpdatePasswordRequest, context: Context
    ) -> account_pb2.UpdatePasswordResponse:
        who = caller()
        name = request.name or who.username
        account = self._account(name)
        if "login" not in account.capabilities:
            raise FailedPrecondition(f"account {name!r} cannot log in, so it has no password")
        if who.is_account(name) or not self.s.enforcer().enforce(who.subjects, "accounts", "update", name):
            self._own_or(name, "update")
            verify = self._account(who.username)
            if not await self.s.accounts.bcrypt.check(request.current_password, verify.password_hash):
                raise PermissionDenied("the current password is wrong")
        await self.s.accounts.set_password(name, request.new_password)
        return account_pb2.UpdatePasswordResponse()

    async def ListAccounts(
        self, request: account_pb2.ListAccountRequest, context: Context
    ) -> account_pb2.AccountsList:
        who = caller()
        enforcer = self.s.enforcer()
        return account_pb2.AccountsList(
            items=[
                self._message(a)
                for a in self.s.accounts.all()
                if who.is_account(a.name) or enforcer.enforce(who.subjects, "accounts", "get", a.name)
            ]
        )

    async def GetAccount(
        self, request: account_pb2.GetAccountRequest, context: Context
    ) -> account_pb2.Account:
        name = request.name or caller().username
        account = self._account(name)
        self._own_or(name, "get")
        return self._message(account)

    async def CreateToken(
        self, request: account_pb2.CreateTokenRequest, context: Context
    ) -> account_pb2.CreateTokenResponse:
        name = request.name or caller().username
        account = self._account(name)
        self._own_or(name, "update")
        if "apiKey" not in account.capabilities:
            raise FailedPrecondition(f"account {name!r} does not have the apiKey capability")
        if request.expires_in < 0:
            raise InvalidArgument("expiresIn must not be negative")
        token_id = request.id or str(uuid.uuid4())
        if any(t.get("id") == token_id for t in account.tokens):
            raise AlreadyExists(f"account {name!r} already has a token with id {token_id!r}")
        token, claims = self.s.sessions.mint(
            name, expires_in=int(request.expires_in) or None, jti=token_id, api=True
        )
        await self.s.accounts.add_token(name, token_id, int(claims["iat"]), int(claims.get("exp", 0)))
        return account_pb2.CreateTokenResponse(token=token)

    async def DeleteToken(
        self, request: account_pb2.DeleteTokenRequest, context: Context
    ) -> account_pb2.EmptyResponse:
        self._account(request.name)
        self._own_or(request.name, "update")
        if not await self.s.accounts.delete_token(request.name, request.id):
            raise NotFound(f"account {request.name!r} has no token {request.id!r}")
        return account_pb2.EmptyResponse()


# --- version and settings ------------------------------------------------------------------------------


def _tool_version(argv: list[str]) -> str:
    if shutil.which(argv[0]) is None:
        return ""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (
        (done.stdout or done.stderr).strip().splitlines()[0] if (done.stdout or done.stderr).strip() else ""
    )


class VersionService(version_pb2_grpc.VersionServiceServicer):
    def __init__(self) -> None:
        self._tools: dict[str, str] | None = None

    async def Version(
        self, request: version_pb2.VersionRequest, context: Context
    ) -> version_pb2.VersionMessage:
        if self._tools is None:
            helm, kustomize = await asyncio.gather(
                asyncio.to_thread(_tool_version, ["helm", "version", "--short"]),
                asyncio.to_thread(_tool_version, ["kustomize", "version"]),
            )
            jsonnet = str(getattr(_gojsonnet, "version", ""))
            self._tools = {"helm": helm, "kustomize": kustomize, "jsonnet": jsonnet}
        return version_pb2.VersionMessage(
            version=f"v{__version__}",
            python_version=platform.python_version(),
            grpc_version=grpc.__version__,
            platform=f"{platform.system().lower()}/{platform.machine()}",
            helm_version=self._tools["helm"],
            kustomize_version=self._tools["kustomize"],
            jsonnet_version=self._tools["jsonnet"],
        )


class SettingsService(version_pb2_grpc.SettingsServiceServicer):
    def __init__(self, state: ServerState) -> None:
        self.s = state

    async def Get(self, request: version_pb2.SettingsQuery, context: Context) -> version_pb2.Settings:
        data = self.s.settings()
        settings = version_pb2.Settings(
            url=data.get("url", ""),
            app_label_key="ferrycd.io/instance",
            user_logins_disabled=data.get("admin.enabled", "true").lower() == "false"
            and not any(
                k.startswith("accounts.") and "login" in v for k, v in data.items() if k.count(".") == 1
            ),
            status_badge_enabled=data.get("statusbadge.enabled", "").lower() == "true",
        )
        oidc = self.s.oidc.settings()
        if oidc is not None:
            settings.oidc_config.CopyFrom(
                version_pb2.OIDCConfig(
                    name=oidc.name,
                    issuer=oidc.issuer,
                    client_id=oidc.client_id,
                    cli_client_id=oidc.cli_client_id,
                    scopes=list(oidc.scopes),
                    root_ca=oidc.root_ca,
                    enable_pkce_authentication=oidc.pkce,
                    login_url="/auth/login",
                )
            )
        for connector in dex_connectors(data.get("dex.config", "")) if oidc and oidc.dex else []:
            settings.dex_config.connectors.add(name=connector[0], type=connector[1])
        return settings

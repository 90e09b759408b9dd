"""ferry.v1.ApplicationService: the public API for Applications.

Every RPC authenticates (interceptor), checks RBAC where the object is known, validates its input
(INVALID_ARGUMENT saying what to fix), and maps Kubernetes and repo-server errors to precise
codes. It never applies manifests: a sync is an ``operation`` written on the Application for the
controller to carry out.

Reads of live objects stay inside the app: a resource is read only when it is one of the app's
(its status or its resource tree) and its project permits it on the app's cluster (the per-object
rule the controller applies, ``ferry.projects.resource_refusal``; PERMISSION_DENIED otherwise).
Secret values never leave in clear: every manifest, live object and diff returned goes through
``ferry.engine.secrets``.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import datetime
import json
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import jsonpatch
from google.protobuf import json_format

from ferry import clusters
from ferry.convert import from_k8s, to_k8s
from ferry.engine.actions import (
    ACTIONS_PREFIX,
    ActionError,
    CustomActionSet,
    actions_for,
    custom_actions_from_settings,
    run_action,
)
from ferry.engine.diff import DiffOptions, diff
from ferry.engine.health import HealthChecker, custom_rules_from_settings
from ferry.engine.ignore import IgnoreRuleError, rule_from_spec
from ferry.engine.secrets import hide_one, hide_secret_data, is_secret
from ferry.engine.syncwindows import SyncWindow, destination_of, evaluate, project_windows
from ferry.engine.tracking import ResourceKey, owning_app, with_tracking
from ferry.errors import (
    Aborted,
    AlreadyExists,
    FailedPrecondition,
    FerryError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    from_status,
)
from ferry.interceptors import CALLER, Context, recheck_while_streaming
from ferry.kube.client import KubeClient, Obj
from ferry.kube.errors import Conflict, KubeError, NotFoundError, to_ferry
from ferry.projects import ObjectRefusal, object_refusal
from ferry.selectors import parse as parse_selector
from ferry.settings import (
    APP_API_VERSION,
    REFRESH_ANNOTATION,
    RESOURCES_FINALIZER,
    RESOURCES_FINALIZER_BACKGROUND,
    RESOURCES_FINALIZERS,
    refresh_annotations,
)
from ferry.tree import build_tree, pods_of, tree_key
from ferry.v1 import application_pb2, application_pb2_grpc, repo_pb2, types_pb2
from server import argo
from server.project import check_project, check_sync_windows
from server.sessions import Caller, require
from server.state import ServerState

NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DEFAULT_PAGE = 500
MAX_PAGE = 2000
REFRESH_WAIT_SECONDS = 30.0
# An Application manifest is a few kilobytes; etcd stores nothing above 1.5 MiB anyway.
MAX_MANIFEST_BYTES = 1024 * 1024


def caller() -> Caller:
    who = CALLER.get()
    assert isinstance(who, Caller), "the authentication interceptor sets the caller"
    return who


log = logging.getLogger(__name__)
# The field manager of what resource actions write (kubectl's own actions use "kubectl-rollout").
ACTION_MANAGER = "ferry-server-action"


def app_object(app: Obj) -> str:
    return f"{(app.get('spec') or {}).get('project') or 'default'}/{app['metadata']['name']}"


def _rpc_error(err: grpc.aio.AioRpcError, what: str) -> FerryError:
    """A repo server error, passed on with its code (UNAVAILABLE when it cannot be reached)."""
    return from_status(err.code(), f"{what}: {err.details()}")


class ApplicationService(application_pb2_grpc.ApplicationServiceServicer):
    def __init__(self, state: ServerState) -> None:
        self.s = state
        # name -> ((uid, resourceVersion), message): see _converted
        self._messages: dict[str, tuple[tuple[str, str], types_pb2.Application]] = {}
        # ferry-cm's custom action entries and their compiled scripts: see _custom_actions
        self._actions_memo: tuple[tuple[tuple[str, str], ...], CustomActionSet] | None = None

    # --- helpers -----------------------------------------------------------------------------------

    def _enforce(self, action: str, obj: str, resource: str = "applications") -> None:
        who = caller()
        require(
            self.s.enforcer().enforce(who.subjects, resource, action, obj),
            f"{who.username} cannot {action} {resource} {obj}",
        )

    def _get_checked(self, name: str, action: str = "get") -> Obj:
        """The app, after RBAC. A missing app is NOT_FOUND only for callers who may act on apps of
        that name in every project; anyone else gets PERMISSION_DENIED whether or not it exists,
        so existence does not leak (as in Argo CD)."""
        who = caller()
        enforcer = self.s.enforcer()
        if not name:
            raise InvalidArgument("application name is required")
        app = self.s.apps.get(self.s.namespace, name)
        obj = app_object(app) if app is not None else f"*/{name}"
        allowed = enforcer.enforce(who.subjects, "applications", action, obj)
        if app is None:
            require(allowed, f"{who.username} cannot {action} applications {obj}")
            raise NotFound(f'application "{name}" not found')
        require(allowed, f"{who.username} cannot {action} applications {obj}")
        return app

    def _refusal(self, app: Obj) -> ObjectRefusal:
        """The app's project on the app's cluster, for one object (a missing project permits nothing)."""
        spec = app.get("spec") or {}
        project = self.s.project(spec.get("project") or "default") or {}
        config = self.s.destination(spec)
        return object_refusal(project, server=clusters.server_label(config), cluster_name=config.name)

    def _message(self, app: Obj) -> types_pb2.Application:
        """The app as a message of its own (the caller may change it)."""
        message = types_pb2.Application()
        message.CopyFrom(self._converted(app))
        return message

    def _converted(self, app: Obj) -> types_pb2.Application:
        """The app as a message, converted once per resourceVersion (List converts thousands of
        apps; JSON-to-message conversion is most of its cost). Never change what this returns."""
        meta = app.get("metadata") or {}
        key = (str(meta.get("uid", "")), str(meta.get("resourceVersion", "")))
        name = str(meta.get("name", ""))
        cached = self._messages.get(name)
        if cached is not None and cached[0] == key and key[1]:
            return cached[1]
        message = self._convert(app)
        if key[1]:
            self._messages[name] = (key, message)
            if len(self._messages) > 2 * len(self.s.apps.store) + 100:  # forget deleted apps
                live = {a["metadata"]["name"] for a in self.s.apps.items()}
                self._messages = {n: v for n, v in self._messages.items() if n in live}
        return message

    @staticmethod
    def _convert(app: Obj) -> types_pb2.Application:
        shown = {
            k: v
            for k, v in app.items()
            if k in ("apiVersion", "kind", "metadata", "spec", "status", "operation")
        }
        try:
            return from_k8s(shown, types_pb2.Application)
        except json_format.ParseError as err:
            raise FailedPrecondition(
                f"application {app['metadata'].get('name')!r} is stored in an unreadable form: {err}"
            ) from None

    async def _write(self, method: str, *args: Any, **kwargs: Any) -> Obj:
        for attempt in range(5):
            try:
                result: Obj = await getattr(self.s.kube, method)(*args, **kwargs)
                break
            except Conflict:
                if method != "replace" or attempt == 4:
                    raise Aborted(
                        f"application {args[0]['metadata']['name']!r} kept changing; try again"
                    ) from None
                # The controller wrote status meanwhile: put our spec and metadata on the latest copy.
                wanted = args[0]
                latest = await self.s.kube.get(self.s.app_info, wanted["metadata"]["name"], self.s.namespace)
                latest["spec"] = wanted["spec"]
                for key in ("labels", "annotations", "finalizers"):
                    if key in wanted["metadata"]:
                        latest["metadata"][key] = wanted["metadata"][key]
                args = (latest, *args[1:])
            except KubeError as err:
                raise to_ferry(err, "application") from None
        self.s.apps.wrote(result)  # read-your-writes: this server's reads show it from now on
        return result

    async def _validate(self, app: Obj, *, check_source: bool) -> None:
        """Spec checks the controller would otherwise report only as a condition."""
        name = str(app.get("metadata", {}).get("name", ""))
        if not NAME.fullmatch(name) or len(name) > 253:  # fullmatch: "$" would let a "\n" through
            raise InvalidArgument(
                f"application name {name!r} is invalid: use lower case letters, digits, '-' and '.'"
            )
        spec = app.get("spec") or {}
        source = spec.get("source") or {}
        if not source.get("repoURL"):
            raise InvalidArgument("spec.source.repoURL is required")
        if source.get("chart") and source.get("path"):
            raise InvalidArgument("spec.source: give either chart (Helm repository) or path (Git), not both")
        dest = spec.get("destination") or {}
        if not dest.get("server") and not dest.get("name"):
            raise InvalidArgument("spec.destination needs a server or a name")
        if dest.get("server") and dest.get("name"):
            raise InvalidArgument("spec.destination: give either server or name, not both")
        for index, rule in enumerate(spec.get("ignoreDifferences") or []):
            try:
                rule_from_spec(rule)
            except IgnoreRuleError as err:
                raise InvalidArgument(f"spec.ignoreDifferences[{index}]: {err}") from None
        project_name = spec.get("project") or "default"
        project = self.s.project(project_name)
        if project is None:
            raise InvalidArgument(f"application references project {project_name!r} which does not exist")
        config = self.s.destination(spec)
        check_project(project, spec, cluster_name=config.name)
        if check_source:
            await self._check_source(app)

    async def _check_source(self, app: Obj) -> None:
        spec = app.get("spec") or {}
        source = spec.get("source") or {}
        query = repo_pb2.RepoServerAppDetailsQuery(
            repo=self.s.repo_credentials.for_url(
                str(source.get("repoURL")), str(spec.get("project") or "default")
            ),
            source=from_k8s(source, types_pb2.ApplicationSource),
            app_name=str(app["metadata"]["name"]),
        )
        if source.get("chart"):
            query.repo.type = "helm"
            request = repo_pb2.TestRepositoryRequest(repo=query.repo)
            await self._repo("TestRepository", request, "repository not accessible")
            return
        await self._repo("GetAppDetails", query, "unable to resolve the source")

    async def _repo(self, method: str, request: Any, what: str) -> Any:
        try:
            return await getattr(self.s.repo, method)(
                request, metadata=self.s.repo_tokens.metadata(), timeout=120
            )
        except grpc.aio.AioRpcError as err:
            raise _rpc_error(err, what) from None

    # --- reads -------------------------------------------------------------------------------------

    def _visible(self, query: application_pb2.ApplicationQuery) -> list[Obj]:
        who = caller()
        enforcer = self.s.enforcer()
        in_query = _query_filter(query)
        found = []
        for app in self.s.apps.items():
            spec = app.get("spec") or {}
            dest = spec.get("destination") or {}
            if not in_query(app):
                continue
            if query.repo and (spec.get("source") or {}).get("repoURL", "").rstrip("/") != query.repo.rstrip(
                "/"
            ):
                continue
            if query.dest_server and dest.get("server") != query.dest_server:
                continue
            if query.dest_namespace and dest.get("namespace") != query.dest_namespace:
                continue
            if query.dest_name and dest.get("name") != query.dest_name:
                continue
            if not enforcer.enforce(who.subjects, "applications", "get", app_object(app)):
                continue
            found.append(app)
        return sorted(found, key=lambda a: a["metadata"]["name"])

    async def List(
        self, request: application_pb2.ApplicationQuery, context: Context
    ) -> types_pb2.ApplicationList:
        if request.limit < 0:
            raise InvalidArgument("limit must not be negative")
        apps = self._visible(request)
        limit = min(int(request.limit) or DEFAULT_PAGE, MAX_PAGE)
        start = ""
        if request.continue_token:
            try:
                start = base64.urlsafe_b64decode(request.continue_token.encode()).decode()
            except (ValueError, UnicodeDecodeError):
                raise InvalidArgument("continue token is invalid; start again without it") from None
        if start:
            apps = [a for a in apps if a["metadata"]["name"] > start]
        page, rest = apps[:limit], apps[limit:]
        result = types_pb2.ApplicationList()
        result.items.extend(self._converted(a) for a in page)  # extend copies: the cache stays intact
        result.metadata.resource_version = self.s.apps.resource_version
        if rest:
            result.metadata.continue_token = base64.urlsafe_b64encode(
                page[-1]["metadata"]["name"].encode()
            ).decode()
            result.metadata.remaining_item_count = len(rest)
        return result

    async def Get(self, request: application_pb2.ApplicationQuery, context: Context) -> types_pb2.Application:
        app = self._get_checked(request.name)
        if request.HasField("refresh") and request.refresh:
            if request.refresh not in ("normal", "hard"):
                raise InvalidArgument(f"refresh must be 'normal' or 'hard', not {request.refresh!r}")
            app = await self._refresh(app, request.refresh)
        return self._message(app)

    async def _refresh(self, app: Obj, level: str) -> Obj:
        name = app["metadata"]["name"]
        before = (app.get("status") or {}).get("reconciledAt")
        await self._write(
            "patch",
            self.s.app_info,
            name,
            {"metadata": {"annotations": refresh_annotations(level)}},
            namespace=self.s.namespace,
        )
        deadline = time.monotonic() + REFRESH_WAIT_SECONDS
        while time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            current = self.s.apps.get(self.s.namespace, name)
            if current is None:
                raise NotFound(f'application "{name}" not found')
            annotations = (current.get("metadata") or {}).get("annotations") or {}
            if (
                REFRESH_ANNOTATION not in annotations
                or (current.get("status") or {}).get("reconciledAt") != before
            ):
                return current
        return self.s.apps.get(self.s.namespace, name) or app

    # --- writes ------------------------------------------------------------------------------------

    def _incoming(self, message: types_pb2.Application) -> Obj:
        app = to_k8s(message)
        app["apiVersion"], app["kind"] = APP_API_VERSION, "Application"
        meta = app.setdefault("metadata", {})
        meta["namespace"] = self.s.namespace
        for key in ("uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp"):
            meta.pop(key, None)
        app.pop("status", None)
        app.pop("operation", None)
        spec = app.setdefault("spec", {})
        spec.setdefault("project", "default")
        return app

    async def Create(
        self, request: application_pb2.ApplicationCreateRequest, context: Context
    ) -> types_pb2.Application:
        if request.manifest:
            # nobody who could not create any application makes the server parse a manifest, and
            # nobody makes it parse a large one (review finding 21); the parse runs off the loop
            who = caller()
            require(
                self.s.enforcer().may_act_somewhere(who.subjects, "applications", "create"),
                f"{who.username} cannot create applications",
            )
            size = len(request.manifest.encode())
            if size > MAX_MANIFEST_BYTES:
                raise InvalidArgument(
                    f"manifest is {size} bytes; an Application manifest may have at most {MAX_MANIFEST_BYTES}"
                )
            parsed = await asyncio.to_thread(argo.parse_manifest, request.manifest)
            converted, notes = argo.convert(parsed, self.s.namespace)
            try:
                message = from_k8s(converted, types_pb2.Application)
            except json_format.ParseError as err:
                raise InvalidArgument(f"manifest: {err}") from None
            if notes:
                context.set_trailing_metadata(tuple(("ferry-conversion-notes", note) for note in notes))
        elif request.HasField("application"):
            message = request.application
        else:
            raise InvalidArgument("application (or manifest) is required")
        app = self._incoming(message)
        name = app["metadata"].get("name", "")
        self._enforce("create", f"{app['spec'].get('project') or 'default'}/{name}")
        await self._validate(app, check_source=not request.HasField("validate") or request.validate)
        existing = self.s.apps.get(self.s.namespace, name)
        if existing is not None:
            if existing.get("spec") == app["spec"]:
                return self._message(existing)
            if not request.upsert:
                raise AlreadyExists(
                    f'existing application spec is different; use upsert to replace application "{name}"'
                )
            self._enforce("update", app_object(existing))
            merged = copy.deepcopy(existing)
            merged["spec"] = app["spec"]
            for key in ("labels", "annotations", "finalizers"):
                if key in app["metadata"]:
                    merged["metadata"][key] = app["metadata"][key]
            merged.pop("status", None)
            return self._message(await self._write("replace", merged))
        return self._message(await self._write("create", app))

    async def Update(
        self, request: application_pb2.ApplicationUpdateRequest, context: Context
    ) -> types_pb2.Application:
        if not request.HasField("application"):
            raise InvalidArgument("application is required")
        incoming = self._incoming(request.application)
        current = self._get_checked(incoming["metadata"].get("name", ""), "update")
        if request.project and request.project != ((current.get("spec") or {}).get("project") or "default"):
            raise InvalidArgument(
                f"application is in project {current['spec'].get('project')!r}, not {request.project!r}"
            )
        self._enforce(
            "update", f"{incoming['spec'].get('project') or 'default'}/{incoming['metadata']['name']}"
        )
        await self._validate(incoming, check_source=not request.HasField("validate") or request.validate)
        merged = copy.deepcopy(current)
        merged["spec"] = incoming["spec"]
        for key in ("labels", "annotations", "finalizers"):
            merged["metadata"][key] = (
                incoming["metadata"].get(key) or {}
                if key != "finalizers"
                else incoming["metadata"].get(key, [])
            )
        merged.pop("status", None)
        return self._message(await self._write("replace", merged))

    async def UpdateSpec(
        self, request: application_pb2.ApplicationUpdateSpecRequest, context: Context
    ) -> types_pb2.ApplicationSpec:
        current = self._get_checked(request.name, "update")
        if not request.HasField("spec"):
            raise InvalidArgument("spec is required")
        merged = copy.deepcopy(current)
        merged["spec"] = to_k8s(request.spec)
        merged["spec"].setdefault("project", "default")
        self._enforce("update", app_object(merged))
        await self._validate(merged, check_source=not request.HasField("validate") or request.validate)
        merged.pop("status", None)
        stored = await self._write("replace", merged)
        return from_k8s(stored.get("spec") or {}, types_pb2.ApplicationSpec)

    async def Patch(
        self, request: application_pb2.ApplicationPatchRequest, context: Context
    ) -> types_pb2.Application:
        current = self._get_checked(request.name, "update")
        patch_type = request.patch_type or "json"
        if patch_type not in ("json", "merge"):
            raise InvalidArgument(f"patch type must be 'json' or 'merge', not {patch_type!r}")
        try:
            patch = json.loads(request.patch)
        except json.JSONDecodeError as err:
            raise InvalidArgument(f"patch is not JSON: {err}") from None
        editable = {k: copy.deepcopy(current.get(k)) for k in ("metadata", "spec")}
        try:
            if patch_type == "json":
                patched = jsonpatch.apply_patch(editable, patch)
            else:
                if not isinstance(patch, dict):
                    raise InvalidArgument("a merge patch must be a JSON object")
                patched = _merge_patch(editable, patch)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError) as err:
            raise InvalidArgument(f"patch does not apply: {err}") from None
        if (patched.get("metadata") or {}).get("name") != current["metadata"]["name"]:
            raise InvalidArgument("a patch cannot rename the application")
        checked = from_k8s(patched.get("spec") or {}, types_pb2.ApplicationSpec)
        merged = copy.deepcopy(current)
        merged["spec"] = to_k8s(checked)
        merged["metadata"] = {
            **current["metadata"],
            **{
                k: v
                for k, v in (patched.get("metadata") or {}).items()
                if k in ("labels", "annotations", "finalizers")
            },
        }
        self._enforce("update", app_object(merged))
        await self._validate(merged, check_source=False)
        merged.pop("status", None)
        return self._message(await self._write("replace", merged))

    async def Delete(
        self, request: application_pb2.ApplicationDeleteRequest, context: Context
    ) -> application_pb2.ApplicationResponse:
        app = self._get_checked(request.name, "delete")
        cascade = not request.HasField("cascade") or request.cascade
        policy = (request.propagation_policy or "foreground").lower()
        if policy not in ("foreground", "background"):
            raise InvalidArgument(
                f"propagation policy must be 'foreground' or 'background', not {request.propagation_policy!r}"
            )
        finalizers = [f for f in (app["metadata"].get("finalizers") or []) if f not in RESOURCES_FINALIZERS]
        if cascade:
            finalizers.append(
                RESOURCES_FINALIZER if policy == "foreground" else RESOURCES_FINALIZER_BACKGROUND
            )
        if finalizers != (app["metadata"].get("finalizers") or []):
            await self._write(
                "patch",
                self.s.app_info,
                request.name,
                {"metadata": {"finalizers": finalizers}},
                namespace=self.s.namespace,
            )
        reply: Obj
        try:
            reply = await self.s.kube.delete(
                self.s.app_info, request.name, namespace=self.s.namespace, propagation_policy="Background"
            )
        except NotFoundError:
            reply = {}
        except KubeError as err:
            raise to_ferry(err, "application") from None
        # read-your-writes: an app waiting on its finalizers is shown deleting, one gone is gone
        if (reply.get("metadata") or {}).get("finalizers") and reply.get("kind") == "Application":
            self.s.apps.wrote(reply)
        else:
            self.s.apps.deleted(app)
        return application_pb2.ApplicationResponse()

    # --- operations --------------------------------------------------------------------------------

    def _operation_running(self, app: Obj) -> bool:
        state = (app.get("status") or {}).get("operationState") or {}
        return bool(app.get("operation")) or state.get("phase") in ("Running", "Terminating")

    async def _request(self, app: Obj, sync: dict[str, Any], retry: dict[str, Any] | None = None) -> Obj:
        name = app["metadata"]["name"]
        if self._operation_running(app):
            raise FailedPrecondition(f'another operation is already in progress on application "{name}"')
        check_sync_windows(self.s.project(str((app.get("spec") or {}).get("project") or "default")), app)
        operation: dict[str, Any] = {"sync": sync, "initiatedBy": {"username": caller().username}}
        if retry:
            operation["retry"] = retry
        return await self._write(
            "patch", self.s.app_info, name, {"operation": operation}, namespace=self.s.namespace
        )

    async def Sync(
        self, request: application_pb2.ApplicationSyncRequest, context: Context
    ) -> types_pb2.Application:
        app = self._get_checked(request.name, "sync")
        sync: dict[str, Any] = {
            "revision": request.revision,
            "prune": request.prune,
            "dryRun": request.dry_run,
        }
        if request.resources:
            sync["resources"] = [to_k8s(r) for r in request.resources]
            for resource in sync["resources"]:
                if not resource.get("kind") or not resource.get("name"):
                    raise InvalidArgument("each resource to sync needs a kind and a name")
        if request.sync_options.items:
            for option in request.sync_options.items:
                if "=" not in option:
                    raise InvalidArgument(
                        f"sync option {option!r} must look like Key=Value (e.g. Prune=false)"
                    )
            sync["syncOptions"] = list(request.sync_options.items)
        if request.HasField("strategy"):
            sync["syncStrategy"] = to_k8s(request.strategy)
        if request.manifests:
            raise InvalidArgument("syncing local manifests is not supported; commit them to the repository")
        retry = to_k8s(request.retry_strategy) if request.HasField("retry_strategy") else None
        return self._message(
            await self._request(app, {k: v for k, v in sync.items() if v not in ("", False)}, retry)
        )

    async def Rollback(
        self, request: application_pb2.ApplicationRollbackRequest, context: Context
    ) -> types_pb2.Application:
        app = self._get_checked(request.name, "sync")
        automated = ((app.get("spec") or {}).get("syncPolicy") or {}).get("automated")
        if automated and automated.get("enabled") is not False:
            raise FailedPrecondition(
                "rollback cannot be initiated when auto-sync is enabled; disable it first"
            )
        history = (app.get("status") or {}).get("history") or []
        entry = next((h for h in history if int(h.get("id", -1)) == request.id), None)
        if entry is None:
            ids = ", ".join(str(h.get("id")) for h in history) or "none"
            raise NotFound(f"application {request.name!r} has no history entry {request.id} (entries: {ids})")
        sync = {
            "revision": entry.get("revision", ""),
            "source": entry.get("source") or {},
            "prune": request.prune,
            "dryRun": request.dry_run,
        }
        return self._message(
            await self._request(app, {k: v for k, v in sync.items() if v not in ("", False)})
        )

    async def TerminateOperation(
        self, request: application_pb2.OperationTerminateRequest, context: Context
    ) -> application_pb2.OperationTerminateResponse:
        app = self._get_checked(request.name, "sync")
        state = (app.get("status") or {}).get("operationState") or {}
        if state.get("phase") != "Running":
            raise FailedPrecondition("unable to terminate operation: no operation is in progress")
        await self._write(
            "patch",
            self.s.app_info,
            request.name,
            {"status": {"operationState": {"phase": "Terminating"}}},
            namespace=self.s.namespace,
            subresource="status",
        )
        return application_pb2.OperationTerminateResponse()

    # --- what the app is made of -------------------------------------------------------------------

    async def _manifests(
        self, app: Obj, revision: str = "", *, no_cache: bool = False
    ) -> types_pb2.ManifestResponse:
        spec = app.get("spec") or {}
        source = spec.get("source") or {}
        self.s.destination(spec)  # an unknown destination is INVALID_ARGUMENT before any rendering
        project_name = str(spec.get("project") or "default")
        request = self.s.repo_credentials.scope(
            repo_pb2.ManifestRequest(
                repo=self.s.repo_credentials.for_url(str(source.get("repoURL", "")), project_name),
                application_source=from_k8s(source, types_pb2.ApplicationSource),
                revision=revision or str(source.get("targetRevision") or ""),
                no_cache=no_cache,
                app_name=app["metadata"]["name"],
                namespace=str((spec.get("destination") or {}).get("namespace") or ""),
            ),
            project_name,
            self.s.project(project_name),
        )
        response: types_pb2.ManifestResponse = await self._repo(
            "GenerateManifests", request, "unable to generate manifests"
        )
        return response

    async def GetManifests(
        self, request: application_pb2.ApplicationManifestQuery, context: Context
    ) -> types_pb2.ManifestResponse:
        app = self._get_checked(request.name)
        response = await self._manifests(app, request.revision, no_cache=request.no_cache)
        shown = types_pb2.ManifestResponse()
        shown.CopyFrom(response)
        del shown.manifests[:]
        shown.manifests.extend(_masked_manifest(m) for m in response.manifests)
        return shown

    async def _live(self, client: KubeClient, key: ResourceKey, version: str) -> Obj | None:
        api_version = f"{key.group}/{version}" if key.group else version
        try:
            info = await client.resource(api_version, key.kind)
            return await client.get(info, key.name, key.namespace or None)
        except NotFoundError:
            return None
        except KubeError as err:
            raise to_ferry(err, f"{key.kind}/{key.name}") from None

    async def ManagedResources(
        self, request: application_pb2.ResourcesQuery, context: Context
    ) -> application_pb2.ManagedResourcesResponse:
        app = self._get_checked(request.application_name)
        spec = app.get("spec") or {}
        client = self.s.client_for(self.s.destination(spec))
        manifests = [json.loads(m) for m in (await self._manifests(app)).manifests]
        namespace = str((spec.get("destination") or {}).get("namespace") or "")
        name = app["metadata"]["name"]
        ignore = [rule_from_spec(r) for r in spec.get("ignoreDifferences") or []]
        refusal = self._refusal(app)
        items = []
        seen: set[ResourceKey] = set()
        for manifest in manifests:
            obj = copy.deepcopy(manifest)
            meta = obj.setdefault("metadata", {})
            try:
                info = await client.resource(obj["apiVersion"], obj["kind"])
                namespaced = info.namespaced
            except KubeError:
                namespaced = True
            if namespaced and not meta.get("namespace"):
                meta["namespace"] = namespace
            tracked = with_tracking(obj, name)
            key = ResourceKey.of(tracked)
            seen.add(key)
            if refusal(key, namespaced):  # not permitted: never read, shown without a live state
                items.append(_resource_diff(key, tracked, None, ignore))
                continue
            try:
                live = await self._live(client, key, str(obj["apiVersion"]).rpartition("/")[2])
            except PermissionDenied:
                if key.kind != "Secret" or key.group:
                    raise
                items.append(_unreadable_secret(key, tracked, app))
                continue
            items.append(_resource_diff(key, tracked, live, ignore))
        for resource in (app.get("status") or {}).get("resources") or []:
            key = ResourceKey(
                resource.get("group", ""), resource["kind"], resource.get("namespace", ""), resource["name"]
            )
            if key in seen or not resource.get("requiresPruning") or refusal(key, bool(key.namespace)):
                continue
            live = await self._live(client, key, resource.get("version", "v1"))
            if live is not None and owning_app(live) == name:
                items.append(_resource_diff(key, None, live, ignore))
        wanted = [i for i in items if _matches(i, request)]
        return application_pb2.ManagedResourcesResponse(items=wanted)

    async def ResourceTree(
        self, request: application_pb2.ResourcesQuery, context: Context
    ) -> types_pb2.ApplicationTree:
        app = self._get_checked(request.application_name)
        return from_k8s(await self._tree(app), types_pb2.ApplicationTree)

    async def _compute_tree(self, app: Obj) -> Obj:
        """The tree from live reads, for when the controller published none (no Redis)."""
        spec = app.get("spec") or {}
        client = self.s.client_for(self.s.destination(spec))
        managed = []
        namespaces = set()
        refusal = self._refusal(app)
        for resource in (app.get("status") or {}).get("resources") or []:
            key = ResourceKey(
                resource.get("group", ""), resource["kind"], resource.get("namespace", ""), resource["name"]
            )
            if refusal(key, bool(key.namespace)):
                continue
            try:
                live = await self._live(client, key, resource.get("version", "v1"))
            except PermissionDenied:
                if key.kind != "Secret" or key.group:
                    raise
                # deploy/'s RBAC lets the server read Secrets only where bound: a node without content
                live = {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": key.name, "namespace": key.namespace},
                }
            if live is not None:
                managed.append(live)
                namespaces.add(key.namespace)
        children: list[Obj] = []
        kinds = {str(m.get("kind")) for m in managed}
        wanted = [("apps/v1", "ReplicaSet")] if "Deployment" in kinds else []
        if kinds & {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"}:
            wanted.append(("v1", "Pod"))
        if "CronJob" in kinds:
            wanted.append(("batch/v1", "Job"))
        for api_version, kind in wanted:
            info = await client.resource(api_version, kind)
            for namespace in namespaces - {""}:
                items, _ = await client.list(info, namespace=namespace)
                children += items
        checker = HealthChecker(custom_rules_from_settings(self.s.settings()))
        return build_tree(managed, children, checker)

    async def _tree(self, app: Obj) -> Obj:
        """The app's resource tree: the controller's, else computed from live reads."""
        if self.s.shared_cache is not None:
            published = await self.s.shared_cache.get(tree_key(self.s.namespace, app["metadata"]["name"]))
            if published is not None:
                tree: Obj = json.loads(published)
                return tree
        return await self._compute_tree(app)

    def _permitted(self, app: Obj, key: ResourceKey) -> None:
        """PERMISSION_DENIED for an object the app's project does not permit (finding 4's reads)."""
        why = self._refusal(app)(key, bool(key.namespace))
        if why:
            raise PermissionDenied(f"{key.kind}/{key.name} of application {app['metadata']['name']!r}: {why}")

    def _in_app(self, app: Obj, key: ResourceKey) -> bool:
        for resource in (app.get("status") or {}).get("resources") or []:
            if (
                resource.get("group", ""),
                resource.get("kind"),
                resource.get("namespace", ""),
                resource.get("name"),
            ) == (key.group, key.kind, key.namespace, key.name):
                return True
        return False

    async def GetResource(
        self, request: application_pb2.ApplicationResourceRequest, context: Context
    ) -> application_pb2.ApplicationResourceResponse:
        app = self._get_checked(request.name)
        _, _, live = await self._live_of_app(app, request)
        return application_pb2.ApplicationResourceResponse(manifest=json.dumps(hide_one(live)))

    async def _live_of_app(
        self,
        app: Obj,
        request: application_pb2.ApplicationResourceRequest | application_pb2.ResourceActionRunRequest,
    ) -> tuple[KubeClient, ResourceKey, Obj]:
        """One live object of the app: named by the request, permitted by the project, and a
        resource of the app (its status or its resource tree), else NOT_FOUND."""
        if not request.kind or not request.resource_name:
            raise InvalidArgument("kind and resourceName are required")
        key = ResourceKey(request.group, request.kind, request.namespace, request.resource_name)
        client = self.s.client_for(self.s.destination(app.get("spec") or {}))
        self._permitted(app, key)
        if not self._in_app(app, key):
            tree = await self._compute_tree(app)
            if not any(
                (n["group"], n["kind"], n["namespace"], n["name"])
                == (key.group, key.kind, key.namespace, key.name)
                for n in tree["nodes"]
            ):
                raise NotFound(f"{key.kind}/{key.name} is not a resource of application {request.name!r}")
        live = await self._live(client, key, request.version or "v1")
        if live is None:
            raise NotFound(f"{key.kind}/{key.name} not found in namespace {key.namespace!r}")
        return client, key, live

    def _custom_actions(self) -> CustomActionSet:
        """ferry-cm's custom actions, compiled once per content of their keys; FAILED_PRECONDITION
        naming the key when one is broken (an operator's error, not the caller's)."""
        entries = tuple(sorted((k, v) for k, v in self.s.settings().items() if k.startswith(ACTIONS_PREFIX)))
        if self._actions_memo is None or self._actions_memo[0] != entries:
            try:
                self._actions_memo = (entries, custom_actions_from_settings(dict(entries)))
            except ActionError as err:
                raise FailedPrecondition(str(err)) from None
        return self._actions_memo[1]

    async def ListResourceActions(
        self, request: application_pb2.ApplicationResourceRequest, context: Context
    ) -> application_pb2.ResourceActionsListResponse:
        app = self._get_checked(request.name)
        _, _, live = await self._live_of_app(app, request)
        try:
            found = actions_for(live, self._custom_actions())
        except ActionError as err:
            raise FailedPrecondition(str(err)) from None
        return application_pb2.ResourceActionsListResponse(
            actions=[application_pb2.ResourceAction(name=a.name, disabled=a.disabled) for a in found]
        )

    async def RunResourceAction(
        self, request: application_pb2.ResourceActionRunRequest, context: Context
    ) -> application_pb2.ApplicationResponse:
        """Argo CD's RunResourceAction: RBAC ``action/<group>/<kind>/<action>`` on the app, then
        the action's patch of the live object, or the object it creates (a Job from a CronJob),
        which the app's project must permit like any of the app's objects."""
        app = self._get_checked(request.name)
        if not request.action:
            raise InvalidArgument("action is required")
        self._enforce(f"action/{request.group}/{request.kind}/{request.action}", app_object(app))
        client, key, live = await self._live_of_app(app, request)
        try:
            result = run_action(
                live,
                request.action,
                now=datetime.datetime.now(datetime.UTC),
                suffix=secrets.token_hex(3),
                custom=self._custom_actions(),
            )
        except ActionError as err:
            raise InvalidArgument(str(err)) from None
        try:
            if result.patch is not None:
                info = await client.resource(live["apiVersion"], key.kind)
                await client.patch(
                    info,
                    key.name,
                    result.patch,
                    namespace=key.namespace or None,
                    field_manager=ACTION_MANAGER,
                )
            if result.created is not None:
                created = result.created
                metadata = created.setdefault("metadata", {})
                if not metadata.get("namespace") and key.namespace:
                    metadata["namespace"] = key.namespace
                api_version = str(created.get("apiVersion") or "")
                created_key = ResourceKey(
                    api_version.rpartition("/")[0] if "/" in api_version else "",
                    str(created.get("kind") or ""),
                    str(metadata.get("namespace") or ""),
                    str(metadata.get("name") or ""),
                )
                self._permitted(app, created_key)  # what an action creates is held to the project too
                await client.create(created, field_manager=ACTION_MANAGER)
        except KubeError as err:
            raise to_ferry(err, f"{key.kind}/{key.name}") from None
        log.info(
            "resource action run",
            extra={
                "application": request.name,
                "action": request.action,
                "resource": f"{key.kind}/{key.name}",
            },
        )
        return application_pb2.ApplicationResponse()

    async def ListResourceEvents(
        self, request: application_pb2.ApplicationResourceEventsQuery, context: Context
    ) -> types_pb2.EventList:
        """The app's own events, or those of one object of its resource tree — found there by name,
        namespace (empty: cluster-scoped) and, when given, uid; events are then selected by that
        object's name, namespace and uid, so nothing of another app or tenant can be read
        (review finding 12; Argo CD checks tree membership too)."""
        app = self._get_checked(request.name)
        if request.resource_name or request.resource_uid:
            node = await self._tree_node(app, request)
            client = self.s.client_for(self.s.destination(app.get("spec") or {}))
            namespace = str(node.get("namespace") or "") or None
            selector = (
                f"involvedObject.name={node['name']},involvedObject.namespace={node.get('namespace') or ''}"
            )
            if node.get("uid"):
                selector += f",involvedObject.uid={node['uid']}"
        else:
            client, namespace = self.s.kube, self.s.namespace
            selector = f"involvedObject.name={request.name},involvedObject.kind=Application"
            uid = (app.get("metadata") or {}).get("uid")
            if uid:
                selector += f",involvedObject.uid={uid}"
        info = await client.resource("v1", "Event")
        try:
            items, version = await client.list(info, namespace=namespace, field_selector=selector)
        except KubeError as err:
            raise to_ferry(err, "events") from None
        events = types_pb2.EventList(items=[from_k8s(e, types_pb2.Event) for e in items])
        events.metadata.resource_version = version
        return events

    async def _tree_node(self, app: Obj, request: application_pb2.ApplicationResourceEventsQuery) -> Obj:
        for node in (await self._tree(app))["nodes"]:
            if (
                node.get("name") == request.resource_name
                and (node.get("namespace") or "") == request.resource_namespace
                and (not request.resource_uid or node.get("uid") == request.resource_uid)
            ):
                key = ResourceKey(
                    str(node.get("group") or ""),
                    str(node["kind"]),
                    str(node.get("namespace") or ""),
                    node["name"],
                )
                self._permitted(app, key)
                found: Obj = node
                return found
        where = (
            f"in namespace {request.resource_namespace!r}"
            if request.resource_namespace
            else "(cluster-scoped)"
        )
        what = request.resource_name or request.resource_uid
        raise NotFound(f"{what} {where} is not a resource of application {request.name!r}")

    async def RevisionMetadata(
        self, request: application_pb2.RevisionMetadataQuery, context: Context
    ) -> types_pb2.RevisionMetadata:
        app = self._get_checked(request.name)
        if not request.revision:
            raise InvalidArgument("revision is required")
        spec = app.get("spec") or {}
        source = spec.get("source") or {}
        query = repo_pb2.RepoServerRevisionMetadataRequest(
            repo=self.s.repo_credentials.for_url(
                str(source.get("repoURL", "")), str(spec.get("project") or "default")
            ),
            revision=request.revision,
        )
        metadata: types_pb2.RevisionMetadata = await self._repo(
            "GetRevisionMetadata", query, "revision metadata"
        )
        return metadata

    async def GetApplicationSyncWindows(
        self, request: application_pb2.ApplicationSyncWindowsQuery, context: Context
    ) -> application_pb2.ApplicationSyncWindowsResponse:
        app = self._get_checked(request.name)
        project = self.s.project(str((app.get("spec") or {}).get("project") or "default"))
        entries = project_windows(project)
        state = evaluate(entries, destination_of(app), datetime.datetime.now(datetime.UTC))

        def shown(windows: tuple[SyncWindow, ...]) -> list[types_pb2.SyncWindow]:
            return [from_k8s(dict(entries[w.index]), types_pb2.SyncWindow) for w in windows]

        return application_pb2.ApplicationSyncWindowsResponse(
            active_windows=shown(state.active),
            assigned_windows=shown(state.matching),
            can_sync=state.can_sync(manual=True),
            can_auto_sync=state.can_sync(manual=False),
            next_change=f"{state.next_change:%Y-%m-%dT%H:%M:%SZ}" if state.next_change else "",
            blocked_by="" if state.can_sync(manual=False) else state.reason(manual=False),
        )

    # --- streams -----------------------------------------------------------------------------------

    async def Watch(
        self, request: application_pb2.ApplicationQuery, context: Context
    ) -> AsyncIterator[application_pb2.ApplicationWatchEvent]:
        who = caller()
        in_query = _query_filter(request)
        since = _version(request.resource_version)

        def wanted(app: Obj) -> bool:
            return in_query(app) and self.s.enforcer().enforce(
                who.subjects, "applications", "get", app_object(app)
            )

        if request.name:
            # a watch of one app ends (PERMISSION_DENIED) once its caller may no longer see it;
            # any other watch shows what its caller may see, event by event
            def still_allowed() -> None:
                app = self.s.apps.get(self.s.namespace, request.name)
                if app is not None:
                    self._enforce("get", app_object(app))

            recheck_while_streaming(still_allowed)

        # name -> resourceVersion listed first: the store may be ahead of the events queued behind
        # it (this server's own writes, see ferry.kube.informer), and a watch never goes back
        listed: dict[str, int] = {}
        async with self.s.broadcaster.subscribe() as queue:
            if since is None:
                for app in self._visible(request):
                    listed[app["metadata"]["name"]] = _version(app["metadata"].get("resourceVersion")) or 0
                    yield application_pb2.ApplicationWatchEvent(
                        type="ADDED", application=self._converted(app)
                    )
            while True:
                event = await queue.get()
                version = _version(event.app["metadata"].get("resourceVersion")) or 0
                if since is not None and version <= since:
                    continue
                if version and version <= listed.get(event.app["metadata"]["name"], 0):
                    continue
                if wanted(event.app):
                    yield application_pb2.ApplicationWatchEvent(
                        type=event.type, application=self._converted(event.app)
                    )

    async def PodLogs(
        self, request: application_pb2.ApplicationPodLogsQuery, context: Context
    ) -> AsyncIterator[application_pb2.LogEntry]:
        def allowed() -> Obj:
            app = self._get_checked(request.name)
            self._enforce("get", app_object(app), resource="logs")
            return app

        app = allowed()
        recheck_while_streaming(allowed)  # a followed log ends once its caller may no longer read it
        tree = await self._compute_tree(app)
        try:
            pods = pods_of(
                tree["nodes"],
                group=request.group,
                kind=request.kind or ("Pod" if request.pod_name else ""),
                name=request.resource_name or request.pod_name,
                namespace=request.namespace,
            )
        except KeyError as err:
            raise NotFound(f"{err.args[0]} is not part of application {request.name!r}") from None
        for pod in pods:
            self._permitted(app, ResourceKey("", "Pod", str(pod.get("namespace") or ""), str(pod["name"])))
        client = self.s.client_for(self.s.destination(app.get("spec") or {}))
        params: dict[str, str] = {"timestamps": "true"}
        if request.container:
            params["container"] = request.container
        if request.HasField("tail_lines"):
            params["tailLines"] = str(request.tail_lines)
        if request.since_seconds:
            params["sinceSeconds"] = str(request.since_seconds)
        if request.previous:
            params["previous"] = "true"

        def entry(pod: Obj, line: str) -> application_pb2.LogEntry | None:
            stamp, _, content = line.partition(" ")
            if request.filter and request.filter not in content:
                return None
            return application_pb2.LogEntry(content=content, time_stamp=stamp, pod_name=pod["name"])

        def path(pod: Obj) -> str:
            return f"/api/v1/namespaces/{pod['namespace']}/pods/{pod['name']}/log"

        if request.follow:
            async for item in _follow_logs(client, pods, path, params, entry):
                yield item
            return
        for pod in pods:
            try:
                text = await client.request("GET", path(pod), params=params, kind="Pod")
            except KubeError as err:
                raise to_ferry(err, f"logs of {pod['name']}") from None
            for line in str(text).splitlines():
                found = entry(pod, line)
                if found is not None:
                    yield found
        yield application_pb2.LogEntry(last=True)


async def _follow_logs(
    client: KubeClient,
    pods: list[Obj],
    path: Callable[[Obj], str],
    params: dict[str, str],
    entry: Callable[[Obj, str], application_pb2.LogEntry | None],
) -> AsyncIterator[application_pb2.LogEntry]:
    """Every pod's log followed at once, lines in the order they arrive, until the caller leaves."""
    queue: asyncio.Queue[application_pb2.LogEntry | BaseException | None] = asyncio.Queue(maxsize=1000)

    async def pump(pod: Obj) -> None:
        try:
            async for line in client.stream_lines(path(pod), params={**params, "follow": "true"}, kind="Pod"):
                item = entry(pod, line)
                if item is not None:
                    await queue.put(item)
        except KubeError as err:
            await queue.put(to_ferry(err, f"logs of {pod['name']}"))
        finally:
            await queue.put(None)

    tasks = [asyncio.create_task(pump(pod)) for pod in pods]
    try:
        running = len(tasks)
        while running:
            item = await queue.get()
            if item is None:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        for task in tasks:
            task.cancel()


def _version(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        raise InvalidArgument(f"resourceVersion {value!r} is not a resource version") from None


def _merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


def _masked_manifest(text: str) -> str:
    """A rendered manifest (JSON) as the API shows it: a Secret's values masked."""
    try:
        obj = json.loads(text)
    except ValueError:
        return text
    return json.dumps(hide_one(obj)) if is_secret(obj) else text


def _unreadable_secret(key: ResourceKey, desired: Obj, app: Obj) -> types_pb2.ResourceDiff:
    """A Secret the API server may not read (deploy/'s RBAC: no Secrets outside the control
    namespace unless ferry-server-secret-reader is bound there): whether it differs is the
    controller's verdict in the app's status; its content is not shown."""
    status = next(
        (
            r.get("status")
            for r in (app.get("status") or {}).get("resources") or []
            if (r.get("kind"), r.get("namespace", ""), r.get("name")) == (key.kind, key.namespace, key.name)
        ),
        None,
    )
    return types_pb2.ResourceDiff(
        kind=key.kind,
        namespace=key.namespace,
        name=key.name,
        target_state=json.dumps(hide_one(desired)),
        diff=f"# live state not shown: ferry-server may not read Secrets in namespace {key.namespace}"
        " (bind the ClusterRole ferry-server-secret-reader there to allow it)\n",
        modified=status != "Synced",
    )


def _resource_diff(
    key: ResourceKey, desired: Obj | None, live: Obj | None, ignore: list[Any]
) -> types_pb2.ResourceDiff:
    result = diff(desired, live, options=DiffOptions(ignore=ignore))
    target, shown_live = hide_secret_data(desired, live)  # masked together: equal values look equal
    return types_pb2.ResourceDiff(
        group=key.group,
        kind=key.kind,
        namespace=key.namespace,
        name=key.name,
        target_state=json.dumps(target) if target is not None else "",
        live_state=json.dumps(shown_live) if shown_live is not None else "",
        normalized_live_state=json.dumps(result.normalized_live)
        if result.normalized_live is not None
        else "",
        predicted_live_state=json.dumps(result.predicted_live) if result.predicted_live is not None else "",
        diff=result.diff,
        modified=result.modified,
        resource_version=str(((live or {}).get("metadata") or {}).get("resourceVersion", "")),
    )


def _query_filter(query: application_pb2.ApplicationQuery) -> Callable[[Obj], bool]:
    """What List and Watch both filter an app by: name, projects and label selector."""
    matches = parse_selector(query.selector)
    projects = set(query.projects)
    name = query.name if query.HasField("name") else ""

    def in_query(app: Obj) -> bool:
        if name and app["metadata"]["name"] != name:
            return False
        if projects and ((app.get("spec") or {}).get("project") or "default") not in projects:
            return False
        return bool(matches((app.get("metadata") or {}).get("labels") or {}))

    return in_query


def _matches(item: types_pb2.ResourceDiff, query: application_pb2.ResourcesQuery) -> bool:
    return all(
        not wanted or wanted == actual
        for wanted, actual in (
            (query.namespace, item.namespace),
            (query.name, item.name),
            (query.group, item.group),
            (query.kind, item.kind),
        )
    )

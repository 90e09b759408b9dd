"""The repo server's work: resolve revisions, render sources, and answer from cache whenever the
inputs did not change.

Caching, in order of preference for a request (repo, revision, path, parameters):
1. the manifest cache entry for the resolved commit;
2. per-path reuse: the last render of the same app at an older commit, when the commits between
   them changed none of that render's input paths (beyond Argo CD, which needs a hand-written
   annotation for this) — the entry is copied to the new commit without rendering;
3. a render, limited to ``parallelism`` at a time and to the per-repository share of it
   (``Limits.per_repo_slots``), so one repository's slow renders cannot take every slot (waiting
   requests show in ``ferry_repo_pending_request_total``).
A render that keeps failing for the same commit is not retried on every request: after
``failure_threshold`` failures its error is served from cache with growing backoff. ``no_cache``
(hard refresh) bypasses all of it.

Concurrency: everything runs on one asyncio loop; pygit2 reads and YAML parsing of large
directories run in worker threads with their own Repository handle; tools run as child
processes through ferry.subproc. What one request may cost (files walked, bytes read, output,
Jsonnet time and memory) is bounded by reposerver.limits; rendered objects are measured and
serialized off the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pygit2

from ferry import subproc
from ferry.cache import Cache
from ferry.convert import to_k8s
from ferry.errors import FailedPrecondition, FerryError, InvalidArgument, NotFound, ResourceExhausted
from ferry.redact import strip_userinfo
from ferry.repourl import identity, parse
from ferry.v1 import repo_pb2, types_pb2
from reposerver import metrics
from reposerver.git import Credentials, Mirrors, mirror_key, normalize_url
from reposerver.helmrepo import (
    HelmRepos,
    credential_identity,
    helm_repo_url,
)
from reposerver.limits import (
    DEFAULT_LIMITS,
    Budget,
    Limits,
    PerKeySlots,
    check_document,
    exceeded,
    output_exceeded,
)
from reposerver.render import RenderContext, RenderResult, Tools, minimal_paths
from reposerver.render.dependencies import DependencyAccess
from reposerver.render.directory import render_directory
from reposerver.render.helm import render_helm
from reposerver.render.kustomize import images_in, render_kustomize
from reposerver.render.plugin import Plugins, discover, pack_app, render_plugin
from reposerver.revision import is_full_sha, is_short_sha, resolve_from_refs
from reposerver.source import (
    KUSTOMIZATION_FILES,
    SourceType,
    apply_overrides,
    detect_type,
    explicit_type,
    parse_yaml_document,
)
from reposerver.tree import CommitTree, clean_path

log = logging.getLogger(__name__)

_FAILURE_CACHEABLE = (InvalidArgument, ResourceExhausted, NotFound)
# How often idle mirrors are looked for (they are removed after --mirror-max-idle).
MIRROR_COLLECT_SECONDS = 3600.0


@dataclass(frozen=True)
class GeneratorConfig:
    cache_dir: Path
    parallelism: int = 4
    ref_cache_seconds: float = 60.0
    manifest_ttl_seconds: float = 24 * 3600.0
    failure_threshold: int = 3
    failure_backoff_seconds: float = 30.0
    failure_backoff_max_seconds: float = 600.0
    limits: Limits = DEFAULT_LIMITS
    tools: Tools = field(default_factory=Tools)
    allow_local_repos: bool = False
    # kustomize remote bases: "deny" (default) or "project" (--kustomize-remote-bases)
    kustomize_remote_bases: str = "deny"
    # mirrors unused this long are removed (--mirror-max-idle); 0 keeps them for ever
    mirror_max_idle_seconds: float = 7 * 24 * 3600.0
    # config management plugins' sockets (--plugin-socket-dir); none when None
    plugin_socket_dir: Path | None = None
    plugin_timeout: float = 190.0


def _params_hash(req: repo_pb2.ManifestRequest, plugins: list[str] | None = None) -> str:
    """Everything besides the commit that decides a render's output. ``plugins``: the installed
    plugins' full names (name-version): installing, removing or upgrading one can change which
    plugin renders an app (discovery) and what it renders."""
    source = to_k8s(req.application_source)
    for key in ("repoURL", "targetRevision"):
        source.pop(key, None)
    material = {
        "source": source,
        "namespace": req.namespace,
        "kubeVersion": req.kube_version,
        "apiVersions": list(req.api_versions),
        "app": req.app_name,  # Helm's default release name
        # what dependencies and remote bases may be fetched from, and with which credentials:
        # a render allowed under one project's rules is never served under another's
        "sourceRepos": list(req.source_repos),
        "helmRepos": [
            [identity(r.repo), credential_identity(r), r.name, r.pass_credentials] for r in req.helm_repos
        ],
        "plugins": plugins or [],
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:24]


def _changed_paths(repo: pygit2.Repository, old: str, new: str) -> set[str]:
    old_tree = repo.revparse_single(old).peel(pygit2.Commit).tree
    new_tree = repo.revparse_single(new).peel(pygit2.Commit).tree
    changed: set[str] = set()
    for delta in old_tree.diff_to_tree(new_tree).deltas:
        changed.add(delta.old_file.path)
        changed.add(delta.new_file.path)
    return changed


def touches(changed: set[str], inputs: list[str]) -> bool:
    """Whether any changed file is, or lies under, an input path ("/" is everything)."""
    if "/" in inputs:
        return bool(changed)
    return any(c == p or c.startswith(p + "/") or p == "" for c in changed for p in inputs)


class Generator:
    def __init__(self, config: GeneratorConfig, cache: Cache) -> None:
        self.config = config
        self.cache = cache
        self.mirrors = Mirrors(config.cache_dir / "git", ref_cache_seconds=config.ref_cache_seconds)
        self.helm_repos = HelmRepos(
            config.cache_dir / "helm",
            index_cache_seconds=config.ref_cache_seconds,
            max_index_bytes=config.limits.helm_max_index_bytes,
            max_chart_bytes=config.limits.helm_max_chart_bytes,
        )
        self.plugins = (
            Plugins(config.plugin_socket_dir, timeout=config.plugin_timeout)
            if config.plugin_socket_dir is not None
            else None
        )
        self._slots = asyncio.Semaphore(max(1, config.parallelism))
        self._repo_slots = PerKeySlots(config.limits.per_repo_slots(max(1, config.parallelism)))
        self._render_locks: dict[str, asyncio.Lock] = {}
        # (repo, old, new) -> files changed between the commits: one tree diff serves every app
        # of a monorepo asking about the same pair of commits.
        self._changes: OrderedDict[tuple[str, str, str], asyncio.Future[set[str]]] = OrderedDict()

    async def collect_mirrors(self, *, interval: float = MIRROR_COLLECT_SECONDS) -> None:
        """Removes idle mirrors now and every ``interval`` seconds (a task for the server's life)."""
        if self.config.mirror_max_idle_seconds <= 0:
            return
        while True:
            moved = self.mirrors.collect(self.config.mirror_max_idle_seconds)
            if moved:
                await asyncio.to_thread(Mirrors.remove, moved)
            await asyncio.sleep(interval)

    def _dependency_access(self, req: repo_pb2.ManifestRequest) -> DependencyAccess:
        return DependencyAccess(
            charts=self.helm_repos,
            project=req.project_name,
            source_repos=tuple(req.source_repos),
            helm_repos=tuple(req.helm_repos),
            no_cache=req.no_cache,
        )

    def _require_url(self, repo: types_pb2.Repository) -> str:
        return require_url(repo, allow_local=self.config.allow_local_repos)

    # --- revisions -------------------------------------------------------------------------------

    async def resolve(
        self,
        repo: types_pb2.Repository,
        revision: str,
        *,
        no_cache: bool = False,
        read_after: float | None = None,
    ) -> str:
        """The commit SHA a revision names; NOT_FOUND naming it when it names none. ``no_cache``
        with ``read_after`` (Unix time): references read since then will do (see Mirrors.refs)."""
        url = self._require_url(repo)
        creds = Credentials.from_repository(repo)
        revision = revision.strip()
        if is_full_sha(revision):
            return revision
        refs = await self.mirrors.refs(url, creds, no_cache=no_cache, read_after=read_after)
        sha = resolve_from_refs(revision, refs.refs, refs.head)
        if sha is not None:
            return sha
        if is_short_sha(revision):
            mirror = await self.mirrors.fetch_all(url, creds)
            try:
                return str(mirror.revparse_single(revision).peel(pygit2.Commit).id)
            except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
                pass
        shown = revision or "HEAD"
        raise NotFound(f"revision {shown!r} not found in repository {strip_userinfo(url)}")

    async def commit_tree(self, repo: types_pb2.Repository, sha: str) -> CommitTree:
        url = self._require_url(repo)
        mirror = await self.mirrors.ensure_commit(url, Credentials.from_repository(repo), sha)
        commit = mirror.revparse_single(sha).peel(pygit2.Commit)
        return CommitTree(mirror, commit, Budget(self.config.limits))

    # --- manifests -------------------------------------------------------------------------------

    async def generate(self, req: repo_pb2.ManifestRequest) -> types_pb2.ManifestResponse:
        source = req.application_source
        repo = req.repo if req.repo.repo else types_pb2.Repository(repo=source.repo_url)
        if not repo.repo:
            raise InvalidArgument("source.repoURL is required")
        explicit_type(source)  # two type blocks are refused before any Git work
        if source.chart or repo.type == "helm":
            return await self._generate_chart(req, repo)
        path = clean_path(source.path, what="source.path")
        revision = req.revision or source.target_revision
        sha = await self.resolve(repo, revision, no_cache=req.no_cache)
        # keyed by the credentials that fetched it too: a request without them is never served it
        installed = self.plugins.installed() if self.plugins is not None else None
        params = _params_hash(req, installed)
        key = f"{mirror_key(repo.repo, Credentials.from_repository(repo))}|{path}|{params}"
        if not req.no_cache:
            cached = await self._cached(key, sha, repo)
            if cached is not None:
                return cached
            await self._raise_cached_failure(key, sha)
        metrics.PENDING.labels(normalize_url(repo.repo)).inc()
        try:
            async with self._render_lock(f"{key}|{sha}"):
                if not req.no_cache:  # a concurrent request may have rendered it meanwhile
                    cached = await self._cached(key, sha, repo)
                    if cached is not None:
                        return cached
                async with self._repo_slots.hold(normalize_url(repo.repo)), self._slots:
                    metrics.PENDING.labels(normalize_url(repo.repo)).dec()
                    try:
                        result = await self._render(req, repo, sha, path)
                        manifests = await asyncio.to_thread(_serialize, result, self.config.limits)
                    except _FAILURE_CACHEABLE as err:
                        await self._record_failure(key, sha, err)
                        raise
                    finally:
                        metrics.PENDING.labels(normalize_url(repo.repo)).inc()
        finally:
            metrics.PENDING.labels(normalize_url(repo.repo)).dec()
        response = types_pb2.ManifestResponse(
            manifests=manifests,
            namespace=req.namespace,
            revision=sha,
            source_type=str(result.source_type),
            input_paths=sorted(minimal_paths(result.input_paths)),
        )
        await self._store(key, sha, response)
        return response

    @contextlib.asynccontextmanager
    async def _render_lock(self, key: str) -> AsyncIterator[None]:
        lock = self._render_locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                yield
        finally:
            if not lock.locked() and self._render_locks.get(key) is lock:
                self._render_locks.pop(key, None)

    async def _cached(
        self, key: str, sha: str, repo: types_pb2.Repository
    ) -> types_pb2.ManifestResponse | None:
        data = await self.cache.get(f"mfst|{key}|{sha}")
        if data is not None:
            metrics.CACHE_REQUESTS.labels("hit").inc()
            return types_pb2.ManifestResponse.FromString(data)
        latest = await self.cache.get(f"mfst-latest|{key}")
        if latest is not None:
            previous_sha = latest.decode()
            previous = await self.cache.get(f"mfst|{key}|{previous_sha}")
            if previous is not None and previous_sha != sha:
                response = types_pb2.ManifestResponse.FromString(previous)
                changed = await self._changed_between(repo, previous_sha, sha)
                if not touches(changed, list(response.input_paths)):
                    metrics.CACHE_REQUESTS.labels("reuse").inc()
                    response.revision = sha
                    await self._store(key, sha, response)
                    return response
        metrics.CACHE_REQUESTS.labels("miss").inc()
        return None

    async def _changed_between(self, repo: types_pb2.Repository, old: str, new: str) -> set[str]:
        key = (mirror_key(repo.repo, Credentials.from_repository(repo)), old, new)
        future = self._changes.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._changes[key] = future
            while len(self._changes) > 256:
                self._changes.popitem(last=False)
            try:
                tree = await self.commit_tree(repo, new)
                future.set_result(await asyncio.to_thread(_changed_paths, tree.repo, old, new))
            except BaseException as err:
                self._changes.pop(key, None)
                future.set_exception(err)
                future.exception()  # retrieved here; waiters get it below
                raise
        return await asyncio.shield(future)

    async def _store(self, key: str, sha: str, response: types_pb2.ManifestResponse) -> None:
        ttl = self.config.manifest_ttl_seconds
        await self.cache.set(f"mfst|{key}|{sha}", response.SerializeToString(), ttl)
        await self.cache.set(f"mfst-latest|{key}", sha.encode(), ttl)
        await self.cache.delete(f"mfst-err|{key}|{sha}")

    async def _record_failure(self, key: str, sha: str, err: FerryError) -> None:
        entry_key = f"mfst-err|{key}|{sha}"
        raw = await self.cache.get(entry_key)
        failures = (json.loads(raw)["failures"] if raw else 0) + 1
        excess = failures - self.config.failure_threshold
        backoff = 0.0
        if excess >= 0:
            backoff = min(
                self.config.failure_backoff_seconds * (2**excess), self.config.failure_backoff_max_seconds
            )
        entry = {
            "failures": failures,
            "until": time.time() + backoff,
            "type": type(err).__name__,
            "message": err.message,
        }
        await self.cache.set(entry_key, json.dumps(entry).encode(), self.config.manifest_ttl_seconds)

    async def _raise_cached_failure(self, key: str, sha: str) -> None:
        raw = await self.cache.get(f"mfst-err|{key}|{sha}")
        if raw is None:
            return
        entry = json.loads(raw)
        if entry["failures"] >= self.config.failure_threshold and time.time() < entry["until"]:
            error_type = {e.__name__: e for e in _FAILURE_CACHEABLE}.get(entry["type"], InvalidArgument)
            retry = int(entry["until"] - time.time()) + 1
            raise error_type(
                f"{entry['message']} (cached after {entry['failures']} failures; retried in {retry}s "
                "or on a hard refresh)"
            )

    async def _render(
        self, req: repo_pb2.ManifestRequest, repo: types_pb2.Repository, sha: str, path: str
    ) -> RenderResult:
        tree = await self.commit_tree(repo, sha)
        if not tree.is_dir(path):
            raise NotFound(
                f"path {path or '/'!r} does not exist in {strip_userinfo(repo.repo)} at {sha[:12]}"
            )
        source, _ = apply_overrides(tree, path, req.application_source, req.app_name)
        explicit = explicit_type(source)
        source_type = explicit or detect_type(tree, path)
        ctx = RenderContext(
            tree=tree,
            path=path,
            source=source,
            app_name=req.app_name,
            namespace=req.namespace,
            kube_version=req.kube_version,
            api_versions=tuple(req.api_versions),
            dependencies=self._dependency_access(req),
            remote_bases=self.config.kustomize_remote_bases,
            tools=self.config.tools,
            limits=self.config.limits,
        )
        # as in Argo CD, an app without an explicit type goes to a plugin whose discover rule
        # matches before the built-in detection applies
        discovering = explicit is None and self.plugins is not None and bool(self.plugins.installed())
        if source_type is SourceType.PLUGIN or discovering:
            rendered = await self._render_plugin(ctx, required=source_type is SourceType.PLUGIN)
            if rendered is not None:
                return rendered
        start = time.monotonic()
        metrics.RENDERS.labels(str(source_type)).inc()
        try:
            if source_type is SourceType.HELM:
                return await render_helm(ctx)
            if source_type is SourceType.KUSTOMIZE:
                return await render_kustomize(ctx)
            return await render_directory(ctx)
        except subproc.ToolTimeout as err:
            # the same content times out again: cached like any other limit, not retried at once
            raise exceeded(
                f"{err.tool} ({source_type} render of {path or '/'})", err.timeout, "exec-timeout", unit="s"
            ) from None
        finally:
            metrics.RENDER_SECONDS.labels(str(source_type)).observe(time.monotonic() - start)

    async def _render_plugin(self, ctx: RenderContext, *, required: bool) -> RenderResult | None:
        """A plugin source (``required``), or an app a plugin's discover rule may claim (None when
        none does: the built-in renderers take it)."""
        app = pack_app(ctx)
        name = ctx.source.plugin.name
        if not name and self.plugins is not None:
            name = await discover(self.plugins, app) or ""
        if not name:
            if required:
                shown = ", ".join(self.plugins.installed()) if self.plugins is not None else ""
                raise FailedPrecondition(
                    f"no config management plugin matches the app at {ctx.path or '/'!r}: give "
                    f"source.plugin.name or install a plugin whose discover rule fits (installed: "
                    f"{shown or 'none'})"
                )
            return None
        start = time.monotonic()
        metrics.RENDERS.labels(str(SourceType.PLUGIN)).inc()
        try:
            return await render_plugin(ctx, self.plugins, name, app)
        finally:
            metrics.RENDER_SECONDS.labels(str(SourceType.PLUGIN)).observe(time.monotonic() - start)

    async def _generate_chart(
        self, req: repo_pb2.ManifestRequest, repo: types_pb2.Repository
    ) -> types_pb2.ManifestResponse:
        source = req.application_source
        if not source.chart:
            raise InvalidArgument(f"{strip_userinfo(repo.repo)} is a Helm repository: set source.chart")
        entry = await self.helm_repos.resolve(
            repo, source.chart, req.revision or source.target_revision, no_cache=req.no_cache
        )
        version = str(entry.get("version"))
        repo_key = f"{identity(repo.repo)}|{credential_identity(repo)}"
        key = f"{repo_key}|chart:{source.chart}|{_params_hash(req)}"
        if not req.no_cache:
            data = await self.cache.get(f"mfst|{key}|{version}")
            if data is not None:
                metrics.CACHE_REQUESTS.labels("hit").inc()
                return types_pb2.ManifestResponse.FromString(data)
            metrics.CACHE_REQUESTS.labels("miss").inc()
        archive = await self.helm_repos.archive(repo, entry)
        ctx = RenderContext(
            tree=None,  # type: ignore[arg-type]  # charts from a Helm repository have no Git tree
            path="",
            source=source,
            app_name=req.app_name,
            namespace=req.namespace,
            kube_version=req.kube_version,
            api_versions=tuple(req.api_versions),
            tools=self.config.tools,
            limits=self.config.limits,
        )
        async with self._repo_slots.hold(normalize_url(repo.repo)), self._slots:
            metrics.RENDERS.labels(str(SourceType.HELM)).inc()
            try:
                result = await render_helm(ctx, chart_archive=archive)
            except subproc.ToolTimeout as err:
                raise exceeded(
                    f"{err.tool} (chart {source.chart})", err.timeout, "exec-timeout", unit="s"
                ) from None
            manifests = await asyncio.to_thread(_serialize, result, self.config.limits)
        response = types_pb2.ManifestResponse(
            manifests=manifests,
            namespace=req.namespace,
            revision=version,
            source_type=str(SourceType.HELM),
        )
        await self.cache.set(
            f"mfst|{key}|{version}", response.SerializeToString(), self.config.manifest_ttl_seconds
        )
        return response

    # --- other questions about a repository ------------------------------------------------------

    async def list_refs(self, repo: types_pb2.Repository, *, no_cache: bool) -> repo_pb2.Refs:
        refs = await self.mirrors.refs(
            self._require_url(repo), Credentials.from_repository(repo), no_cache=no_cache
        )
        branches = sorted(r.removeprefix("refs/heads/") for r in refs.refs if r.startswith("refs/heads/"))
        tags = sorted(r.removeprefix("refs/tags/") for r in refs.refs if r.startswith("refs/tags/"))
        return repo_pb2.Refs(branches=branches, tags=tags)

    async def test_repository(self, repo: types_pb2.Repository) -> None:
        if repo.type == "helm":
            await self.helm_repos.index(repo, no_cache=True)
        else:
            await self.mirrors.refs(self._require_url(repo), Credentials.from_repository(repo), no_cache=True)

    async def revision_metadata(
        self, repo: types_pb2.Repository, revision: str
    ) -> types_pb2.RevisionMetadata:
        sha = await self.resolve(repo, revision)
        tree = await self.commit_tree(repo, sha)
        commit = tree.commit
        offset = datetime.timezone(datetime.timedelta(minutes=commit.author.offset))
        date = datetime.datetime.fromtimestamp(commit.author.time, offset).astimezone(datetime.UTC)
        refs = await self.mirrors.refs(self._require_url(repo), Credentials.from_repository(repo))
        tags = sorted(
            r.removeprefix("refs/tags/")
            for r, s in refs.refs.items()
            if r.startswith("refs/tags/") and s == sha
        )
        return types_pb2.RevisionMetadata(
            author=f"{commit.author.name} <{commit.author.email}>",
            date=date.strftime("%Y-%m-%dT%H:%M:%SZ"),
            message=commit.message,
            tags=tags,
        )

    async def list_apps(self, repo: types_pb2.Repository, revision: str) -> dict[str, str]:
        sha = await self.resolve(repo, revision)
        tree = await self.commit_tree(repo, sha)
        return await asyncio.to_thread(_discover_apps, tree)

    async def app_details(self, query: repo_pb2.RepoServerAppDetailsQuery) -> repo_pb2.RepoAppDetailsResponse:
        source = query.source
        if source.chart:
            helm_repo_url(query.repo if query.repo.repo else types_pb2.Repository(repo=source.repo_url))
            return repo_pb2.RepoAppDetailsResponse(
                type=str(SourceType.HELM), helm=repo_pb2.HelmAppSpec(name=source.chart)
            )
        repo = query.repo if query.repo.repo else types_pb2.Repository(repo=source.repo_url)
        sha = await self.resolve(repo, source.target_revision, no_cache=query.no_cache)
        tree = await self.commit_tree(repo, sha)
        path = clean_path(source.path, what="source.path")
        if not tree.is_dir(path):
            raise NotFound(
                f"path {path or '/'!r} does not exist in {strip_userinfo(repo.repo)} at {sha[:12]}"
            )
        source_type = explicit_type(source) or detect_type(tree, path)
        response = repo_pb2.RepoAppDetailsResponse(type=str(source_type))
        if source_type is SourceType.HELM:
            names = tree.listdir(path)
            values_path = f"{path}/values.yaml" if path else "values.yaml"
            values = tree.read(values_path).decode() if "values.yaml" in names else ""
            parsed = parse_yaml_document(values.encode(), values_path, limits=self.config.limits)
            response.helm.CopyFrom(
                repo_pb2.HelmAppSpec(
                    name=path.rsplit("/", 1)[-1],
                    value_files=[
                        n for n in names if n.startswith("values") and n.endswith((".yaml", ".yml"))
                    ],
                    values=values,
                    parameters=[types_pb2.HelmParameter(name=k, value=v) for k, v in _flatten(parsed or {})],
                )
            )
        elif source_type is SourceType.KUSTOMIZE:
            req = repo_pb2.ManifestRequest(
                repo=repo, application_source=source, revision=sha, app_name=query.app_name
            )
            manifests = [json.loads(m) for m in (await self.generate(req)).manifests]
            response.kustomize.CopyFrom(repo_pb2.KustomizeAppSpec(images=images_in(manifests)))
        elif source_type is SourceType.DIRECTORY:
            response.directory.CopyFrom(repo_pb2.DirectoryAppSpec())
        return response


def require_url(repo: types_pb2.Repository, *, allow_local: bool) -> str:
    """The Git repository URL of a request, once ferry.repourl parses it; local paths and
    ``file://`` are refused (they read the repo server's disk, other tenants' mirrors included)
    unless ``allow_local`` (--allow-local-repos, for development) allows ``file://``."""
    if not repo.repo:
        raise InvalidArgument("repository URL is required")
    parsed = parse(repo.repo)
    if parsed.kind == "local":
        raise InvalidArgument(
            f"repository URL {strip_userinfo(repo.repo)!r} is a local path: local paths and file:// "
            "are not allowed as repository URLs (use https://, ssh://, git:// or git@host:path)"
        )
    if parsed.kind == "file" and not allow_local:
        raise InvalidArgument(
            f"repository URL {strip_userinfo(repo.repo)!r} uses file://: local paths and file:// are not "
            "allowed as repository URLs (the repo server allows file:// only with --allow-local-repos, "
            "for development)"
        )
    return repo.repo


def _flatten(values: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(values, dict):
        return [item for k, v in values.items() for item in _flatten(v, f"{prefix}{k}.")]
    if isinstance(values, list):
        return [item for i, v in enumerate(values) for item in _flatten(v, f"{prefix[:-1]}[{i}].")]
    return [
        (
            prefix[:-1],
            "" if values is None else str(values).lower() if isinstance(values, bool) else str(values),
        )
    ]


def _serialize(result: RenderResult, limits: Limits) -> list[str]:
    """The rendered objects as JSON, each measured first (a renderer's aliases or nesting are
    refused before they are expanded) and all together within the output limit."""
    manifests: list[str] = []
    total = 0
    for index, obj in enumerate(result.manifests):
        kind = obj.get("kind", "object") if isinstance(obj, dict) else "object"
        check_document(obj, f"rendered {kind} #{index + 1}", limits)
        text = json.dumps(obj, separators=(",", ":"))
        total += len(text)
        if total > limits.max_manifest_output_size:
            raise output_exceeded(f"the rendered manifests ({total} bytes after {index + 1} objects)", limits)
        manifests.append(text)
    return manifests


def _discover_apps(tree: CommitTree) -> dict[str, str]:
    """Helm and Kustomize apps of a commit; every directory entry is charged to the budget."""
    apps: dict[str, str] = {}
    pending: list[tuple[str, pygit2.Object]] = [("", tree.commit.tree)]
    while pending:
        directory, node = pending.pop()
        assert isinstance(node, pygit2.Tree)
        children = tree.children(directory, node)
        names = {child.rsplit("/", 1)[-1] for child, _ in children}
        if "Chart.yaml" in names:
            apps[directory or "."] = str(SourceType.HELM)
            continue  # a chart's templates are not apps of their own
        if names & set(KUSTOMIZATION_FILES):
            apps[directory or "."] = str(SourceType.KUSTOMIZE)
        for child, obj in children:
            if not child.rsplit("/", 1)[-1].startswith(".") and isinstance(obj, pygit2.Tree):
                pending.append((child, obj))
    return apps

"""An asyncio Kubernetes client that speaks plain dicts.

Why not the official client's models: parsing into model classes is ~10x slower than JSON dicts
and ferry compares and stores objects as dicts anyway. This client does exactly what ferry needs:
discovery, get/list (paged)/watch (resumable, bookmarks, 410 surfaced as ``Gone``),
server-side apply (optionally dry-run), create/replace/patch/delete, a QPS/burst rate limit, and
typed errors. Every request carries ``user_agent`` so the API server's audit log can attribute it.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp

from ferry.kube.config import ClusterConfig
from ferry.kube.errors import KubeError, NotFoundError, Unreachable, from_response

Obj = dict[str, Any]
RequestObserver = Callable[[str, str, int, bool], None]  # (verb, kind, status, dry_run)


@dataclass(frozen=True)
class ResourceInfo:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    verbs: frozenset[str]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(
        self, namespace: str | None = None, name: str | None = None, subresource: str | None = None
    ) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        if name:
            base += f"/{quote(name, safe='')}"
        if subresource:
            base += f"/{subresource}"
        return base


def split_api_version(api_version: str) -> tuple[str, str]:
    if "/" in api_version:
        group, version = api_version.split("/", 1)
        return group, version
    return "", api_version


class _RateLimiter:
    """Token bucket: ``qps`` tokens per second, at most ``burst`` saved up."""

    def __init__(self, qps: float, burst: int) -> None:
        self.qps, self.burst = qps, max(1, burst)
        self._tokens = float(self.burst)
        self._updated = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        if self.qps <= 0:
            return
        async with self._lock:
            while True:
                now = time.monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.qps)
                self._updated = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.qps)


def _ssl_context(config: ClusterConfig) -> ssl.SSLContext | bool:
    if not config.server.startswith("https"):
        return False
    if config.insecure:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context = ssl.create_default_context(cadata=config.ca_data.decode() if config.ca_data else None)
    if config.cert_data and config.key_data:
        with tempfile.TemporaryDirectory(prefix="ferry-kube-") as tmp:
            cert, key = Path(tmp) / "client.crt", Path(tmp) / "client.key"
            cert.write_bytes(config.cert_data)
            key.write_bytes(config.key_data)
            key.chmod(0o600)
            context.load_cert_chain(str(cert), str(key))
    return context


class KubeClient:
    def __init__(
        self,
        config: ClusterConfig,
        *,
        user_agent: str,
        qps: float = 50.0,
        burst: int = 100,
        timeout: float = 30.0,
        observer: RequestObserver | None = None,
    ) -> None:
        self.config = config
        self.user_agent = user_agent
        self.timeout = timeout
        self._limiter = _RateLimiter(qps, burst)
        self._session: aiohttp.ClientSession | None = None
        self._ssl = _ssl_context(config)
        self._resources: dict[tuple[str, str], ResourceInfo] = {}
        self._discovered_at = 0.0
        self._discovery_lock = asyncio.Lock()
        self._observer = observer

    @property
    def server(self) -> str:
        return self.config.server

    def _headers(self, content_type: str | None = None) -> dict[str, str]:
        headers = {"User-Agent": self.user_agent, "Accept": "application/json"}
        if self.config.token:
            headers["Authorization"] = f"Bearer {self.config.token}"
        if self.config.impersonate:
            headers["Impersonate-User"] = self.config.impersonate
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=self._ssl, limit=64)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
        content_type: str | None = None,
        timeout: float | None = None,
        kind: str = "",
    ) -> Any:
        """One request; JSON in and out. Raises a KubeError subclass on any failure."""
        await self._limiter.acquire()
        data = None
        if body is not None:
            data = body if isinstance(body, bytes | str) else json.dumps(body)
            content_type = content_type or "application/json"
        dry_run = bool(params and params.get("dryRun"))
        status = 0
        try:
            async with self._client().request(
                method,
                self.config.server + path,
                params=params,
                data=data,
                headers=self._headers(content_type),
                timeout=aiohttp.ClientTimeout(total=timeout or self.timeout),
            ) as resp:
                status = resp.status
                raw = await resp.read()
        except (aiohttp.ClientError, TimeoutError, OSError, ssl.SSLError) as err:
            if self._observer:
                self._observer(method, kind, 0, dry_run)
            raise Unreachable(f"{self.config.server}: {type(err).__name__}: {err}") from None
        if self._observer:
            self._observer(method, kind, status, dry_run)
        parsed = _parsed(raw)
        if status >= 400:
            raise from_response(status, parsed)
        return parsed

    # --- discovery ---------------------------------------------------------------------------------

    async def discover(self, *, force: bool = False) -> dict[tuple[str, str], ResourceInfo]:
        """Every served (group, kind) at its preferred version; cached until forced."""
        async with self._discovery_lock:
            if self._resources and not force:
                return self._resources
            found: dict[tuple[str, str], ResourceInfo] = {}
            core = await self.request("GET", "/api/v1", kind="discovery")
            self._add(found, "", "v1", core)
            groups = await self.request("GET", "/apis", kind="discovery")
            versions = [
                (g["name"], g["preferredVersion"]["version"])
                for g in groups.get("groups", [])
                if g.get("preferredVersion")
            ]
            results = await asyncio.gather(
                *(self.request("GET", f"/apis/{g}/{v}", kind="discovery") for g, v in versions),
                return_exceptions=True,
            )
            for (group, version), result in zip(versions, results, strict=True):
                if isinstance(result, dict):
                    self._add(found, group, version, result)
            self._resources = found
            self._discovered_at = time.monotonic()
            return found

    @staticmethod
    def _add(
        found: dict[tuple[str, str], ResourceInfo], group: str, version: str, listing: dict[str, Any]
    ) -> None:
        for res in listing.get("resources", []):
            if "/" in res["name"]:
                continue  # subresources
            found[(group, res["kind"])] = ResourceInfo(
                group,
                version,
                res["kind"],
                res["name"],
                bool(res.get("namespaced")),
                frozenset(res.get("verbs", [])),
            )

    async def resource(self, api_version: str, kind: str) -> ResourceInfo:
        """The resource serving ``kind`` of ``api_version``'s group (version as requested)."""
        group, version = split_api_version(api_version)
        resources = await self.discover()
        info = resources.get((group, kind))
        if info is None and time.monotonic() - self._discovered_at > 2:
            info = (await self.discover(force=True)).get((group, kind))
        if info is None:
            raise NotFoundError(
                f'the server does not serve kind "{kind}" in group "{group or "core"}"', status=404
            )
        if info.version != version:
            return ResourceInfo(info.group, version, info.kind, info.plural, info.namespaced, info.verbs)
        return info

    # --- reads -------------------------------------------------------------------------------------

    async def get(self, info: ResourceInfo, name: str, namespace: str | None = None) -> Obj:
        result: Obj = await self.request("GET", info.path(namespace, name), kind=info.kind)
        return result

    async def list(
        self,
        info: ResourceInfo,
        *,
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
        page_size: int = 500,
    ) -> tuple[list[Obj], str]:
        """Every item (fetched in pages of ``page_size``) and the list's resourceVersion."""
        items: list[Obj] = []
        params: dict[str, str] = {"limit": str(page_size)}
        if label_selector:
            params["labelSelector"] = label_selector
        if field_selector:
            params["fieldSelector"] = field_selector
        while True:
            page = await self.request("GET", info.path(namespace), params=params, kind=info.kind)
            for item in page.get("items", []):
                item.setdefault("apiVersion", info.api_version)
                item.setdefault("kind", info.kind)
                items.append(item)
            token = page.get("metadata", {}).get("continue")
            if not token:
                return items, str(page.get("metadata", {}).get("resourceVersion", ""))
            params["continue"] = token

    async def watch(
        self,
        info: ResourceInfo,
        *,
        resource_version: str,
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
        timeout_seconds: int = 300,
        on_open: Callable[[], None] | None = None,
    ) -> AsyncIterator[Obj]:
        """Watch events ({type, object}) from ``resource_version``, bookmarks included. A 410
        (expired resourceVersion) raises ``Gone``; the caller relists. ``on_open`` is called once
        the API server accepted the watch (before any event)."""
        await self._limiter.acquire()
        params = {
            "watch": "1",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
        }
        if label_selector:
            params["labelSelector"] = label_selector
        if field_selector:  # also what lets RBAC limited to resourceNames authorize the watch
            params["fieldSelector"] = field_selector
        try:
            async with self._client().get(
                self.config.server + info.path(namespace),
                params=params,
                headers=self._headers(),
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=self.timeout, sock_read=timeout_seconds + 30
                ),
            ) as resp:
                if self._observer:
                    self._observer("WATCH", info.kind, resp.status, False)
                if resp.status >= 400:
                    raise from_response(resp.status, _parsed(await resp.read()))
                if on_open is not None:
                    on_open()
                buffer = b""
                async for chunk in resp.content.iter_any():
                    buffer += chunk
                    while b"\n" in buffer:
                        line, buffer = buffer.split(b"\n", 1)
                        if not line.strip():
                            continue
                        event = json.loads(line)
                        if event.get("type") == "ERROR":
                            status = event.get("object", {})
                            raise from_response(int(status.get("code", 500)), status)
                        yield event
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            raise Unreachable(
                f"{self.config.server}: watch {info.plural}: {type(err).__name__}: {err}"
            ) from None

    async def stream_lines(
        self, path: str, *, params: dict[str, str] | None = None, kind: str = ""
    ) -> AsyncIterator[str]:
        """A text response line by line as it arrives (``follow`` pod logs); no read timeout."""
        await self._limiter.acquire()
        try:
            async with self._client().get(
                self.config.server + path,
                params=params,
                headers=self._headers(),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.timeout),
            ) as resp:
                if self._observer:
                    self._observer("GET", kind, resp.status, False)
                if resp.status >= 400:
                    raise from_response(resp.status, _parsed(await resp.read()))
                async for line in resp.content:
                    yield line.decode(errors="replace").rstrip("\n")
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            raise Unreachable(f"{self.config.server}: {path}: {type(err).__name__}: {err}") from None

    # --- writes ------------------------------------------------------------------------------------

    async def apply(
        self,
        obj: Obj,
        *,
        field_manager: str,
        force: bool = True,
        dry_run: bool = False,
        field_validation: str = "",
    ) -> Obj:
        """Server-side apply of ``obj`` (its apiVersion, kind, namespace and name say where).
        ``field_validation``: Strict, Warn or Ignore (unknown fields); empty: the server's default."""
        info = await self.resource(obj["apiVersion"], obj["kind"])
        meta = obj.get("metadata") or {}
        params = {"fieldManager": field_manager}
        if force:
            params["force"] = "true"
        if dry_run:
            params["dryRun"] = "All"
        if field_validation:
            params["fieldValidation"] = field_validation
        result: Obj = await self.request(
            "PATCH",
            info.path(meta.get("namespace"), meta["name"]),
            params=params,
            body=json.dumps(obj),
            content_type="application/apply-patch+yaml",
            kind=info.kind,
        )
        return result

    async def create(
        self, obj: Obj, *, dry_run: bool = False, field_manager: str = "", field_validation: str = ""
    ) -> Obj:
        info = await self.resource(obj["apiVersion"], obj["kind"])
        params = {"dryRun": "All"} if dry_run else {}
        if field_manager:
            params["fieldManager"] = field_manager
        if field_validation:
            params["fieldValidation"] = field_validation
        result: Obj = await self.request(
            "POST",
            info.path((obj.get("metadata") or {}).get("namespace")),
            params=params,
            body=obj,
            kind=info.kind,
        )
        return result

    async def replace(
        self,
        obj: Obj,
        *,
        dry_run: bool = False,
        field_manager: str = "",
        subresource: str = "",
        field_validation: str = "",
    ) -> Obj:
        info = await self.resource(obj["apiVersion"], obj["kind"])
        meta = obj.get("metadata") or {}
        params = {"dryRun": "All"} if dry_run else {}
        if field_manager:
            params["fieldManager"] = field_manager
        if field_validation:
            params["fieldValidation"] = field_validation
        result: Obj = await self.request(
            "PUT",
            info.path(meta.get("namespace"), meta["name"], subresource or None),
            params=params,
            body=obj,
            kind=info.kind,
        )
        return result

    async def patch(
        self,
        info: ResourceInfo,
        name: str,
        patch: Any,
        *,
        namespace: str | None = None,
        patch_type: str = "merge",
        subresource: str = "",
        field_manager: str = "",
        dry_run: bool = False,
        field_validation: str = "",
    ) -> Obj:
        content_type = {
            "merge": "application/merge-patch+json",
            "json": "application/json-patch+json",
            "strategic": "application/strategic-merge-patch+json",
        }[patch_type]
        params = {"fieldManager": field_manager} if field_manager else {}
        if dry_run:
            params["dryRun"] = "All"
        if field_validation:
            params["fieldValidation"] = field_validation
        result: Obj = await self.request(
            "PATCH",
            info.path(namespace, name, subresource or None),
            params=params or None,
            body=patch,
            content_type=content_type,
            kind=info.kind,
        )
        return result

    async def delete(
        self,
        info: ResourceInfo,
        name: str,
        *,
        namespace: str | None = None,
        propagation_policy: str = "Foreground",
    ) -> Obj:
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation_policy}
        result: Obj = await self.request("DELETE", info.path(namespace, name), body=body, kind=info.kind)
        return result

    async def server_version(self) -> str:
        version = await self.request("GET", "/version", kind="version")
        return str(version.get("gitVersion", ""))


def _parsed(raw: bytes) -> Any:
    """A response body: its JSON, {} when empty, or its text when it is not JSON (a proxy's page)."""
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        return raw.decode(errors="replace")


__all__ = ["KubeClient", "KubeError", "Obj", "ResourceInfo", "split_api_version"]

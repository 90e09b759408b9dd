"""Helm chart repositories: ``index.yaml`` over HTTP(S) with the repository's credentials, chart
versions resolved like Argo CD (exact version or semver constraint), chart archives cached on
disk by repository, chart and version."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ferry.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied, Unavailable
from ferry.redact import strip_userinfo
from ferry.v1 import types_pb2
from reposerver import metrics
from reposerver.revision import best_tag, parse_constraint

HTTP_TIMEOUT = 60.0


def _request(url: str, repo: types_pb2.Repository) -> bytes:
    req = urllib.request.Request(url, headers={"User-Agent": "ferry-reposerver"})  # noqa: S310 (http(s) checked)
    if repo.bearer_token:
        req.add_header("Authorization", f"Bearer {repo.bearer_token}")
    elif repo.username or repo.password:
        token = base64.b64encode(f"{repo.username}:{repo.password}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    context = ssl.create_default_context(cadata=repo.ca_data or None)
    if repo.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    safe = strip_userinfo(url)
    try:
        with urllib.request.urlopen(req, context=context, timeout=HTTP_TIMEOUT) as resp:  # noqa: S310
            return bytes(resp.read())
    except urllib.error.HTTPError as err:
        if err.code in (401, 403):
            raise PermissionDenied(f"Helm repository {safe}: access denied (HTTP {err.code})") from None
        if err.code == 404:
            raise NotFound(f"Helm repository {safe}: not found (HTTP 404)") from None
        raise Unavailable(f"Helm repository {safe}: HTTP {err.code}") from None
    except ssl.SSLError as err:
        raise FailedPrecondition(f"Helm repository {safe}: TLS certificate not trusted: {err}") from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        if isinstance(reason, ssl.SSLError):
            raise FailedPrecondition(
                f"Helm repository {safe}: TLS certificate not trusted: {reason}"
            ) from None
        raise Unavailable(f"Helm repository {safe} unreachable: {reason}") from None


@dataclass
class HelmRepos:
    root: Path
    index_cache_seconds: float = 60.0
    _indexes: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)

    async def index(self, repo: types_pb2.Repository, *, no_cache: bool = False) -> dict[str, Any]:
        url = repo.repo.rstrip("/")
        cached = self._indexes.get(url)
        if cached and not no_cache and time.monotonic() - cached[0] < self.index_cache_seconds:
            return cached[1]
        metrics.GIT_REQUESTS.labels(strip_userinfo(url), "helm-index").inc()
        data = await asyncio.to_thread(_request, f"{url}/index.yaml", repo)
        index = yaml.safe_load(data) or {}
        if not isinstance(index, dict) or not isinstance(index.get("entries"), dict):
            raise Unavailable(f"Helm repository {strip_userinfo(url)}: index.yaml has no entries")
        self._indexes[url] = (time.monotonic(), index)
        return index

    async def resolve(
        self, repo: types_pb2.Repository, chart: str, version: str, *, no_cache: bool
    ) -> dict[str, Any]:
        """The index entry of ``chart`` matching ``version`` (exact, constraint, or latest when empty)."""
        index = await self.index(repo, no_cache=no_cache)
        entries = index["entries"].get(chart)
        if not entries:
            raise NotFound(f"chart {chart!r} not found in Helm repository {strip_userinfo(repo.repo)}")
        by_version = {str(e.get("version")): e for e in entries}
        if version in by_version:
            return dict(by_version[version])
        constraint = parse_constraint(version or "*")
        if constraint is None:
            raise NotFound(f"chart {chart!r} has no version {version!r} in {strip_userinfo(repo.repo)}")
        best = best_tag(list(by_version), constraint)
        if best is None:
            raise NotFound(
                f"no version of chart {chart!r} satisfies {version!r} in {strip_userinfo(repo.repo)}"
            )
        return dict(by_version[best])

    async def archive(self, repo: types_pb2.Repository, entry: dict[str, Any]) -> Path:
        """The chart archive of an index entry, downloaded once and cached."""
        urls = entry.get("urls") or []
        if not urls:
            raise Unavailable(f"chart {entry.get('name')!r} {entry.get('version')!r} has no download URL")
        url = urllib.parse.urljoin(repo.repo.rstrip("/") + "/", str(urls[0]))
        if not url.startswith(("http://", "https://")):
            raise InvalidArgument(f"chart URL {strip_userinfo(url)!r} is not http(s)")
        key = hashlib.sha256(
            f"{strip_userinfo(repo.repo)}|{entry.get('name')}|{entry.get('version')}".encode()
        )
        path = self.root / f"{key.hexdigest()[:32]}.tgz"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            data = await asyncio.to_thread(_request, url, repo)
            tmp = path.with_suffix(".part")
            tmp.write_bytes(data)
            tmp.replace(path)
        return path

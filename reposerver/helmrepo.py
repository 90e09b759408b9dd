"""Helm chart repositories: ``index.yaml`` over HTTP(S) with the repository's credentials, chart
versions resolved like Argo CD (exact version or semver constraint), chart archives cached on
disk by repository, credentials, chart, version and digest.

Where credentials go (Helm's own rule since CVE-2021-32690): the repository's Authorization is
sent only to the scheme, host and port of the registered repository URL, unless the repository
has ``passCredentials``; it is never sent after a redirect to another scheme, host or port, even
with ``passCredentials``. Only http and https are fetched (no ``file://``, ``ftp://``, ``data:``).
Responses are read up to a size limit (``max_index_bytes``, ``max_chart_bytes``).

Caches: the parsed index is kept ``index_cache_seconds`` under the repository's identity *and*
the identity of the credentials that fetched it; archives on disk likewise, and an archive is
checked against the index entry's ``digest`` when it is downloaded and whenever it is reused.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import http.client
import json
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ferry.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unavailable,
)
from ferry.redact import strip_userinfo
from ferry.repourl import BadRepoURL, parse, same_origin
from ferry.v1 import types_pb2
from reposerver import metrics
from reposerver.limits import DEFAULT_LIMITS
from reposerver.revision import best_tag, parse_constraint

HTTP_TIMEOUT = 60.0
MAX_REDIRECTS = 5
_CHUNK = 1024 * 1024


def credential_identity(repo: types_pb2.Repository) -> str:
    """A digest of the credentials in ``repo`` ("anonymous" without any): cache entries fetched
    with one set of credentials are never served to a request with another, or with none."""
    material = [
        repo.username,
        repo.password,
        repo.bearer_token,
        repo.ssh_private_key,
        repo.tls_client_cert_data,
        repo.tls_client_cert_key,
    ]
    if not any(material):
        return "anonymous"
    return hashlib.sha256(json.dumps(material).encode()).hexdigest()[:24]


def helm_repo_url(repo: types_pb2.Repository) -> str:
    """The repository's URL once checked: http(s), parsed by ferry.repourl (no query or fragment,
    no dot segments), else INVALID_ARGUMENT saying so."""
    url = repo.repo.strip().rstrip("/")
    try:
        parsed = parse(url)
    except BadRepoURL as err:
        raise InvalidArgument(f"Helm {err.message}") from None
    if parsed.scheme not in ("http", "https") or parsed.kind != "network":
        raise InvalidArgument(
            f"Helm repository URL {strip_userinfo(url)!r} is not http:// or https:// "
            "(ferry fetches Helm repositories over HTTP(S) only)"
        )
    if parsed.username or parsed.password:
        raise InvalidArgument(
            f"Helm repository URL {strip_userinfo(url)!r} has credentials in it: store them in the "
            "repository's username and password instead"
        )
    return url


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are followed by ``_request`` itself, one hop at a time, so every hop is checked."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _authorization(repo: types_pb2.Repository) -> str | None:
    if repo.bearer_token:
        return f"Bearer {repo.bearer_token}"
    if repo.username or repo.password:
        token = base64.b64encode(f"{repo.username}:{repo.password}".encode()).decode()
        return f"Basic {token}"
    return None


def _read_limited(resp: http.client.HTTPResponse, limit: int, what: str, flag: str) -> bytes:
    length = resp.headers.get("Content-Length")
    if length and length.isdigit() and int(length) > limit:
        raise ResourceExhausted(f"{what} is {int(length)} bytes, over the limit of {limit} bytes ({flag})")
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = resp.read(_CHUNK)
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > limit:
            raise ResourceExhausted(f"{what} is over the limit of {limit} bytes ({flag})")
        chunks.append(chunk)


def _request(url: str, repo: types_pb2.Repository, *, base: str, limit: int, what: str, flag: str) -> bytes:
    """GET ``url`` with the repository's credentials when ``url`` has ``base``'s origin (or the
    repository passes credentials), following up to MAX_REDIRECTS http(s) redirects; a redirect
    to another origin drops the credentials."""
    context = ssl.create_default_context(cadata=repo.ca_data or None)
    if repo.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.HTTPHandler(),
        urllib.request.HTTPSHandler(context=context),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
        _NoRedirect(),
    ):
        opener.add_handler(handler)
    authorization = _authorization(repo)
    send_credentials = authorization is not None and (repo.pass_credentials or same_origin(url, base))
    safe = strip_userinfo(url)
    for _ in range(MAX_REDIRECTS + 1):
        if urllib.parse.urlsplit(url).scheme.lower() not in ("http", "https"):
            raise InvalidArgument(f"{what}: {strip_userinfo(url)!r} is not an http(s) URL")
        headers = {"User-Agent": "ferry-reposerver"}
        if send_credentials and authorization:
            headers["Authorization"] = authorization
        req = urllib.request.Request(url, headers=headers)  # noqa: S310 (scheme checked above)
        try:
            with opener.open(req, timeout=HTTP_TIMEOUT) as resp:
                return _read_limited(resp, limit, what, flag)
        except urllib.error.HTTPError as err:
            if err.code in (301, 302, 303, 307, 308) and err.headers.get("Location"):
                target = urllib.parse.urljoin(url, err.headers["Location"])
                if not same_origin(target, url):
                    send_credentials = False  # never forwarded to another host, even with passCredentials
                url = target
                continue
            if err.code in (401, 403):
                raise PermissionDenied(f"{what}: access denied (HTTP {err.code})") from None
            if err.code == 404:
                raise NotFound(f"{what}: not found (HTTP 404)") from None
            raise Unavailable(f"{what}: HTTP {err.code}") from None
        except ssl.SSLError as err:
            raise FailedPrecondition(f"{what}: TLS certificate not trusted: {err}") from None
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            if isinstance(reason, ssl.SSLError):
                raise FailedPrecondition(f"{what}: TLS certificate not trusted: {reason}") from None
            raise Unavailable(f"{what} unreachable ({safe}): {reason}") from None
    raise Unavailable(f"{what}: more than {MAX_REDIRECTS} redirects")


@dataclass
class HelmRepos:
    root: Path
    index_cache_seconds: float = 60.0
    max_index_bytes: int = DEFAULT_LIMITS.helm_max_index_bytes
    max_chart_bytes: int = DEFAULT_LIMITS.helm_max_chart_bytes
    _indexes: dict[tuple[str, str], tuple[float, dict[str, Any]]] = field(default_factory=dict)

    @staticmethod
    def _key(repo: types_pb2.Repository) -> tuple[str, str]:
        return parse(helm_repo_url(repo)).identity(), credential_identity(repo)

    async def index(self, repo: types_pb2.Repository, *, no_cache: bool = False) -> dict[str, Any]:
        url = helm_repo_url(repo)
        key = self._key(repo)
        cached = self._indexes.get(key)
        if cached and not no_cache and time.monotonic() - cached[0] < self.index_cache_seconds:
            return cached[1]
        metrics.GIT_REQUESTS.labels(strip_userinfo(url), "helm-index").inc()
        data = await asyncio.to_thread(
            _request,
            f"{url}/index.yaml",
            repo,
            base=url,
            limit=self.max_index_bytes,
            what=f"Helm repository {strip_userinfo(url)} index.yaml",
            flag="--helm-max-index-bytes",
        )
        try:
            index = yaml.safe_load(data) or {}
        except yaml.YAMLError as err:
            raise Unavailable(
                f"Helm repository {strip_userinfo(url)}: index.yaml is not YAML: {err}"
            ) from None
        if not isinstance(index, dict) or not isinstance(index.get("entries"), dict):
            raise Unavailable(f"Helm repository {strip_userinfo(url)}: index.yaml has no entries")
        self._indexes[key] = (time.monotonic(), index)
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
        """The chart archive of an index entry, downloaded once per repository, credentials and
        digest, and checked against the entry's ``digest`` (sha256) when the index gives one."""
        base = helm_repo_url(repo)
        name, version = entry.get("name"), entry.get("version")
        urls = entry.get("urls") or []
        if not urls:
            raise Unavailable(f"chart {name!r} {version!r} has no download URL")
        url = urllib.parse.urljoin(base + "/", str(urls[0]))
        if urllib.parse.urlsplit(url).scheme.lower() not in ("http", "https"):
            raise InvalidArgument(f"chart {name!r} {version!r}: URL {strip_userinfo(url)!r} is not http(s)")
        digest = str(entry.get("digest") or "").lower()
        identity, creds = self._key(repo)
        key = hashlib.sha256(f"{identity}|{creds}|{name}|{version}|{digest}|{url}".encode())
        path = self.root / f"{key.hexdigest()[:32]}.tgz"
        if path.exists():
            if not digest or hashlib.sha256(path.read_bytes()).hexdigest() == digest:
                return path
            path.unlink(missing_ok=True)  # altered on disk: fetch it again
        path.parent.mkdir(parents=True, exist_ok=True)
        data = await asyncio.to_thread(
            _request,
            url,
            repo,
            base=base,
            limit=self.max_chart_bytes,
            what=f"chart {name!r} {version!r} from {strip_userinfo(url)}",
            flag="--helm-max-chart-bytes",
        )
        if digest and hashlib.sha256(data).hexdigest() != digest:
            raise FailedPrecondition(
                f"chart {name!r} {version!r} from {strip_userinfo(url)}: archive sha256 "
                f"{hashlib.sha256(data).hexdigest()} does not match the index digest {digest}"
            )
        tmp = path.with_suffix(f".{time.monotonic_ns()}.part")
        tmp.write_bytes(data)
        tmp.replace(path)
        return path

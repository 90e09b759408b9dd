"""Repository credentials from Secrets labelled ``ferrycd.io/secret-type: repository`` (one
repository, matched by URL) or ``repo-creds`` (a template matched by URL prefix on path-segment
boundaries, the longest wins), scoped to one AppProject when ``project`` is set, with Argo CD's
key names: url, type, name, username, password, sshPrivateKey, insecure, tlsClientCertData,
tlsClientCertKey, bearerToken, project, passCredentials — plus ferry's caData and knownHosts.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import Any

from ferry.kube.informer import Informer
from ferry.projects import source_repos
from ferry.repourl import try_parse
from ferry.settings import SECRET_TYPE_LABEL
from ferry.v1 import repo_pb2, types_pb2

SELECTOR = f"{SECRET_TYPE_LABEL} in (repository,repo-creds)"


def repository_from_secret(data: Mapping[str, str], url: str) -> types_pb2.Repository:
    def field(key: str) -> str:
        raw = data.get(key)
        return base64.b64decode(raw).decode() if raw else ""

    return types_pb2.Repository(
        repo=url,
        type=field("type") or "git",
        name=field("name"),
        username=field("username"),
        password=field("password"),
        ssh_private_key=field("sshPrivateKey"),
        insecure=field("insecure").lower() == "true",
        tls_client_cert_data=field("tlsClientCertData"),
        tls_client_cert_key=field("tlsClientCertKey"),
        bearer_token=field("bearerToken"),
        ca_data=field("caData"),
        known_hosts=field("knownHosts"),
        project=field("project"),
        pass_credentials=field("passCredentials").lower() == "true",
    )


def lookup(secrets: Iterable[Mapping[str, Any]], url: str, project: str | None) -> types_pb2.Repository:
    """The repository with the credentials stored for ``url`` as an app of ``project`` may use
    them; without credentials when none apply.

    Matching is on the parsed URL (ferry.repourl): a ``repository`` Secret matches the same
    identity (scheme, host, effective port, path without ``.git``); a ``repo-creds`` template
    matches the same scheme, host and port and a path that starts with the template's path
    segments, the longest template winning. A URL that does not parse gets no credentials.

    Project scoping (Argo CD >= 2.12): a Secret with ``project`` is used only for apps of that
    project; among matches, one scoped to the app's project wins over an unscoped one.
    ``project=None`` (a repository API call that names no project) uses unscoped Secrets only."""
    wanted = try_parse(url)
    if wanted is None:
        return types_pb2.Repository(repo=url)
    # (rank, data): exact repository beats template; scoped beats unscoped; longer template wins
    best: tuple[tuple[int, int, int], Mapping[str, str]] | None = None
    for secret in secrets:
        labels = (secret.get("metadata") or {}).get("labels") or {}
        data = secret.get("data") or {}
        raw_url = data.get("url")
        if not raw_url:
            continue
        stored = try_parse(base64.b64decode(raw_url).decode())
        if stored is None:
            continue
        raw_project = data.get("project")
        scope = base64.b64decode(raw_project).decode() if raw_project else ""
        if scope and scope != project:
            continue  # another project's credentials (or a call without a project)
        kind = labels.get(SECRET_TYPE_LABEL)
        if kind == "repository" and stored.identity() == wanted.identity():
            rank = (2, 1 if scope else 0, 0)
        elif kind == "repo-creds" and wanted.matches_prefix(stored):
            rank = (1, len(stored.repo_segments), 1 if scope else 0)
        else:
            continue
        if best is None or rank > best[0]:
            best = (rank, data)
    return repository_from_secret(best[1], url) if best else types_pb2.Repository(repo=url)


def helm_repositories(secrets: Iterable[Mapping[str, Any]], project: str) -> list[types_pb2.Repository]:
    """Every Helm repository and Helm repo-creds template an app of ``project`` may use (scoped
    to it or unscoped), with credentials: what a chart's dependencies are fetched with. A Secret
    scoped to the project replaces an unscoped one for the same URL."""
    found: dict[str, tuple[bool, types_pb2.Repository]] = {}
    for secret in secrets:
        labels = (secret.get("metadata") or {}).get("labels") or {}
        if labels.get(SECRET_TYPE_LABEL) not in ("repository", "repo-creds"):
            continue
        data = secret.get("data") or {}
        raw_url = data.get("url")
        if not raw_url:
            continue
        url = base64.b64decode(raw_url).decode()
        repo = repository_from_secret(data, url)
        if repo.type != "helm" or (repo.project and repo.project != project):
            continue
        parsed = try_parse(url)
        if parsed is None:
            continue
        scoped = bool(repo.project)
        key = parsed.identity()
        if key not in found or (scoped and not found[key][0]):
            found[key] = (scoped, repo)
    return [repo for _, repo in sorted(found.values(), key=lambda entry: entry[1].repo)]


class RepoCredentials:
    def __init__(self, secrets: Informer) -> None:
        self.secrets = secrets

    def for_url(self, url: str, project: str | None) -> types_pb2.Repository:
        """``lookup`` over the informer's Secrets; ``project`` is the app's project (None for a
        repository API call that names none: unscoped credentials only)."""
        return lookup(self.secrets.items(), url, project)

    def helm_repos(self, project: str) -> list[types_pb2.Repository]:
        """``helm_repositories`` over the informer's Secrets."""
        return helm_repositories(self.secrets.items(), project)

    def scope(
        self, request: repo_pb2.ManifestRequest, project_name: str, project: Mapping[str, Any] | None
    ) -> repo_pb2.ManifestRequest:
        """``request`` with what its app's project lets a render fetch besides the app's source:
        the project's Helm repositories (credentials for chart dependencies) and its
        ``sourceRepos`` (which dependencies and remote bases are allowed at all)."""
        request.project_name = project_name
        request.helm_repos.extend(self.helm_repos(project_name))
        request.source_repos.extend(source_repos(project or {}))
        return request

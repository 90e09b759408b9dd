"""Repository credentials from Secrets labelled ``ferrycd.io/secret-type: repository`` (one
repository, matched by URL) or ``repo-creds`` (a template matched by URL prefix, the longest
wins), with Argo CD's key names: url, type, name, username, password, sshPrivateKey, insecure,
tlsClientCertData, tlsClientCertKey, bearerToken, project — plus ferry's caData and knownHosts.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

from ferry.kube.informer import Informer
from ferry.repourl import normalize
from ferry.settings import SECRET_TYPE_LABEL
from ferry.v1 import types_pb2

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
    )


class RepoCredentials:
    def __init__(self, secrets: Informer) -> None:
        self.secrets = secrets

    def for_url(self, url: str) -> types_pb2.Repository:
        """The repository with the credentials stored for it (exact URL first, then the longest
        matching template); without credentials when none match."""
        wanted = normalize(url)
        best: tuple[int, types_pb2.Repository] | None = None
        for secret in self.secrets.items():
            labels = (secret.get("metadata") or {}).get("labels") or {}
            data = secret.get("data") or {}
            stored = base64.b64decode(data.get("url", "")).decode() if data.get("url") else ""
            if not stored:
                continue
            kind = labels.get(SECRET_TYPE_LABEL)
            if kind == "repository" and normalize(stored) == wanted:
                return repository_from_secret(data, url)
            if kind == "repo-creds" and wanted.startswith(normalize(stored)):
                length = len(normalize(stored))
                if best is None or length > best[0]:
                    best = (length, repository_from_secret(data, url))
        return best[1] if best else types_pb2.Repository(repo=url)

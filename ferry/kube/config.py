"""How to reach a cluster: from a kubeconfig file, from inside a Pod, or from a ferry cluster
Secret (Argo CD's format: ``server``, ``name``, ``config`` JSON with ``bearerToken`` and
``tlsClientConfig{caData, certData, keyData, insecure}``)."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

IN_CLUSTER_SERVER = "https://kubernetes.default.svc"
_SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class ClusterConfig:
    server: str
    token: str = ""
    ca_data: bytes = b""
    cert_data: bytes = b""
    key_data: bytes = b""
    insecure: bool = False
    name: str = ""
    namespaces: tuple[str, ...] = ()  # non-empty: the cluster is limited to these namespaces
    # a user to act as (Kubernetes impersonation: the Impersonate-User header), e.g.
    # system:serviceaccount:team:deployer for a sync with impersonation
    impersonate: str = ""

    @staticmethod
    def from_kubeconfig(path: str | Path, context: str | None = None) -> ClusterConfig:
        config = yaml.safe_load(Path(path).read_text()) or {}
        ctx_name = context or config.get("current-context")
        contexts = {c["name"]: c["context"] for c in config.get("contexts") or []}
        if ctx_name not in contexts:
            raise ConfigError(f"context {ctx_name!r} not found in {path}")
        ctx = contexts[ctx_name]
        clusters = {c["name"]: c["cluster"] for c in config.get("clusters") or []}
        users = {u["name"]: u.get("user") or {} for u in config.get("users") or []}
        cluster = clusters.get(ctx.get("cluster"))
        if cluster is None:
            raise ConfigError(f"cluster of context {ctx_name!r} not found in {path}")
        user = users.get(ctx.get("user"), {})
        base = Path(path).parent

        def data(inline_key: str, file_key: str, source: Mapping[str, Any]) -> bytes:
            if source.get(inline_key):
                return base64.b64decode(str(source[inline_key]))
            if source.get(file_key):
                return (base / str(source[file_key])).read_bytes()
            return b""

        token = user.get("token", "")
        if not token and user.get("tokenFile"):
            token = (base / user["tokenFile"]).read_text().strip()
        return ClusterConfig(
            server=str(cluster["server"]).rstrip("/"),
            token=token,
            ca_data=data("certificate-authority-data", "certificate-authority", cluster),
            cert_data=data("client-certificate-data", "client-certificate", user),
            key_data=data("client-key-data", "client-key", user),
            insecure=bool(cluster.get("insecure-skip-tls-verify")),
            name=str(ctx_name),
        )

    @staticmethod
    def in_cluster() -> ClusterConfig:
        host, port = (
            os.environ.get("KUBERNETES_SERVICE_HOST"),
            os.environ.get("KUBERNETES_SERVICE_PORT", "443"),
        )
        if not host or not (_SA_DIR / "token").exists():
            raise ConfigError("not running in a Pod with a service account: give --kubeconfig")
        return ClusterConfig(
            server=f"https://{host}:{port}",
            token=(_SA_DIR / "token").read_text().strip(),
            ca_data=(_SA_DIR / "ca.crt").read_bytes(),
            name="in-cluster",
        )

    @staticmethod
    def from_secret(data: Mapping[str, str]) -> ClusterConfig:
        """From a cluster Secret's base64 ``data`` (keys server, name, namespaces, config)."""

        def field(key: str) -> str:
            raw = data.get(key)
            return base64.b64decode(raw).decode() if raw else ""

        server = field("server").rstrip("/")
        if not server:
            raise ConfigError("cluster secret has no server")
        try:
            config = json.loads(field("config") or "{}")
        except json.JSONDecodeError as err:
            raise ConfigError(f"cluster secret for {server}: config is not JSON: {err}") from None
        tls = config.get("tlsClientConfig") or {}
        return ClusterConfig(
            server=server,
            token=str(config.get("bearerToken", "")),
            ca_data=base64.b64decode(tls["caData"]) if tls.get("caData") else b"",
            cert_data=base64.b64decode(tls["certData"]) if tls.get("certData") else b"",
            key_data=base64.b64decode(tls["keyData"]) if tls.get("keyData") else b"",
            insecure=bool(tls.get("insecure")),
            name=field("name") or server,
            namespaces=tuple(n.strip() for n in field("namespaces").split(",") if n.strip()),
        )

    def secrets(self) -> list[str]:
        return [s for s in (self.token, self.key_data.decode(errors="ignore")) if s]

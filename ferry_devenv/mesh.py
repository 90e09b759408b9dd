"""The mesh of the development environment and of tests: the repo server's TLS certificate (and
Redis's), written to files, and the environment variables that hand them — or explicit
plaintext — to ferry's processes (every flag has a ``FERRY_<COMPONENT>_<FLAG>`` variable)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ferry import pki

# What a process started without a mesh gets: plaintext, said explicitly (nothing defaults to it).
PLAINTEXT_ENV = {
    "FERRY_REPOSERVER_DISABLE_TLS": "true",
    "FERRY_CONTROLLER_REPO_SERVER_PLAINTEXT": "true",
    "FERRY_SERVER_REPO_SERVER_PLAINTEXT": "true",
}
LOOPBACK = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class CertFiles:
    cert: Path
    key: Path
    ca: Path


def write_certificate(directory: Path, name: str, hosts: tuple[str, ...] = LOOPBACK) -> CertFiles:
    """``name``'s certificate for ``hosts``, its key (mode 0600) and its CA, under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    made = pki.component_certificate(name, hosts)
    files = CertFiles(directory / f"{name}.crt", directory / f"{name}.key", directory / f"{name}-ca.crt")
    files.cert.write_bytes(made.cert_pem)
    files.key.touch(mode=0o600)
    files.key.write_bytes(made.key_pem)
    os.chmod(files.key, 0o600)
    files.ca.write_bytes(made.ca_pem)
    return files


@dataclass(frozen=True)
class Mesh:
    """TLS for the repo server, and Redis's password and TLS certificate, as every component is
    told of them."""

    reposerver: CertFiles
    redis: CertFiles | None = None  # when Redis serves TLS
    redis_password: str = ""

    @staticmethod
    def create(directory: Path, *, redis_tls: bool = False, redis_password: str = "") -> Mesh:
        return Mesh(
            write_certificate(directory, "ferry-reposerver"),
            write_certificate(directory, "ferry-redis") if redis_tls else None,
            redis_password,
        )

    def env(self) -> dict[str, str]:
        env = {
            "FERRY_REPOSERVER_TLS_CERT_FILE": str(self.reposerver.cert),
            "FERRY_REPOSERVER_TLS_KEY_FILE": str(self.reposerver.key),
            "FERRY_CONTROLLER_REPO_SERVER_CA_FILE": str(self.reposerver.ca),
            "FERRY_SERVER_REPO_SERVER_CA_FILE": str(self.reposerver.ca),
        }
        if self.redis is not None:
            for component in ("REPOSERVER", "CONTROLLER", "SERVER"):
                env[f"FERRY_{component}_REDIS_CA_FILE"] = str(self.redis.ca)
        if self.redis_password:
            env["FERRY_REDIS_PASSWORD"] = self.redis_password
        return env

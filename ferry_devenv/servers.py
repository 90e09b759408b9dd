"""Git servers (git daemon, smart HTTP with basic auth and optional TLS, sshd with key auth), a
static HTTP server for Helm chart repositories, and redis-server (with a password, optionally
TLS) — each on a free loopback port, each its own process.
"""

from __future__ import annotations

import getpass
import os
import secrets
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path

from ferry import pki
from ferry_devenv.mesh import CertFiles
from ferry_devenv.process import ManagedProcess, free_port, new_workdir, port_open

# The checkout ferry_devenv lives in (it is never installed, so children import it from here).
CHECKOUT = Path(__file__).resolve().parent.parent


class PortServer:
    """A process serving one port (in a private work dir, removed on stop); subclasses build the
    argv and may prepare the work dir before ``start``."""

    name = "server"

    def __init__(self) -> None:
        self.port = free_port()
        self.workdir = new_workdir(self.name)
        self._proc: ManagedProcess | None = None

    def _argv(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> PortServer:
        # from the checkout's root: ferry_devenv is not an installed package (`python -m` finds it there)
        self._proc = ManagedProcess(
            self.name, self._argv(), log_path=self.workdir / f"{self.name}.log", cwd=CHECKOUT
        )
        self._proc.start()
        try:
            self._proc.wait_until(lambda: port_open(self.port), timeout=30, what=f"port {self.port}")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.stop()
            self._proc = None
        shutil.rmtree(self.workdir, ignore_errors=True)

    def pause(self) -> None:
        """Stops the process but keeps its state; ``resume`` serves again on the same port."""
        if self._proc is not None:
            self._proc.stop()

    def resume(self) -> None:
        assert self._proc is not None
        self._proc.start()
        self._proc.wait_until(lambda: port_open(self.port), timeout=30, what=f"port {self.port}")

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"


class GitDaemon(PortServer):
    """``git daemon`` exporting every repository under ``root``: git://127.0.0.1:PORT/NAME.git"""

    name = "git-daemon"

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root

    def _argv(self) -> list[str]:
        return [
            "git", "daemon", "--reuseaddr", "--export-all", "--informative-errors",
            f"--base-path={self.root}", "--listen=127.0.0.1", f"--port={self.port}", str(self.root),
        ]  # fmt: skip

    def url(self, repo: str) -> str:
        return f"git://127.0.0.1:{self.port}/{repo}.git"


class HttpServer(PortServer):
    """Git smart HTTP (``git_root``) or static files (``static_root``), optional basic auth and TLS."""

    name = "http"

    def __init__(
        self,
        *,
        git_root: Path | None = None,
        static_root: Path | None = None,
        username: str | None = None,
        password: str | None = None,
        tls: pki.KeyPair | None = None,
    ) -> None:
        super().__init__()
        self.git_root, self.static_root = git_root, static_root
        self.username, self.password = username, password
        self.tls = tls

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    def _argv(self) -> list[str]:
        argv = [sys.executable, "-m", "ferry_devenv.httpserve", f"--port={self.port}"]
        if self.git_root:
            argv.append(f"--git-root={self.git_root}")
        if self.static_root:
            argv.append(f"--static-root={self.static_root}")
        if self.username:
            argv += [f"--username={self.username}", f"--password={self.password or ''}"]
        if self.tls:
            cert, key = self.workdir / "tls.crt", self.workdir / "tls.key"
            cert.write_bytes(self.tls.cert_pem)
            key.write_bytes(self.tls.key_pem)
            argv += [f"--tls-cert={cert}", f"--tls-key={key}"]
        return argv

    def url(self, path: str = "") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/{path}"

    def git_url(self, repo: str) -> str:
        return self.url(f"{repo}.git")

    def requests_served(self) -> list[str]:
        """Request lines logged so far (one per request)."""
        return [line for line in self.log_path.read_text(errors="replace").splitlines() if '"' in line]


class SshGitServer(PortServer):
    """sshd on loopback accepting one generated client key: ssh://USER@127.0.0.1:PORT/ROOT/NAME.git"""

    name = "sshd"

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root
        self.user = getpass.getuser()
        keys = self.workdir / "keys"
        keys.mkdir()
        self.host_key = keys / "ssh_host_ed25519_key"
        self.client_key_path = keys / "client_ed25519"
        for path in (self.host_key, self.client_key_path):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ferry-dev", "-f", str(path)],
                check=True,
            )
        authorized = keys / "authorized_keys"
        authorized.write_text(self.client_key_path.with_suffix(".pub").read_text())
        authorized.chmod(0o600)
        host_pub = self.host_key.with_suffix(".pub").read_text().split()
        self.known_hosts_line = f"[127.0.0.1]:{self.port} {host_pub[0]} {host_pub[1]}"
        self.config = self.workdir / "sshd_config"
        self.config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {self.host_key}",
                    f"PidFile {self.workdir / 'sshd.pid'}",
                    f"AuthorizedKeysFile {authorized}",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "StrictModes no",
                    "PermitRootLogin prohibit-password",
                    f"AllowUsers {self.user}",
                    "LogLevel VERBOSE",
                    "",
                ]
            )
        )

    @property
    def client_private_key(self) -> str:
        return self.client_key_path.read_text()

    def _argv(self) -> list[str]:
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation dir
        return ["/usr/sbin/sshd", "-D", "-e", "-f", str(self.config)]

    def url(self, repo: str) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}{self.root}/{repo}.git"


class RedisServer(PortServer):
    """redis-server without persistence, with a password (``requirepass``, random unless given)
    and, with ``tls``, TLS only (no plaintext port): ``url`` carries the password
    (``redis://:PASSWORD@127.0.0.1:PORT/0``, ``rediss://`` with TLS); ``address_url`` does not, for
    processes that get the password apart (FERRY_REDIS_PASSWORD)."""

    name = "redis"

    def __init__(self, *, password: str | None = None, tls: CertFiles | None = None) -> None:
        super().__init__()
        self.password = secrets.token_urlsafe(24) if password is None else password
        self.tls = tls

    def _argv(self) -> list[str]:
        argv = [
            "redis-server", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(self.workdir), "--protected-mode", "yes",
        ]  # fmt: skip
        if self.password:
            # a config file, not argv: the password stays out of the process list
            config = self.workdir / "auth.conf"
            config.touch(mode=0o600)
            config.write_text(f'requirepass "{self.password}"\n')
            argv.insert(1, str(config))
        if self.tls is None:
            return [*argv, "--port", str(self.port)]
        return [
            *argv, "--port", "0", "--tls-port", str(self.port),
            "--tls-cert-file", str(self.tls.cert), "--tls-key-file", str(self.tls.key),
            "--tls-ca-cert-file", str(self.tls.ca), "--tls-auth-clients", "no",
        ]  # fmt: skip

    @property
    def address_url(self) -> str:
        return f"{'rediss' if self.tls else 'redis'}://127.0.0.1:{self.port}/0"

    @property
    def url(self) -> str:
        if not self.password:
            return self.address_url
        scheme, rest = self.address_url.split("://", 1)
        return f"{scheme}://:{urllib.parse.quote(self.password, safe='')}@{rest}"

"""Real servers standing in for the notification services, started by the tests on loopback ports:
an HTTP server recording every request (webhook, Slack's Web API, GitHub's REST API) and an SMTP
server (aiosmtpd) that requires STARTTLS and AUTH and keeps the messages it accepted."""

from __future__ import annotations

import base64
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from ferry import pki
from ferry_devenv.process import free_port


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Responder = Callable[[Request], tuple[int, Any]]


@dataclass
class HttpRecorder:
    """Records requests; ``respond`` decides each answer (default 200 ``{"ok": true}``)."""

    port: int = field(default_factory=free_port)
    respond: Responder | None = None
    requests: list[Request] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HttpRecorder:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                req = Request(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                with recorder._lock:
                    recorder.requests.append(req)
                status, payload = recorder.respond(req) if recorder.respond else (200, {"ok": True})
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def matching(self, method: str, path_prefix: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]


def slack_api(token: str) -> Responder:
    """chat.postMessage / chat.update as Slack answers them (refusing a wrong token)."""
    counter = iter(range(1, 1_000_000))

    def respond(req: Request) -> tuple[int, Any]:
        if req.headers.get("authorization") != f"Bearer {token}":
            return 200, {"ok": False, "error": "invalid_auth"}
        if req.headers.get("content-type", "").split(";")[0] != "application/json":
            return 200, {"ok": False, "error": "invalid_form_data"}
        body = req.json()
        if not body.get("channel"):
            return 200, {"ok": False, "error": "channel_not_found"}
        return 200, {"ok": True, "channel": "C0001", "ts": f"1700000000.{next(counter):06d}"}

    return respond


@dataclass
class GitHubApp:
    app_id: str
    installation_id: str
    key: pki.KeyPair | None = None
    token: str = "ghs_installation_token"

    def __post_init__(self) -> None:
        rsa_key = pki.new_rsa_key()
        self.private_key_pem = pki.private_key_pem(rsa_key).decode()
        self.public_key_pem = pki.public_key_pem(rsa_key).decode()

    def responder(self) -> Responder:
        def respond(req: Request) -> tuple[int, Any]:
            auth = req.headers.get("authorization", "")
            if (
                req.path == f"/api/v3/app/installations/{self.installation_id}/access_tokens"
                and req.method == "POST"
            ):
                try:
                    claims = jwt.decode(
                        auth.removeprefix("Bearer "), self.public_key_pem, algorithms=["RS256"]
                    )
                except jwt.PyJWTError as err:
                    return 401, {"message": f"bad JWT: {err}"}
                if str(claims.get("iss")) != self.app_id:
                    return 401, {"message": "wrong app"}
                return 201, {"token": self.token, "expires_at": "2099-01-01T00:00:00Z"}
            if req.path.startswith("/api/v3/repos/") and req.method == "POST":
                if auth != f"Bearer {self.token}":
                    return 401, {"message": "Bad credentials"}
                return 201, {"id": 1, "state": req.json().get("state")}
            return 404, {"message": "Not Found"}

        return respond


# --- SMTP ---------------------------------------------------------------------------------------------


@dataclass
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    message: Message
    tls: bool
    authenticated: bool


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        self.server.mails.append(
            Mail(
                mail_from=str(envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                message=message_from_bytes(bytes(envelope.original_content or b"")),
                tls=session.ssl is not None,
                authenticated=bool(session.authenticated),
            )
        )
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd with a certificate for 127.0.0.1, STARTTLS and AUTH required (plain text is refused)."""

    def __init__(self, workdir: Path, *, username: str, password: str) -> None:
        self.port = free_port()
        self.username, self.password = username, password
        self.mails: list[Mail] = []
        self.logins: list[str] = []  # usernames that authenticated successfully
        ca = pki.new_ca("smtp test CA")
        leaf = pki.issue_cert(ca, "127.0.0.1", hosts=["127.0.0.1", "localhost"])
        cert, key = workdir / "smtp.crt", workdir / "smtp.key"
        cert.write_bytes(leaf.cert_pem)
        key.write_bytes(leaf.key_pem)
        self.ca_pem = ca.cert_pem
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(cert), str(key))

        def authenticate(
            server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
        ) -> AuthResult:
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login.decode() == self.username
                and auth_data.password.decode() == self.password
            )
            if ok:
                self.logins.append(auth_data.login.decode())
            return AuthResult(success=ok, handled=False)

        self.controller = Controller(
            _Handler(self),
            hostname="127.0.0.1",
            port=self.port,
            tls_context=context,
            require_starttls=True,
            auth_required=True,
            auth_require_tls=True,
            authenticator=authenticate,
        )

    def start(self) -> SmtpServer:
        self.controller.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.controller.stop()


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()

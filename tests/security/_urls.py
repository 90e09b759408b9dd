"""Shared parts of the URL, credential and cache tests (findings 6-10, 13, 14, 15a).

``strict_reposerver``: a ferry-reposerver process with the defaults a deployment has (no
``--allow-local-repos``, the default 60 s reference and index cache), small Helm size limits so
the limit tests stay small, and a data-size rlimit so a reproduction that reads without end
(``file:///dev/zero``) cannot take the machine down with it.

``Listener``: a real HTTP server on 127.0.0.1 (http.server in a thread) that records every
request's path and headers and answers from a table of routes.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import io
import shutil
import tarfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from ferry.v1 import types_pb2
from ferry_devenv.process import new_workdir
from tests.conftest import RunningServer, start_reposerver
from tests.integration.reposerver.conftest import RepoClient

HELM_LIMIT = 1_000_000  # --helm-max-index-bytes and --helm-max-chart-bytes of strict_reposerver
DATA_LIMIT = 3 * 1024**3  # RLIMIT_DATA of strict_reposerver's process


def start_strict_reposerver() -> tuple[RunningServer, Path]:
    cache = new_workdir("reposerver-strict-cache")
    server = start_reposerver(
        cache,
        "--helm-max-index-bytes",
        str(HELM_LIMIT),
        "--helm-max-chart-bytes",
        str(HELM_LIMIT),
        "--loglevel",
        "debug",
        env={"FERRY_REPOSERVER_ALLOW_LOCAL_REPOS": "false"},  # whatever the environment says
        wrapper=(shutil.which("prlimit") or "prlimit", f"--data={DATA_LIMIT}"),
    )
    return server, cache


@pytest.fixture(scope="module")
def strict_server() -> Iterator[tuple[RunningServer, Path]]:
    server, cache = start_strict_reposerver()
    yield server, cache
    server.stop()
    shutil.rmtree(cache, ignore_errors=True)


@pytest.fixture
def strict(strict_server: tuple[RunningServer, Path]) -> Iterator[RepoClient]:
    """A client of the strict repo server."""
    client = RepoClient(strict_server[0])
    yield client
    client.close()


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]


Route = Callable[["http.server.BaseHTTPRequestHandler"], tuple[int, dict[str, str], bytes]]


@dataclass
class Listener:
    """A recording HTTP server on 127.0.0.1. ``routes`` maps a request path to
    (status, headers, body) or to a function of the handler returning that; other paths are 404."""

    routes: dict[str, tuple[int, dict[str, str], bytes] | Route] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        listener = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                listener.requests.append(
                    Recorded("GET", self.path, {k.lower(): v for k, v in self.headers.items()})
                )
                route = listener.routes.get(self.path.split("?", 1)[0])
                status, headers, body = (
                    (404, {}, b"not found") if route is None else (route(self) if callable(route) else route)
                )
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def authorizations(self) -> list[str]:
        return [r.headers["authorization"] for r in self.requests if "authorization" in r.headers]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def listener_in(ports: range) -> Listener:
    """A Listener on the first free port of ``ports`` (finding 9 needs one whose number starts
    like another's)."""
    for port in ports:
        try:
            return Listener(port=port)
        except OSError:
            continue
    raise RuntimeError(f"no free port in {ports}")


@pytest.fixture
def listeners() -> Iterator[Callable[..., Listener]]:
    made: list[Listener] = []

    def make(ports: range | None = None) -> Listener:
        listener = Listener() if ports is None else listener_in(ports)
        made.append(listener)
        return listener

    yield make
    for listener in made:
        listener.close()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def chart_archive(name: str, version: str, configmap: str) -> bytes:
    """A packaged chart ``name``-``version`` rendering one ConfigMap named ``configmap``."""
    files = {
        f"{name}/Chart.yaml": f"apiVersion: v2\nname: {name}\nversion: {version}\n",
        f"{name}/templates/cm.yaml": (
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {configmap}\ndata:\n  from: {configmap}\n"
        ),
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def index_yaml(
    name: str, version: str, url: str, archive: bytes | None = None, digest: str | None = None
) -> bytes:
    entry: dict[str, object] = {"apiVersion": "v2", "name": name, "version": version, "urls": [url]}
    if digest is not None:
        entry["digest"] = digest
    elif archive is not None:
        entry["digest"] = hashlib.sha256(archive).hexdigest()
    return yaml.safe_dump({"apiVersion": "v1", "entries": {name: [entry]}}).encode()


def helm_source(repo_url: str, chart: str, version: str) -> types_pb2.ApplicationSource:
    return types_pb2.ApplicationSource(repo_url=repo_url, chart=chart, target_revision=version)


def helm_repo(url: str, user: str = "", password: str = "", **kw: object) -> types_pb2.Repository:
    return types_pb2.Repository(repo=url, type="helm", username=user, password=password, **kw)  # type: ignore[arg-type]


def ok(body: bytes, content_type: str = "application/octet-stream") -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": content_type}, body

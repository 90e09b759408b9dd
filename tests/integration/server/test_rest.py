"""The REST/JSON gateway with a plain HTTP client: authorization, list / create / sync, a
streamed watch, cookie sessions with CSRF protection, the OpenAPI document and the JSON shapes
Argo CD clients expect."""

from __future__ import annotations

import http.client
import json
import ssl
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from ferry_devenv.gitrepo import GitRepo
from tests.conftest import RunningServer
from tests.integration.controller.test_sync import job
from tests.integration.server.conftest import admin_password, secret_data
from tests.integration.server.test_authorization import VIEWER_PASSWORD, set_password


class Http:
    """A minimal HTTPS client that keeps cookies like a browser would."""

    def __init__(self, server: RunningServer, kube: k8s.ApiClient, tmp_path: Path) -> None:
        parsed = urllib.parse.urlparse(server.http_url)
        ca = tmp_path / "ca.crt"
        ca.write_text(secret_data(kube, "ferry-server-tls")["tls.crt"])
        self.context = ssl.create_default_context(cafile=str(ca))
        self.context.check_hostname = False
        self.host, self.port = parsed.hostname or "", parsed.port or 443
        self.cookies: dict[str, str] = {}

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str = "",
        headers: dict[str, str] | None = None,
        cookies: bool = False,
    ) -> tuple[int, Any]:
        conn = http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=60)
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        if cookies and self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=all_headers)
        response = conn.getresponse()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0].strip('"')
        raw = response.read()
        conn.close()
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, raw.decode()

    def login(self, username: str, password: str) -> str:
        status, body = self.request("POST", "/api/v1/session", {"username": username, "password": password})
        assert status == 200, body
        return str(body["token"])


def app_body(name: str, repo: GitRepo, namespace: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "project": "default",
            "source": {"repoURL": f"file://{repo.bare}", "path": "app", "targetRevision": "HEAD"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
        },
    }


@pytest.fixture
def rest_repo(git_repo: Callable[[str], GitRepo]) -> GitRepo:
    repo = git_repo("rest")
    repo.commit(
        "app",
        {"app/cm.yaml": yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "r"}})},
    )
    return repo


def test_list_create_get_sync_delete_over_http(
    rest: Http, kube: k8s.ApiClient, rest_repo: GitRepo, namespace: str
) -> None:
    # a PreSync hook that never runs (no node matches it) keeps the sync below Running, so the
    # second sync meets it whatever the machine's speed
    never = job("rest-wait", "PreSync")
    never["spec"]["template"]["spec"]["nodeSelector"] = {"ferrycd.io/test": "no-such-node"}
    rest_repo.commit("hook", {"app/hook.yaml": yaml.safe_dump(never)})
    token = rest.login("admin", admin_password(kube))
    status, created = rest.request(
        "POST", "/api/v1/applications", app_body("rest-app", rest_repo, namespace), token=token
    )
    assert status == 200, created
    assert created["spec"]["source"]["repoURL"] == f"file://{rest_repo.bare}"  # Argo CD's JSON names
    status, listed = rest.request("GET", "/api/v1/applications?selector=", token=token)
    assert status == 200
    assert "rest-app" in [a["metadata"]["name"] for a in listed["items"]]
    status, got = rest.request("GET", "/api/v1/applications/rest-app?refresh=normal", token=token)
    assert status == 200
    assert got["status"]["sync"]["status"] in ("Synced", "OutOfSync")
    assert isinstance(got["metadata"]["generation"], int)  # numbers stay numbers in REST JSON
    status, synced = rest.request("POST", "/api/v1/applications/rest-app/sync", {"prune": True}, token=token)
    assert status == 200, synced
    assert synced["operation"]["sync"]["prune"] is True
    status, error = rest.request("POST", "/api/v1/applications/rest-app/sync", {}, token=token)
    assert status == 400  # an operation is already in progress: FAILED_PRECONDITION
    assert set(error) == {"error", "code", "message"}
    assert error["code"] == 9
    deadline = time.monotonic() + 60  # the controller runs it (its hook waiting), then it can end
    while time.monotonic() < deadline:
        _, running = rest.request("GET", "/api/v1/applications/rest-app", token=token)
        if ((running.get("status") or {}).get("operationState") or {}).get("phase") == "Running":
            break
        time.sleep(0.2)
    status, _ = rest.request("DELETE", "/api/v1/applications/rest-app/operation", token=token)
    assert status == 200
    status, _ = rest.request("DELETE", "/api/v1/applications/rest-app?cascade=false", token=token)
    assert status == 200
    # read-your-writes (docs/api.md, Consistency): the deletion the server acknowledged shows at
    # once, though its watch of the apps may see it only a moment later
    status, missing = rest.request("GET", "/api/v1/applications/rest-app", token=token)
    assert status == 404, missing
    assert missing["message"] == 'application "rest-app" not found'


def test_a_repository_is_addressed_by_its_url_in_the_path(
    rest: Http, kube: k8s.ApiClient, rest_repo: GitRepo
) -> None:
    token = rest.login("admin", admin_password(kube))
    url = f"file://{rest_repo.bare}"
    status, created = rest.request(
        "POST", "/api/v1/repositories", {"repo": url, "name": "by-url"}, token=token
    )
    assert status == 200, created
    # as Argo CD's clients send it: the whole URL one path segment, its slashes %2F
    path = "/api/v1/repositories/" + urllib.parse.quote(url, safe="")
    status, got = rest.request("GET", path, token=token)
    assert status == 200, got
    assert (got["repo"], got["name"]) == (url, "by-url")
    status, _ = rest.request("DELETE", path, token=token)
    assert status == 200
    status, missing = rest.request("GET", path, token=token)
    assert status == 404, missing


def test_authorization_over_http(rest: Http, kube: k8s.ApiClient, rest_repo: GitRepo, namespace: str) -> None:
    assert rest.request("GET", "/api/v1/applications")[0] == 401
    assert rest.request("GET", "/api/v1/applications", token="garbage")[0] == 401
    set_password(kube, "viewer", VIEWER_PASSWORD)
    time.sleep(1)
    viewer = rest.login("viewer", VIEWER_PASSWORD)
    assert rest.request("GET", "/api/v1/applications", token=viewer)[0] == 200
    status, body = rest.request(
        "POST", "/api/v1/applications", app_body("viewer-app", rest_repo, namespace), token=viewer
    )
    assert status == 403, body
    assert rest.request("GET", "/api/version")[0] == 200  # public
    assert rest.request("GET", "/api/v1/nothing-here", token=viewer)[0] == 404


def test_cookie_session_needs_the_csrf_header_for_changes(
    rest: Http, kube: k8s.ApiClient, rest_repo: GitRepo, namespace: str
) -> None:
    rest.login("admin", admin_password(kube))
    assert "ferry.token" in rest.cookies
    assert "ferry.csrf" in rest.cookies
    assert rest.request("GET", "/api/v1/session/userinfo", cookies=True)[1]["username"] == "admin"
    body = app_body("cookie-app", rest_repo, namespace)
    status, error = rest.request("POST", "/api/v1/applications", body, cookies=True)
    assert status == 403
    assert "X-Ferry-CSRF" in error["message"]
    status, _ = rest.request(
        "POST",
        "/api/v1/applications",
        body,
        cookies=True,
        headers={"X-Ferry-CSRF": rest.cookies["ferry.csrf"]},
    )
    assert status == 200
    rest.request(
        "DELETE",
        "/api/v1/applications/cookie-app?cascade=false",
        cookies=True,
        headers={"X-Ferry-CSRF": rest.cookies["ferry.csrf"]},
    )


def test_watch_streams_newline_delimited_json(
    rest: Http, kube: k8s.ApiClient, rest_repo: GitRepo, namespace: str
) -> None:
    token = rest.login("admin", admin_password(kube))
    rest.request("POST", "/api/v1/applications", app_body("watched-app", rest_repo, namespace), token=token)
    conn = http.client.HTTPSConnection(rest.host, rest.port, context=rest.context, timeout=30)
    conn.request(
        "GET", "/api/v1/stream/applications?name=watched-app", headers={"Authorization": f"Bearer {token}"}
    )
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader("Content-Type") == "application/x-ndjson"
    first = json.loads(response.readline())
    assert first["result"]["type"] == "ADDED"
    assert first["result"]["application"]["metadata"]["name"] == "watched-app"
    patch = {"patch": json.dumps({"metadata": {"labels": {"seen": "yes"}}}), "patchType": "merge"}
    status, patched = rest.request("PATCH", "/api/v1/applications/watched-app", patch, token=token)
    assert status == 200, patched
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        event = json.loads(response.readline())["result"]
        if (
            event["type"] == "MODIFIED"
            and (event["application"]["metadata"].get("labels") or {}).get("seen") == "yes"
        ):
            break
    else:
        pytest.fail("the label change did not arrive on the stream")
    conn.close()
    rest.request("DELETE", "/api/v1/applications/watched-app?cascade=false", token=token)


def test_openapi_document(rest: Http) -> None:
    status, document = rest.request("GET", "/api/openapi.json")
    assert status == 200
    assert document["openapi"].startswith("3.")
    assert "get" in document["paths"]["/api/v1/applications/{name}"]
    assert "post" in document["paths"]["/api/v1/applications/{name}/sync"]
    source = document["components"]["schemas"]["ferry.v1.ApplicationSource"]["properties"]
    assert "repoURL" in source
    assert "targetRevision" in source

"""Git webhooks: a signed push for a matching repository refreshes the app (observed on the app
as the new commit); an unsigned or wrongly signed one changes nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

import yaml
from kubernetes import client as k8s

from ferry.v1 import application_pb2
from ferry_devenv.gitrepo import GitRepo
from tests.conftest import CONTROL_NS, GROUP, VERSION
from tests.integration.server.conftest import Api
from tests.integration.server.test_rest import Http
from tests.integration.server.test_smoke import app_message

SECRET = "webhook-secret-42"


def github_push(repo_url: str, ref: str = "refs/heads/main", *, pushed_at: int | None = None) -> bytes:
    """A push event as GitHub sends it: each has its own commit id and time (so a webhook's
    replay protection tells two pushes apart)."""
    payload = {
        "ref": ref,
        "after": secrets.token_hex(20),
        "repository": {
            "clone_url": repo_url,
            "html_url": repo_url.removesuffix(".git"),
            "default_branch": "main",
            "pushed_at": int(time.time()) if pushed_at is None else pushed_at,
        },
    }
    return json.dumps(payload).encode()


def signature(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(rest: Http, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    import http.client  # noqa: PLC0415

    conn = http.client.HTTPSConnection(rest.host, rest.port, context=rest.context, timeout=30)
    conn.request("POST", "/api/webhook", body=body, headers={"Content-Type": "application/json", **headers})
    response = conn.getresponse()
    data = json.loads(response.read())
    conn.close()
    return response.status, data


def test_signed_push_refreshes_and_unsigned_changes_nothing(
    admin: Api, rest: Http, kube: k8s.ApiClient, git_repo: Callable[[str], GitRepo], namespace: str
) -> None:
    patch = {"data": {"webhook.github.secret": base64.b64encode(SECRET.encode()).decode()}}
    k8s.CoreV1Api(kube).patch_namespaced_secret("ferry-secret", CONTROL_NS, patch)
    time.sleep(1)
    repo = git_repo("hooked")
    repo.commit(
        "v1",
        {
            "app/cm.yaml": yaml.safe_dump(
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "v1"}}
            )
        },
    )
    admin.call(
        "apps",
        "Create",
        application_pb2.ApplicationCreateRequest(application=app_message("hooked", repo, namespace)),
    )
    api = k8s.CustomObjectsApi(kube)

    def revision() -> str:
        app = api.get_namespaced_custom_object(GROUP, VERSION, CONTROL_NS, "applications", "hooked")
        assert isinstance(app, dict)
        return str(((app.get("status") or {}).get("sync") or {}).get("revision", ""))

    deadline = time.monotonic() + 30
    while revision() != repo.head():
        assert time.monotonic() < deadline
        time.sleep(0.25)
    new = repo.commit(
        "v2",
        {
            "app/cm.yaml": yaml.safe_dump(
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "v2"}}
            )
        },
    )
    url = f"file://{repo.bare}"
    body = github_push(url)
    # unsigned, wrongly signed: 401 and nothing happens
    assert post(rest, body, {"X-GitHub-Event": "push"})[0] == 401
    assert (
        post(rest, body, {"X-GitHub-Event": "push", "X-Hub-Signature-256": signature(body, "wrong")})[0]
        == 401
    )
    app = api.get_namespaced_custom_object(GROUP, VERSION, CONTROL_NS, "applications", "hooked")
    assert isinstance(app, dict)
    assert "ferrycd.io/refresh" not in (app["metadata"].get("annotations") or {})
    # signed: the app is refreshed and reaches the new commit quickly (the periodic refresh of the
    # test controller is 3 s, so the webhook must win within a second or two)
    status, answer = post(rest, body, {"X-GitHub-Event": "push", "X-Hub-Signature-256": signature(body)})
    assert status == 200
    assert answer["refreshed"] == ["hooked"]
    deadline = time.monotonic() + 20
    while revision() != new:
        assert time.monotonic() < deadline, "the webhook did not bring the new commit"
        time.sleep(0.1)

    def annotations() -> dict[str, str]:
        app = api.get_namespaced_custom_object(GROUP, VERSION, CONTROL_NS, "applications", "hooked")
        assert isinstance(app, dict)
        return dict(app["metadata"].get("annotations") or {})

    # the request carried its time; the controller removed both once it served it
    deadline = time.monotonic() + 10
    while {"ferrycd.io/refresh", "ferrycd.io/refresh-requested-at"} & set(annotations()):
        assert time.monotonic() < deadline, f"refresh request not cleared: {annotations()}"
        time.sleep(0.1)
    admin.call("apps", "Delete", application_pb2.ApplicationDeleteRequest(name="hooked", cascade=False))


def test_push_to_another_branch_or_repo_refreshes_nothing(rest: Http, kube: k8s.ApiClient) -> None:
    body = github_push("https://github.com/nobody/elsewhere.git", "refs/heads/feature")
    status, answer = post(rest, body, {"X-GitHub-Event": "push", "X-Hub-Signature-256": signature(body)})
    assert status == 200
    assert answer["refreshed"] == []


def test_replayed_and_stale_deliveries_change_nothing(rest: Http, kube: k8s.ApiClient) -> None:
    """Finding 21: a captured, validly signed delivery could be sent again and again."""
    patch = {"data": {"webhook.github.secret": base64.b64encode(SECRET.encode()).decode()}}
    k8s.CoreV1Api(kube).patch_namespaced_secret("ferry-secret", CONTROL_NS, patch)
    time.sleep(1)
    body = github_push("https://github.com/nobody/replayed.git")
    headers = {"X-GitHub-Event": "push", "X-Hub-Signature-256": signature(body)}
    assert post(rest, body, {**headers, "X-GitHub-Delivery": "d-1"}) == (200, {"refreshed": []})
    # the same signed body again, with a new delivery id (headers are not signed)
    assert post(rest, body, {**headers, "X-GitHub-Delivery": "d-2"}) == (
        200,
        {"refreshed": [], "ignored": "duplicate delivery"},
    )
    stale = github_push("https://github.com/nobody/replayed.git", pushed_at=int(time.time()) - 2 * 3600)
    status, answer = post(rest, stale, {"X-GitHub-Event": "push", "X-Hub-Signature-256": signature(stale)})
    assert (status, answer["refreshed"]) == (200, [])
    assert answer["ignored"].startswith("stale delivery")


def test_a_gitlab_token_that_is_not_ascii_is_refused_not_a_crash(rest: Http, kube: k8s.ApiClient) -> None:
    patch = {"data": {"webhook.gitlab.secret": base64.b64encode(SECRET.encode()).decode()}}
    k8s.CoreV1Api(kube).patch_namespaced_secret("ferry-secret", CONTROL_NS, patch)
    time.sleep(1)
    body = json.dumps({"ref": "refs/heads/main", "project": {"web_url": "https://gitlab.com/x/y"}}).encode()
    token = "sécret-é".encode().decode("latin-1")  # the bytes a client sends, as an HTTP header carries them
    status, answer = post(rest, body, {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": token})
    assert status == 401, answer

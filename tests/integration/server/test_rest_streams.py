"""Server streams over the REST gateway, as the web UI reads them: a pod's logs (one pod, or every
pod of a Deployment; followed, with lines that arrive later), headers sent before the first item
so a client knows it is connected, and errors before anything was sent as plain HTTP errors."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable
from typing import Any

import yaml
from kubernetes import client as k8s

from ferry_devenv.controlplane import ControlPlane
from ferry_devenv.gitrepo import GitRepo
from tests.integration.controller.test_sync import deployment
from tests.integration.server.conftest import admin_password
from tests.integration.server.test_rest import Http, app_body


def open_stream(rest: Http, path: str, token: str) -> tuple[http.client.HTTPSConnection, Any, float]:
    """The connection, its response (headers read) and how long the headers took."""
    conn = http.client.HTTPSConnection(rest.host, rest.port, context=rest.context, timeout=30)
    started = time.monotonic()
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    return conn, response, time.monotonic() - started


def read_item(response: Any) -> dict[str, Any]:
    line = response.readline()
    assert line, "the stream ended"
    parsed: dict[str, Any] = json.loads(line)
    assert "error" not in parsed, parsed
    result: dict[str, Any] = parsed["result"]
    return result


def wait_for(what: str, check: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_a_quiet_stream_answers_its_headers_and_errors_keep_their_status(
    rest: Http, kube: k8s.ApiClient, git_repo: Callable[[str], GitRepo], namespace: str
) -> None:
    token = rest.login("admin", admin_password(kube))
    repo = git_repo("rest-quiet")
    repo.commit(
        "cm",
        {"app/cm.yaml": yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "q"}})},
    )
    status, created = rest.request(
        "POST", "/api/v1/applications", app_body("quiet-app", repo, namespace), token=token
    )
    assert status == 200, created
    try:
        version = created["metadata"]["resourceVersion"]
        # resumed from the current resourceVersion: nothing to send, yet the headers come at once
        conn, response, took = open_stream(
            rest, f"/api/v1/stream/applications?name=quiet-app&resourceVersion={version}", token
        )
        assert response.status == 200
        assert response.getheader("Content-Type") == "application/x-ndjson"
        assert took < 10, f"headers after {took:.1f}s"
        patch = {"patch": json.dumps({"metadata": {"labels": {"quiet": "no"}}}), "patchType": "merge"}
        assert rest.request("PATCH", "/api/v1/applications/quiet-app", patch, token=token)[0] == 200
        while True:
            event = read_item(response)
            if (event["application"]["metadata"].get("labels") or {}).get("quiet") == "no":
                break
        conn.close()
        # an error before the first item is an HTTP error with the gateway's JSON body
        conn, response, _ = open_stream(rest, "/api/v1/applications/no-such-app/logs?follow=true", token)
        assert response.status == 404
        assert json.loads(response.read())["code"] == 5
        conn.close()
    finally:
        rest.request("DELETE", "/api/v1/applications/quiet-app?cascade=false", token=token)


def test_pod_logs_over_rest_one_pod_every_pod_of_a_deployment_and_followed(
    rest: Http,
    kube: k8s.ApiClient,
    git_repo: Callable[[str], GitRepo],
    namespace: str,
    workload_plane: ControlPlane,
) -> None:
    token = rest.login("admin", admin_password(kube))
    repo = git_repo("rest-logs")
    repo.commit("web", {"app/web.yaml": yaml.safe_dump(deployment("web"))})
    workload_plane.set_pod_logs(namespace, ["starting web", "listening on :8080"])
    status, body = rest.request(
        "POST", "/api/v1/applications", app_body("logs-app", repo, namespace), token=token
    )
    assert status == 200, body
    try:
        assert rest.request("POST", "/api/v1/applications/logs-app/sync", {}, token=token)[0] == 200

        def pods() -> list[str]:
            _, tree = rest.request("GET", "/api/v1/applications/logs-app/resource-tree", token=token)
            return [n["name"] for n in tree.get("nodes", []) if n["kind"] == "Pod"]

        wait_for("the Deployment's pod", lambda: bool(pods()))
        pod = pods()[0]

        def healthy() -> bool:
            _, app = rest.request("GET", "/api/v1/applications/logs-app", token=token)
            return bool(app.get("status", {}).get("health", {}).get("status") == "Healthy")

        wait_for("a healthy app", healthy)

        # every pod of the Deployment, not followed: the lines, then the last marker
        conn, response, _ = open_stream(
            rest,
            f"/api/v1/applications/logs-app/logs?kind=Deployment&group=apps&resourceName=web&namespace={namespace}",
            token,
        )
        assert response.status == 200
        entries = [json.loads(line)["result"] for line in response.read().splitlines() if line.strip()]
        conn.close()
        assert [e.get("content") for e in entries] == ["starting web", "listening on :8080", None]
        assert entries[0]["podName"] == pod
        assert entries[0]["timeStamp"]
        assert entries[-1]["last"] is True

        # one pod, its last line, followed: a line the pod writes later arrives
        conn, response, _ = open_stream(
            rest,
            f"/api/v1/applications/logs-app/pods/{pod}/logs?namespace={namespace}&container=c&tailLines=1&follow=true",
            token,
        )
        assert response.status == 200
        assert read_item(response)["content"] == "listening on :8080"
        workload_plane.append_pod_logs(namespace, ["request served"])
        assert read_item(response)["content"] == "request served"
        conn.close()
    finally:
        rest.request("DELETE", "/api/v1/applications/logs-app", token=token)

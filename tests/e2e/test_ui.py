"""The web UI end to end: a real headless Chromium (Debian's ``chromium``, driven by
``playwright-core`` from ``ui/node_modules`` through ``tests/e2e/ui/ui_e2e.mjs``) against real
ferry-server, controller and repo-server processes on the real control plane, with workloads.

The browser logs in, lists and filters the apps, opens the resource graph and tree, reads a
pod's logs and sees a line the pod writes arrive, reads the pod's events, refreshes to see a Git
change, reads its diff, syncs (a dry run of one resource, then to a chosen revision) and watches
the status change live, rolls back, adds a repository, a cluster and a project and removes them
again, switches to the dark theme, lists 2,500 apps served by browser
routes, deletes the app keeping its resources and logs out; axe-core checks the main pages.
Screenshots and the accessibility report land in ``tests/e2e/artifacts/ui``
(``FERRY_UI_ARTIFACTS`` for elsewhere).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s

from ferry_devenv.controlplane import ControlPlane
from ferry_devenv.gitrepo import GitRepo
from tests.conftest import RunningServer
from tests.integration.controller.test_sync import deployment
from tests.integration.server.conftest import admin_password
from tests.integration.server.test_rest import Http

ROOT = Path(__file__).resolve().parents[2]
UI_DIR = ROOT / "ui"
SCRIPT = Path(__file__).parent / "ui" / "ui_e2e.mjs"
ARTIFACTS = Path(os.environ.get("FERRY_UI_ARTIFACTS", Path(__file__).parent / "artifacts" / "ui"))
APP = "ui-web"
FAKE_CLUSTER = "https://127.0.0.1:9"  # nothing listens there: registered, never reachable
PROJECT = "ui-project"
CREATED_APP = "ui-created"


def config_map(version: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "ui-config"},
        "data": {"version": version},
    }


def chromium() -> str:
    found = os.environ.get("FERRY_CHROMIUM") or shutil.which("chromium")
    assert found, "Debian's chromium is missing: run hack/system-packages.sh (make tools installs it)"
    return found


def wait_for(
    what: str, check: Callable[[], bool], timeout: float = 180, state: Callable[[], Any] = str
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}; last state: {state()}"
        time.sleep(0.5)


def run_browser(
    config: dict[str, Any], actions: dict[str, Callable[[str], None]], timeout: float = 300
) -> tuple[int, str, str]:
    """Runs ui_e2e.mjs; its "[ui-e2e] ask WHAT ARG" lines are done here (a pod writes a log
    line...) and answered "done" on its stdin. Returns (exit code, stdout, stderr)."""
    proc = subprocess.Popen(
        ["node", str(SCRIPT)],
        env={**os.environ, "FERRY_UI_E2E": json.dumps(config)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    assert proc.stderr is not None
    stderr: list[str] = []
    drain = threading.Thread(target=lambda: stderr.extend(proc.stderr or []), daemon=True)
    drain.start()
    killer = threading.Timer(timeout, proc.kill)
    killer.start()
    stdout: list[str] = []
    try:
        for line in proc.stdout:
            stdout.append(line)
            if line.startswith("[ui-e2e] ask "):
                what, _, arg = line.removeprefix("[ui-e2e] ask ").rstrip("\n").partition(" ")
                actions[what](arg)
                proc.stdin.write("done\n")
                proc.stdin.flush()
        returncode = proc.wait()
    finally:
        killer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        drain.join(timeout=10)
    return returncode, "".join(stdout), "".join(stderr)


def test_web_ui_in_a_real_browser(
    server_process: RunningServer,
    workload_plane: ControlPlane,
    kube: k8s.ApiClient,
    git_repo: Callable[[str], GitRepo],
    namespace: str,
    tmp_path: Path,
) -> None:
    browser = chromium()
    assert (UI_DIR / "node_modules" / "playwright-core").is_dir(), "run `make ui` (npm ci in ui/)"
    assert (ROOT / "server" / "webui" / "index.html").is_file(), "run `make ui` to build the web UI"

    rest = Http(server_process, kube, tmp_path)
    password = admin_password(kube)
    status, session = rest.request("POST", "/api/v1/session", {"username": "admin", "password": password})
    assert status == 200, session
    token = session["token"]

    repo = git_repo("ui-web")
    workload_plane.set_pod_logs(namespace, ["ui-web starting", "listening on :8080"])
    v1 = repo.commit(
        "v1",
        {
            "app/cm.yaml": yaml.safe_dump(config_map("v1")),
            "app/web.yaml": yaml.safe_dump(deployment("ui-web")),
        },
    )
    added = git_repo("ui-added")
    added.commit(
        "init",
        {
            "README": "a repository the browser adds\n",
            "extra/cm.yaml": yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "ui-created"},
                    "data": {"by": "browser"},
                }
            ),
        },
    )
    application = {
        "metadata": {"name": APP},
        "spec": {
            "project": "default",
            "source": {"repoURL": f"file://{repo.bare}", "path": "app"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
        },
    }
    status, body = rest.request("POST", "/api/v1/applications", application, token=token)
    assert status == 200, body
    try:
        # deployed once (history 0), then Git moves on: the browser refreshes, sees and syncs it
        status, body = rest.request("POST", f"/api/v1/applications/{APP}/sync", {"prune": True}, token=token)
        assert status == 200, body

        def app_status() -> dict[str, Any]:
            _, app = rest.request("GET", f"/api/v1/applications/{APP}", token=token)
            status: dict[str, Any] = app.get("status", {})
            return status

        def synced_and_healthy() -> bool:
            state = app_status()
            return bool(
                state.get("operationState", {}).get("phase") == "Succeeded"
                and state.get("sync", {}).get("status") == "Synced"
                and state.get("health", {}).get("status") == "Healthy"
            )

        wait_for("the first sync", synced_and_healthy, state=lambda: json.dumps(app_status())[:3000])
        v2 = repo.commit("v2", {"app/cm.yaml": yaml.safe_dump(config_map("v2"))})

        if ARTIFACTS.exists():
            shutil.rmtree(ARTIFACTS)
        config = {
            "url": server_process.http_url,
            "username": "admin",
            "password": password,
            "app": APP,
            "namespace": namespace,
            "v1": v1,
            "v2": v2,
            "newRepo": f"file://{added.bare}",
            "fakeCluster": FAKE_CLUSTER,
            "project": PROJECT,
            "createdApp": CREATED_APP,
            "chromium": browser,
            "uiDir": str(UI_DIR),
            "artifacts": str(ARTIFACTS),
        }
        returncode, stdout, stderr = run_browser(
            config, {"append-log": lambda line: workload_plane.append_pod_logs(namespace, [line])}
        )
        print(stdout)
        print(stderr)
        print(f"screenshots and accessibility report: {ARTIFACTS}")
        assert returncode == 0, f"the browser run failed (see {ARTIFACTS}):\n{stdout}\n{stderr}"
        assert "[ui-e2e] all steps passed" in stdout

        # what the browser did happened for real
        live = k8s.CoreV1Api(kube).read_namespaced_config_map("ui-config", namespace).data
        assert live == {"version": "v1"}, "rolled back to v1"
        assert "[ui-e2e] repository added" in stdout, "the browser saw the repository it added"
        assert "[ui-e2e] cluster added" in stdout, "the browser saw the cluster it added"
        status, repos = rest.request("GET", "/api/v1/repositories", token=token)
        assert config["newRepo"] not in [r["repo"] for r in repos.get("items", [])], "removed again"
        status, clusters = rest.request("GET", "/api/v1/clusters", token=token)
        assert FAKE_CLUSTER not in [c["server"] for c in clusters.get("items", [])], "removed again"
        assert rest.request("GET", f"/api/v1/projects/{PROJECT}", token=token)[0] == 404
        wait_for(
            "the app's deletion",
            lambda: rest.request("GET", f"/api/v1/applications/{APP}", token=token)[0] == 404,
        )
        # the app the browser created: automated, synced by the controller
        status, created = rest.request("GET", f"/api/v1/applications/{CREATED_APP}", token=token)
        assert status == 200, created
        assert created["spec"]["source"]["path"] == "extra"
        assert created["spec"]["syncPolicy"]["automated"] == {"selfHeal": True}
        assert k8s.CoreV1Api(kube).read_namespaced_config_map("ui-created", namespace).data == {
            "by": "browser"
        }
        # non-cascading: the resources stay
        assert k8s.CoreV1Api(kube).read_namespaced_config_map("ui-config", namespace).data == {
            "version": "v1"
        }
        for name in ("01-login", "03-pod-logs", "03-diff", "04-sync-dialog", "05-synced", "09-settings-dark"):
            assert (ARTIFACTS / f"{name}.png").stat().st_size > 0
        report = json.loads((ARTIFACTS / "accessibility.json").read_text())
        assert set(report) >= {
            "login",
            "applications",
            "application",
            "application-logs",
            "application-graph",
            "sync-dialog",
            "settings",
            "settings-dark",
            "new-application",
        }
    finally:
        rest.request("DELETE", f"/api/v1/applications/{APP}?cascade=false", token=token)
        rest.request("DELETE", f"/api/v1/applications/{CREATED_APP}?cascade=false", token=token)
        rest.request("DELETE", f"/api/v1/projects/{PROJECT}", token=token)
        for kind, url in (("repositories", f"file://{added.bare}"), ("clusters", FAKE_CLUSTER)):
            rest.request("DELETE", f"/api/v1/{kind}/{urllib.parse.quote(url, safe='')}", token=token)


def test_the_ui_is_served_beside_the_api(
    server_process: RunningServer, kube: k8s.ApiClient, tmp_path: Path
) -> None:
    rest = Http(server_process, kube, tmp_path)
    index = (ROOT / "server" / "webui" / "index.html").read_text()
    conn_headers: dict[str, str] = {}

    def get(path: str) -> tuple[int, str]:
        conn = http.client.HTTPSConnection(rest.host, rest.port, context=rest.context, timeout=30)
        conn.request("GET", path)
        response = conn.getresponse()
        conn_headers.clear()
        conn_headers.update({k.lower(): v for k, v in response.getheaders()})
        body = response.read().decode(errors="replace")
        conn.close()
        return response.status, body

    # the app, and every client-side route, is index.html (not cached: new builds show at once)
    for path in ("/", "/applications", "/applications/web?resource=%2FConfigMap%2Fns%2Fx", "/settings"):
        assert get(path) == (200, index), path
        assert conn_headers["cache-control"] == "no-cache"
        assert "default-src 'self'" in conn_headers["content-security-policy"]
        assert conn_headers["x-content-type-options"] == "nosniff"
    # hashed assets are cached for good; a missing asset is a 404, not index.html
    script = re.search(r'src="(/assets/[^"]+\.js)"', index)
    assert script, index
    status, _ = get(script.group(1))
    assert status == 200
    assert "immutable" in conn_headers["cache-control"]
    assert conn_headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert get("/assets/missing-0000.js")[0] == 404
    # /api stays the API's: JSON errors, never the UI
    status, body = get("/api/v1/no-such-thing")
    assert status == 404
    assert json.loads(body)["code"] == 5
    assert get("/api")[0] == 404
    # no way out of the build directory
    for path in ("/../pyproject.toml", "/%2e%2e/http.py", "/assets/%2e%2e/%2e%2e/http.py"):
        status, body = get(path)
        assert "import" not in body, path
        assert status in (200, 404), path

"""The real ``ferry`` executable against real ferry-server, controller and repo-server processes
on a real control plane: what a user types, what they read, and the exit codes scripts rely on."""

from __future__ import annotations

import base64
import json
import os
import pty
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from ferry_devenv.controlplane import ControlPlane
from ferry_devenv.gitrepo import GitRepo
from ferry_devenv.servers import HttpServer
from tests.conftest import CONTROL_NS, GIT_PASSWORD, GIT_USER, RunningServer, api_client
from tests.integration.controller.test_sync import deployment
from tests.integration.server.conftest import admin_password

FERRY = str(Path(sys.executable).parent / "ferry")
IN_CLUSTER = "https://kubernetes.default.svc"


@dataclass
class Result:
    code: int
    out: str
    err: str


class Ferry:
    """Runs ``ferry`` with its own config file, as a user in a shell would (stdin not a terminal)."""

    def __init__(self, home: Path, server: str) -> None:
        self.home = home
        self.server = server
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_")}
        self.env["XDG_CONFIG_HOME"] = str(home)
        self.env.pop("NO_COLOR", None)

    def run(
        self, *args: str, stdin: str = "", env: dict[str, str] | None = None, timeout: float = 120
    ) -> Result:
        proc = subprocess.run(
            [FERRY, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env={**self.env, **(env or {})},
            timeout=timeout,
            check=False,
        )
        assert "Traceback" not in proc.stderr, proc.stderr
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def run_on_terminal(self, *args: str, env: dict[str, str] | None = None) -> Result:
        """Runs ``ferry`` with stdout on a pseudo-terminal, as an interactive user sees it."""
        primary, secondary = pty.openpty()
        proc = subprocess.Popen(
            [FERRY, *args],
            stdin=subprocess.DEVNULL,
            stdout=secondary,
            stderr=subprocess.PIPE,
            env={**self.env, **(env or {})},
        )
        os.close(secondary)
        chunks = []
        while True:
            try:
                data = os.read(primary, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        os.close(primary)
        code = proc.wait(timeout=120)
        assert proc.stderr is not None
        err = proc.stderr.read().decode()
        proc.stderr.close()
        return Result(code, b"".join(chunks).decode(errors="replace"), err)

    def ok(self, *args: str, **kwargs: Any) -> str:
        result = self.run(*args, **kwargs)
        assert result.code == 0, f"ferry {' '.join(args)} -> {result.code}\n{result.out}\n{result.err}"
        return result.out

    def fails(self, code: int, *args: str, **kwargs: Any) -> str:
        """Runs a command that must fail with ``code``; returns its one-line error."""
        result = self.run(*args, **kwargs)
        assert result.code == code, f"ferry {' '.join(args)} -> {result.code}\n{result.out}\n{result.err}"
        lines = result.err.strip().splitlines()
        assert len(lines) == 1, result.err
        assert lines[0].startswith("ferry: "), result.err
        return lines[0]

    def login(self, username: str, password: str, *extra: str) -> None:
        out = self.ok(
            "login", self.server, "--insecure", "--username", username, "--password", password, *extra
        )
        assert f"'{username}' logged in successfully" in out


@pytest.fixture
def ferry(server_process: RunningServer, tmp_path: Path) -> Ferry:
    return Ferry(tmp_path / "home", server_process.address)


@pytest.fixture
def admin_cli(ferry: Ferry, kube: k8s.ApiClient) -> Ferry:
    ferry.login("admin", admin_password(kube))
    return ferry


def table_rows(out: str) -> list[list[str]]:
    """A table's lines split into cells by the header's column positions (cells may be empty)."""
    lines = out.rstrip("\n").splitlines()
    header = lines[0]
    starts = [i for i, ch in enumerate(header) if ch != " " and (i == 0 or header[max(0, i - 2) : i] == "  ")]
    bounds = [*starts[1:], None]
    return [[line[a:b].strip() for a, b in zip(starts, bounds, strict=True)] for line in lines]


def cm(name: str, wave: int = 0, **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "annotations": {"argocd.argoproj.io/sync-wave": str(wave)}},
        "data": data,
    }


@pytest.fixture
def web_repo(git_repo: Callable[[str], GitRepo]) -> GitRepo:
    repo = git_repo("cli-web")
    repo.commit(
        "v1",
        {
            "app/first.yaml": yaml.safe_dump(cm("first", 0, version="v1")),
            "app/second.yaml": yaml.safe_dump(cm("second", 1, version="v1")),
        },
    )
    return repo


def live_data(kube: k8s.ApiClient, namespace: str, name: str) -> dict[str, str]:
    data: dict[str, str] = k8s.CoreV1Api(kube).read_namespaced_config_map(name, namespace).data or {}
    return data


# --- the mistakes users make most -------------------------------------------------------------


def test_no_server_says_how_to_log_in(ferry: Ferry) -> None:
    message = ferry.fails(20, "app", "list")
    assert "ferry login" in message


def test_wrong_password(ferry: Ferry) -> None:
    message = ferry.fails(
        20, "login", ferry.server, "--insecure", "--username", "admin", "--password", "not-it"
    )
    assert message == "ferry: invalid username or password"


def test_tls_without_insecure_names_the_flag(ferry: Ferry, kube: k8s.ApiClient) -> None:
    message = ferry.fails(
        20, "login", ferry.server, "--username", "admin", "--password", admin_password(kube)
    )
    assert "--insecure" in message


def test_unknown_application(admin_cli: Ferry) -> None:
    assert admin_cli.fails(20, "app", "get", "no-such-app") == 'ferry: application "no-such-app" not found'


def test_usage_errors_exit_2_before_contacting_the_server(ferry: Ferry) -> None:
    ferry.fails(2, "app", "sync", "web", "--resource", "not-a-resource")
    ferry.fails(2, "app", "create", "web", "--auto-prune")
    assert ferry.run("app", "frobnicate").code == 2


def test_expired_token(admin_cli: Ferry) -> None:
    token = admin_cli.ok("account", "generate-token", "--account", "robot", "--expires-in", "1s").strip()
    time.sleep(2.2)
    fresh = Ferry(admin_cli.home.parent / "robot-home", admin_cli.server)
    message = fresh.fails(
        20, "--server", admin_cli.server, "--insecure", "--auth-token", token, "app", "list"
    )
    assert "expired" in message
    assert "ferry login" in message


# --- logging in, contexts, version, completion -------------------------------------------------


def test_login_stores_a_private_config_and_contexts(ferry: Ferry, kube: k8s.ApiClient) -> None:
    password = admin_password(kube)
    ferry.login("admin", password)
    config_path = ferry.home / "ferry" / "config"
    assert oct(config_path.stat().st_mode & 0o777) == "0o600"
    ferry.login("admin", password, "--name", "second")
    contexts = table_rows(ferry.ok("context"))
    assert contexts[0] == ["CURRENT", "NAME", "SERVER"]
    assert ["*", "second", ferry.server] in contexts
    assert ["", ferry.server, ferry.server] in contexts
    assert "Switched to context" in ferry.ok("context", ferry.server)
    assert ["*", ferry.server, ferry.server] in table_rows(ferry.ok("context"))
    version = ferry.ok("version")
    assert version.splitlines()[0].startswith("ferry: v")
    assert "ferry-server: v" in version
    assert "Logged out" in ferry.ok("logout")
    assert "not logged in" in ferry.fails(20, "app", "list")


def test_environment_works_without_a_config_file(admin_cli: Ferry, tmp_path: Path) -> None:
    config = yaml.safe_load((admin_cli.home / "ferry" / "config").read_text())
    token = config["contexts"][0]["token"]
    bare = Ferry(tmp_path / "empty-home", admin_cli.server)
    env = {"FERRY_SERVER": admin_cli.server, "FERRY_AUTH_TOKEN": token}
    assert "default" in bare.ok("--insecure", "proj", "list", "-o", "name", env=env).split()
    flags = ["--server", admin_cli.server, "--auth-token", token, "--insecure"]
    assert "default" in bare.ok(*flags, "proj", "list", "-o", "name").split()
    assert not (tmp_path / "empty-home" / "ferry" / "config").exists()


def test_shell_completion(ferry: Ferry) -> None:
    for shell in ("bash", "zsh"):
        assert "_FERRY_COMPLETE" in ferry.ok("completion", shell)
    completed = ferry.ok(
        env={"_FERRY_COMPLETE": "bash_complete", "COMP_WORDS": "ferry ap", "COMP_CWORD": "1"}
    )
    assert "plain,app" in completed.split()
    completed = ferry.ok(
        env={"_FERRY_COMPLETE": "bash_complete", "COMP_WORDS": "ferry app sy", "COMP_CWORD": "2"}
    )
    assert "plain,sync" in completed.split()


# --- an application's life ------------------------------------------------------------------------


def test_application_lifecycle(
    admin_cli: Ferry, web_repo: GitRepo, namespace: str, kube: k8s.ApiClient
) -> None:
    cli = admin_cli
    same = [
        "app",
        "create",
        "cli-web",
        "--repo",
        f"file://{web_repo.bare}",
        "--path",
        "app",
        "--dest-server",
        IN_CLUSTER,
        "--dest-namespace",
        namespace,
    ]
    assert cli.ok(*same, "--label", "team=web").strip() == "application 'cli-web' created"
    cli.ok(*same, "--label", "team=web")  # the same spec again: nothing to do, as in Argo CD
    assert "use upsert" in cli.fails(20, *same, "--sync-option", "Validate=false")

    # list in every output format
    rows = table_rows(cli.ok("app", "list", "-l", "team=web"))
    assert rows[0] == [
        "NAME",
        "CLUSTER",
        "NAMESPACE",
        "PROJECT",
        "STATUS",
        "HEALTH",
        "SYNCPOLICY",
        "CONDITIONS",
        "REPO",
        "PATH",
        "TARGET",
    ]
    assert rows[1][:4] == ["cli-web", IN_CLUSTER, namespace, "default"]
    assert rows[1][6] == "Manual"
    assert "REVISION" in cli.ok("app", "list", "-o", "wide").splitlines()[0]
    assert cli.ok("app", "list", "-l", "team=web", "-o", "name").split() == ["cli-web"]
    as_json = json.loads(cli.ok("app", "list", "-l", "team=web", "-o", "json"))
    assert [a["metadata"]["name"] for a in as_json] == ["cli-web"]
    assert as_json[0]["spec"]["source"]["repoURL"] == f"file://{web_repo.bare}"
    as_yaml = yaml.safe_load(cli.ok("app", "list", "-l", "team=web", "-o", "yaml"))
    assert as_yaml[0]["spec"]["destination"]["namespace"] == namespace
    assert cli.ok("app", "list", "-l", "team=nobody", "-o", "name") == ""

    # get, after a refresh compared it with Git
    shown = cli.ok("app", "get", "cli-web", "--refresh")
    assert "Name:               cli-web" in shown
    assert "Sync Status:        OutOfSync" in shown
    assert json.loads(cli.ok("app", "get", "cli-web", "-o", "json"))["metadata"]["name"] == "cli-web"
    assert yaml.safe_load(cli.ok("app", "get", "cli-web", "-o", "yaml"))["spec"]["project"] == "default"
    assert "WAVE" in cli.ok("app", "get", "cli-web", "-o", "wide")

    # diff: 1 while different, 0 once synced
    different = cli.run("app", "diff", "cli-web")
    assert different.code == 1, different.err
    assert f"===== ConfigMap {namespace}/first ======" in different.out
    assert "version" in different.out
    assert "+" in different.out

    # sync (piped: one line per change), then the summary
    synced = cli.ok("app", "sync", "cli-web", "--timeout", "120")
    assert "operation Running" in synced
    assert f"wave 0  ConfigMap  {namespace}/first  Synced" in synced
    assert f"wave 1  ConfigMap  {namespace}/second  Synced" in synced
    assert "Phase:              Succeeded" in synced
    assert "\x1b[" not in synced  # no colour when piped
    assert live_data(kube, namespace, "second") == {"version": "v1"}
    cli.ok("app", "wait", "cli-web", "--sync", "--health", "--timeout", "60")
    result = cli.run("app", "diff", "cli-web", "--refresh")
    assert (result.code, result.out) == (0, ""), result

    tree = cli.ok("app", "get", "cli-web", "-o", "tree")
    assert "ConfigMap/first" in tree
    assert "ConfigMap/second" in tree
    resources = table_rows(cli.ok("app", "resources", "cli-web"))
    assert resources[0] == ["GROUP", "KIND", "NAMESPACE", "NAME", "ORPHANED"]
    assert ["", "ConfigMap", namespace, "first", "No"] in resources
    manifests = list(yaml.safe_load_all(cli.ok("app", "manifests", "cli-web")))
    assert {m["metadata"]["name"] for m in manifests} == {"first", "second"}
    live = list(yaml.safe_load_all(cli.ok("app", "manifests", "cli-web", "--source", "live")))
    assert {m["metadata"]["name"] for m in live} == {"first", "second"}
    assert all(m["metadata"].get("uid") for m in live)

    # a second commit, synced; then history and a rollback to the first
    web_repo.commit("v2", {"app/second.yaml": yaml.safe_dump(cm("second", 1, version="v2"))})
    cli.ok("app", "sync", "cli-web", "--timeout", "120")
    assert live_data(kube, namespace, "second") == {"version": "v2"}
    history = table_rows(cli.ok("app", "history", "cli-web"))
    assert history[0] == ["ID", "DATE", "REVISION", "PATH", "INITIATOR"]
    assert [row[0] for row in history[1:]] == ["0", "1"]
    entries = json.loads(cli.ok("app", "history", "cli-web", "-o", "json"))
    assert entries[1]["revision"] == web_repo.head()
    rolled = cli.ok("app", "rollback", "cli-web", "--timeout", "120")
    assert "Phase:              Succeeded" in rolled
    assert live_data(kube, namespace, "second") == {"version": "v1"}

    # set / unset change the spec
    cli.ok("app", "set", "cli-web", "--revision", entries[0]["revision"], "--sync-option", "Validate=false")
    spec = json.loads(cli.ok("app", "get", "cli-web", "-o", "json"))["spec"]
    assert spec["source"]["targetRevision"] == entries[0]["revision"]
    assert spec["syncPolicy"]["syncOptions"] == ["Validate=false"]
    cli.ok("app", "unset", "cli-web", "--sync-option", "Validate=false")
    spec = json.loads(cli.ok("app", "get", "cli-web", "-o", "json"))["spec"]
    assert not (spec.get("syncPolicy") or {}).get("syncOptions")
    cli.fails(2, "app", "set", "cli-web")

    # delete asks for -y without a terminal, then deletes the resources too
    assert "add -y" in cli.fails(2, "app", "delete", "cli-web")
    assert cli.ok("app", "delete", "cli-web", "-y", "--wait", "--timeout", "120").strip() == (
        "application 'cli-web' deleted"
    )
    cli.fails(20, "app", "get", "cli-web")
    with pytest.raises(k8s.ApiException):
        live_data(kube, namespace, "first")


def test_failed_sync_and_wait_timeout_exit_codes(
    admin_cli: Ferry, git_repo: Callable[[str], GitRepo], namespace: str
) -> None:
    repo = git_repo("cli-broken")
    bad = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "Not_A_Valid_Name"},
        "data": {"a": "b"},
    }
    repo.commit("broken", {"app/bad.yaml": yaml.safe_dump(bad)})
    admin_cli.ok(
        "app",
        "create",
        "cli-broken",
        "--repo",
        f"file://{repo.bare}",
        "--path",
        "app",
        "--dest-server",
        IN_CLUSTER,
        "--dest-namespace",
        namespace,
    )
    try:
        message = admin_cli.run("app", "sync", "cli-broken", "--timeout", "120")
        assert message.code == 21, message
        assert message.err.startswith("ferry: operation Failed") or message.err.startswith(
            "ferry: operation Error"
        )
        assert "Not_A_Valid_Name" in message.out
        timed_out = admin_cli.fails(22, "app", "wait", "cli-broken", "--sync", "--timeout", "3")
        assert "timed out after 3s" in timed_out
        assert "Synced" in timed_out
    finally:
        admin_cli.ok("app", "delete", "cli-broken", "-y")


def test_create_from_an_argo_cd_manifest(
    admin_cli: Ferry, web_repo: GitRepo, namespace: str, tmp_path: Path
) -> None:
    manifest = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": "cli-argo",
            "namespace": "argocd",
            "finalizers": ["resources-finalizer.argocd.argoproj.io"],
        },
        "spec": {
            "project": "default",
            "source": {"repoURL": f"file://{web_repo.bare}", "path": "app", "targetRevision": "HEAD"},
            "destination": {"server": IN_CLUSTER, "namespace": namespace},
            "syncPolicy": {"syncOptions": ["CreateNamespace=true"]},
        },
    }
    path = tmp_path / "app.yaml"
    path.write_text(yaml.safe_dump(manifest))
    result = admin_cli.run("app", "create", "-f", str(path))
    assert result.code == 0, result.err
    assert result.out.strip() == "application 'cli-argo' created"
    assert "converted: apiVersion argoproj.io/v1alpha1 -> ferrycd.io/v1alpha1" in result.err
    assert "converted: finalizer resources-finalizer.argocd.argoproj.io" in result.err
    created = json.loads(admin_cli.ok("app", "get", "cli-argo", "-o", "json"))
    assert created["spec"]["syncPolicy"]["syncOptions"] == ["CreateNamespace=true"]
    assert created["metadata"]["finalizers"] == ["ferrycd.io/resources-finalizer"]
    admin_cli.fails(2, "app", "create", "cli-argo", "-f", str(path))
    path.write_text(yaml.safe_dump({**manifest, "kind": "ApplicationSet"}))
    assert "kind must be Application" in admin_cli.fails(20, "app", "create", "-f", str(path))
    admin_cli.ok("app", "delete", "cli-argo", "-y", "--cascade=false")


def test_admin_import_of_an_argo_cd_export(
    admin_cli: Ferry, git_http: HttpServer, git_repo: Callable[[str], GitRepo], namespace: str, tmp_path: Path
) -> None:
    """``kubectl get -n argocd applications,appprojects,secrets,configmaps -o yaml`` in, ferry's
    repositories, projects and applications out, with a line for everything else."""
    repo = git_repo("cli-import")
    repo.commit("init", {"app/cm.yaml": yaml.safe_dump(cm("imported"))})
    url = git_http.git_url(repo.name)

    def b64(value: str) -> str:
        return base64.b64encode(value.encode()).decode()

    argo = "argoproj.io/v1alpha1"
    app: dict[str, Any] = {
        "apiVersion": argo,
        "kind": "Application",
        "metadata": {"name": "cli-imported", "namespace": "argocd", "uid": "u-1", "resourceVersion": "5"},
        "spec": {
            "project": "cli-imported",
            "source": {"repoURL": url, "path": "app", "targetRevision": "HEAD"},
            "destination": {"server": IN_CLUSTER, "namespace": namespace},
        },
        "status": {"sync": {"status": "Synced"}},
    }
    items = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": "repo-cli-import",
                "namespace": "argocd",
                "labels": {"argocd.argoproj.io/secret-type": "repository"},
            },
            "data": {"url": b64(url), "username": b64(GIT_USER), "password": b64(GIT_PASSWORD)},
        },
        app,
        {**app, "metadata": {"name": "cli-orphan"}, "spec": {**app["spec"], "project": "no-such-project"}},
        {
            "apiVersion": argo,
            "kind": "AppProject",
            "metadata": {"name": "cli-imported", "namespace": "argocd"},
            "spec": {
                "sourceRepos": [url],
                "destinations": [{"server": IN_CLUSTER, "namespace": namespace}],
                "signatureKeys": [{"keyID": "4AEE18F83AFDEB23"}],
            },
        },
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "argocd-cm"}, "data": {"url": "x"}},
    ]
    export = tmp_path / "argocd.yaml"
    export.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}))

    dry = admin_cli.ok("admin", "import", str(export), "--dry-run")
    assert dry.splitlines()[0].split() == ["would", "import", "Secret", "repo-cli-import", "(repository)"]
    assert "4 would be imported, 1 skipped, 0 failed" in dry
    assert "not found" in admin_cli.fails(20, "app", "get", "cli-imported")

    result = admin_cli.run("admin", "import", str(export))
    try:
        assert result.code == 20, result.err
        lines = [line.split() for line in result.out.splitlines()]
        outcomes = [line[:3] for line in lines if line and line[0] in ("imported", "failed", "skipped")]
        assert outcomes == [
            ["imported", "Secret", "repo-cli-import"],
            ["imported", "AppProject", "cli-imported"],
            ["imported", "Application", "cli-imported"],
            ["failed", "Application", "cli-orphan"],
            ["skipped", "ConfigMap", "argocd-cm"],
        ]
        assert "not carried over: spec.signatureKeys" in result.out
        assert "no-such-project" in result.out
        assert "converted: apiVersion argoproj.io/v1alpha1 -> ferrycd.io/v1alpha1" in result.out
        assert "3 imported, 1 skipped, 1 failed" in result.out
        assert result.err.strip() == "ferry: 1 object(s) could not be imported (see above)"
        imported = json.loads(admin_cli.ok("app", "get", "cli-imported", "-o", "json"))
        assert imported["spec"]["project"] == "cli-imported"
        project = yaml.safe_load(admin_cli.ok("proj", "get", "cli-imported", "-o", "yaml"))
        assert project["spec"]["sourceRepos"] == [url]
        got = json.loads(admin_cli.ok("repo", "get", url, "-o", "json"))
        assert got["hasCredentials"] is True
    finally:
        admin_cli.run("app", "delete", "cli-imported", "-y", "--cascade=false")
        admin_cli.run("proj", "delete", "cli-imported", "-y")
        admin_cli.run("repo", "rm", url)


def test_resource_actions(
    admin_cli: Ferry, git_repo: Callable[[str], GitRepo], namespace: str, kube: k8s.ApiClient, tmp_path: Path
) -> None:
    """ferry app actions list|run (Argo CD's resource actions) on a synced app's Deployment and
    CronJob, against the live objects; RBAC action/<group>/<kind>/<action> decides who may."""
    cronjob = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "nightly"},
        "spec": {
            "schedule": "0 3 * * *",
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}
                    }
                }
            },
        },
    }
    repo = git_repo("cli-actions")
    repo.commit(
        "init", {"app/web.yaml": yaml.safe_dump(deployment("web")), "app/cron.yaml": yaml.safe_dump(cronjob)}
    )
    cli = admin_cli
    cli.ok(
        "app", "create", "cli-actions", "--repo", f"file://{repo.bare}", "--path", "app",
        "--dest-server", IN_CLUSTER, "--dest-namespace", namespace,
    )  # fmt: skip
    try:
        cli.ok("app", "sync", "cli-actions", "--timeout", "120")
        rows = table_rows(cli.ok("app", "actions", "list", "cli-actions", "--kind", "Deployment"))
        assert rows == [
            ["GROUP", "KIND", "NAME", "ACTION", "DISABLED"],
            ["apps", "Deployment", "web", "restart", "false"],
            ["apps", "Deployment", "web", "pause", "false"],
            ["apps", "Deployment", "web", "resume", "true"],
        ]
        assert cli.ok("app", "actions", "run", "cli-actions", "restart", "--kind", "Deployment").strip() == (
            "action 'restart' run on Deployment/web"
        )
        live: dict[str, Any] = kube.sanitize_for_serialization(
            k8s.AppsV1Api(kube).read_namespaced_deployment("web", namespace)
        )
        assert "kubectl.kubernetes.io/restartedAt" in live["spec"]["template"]["metadata"]["annotations"]
        assert "not available on Deployment web now" in cli.fails(
            20, "app", "actions", "run", "cli-actions", "resume", "--kind", "Deployment"
        )
        assert "has no action 'scale'" in cli.fails(
            20, "app", "actions", "run", "cli-actions", "scale", "--kind", "Deployment"
        )

        cli.ok("app", "actions", "run", "cli-actions", "create-job", "--kind", "CronJob", "--group", "batch")
        jobs: dict[str, Any] = kube.sanitize_for_serialization(
            k8s.BatchV1Api(kube).list_namespaced_job(namespace)
        )
        [job] = [j["metadata"] for j in jobs["items"] if j["metadata"]["name"].startswith("nightly-")]
        assert job["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
        assert [o["kind"] for o in job["ownerReferences"]] == ["CronJob"]
        cli.ok("app", "actions", "run", "cli-actions", "suspend", "--kind", "CronJob")
        cron: dict[str, Any] = kube.sanitize_for_serialization(
            k8s.BatchV1Api(kube).read_namespaced_cron_job("nightly", namespace)
        )
        assert cron["spec"]["suspend"] is True

        # a custom action in ferry-cm, Argo CD's format: it replaces the Deployment's built-ins
        scale_down = (
            "discovery.lua: |\n  return {['scale-down'] = {disabled = obj.spec.replicas == 0}}\n"
            "definitions:\n- name: scale-down\n  action.lua: |\n    obj.spec.replicas = 0\n    return obj\n"
        )
        key = "resource.customizations.actions.apps_Deployment"
        core = k8s.CoreV1Api(kube)
        core.patch_namespaced_config_map("ferry-cm", CONTROL_NS, {"data": {key: scale_down}})
        try:
            deadline = time.monotonic() + 60  # until the server's watch of ferry-cm has it
            listed = ""
            while "scale-down" not in listed and time.monotonic() < deadline:
                listed = cli.ok("app", "actions", "list", "cli-actions", "--kind", "Deployment")
                time.sleep(0.5)
            assert [row[3] for row in table_rows(listed)[1:]] == ["scale-down"]
            cli.ok("app", "actions", "run", "cli-actions", "scale-down", "--kind", "Deployment")
            scaled: dict[str, Any] = kube.sanitize_for_serialization(
                k8s.AppsV1Api(kube).read_namespaced_deployment("web", namespace)
            )
            assert scaled["spec"]["replicas"] == 0
        finally:
            core.patch_namespaced_config_map("ferry-cm", CONTROL_NS, {"data": {key: None}})

        # a project token that may get but not run actions
        cli.ok("proj", "role", "create", "default", "cli-viewer")
        cli.ok("proj", "role", "add-policy", "default", "cli-viewer", "-a", "get", "-o", "*")
        token = cli.ok("proj", "role", "create-token", "default", "cli-viewer", "-e", "1h", "-t").strip()
        viewer = Ferry(tmp_path / "viewer-home", cli.server)
        flags = ["--server", cli.server, "--insecure", "--auth-token", token]
        assert "restart" in viewer.ok(*flags, "app", "actions", "list", "cli-actions", "--kind", "Deployment")
        denied = viewer.fails(
            20, *flags, "app", "actions", "run", "cli-actions", "restart", "--kind", "Deployment"
        )
        assert "cannot action/apps/Deployment/restart applications default/cli-actions" in denied
    finally:
        cli.run("proj", "role", "delete", "default", "cli-viewer")
        cli.run("app", "delete", "cli-actions", "-y")


# --- repositories, clusters, projects, accounts -----------------------------------------------------


def test_repository_commands(
    admin_cli: Ferry, git_http: HttpServer, git_repo: Callable[[str], GitRepo], tmp_path: Path
) -> None:
    repo = git_repo("cli-private")
    repo.commit("init", {"app/cm.yaml": yaml.safe_dump(cm("x"))})
    url = git_http.git_url(repo.name)
    assert "access denied" in admin_cli.fails(
        20, "repo", "add", url, "--username", GIT_USER, "--password", "wrong"
    )
    assert admin_cli.ok("repo", "add", url, "--username", GIT_USER, "--password", GIT_PASSWORD).strip() == (
        f"Repository '{url}' added"
    )
    rows = table_rows(admin_cli.ok("repo", "list", "--refresh"))
    assert rows[0] == ["TYPE", "NAME", "REPO", "INSECURE", "CREDS", "STATUS", "MESSAGE", "PROJECT"]
    assert ["git", "", url, "false", "true", "Successful"] in [row[:6] for row in rows]
    assert url in admin_cli.ok("repo", "list", "-o", "url").split()
    got = json.loads(admin_cli.ok("repo", "get", url, "-o", "json"))
    assert got["repo"] == url
    assert got["hasCredentials"] is True
    assert GIT_PASSWORD not in admin_cli.ok("repo", "get", url, "-o", "yaml")
    assert admin_cli.ok("repo", "rm", url).strip() == f"Repository '{url}' removed"
    assert "not found" in admin_cli.fails(20, "repo", "get", url)
    assert "--ssh-private-key-path" in admin_cli.fails(
        2, "repo", "add", "ssh://git@127.0.0.1/x.git", "--ssh-private-key-path", str(tmp_path / "missing")
    )


def test_cluster_add_creates_a_service_account_and_registers_the_cluster(
    admin_cli: Ferry, second_plane: ControlPlane
) -> None:
    server = second_plane.server
    add = [
        "cluster",
        "add",
        second_plane.name,
        "--kubeconfig",
        str(second_plane.kubeconfig),
        "--name",
        "cli-second",
        "--label",
        "env=test",
    ]
    assert "add -y" in admin_cli.fails(2, *add)
    added = admin_cli.run(*add, "-y")
    assert added.code == 0, added.err
    assert added.out.strip() == f"Cluster '{server}' added"
    assert 'ServiceAccount "ferry-manager" created' in added.err
    second = api_client(second_plane)
    account = k8s.CoreV1Api(second).read_namespaced_service_account("ferry-manager", "kube-system")
    assert account.metadata is not None
    assert account.metadata.name == "ferry-manager"
    binding = k8s.RbacAuthorizationV1Api(second).read_cluster_role_binding("ferry-manager-role-binding")
    assert [s.name for s in binding.subjects or []] == ["ferry-manager"]
    try:
        rows = table_rows(admin_cli.ok("cluster", "list"))
        assert rows[0] == ["SERVER", "NAME", "VERSION", "STATUS", "MESSAGE", "APPS"]
        mine = next(row for row in rows if row[0] == server)
        assert mine[1:4] == ["cli-second", mine[2], "Successful"]
        assert mine[2].startswith("v1.")
        got = json.loads(admin_cli.ok("cluster", "get", "cli-second", "-o", "json"))
        assert got["labels"] == {"env": "test"}
        assert got["hasCredentials"] is True
        assert "bearerToken" not in json.dumps(got)
        assert "env=test" in admin_cli.ok("cluster", "get", server, "-o", "wide")
        # again: the objects exist already, --upsert replaces the registration
        again = admin_cli.run(*add, "-y", "--upsert")
        assert again.code == 0
        assert 'ServiceAccount "ferry-manager" already exists' in again.err
    finally:
        assert admin_cli.ok("cluster", "rm", server, "-y").strip() == f"Cluster '{server}' removed"
    assert server not in admin_cli.ok("cluster", "list", "-o", "server").split()
    assert "no context" in admin_cli.fails(
        2, "cluster", "add", "nope", "--kubeconfig", str(second_plane.kubeconfig), "-y"
    )


def test_project_commands_and_role_tokens(admin_cli: Ferry, tmp_path: Path) -> None:
    cli = admin_cli
    created = cli.ok(
        "proj",
        "create",
        "cli-team",
        "-d",
        "the team",
        "--dest",
        f"{IN_CLUSTER},team-*",
        "--src",
        "https://example.com/*",
    )
    assert created.strip() == "project 'cli-team' created"
    try:
        cli.ok("proj", "add-destination", "cli-team", IN_CLUSTER, "shared")
        cli.ok("proj", "add-source", "cli-team", "https://git.example.com/*")
        assert "already allows" in cli.fails(2, "proj", "add-source", "cli-team", "https://git.example.com/*")
        spec = yaml.safe_load(cli.ok("proj", "get", "cli-team", "-o", "yaml"))["spec"]
        assert spec["destinations"] == [
            {"server": IN_CLUSTER, "namespace": "team-*"},
            {"server": IN_CLUSTER, "namespace": "shared"},
        ]
        assert spec["sourceRepos"] == ["https://example.com/*", "https://git.example.com/*"]
        cli.ok("proj", "remove-source", "cli-team", "https://example.com/*")
        cli.ok("proj", "remove-destination", "cli-team", IN_CLUSTER, "team-*")
        shown = cli.ok("proj", "get", "cli-team")
        assert "Description:               the team" in shown
        rows = table_rows(cli.ok("proj", "list"))
        assert rows[0] == ["NAME", "DESCRIPTION", "DESTINATIONS", "SOURCES", "ROLES"]
        assert "cli-team" in cli.ok("proj", "list", "-o", "name").split()

        cli.ok("proj", "role", "create", "cli-team", "ci", "--description", "pipelines")
        cli.ok("proj", "role", "add-policy", "cli-team", "ci", "-a", "get", "-o", "*")
        assert table_rows(cli.ok("proj", "role", "list", "cli-team"))[1] == ["ci", "pipelines"]
        token = cli.ok("proj", "role", "create-token", "cli-team", "ci", "-e", "1h", "-t").strip()
        as_ci = Ferry(tmp_path / "ci-home", cli.server)
        flags = ["--server", cli.server, "--insecure", "--auth-token", token]
        assert (
            as_ci.ok(*flags, "account", "can-i", "get", "applications", "cli-team/anything").strip() == "yes"
        )
        assert (
            as_ci.ok(*flags, "account", "can-i", "sync", "applications", "cli-team/anything").strip() == "no"
        )
        assert as_ci.ok(*flags, "app", "list", "-o", "name") == ""
        assert "has no role" in cli.fails(2, "proj", "role", "delete", "cli-team", "nope")
        cli.ok("proj", "role", "delete", "cli-team", "ci")
        assert "project role" in as_ci.fails(20, *flags, "app", "list")
    finally:
        assert "add -y" in cli.fails(2, "proj", "delete", "cli-team")
        cli.ok("proj", "delete", "cli-team", "-y")
    assert "not found" in cli.fails(20, "proj", "get", "cli-team")


def test_project_sync_window_commands(admin_cli: Ferry, web_repo: GitRepo, namespace: str) -> None:
    cli = admin_cli
    cli.ok("proj", "create", "cli-windows", "--dest", f"{IN_CLUSTER},*", "--src", "*")
    try:
        added = cli.ok(
            "proj", "windows", "add", "cli-windows", "--kind", "deny", "--schedule", "* * * * *",
            "--duration", "24h", "--applications", "web-*,api", "--namespaces", "prod",
        )  # fmt: skip
        assert added.strip() == "sync window 0 added to project 'cli-windows'"
        cli.ok(
            "proj", "windows", "add", "cli-windows", "-k", "allow", "--schedule", "0 22 * * *",
            "--duration", "1h", "--clusters", "in-cluster", "--time-zone", "Europe/Amsterdam",
            "--manual-sync",
        )  # fmt: skip
        rows = table_rows(cli.ok("proj", "windows", "list", "cli-windows"))
        assert rows[0] == [
            "ID", "STATUS", "KIND", "SCHEDULE", "DURATION", "APPLICATIONS", "NAMESPACES", "CLUSTERS",
            "MANUALSYNC", "TIMEZONE", "USEANDOPERATOR",
        ]  # fmt: skip
        assert rows[1] == [
            "0", "Active", "deny", "* * * * *", "24h", "web-*,api", "prod", "-", "Disabled", "UTC", "Disabled"
        ]  # fmt: skip
        assert rows[2][2:] == [
            "allow", "0 22 * * *", "1h", "-", "-", "in-cluster", "Enabled", "Europe/Amsterdam", "Disabled"
        ]  # fmt: skip
        # an app the deny window applies to: app get shows the state, a sync is refused
        cli.ok(
            "app", "create", "web-windows", "--project", "cli-windows", "--repo", f"file://{web_repo.bare}",
            "--path", "app", "--dest-server", IN_CLUSTER, "--dest-namespace", namespace,
        )  # fmt: skip
        shown = cli.ok("app", "get", "web-windows")
        assert "SyncWindow:         Sync Denied" in shown
        assert "Assigned Windows:   deny:* * * * *:24h" in shown
        refused = cli.fails(20, "app", "sync", "web-windows")
        assert "Cannot sync: Blocked by sync window deny:* * * * *:24h" in refused
        cli.ok("app", "delete", "web-windows", "-y", "--cascade=false")
        cli.ok("proj", "windows", "enable-manual-sync", "cli-windows", "0")
        cli.ok("proj", "windows", "disable-manual-sync", "cli-windows", "1")
        cli.ok("proj", "windows", "update", "cli-windows", "1", "--duration", "2h")
        windows = json.loads(cli.ok("proj", "windows", "list", "cli-windows", "-o", "json"))
        assert [(w.get("manualSync", False), w["duration"]) for w in windows] == [
            (True, "24h"),
            (False, "2h"),
        ]
        # the server checks what the CLI passes on, and says what to fix
        bad = cli.fails(
            20, "proj", "windows", "add", "cli-windows", "-k", "deny", "--schedule", "0 22 * *",
            "--duration", "1h", "--applications", "*",
        )  # fmt: skip
        assert "project.spec.syncWindows[2]: cannot parse schedule '0 22 * *'" in bad
        assert "not found" in cli.fails(2, "proj", "windows", "delete", "cli-windows", "5")
        cli.ok("proj", "windows", "delete", "cli-windows", "0")
        windows = json.loads(cli.ok("proj", "windows", "list", "cli-windows", "-o", "json"))
        assert [w["kind"] for w in windows] == ["allow"]
    finally:
        cli.ok("proj", "delete", "cli-windows", "-y")


def test_account_commands(admin_cli: Ferry, kube: k8s.ApiClient, tmp_path: Path) -> None:
    cli = admin_cli
    rows = table_rows(cli.ok("account", "list"))
    assert rows[0] == ["NAME", "ENABLED", "CAPABILITIES"]
    assert ["robot", "true", "apiKey, login"] in rows
    assert {"admin", "alice", "robot"} <= set(cli.ok("account", "list", "-o", "name").split())
    assert "Name:         admin" in cli.ok("account", "get")
    assert json.loads(cli.ok("account", "get", "--account", "robot", "-o", "json"))["name"] == "robot"
    assert cli.ok("account", "can-i", "delete", "applications", "default/x").strip() == "yes"

    token = cli.ok("account", "generate-token", "--account", "robot", "--id", "cli-robot").strip()
    robot = Ferry(tmp_path / "robot-home", cli.server)
    flags = ["--server", cli.server, "--insecure", "--auth-token", token]
    assert robot.ok(*flags, "account", "can-i", "sync", "applications", "default/x").strip() == "no"
    robot_tokens = json.loads(cli.ok("account", "get", "-a", "robot", "-o", "json"))["tokens"]
    assert "cli-robot" in [t["id"] for t in robot_tokens]
    cli.ok("account", "delete-token", "cli-robot", "--account", "robot")
    assert "API token was deleted" in robot.fails(20, *flags, "app", "list")

    # admin resets alice's password; alice logs in with it and changes it herself
    cli.ok(
        "account",
        "update-password",
        "--account",
        "alice",
        "--new-password",
        "cli-alice-1",
        "--current-password",
        admin_password(kube),
    )
    alice = Ferry(tmp_path / "alice-home", cli.server)
    alice.login("alice", "cli-alice-1")
    assert "--new-password is required" in alice.fails(2, "account", "update-password")
    alice.fails(
        20, "account", "update-password", "--current-password", "wrong", "--new-password", "cli-alice-2"
    )
    alice.ok(
        "account", "update-password", "--current-password", "cli-alice-1", "--new-password", "cli-alice-2"
    )
    alice.login("alice", "cli-alice-2")
    assert alice.ok("account", "can-i", "sync", "applications", "default/x").strip() == "yes"
    assert alice.ok("account", "can-i", "delete", "applications", "default/x").strip() == "no"


def test_sync_on_a_terminal_redraws_progress_in_colour(
    admin_cli: Ferry, web_repo: GitRepo, namespace: str
) -> None:
    admin_cli.ok(
        "app",
        "create",
        "cli-tty",
        "--repo",
        f"file://{web_repo.bare}",
        "--path",
        "app",
        "--dest-server",
        IN_CLUSTER,
        "--dest-namespace",
        namespace,
    )
    try:
        shown = admin_cli.run_on_terminal("app", "sync", "cli-tty", "--timeout", "120")
        assert shown.code == 0, shown
        assert "Phase: " in shown.out  # the live block
        assert "\x1b[" in shown.out
        assert "F\x1b[J" in shown.out
        assert "\x1b[32mSucceeded" in shown.out  # in colour
        plain = admin_cli.run_on_terminal("app", "sync", "cli-tty", "--timeout", "120", env={"NO_COLOR": "1"})
        assert plain.code == 0, plain
        assert "Succeeded" in plain.out
        assert "\x1b[32m" not in plain.out
    finally:
        admin_cli.ok("app", "delete", "cli-tty", "-y")


def test_logs_of_an_application_and_of_one_resource(
    admin_cli: Ferry, git_repo: Callable[[str], GitRepo], namespace: str, workload_plane: ControlPlane
) -> None:
    repo = git_repo("cli-logs")
    repo.commit(
        "web", {"app/web.yaml": yaml.safe_dump(deployment("web")), "app/cm.yaml": yaml.safe_dump(cm("c"))}
    )
    workload_plane.set_pod_logs(namespace, ["starting web", "listening on :8080"])
    admin_cli.ok(
        "app",
        "create",
        "cli-logs",
        "--repo",
        f"file://{repo.bare}",
        "--path",
        "app",
        "--dest-server",
        IN_CLUSTER,
        "--dest-namespace",
        namespace,
    )
    try:
        admin_cli.ok("app", "sync", "cli-logs", "--timeout", "120")
        admin_cli.ok("app", "wait", "cli-logs", "--health", "--timeout", "120")
        assert admin_cli.ok("app", "logs", "cli-logs").splitlines() == ["starting web", "listening on :8080"]
        assert admin_cli.ok(
            "app", "logs", "cli-logs", "--kind", "Deployment", "--name", "web", "--tail", "1"
        ) == ("listening on :8080\n")
        assert admin_cli.ok("app", "logs", "cli-logs", "--filter", "listen") == "listening on :8080\n"
        assert "is not part of application" in admin_cli.fails(
            20, "app", "logs", "cli-logs", "--kind", "Deployment", "--name", "api"
        )
        # -f keeps streaming what the pod writes next
        follow = subprocess.Popen(
            [FERRY, "app", "logs", "cli-logs", "-f"], stdout=subprocess.PIPE, text=True, env=admin_cli.env
        )
        try:
            assert follow.stdout is not None
            assert follow.stdout.readline() == "starting web\n"
            assert follow.stdout.readline() == "listening on :8080\n"
            workload_plane.append_pod_logs(namespace, ["request served"])
            assert follow.stdout.readline() == "request served\n"
        finally:
            follow.kill()
            follow.wait()
    finally:
        admin_cli.ok("app", "delete", "cli-logs", "-y")

"""``make run``: from nothing to a synced, healthy sample app (and one rendered by the example
config management plugin), then Ctrl-C stops everything. The
mesh it starts is locked: the repo server speaks TLS only (a plaintext client gets nothing, a
client with its CA lists its services), Redis speaks TLS only and refuses clients without the
password."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from ferry_devenv.servers import CHECKOUT
from ferry_devenv.tools import tool

FERRY = str(Path(sys.executable).parent / "ferry")


def assert_mesh_is_locked(ready: dict[str, str]) -> None:
    grpcurl = str(tool("grpcurl"))
    plaintext = subprocess.run(
        [grpcurl, "-plaintext", ready["reposerver"], "list"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert plaintext.returncode != 0, plaintext.stdout
    listed = subprocess.run(
        [grpcurl, "-cacert", ready["reposerver_ca"], ready["reposerver"], "list"],
        capture_output=True,
        check=False,
        text=True,
        timeout=30,
    )
    assert "ferry.v1.RepoService" in listed.stdout.split(), listed.stderr
    if not ready["redis"]:
        return  # redis-server is not installed here: the components use in-process caches
    assert ready["redis"].startswith("rediss://"), ready["redis"]
    with pytest.raises(redis.AuthenticationError):
        redis.Redis.from_url(ready["redis"], ssl_ca_certs=ready["redis_ca"], socket_timeout=10).ping()
    with pytest.raises(redis.ConnectionError):  # not TLS: the connection is dropped
        redis.Redis.from_url(ready["redis"].replace("rediss://", "redis://"), socket_timeout=10).ping()


def children_of(pid: int) -> set[int]:
    """Live processes whose parent is ``pid``."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def test_make_run_starts_everything_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    # started as a shell's background job is: SIGINT ignored, which the child inherits; Ctrl-C
    # (SIGINT below) must stop it all the same
    inherited = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ferry_devenv.run", "--port", "0", "--http-port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=CHECKOUT,  # ferry_devenv is not installed: `python -m` finds it in the checkout
        )
    finally:
        signal.signal(signal.SIGINT, inherited)
    assert proc.stdout is not None
    output = []
    try:
        deadline = time.monotonic() + 240
        ready = None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            output.append(line)
            if line.startswith("READY "):
                ready = json.loads(line.removeprefix("READY "))
                break
        assert ready is not None, "".join(output)
        text = "".join(output)
        assert "ferry login" in text
        assert ready["password"] in text
        children = children_of(proc.pid)
        # control plane (etcd, apiserver, controller-manager, scheduler, kwok), redis, 3 components, git
        assert len(children) >= 10, children

        cli_env = {**env, "XDG_CONFIG_HOME": str(tmp_path)}
        login = [
            FERRY,
            "login",
            ready["server"],
            "--insecure",
            "--username",
            "admin",
            "--password",
            ready["password"],
        ]
        subprocess.run(login, check=True, env=cli_env, capture_output=True, timeout=60)
        shown = subprocess.run(
            [FERRY, "app", "get", "guestbook", "-o", "json"],
            check=True,
            env=cli_env,
            capture_output=True,
            timeout=60,
        )
        status = json.loads(shown.stdout)["status"]
        assert status["sync"]["status"] == "Synced"
        assert status["health"]["status"] == "Healthy"
        kinds = sorted(r["kind"] for r in status["resources"])
        assert kinds == ["ConfigMap", "Deployment", "Service"]
        # the example config management plugin rendered the second app
        plugin_app = subprocess.run(
            [FERRY, "app", "get", "guestbook-env", "-o", "json"],
            check=True,
            env=cli_env,
            capture_output=True,
            timeout=60,
        )
        shown_app = json.loads(plugin_app.stdout)
        assert shown_app["spec"]["source"]["plugin"]["name"] == "env-configmap-v1.0"
        assert shown_app["status"]["sync"]["status"] == "Synced"
        assert [r["kind"] for r in shown_app["status"]["resources"]] == ["ConfigMap"]
        api = k8s_config.new_client_from_config(config_file=ready["kubeconfig"])
        with api:
            generated = k8s.CoreV1Api(api).read_namespaced_config_map("guestbook-env", "guestbook")
        assert (generated.data or {})["GREETING"] == "hello from a plugin"
        assert_mesh_is_locked(ready)
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=120)
        output.append(rest)
    assert proc.returncode == 0, "".join(output)
    assert "stopping control plane" in "".join(output)
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists()]

"""The development environment leaves nothing behind: stop() ends every process and removes its
files, and when the owning process is killed outright its children die with it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from kubernetes import client as k8s

from ferry_devenv.controlplane import ControlPlane
from tests.conftest import api_client

_OWNER = """
import json, time
from ferry_devenv.controlplane import ControlPlane
plane = ControlPlane("orphan-check").start()
pids = [p.pid for p in plane.processes.values()]
print(json.dumps({"pids": pids, "workdir": str(plane.workdir)}), flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is not running; its parent (here: init) reaps it.
    state = Path(f"/proc/{pid}/stat").read_text().split()[2] if Path(f"/proc/{pid}/stat").exists() else "X"
    return state != "Z"


def test_children_die_when_their_owner_is_killed() -> None:
    owner = subprocess.Popen([sys.executable, "-c", _OWNER], stdout=subprocess.PIPE, text=True)
    assert owner.stdout is not None
    started = json.loads(owner.stdout.readline())
    assert all(_alive(pid) for pid in started["pids"])
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    deadline = time.monotonic() + 15
    while any(_alive(pid) for pid in started["pids"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in started["pids"])
    # The next environment sweeps the dead owner's directory.
    ControlPlane("sweeper").stop()
    assert not Path(started["workdir"]).exists()


def test_stop_ends_processes_and_removes_files() -> None:
    plane = ControlPlane("stop-check").start()
    pids = [p.pid for p in plane.processes.values() if p.pid]
    plane.stop()
    assert not any(_alive(pid) for pid in pids)
    assert not plane.workdir.exists()


def test_second_cluster_is_independent(kube: k8s.ApiClient, second_plane: ControlPlane) -> None:
    other = api_client(second_plane)
    k8s.CoreV1Api(other).create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name="only-in-second")))
    here = {ns["metadata"]["name"] for ns in k8s.CoreV1Api(kube).list_namespace().to_dict()["items"]}
    there = {ns["metadata"]["name"] for ns in k8s.CoreV1Api(other).list_namespace().to_dict()["items"]}
    other.close()
    assert "only-in-second" in there
    assert "only-in-second" not in here

"""Two controller processes with ``--shards 2`` split two clusters (the control plane in-cluster and
a second plane registered as a cluster secret): each shard's Lease is held by a different
controller, each cluster is reconciled (and written to) by exactly one of them, counted by the
controllers' metrics and by the API servers' audit logs. SIGKILL one: its shard's Lease moves to
the survivor within the lease duration (plus a renew period) and the orphaned app follows Git
again. SIGTERM the survivor: it releases its Leases."""

from __future__ import annotations

import base64
import datetime
import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s
from prometheus_client.parser import text_string_to_metric_families

from controller.sharding import lease_name, shard_of
from ferry.kube.config import ClusterConfig
from ferry.settings import IN_CLUSTER_SERVER
from ferry_devenv.controlplane import ControlPlane
from ferry_devenv.gitrepo import GitRepo
from tests.conftest import (
    GROUP,
    VERSION,
    RunningServer,
    api_client,
)
from tests.e2e.conftest import Deployed

NS = "ferry-shards"
FAR_NS = "sharded-far"
LEASE_SECONDS, RENEW_SECONDS = 6, 1.0
IDS = ("shard-ctl-a", "shard-ctl-b")
NEAR_SHARD = shard_of(IN_CLUSTER_SERVER, 2)
FAR_SHARD = 1 - NEAR_SHARD  # the second cluster's secret pins it to the other shard


def controller(
    deployed: Deployed, plane: ControlPlane, reposerver: RunningServer, identity: str
) -> RunningServer:
    return deployed.controller(
        plane,
        NS,
        reposerver.address,
        "--shards",
        "2",
        "--shard-id",
        identity,
        "--lease-duration",
        str(LEASE_SECONDS),
        "--lease-renew-period",
        str(RENEW_SECONDS),
        "--loglevel",
        "debug",
    )


@pytest.fixture
def shard_namespace(kube: k8s.ApiClient) -> Iterator[str]:
    core = k8s.CoreV1Api(kube)
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=NS)))
    yield NS
    core.delete_namespace(NS)


@pytest.fixture
def far_cluster(second_plane: ControlPlane) -> Iterator[k8s.ApiClient]:
    other = api_client(second_plane)
    core = k8s.CoreV1Api(other)
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=FAR_NS)))
    yield other
    core.delete_namespace(FAR_NS)
    other.close()


def holders(kube: k8s.ApiClient) -> dict[int, str]:
    """Shard -> holder identity ("" when free or missing)."""
    found: dict[int, str] = {}
    for shard in range(2):
        try:
            lease = k8s.CoordinationV1Api(kube).read_namespaced_lease(lease_name(shard), NS)
        except k8s.ApiException as err:
            if err.status != 404:
                raise
            found[shard] = ""
            continue
        found[shard] = (lease.spec.holder_identity if lease.spec else None) or ""
    return found


def wait_for(check: Callable[[], bool], *, timeout: float, what: str) -> float:
    """Polls ``check``; returns the seconds it took."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, f"timed out waiting for {what}"
        time.sleep(0.2)
    return time.monotonic() - started


def register_far_cluster(kube: k8s.ApiClient, plane: ControlPlane) -> str:
    target = ClusterConfig.from_kubeconfig(plane.kubeconfig)
    config = {
        "bearerToken": target.token,
        "tlsClientConfig": {"caData": base64.b64encode(target.ca_data).decode()},
    }
    data = {"name": "two", "server": target.server, "config": json.dumps(config), "shard": str(FAR_SHARD)}
    body = k8s.V1Secret(
        metadata=k8s.V1ObjectMeta(name="cluster-two", labels={"ferrycd.io/secret-type": "cluster"}),
        data={k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    )
    k8s.CoreV1Api(kube).create_namespaced_secret(NS, body)
    return target.server


def configmap(name: str, version: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"version": version}}


def own_requests(plane: ControlPlane, since: str, identity: str = "") -> list[dict[str, Any]]:
    """Audit events of the sharded controllers (their user agent names them) since ``since``."""
    return [
        e
        for e in plane.audit_events(user_agent_prefix="ferry-controller")
        if str(e.get("requestReceivedTimestamp", "")) >= since
        and any(str(e.get("userAgent", "")).endswith(f"({i})") for i in ((identity,) if identity else IDS))
    ]


def samples(process: RunningServer, metric: str) -> list[dict[str, str]]:
    """The label sets of a metric's samples on the process's /metrics."""
    with urllib.request.urlopen(process.metrics_url, timeout=10) as resp:
        text = resp.read().decode()
    return [
        dict(sample.labels)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == metric
    ]


def audit_now() -> str:
    """Now, as the audit log writes times (RFC 3339 with microseconds, UTC): they sort as text."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_two_controllers_split_two_clusters_and_take_over_a_dead_ones_shard(
    control_plane: ControlPlane,
    second_plane: ControlPlane,
    reposerver_process: RunningServer,
    deployed: Deployed,
    kube: k8s.ApiClient,
    shard_namespace: str,
    far_cluster: k8s.ApiClient,
    namespace: str,
    git_repo: Callable[[str], GitRepo],
) -> None:
    api = k8s.CustomObjectsApi(kube)
    repo = git_repo("sharded")
    repo.commit(
        "v1",
        {
            "near/cm.yaml": yaml.safe_dump(configmap("near", "v1")),
            "far/cm.yaml": yaml.safe_dump(configmap("far", "v1")),
        },
    )
    far_server = register_far_cluster(kube, second_plane)
    servers = {NEAR_SHARD: IN_CLUSTER_SERVER, FAR_SHARD: far_server}
    running: dict[str, RunningServer] = {}

    def app(name: str) -> dict[str, Any]:
        obj = api.get_namespaced_custom_object(GROUP, VERSION, NS, "applications", name)
        assert isinstance(obj, dict)
        return obj

    def synced_at(name: str, revision: str) -> bool:
        status = app(name).get("status") or {}
        sync = status.get("sync") or {}
        phase = (status.get("operationState") or {}).get("phase")
        return sync.get("status") == "Synced" and sync.get("revision") == revision and phase == "Succeeded"

    def wait_synced(revision: str, *names: str) -> None:
        for name in names:
            wait_for(lambda name=name: synced_at(name, revision), timeout=90, what=f"{name} at {revision}")  # type: ignore[misc]

    def cached_clusters(identity: str) -> set[str]:
        return {s["server"] for s in samples(running[identity], "ferry_cluster_connection_status")}

    try:
        # The first controller alone takes both shards and syncs both apps.
        running[IDS[0]] = controller(deployed, control_plane, reposerver_process, IDS[0])
        wait_for(lambda: set(holders(kube).values()) == {IDS[0]}, timeout=60, what="a holding both shards")
        for name, destination in (
            ("near", {"server": IN_CLUSTER_SERVER, "namespace": namespace}),
            ("far", {"name": "two", "namespace": FAR_NS}),
        ):
            body = {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "Application",
                "metadata": {"name": name, "namespace": NS},
                "spec": {
                    "project": "default",
                    "source": {"repoURL": f"file://{repo.bare}", "path": name, "targetRevision": "HEAD"},
                    "destination": destination,
                    "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
                },
            }
            api.create_namespaced_custom_object(GROUP, VERSION, NS, "applications", body)
        wait_synced(repo.head(), "near", "far")
        assert cached_clusters(IDS[0]) == set(servers.values())

        # The second controller asks for a shard and is handed one; the first drops that cluster.
        running[IDS[1]] = controller(deployed, control_plane, reposerver_process, IDS[1])
        wait_for(lambda: set(holders(kube).values()) == set(IDS), timeout=30, what="one shard each")
        balanced_at = audit_now()
        owner = holders(kube)
        wait_for(  # a controller learns that a shard was handed to it at its next look
            lambda: all(running[i].metric("ferry_controller_shards_held") == 1 for i in IDS),
            timeout=10,
            what="each controller to count one shard",
        )
        v2 = repo.commit(
            "v2",
            {
                "near/cm.yaml": yaml.safe_dump(configmap("near", "v2")),
                "far/cm.yaml": yaml.safe_dump(configmap("far", "v2")),
            },
        )
        wait_synced(v2, "near", "far")
        assert k8s.CoreV1Api(kube).read_namespaced_config_map("near", namespace).data == {"version": "v2"}
        assert k8s.CoreV1Api(far_cluster).read_namespaced_config_map("far", FAR_NS).data == {"version": "v2"}

        # Each cluster is reconciled by exactly one controller, the holder of its shard, which
        # alone keeps a cache of it and reports its apps ...
        before = {
            (i, s): running[i].metric("ferry_app_reconcile_count", dest_server=servers[s])
            for i in IDS
            for s in servers
        }

        def reconciled(identity: str, shard: int) -> float:
            server = servers[shard]
            return (
                running[identity].metric("ferry_app_reconcile_count", dest_server=server)
                - before[(identity, shard)]
            )

        # the quiet period is counted, not timed: two periodic refreshes of each cluster's one app
        # by its shard's holder, during which the other controller must not reconcile it once
        wait_for(
            lambda: all(reconciled(owner[shard], shard) >= 2 for shard in servers),
            timeout=60,
            what="two periodic refreshes of each app by its shard's holder",
        )
        for shard, server in servers.items():
            for identity in IDS:
                if identity != owner[shard]:
                    assert reconciled(identity, shard) == 0, (
                        f"{identity} reconciled the apps of {server}, a shard it does not hold"
                    )
            assert cached_clusters(owner[shard]) == {server}
            reported = {s["name"] for s in samples(running[owner[shard]], "ferry_app_info")}
            assert reported == {"near" if shard == NEAR_SHARD else "far"}, reported
        # ... and only that one talked to it since (the API servers' audit logs name each controller).
        far_talkers = {e["userAgent"] for e in own_requests(second_plane, balanced_at)}
        assert far_talkers, "the second cluster saw no request from the sharded controllers"
        assert all(ua.endswith(f"({owner[FAR_SHARD]})") for ua in far_talkers), far_talkers
        near_talkers = {
            e["userAgent"]
            for e in own_requests(control_plane, balanced_at)
            if (e.get("objectRef") or {}).get("resource") == "configmaps"
            and (e.get("objectRef") or {}).get("namespace") != NS
        }
        assert near_talkers, "no request for the near app's ConfigMap"
        assert all(ua.endswith(f"({owner[NEAR_SHARD]})") for ua in near_talkers), near_talkers

        # SIGKILL the far cluster's controller: its shard moves to the survivor within the lease
        # duration (plus a renew period to notice), and the survivor follows a new commit.
        dead, survivor = owner[FAR_SHARD], owner[NEAR_SHARD]
        running.pop(dead).proc.kill()
        killed_at = audit_now()
        took = wait_for(
            lambda: holders(kube)[FAR_SHARD] == survivor, timeout=LEASE_SECONDS * 4, what="the shard to move"
        )
        assert took <= LEASE_SECONDS + 2 * RENEW_SECONDS + 3, f"the shard moved after {took:.1f}s"
        wait_for(
            lambda: running[survivor].metric("ferry_controller_shards_held") == 2, timeout=5, what="2 held"
        )
        v3 = repo.commit("v3", {"far/cm.yaml": yaml.safe_dump(configmap("far", "v3"))})
        wait_synced(v3, "far")
        assert k8s.CoreV1Api(far_cluster).read_namespaced_config_map("far", FAR_NS).data == {"version": "v3"}
        after = {e["userAgent"] for e in own_requests(second_plane, killed_at)}
        assert after, "the survivor sent nothing to the second cluster"
        assert all(ua.endswith(f"({survivor})") for ua in after), after

        # SIGTERM: the survivor releases its Leases rather than leaving them to expire.
        running.pop(survivor).stop()
        assert holders(kube) == {0: "", 1: ""}
    finally:
        for process in running.values():
            process.stop()
        for name in ("near", "far"):
            try:
                api.delete_namespaced_custom_object(GROUP, VERSION, NS, "applications", name)
            except k8s.ApiException as err:
                if err.status != 404:
                    raise

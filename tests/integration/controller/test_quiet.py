"""A no-op reconcile costs nothing: zero requests to the destination API server and no status
write, counted by the API server itself (audit log by user agent, apiserver_request_total)."""

from __future__ import annotations

from collections.abc import Callable

from ferry_devenv.controlplane import ControlPlane
from ferry_devenv.gitrepo import GitRepo
from tests.conftest import RunningServer
from tests.integration.controller.conftest import Apps, sync_status, wait_periodic_refreshes
from tests.integration.controller.test_compare import MANIFESTS, repo_with


def apiserver_count(plane: ControlPlane, **labels: str) -> float:
    total = 0.0
    for line in plane.metrics().splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def ferry_requests(plane: ControlPlane) -> list[dict[str, object]]:
    return [e for e in plane.audit_events(user_agent_prefix="ferry-controller") if e.get("verb") != "watch"]


def test_no_op_reconciles_send_no_request_and_write_no_status(
    apps: Apps,
    control_plane: ControlPlane,
    controller_process: RunningServer,
    git_repo: Callable[[str], GitRepo],
    namespace: str,
) -> None:
    repo = repo_with(git_repo, MANIFESTS)
    apps.apply_as_ferry("quiet", MANIFESTS, namespace)
    apps.create("quiet", f"file://{repo.bare}", "app", namespace)
    apps.wait("quiet", lambda a: sync_status(a) == "Synced", what="Synced")
    wait_periodic_refreshes(controller_process, apps, 1)  # one after the sync has filled every cache
    requests_before = len(ferry_requests(control_plane))
    dry_runs_before = apiserver_count(control_plane, dry_run="All")
    status_writes_before = apiserver_count(control_plane, resource="applications", subresource="status")
    resource_version = apps.get("quiet")["metadata"]["resourceVersion"]

    wait_periodic_refreshes(controller_process, apps, 3)  # of an unchanged app

    assert ferry_requests(control_plane)[requests_before:] == []
    assert apiserver_count(control_plane, dry_run="All") == dry_runs_before
    assert (
        apiserver_count(control_plane, resource="applications", subresource="status") == status_writes_before
    )
    assert apps.get("quiet")["metadata"]["resourceVersion"] == resource_version
    apps.delete("quiet")

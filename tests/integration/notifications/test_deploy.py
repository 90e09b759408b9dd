"""deploy/components/notifications: it builds with deploy/base, its default catalog parses and
renders, its environment variables are the command's flags, and the controller runs and delivers
with nothing but its own ServiceAccount's Role (least privilege, in a real kube-apiserver)."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest

from ferry_devenv.controlplane import ControlPlane
from notifications.config import parse_config
from notifications.engine import plan, render_notification, variables
from notifications.main import command
from tests.conftest import start_ferry_process
from tests.integration.deploy.test_deploy import kustomize_build, named, service_account_kubeconfig
from tests.integration.notifications.conftest import Cluster, settle, wait_for
from tests.integration.notifications.servers import HttpRecorder

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
COMPONENT = ROOT / "deploy" / "components" / "notifications"
OVERLAY = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - {base}
components:
  - {component}
"""


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    workdir = tmp_path_factory.mktemp("with-notifications")
    (workdir / "kustomization.yaml").write_text(
        OVERLAY.format(
            base=os.path.relpath(ROOT / "deploy" / "base", workdir),
            component=os.path.relpath(COMPONENT, workdir),
        )
    )
    return kustomize_build(workdir)


def test_environment_variables_are_the_commands_flags(build: list[dict[str, Any]]) -> None:
    deployment = named(build, "Deployment", "ferry-notifications-controller")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["ferry-notifications-controller"]
    context = click.Context(
        command, info_name="ferry-notifications-controller", auto_envvar_prefix="FERRY_NOTIFICATIONS"
    )
    flags = {f"{context.auto_envvar_prefix}_{p.name}".upper() for p in command.params if p.name}
    names = {env["name"] for env in container["env"]}
    assert names <= flags, names - flags
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "ferry-notifications-controller"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_default_catalog_parses_and_renders(build: list[dict[str, Any]]) -> None:
    config = parse_config(named(build, "ConfigMap", "ferry-notifications-cm"), {})
    assert config.errors == []
    assert sorted(config.triggers) == [
        "on-created",
        "on-deleted",
        "on-deployed",
        "on-health-degraded",
        "on-sync-failed",
        "on-sync-running",
        "on-sync-status-unknown",
        "on-sync-succeeded",
    ]
    app: dict[str, Any] = {
        "metadata": {
            "name": "web",
            "annotations": {"notifications.argoproj.io/subscribe.on-sync-failed.x": "y"},
        },
        "spec": {"source": {"repoURL": "https://example.com/r.git"}},
        "status": {
            "sync": {"status": "OutOfSync", "revision": "0123456789abcdef"},
            "operationState": {
                "phase": "Failed",
                "message": "one or more objects failed to apply",
                "finishedAt": "2024-05-01T10:00:00Z",
                "syncResult": {
                    "revision": "0123456789abcdef",
                    "resources": [
                        {"kind": "Deployment", "name": "web", "status": "SyncFailed", "message": "bad"}
                    ],
                },
            },
        },
    }
    decided = plan(config, app, None, {})
    assert [d.trigger for d in decided.deliveries] == ["on-sync-failed"]
    for trigger, conditions in config.triggers.items():
        for condition in conditions:
            out = render_notification(config, condition.send, variables(config, app, None, "email"))
            assert out["message"], trigger
            assert out["email"]["subject"].startswith("ferry: "), trigger
    failed = render_notification(config, ("app-sync-failed",), variables(config, app, None, "email"))
    assert "- Deployment/web: bad" in failed["message"]


@pytest.fixture
def webhook() -> Iterator[HttpRecorder]:
    server = HttpRecorder().start()
    yield server
    server.stop()


def test_runs_and_delivers_with_only_its_role(
    build: list[dict[str, Any]],
    control_plane: ControlPlane,
    cluster: Cluster,
    webhook: HttpRecorder,
    tmp_path: Path,
) -> None:
    ns = cluster.ns
    for kind, plural, api in (
        ("ServiceAccount", "serviceaccounts", f"/api/v1/namespaces/{ns}"),
        ("Role", "roles", f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}"),
        ("RoleBinding", "rolebindings", f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}"),
    ):
        obj = copy.deepcopy(named(build, kind, "ferry-notifications-controller"))
        obj["metadata"]["namespace"] = ns
        for subject in obj.get("subjects") or []:
            subject["namespace"] = ns
        status, body = control_plane.request("POST", f"{api}/{plural}", obj)
        assert status == 201, body
    data = dict(named(build, "ConfigMap", "ferry-notifications-cm")["data"])
    data["service.webhook.hook"] = (
        f"url: {webhook.url}/notify\nheaders:\n- name: Authorization\n  value: Bearer $hook-token\n"
    )
    data["context"] = "argocdUrl: https://ferry.example.com\n"
    cluster.apply_settings(data, {"hook-token": "t0ken"})
    cluster.create_app("web", {"notifications.argoproj.io/subscribe.on-sync-succeeded.hook": ""})
    kubeconfig = service_account_kubeconfig(
        control_plane, ns, "ferry-notifications-controller", tmp_path / "kubeconfig"
    )
    proc = start_ferry_process(
        "ferry-notifications-controller",
        [
            "--kubeconfig",
            str(kubeconfig),
            "--namespace",
            ns,
            "--resync-seconds",
            "0.5",
            "--lease-renew-period",
            "1",
        ],
    )
    try:
        wait_for(lambda: proc.metric("ferry_notifications_leader") == 1, "the Lease held")
        cluster.set_status(
            "web",
            {
                "operationState": {
                    "phase": "Succeeded",
                    "finishedAt": "2024-05-01T10:00:07Z",
                    "syncResult": {"revision": "abcdef0123"},
                }
            },
        )
        wait_for(lambda: len(webhook.requests) == 1, "the notification")
        settle()
        assert len(webhook.requests) == 1
        request = webhook.requests[0]
        assert request.headers["authorization"] == "Bearer t0ken"
        assert request.body.decode() == "Sync of web succeeded at 2024-05-01T10:00:07Z (abcdef0)."
        assert len(cluster.notified("web")) == 1
        assert cluster.events("NotificationDelivered")
        log = proc.proc.log_path.read_text()
        assert "forbidden" not in log.lower()
    finally:
        proc.stop()

"""Waves, health and when an operation ends — Argo CD's test/e2e/sync_waves_test.go and
gitops-engine's sync_context_test.go (the multistep, last-wave and prune-order cases), plus the
issue's ordinary apps: a LoadBalancer Service, an Ingress (no controllers for either) end
Succeeded within 10 s of their last apply, their health Progressing, as in Argo CD."""

from __future__ import annotations

from tests.e2e.conformance.conftest import (
    OPTIONS,
    WAVE,
    Scenario,
    cm,
    deployment,
    gauge,
    health,
    message,
    phase,
    result,
    results,
    stamp,
    sync_status,
)

LAST_APPLY_TO_END_SECONDS = 10


def ends_soon_after_last_apply(app: dict[str, object], applied_at: object) -> None:
    finished = stamp(str((app["status"]["operationState"])["finishedAt"]))  # type: ignore[index]
    assert (finished - applied_at).total_seconds() <= LAST_APPLY_TO_END_SECONDS  # type: ignore[operator]


def test_one_progressing_deployment_is_succeeded_and_synced(scenario: Scenario) -> None:
    """TestOneProgressingDeploymentIsSucceededAndSynced: its Pod never gets ready."""
    name, _ = scenario.app("progressing", [deployment("stuck", failing=True)])
    audit = scenario.audit()
    app = scenario.sync_and_finish(name)
    assert phase(app) == "Succeeded"
    assert message(app) == "successfully synced (all tasks run)"
    assert [(r["kind"], r["status"]) for r in results(app)] == [("Deployment", "Synced")]
    assert audit.applied(scenario.namespace) == [("patch", "deployments", "stuck")]
    app = scenario.wait(
        name, lambda a: health(a) == "Progressing" and sync_status(a) == "Synced", what="Progressing"
    )


def test_degraded_deployment_is_succeeded_and_synced(scenario: Scenario) -> None:
    """TestDegradedDeploymentIsSucceededAndSynced: it exceeds its progress deadline."""
    name, _ = scenario.app("degraded", [deployment("doomed", failing=True, progressDeadlineSeconds=1)])
    audit = scenario.audit()
    app = scenario.sync_and_finish(name)
    assert audit.applied(scenario.namespace) == [("patch", "deployments", "doomed")]
    assert phase(app) == "Succeeded"
    assert message(app) == "successfully synced (all tasks run)"
    scenario.wait(name, lambda a: health(a) == "Degraded" and sync_status(a) == "Synced", what="Degraded")


def test_load_balancer_service_without_a_load_balancer(scenario: Scenario) -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "public"},
        "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80}]},
    }
    name, _ = scenario.app("lb", [deployment("web"), service])
    audit = scenario.audit()
    app = scenario.sync_and_finish(name, timeout=60)
    assert phase(app) == "Succeeded", app["status"]["operationState"]
    assert message(app) == "successfully synced (all tasks run)"
    writes = audit.writes(scenario.namespace)
    assert [w.what for w in writes] == [("patch", "services", "public"), ("patch", "deployments", "web")]
    ends_soon_after_last_apply(app, writes[-1].at)
    app = scenario.wait(
        name,
        lambda a: health(a) == "Progressing" and sync_status(a) == "Synced",
        what="Synced and Progressing (no load balancer)",
    )
    service_status = next(r for r in app["status"]["resources"] if r["kind"] == "Service")
    assert service_status["health"]["status"] == "Progressing"


def test_ingress_without_an_ingress_controller(scenario: Scenario) -> None:
    ingress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "site"},
        "spec": {
            "rules": [
                {
                    "host": "site.example.com",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "site", "port": {"number": 80}}},
                            }
                        ]
                    },
                }
            ]
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "site"},
        "spec": {"selector": {"app": "site"}, "ports": [{"port": 80}]},
    }
    name, _ = scenario.app("ingress", [ingress, service, cm("site-config")])
    audit = scenario.audit()
    app = scenario.sync_and_finish(name, timeout=60)
    assert phase(app) == "Succeeded", app["status"]["operationState"]
    writes = audit.writes(scenario.namespace)
    # Argo CD's kind order: ConfigMap, Service, Ingress
    assert [w.what for w in writes] == [
        ("patch", "configmaps", "site-config"),
        ("patch", "services", "site"),
        ("patch", "ingresses", "site"),
    ]
    ends_soon_after_last_apply(app, writes[-1].at)
    app = scenario.wait(
        name,
        lambda a: health(a) == "Progressing" and sync_status(a) == "Synced",
        what="Synced and Progressing (no ingress controller)",
    )
    assert app["status"]["summary"]["externalURLs"] == ["http://site.example.com"]


def test_waves_wait_for_health_and_kinds_without_a_check_do_not(scenario: Scenario) -> None:
    """gitops-engine TestSyncSuccessfully_Multistep: wave 0 holds until its Gauge is Healthy; a
    ConfigMap (no health check) in wave -1 holds nothing; the last wave ends the operation."""
    manifests = [
        cm("first", **{WAVE: "-1"}),
        gauge("slow", "Progressing", **{WAVE: "0"}),
        cm("after", **{WAVE: "1"}),
        gauge("last", "Progressing", **{WAVE: "2"}),
    ]
    name, _ = scenario.app("multistep", manifests)
    audit = scenario.audit()
    scenario.sync(name)
    app = scenario.running(name, "waiting for healthy state of conformance.ferrycd.io/Gauge/slow")
    assert [r["name"] for r in results(app)] == ["first", "slow"]
    assert not scenario.exists("configmaps", "after")
    scenario.set_gauge_status("slow", "Healthy")
    app = scenario.finished(name)
    assert phase(app) == "Succeeded"
    assert message(app) == "successfully synced (all tasks run)"
    assert audit.applied(scenario.namespace) == [
        ("patch", "configmaps", "first"),
        ("patch", "gauges", "slow"),
        ("patch", "configmaps", "after"),
        ("patch", "gauges", "last"),
    ]
    # the last wave's Gauge is still Progressing: that is the app's health, not the operation's
    scenario.wait(name, lambda a: health(a) == "Progressing", what="app health Progressing")


def test_fixing_degraded_app(scenario: Scenario) -> None:
    """TestFixingDegradedApp: a Degraded resource before the last wave fails the operation and the
    next wave is never applied; fixed in Git, the next sync succeeds."""
    name, repo = scenario.app(
        "fixing", [gauge("cm-1", "Degraded", **{WAVE: "1"}), gauge("cm-2", **{WAVE: "2"})]
    )
    app = scenario.sync_and_finish(name)
    assert phase(app) == "Failed"
    assert message(app) == (
        "one or more synchronization tasks completed unsuccessfully, reason: "
        "conformance.ferrycd.io/Gauge/cm-1: spec says Degraded"
    )
    assert [r["name"] for r in results(app)] == ["cm-1"]
    assert result(app, "cm-1")["hookPhase"] == "Failed"
    app = scenario.wait(name, lambda a: health(a) == "Degraded", what="Degraded")
    missing = next(r for r in app["status"]["resources"] if r["name"] == "cm-2")
    assert missing["status"] == "OutOfSync"
    assert not scenario.exists("gauges", "cm-2")
    scenario.commit(repo, "app", [gauge("cm-1", **{WAVE: "1"}), gauge("cm-2", **{WAVE: "2"})])
    scenario.refresh(name, repo)
    app = scenario.sync_and_finish(name)
    assert phase(app) == "Succeeded"
    assert [r["name"] for r in results(app)] == ["cm-1", "cm-2"]
    scenario.wait(
        name, lambda a: health(a) == "Healthy" and sync_status(a) == "Synced", what="Healthy+Synced"
    )


def test_sync_prune_order_with_sync_waves(scenario: Scenario) -> None:
    """TestSyncPruneOrderWithSyncWaves / gitops-engine TestWaitForCleanUpBeforeNextWave and
    TestPruneLast: prunes go in reverse wave order, each wave gone before the next, PruneLast
    after everything."""
    keep = cm("keep", **{WAVE: "1"})
    manifests = [
        keep,
        cm("w0", **{WAVE: "0"}),
        cm("w1", **{WAVE: "1"}),
        cm("w2", **{WAVE: "2"}),
        cm("last", **{WAVE: "2", OPTIONS: "PruneLast=true"}),
    ]
    name, repo = scenario.app("pruning", manifests)
    assert phase(scenario.sync_and_finish(name)) == "Succeeded"
    scenario.commit(repo, "app", [keep])
    scenario.refresh(name, repo)
    audit = scenario.audit()
    app = scenario.sync_and_finish(name, prune=True)
    assert phase(app) == "Succeeded", app["status"]["operationState"]
    assert audit.applied(scenario.namespace) == [
        ("delete", "configmaps", "w2"),
        ("delete", "configmaps", "w1"),
        ("patch", "configmaps", "keep"),
        ("delete", "configmaps", "w0"),
        ("delete", "configmaps", "last"),
    ]
    assert {r["name"]: r["status"] for r in results(app)} == {
        "w2": "Pruned",
        "w1": "Pruned",
        "keep": "Synced",
        "w0": "Pruned",
        "last": "Pruned",
    }
    scenario.wait(name, lambda a: sync_status(a) == "Synced" and health(a) == "Healthy", what="Synced")


def test_a_sync_without_prune_skips_extras(scenario: Scenario) -> None:
    """Extras are PruneSkipped ("ignored (requires pruning)") when the sync does not prune."""
    name, repo = scenario.app("noprune", [cm("stays"), cm("extra")])
    scenario.sync_and_finish(name)
    scenario.commit(repo, "app", [cm("stays")])
    scenario.refresh(name, repo)
    app = scenario.sync_and_finish(name)
    assert phase(app) == "Succeeded"
    assert result(app, "extra")["status"] == "PruneSkipped"
    assert result(app, "extra")["message"] == "ignored (requires pruning)"
    assert scenario.exists("configmaps", "extra")
    scenario.wait(name, lambda a: sync_status(a) == "OutOfSync", what="OutOfSync (the extra)")
    scenario.health_is(name, "Healthy")

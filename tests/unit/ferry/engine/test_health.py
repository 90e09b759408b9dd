"""Health rules on real-looking objects, with Argo CD's verdicts."""

from __future__ import annotations

from typing import Any

import pytest

from ferry.engine.health import (
    HealthChecker,
    ResourceHealth,
    aggregate,
    custom_rules_from_settings,
)
from ferry.engine.lua import LuaError, LuaHealthRule
from ferry.engine.status import Health, HealthStatus

H, P, D, S, M, U = (
    HealthStatus.HEALTHY,
    HealthStatus.PROGRESSING,
    HealthStatus.DEGRADED,
    HealthStatus.SUSPENDED,
    HealthStatus.MISSING,
    HealthStatus.UNKNOWN,
)
checker = HealthChecker()


def deployment(**status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "generation": 2},
        "spec": {"replicas": 3},
        "status": {"observedGeneration": 2, **status},
    }


def verdict(obj: dict[str, Any]) -> HealthStatus:
    health = checker.check(obj)
    assert health is not None
    return health.status


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({"replicas": 3, "updatedReplicas": 3, "availableReplicas": 3}, H),
        ({"replicas": 3, "updatedReplicas": 1, "availableReplicas": 1}, P),
        ({"replicas": 4, "updatedReplicas": 3, "availableReplicas": 3}, P),
        ({"replicas": 3, "updatedReplicas": 3, "availableReplicas": 2}, P),
        (
            {
                "conditions": [
                    {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
                ]
            },
            D,
        ),
    ],
)
def test_deployment(status: dict[str, Any], expected: HealthStatus) -> None:
    assert verdict(deployment(**status)) is expected


def test_deployment_with_unobserved_generation_is_progressing() -> None:
    obj = deployment(replicas=3, updatedReplicas=3, availableReplicas=3)
    obj["status"]["observedGeneration"] = 1
    assert verdict(obj) is P


def test_paused_deployment_is_suspended() -> None:
    obj = deployment(replicas=3, updatedReplicas=3, availableReplicas=3)
    obj["spec"]["paused"] = True
    assert checker.check(obj) == Health(S, "Deployment is paused")


def pod(phase: str, restart_policy: str = "Always", **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"restartPolicy": restart_policy, "containers": [{"name": "c", "image": "i"}]},
        "status": {"phase": phase, **status},
    }


READY = [{"type": "Ready", "status": "True"}]
CRASH = [{"name": "c", "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}}}]


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (pod("Pending"), P),
        (pod("Running", conditions=READY), H),
        (pod("Running"), P),
        (pod("Running", containerStatuses=CRASH), D),
        (pod("Running", containerStatuses=[{"name": "c", "lastState": {"terminated": {"exitCode": 1}}}]), D),
        (pod("Succeeded", "Never"), H),
        (pod("Failed", "Never"), D),
        (pod("Running", "Never", conditions=READY), P),
        (pod("Weird"), U),
    ],
)
def test_pod(obj: dict[str, Any], expected: HealthStatus) -> None:
    assert verdict(obj) is expected


def test_failed_pod_names_the_container_and_exit_code() -> None:
    obj = pod("Failed", "Never", containerStatuses=[{"name": "c", "state": {"terminated": {"exitCode": 3}}}])
    health = checker.check(obj)
    assert health is not None
    assert 'container "c"' in health.message
    assert "exit code 3" in health.message


def job(*conditions: tuple[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "j"},
        "status": {"conditions": [{"type": t, "status": s, "message": t} for t, s in conditions]},
    }


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (job(), P),
        (job(("Complete", "True")), H),
        (job(("Failed", "True")), D),
        (job(("Suspended", "True")), S),
        (job(("Complete", "False")), P),
    ],
)
def test_job(obj: dict[str, Any], expected: HealthStatus) -> None:
    assert verdict(obj) is expected


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"apiVersion": "v1", "kind": "Service", "spec": {"type": "ClusterIP"}}, H),
        ({"apiVersion": "v1", "kind": "Service", "spec": {"type": "LoadBalancer"}}, P),
        (
            {
                "apiVersion": "v1",
                "kind": "Service",
                "spec": {"type": "LoadBalancer"},
                "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}},
            },
            H,
        ),
        ({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress"}, P),
        ({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "status": {"phase": "Bound"}}, H),
        ({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "status": {"phase": "Pending"}}, P),
        ({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "status": {"phase": "Lost"}}, D),
        ({"apiVersion": "v1", "kind": "Namespace", "status": {"phase": "Active"}}, H),
        ({"apiVersion": "v1", "kind": "Namespace", "status": {"phase": "Terminating"}}, P),
        (
            {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "metadata": {"generation": 1},
                "spec": {"replicas": 2},
                "status": {"observedGeneration": 1, "readyReplicas": 1},
            },
            P,
        ),
        (
            {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "metadata": {"generation": 1},
                "spec": {"replicas": 2},
                "status": {
                    "observedGeneration": 1,
                    "readyReplicas": 2,
                    "currentRevision": "a",
                    "updateRevision": "a",
                },
            },
            H,
        ),
        (
            {
                "apiVersion": "apps/v1",
                "kind": "DaemonSet",
                "metadata": {"generation": 1},
                "status": {
                    "observedGeneration": 1,
                    "desiredNumberScheduled": 2,
                    "updatedNumberScheduled": 2,
                    "numberAvailable": 1,
                },
            },
            P,
        ),
        (
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {"generation": 1},
                "spec": {"replicas": 1},
                "status": {
                    "observedGeneration": 1,
                    "conditions": [{"type": "ReplicaFailure", "status": "True", "message": "quota"}],
                },
            },
            D,
        ),
        (
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "status": {"conditions": [{"type": "ScalingActive", "reason": "FailedGetResourceMetric"}]},
            },
            D,
        ),
        ({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler"}, P),
        (
            {
                "apiVersion": "apiregistration.k8s.io/v1",
                "kind": "APIService",
                "status": {"conditions": [{"type": "Available", "status": "True"}]},
            },
            H,
        ),
        (
            {
                "apiVersion": "batch/v1",
                "kind": "CronJob",
                "status": {
                    "lastScheduleTime": "2026-11-26T10:00:00Z",
                    "lastSuccessfulTime": "2026-11-26T09:00:00Z",
                },
            },
            D,
        ),
        ({"apiVersion": "batch/v1", "kind": "CronJob", "spec": {"suspend": True}}, H),
    ],
)
def test_builtin_rules(obj: dict[str, Any], expected: HealthStatus) -> None:
    assert verdict(obj) is expected


def test_object_being_deleted_is_progressing() -> None:
    obj = pod("Running", conditions=READY)
    obj["metadata"]["deletionTimestamp"] = "2026-11-26T10:00:00Z"
    assert checker.check(obj) == Health(P, "Pending deletion")


def test_kinds_without_a_rule_have_no_health() -> None:
    assert checker.check({"apiVersion": "v1", "kind": "ConfigMap"}) is None


# Argo CD's documented script (docs/operator-manual/health.md, "Argocd App"), verbatim.
ARGO_APPLICATION_HEALTH = """
hs = {}
hs.status = "Progressing"
hs.message = ""
if obj.status ~= nil then
  if obj.status.health ~= nil then
    hs.status = obj.status.health.status
    if obj.status.health.message ~= nil then
      hs.message = obj.status.health.message
    end
  end
end
return hs
"""


@pytest.mark.parametrize("group", ["ferrycd.io", "argoproj.io"])
def test_child_applications_have_no_health_check_unless_turned_on(group: str) -> None:
    degraded = {
        "apiVersion": f"{group}/v1alpha1",
        "kind": "Application",
        "status": {"health": {"status": "Degraded", "message": "child broke"}},
    }
    assert checker.check(degraded) is None  # Argo CD since 1.8: no built-in check
    settings = {f"resource.customizations.health.{group}_Application": ARGO_APPLICATION_HEALTH}
    turned_on = HealthChecker(custom_rules_from_settings(settings))
    assert turned_on.check(degraded) == Health(D, "child broke")
    fresh = {"apiVersion": f"{group}/v1alpha1", "kind": "Application"}
    assert turned_on.check(fresh) == Health(P, "")


CERT_RULE = """
hs = {}
if obj.status ~= nil and obj.status.conditions ~= nil then
  for i, condition in ipairs(obj.status.conditions) do
    if condition.type == "Ready" and condition.status == "True" then
      hs.status = "Healthy"
      hs.message = condition.message
      return hs
    end
  end
end
hs.status = "Progressing"
hs.message = "Waiting for certificate"
return hs
"""


def test_custom_lua_rule_from_settings() -> None:
    rules = custom_rules_from_settings(
        {"resource.customizations.health.cert-manager.io_Certificate": CERT_RULE, "url": "https://x"}
    )
    custom = HealthChecker(rules)
    cert: dict[str, Any] = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate"}
    assert custom.check(cert) == Health(P, "Waiting for certificate")
    cert["status"] = {"conditions": [{"type": "Ready", "status": "True", "message": "issued"}]}
    assert custom.check(cert) == Health(H, "issued")


def test_custom_rule_overrides_builtin_and_core_group_key_has_no_group() -> None:
    rules = custom_rules_from_settings(
        {"resource.customizations.health.PersistentVolumeClaim": 'return {status = "Healthy"}'}
    )
    assert HealthChecker(rules).check({"apiVersion": "v1", "kind": "PersistentVolumeClaim"}) == Health(H)


def test_lua_sandbox_has_no_os_io_or_require() -> None:
    for script in ('return {status = os.getenv("HOME")}', 'io.open("/etc/passwd")', 'require("os")'):
        health = LuaHealthRule(script)({})
        assert health.status is U
        assert "health script failed" in health.message


def test_runaway_lua_loop_is_stopped() -> None:
    health = LuaHealthRule("while true do end")({})
    assert health == Health(U, "health script failed: instruction budget exceeded")


def test_lua_syntax_error_is_reported_at_load() -> None:
    with pytest.raises(LuaError, match="does not compile"):
        LuaHealthRule("this is not lua")


def test_lua_unknown_status_is_unknown() -> None:
    assert LuaHealthRule('return {status = "Fine"}')({}).status is U


def res(kind: str, status: HealthStatus | None, **kw: Any) -> ResourceHealth:
    return ResourceHealth(
        group=kw.pop("group", ""), kind=kind, health=Health(status) if status else None, **kw
    )


def test_app_health_is_the_worst_resource() -> None:
    assert aggregate([res("Service", H), res("Pod", P), res("ConfigMap", None)]).status is P
    assert aggregate([res("Service", H), res("Pod", D), res("Job", P)]).status is D
    assert aggregate([res("Service", H)]).status is H


def test_app_health_skips_hooks_ignored_and_missing_resources() -> None:
    assert aggregate([res("Service", H), res("Job", D, hook=True), res("Pod", D, ignored=True)]).status is H
    assert aggregate([res("Service", H), res("Deployment", None, live=False)]).status is H
    assert aggregate([res("Service", None, live=False)]).status is M


def test_child_app_missing_or_unknown_does_not_affect_parent() -> None:
    children = [res("Application", U, group="ferrycd.io"), res("Application", M, group="ferrycd.io")]
    assert aggregate([res("Service", H), *children]).status is H
    assert aggregate([res("Service", H), res("Application", D, group="ferrycd.io")]).status is D


def test_health_order() -> None:
    assert [s.value for s in sorted(HealthStatus, key=lambda s: s.severity)] == [
        "Healthy",
        "Suspended",
        "Progressing",
        "Missing",
        "Degraded",
        "Unknown",
    ]
    assert HealthStatus.DEGRADED.is_worse(HealthStatus.PROGRESSING)
    assert not HealthStatus.HEALTHY.is_worse(HealthStatus.SUSPENDED)

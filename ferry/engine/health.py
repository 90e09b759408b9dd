"""Health of live Kubernetes objects, and of an application as the worst of its resources.

Rules follow Argo CD's (gitops-engine's) built-in checks, so a Deployment, Job or Pod gets the
same verdict and message under ferry as under Argo CD. Custom rules for other kinds come from
``ferry-cm`` keys ``resource.customizations.health.<group>_<kind>`` (``<kind>`` alone for the
core group) as Lua scripts in Argo CD's format (``obj`` in, ``hs = {status, message}`` out), run
in a sandboxed Lua 5.1 (lupa) without ``os``, ``io``, ``require`` or file loading.

A child Application (app of apps, ``ferrycd.io`` or ``argoproj.io``) has no health check, as in
Argo CD since 1.8: it never holds its parent's sync or health. ``ferry-cm``
``resource.customizations.health.ferrycd.io_Application`` with Argo CD's documented Lua script
turns one on (see docs/sync.md).

Pure: objects are plain dicts; no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ferry.engine.lua import LuaHealthRule
from ferry.engine.status import Health, HealthStatus

Obj = Mapping[str, Any]


HEALTHY = Health(HealthStatus.HEALTHY)
APPLICATION_KINDS = frozenset({("ferrycd.io", "Application"), ("argoproj.io", "Application")})


def _get(obj: Any, *path: str, default: Any = None) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return default
        obj = obj.get(key)
        if obj is None:
            return default
    return obj


def _condition(obj: Obj, kind: str) -> Mapping[str, Any] | None:
    for cond in _get(obj, "status", "conditions", default=[]) or []:
        if cond.get("type") == kind:
            return dict(cond)
    return None


def _generation_observed(obj: Obj) -> bool:
    generation = _get(obj, "metadata", "generation", default=0)
    observed = _get(obj, "status", "observedGeneration", default=0)
    return bool(generation <= observed)


def deployment_health(obj: Obj) -> Health:
    if _get(obj, "spec", "paused"):
        return Health(HealthStatus.SUSPENDED, "Deployment is paused")
    if not _generation_observed(obj):
        return Health(
            HealthStatus.PROGRESSING,
            "Waiting for rollout to finish: observed deployment generation less than desired generation",
        )
    progressing = _condition(obj, "Progressing")
    if progressing is not None and progressing.get("reason") == "ProgressDeadlineExceeded":
        name = _get(obj, "metadata", "name", default="")
        return Health(HealthStatus.DEGRADED, f'Deployment "{name}" exceeded its progress deadline')
    replicas = _get(obj, "spec", "replicas", default=1)
    updated = _get(obj, "status", "updatedReplicas", default=0)
    current = _get(obj, "status", "replicas", default=0)
    available = _get(obj, "status", "availableReplicas", default=0)
    if updated < replicas:
        return Health(
            HealthStatus.PROGRESSING,
            f"Waiting for rollout to finish: {updated} out of {replicas} new replicas have been updated...",
        )
    if current > updated:
        return Health(
            HealthStatus.PROGRESSING,
            f"Waiting for rollout to finish: {current - updated} old replicas are pending termination...",
        )
    if available < updated:
        return Health(
            HealthStatus.PROGRESSING,
            f"Waiting for rollout to finish: {available} of {updated} updated replicas are available...",
        )
    return HEALTHY


def statefulset_health(obj: Obj) -> Health:
    observed = _get(obj, "status", "observedGeneration", default=0)
    if observed == 0 or not _generation_observed(obj):
        return Health(HealthStatus.PROGRESSING, "Waiting for statefulset spec update to be observed...")
    replicas = _get(obj, "spec", "replicas", default=1)
    ready = _get(obj, "status", "readyReplicas", default=0)
    if ready < replicas:
        return Health(HealthStatus.PROGRESSING, f"Waiting for {replicas - ready} pods to be ready...")
    strategy = _get(obj, "spec", "updateStrategy", default={}) or {}
    partition = _get(strategy, "rollingUpdate", "partition")
    updated = _get(obj, "status", "updatedReplicas", default=0)
    if strategy.get("type", "RollingUpdate") == "RollingUpdate" and partition is not None:
        if updated < replicas - partition:
            return Health(
                HealthStatus.PROGRESSING,
                f"Waiting for partitioned roll out to finish: {updated} out of "
                f"{replicas - partition} new pods have been updated...",
            )
        return Health(
            HealthStatus.HEALTHY, f"partitioned roll out complete: {updated} new pods have been updated..."
        )
    if strategy.get("type") == "OnDelete":
        return Health(HealthStatus.HEALTHY, f"statefulset has {ready} ready pods")
    update_revision = _get(obj, "status", "updateRevision")
    if update_revision != _get(obj, "status", "currentRevision"):
        return Health(
            HealthStatus.PROGRESSING,
            f"waiting for statefulset rolling update to complete {updated} pods at revision "
            f"{update_revision}...",
        )
    return Health(
        HealthStatus.HEALTHY,
        f"statefulset rolling update complete {ready} pods at revision {update_revision}...",
    )


def daemonset_health(obj: Obj) -> Health:
    name = _get(obj, "metadata", "name", default="")
    if not _generation_observed(obj):
        return Health(
            HealthStatus.PROGRESSING,
            "Waiting for rollout to finish: observed daemon set generation less than desired generation",
        )
    desired = _get(obj, "status", "desiredNumberScheduled", default=0)
    updated = _get(obj, "status", "updatedNumberScheduled", default=0)
    if _get(obj, "spec", "updateStrategy", "type") == "OnDelete":
        return Health(
            HealthStatus.HEALTHY, f"daemon set {updated} out of {desired} new pods have been updated"
        )
    if updated < desired:
        return Health(
            HealthStatus.PROGRESSING,
            f'Waiting for daemon set "{name}" rollout to finish: {updated} out of {desired} '
            "new pods have been updated...",
        )
    available = _get(obj, "status", "numberAvailable", default=0)
    if available < desired:
        return Health(
            HealthStatus.PROGRESSING,
            f'Waiting for daemon set "{name}" rollout to finish: {available} of {desired} '
            "updated pods are available...",
        )
    return HEALTHY


def replicaset_health(obj: Obj) -> Health:
    if not _generation_observed(obj):
        return Health(
            HealthStatus.PROGRESSING,
            "Waiting for rollout to finish: observed replica set generation less than desired generation",
        )
    failure = _condition(obj, "ReplicaFailure")
    if failure is not None and failure.get("status") == "True":
        return Health(HealthStatus.DEGRADED, str(failure.get("message", "")))
    replicas = _get(obj, "spec", "replicas", default=1)
    available = _get(obj, "status", "availableReplicas", default=0)
    if available < replicas:
        return Health(
            HealthStatus.PROGRESSING,
            f"Waiting for rollout to finish: {available} out of {replicas} new replicas are available...",
        )
    return HEALTHY


def _pod_ready(obj: Obj) -> bool:
    ready = _condition(obj, "Ready")
    return ready is not None and ready.get("status") == "True"


def _failed_container_message(obj: Obj) -> str:
    for status in _get(obj, "status", "containerStatuses", default=[]) or []:
        terminated = _get(status, "state", "terminated")
        if terminated and terminated.get("exitCode", 0) != 0:
            reason = terminated.get("message") or terminated.get("reason") or "Error"
            return (
                f'The container "{status.get("name")}" terminated with exit code '
                f"{terminated.get('exitCode')}: {reason}"
            )
    return ""


def pod_health(obj: Obj) -> Health:
    restart_policy = _get(obj, "spec", "restartPolicy", default="Always")
    message = str(_get(obj, "status", "message", default=""))
    annotations = _get(obj, "metadata", "annotations", default={}) or {}
    ignore_restart_policy = annotations.get("argocd.argoproj.io/ignore-restart-policy") == "true" or (
        annotations.get("ferrycd.io/ignore-restart-policy") == "true"
    )
    if restart_policy == "Always" or ignore_restart_policy:
        messages = []
        for status in _get(obj, "status", "containerStatuses", default=[]) or []:
            waiting = _get(status, "state", "waiting")
            reason = str(_get(waiting, "reason", default=""))
            if waiting and (
                reason.startswith("Err") or reason.endswith("Error") or reason.endswith("BackOff")
            ):
                messages.append(str(waiting.get("message") or reason))
        if messages:
            return Health(HealthStatus.DEGRADED, ", ".join(messages))
    phase = _get(obj, "status", "phase", default="")
    if phase == "Pending":
        return Health(HealthStatus.PROGRESSING, message)
    if phase == "Succeeded":
        return Health(HealthStatus.HEALTHY, message)
    if phase == "Failed":
        return Health(HealthStatus.DEGRADED, message or _failed_container_message(obj))
    if phase == "Running":
        if restart_policy == "Always":
            if _pod_ready(obj):
                return Health(HealthStatus.HEALTHY, message)
            for status in _get(obj, "status", "containerStatuses", default=[]) or []:
                if _get(status, "lastState", "terminated"):
                    return Health(HealthStatus.DEGRADED, message)
            return Health(HealthStatus.PROGRESSING, message)
        # OnFailure / Never pods have a finite life (typically hooks): running is not yet healthy.
        return Health(HealthStatus.PROGRESSING, message)
    return Health(HealthStatus.UNKNOWN, message)


def _load_balancer_ready(obj: Obj) -> bool:
    return bool(_get(obj, "status", "loadBalancer", "ingress", default=[]))


def service_health(obj: Obj) -> Health:
    if _get(obj, "spec", "type") == "LoadBalancer" and not _load_balancer_ready(obj):
        return Health(HealthStatus.PROGRESSING, "")
    return HEALTHY


def ingress_health(obj: Obj) -> Health:
    return HEALTHY if _load_balancer_ready(obj) else Health(HealthStatus.PROGRESSING, "")


def pvc_health(obj: Obj) -> Health:
    phase = _get(obj, "status", "phase", default="")
    verdict = {
        "Lost": HealthStatus.DEGRADED,
        "Pending": HealthStatus.PROGRESSING,
        "Bound": HealthStatus.HEALTHY,
    }
    return Health(verdict.get(phase, HealthStatus.UNKNOWN), "")


def job_health(obj: Obj) -> Health:
    failed = complete = suspended = False
    message = ""
    for cond in _get(obj, "status", "conditions", default=[]) or []:
        if cond.get("status") != "True":
            continue
        if cond.get("type") == "Failed":
            failed = complete = True
            message = cond.get("message", "")
        elif cond.get("type") == "Complete":
            complete = True
            message = cond.get("message", "")
        elif cond.get("type") == "Suspended":
            suspended = True
            message = cond.get("message", "")
    if not complete:
        return Health(HealthStatus.SUSPENDED if suspended else HealthStatus.PROGRESSING, message)
    return Health(HealthStatus.DEGRADED if failed else HealthStatus.HEALTHY, message)


def cronjob_health(obj: Obj) -> Health:
    if _get(obj, "spec", "suspend"):
        return Health(HealthStatus.HEALTHY, "CronJob is Suspended")
    last_schedule = _get(obj, "status", "lastScheduleTime")
    last_success = _get(obj, "status", "lastSuccessfulTime")
    active = _get(obj, "status", "active", default=[]) or []
    # RFC 3339 timestamps in UTC order lexicographically.
    if last_schedule and not active and (last_success is None or last_success < last_schedule):
        return Health(HealthStatus.DEGRADED, "CronJob has not completed its last execution successfully")
    return HEALTHY


_HPA_DEGRADED = {
    ("AbleToScale", "FailedGetScale"),
    ("AbleToScale", "FailedUpdateScale"),
    ("ScalingActive", "FailedGetResourceMetric"),
    ("ScalingActive", "InvalidSelector"),
}
_HPA_HEALTHY = {
    ("AbleToScale", "SucceededRescale"),
    ("ScalingLimited", "DesiredWithinRange"),
    ("ScalingLimited", "TooFewReplicas"),
    ("ScalingLimited", "TooManyReplicas"),
}


def hpa_health(obj: Obj) -> Health:
    for cond in _get(obj, "status", "conditions", default=[]) or []:
        key = (cond.get("type"), cond.get("reason"))
        if key in _HPA_DEGRADED:
            return Health(HealthStatus.DEGRADED, str(cond.get("message", "")))
        if key in _HPA_HEALTHY:
            return Health(HealthStatus.HEALTHY, str(cond.get("message", "")))
    return Health(HealthStatus.PROGRESSING, "Waiting to Autoscale")


def apiservice_health(obj: Obj) -> Health:
    available = _condition(obj, "Available")
    if available is not None and available.get("status") == "True":
        return Health(HealthStatus.HEALTHY, str(available.get("message", "")))
    if available is not None:
        return Health(HealthStatus.PROGRESSING, str(available.get("message", "")))
    return Health(HealthStatus.PROGRESSING, "Waiting to be processed")


def namespace_health(obj: Obj) -> Health:
    if _get(obj, "status", "phase") == "Terminating":
        return Health(HealthStatus.PROGRESSING, "Namespace is terminating")
    return HEALTHY


# (group, kind) -> rule; group "" is the core API group.
BUILTIN_RULES: dict[tuple[str, str], Callable[[Obj], Health]] = {
    ("apps", "Deployment"): deployment_health,
    ("extensions", "Deployment"): deployment_health,
    ("apps", "StatefulSet"): statefulset_health,
    ("apps", "DaemonSet"): daemonset_health,
    ("extensions", "DaemonSet"): daemonset_health,
    ("apps", "ReplicaSet"): replicaset_health,
    ("extensions", "ReplicaSet"): replicaset_health,
    ("", "Pod"): pod_health,
    ("", "Service"): service_health,
    ("", "PersistentVolumeClaim"): pvc_health,
    ("", "Namespace"): namespace_health,
    ("networking.k8s.io", "Ingress"): ingress_health,
    ("extensions", "Ingress"): ingress_health,
    ("batch", "Job"): job_health,
    ("batch", "CronJob"): cronjob_health,
    ("autoscaling", "HorizontalPodAutoscaler"): hpa_health,
    ("apiregistration.k8s.io", "APIService"): apiservice_health,
}


def group_of(obj: Obj) -> str:
    api_version = str(obj.get("apiVersion", ""))
    return api_version.rpartition("/")[0] if "/" in api_version else ""


class HealthChecker:
    """Built-in rules plus custom Lua rules; ``check(obj)`` is None for kinds without a rule."""

    def __init__(self, custom_rules: Mapping[tuple[str, str], str] | None = None) -> None:
        self._custom = {key: LuaHealthRule(script) for key, script in (custom_rules or {}).items()}

    def check(self, obj: Obj) -> Health | None:
        if _get(obj, "metadata", "deletionTimestamp"):
            return Health(HealthStatus.PROGRESSING, "Pending deletion")
        key = (group_of(obj), str(obj.get("kind", "")))
        custom = self._custom.get(key)
        if custom is not None:
            return custom(obj)
        rule = BUILTIN_RULES.get(key)
        return rule(obj) if rule is not None else None


def custom_rules_from_settings(data: Mapping[str, str]) -> dict[tuple[str, str], str]:
    """Lua rules from ``ferry-cm`` data: ``resource.customizations.health.<group>_<kind>`` (or ``<kind>``)."""
    prefix = "resource.customizations.health."
    rules: dict[tuple[str, str], str] = {}
    for key, script in data.items():
        if not key.startswith(prefix):
            continue
        group, sep, kind = key[len(prefix) :].rpartition("_")
        rules[(group if sep else "", kind)] = script
    return rules


@dataclass(frozen=True)
class ResourceHealth:
    """One resource's health as the aggregation sees it."""

    group: str
    kind: str
    health: Health | None  # None: the kind has no health rule
    live: bool = True  # False when the resource does not exist in the cluster
    hook: bool = False
    ignored: bool = False  # annotated ignore-healthcheck


def aggregate(resources: Iterable[ResourceHealth]) -> Health:
    """App health as Argo CD computes it: the worst of its resources, skipping hooks, ignored
    resources and missing ones (OutOfSync already says those are missing) — Missing when nothing
    exists at all. A child Application that is Missing or Unknown does not affect its parent."""
    worst: list[HealthStatus] = []
    messages: list[str] = []
    any_live = False
    considered = 0
    for res in resources:
        if res.hook or res.ignored:
            continue
        considered += 1
        if not res.live:
            continue
        any_live = True
        if res.health is None:
            continue
        status = res.health.status
        if (res.group, res.kind) in APPLICATION_KINDS and status in (
            HealthStatus.MISSING,
            HealthStatus.UNKNOWN,
        ):
            continue
        worst.append(status)
        if status is not HealthStatus.HEALTHY and res.health.message and len(messages) < 3:
            messages.append(res.health.message)
    if considered and not any_live:
        return Health(HealthStatus.MISSING, "")
    return Health(HealthStatus.worst(worst), "; ".join(messages))

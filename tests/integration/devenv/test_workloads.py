"""With kube-scheduler and kwok, workloads progress like on real nodes: Deployments become
Available, Jobs complete, and Pods labelled to fail report failed containers."""

from __future__ import annotations

from typing import Any

from kubernetes import client as k8s
from kubernetes import utils

from ferry_devenv.controlplane import FAIL_LABEL, ControlPlane
from tests.integration.devenv.test_controlplane import eventually


def _apply(kube: k8s.ApiClient, namespace: str, manifest: dict[str, Any]) -> None:
    utils.create_from_dict(kube, manifest, namespace=namespace)


def _has_condition(obj: dict[str, Any], condition: str) -> bool:
    conditions = obj["status"].get("conditions") or []
    return any(c["type"] == condition and c["status"] == "True" for c in conditions)


def _pod_template(labels: dict[str, str], restart_policy: str) -> dict[str, Any]:
    return {
        "metadata": {"labels": labels},
        "spec": {"restartPolicy": restart_policy, "containers": [{"name": "main", "image": "busybox:1.36"}]},
    }


def test_deployment_becomes_available(
    workload_plane: ControlPlane, kube: k8s.ApiClient, namespace: str
) -> None:
    _apply(
        kube,
        namespace,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": _pod_template({"app": "web"}, "Always"),
            },
        },
    )
    apps = k8s.AppsV1Api(kube)

    def available() -> bool:
        status = apps.read_namespaced_deployment_status("web", namespace).to_dict()["status"]
        return bool(status.get("available_replicas") == 2)

    eventually(available, what="Deployment Available")


def test_job_completes(workload_plane: ControlPlane, kube: k8s.ApiClient, namespace: str) -> None:
    _apply(
        kube,
        namespace,
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "once"},
            "spec": {"backoffLimit": 0, "template": _pod_template({"job": "once"}, "Never")},
        },
    )
    batch = k8s.BatchV1Api(kube)

    def complete() -> bool:
        return _has_condition(batch.read_namespaced_job_status("once", namespace).to_dict(), "Complete")

    eventually(complete, what="Job Complete")


def test_labelled_job_pod_fails(workload_plane: ControlPlane, kube: k8s.ApiClient, namespace: str) -> None:
    _apply(
        kube,
        namespace,
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "doomed"},
            "spec": {"backoffLimit": 0, "template": _pod_template({FAIL_LABEL: "true"}, "Never")},
        },
    )
    batch = k8s.BatchV1Api(kube)

    def failed() -> bool:
        return _has_condition(batch.read_namespaced_job_status("doomed", namespace).to_dict(), "Failed")

    eventually(failed, what="Job Failed")
    pods = (
        k8s.CoreV1Api(kube)
        .list_namespaced_pod(namespace, label_selector="job-name=doomed")
        .to_dict()["items"]
    )
    assert pods[0]["status"]["phase"] == "Failed"
    assert pods[0]["status"]["container_statuses"][0]["state"]["terminated"]["exit_code"] == 1


def test_labelled_deployment_pod_crash_loops(
    workload_plane: ControlPlane, kube: k8s.ApiClient, namespace: str
) -> None:
    _apply(
        kube,
        namespace,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "crashy"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "crashy"}},
                "template": _pod_template({"app": "crashy", FAIL_LABEL: "true"}, "Always"),
            },
        },
    )
    core = k8s.CoreV1Api(kube)

    def container_status() -> dict[str, Any]:
        pods = core.list_namespaced_pod(namespace, label_selector="app=crashy").to_dict()["items"]
        statuses = (pods[0]["status"]["container_statuses"] or []) if pods else []
        return statuses[0] if statuses else {}

    eventually(lambda: bool(container_status().get("state", {}).get("waiting")), what="CrashLoopBackOff")
    status = container_status()
    assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert status["ready"] is False
    deployment = k8s.AppsV1Api(kube).read_namespaced_deployment_status("crashy", namespace).to_dict()
    assert not deployment["status"].get("available_replicas")

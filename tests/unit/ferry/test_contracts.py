"""The generated stubs import, and Application messages carry Argo CD's JSON field names."""

from __future__ import annotations

import json

from google.protobuf import json_format

from ferry.convert import from_k8s, to_k8s
from ferry.v1 import application_pb2, application_pb2_grpc, repo_pb2_grpc, session_pb2_grpc, types_pb2

# An Argo CD style Application, as `kubectl get application -o json` would show it.
ARGO_STYLE_APP = {
    "apiVersion": "ferrycd.io/v1alpha1",
    "kind": "Application",
    "metadata": {
        "name": "guestbook",
        "namespace": "ferry",
        "generation": 7,
        "labels": {"team": "web"},
        "finalizers": ["ferrycd.io/resources-finalizer"],
    },
    "spec": {
        "project": "default",
        "source": {
            "repoURL": "https://git.example.com/apps.git",
            "path": "guestbook",
            "targetRevision": "HEAD",
            "helm": {
                "releaseName": "gb",
                "valueFiles": ["values-prod.yaml"],
                "parameters": [{"name": "replicas", "value": "3", "forceString": True}],
                "values": "image:\n  tag: v1\n",
                "skipCrds": True,
            },
        },
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "guestbook"},
        "syncPolicy": {
            "automated": {"prune": True, "selfHeal": True},
            "syncOptions": ["CreateNamespace=true", "PruneLast=true"],
            "retry": {"limit": 5, "backoff": {"duration": "5s", "factor": 2, "maxDuration": "3m"}},
        },
        "ignoreDifferences": [
            {"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]},
            {
                "kind": "ConfigMap",
                "jqPathExpressions": [".data.x"],
                "managedFieldsManagers": ["kube-controller"],
            },
        ],
        "revisionHistoryLimit": 3,
    },
    "status": {
        "sync": {"status": "Synced", "revision": "a" * 40},
        "health": {"status": "Healthy"},
        "summary": {"externalURLs": ["https://guestbook.example.com"], "images": ["nginx:1.27"]},
        "history": [{"id": 4, "revision": "a" * 40, "deployedAt": "2026-11-26T09:00:00Z"}],
        "resources": [{"kind": "Service", "name": "gb", "namespace": "guestbook", "syncWave": -1}],
        "operationState": {
            "phase": "Succeeded",
            "retryCount": 1,
            "syncResult": {"revision": "a" * 40, "resources": [{"kind": "Service", "status": "Synced"}]},
        },
    },
}


def test_every_service_stub_imports() -> None:
    for stub in (
        application_pb2_grpc.ApplicationServiceStub,
        session_pb2_grpc.SessionServiceStub,
        repo_pb2_grpc.RepoServiceStub,
    ):
        assert callable(stub)
    names = {s.full_name for s in application_pb2.DESCRIPTOR.services_by_name.values()}
    assert names == {"ferry.v1.ApplicationService"}


def test_application_round_trips_through_kubernetes_json_unchanged() -> None:
    message = from_k8s(ARGO_STYLE_APP, types_pb2.Application)
    assert message.spec.source.repo_url == "https://git.example.com/apps.git"
    assert message.spec.revision_history_limit == 3
    assert to_k8s(message) == ARGO_STYLE_APP


def test_json_names_match_argo_cd_not_proto3_defaults() -> None:
    message = types_pb2.Application(
        spec=types_pb2.ApplicationSpec(source=types_pb2.ApplicationSource(repo_url="https://x")),
        status=types_pb2.ApplicationStatus(summary=types_pb2.ApplicationSummary(external_urls=["u"])),
    )
    text = json_format.MessageToJson(message)
    assert '"repoURL"' in text
    assert '"externalURLs"' in text
    assert "repoUrl" not in text
    assert "externalUrls" not in text


def test_64_bit_integers_are_numbers_in_kubernetes_json() -> None:
    message = types_pb2.Application(
        metadata=types_pb2.ObjectMeta(name="a", generation=12),
        status=types_pb2.ApplicationStatus(history=[types_pb2.RevisionHistory(id=2**40)]),
    )
    as_k8s = to_k8s(message)
    assert as_k8s["metadata"]["generation"] == 12
    assert as_k8s["status"]["history"][0]["id"] == 2**40
    # protobuf's own JSON mapping would have strings here, which Kubernetes rejects
    assert json.loads(json_format.MessageToJson(message))["metadata"]["generation"] == "12"


def test_fields_the_contract_lacks_are_dropped_on_the_way_in() -> None:
    obj = {"metadata": {"name": "a", "managedFields": [{"manager": "kubectl"}]}, "spec": {"project": "p"}}
    message = from_k8s(obj, types_pb2.Application)
    assert to_k8s(message) == {"metadata": {"name": "a"}, "spec": {"project": "p"}}


def test_paging_token_uses_kubernetes_name_continue() -> None:
    query = from_k8s({"limit": 100, "continue": "tok"}, application_pb2.ApplicationQuery)
    assert query.continue_token == "tok"
    assert to_k8s(query) == {"limit": 100, "continue": "tok"}

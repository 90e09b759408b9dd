"""Property-based bad input against every ApplicationService RPC: each rejection carries a
specific code for its cause, never INTERNAL or UNKNOWN, and nothing is written for it."""

from __future__ import annotations

from typing import Any

import grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kubernetes import client as k8s

from ferry.v1 import application_pb2, types_pb2
from tests.conftest import CONTROL_NS, GROUP, VERSION, RunningServer
from tests.integration.server.conftest import Api, admin_password

SPECIFIC = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.OUT_OF_RANGE,
}
text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40)
names = st.one_of(text, st.sampled_from(["", "UPPER", "a" * 300, "../x", "ok-name", "x.y", "-bad"]))


def sources() -> st.SearchStrategy[types_pb2.ApplicationSource]:
    return st.builds(
        types_pb2.ApplicationSource,
        repo_url=st.one_of(
            text, st.sampled_from(["", "https://nowhere.invalid/x.git", "file:///nonexistent"])
        ),
        path=st.one_of(text, st.sampled_from(["../../etc", "/abs", ""])),
        target_revision=text,
        chart=st.sampled_from(["", "chart"]),
    )


def specs() -> st.SearchStrategy[types_pb2.ApplicationSpec]:
    return st.builds(
        types_pb2.ApplicationSpec,
        source=sources(),
        destination=st.builds(
            types_pb2.ApplicationDestination,
            server=st.sampled_from(
                ["", "https://kubernetes.default.svc", "https://unknown:6443", "not a url"]
            ),
            namespace=text,
            name=st.sampled_from(["", "in-cluster", "nope"]),
        ),
        project=st.sampled_from(["", "default", "missing-project"]),
        ignore_differences=st.lists(
            st.builds(
                types_pb2.ResourceIgnoreDifferences, kind=text, jq_path_expressions=st.lists(text, max_size=2)
            ),
            max_size=2,
        ),
    )


REQUESTS: dict[str, st.SearchStrategy[Any]] = {
    "Get": st.builds(
        application_pb2.ApplicationQuery, name=names, refresh=st.sampled_from(["", "normal", "hard", "soft"])
    ),
    "List": st.builds(
        application_pb2.ApplicationQuery, selector=text, limit=st.integers(-5, 5000), continue_token=text
    ),
    "Create": st.builds(
        application_pb2.ApplicationCreateRequest,
        application=st.builds(
            types_pb2.Application, metadata=st.builds(types_pb2.ObjectMeta, name=names), spec=specs()
        ),
        upsert=st.booleans(),
    ),
    "UpdateSpec": st.builds(application_pb2.ApplicationUpdateSpecRequest, name=names, spec=specs()),
    "Patch": st.builds(
        application_pb2.ApplicationPatchRequest,
        name=names,
        patch=text,
        patch_type=st.sampled_from(["", "json", "merge", "yaml"]),
    ),
    "Delete": st.builds(application_pb2.ApplicationDeleteRequest, name=names, propagation_policy=text),
    "Sync": st.builds(
        application_pb2.ApplicationSyncRequest,
        name=names,
        revision=text,
        sync_options=st.builds(application_pb2.SyncOptions, items=st.lists(text, max_size=3)),
    ),
    "Rollback": st.builds(application_pb2.ApplicationRollbackRequest, name=names, id=st.integers(-3, 50)),
    "TerminateOperation": st.builds(application_pb2.OperationTerminateRequest, name=names),
    "GetManifests": st.builds(application_pb2.ApplicationManifestQuery, name=names, revision=text),
    "ManagedResources": st.builds(application_pb2.ResourcesQuery, application_name=names),
    "ResourceTree": st.builds(application_pb2.ResourcesQuery, application_name=names),
    "GetResource": st.builds(
        application_pb2.ApplicationResourceRequest, name=names, kind=text, resource_name=text
    ),
    "ListResourceEvents": st.builds(
        application_pb2.ApplicationResourceEventsQuery, name=names, resource_name=text
    ),
    "RevisionMetadata": st.builds(application_pb2.RevisionMetadataQuery, name=names, revision=text),
    "GetApplicationSyncWindows": st.builds(application_pb2.ApplicationSyncWindowsQuery, name=names),
}


def snapshot(kube: k8s.ApiClient) -> list[tuple[str, str]]:
    items = k8s.CustomObjectsApi(kube).list_namespaced_custom_object(
        GROUP, VERSION, CONTROL_NS, "applications"
    )
    assert isinstance(items, dict)
    return sorted((a["metadata"]["name"], a["metadata"]["resourceVersion"]) for a in items["items"])


def test_bad_input_never_crashes_and_never_writes(
    api: Api, kube: k8s.ApiClient, server_process: RunningServer
) -> None:
    api.login("admin", admin_password(kube))
    before = snapshot(kube)
    seen: dict[str, set[str]] = {}

    @given(st.sampled_from(sorted(REQUESTS)).flatmap(lambda rpc: st.tuples(st.just(rpc), REQUESTS[rpc])))
    @settings(
        max_examples=250,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    def call(case: tuple[str, Any]) -> None:
        rpc, request = case
        failure: Any = None
        try:
            api.call("apps", rpc, request, timeout=60)
        except grpc.RpcError as err:
            failure = err
        if failure is not None:
            code, details = failure.code(), failure.details()
            assert code in SPECIFIC, f"{rpc} answered {code.name}: {details}"
            assert details, f"{rpc}: {code.name} without a message"
            seen.setdefault(rpc, set()).add(code.name)
            return
        seen.setdefault(rpc, set()).add("OK")
        assert rpc not in ("Create", "UpdateSpec", "Patch", "Delete", "Sync", "Rollback"), (
            f"{rpc} accepted {request}"
        )

    call()
    assert snapshot(kube) == before, "a rejected request changed an application"
    assert server_process.metric("grpc_server_handled_total", grpc_code="INTERNAL") == 0
    assert server_process.metric("grpc_server_handled_total", grpc_code="UNKNOWN") == 0
    assert len(seen) >= 10, seen

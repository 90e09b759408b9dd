"""The API's read-your-writes promise (docs/api.md, Consistency), on a real API server, with the
server's watch of the apps held still: its informer stopped, the cache can lag a write for as
long as the test likes, which is what a loaded machine does for a moment. Nothing here depends on
timing: whatever a reply acknowledged, the next read of the same server shows.

The server runs in-process (ServerState and ApplicationService, no gRPC) against its own
namespace, which no controller watches: nobody else writes these apps."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ferry.convert import from_k8s
from ferry.errors import NotFound
from ferry.interceptors import CALLER
from ferry.kube.client import KubeClient
from ferry.kube.config import ClusterConfig
from ferry.mesh import RepoServerTarget
from ferry.v1 import application_pb2, types_pb2
from ferry_devenv.controlplane import ControlPlane
from server.applications import ApplicationService
from server.sessions import Caller
from server.state import ServerState
from tests.conftest import SERVICE_KEY, RunningServer
from tests.integration.controller.test_shard_leases import until


def app_message(name: str, namespace: str) -> types_pb2.Application:
    return from_k8s(
        {
            "metadata": {"name": name},
            "spec": {
                "project": "default",
                "source": {"repoURL": "https://git.example.com/apps.git", "path": "web"},
                "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
            },
        },
        types_pb2.Application,
    )


def test_reads_show_this_servers_own_writes_while_its_watch_lags(
    control_plane: ControlPlane,
    namespace: str,
    controller_process: RunningServer,  # installs the CRDs; it watches another namespace
) -> None:
    async def scenario() -> None:
        kube = KubeClient(ClusterConfig.from_kubeconfig(control_plane.kubeconfig), user_agent="ferry-test")
        state = ServerState(
            kube,
            namespace,
            repo_server=RepoServerTarget("127.0.0.1:1"),  # never asked: validate=false below
            service_key=SERVICE_KEY.encode(),
            shared_cache=None,
        )
        await state.start()
        service = ApplicationService(state)
        CALLER.set(Caller(username="admin"))
        context: Any = None  # no RPC: the handlers used here do not touch it

        try:
            await state.apps.stop()  # from here on the cache sees only what the server itself wrote

            create = application_pb2.ApplicationCreateRequest(
                application=app_message("ryw", namespace), validate=False
            )
            created = await service.Create(create, context)
            got = await service.Get(application_pb2.ApplicationQuery(name="ryw"), context)
            assert got.metadata.uid == created.metadata.uid
            listed = await service.List(application_pb2.ApplicationQuery(), context)
            assert [a.metadata.name for a in listed.items] == ["ryw"]

            changed = types_pb2.Application()
            changed.CopyFrom(got)
            changed.spec.source.path = "web-v2"
            update = application_pb2.ApplicationUpdateRequest(application=changed, validate=False)
            updated = await service.Update(update, context)
            got = await service.Get(application_pb2.ApplicationQuery(name="ryw"), context)
            assert got.spec.source.path == "web-v2"
            assert got.metadata.resource_version == updated.metadata.resource_version

            delete = application_pb2.ApplicationDeleteRequest(name="ryw", cascade=False)
            await service.Delete(delete, context)
            with pytest.raises(NotFound):
                await service.Get(application_pb2.ApplicationQuery(name="ryw"), context)
            listed = await service.List(application_pb2.ApplicationQuery(), context)
            assert list(listed.items) == []

            # the watch catching up (its last events of the deleted app included) brings nothing back
            state.apps.start()
            recreated = await service.Create(create, context)
            assert recreated.metadata.uid != created.metadata.uid
            await until(
                lambda: int(state.apps.resource_version or 0) >= int(recreated.metadata.resource_version),
                60,
                "the server's watch to catch up",
            )
            got = await service.Get(application_pb2.ApplicationQuery(name="ryw"), context)
            assert (got.metadata.uid, got.spec.source.path) == (recreated.metadata.uid, "web")
            listed = await service.List(application_pb2.ApplicationQuery(), context)
            assert [a.metadata.uid for a in listed.items] == [recreated.metadata.uid]
        finally:
            await state.stop()
            await kube.close()

    asyncio.run(scenario())

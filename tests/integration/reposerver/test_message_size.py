"""Renders larger than gRPC's default 4 MiB reach ferry's own clients: the repo server sends up
to --max-manifest-output-size (32 MiB), so the channel its clients open must accept that much."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ferry.mesh import RepoServerTarget
from ferry.servicetoken import TokenSource
from ferry.v1 import repo_pb2, repo_pb2_grpc, types_pb2
from ferry_devenv.gitrepo import GitRepo
from tests.conftest import SERVICE_KEY, RunningServer

MiB = 1024 * 1024


def _config_map(name: str, size: int) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  blob: {'x' * size}\n"


def test_a_six_mib_render_reaches_the_controllers_channel(
    reposerver_process: RunningServer, git_repo: Callable[[str], GitRepo]
) -> None:
    repo = git_repo("big-render")
    files = {f"app/cm{i}.yaml": _config_map(f"cm{i}", MiB - 4096) for i in range(6)}
    sha = repo.commit("six one-MiB ConfigMaps", files)
    url = f"file://{repo.bare}"

    async def render() -> types_pb2.ManifestResponse:
        channel = RepoServerTarget(reposerver_process.address).channel()
        try:
            stub = repo_pb2_grpc.RepoServiceStub(channel)
            request = repo_pb2.ManifestRequest(
                repo=types_pb2.Repository(repo=url),
                application_source=types_pb2.ApplicationSource(repo_url=url, path="app"),
                app_name="big",
                namespace="default",
            )
            metadata = TokenSource(SERVICE_KEY.encode(), "test").metadata()
            response: types_pb2.ManifestResponse = await stub.GenerateManifests(
                request, metadata=metadata, timeout=120
            )
            return response
        finally:
            await channel.close()

    response = asyncio.run(render())
    assert response.revision == sha
    assert len(response.manifests) == 6
    assert sum(len(m) for m in response.manifests) > 5 * MiB
